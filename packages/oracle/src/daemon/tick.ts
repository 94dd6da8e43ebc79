/**
 * One tick: the stages chained, each with a typed result.
 *
 *   scan      head − confirmations bounds the range [checkpoint, …]; its ClaimFiled events     (scan.ts)
 *   lookups   decided / past-deadline claims skipped (one log query); policies, devices,       (lookups.ts)
 *             products looked up; claims of products that do not allow our model skipped
 *   decide    per batch of `batchSize`: evidence downloaded and checked, valid evidence         (decide.ts)
 *             scored in one inference, verdicts built (invalid evidence → rejection)
 *   submit    what this member already signed skipped, the rest signed and submitted           (submit.ts)
 *   confirm   receipts awaited (and, with a confirmation depth, the transactions that deep and  (confirm.ts)
 *             still in the chain); then the checkpoint moves past the range
 *
 * Batches are pipelined: every batch's downloads and checks are queued at once (downloads are I/O with bounded
 * concurrency; checks run on the verifier's worker threads), and batches are scored, signed and submitted in order
 * as their checks complete, so the main thread submits batch i while the workers still verify batch i+1.
 *
 * A failure anywhere before the checkpoint moves fails the tick: the next one re-scans the same range, and the
 * lookups make that idempotent (the contract also refuses a duplicate signature), so a claim is never lost nor
 * signed twice.
 */
import { claimsDomain, TriadError, verdictDigester } from "@triad/sdk";
import { createLimiter } from "../util/concurrency.ts";
import type { DaemonDeps } from "./context.ts";
import { awaitConfirmations } from "./confirm.ts";
import { checkClaimEvidence, decideBatch, type CheckedClaim } from "./decide.ts";
import { claimState, readClaimHistory, type CheckableClaim, type Skip } from "./lookups.ts";
import { createTickRecorder, type TickRecorder, type TickResult } from "./report.ts";
import { scanClaims, scanRange, type FiledClaim } from "./scan.ts";
import type { Session } from "./session.ts";
import { signOnce, type MinedTransaction, type SignedVerdict } from "./submit.ts";

/** What a tick needs from the loop around it. */
export interface TickControl {
  /** Shutdown was requested: abandon the tick before submitting more (it is re-scanned on restart). */
  stopping(): boolean;
  /** A head was read (for /healthz and the loop's catch-up decision). */
  observeHead(head: number): void;
}

/** Thrown inside a tick to abandon it for shutdown. */
class Abandon extends Error {
  constructor() {
    super("tick abandoned for shutdown");
  }
}

/** Runs one tick from the session's checkpoint; never throws (a failure is a `failed` result with what was done). */
export async function runTick(deps: DaemonDeps, session: Session, control: TickControl): Promise<TickResult> {
  const recorder = createTickRecorder({ metrics: deps.metrics, log: session.log }, session.checkpoint.next());
  try {
    await tickStages(deps, session, control, recorder);
    return { kind: "done", report: recorder.report() };
  } catch (error) {
    if (error instanceof Abandon) return { kind: "abandoned", report: recorder.report() };
    return { kind: "failed", report: recorder.report(), error };
  }
}

async function tickStages(deps: DaemonDeps, session: Session, control: TickControl, recorder: TickRecorder): Promise<void> {
  const { rpc, provider, metrics } = deps;
  const head = await rpc.call("eth_blockNumber", () => provider.getBlockNumber());
  control.observeHead(head);
  metrics.headBlock.set(head);
  const range = scanRange(deps.config, session.checkpoint.next(), head);
  if (range.kind === "idle") {
    metrics.lagBlocks.set(0);
    return;
  }
  const claims = await scanClaims(deps, range);
  recorder.scanned(range.to, claims.length);
  metrics.claimsSeen.inc(claims.length);
  const mined = claims.length > 0 ? await processClaims(deps, session, control, recorder, claims, head) : [];

  const confirmed = await awaitConfirmations(deps, mined, control);
  if (confirmed.kind === "abandoned") throw new Abandon();
  if (confirmed.kind === "reorged") {
    session.submitter.forgetNonce();
    const { hash, blockNumber } = confirmed.tx;
    throw new TriadError(
      `verdict transaction ${hash} (block ${blockNumber}) was dropped by a reorg: re-scanning from the checkpoint`,
      "TX_REORGED",
      { hash },
    );
  }
  session.checkpoint.advance(range.to + 1, confirmed.head ?? head);
}

/** Lookups, decisions and submissions of the range's claims; returns the mined verdict transactions. */
async function processClaims(
  deps: DaemonDeps,
  session: Session,
  control: TickControl,
  recorder: TickRecorder,
  claims: readonly FiledClaim[],
  head: number,
): Promise<MinedTransaction[]> {
  const phase = recorder.stopwatch();
  const skip = (s: Skip) =>
    recorder.record({ claimId: s.claim.claimId, outcome: "skipped", reason: s.reason, ...(s.detail && { detail: s.detail }) });

  const [latest, history] = await Promise.all([
    deps.rpc.call("eth_getBlockByNumber", () => deps.provider.getBlock("latest")),
    readClaimHistory(deps, session.slot, claims[0].blockNumber, head),
  ]);
  const now = BigInt(latest?.timestamp ?? 0);
  const open: FiledClaim[] = [];
  for (const state of claims.map((c) => claimState(c, history, now))) {
    if (state.kind === "skip") skip(state);
    else open.push(state.claim);
  }
  if (open.length === 0) return [];
  phase("claimState");

  const ready: CheckableClaim[] = [];
  for (const looked of await session.lookups.lookup(open)) {
    if (looked.kind === "skip") skip(looked);
    else ready.push(looked.claim);
  }
  phase("lookups");

  const { batchSize, concurrency } = deps.config;
  const downloadSlots = createLimiter(concurrency);
  const batches: CheckableClaim[][] = [];
  for (let i = 0; i < ready.length; i += batchSize) batches.push(ready.slice(i, i + batchSize));
  const checked = batches.map((batch) =>
    Promise.all(
      batch.map(async (claim): Promise<CheckedClaim> => ({ claim, check: await checkClaimEvidence(deps, session, claim, downloadSlots) })),
    ),
  );
  checked.forEach((p) => p.catch(() => undefined)); // awaited below, in order
  const domain = claimsDomain(session.chainId, deps.addresses.claims);
  const digestOf = verdictDigester(domain);
  const mined: MinedTransaction[] = [];
  const submissions: Promise<void>[] = [];
  try {
    for (const batchChecks of checked) {
      const batch = await batchChecks;
      phase("verify"); // the wait for this batch's downloads and checks
      const decisions = await decideBatch(deps, session.log, batch, digestOf);
      const verdicts = [];
      for (const d of decisions) {
        if (d.kind === "abstain") skip({ kind: "skip", claim: d.claim, reason: "abstained" });
        else verdicts.push(d);
      }
      const signed: SignedVerdict[] = [];
      for (const s of await signOnce(deps, session, verdicts, history, domain)) {
        if (s.kind === "skip") skip(s);
        else signed.push(s);
      }
      phase("decide");
      if (control.stopping()) {
        session.log.info({ claims: ready.length }, "stopping: abandoning the rest of the tick (it is re-scanned on restart)");
        throw new Abandon();
      }
      if (signed.length === 0) continue;
      submissions.push(
        session.submitter.submit(signed).then((result) => {
          if (result.kind === "mined") {
            mined.push(result.tx);
            recorder.transaction();
          }
          for (const outcome of result.outcomes) recorder.record(outcome);
        }),
      );
    }
  } finally {
    // Whatever was sent is accounted for before the tick ends (also when it is abandoned or failed).
    const settled = await Promise.allSettled(submissions);
    phase("submission");
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
  return mined;
}
