/** @triad/gateway: the Triad gateway (MQTT ingest, verification, durable store, HTTP API). */
export * from "./config.ts";
export * from "./store/index.ts";
export * from "./registry-cache.ts";
export * from "./verify.ts";
export { createEnvelopeVerifier, defaultVerifyWorkers, type EnvelopeVerifier } from "./verify-pool.ts";
export * from "./metrics.ts";
export * from "./ingest.ts";
export * from "./http.ts";
export * from "./service.ts";
export { runGatewayCli, runMain } from "./cli.ts";
