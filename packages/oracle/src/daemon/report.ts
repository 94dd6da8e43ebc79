/**
 * What a tick did, claim by claim. Every claim of a completed tick's range ends with exactly one outcome; the
 * {@link TickRecorder} is the one place where an outcome is counted in the report, in the metrics and in the
 * claim's log line (operators and the process-level tests read those lines; in-process callers read the report).
 */
import type { Logger } from "pino";
import type { EvidenceFailureReason } from "@triad/sdk";
import type { OracleMetrics } from "../metrics.ts";

/** Why a claim was not signed (the `reason` label of `claims_skipped_total`). */
export type SkipReason =
  /** A committee verdict already decided it. */
  | "decided"
  /** Its assessment deadline passed: it can only be escalated now. */
  | "deadline_passed"
  /** Its product does not allow this oracle's model. */
  | "model_not_allowed"
  /** The model failed for a reason that is not the evidence's fault: no verdict rather than a wrong one. */
  | "abstained"
  /** This member signed it before (a restart or a re-scan); it never signs a second, different verdict. */
  | "already_signed";

/** Why the contract did not count this member's verdict (the `reason` label of `verdicts_refused_total`). */
export type RefusalReason =
  /** A batch entry reverted (VerdictSkipped) for a reason other than the claim being decided already. */
  | "verdict_skipped"
  /** The submission reverted, or was refused when sent. */
  | "reverted";

export type ReasonCode = EvidenceFailureReason | SkipReason | RefusalReason;

/** What happened to one claim of the scanned range. */
export type ClaimOutcome =
  /**
   * This member's signature of an approval was mined (`finalised`: it reached the threshold in that transaction);
   * `reasonCode` is the verdict's (0, APPROVED).
   */
  | {
      claimId: bigint;
      outcome: "approved";
      reason?: undefined;
      reasonCode: number;
      scoreBps: number;
      payout: bigint;
      txHash: string;
      finalised: boolean;
    }
  /**
   * A rejection was mined; `reason` says which evidence check failed (absent: the model rejected it), `reasonCode` is
   * the verdict's on-chain reason code (`CLAIM_REASONS` of @triad/sdk).
   */
  | {
      claimId: bigint;
      outcome: "rejected";
      reason?: EvidenceFailureReason;
      reasonCode: number;
      scoreBps: number;
      payout: bigint;
      txHash: string;
      finalised: boolean;
    }
  /** Not signed on purpose; `detail` holds what the skip refers to (the deadline, the product, the digest). */
  | { claimId: bigint; outcome: "skipped"; reason: SkipReason; detail?: Record<string, string> }
  /** Signed and sent, but the contract did not count it. */
  | { claimId: bigint; outcome: "refused"; reason: RefusalReason; txHash?: string; message?: string }
  /**
   * Not counted because the claim was decided already (dropped just before sending, or skipped by the contract):
   * normal in a k-of-n committee, where the others may be faster (`verdicts_late_total`, not an alert).
   */
  | { claimId: bigint; outcome: "late"; reason?: undefined; txHash?: string }
  /**
   * Committee turns (./turns.ts): this member is a backup for the claim and holds its signed verdict until block
   * `dueBlock`; a later tick settles it (skipped as decided, or sent: `oracle_backup_submissions_total`).
   */
  | { claimId: bigint; outcome: "held"; reason?: undefined; txHash?: undefined; dueBlock: number };

/** What one tick did (returned by `tick()`, passed to `onTick`; its counts are also logged). */
export interface TickReport {
  fromBlock: number;
  toBlock: number;
  /** ClaimFiled events in [fromBlock, toBlock]. */
  claims: number;
  /** approved + rejected. */
  submitted: number;
  approved: number;
  rejected: number;
  skipped: number;
  transactions: number;
  /** The tick found nothing confirmed to scan. */
  idle: boolean;
  /** Main-thread milliseconds per stage (claimState, lookups, verify = waiting for checks, decide, submission). */
  phasesMs: Record<string, number>;
  /** One per claim, in the order they were settled (a failed or abandoned tick's list stops where it stopped). */
  outcomes: ClaimOutcome[];
}

/**
 * How a tick ended: `done` (the checkpoint moved past the range), `failed` (the range is re-scanned by the next tick;
 * the report holds what was settled before the failure, e.g. a verdict mined and then dropped by a reorg) or
 * `abandoned` for shutdown (re-scanned on restart).
 */
export type TickResult =
  { kind: "done"; report: TickReport } | { kind: "failed"; report: TickReport; error: unknown } | { kind: "abandoned"; report: TickReport };

export interface TickRecorder {
  /** The range the tick scans and the number of claims in it. */
  scanned(toBlock: number, claims: number): void;
  /** Counts `outcome` in the report and the metrics, and writes the claim's log line. */
  record(outcome: ClaimOutcome): void;
  /** A verdict transaction of the tick was mined. */
  transaction(): void;
  /** A stopwatch from now: each call adds the time since the previous one to the stage `name`. */
  stopwatch(): (name: string) => void;
  /** The report so far (a copy). */
  report(): TickReport;
}

export function createTickRecorder(deps: { metrics: OracleMetrics; log: Logger }, fromBlock: number): TickRecorder {
  const { metrics, log } = deps;
  let toBlock = fromBlock - 1;
  let claims = 0;
  let idle = true;
  let transactions = 0;
  const phasesMs: Record<string, number> = {};
  const outcomes: ClaimOutcome[] = [];

  function logOutcome(o: ClaimOutcome): void {
    const claimId = o.claimId.toString();
    switch (o.outcome) {
      case "skipped":
        metrics.claimsSkipped.inc({ reason: o.reason });
        log.info({ claimId, reason: o.reason, ...o.detail }, "claim skipped");
        return;
      case "held":
        log.info({ claimId, dueBlock: o.dueBlock }, "verdict held: a backup for this claim, the primaries' turn first");
        return;
      case "late":
        metrics.verdictsLate.inc();
        log.info({ claimId, ...(o.txHash && { tx: o.txHash }) }, "verdict late: the claim was decided already");
        return;
      case "refused":
        metrics.verdictsRefused.inc({ reason: o.reason });
        if (o.reason === "verdict_skipped") log.warn({ claimId }, "verdict skipped by the contract (VerdictSkipped)");
        else log.warn({ claimId, err: o.message }, "verdict refused by the contract");
        return;
      case "approved":
      case "rejected":
        metrics.verdictsSubmitted.inc({ outcome: o.outcome });
        log.info(
          { claimId, outcome: o.outcome, reasonCode: o.reasonCode, payout: o.payout.toString(), finalised: o.finalised, tx: o.txHash },
          "verdict submitted",
        );
        return;
    }
  }

  return {
    scanned(to, count) {
      toBlock = to;
      claims = count;
      idle = false;
    },
    record(outcome) {
      outcomes.push(outcome);
      logOutcome(outcome);
    },
    transaction() {
      transactions++;
    },
    stopwatch() {
      let mark = performance.now();
      return (name) => {
        const now = performance.now();
        phasesMs[name] = +((phasesMs[name] ?? 0) + now - mark).toFixed(2);
        mark = now;
      };
    },
    report() {
      const count = (kind: ClaimOutcome["outcome"]) => outcomes.filter((o) => o.outcome === kind).length;
      const approved = count("approved");
      const rejected = count("rejected");
      return {
        fromBlock,
        toBlock,
        claims,
        submitted: approved + rejected,
        approved,
        rejected,
        skipped: count("skipped"),
        transactions,
        idle,
        phasesMs: { ...phasesMs },
        outcomes: [...outcomes],
      };
    },
  };
}
