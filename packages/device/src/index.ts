/**
 * @triad/device: the device agent (keys, persistent seq, signing, MQTT publishing with an on-disk outbox), its
 * reading sources (AI4I replay, JSON lines, the machine simulator) and the load-mode fleet.
 */
export * from "./simulator.ts";
export * from "./sources.ts";
export * from "./store.ts";
export * from "./agent.ts";
export * from "./fleet.ts";
export * from "./keys.ts";
export * from "./metrics.ts";
export { startOpsServer, type OpsServer, type HealthReport } from "@triad/sdk/node";
export { runDeviceCli, runMain } from "./cli.ts";
