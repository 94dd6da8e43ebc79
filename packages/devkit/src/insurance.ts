/**
 * @triad/devkit/insurance: only the insurance fixtures and helpers (and the network connection they use), for tests
 * that need no deployment, evidence, oracle or process helpers.
 */
export * from "./insurance-fixtures.ts";
export * from "./insurance-helpers.ts";
