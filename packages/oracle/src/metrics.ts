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
      help: "Verdicts the contract refused (VerdictSkipped in a batch, or a reverted single submission)",
      registers: [registry],
    }),
    evidenceFailures: new Counter({
      name: `${prefix}evidence_failures_total`,
      help: "Claims rejected because of their evidence, by reason code",
      labelNames: ["reason"] as const,
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
    tickErrors: new Counter({
      name: `${prefix}tick_errors_total`,
      help: "Ticks abandoned after an error (retried from the checkpoint)",
      registers: [registry],
    }),
    checkpointBlock: new Gauge({ name: `${prefix}checkpoint_block`, help: "Next block to scan", registers: [registry] }),
    headBlock: new Gauge({ name: `${prefix}head_block`, help: "Latest block seen", registers: [registry] }),
    lagBlocks: new Gauge({ name: `${prefix}lag_blocks`, help: "Confirmed blocks not yet scanned", registers: [registry] }),
  };
  return metrics;
}

export type OracleMetrics = ReturnType<typeof createMetrics>;

/** The current value of a counter (summed over labels), for tests and the benchmark. */
export async function counterValue(counter: Counter<string>, labels?: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => !labels || Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}
