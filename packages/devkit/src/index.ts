/**
 * @triad/devkit: deployment of the suite with Ignition on any Hardhat network, and what tools and tests share on a
 * local chain (fixtures of a deployed suite, evidence bundles of real AI4I rows, child processes, the soak runner).
 * It runs inside Hardhat (`hardhat run`, `hardhat test`): importing it connects to the selected network.
 */
export * from "./network.ts";
export * from "./deploy.ts";
export * from "./model.ts";
export * from "./insurance-fixtures.ts";
export * from "./insurance-helpers.ts";
export * from "./evidence-fixtures.ts";
export * from "./oracle-fixtures.ts";
export * from "./processes.ts";
export * from "./soak.ts";
export * from "./chain-node.ts";
export * from "./rpc-fault-proxy.ts";
export { LOCAL_COMMITTEE_ACCOUNTS } from "../ignition/modules/Triad.ts";
