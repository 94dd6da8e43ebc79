/**
 * The poll loop: ticks one after another (never two at once: `tick()` calls from outside queue behind the loop's),
 * catching up without pause while confirmed blocks remain, polling every `pollIntervalMs` when caught up and backing
 * off exponentially after failed ticks. `stop()` lets the tick in progress end (it abandons itself before submitting
 * more) and resolves once it has, or after a time limit (then the tick is left to the aborts of the caller: the
 * checkpoint never moves past anything unfinished, so a restart re-scans it).
 */
import type { Logger } from "pino";
import { shortMessage } from "../chain.ts";
import type { OracleConfig } from "../config.ts";
import type { TickReport } from "./report.ts";

/** A tick ended early for shutdown: not an error (nothing is counted), the range is re-scanned on restart. */
export class AbandonedTick extends Error {
  constructor() {
    super("tick abandoned for shutdown");
  }
}

/** Longest pause between ticks after failures. */
const MAX_BACKOFF_MS = 60_000;

/** The pause before the next tick: backoff after `failures` failed ticks in a row, else poll when caught up. */
export function nextDelay(config: Pick<OracleConfig, "pollIntervalMs">, failures: number, caughtUp: boolean): number {
  if (failures > 0) return Math.min(config.pollIntervalMs * 2 ** Math.min(failures, 6), MAX_BACKOFF_MS);
  return caughtUp ? config.pollIntervalMs : 0;
}

export interface TickLoop {
  /** Runs one tick now, after any tick in progress. Throws what the tick threw ({@link AbandonedTick} on shutdown). */
  tick(): Promise<TickReport>;
  start(): void;
  /** Ends the loop; resolves once no tick runs (true), or after `timeoutMs` with a tick still running (false). */
  stop(timeoutMs?: number): Promise<boolean>;
  stopping(): boolean;
}

export function createTickLoop(options: {
  config: Pick<OracleConfig, "pollIntervalMs" | "confirmations">;
  /** One tick; throws on failure. */
  runTick: () => Promise<TickReport>;
  /** The latest head seen (after a tick: is the daemon caught up?). */
  lastHead: () => number | undefined;
  log: () => Logger;
}): TickLoop {
  const { config } = options;
  let stopping = false;
  let queue: Promise<unknown> = Promise.resolve();
  let loopDone: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;

  function tick(): Promise<TickReport> {
    const run = queue.then(options.runTick, options.runTick);
    queue = run.catch(() => undefined);
    return run;
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let caughtUp = true;
      try {
        const report = await tick();
        caughtUp = report.idle || report.toBlock >= (options.lastHead() ?? 0) - config.confirmations;
        failures = 0;
      } catch (error) {
        if (error instanceof AbandonedTick) break;
        failures++;
        options.log().error({ err: shortMessage(error), failures }, "tick failed; retrying from the checkpoint");
      }
      if (stopping) break;
      const delay = nextDelay(config, failures, caughtUp);
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      wake = undefined;
    }
  }

  return {
    tick,
    stopping: () => stopping,
    start() {
      stopping = false;
      loopDone = loop();
    },
    async stop(timeoutMs) {
      stopping = true;
      wake?.();
      const ended = (async () => {
        await loopDone;
        await queue;
        return true;
      })();
      if (timeoutMs === undefined) return ended;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      try {
        return await Promise.race([ended, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
