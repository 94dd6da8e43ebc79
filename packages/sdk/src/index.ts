/**
 * @triad/sdk: the protocol of docs/protocol.md in TypeScript, shared by the oracle, the CLI, the tests and dApps.
 * This entry runs in browsers and Node alike (no `node:*` module, no native addon); `@triad/sdk/node` adds
 * deployment records on disk and native secp256k1.
 */
export * from "./errors.ts";
export * from "./format.ts";
export * from "./contract-errors.ts";
export * from "./browse.ts";
export * from "./enums.ts";
export * from "./wire.ts";
export * from "./eip712.ts";
export * from "./signing.ts";
export * from "./merkle.ts";
export * from "./ai4i.ts";
export * from "./devices.ts";
export * from "./deployments.ts";
export * from "./market.ts";
export * from "./dataset.ts";
export * from "./actions/index.ts";
export * from "./evidence.ts";
export * from "./claim-reasons.ts";
export * from "./verdict.ts";
export * from "./recover.ts";
export * from "./stream.ts";
export * from "./stream-client.ts";
