import "dotenv/config";
import { createRequire } from "node:module";
import path from "node:path";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

/**
 * The one pinned Solidity compiler. It comes from the `solc` npm package (solc-js), so compiling needs no
 * download: Hardhat's own compiler download cannot reach its host from firewalled machines.
 */
const SOLC_VERSION = "0.8.28";
const SOLC_PATH = require.resolve("solc/soljson.js");
const SOLC_SETTINGS = { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 } };

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    compilers: [{ version: SOLC_VERSION, path: SOLC_PATH, settings: SOLC_SETTINGS }],
    overrides: {
      // ClaimsInsurance carries the most logic; through the IR pipeline it is about 3 KB smaller (EIP-170 headroom)
      // and no dearer to run. Everything else compiles with the legacy pipeline.
      "contracts/insurance/ClaimsInsurance.sol": { version: SOLC_VERSION, path: SOLC_PATH, settings: { ...SOLC_SETTINGS, viaIR: true } },
    },
    // Bindings for the token interfaces the SDK, the CLI and dApps talk to.
    npmFilesToBuild: [
      "@openzeppelin/contracts/token/ERC20/IERC20.sol",
      "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol",
    ],
  },
  networks: {
    // The in-process chain of tests, the demo and the benchmark.
    default: { type: "edr-simulated", chainType: "l1" },
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    // A `hardhat node` (or any local node); LOCALHOST_RPC_URL lets tests and side-by-side nodes use another port.
    localhost: { type: "http", chainType: "l1", url: process.env.LOCALHOST_RPC_URL || "http://127.0.0.1:8545" },
    // Public test network: the RPC URL and deployer key are read from the environment (or Hardhat's keystore) only
    // when --network sepolia is used; a missing one is reported by name.
    sepolia: {
      type: "http",
      chainType: "l1",
      chainId: 11155111,
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
  },
  paths: {
    tests: { mocha: "test" },
    ignition: "packages/devkit/ignition",
  },
  typechain: { outDir: path.resolve(import.meta.dirname, "packages/contracts/types") },
  test: { mocha: { timeout: 180_000 } },
});
