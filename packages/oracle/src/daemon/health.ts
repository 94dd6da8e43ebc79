/**
 * What /healthz reports: the daemon is healthy when the chain answers within 2 s, it is initialised (or
 * initialising) and it lags the confirmed head by at most `healthMaxLagBlocks`. The ticks feed {@link HealthState}.
 */
import type { HealthReport } from "@triad/sdk/node";
import type { DaemonDeps } from "./context.ts";

/** What the ticks last saw. */
export interface HealthState {
  /** The latest head read (by a tick, while waiting for confirmations, or by a health check). */
  lastHead?: number;
  /** When the last tick completed (ms). */
  lastTickAt?: number;
  /** The last tick's error, until a tick completes. */
  lastError?: string;
}

const CHAIN_TIMEOUT_MS = 2000;

export async function healthReport(
  deps: Pick<DaemonDeps, "provider" | "config" | "model">,
  state: HealthState,
  daemon: { initialising: boolean; nextBlock: number; member?: string },
): Promise<HealthReport> {
  const { config } = deps;
  let head: number | undefined;
  let reachable = false;
  try {
    head = await withTimeout(deps.provider.getBlockNumber(), CHAIN_TIMEOUT_MS);
    reachable = true;
    state.lastHead = head;
  } catch {
    reachable = false;
  }
  const lag = head === undefined ? undefined : Math.max(0, head - config.confirmations - (daemon.nextBlock - 1));
  const healthy = reachable && daemon.initialising && lag !== undefined && lag <= config.healthMaxLagBlocks;
  return {
    healthy,
    chainReachable: reachable,
    head,
    nextBlock: daemon.nextBlock,
    lagBlocks: lag,
    maxLagBlocks: config.healthMaxLagBlocks,
    member: daemon.member,
    modelHash: deps.model.modelHash,
    lastTickAt: state.lastTickAt && new Date(state.lastTickAt).toISOString(),
    lastError: state.lastError,
  };
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
