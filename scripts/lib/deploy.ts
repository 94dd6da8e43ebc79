import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import TriadModule, { TriadLocalModule } from "../../ignition/modules/Triad";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import type { DataMarketplace, DeviceRegistry, TestToken } from "../../typechain-types";
import { saveDeployment, TriadError, type DeploymentRecord } from "../../sdk";

/** Chains where the suite deploys its own TestToken and funds local accounts. */
export const LOCAL_CHAIN_IDS = new Set([31337]);

export interface TriadDeployment {
  chainId: number;
  local: boolean;
  registry: DeviceRegistry;
  market: DataMarketplace;
  /** The deployment's ERC-20 (TestToken on local chains; typed as TestToken for its ERC-20 + mint surface). */
  token: TestToken;
  record: DeploymentRecord;
}

/** Module parameters of `network`: ignition/parameters/<network>.json, if present. */
export function loadParameters(network: string): DeploymentParameters {
  const file = path.join(__dirname, "..", "..", "ignition", "parameters", `${network}.json`);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new TriadError(`ignition/parameters/${network}.json is not valid JSON`, "BAD_PARAMETERS", { file }, { cause });
  }
}

/**
 * Deploys (or, on a persistent network, resumes) the suite with its Ignition module, and writes the deployment
 * record `deployments/<chainId>.json` where the SDK, tasks and oracle find it. The in-process `hardhat` network
 * is thrown away when the process ends, so its record is not written.
 */
export async function deployTriad(hre: HardhatRuntimeEnvironment): Promise<TriadDeployment> {
  const [deployer] = await hre.ethers.getSigners();
  const chainId = Number((await hre.ethers.provider.getNetwork()).chainId);
  const local = LOCAL_CHAIN_IDS.has(chainId);
  const startBlock = await hre.ethers.provider.getBlockNumber();
  const parameters = loadParameters(hre.network.name);
  if (!local && !parameters.Triad?.token) {
    throw new TriadError(
      `ignition/parameters/${hre.network.name}.json must set Triad.token (the ERC-20 address) on a public network`,
      "BAD_PARAMETERS",
    );
  }
  const options = { parameters, displayUi: false } as const;
  const deployed = local
    ? await hre.ignition.deploy(TriadLocalModule, options)
    : await hre.ignition.deploy(TriadModule, options);

  const at = async <T>(name: string, future: { getAddress(): Promise<string> }) =>
    (await hre.ethers.getContractAt(name, await future.getAddress(), deployer)) as unknown as T;
  const registry = await at<DeviceRegistry>("DeviceRegistry", deployed.registry);
  const market = await at<DataMarketplace>("DataMarketplace", deployed.market);
  const token = await at<TestToken>("TestToken", deployed.token);

  const record: DeploymentRecord = {
    chainId,
    startBlock,
    contracts: {
      DeviceRegistry: await registry.getAddress(),
      DataMarketplace: await market.getAddress(),
      ...(local ? { TestToken: await token.getAddress() } : {}),
    },
    token: await token.getAddress(),
    updatedAt: new Date().toISOString(),
  };
  if (hre.network.name !== "hardhat") saveDeployment(record);
  return { chainId, local, registry, market, token, record };
}
