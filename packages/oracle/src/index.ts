/**
 * The oracle as a library (the demo, the benchmark, the tasks): the daemon, the evidence store and the one-shot
 * actions behind `oracle assess` / `oracle audit`. The model module is `./model` (loaded separately: it pulls in
 * TensorFlow.js).
 */
export { createOracle, mapLimit, type CreateOracleParams, type Oracle, type TickReport } from "./daemon.ts";
export { startEvidenceServer, type EvidenceServer, type EvidenceServerOptions } from "./evidence-server.ts";
export { assessEvidence, auditClaim, type AssessResult, type AuditReport, type AuditDifference } from "./actions.ts";
export { checkEvidence, scoreEvidence, skippedChecks, type OracleModel, type ClaimAssessment, type EvidenceContext } from "./assess.ts";
export { ConfigError, CONFIG_VARIABLES, defaultConfig, loadConfig, parseConfig, type OracleConfig, type EvidenceFetchRules } from "./config.ts";
export { fetchEvidence, resolveEvidenceUrl } from "./evidence.ts";
export { connectContracts, resolveAddresses, type OracleAddresses } from "./chain.ts";
export { createMetrics, counterValue, type OracleMetrics } from "./metrics.ts";
