/**
 * Triad SDK: the protocol of DESIGN.md in TypeScript, shared by the oracle, the tasks, the tests and dApps.
 */
export * from "./errors";
export * from "./eip712";
export * from "./signing";
export * from "./merkle";
export * from "./ai4i";
export * from "./devices";
export * from "./deployments";
export * from "./market";
export * from "./dataset";
export * from "./actions";
export * from "./evidence";
export * from "./verdict";
export * from "./recover";
