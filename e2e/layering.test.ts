import { expect } from "chai";
import path from "node:path";
import { ESLint } from "eslint";

/**
 * The layering of the repository is enforced by `npm run lint` (eslint.config.js). These cases lint a one-line file
 * as if it stood at a given path, and check that a wrong-way import fails with the layer's message while the right
 * way passes, so that the rules cannot silently stop matching (e.g. after a folder is renamed).
 */
const ROOT = path.resolve(import.meta.dirname, "..");
const eslint = new ESLint({ cwd: ROOT });

async function importErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = x;\n`, { filePath: path.join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("import layering (npm run lint)", function () {
  const cases: [file: string, code: string, expected: RegExp | null][] = [
    ["packages/sdk/src/probe.ts", 'import { x } from "@triad/oracle";', /imports none of our packages/],
    ["packages/sdk/src/probe.ts", 'import { x } from "node:fs";', /runs in browsers/],
    ["packages/sdk/src/probe.ts", 'import x from "secp256k1";', /runs in browsers/],
    ["packages/sdk/src/probe.ts", 'import { x } from "../../oracle/src/index.ts";', /by its name/],
    ["packages/sdk/src/node.ts", 'import { x } from "node:fs";', null],
    ["packages/sdk/src/probe.ts", 'import { x } from "./errors.ts";', null],
    ["packages/oracle/src/probe.ts", 'import { x } from "../test/helpers.ts";', /never import test code/],
    ["packages/oracle/src/probe.ts", 'import { x } from "@triad/devkit";', /runs without Hardhat/],
    ["packages/oracle/src/probe.ts", 'import { x } from "hardhat";', /runs without Hardhat/],
    ["packages/oracle/src/probe.ts", 'import { x } from "@triad/sdk/node";', null],
    ["packages/cli/src/probe.ts", 'import { x } from "../../../tools/lib/report.ts";', /never import test code, e2e tests or tools/],
    ["packages/cli/src/probe.ts", 'import { x } from "@triad/oracle";', null],
    ["packages/devkit/src/probe.ts", 'import { x } from "@triad/cli";', /does not depend on the CLI/],
    ["packages/gateway/src/probe.ts", 'import { x } from "@triad/devkit";', /run without Hardhat/],
    ["packages/gateway/src/probe.ts", 'import { x } from "@triad/sdk/node";', null],
    ["packages/gateway/src/probe.ts", 'import { x } from "@triad/oracle";', /only the oracle's model library/],
    ["packages/gateway/src/probe.ts", 'import { x } from "@triad/oracle/daemon";', /only the oracle's model library/],
    ["packages/gateway/src/probe.ts", 'import { x } from "@triad/oracle/model";', null],
    ["packages/gateway/src/probe.ts", 'import { x } from "@triad/oracle/monitor";', null],
    ["packages/device/src/probe.ts", 'import { x } from "@triad/oracle/monitor";', /does not depend on the oracle/],
    ["packages/device/src/probe.ts", 'import { x } from "@triad/gateway";', /over MQTT only/],
    ["test/insurance/probe.test.ts", 'import { x } from "../../tools/lib/report.ts";', /do not import tools/],
    ["e2e/probe.test.ts", 'import { x } from "../packages/oracle/src/daemon.ts";', /by its name/],
  ];
  for (const [file, code, expected] of cases) {
    it(`${file}: ${code} ${expected ? "fails" : "passes"}`, async function () {
      const errors = await importErrors(file, code);
      if (expected) expect(errors.join("\n")).to.match(expected);
      else expect(errors).to.deep.equal([]);
    });
  }
});
