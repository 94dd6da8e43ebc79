export * from "./devices";
export * from "./market";
