/**
 * Prometheus metrics of one oracle instance, in its own prom-client Registry (several daemons can share a process:
 * the committee tests, the demo, the benchmark).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  const prefix = "triad_oracle_";
  const metrics = {
    registry,
    claimsSeen: new Counter({
      name: `${prefix}claims_seen_total`,
      help: "ClaimFiled events read (after the confirmation depth)",
      registers: [registry],
    }),
    claimsSkipped: new Counter({
      name: `${prefix}claims_skipped_total`,
      help: "Claims not signed, by reason (decided, already_signed, deadline_passed, model_not_allowed, abstained)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    verdictsSubmitted: new Counter({
      name: `${prefix}verdicts_submitted_total`,
      help: "Verdicts whose signature was included in a mined transaction, by outcome (approved, rejected)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    verdictsRefused: new Counter({
      name: `${prefix}verdicts_refused_total`,
      help: "Verdicts the contract refused for a reason other than the claim being decided already, by reason (verdict_skipped, reverted): alert on it",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    verdictsLate: new Counter({
      name: `${prefix}verdicts_late_total`,
      help: "Verdicts not counted because the claim was already decided (normal in a k-of-n committee: the others were faster)",
      registers: [registry],
    }),
    claimsHeldBackup: new Gauge({
      name: `${prefix}claims_held_backup`,
      help: "Signed verdicts this member holds as a backup (committee turns): submitted only if the primaries have not decided the claim within ORACLE_BACKUP_DELAY_BLOCKS",
      registers: [registry],
    }),
    backupSubmissions: new Counter({
      name: `${prefix}backup_submissions_total`,
      help: "Verdicts this member sent as a backup because a claim's primaries had not decided it in time (a primary is down or slow)",
      registers: [registry],
    }),
    evidenceFailures: new Counter({
      name: `${prefix}evidence_failures_total`,
      help: "Claims rejected because of their evidence, by reason code",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    evidenceFetchSeconds: new Histogram({
      name: `${prefix}evidence_fetch_seconds`,
      help: "Time to fetch one claim's evidence, all attempts and backoff (bounded by ORACLE_EVIDENCE_DEADLINE_MS), by outcome (ok, failed)",
      labelNames: ["outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    inferenceSeconds: new Histogram({
      name: `${prefix}inference_seconds`,
      help: "Duration of one batched model inference over all claims of a tick",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    inferredClaims: new Counter({ name: `${prefix}inferred_claims_total`, help: "Claims scored by the model", registers: [registry] }),
    submissionSeconds: new Histogram({
      name: `${prefix}submission_seconds`,
      help: "Time from sending a verdict transaction to its receipt",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    rpcRequests: new Counter({
      name: `${prefix}rpc_requests_total`,
      help: "RPC requests issued by the daemon, by method",
      labelNames: ["method"] as const,
      registers: [registry],
    }),
    rpcErrors: new Counter({
      name: `${prefix}rpc_errors_total`,
      help: "Failed RPC requests (each retry counts), by method",
      labelNames: ["method"] as const,
      registers: [registry],
    }),
    rpcTimeouts: new Counter({
      name: `${prefix}rpc_timeouts_total`,
      help: "RPC requests that got no answer within ORACLE_RPC_TIMEOUT_MS (each attempt), by method",
      labelNames: ["method"] as const,
      registers: [registry],
    }),
    txPending: new Gauge({
      name: `${prefix}tx_pending`,
      help: "Verdict transactions sent and not yet mined (one per nonce)",
      registers: [registry],
    }),
    txOldestPendingSeconds: new Gauge({
      name: `${prefix}tx_oldest_pending_seconds`,
      help: "Age of the oldest verdict transaction sent and not yet mined (0 when none)",
      registers: [registry],
    }),
    txReplacements: new Counter({
      name: `${prefix}tx_replacements_total`,
      help: "Verdict transactions replaced (same nonce, fees bumped) after ORACLE_TX_REPLACE_AFTER_MS without a receipt",
      registers: [registry],
    }),
    txRebroadcasts: new Counter({
      name: `${prefix}tx_rebroadcasts_total`,
      help: "Verdict transactions sent again unchanged (the node had dropped them, or the fees are at ORACLE_TX_MAX_FEE_GWEI)",
      registers: [registry],
    }),
    txFeeCapped: new Gauge({
      name: `${prefix}tx_fee_capped`,
      help: "1 while a pending verdict transaction's fees are at ORACLE_TX_MAX_FEE_GWEI and cannot be bumped further",
      registers: [registry],
    }),
    outOfFunds: new Gauge({
      name: `${prefix}out_of_funds`,
      help: "1 while the signer cannot pay for gas (submission paused until it is funded), else 0",
      registers: [registry],
    }),
    signerBalanceWei: new Gauge({
      name: `${prefix}signer_balance_wei`,
      help: "The signer's balance when last read (after each mined verdict transaction, on send errors, while out of funds)",
      registers: [registry],
    }),
    nonceResyncs: new Counter({
      name: `${prefix}nonce_resyncs_total`,
      help: "Times the local nonce was re-read from the node (start, send errors, reorgs, resets)",
      registers: [registry],
    }),
    tickErrors: new Counter({
      name: `${prefix}tick_errors_total`,
      help: "Ticks abandoned after an error (retried from the checkpoint)",
      registers: [registry],
    }),
    checkpointBlock: new Gauge({ name: `${prefix}checkpoint_block`, help: "Next block to scan", registers: [registry] }),
    headBlock: new Gauge({ name: `${prefix}head_block`, help: "Latest block seen", registers: [registry] }),
    lagBlocks: new Gauge({ name: `${prefix}lag_blocks`, help: "Confirmed blocks not yet scanned", registers: [registry] }),
    lagSeconds: new Gauge({
      name: `${prefix}lag_seconds`,
      help: "For how long (wall clock) confirmed blocks have been waiting to be scanned; 0 when caught up",
      registers: [registry],
    }),
    lastTickTimestamp: new Gauge({
      name: `${prefix}last_tick_timestamp_seconds`,
      help: "Unix time of the last tick that completed (stuck detection: alert when time() minus this grows)",
      registers: [registry],
    }),
    reorgs: new Counter({
      name: `${prefix}reorgs_total`,
      help: "Chain reorganisations and resets detected, by kind (shallow: a verdict tx vanished before its depth; deep: a scanned block was replaced; reset: another chain or deployment)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
  };
  return metrics;
}

export type OracleMetrics = ReturnType<typeof createMetrics>;

/** The current value of a counter (summed over labels), for tests and the benchmark. */
export async function counterValue(counter: Counter<string>, labels?: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => !labels || Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}
