import "dotenv/config";
import { HardhatUserConfig, extendEnvironment, subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import { HardhatPluginError } from "hardhat/plugins";
import "@nomicfoundation/hardhat-toolbox";
import "./tasks";

/**
 * The one pinned Solidity compiler. It comes from the `solc` npm package (solc-js), so compiling needs no
 * download: Hardhat's own compiler download cannot reach its host from firewalled machines.
 */
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper(args);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solcjs = require("solc") as { version(): string };
  const longVersion = solcjs.version().replace(/\.Emscripten.*$/, "");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion,
  };
});

/**
 * Public networks take their RPC URL and deployer key from `.env`. A missing value is reported only when that
 * network is actually used, with one line naming the variable.
 */
const PUBLIC_NETWORKS: Record<string, { urlVar: string; chainId: number }> = {
  sepolia: { urlVar: "SEPOLIA_RPC_URL", chainId: 11155111 },
};
const KEY_VAR = "DEPLOYER_PRIVATE_KEY";
const isPrivateKey = (v: string | undefined): v is string => !!v && /^(0x)?[0-9a-fA-F]{64}$/.test(v);

function publicNetwork(name: string) {
  const { urlVar, chainId } = PUBLIC_NETWORKS[name];
  const key = process.env[KEY_VAR];
  return {
    // A syntactically valid placeholder keeps Hardhat's config validation happy; extendEnvironment below refuses
    // to run on it.
    url: process.env[urlVar] || "http://unset.invalid",
    chainId,
    accounts: isPrivateKey(key) ? [key.startsWith("0x") ? key : `0x${key}`] : [],
  };
}

extendEnvironment((hre) => {
  const net = PUBLIC_NETWORKS[hre.network.name];
  if (!net) return;
  if (!process.env[net.urlVar]) {
    throw new HardhatPluginError("triad", `${net.urlVar} is not set: add it to .env to use --network ${hre.network.name} (see .env.example)`);
  }
  if (!isPrivateKey(process.env[KEY_VAR])) {
    throw new HardhatPluginError("triad", `${KEY_VAR} is missing or not a 32-byte hex key: set it in .env to use --network ${hre.network.name}`);
  }
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
    },
  },
  networks: {
    hardhat: {},
    // LOCALHOST_RPC_URL lets tests and side-by-side nodes use another port.
    localhost: { url: process.env.LOCALHOST_RPC_URL || "http://127.0.0.1:8545" },
    sepolia: publicNetwork("sepolia"),
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  gasReporter: { enabled: process.env.REPORT_GAS === "true", currency: "USD", offline: true },
  mocha: { timeout: 180_000 },
};

export default config;
