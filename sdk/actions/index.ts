export * from "./devices";
export * from "./market";
export * from "./insurance";
