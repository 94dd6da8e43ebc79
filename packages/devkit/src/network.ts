import { network } from "hardhat";

/**
 * The Hardhat network connection of this process, shared by the deployment, the fixtures, the tools and the tests
 * that import them: the network chosen with `--network` (`hardhat run`, `hardhat test`), else Hardhat's in-process
 * chain. One connection means one chain, so a fixture deployed by one module is visible to every other.
 */
export const connection = await network.getOrCreate();
export const { ethers, networkHelpers, ignition } = connection;

/** Whether the connection is Hardhat's in-process chain (thrown away when the process ends). */
export const inProcess = connection.networkConfig.type === "edr-simulated";
