import type { HardhatRuntimeEnvironment } from "hardhat/types";
import TriadModule from "../../ignition/modules/Triad";
import { DeviceRegistry__factory, type DeviceRegistry } from "../../typechain-types";
import { saveDeployment, type DeploymentRecord } from "../../sdk";

export interface TriadDeployment {
  chainId: number;
  registry: DeviceRegistry;
  record: DeploymentRecord;
}

/**
 * Deploys (or, on a persistent network, resumes) the suite with its Ignition module and writes the deployment
 * record `deployments/<chainId>.json`, where the SDK, tasks and oracle find it. The in-process `hardhat` network
 * is thrown away when the process ends, so its record is not written.
 */
export async function deployTriad(hre: HardhatRuntimeEnvironment, options: { admin?: string } = {}): Promise<TriadDeployment> {
  const [deployer] = await hre.ethers.getSigners();
  const { chainId } = await hre.ethers.provider.getNetwork();
  const startBlock = await hre.ethers.provider.getBlockNumber();
  const deployed = await hre.ignition.deploy(TriadModule, {
    parameters: { Triad: { admin: options.admin ?? deployer.address } },
    displayUi: false,
  });
  const registry = DeviceRegistry__factory.connect(await deployed.registry.getAddress(), deployer);
  const record: DeploymentRecord = {
    chainId: Number(chainId),
    startBlock,
    contracts: { DeviceRegistry: await registry.getAddress() },
    updatedAt: new Date().toISOString(),
  };
  if (hre.network.name !== "hardhat") saveDeployment(record);
  return { chainId: Number(chainId), registry, record };
}
