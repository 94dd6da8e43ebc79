// ESLint (flat config): TypeScript rules, and the layering of the repository as rules, so a wrong-way import fails
// `npm run lint`. The layers (docs/architecture.md):
//   @triad/contracts (generated bindings) ← @triad/sdk ← @triad/oracle, @triad/device, @triad/gateway ← @triad/cli
//   (the gateway also uses the oracle's model library, @triad/oracle/model and /monitor, never the daemon)
//   @triad/devkit (deployment, fixtures; runs inside Hardhat) uses the packages; tools/, test/, e2e/ use everything;
//   nothing imports tools/, test/ or e2e/, and packages never reach into another package's files.
import tseslint from "typescript-eslint";

/** Imports every package source must not make: test code, tools, and other packages' files by path. */
const noReachingOut = [
  { group: ["**/test/**", "**/e2e/**", "**/tools/**"], message: "packages never import test code, e2e tests or tools" },
  { group: ["**/packages/**", "../../*/src/**"], message: "import another package by its name (@triad/…), not by path" },
];
const restrict = (patterns, paths = []) => ["error", { patterns, paths }];
const pkg = (name, message) => ({ group: [name, `${name}/*`], message });

export default tseslint.config(
  { ignores: ["node_modules/", "artifacts/", "cache/", "coverage/", "packages/contracts/types/", "**/*.js", "!eslint.config.js"] },
  { ignores: ["apps/web/dist/"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    files: ["packages/sdk/src/**/*.ts"],
    ignores: ["packages/sdk/src/node.ts", "packages/sdk/src/node/**"],
    rules: {
      "no-restricted-imports": restrict(
        [
          ...noReachingOut,
          pkg("@triad/oracle", "the SDK imports none of our packages but the contract bindings"),
          pkg("@triad/cli", "the SDK imports none of our packages but the contract bindings"),
          pkg("@triad/devkit", "the SDK imports none of our packages but the contract bindings"),
          {
            group: ["node:*", "secp256k1", "secp256k1/*", "hardhat", "hardhat/*"],
            message: "the SDK's main entry runs in browsers: Node-only code goes in src/node.ts (@triad/sdk/node)",
          },
        ],
        ["fs", "path", "crypto", "os", "module", "child_process"].map((name) => ({
          name,
          message: "the SDK's main entry runs in browsers",
        })),
      ),
    },
  },
  {
    files: ["packages/sdk/src/node.ts", "packages/sdk/src/node/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        ...noReachingOut,
        pkg("@triad/oracle", "the SDK imports none of our packages"),
        pkg("@triad/cli", "the SDK imports none of our packages"),
        pkg("@triad/devkit", "the SDK imports none of our packages"),
      ]),
    },
  },
  {
    files: ["packages/oracle/src/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        ...noReachingOut,
        pkg("@triad/cli", "the oracle does not depend on the CLI"),
        pkg("@triad/devkit", "the oracle runs without Hardhat: devkit is for tools and tests"),
        { group: ["hardhat", "hardhat/*", "@nomicfoundation/*"], message: "the oracle runs without Hardhat" },
      ]),
    },
  },
  {
    files: ["packages/cli/src/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        ...noReachingOut,
        pkg("@triad/devkit", "the CLI runs without Hardhat: devkit is for tools and tests"),
        { group: ["hardhat", "hardhat/*", "@nomicfoundation/*"], message: "the CLI runs without Hardhat" },
      ]),
    },
  },
  {
    files: ["packages/device/src/**/*.ts", "packages/gateway/src/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        ...noReachingOut,
        pkg("@triad/cli", "the device agent and the gateway do not depend on the CLI"),
        pkg("@triad/devkit", "the device agent and the gateway run without Hardhat: devkit is for tools and tests"),
        {
          // The gateway's AI monitor runs the oracle's model library; the daemon (the main entry) stays out.
          regex: "^@triad/oracle(?!/(model|monitor)$)(/.*)?$",
          message:
            "the gateway may import only the oracle's model library (@triad/oracle/model, @triad/oracle/monitor), not the oracle daemon",
        },
        { group: ["hardhat", "hardhat/*", "@nomicfoundation/*"], message: "the device agent and the gateway run without Hardhat" },
      ]),
    },
  },
  {
    files: ["packages/device/src/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        ...noReachingOut,
        pkg("@triad/gateway", "a device talks to the gateway over MQTT only"),
        pkg("@triad/cli", "the device agent does not depend on the CLI"),
        pkg("@triad/devkit", "the device agent runs without Hardhat"),
        pkg("@triad/oracle", "the device agent does not depend on the oracle daemon"),
        { group: ["hardhat", "hardhat/*", "@nomicfoundation/*"], message: "the device agent runs without Hardhat" },
      ]),
    },
  },
  {
    files: ["packages/devkit/**/*.ts"],
    rules: { "no-restricted-imports": restrict([...noReachingOut, pkg("@triad/cli", "devkit does not depend on the CLI")]) },
  },
  {
    // The web app runs in browsers: the SDK's browser entry and the bindings only (apps/web/scripts run in Node).
    files: ["apps/web/src/**/*.ts", "apps/web/src/**/*.tsx"],
    rules: {
      "no-restricted-imports": restrict([
        ...noReachingOut,
        { group: ["node:*", "@triad/sdk/node", "@triad/sdk/testing"], message: "the web app runs in browsers: no Node-only code" },
        pkg("@triad/oracle", "the web app uses the SDK, not the oracle"),
        pkg("@triad/cli", "the web app uses the SDK, not the CLI"),
        pkg("@triad/devkit", "the web app runs without Hardhat"),
        pkg("@triad/gateway", "the web app talks to the gateway over HTTP"),
        pkg("@triad/device", "the web app does not run devices"),
        { group: ["hardhat", "hardhat/*", "@nomicfoundation/*"], message: "the web app runs without Hardhat" },
      ]),
    },
  },
  {
    files: ["test/**/*.ts", "packages/*/test/**/*.ts", "e2e/**/*.ts", "examples/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        { group: ["**/tools/**"], message: "tests and examples do not import tools" },
        { group: ["**/packages/*/src/**", "**/packages/*/test/**"], message: "import another package by its name (@triad/…), not by path" },
      ]),
    },
  },
  {
    files: ["**/test/**/*.ts", "e2e/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-expressions": "off" },
  },
);
