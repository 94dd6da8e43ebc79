/**
 * One tick: the stages chained, each with a typed result.
 *
 *   chain     is this still the chain scanned? (one block hash per tick; a reset or a reorg     (scan.ts, session.ts)
 *             deeper than the depth moves the scan cursor back and empties the caches)
 *   confirm   verdicts of earlier ticks that reached their depth are checked; the checkpoint     (confirm.ts)
 *             passes the ranges done (a vanished verdict sends the scan back to its range)
 *   scan      head − confirmations bounds the range [scan cursor, …]; its ClaimFiled events     (scan.ts)
 *   lookups   decided / past-deadline claims skipped (one log query); policies, devices,       (lookups.ts)
 *             products looked up; claims of products that do not allow our model skipped
 *   decide    evidence downloaded and checked claim by claim; batches of up to `batchSize`      (decide.ts)
 *             formed in the order the checks complete (a ready queue), valid evidence scored in
 *             one inference, verdicts built (invalid evidence → rejection)
 *   submit    what this member already signed skipped, the rest signed; in a k-of-n committee     (submit.ts,
 *             only the claim's primaries submit at once, a backup holds its verdict (turns);      turns.ts)
 *             receipts read; the scan cursor moves past the range without waiting for the depth
 *
 * Before the scan, the verdicts held as a backup are settled: dropped when the claim was decided (or its deadline
 * passed), sent when `ORACLE_BACKUP_DELAY_BLOCKS` passed without a decision; their outcomes are in this tick's
 * report, after the `held` outcome of the tick that scanned them.
 *
 * A slow claim delays only itself: a batch leaves as soon as it is full, every check is done, or its first claim
 * waited {@link BATCH_LINGER_MS}, so the main thread submits one batch while other claims are still being checked.
 *
 * A failure anywhere before the scan cursor moves fails the tick: the next one re-scans the same range, and the
 * lookups make that idempotent (the contract also refuses a duplicate signature), so a claim is never lost nor
 * signed twice.
 */
import { claimsDomain, TriadError, verdictDigester } from "@triad/sdk";
import { shortMessage } from "../chain.ts";
import { createLimiter } from "../util/concurrency.ts";
import type { DaemonDeps } from "./context.ts";
import type { MinedVerdict } from "./confirm.ts";
import { checkClaimEvidence, decideBatch, type CheckedClaim } from "./decide.ts";
import { claimState, readClaimHistory, type CheckableClaim, type Skip } from "./lookups.ts";
import { createTickRecorder, type TickRecorder, type TickResult } from "./report.ts";
import { checkChain, scanClaims, scannedBlock, scanRange, type FiledClaim } from "./scan.ts";
import { beginReset, completeReset, resyncSubmitter, type Session } from "./session.ts";
import { signOnce, type SignedVerdict } from "./submit.ts";
import { dueBlock, isPrimary, refreshCommittee } from "./turns.ts";

/** How long a batch waits for more checks to complete once it has its first claim (unless full or all are done). */
export const BATCH_LINGER_MS = 1000;

/** What a tick needs from the loop around it. */
export interface TickControl {
  /** Shutdown was requested: abandon the tick before submitting more (it is re-scanned on restart). */
  stopping(): boolean;
  /** A head was read (for /healthz and the loop's catch-up decision). */
  observeHead(head: number): void;
  /** Confirmed blocks not yet scanned, after the tick's scan (for /healthz and the lag gauges). */
  observeLag?(blocks: number): void;
}

/** Thrown inside a tick to abandon it for shutdown. */
class Abandon extends Error {
  constructor() {
    super("tick abandoned for shutdown");
  }
}

/** Runs one tick from the session's scan cursor; never throws (a failure is a `failed` result with what was done). */
export async function runTick(deps: DaemonDeps, session: Session, control: TickControl): Promise<TickResult> {
  const recorder = createTickRecorder({ metrics: deps.metrics, log: session.log }, session.checkpoint.next());
  try {
    await tickStages(deps, session, control, recorder);
    return { kind: "done", report: recorder.report() };
  } catch (error) {
    if (error instanceof Abandon) return { kind: "abandoned", report: recorder.report() };
    return { kind: "failed", report: recorder.report(), error };
  } finally {
    deps.metrics.claimsHeldBackup.set(session.turns.held.size);
  }
}

/** The chain is the one scanned, or the cursor was moved back for a reorg; false: a reset waits for the deployment. */
async function guardChain(deps: DaemonDeps, session: Session, head: number): Promise<boolean> {
  if (!session.reset) {
    const check = await checkChain(deps, session.checkpoint, head);
    if (check.kind === "same") return true;
    if (check.kind === "deep") {
      const before = session.checkpoint.next();
      const from = session.checkpoint.rewindAbove(check.canonical, deps.config.startBlock ?? 0);
      deps.metrics.reorgs.inc({ kind: "deep" });
      session.log.error(
        { replacedBlock: check.replaced.number, replacedHash: check.replaced.hash, canonical: check.canonical, from, was: before },
        "reorg deeper than the confirmation depth: scanning again from the last block still in the chain",
      );
      session.lookups.clear();
      resyncSubmitter(session.submitter);
      return true;
    }
    beginReset(deps, session, check.reason);
  }
  return completeReset(deps, session, head);
}

async function tickStages(deps: DaemonDeps, session: Session, control: TickControl, recorder: TickRecorder): Promise<void> {
  const { rpc, provider, metrics, config } = deps;
  const head = await rpc.call("eth_blockNumber", () => provider.getBlockNumber());
  control.observeHead(head);
  metrics.headBlock.set(head);
  const cursor = session.checkpoint;
  if (!(await guardChain(deps, session, head))) return;

  const confirmed = await cursor.confirm(head);
  if (confirmed.kind === "vanished") {
    metrics.reorgs.inc({ kind: "shallow" });
    resyncSubmitter(session.submitter);
    const { hash, blockNumber } = confirmed.tx;
    throw new TriadError(
      `verdict transaction ${hash} (block ${blockNumber}) was dropped by a reorg: re-scanning from block ${confirmed.rescanFrom}`,
      "TX_REORGED",
      { hash, rescanFrom: confirmed.rescanFrom },
    );
  }

  await refreshCommittee(deps, session.turns, session.log);
  forgetRescanned(session);
  await settleHeld(deps, session, control, recorder, head, (id, txs) => cursor.release(id, txs));

  const range = scanRange(config, cursor.next(), head);
  if (range.kind === "idle") {
    control.observeLag?.(Math.max(0, head - config.confirmations - (cursor.next() - 1)));
    return;
  }
  // The range's last block hash is read before its logs: if a reorg replaces it in between, the next tick sees it.
  const ref = await scannedBlock(deps, range.to);
  const claims = await scanClaims(deps, range);
  recorder.scanned(range.to, claims.length);
  metrics.claimsSeen.inc(claims.length);
  const { mined, held } = claims.length > 0 ? await processClaims(deps, session, control, recorder, claims, head) : NOTHING;
  cursor.scanned(range, ref, mined, head, held);
  control.observeLag?.(Math.max(0, head - config.confirmations - range.to));
}

/** What a range's claims left: the mined verdict transactions, and the claims held as a backup. */
interface Processed {
  mined: MinedVerdict[];
  held: string[];
}

const NOTHING: Processed = { mined: [], held: [] };

/** Held verdicts of claims the scan cursor went back below (a reorg, a failed tick) are decided again by the scan. */
function forgetRescanned(session: Session): void {
  const { held } = session.turns;
  for (const [id, h] of held) if (h.signed.claim.blockNumber >= session.checkpoint.next()) held.delete(id);
}

/** A held claim is settled with these transactions (the deciding one, or this member's). */
type Release = (claimId: string, txs: MinedVerdict[]) => void;

/**
 * The verdicts held as a backup (committee turns): one log query tells which claims were decided meanwhile (dropped:
 * the checkpoint waits for the deciding transaction's depth); the rest whose due block is reached are sent in batches
 * (the submitter drops any decided in between as late). Run at each tick's start, and while a tick waits for slow
 * checks (see {@link watchHeld}).
 */
async function settleHeld(
  deps: DaemonDeps,
  session: Session,
  control: TickControl,
  recorder: TickRecorder,
  head: number,
  release: Release,
): Promise<void> {
  const { held } = session.turns;
  if (held.size === 0) return;
  const entries = [...held.values()];
  const from = Math.min(...entries.map((h) => h.signed.claim.blockNumber));
  const [latest, history] = await Promise.all([
    deps.rpc.call("eth_getBlockByNumber", () => deps.provider.getBlock("latest")),
    readClaimHistory(deps, session.slot, from, head),
  ]);
  const now = BigInt(latest?.timestamp ?? 0);
  const due: SignedVerdict[] = [];
  for (const h of entries) {
    const claim = h.signed.claim;
    const id = claim.claimId.toString();
    const state = claimState(claim, history, now);
    if (state.kind === "skip") {
      held.delete(id);
      deps.metrics.claimsHeldBackup.set(held.size);
      recorder.record({ claimId: claim.claimId, outcome: "skipped", reason: state.reason, ...(state.detail && { detail: state.detail }) });
      const tx = state.reason === "decided" ? history.lastTx?.get(id) : undefined;
      release(id, tx ? [{ ...tx, claimBlock: claim.blockNumber }] : []);
    } else if (head >= h.dueBlock) {
      due.push(h.signed);
    }
  }
  if (due.length === 0 || control.stopping()) return;
  session.log.warn(
    { claims: due.map((s) => s.claim.claimId.toString()) },
    "backup: the primaries did not decide these claims in time; submitting this member's verdicts",
  );
  for (let i = 0; i < due.length; i += deps.config.batchSize) {
    const batch = due.slice(i, i + deps.config.batchSize);
    const result = await session.submitter.submit(batch);
    if (result.kind === "mined") recorder.transaction();
    for (const outcome of result.outcomes) {
      recorder.record(outcome);
      if (outcome.outcome !== "late") deps.metrics.backupSubmissions.inc();
    }
    for (const s of batch) {
      const id = s.claim.claimId.toString();
      held.delete(id);
      deps.metrics.claimsHeldBackup.set(held.size);
      release(id, result.kind === "mined" ? [{ ...result.tx, claimBlock: s.claim.blockNumber }] : []);
    }
  }
}

/**
 * While a tick waits for slow checks (another claim's evidence may take its whole deadline), the held verdicts are
 * settled every poll interval too, so a backup's due block is not pushed back by someone else's slow evidence. The
 * returned function stops the watcher and resolves once it is idle.
 */
function watchHeld(deps: DaemonDeps, session: Session, control: TickControl, recorder: TickRecorder, release: Release) {
  let stopped = false;
  let wake: (() => void) | undefined;
  const run = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deps.config.pollIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopped || session.turns.held.size === 0) continue;
      try {
        const head = await deps.rpc.call("eth_blockNumber", () => deps.provider.getBlockNumber());
        await settleHeld(deps, session, control, recorder, head, release);
      } catch (error) {
        session.log.warn({ err: shortMessage(error) }, "settling the verdicts held as a backup failed: trying again");
      }
    }
  })();
  return async () => {
    stopped = true;
    wake?.();
    await run;
  };
}

/**
 * Committee turns: the claims whose verdict this member submits now (a primary; or a backup whose due block has
 * passed already, e.g. when catching up: `late` lists those), and the backups' verdicts to hold.
 */
function takeTurns(
  deps: DaemonDeps,
  session: Session,
  signed: readonly SignedVerdict[],
  head: number,
): { now: SignedVerdict[]; overdue: Set<string>; hold: { signed: SignedVerdict; dueBlock: number }[] } {
  const view = session.turns.view;
  const now: SignedVerdict[] = [];
  const overdue = new Set<string>();
  const hold: { signed: SignedVerdict; dueBlock: number }[] = [];
  for (const s of signed) {
    if (isPrimary(view, session.member, s.claim.claimId)) {
      now.push(s);
      continue;
    }
    const due = dueBlock(deps.config, session.turns.delay ?? 0, s.claim.blockNumber);
    if (head >= due) {
      now.push(s);
      overdue.add(s.claim.claimId.toString());
    } else hold.push({ signed: s, dueBlock: due });
  }
  return { now, overdue, hold };
}

/** Lookups, decisions and submissions of the range's claims; returns the mined verdict transactions. */
async function processClaims(
  deps: DaemonDeps,
  session: Session,
  control: TickControl,
  recorder: TickRecorder,
  claims: readonly FiledClaim[],
  head: number,
): Promise<Processed> {
  const phase = recorder.stopwatch();
  const mined: MinedVerdict[] = [];
  const held: string[] = [];
  /** A claim held by this tick is settled before the tick ends: its range's segment is not registered yet. */
  const release: Release = (id, txs) => {
    const i = held.indexOf(id);
    if (i < 0) return session.checkpoint.release(id, txs);
    held.splice(i, 1);
    mined.push(...txs);
  };
  const [latest, history] = await Promise.all([
    deps.rpc.call("eth_getBlockByNumber", () => deps.provider.getBlock("latest")),
    readClaimHistory(deps, session.slot, claims[0].blockNumber, head),
  ]);
  const skip = (s: Skip) => {
    recorder.record({ claimId: s.claim.claimId, outcome: "skipped", reason: s.reason, ...(s.detail && { detail: s.detail }) });
    // Decided or signed in a transaction not yet at the depth (another member's, or ours from a failed tick): the
    // checkpoint waits for it like for one of this tick's verdicts.
    const tx = s.reason === "decided" || s.reason === "already_signed" ? history.lastTx?.get(s.claim.claimId.toString()) : undefined;
    if (tx && tx.blockNumber + deps.config.confirmations > head) mined.push({ ...tx, claimBlock: s.claim.blockNumber });
  };
  const now = BigInt(latest?.timestamp ?? 0);
  const open: FiledClaim[] = [];
  for (const state of claims.map((c) => claimState(c, history, now))) {
    if (state.kind === "skip") skip(state);
    else open.push(state.claim);
  }
  if (open.length === 0) return { mined, held };
  phase("claimState");

  const ready: CheckableClaim[] = [];
  for (const looked of await session.lookups.lookup(open)) {
    if (looked.kind === "skip") skip(looked);
    else ready.push(looked.claim);
  }
  phase("lookups");

  const checks = checkInOrderOfCompletion(deps, session, ready);
  const domain = claimsDomain(session.chainId, deps.addresses.claims);
  const digestOf = verdictDigester(domain);
  const submissions: Promise<void>[] = [];
  const stopWatching = (session.turns.delay ?? 0) > 0 ? watchHeld(deps, session, control, recorder, release) : undefined;
  try {
    for (;;) {
      const batch = await checks.nextBatch(deps.config.batchSize);
      if (batch.length === 0) break;
      phase("verify"); // the wait for this batch's downloads and checks
      const decisions = await decideBatch(deps, session.log, batch, digestOf);
      const verdicts = [];
      for (const d of decisions) {
        if (d.kind === "abstain") skip({ kind: "skip", claim: d.claim, reason: "abstained" });
        else verdicts.push(d);
      }
      const all: SignedVerdict[] = [];
      for (const s of await signOnce(deps, session, verdicts, history, domain)) {
        if (s.kind === "skip") skip(s);
        else all.push(s);
      }
      phase("decide");
      if (control.stopping()) {
        session.log.info({ claims: ready.length }, "stopping: abandoning the rest of the tick (it is re-scanned on restart)");
        throw new Abandon();
      }
      const { now: signed, overdue, hold } = takeTurns(deps, session, all, head);
      for (const h of hold) {
        const id = h.signed.claim.claimId.toString();
        session.turns.held.set(id, h);
        deps.metrics.claimsHeldBackup.set(session.turns.held.size);
        held.push(id);
        recorder.record({ claimId: h.signed.claim.claimId, outcome: "held", dueBlock: h.dueBlock });
      }
      if (signed.length === 0) continue;
      const claimBlock = Math.min(...signed.map((v) => v.claim.blockNumber));
      submissions.push(
        session.submitter.submit(signed).then((result) => {
          if (result.kind === "mined") {
            mined.push({ ...result.tx, claimBlock });
            recorder.transaction();
          }
          for (const outcome of result.outcomes) {
            recorder.record(outcome);
            if (overdue.has(outcome.claimId.toString()) && outcome.outcome !== "late") deps.metrics.backupSubmissions.inc();
          }
        }),
      );
    }
  } finally {
    checks.abandon();
    await stopWatching?.();
    // Whatever was sent is accounted for before the tick ends (also when it is abandoned or failed).
    const settled = await Promise.allSettled(submissions);
    phase("submission");
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
  return { mined, held };
}

/**
 * Starts every claim's download and check at once (downloads in at most `concurrency` slots; checks on the verifier's
 * workers) and hands them out in batches as they complete: `nextBatch` resolves once `size` checks are ready, every
 * check is done, or the first ready one waited {@link BATCH_LINGER_MS}; within a batch the claims keep their scan
 * order. An empty batch: all handed out. A check that throws (not bad evidence: an RPC failure) fails the tick.
 */
function checkInOrderOfCompletion(deps: DaemonDeps, session: Session, claims: readonly CheckableClaim[]) {
  const downloadSlots = createLimiter(deps.config.concurrency);
  const done: { index: number; checked: CheckedClaim; at: number }[] = [];
  let outstanding = claims.length;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  claims.forEach((claim, index) => {
    checkClaimEvidence(deps, session, claim, downloadSlots)
      .then(
        (check) => done.push({ index, checked: { claim, check }, at: performance.now() }),
        (error: unknown) => (failure ??= { error }),
      )
      .finally(() => {
        outstanding--;
        wake?.();
      });
  });
  /** Resolves on the next completion, or after `ms`. */
  const change = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => wake?.(), ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  return {
    async nextBatch(size: number): Promise<CheckedClaim[]> {
      for (;;) {
        if (failure) throw failure.error;
        if (done.length >= size || (done.length > 0 && outstanding === 0)) break;
        if (outstanding === 0) return [];
        if (done.length === 0) {
          await change();
          continue;
        }
        const left = BATCH_LINGER_MS - (performance.now() - done[0].at);
        if (left <= 0) break;
        await change(left);
      }
      return done
        .splice(0, size)
        .sort((a, b) => a.index - b.index)
        .map((d) => d.checked);
    },
    /** No more batches are taken (the tick ends early): a late failure is not reported as unhandled. */
    abandon() {
      wake = undefined;
    },
  };
}
