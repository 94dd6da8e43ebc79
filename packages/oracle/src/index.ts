/**
 * The oracle as a library (the demo, the benchmark, the tasks): the daemon, the evidence store and the one-shot
 * actions behind `oracle assess` / `oracle audit`. The model module is `./model` (loaded separately: it pulls in
 * TensorFlow.js); the types of a claim assessment are shared with it and exported here too.
 */
export {
  createOracle,
  type ClaimOutcome,
  type CreateOracleParams,
  type Oracle,
  type ReasonCode,
  type RefusalReason,
  type SkipReason,
  type TickReport,
  type TickResult,
} from "./daemon.ts";
export { startEvidenceServer, type EvidenceServer, type EvidenceServerOptions } from "./evidence-server.ts";
export {
  anchorReader,
  assessEvidence,
  auditClaim,
  type AssessResult,
  type AuditReport,
  type AuditDifference,
  type ChainDeps,
} from "./actions.ts";
export {
  checkAnchoring,
  checkEvidence,
  modelWindow,
  scoreEvidence,
  skippedChecks,
  type AnchoringContext,
  type AnchorReader,
  type EvidenceCheck,
  type EvidenceContext,
} from "./assess.ts";
export type { ClaimAssessment, ClaimInput, OracleModel, ReadingInput } from "./model/assessment.ts";
export {
  ConfigError,
  CONFIG_VARIABLES,
  defaultConfig,
  loadConfig,
  parseConfig,
  type OracleConfig,
  type EvidenceFetchRules,
} from "./config.ts";
export { fetchEvidence, resolveEvidenceUrl } from "./evidence.ts";
export { openConfiguredIpfs } from "./ipfs.ts";
export { connectContracts, resolveAddresses, type OracleAddresses } from "./chain.ts";
export { createMetrics, counterValue, type OracleMetrics } from "./metrics.ts";
/** Bounded-concurrency helpers (documented in ./util/concurrency.ts): scripts use them for bulk chain or HTTP calls. */
export { createLimiter, mapLimit, type Limiter } from "./util/concurrency.ts";
