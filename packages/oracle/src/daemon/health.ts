/**
 * What /healthz reports, and the gauges that go with it. The daemon is healthy when none of these holds (each one
 * adds a sentence to `problems`):
 *  - it has not been started (nor initialised);
 *  - the chain did not answer for `healthRpcGraceMs` (a slow or flaky endpoint is not down: one failed probe after
 *    a success within the grace period is reported as `chainFailingMs`, not as unreachable);
 *  - no tick succeeded for `healthMaxTickAgeMs` while the loop runs (stuck detection by time: a tick that hangs, or
 *    fails again and again, shows here whatever the lag says);
 *  - it lags the confirmed head by more than `healthMaxLagBlocks` blocks;
 *  - the signer is out of money for gas, or its oldest pending transaction is older than `healthMaxTickAgeMs`;
 *  - a chain reset was detected and the deployment is not there yet.
 * The ticks feed {@link HealthState}; the health probe reads the head itself, so the lag is fresh even when the
 * ticks are stuck.
 */
import type { HealthReport } from "@triad/sdk/node";
import type { DaemonDeps } from "./context.ts";
import type { SubmitterExtras } from "./session.ts";

/** What the ticks and probes last saw. */
export interface HealthState {
  /** When the daemon was created or started (the tick age before the first tick). */
  since: number;
  /** The latest head read (by a tick, while waiting for confirmations, or by a health check). */
  lastHead?: number;
  /** When the last tick completed (ms). */
  lastTickAt?: number;
  /** The last tick's error, until a tick completes. */
  lastError?: string;
  /** The last successful chain read (ms). */
  lastChainOkAt?: number;
  /** When the chain reads started failing (ms), until one succeeds. */
  chainFailingSince?: number;
  /** Since when the daemon has had confirmed blocks left to scan (ms); undefined when caught up. */
  behindSince?: number;
}

/** How long the probe waits for the head: a slower answer counts as a failed read (within the grace period). */
const PROBE_TIMEOUT_MS = 2000;

/** Records a chain read that succeeded (`head` read), for the probe's grace period. */
export function chainAnswered(state: HealthState, now: number, head?: number): void {
  state.lastChainOkAt = now;
  state.chainFailingSince = undefined;
  if (head !== undefined) state.lastHead = head;
}

/** Records the lag after a tick or a probe; sets the lag gauges. */
export function observeLag(deps: Pick<DaemonDeps, "metrics" | "now">, state: HealthState, lagBlocks: number): number {
  const now = deps.now();
  if (lagBlocks <= 0) state.behindSince = undefined;
  else state.behindSince ??= now;
  const lagSeconds = state.behindSince === undefined ? 0 : (now - state.behindSince) / 1000;
  deps.metrics.lagBlocks.set(Math.max(0, lagBlocks));
  deps.metrics.lagSeconds.set(lagSeconds);
  return lagSeconds;
}

export async function healthReport(
  deps: Pick<DaemonDeps, "provider" | "config" | "model" | "metrics" | "now">,
  state: HealthState,
  daemon: {
    /** Initialised or initialising. */
    initialising: boolean;
    /** The poll loop runs (the tick age only matters then). */
    running: boolean;
    nextBlock: number;
    checkpoint?: number;
    member?: string;
    submitter?: SubmitterExtras;
    /** Verdict transactions mined, waiting for their depth. */
    awaitingDepth?: number;
    /** A reset was detected and the deployment is not there yet. */
    reset?: { reason: string; since: number };
  },
): Promise<HealthReport> {
  const { config } = deps;
  const problems: string[] = [];
  let head: number | undefined;
  try {
    head = await withTimeout(deps.provider.getBlockNumber(), PROBE_TIMEOUT_MS);
    chainAnswered(state, deps.now(), head);
  } catch {
    state.chainFailingSince ??= deps.now();
  }
  const now = deps.now();
  const failingMs = head === undefined ? now - (state.lastChainOkAt ?? state.chainFailingSince ?? now) : 0;
  // Never reached: unreachable at once; reached before: only after the grace period.
  const reachable = head !== undefined || (state.lastChainOkAt !== undefined && failingMs < config.healthRpcGraceMs);
  const knownHead = head ?? state.lastHead;
  const lag = knownHead === undefined ? undefined : Math.max(0, knownHead - config.confirmations - (daemon.nextBlock - 1));
  const lagSeconds = lag === undefined ? undefined : observeLag(deps, state, lag);
  const tickAgeMs = now - (state.lastTickAt ?? state.since);
  const pendingTransactions = daemon.submitter?.pendingCount?.();
  const oldestPendingTxMs = daemon.submitter?.oldestPendingAgeMs?.();
  const outOfFunds = daemon.submitter?.outOfFunds?.() ?? false;

  if (!daemon.initialising) problems.push("the daemon is not started");
  if (!reachable) {
    problems.push(
      state.lastChainOkAt === undefined
        ? "the chain's RPC endpoint does not answer"
        : `the chain's RPC endpoint has not answered for ${seconds(failingMs)} (ORACLE_HEALTH_RPC_GRACE_MS: ${seconds(config.healthRpcGraceMs)})`,
    );
  }
  if (daemon.running && tickAgeMs > config.healthMaxTickAgeMs) {
    problems.push(
      `no tick succeeded for ${seconds(tickAgeMs)} (ORACLE_HEALTH_MAX_TICK_AGE_MS: ${seconds(config.healthMaxTickAgeMs)})` +
        (state.lastError ? `: ${state.lastError}` : ""),
    );
  }
  if (lag === undefined && reachable) problems.push("the chain's head is not known yet");
  if (lag !== undefined && lag > config.healthMaxLagBlocks) {
    problems.push(`${lag} confirmed blocks not scanned yet (ORACLE_HEALTH_MAX_LAG_BLOCKS: ${config.healthMaxLagBlocks})`);
  }
  if (outOfFunds) problems.push("the signer has no money for gas: verdicts wait until it is funded");
  if (oldestPendingTxMs !== undefined && oldestPendingTxMs > config.healthMaxTickAgeMs) {
    problems.push(`a verdict transaction has been pending for ${seconds(oldestPendingTxMs)}`);
  }
  if (daemon.reset) problems.push(`chain reset (${daemon.reset.reason}): waiting for the deployment`);

  return {
    healthy: problems.length === 0,
    problems,
    chainReachable: reachable,
    chainFailingMs: failingMs > 0 ? failingMs : undefined,
    head: knownHead,
    nextBlock: daemon.nextBlock,
    checkpointBlock: daemon.checkpoint,
    lagBlocks: lag,
    lagSeconds,
    maxLagBlocks: config.healthMaxLagBlocks,
    lastTickAt: state.lastTickAt && new Date(state.lastTickAt).toISOString(),
    lastTickAgeMs: state.lastTickAt === undefined ? undefined : now - state.lastTickAt,
    maxTickAgeMs: config.healthMaxTickAgeMs,
    awaitingDepth: daemon.awaitingDepth,
    pendingTransactions,
    oldestPendingTxMs,
    outOfFunds,
    member: daemon.member,
    modelHash: deps.model.modelHash,
    lastError: state.lastError,
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
