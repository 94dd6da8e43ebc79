export * from "./devices.ts";
export * from "./market.ts";
export * from "./insurance.ts";
export * from "./events.ts";
