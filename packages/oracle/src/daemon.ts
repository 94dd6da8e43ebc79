/**
 * The oracle daemon (docs/protocol.md §11): scans ClaimFiled events from its checkpoint behind a confirmation depth,
 * assesses each claim's evidence with the approved model, signs the EIP-712 Verdict as a committee member and
 * submits it (alone or in batches); the contract accumulates members' signatures and finalises at the threshold.
 *
 * `createOracle` only wires the parts together; each stage of a tick is a module of ./daemon/ with a typed input and
 * result (the chain of stages is in ./daemon/tick.ts):
 *   session.ts  start: chain id and genesis, committee membership, model approval, checkpoint, verification
 *               workers; a chain reset (another chain or deployment) starts over on the new one
 *   scan.ts     the chain still the one scanned (reorg / reset detection); ClaimFiled logs of
 *               [scan cursor, head − confirmations]
 *   lookups.ts  decided / already-signed claims from one log query; policies (cached per chain), devices, products
 *   decide.ts   evidence fetched and verified, the model's score → a verdict, a rejection with its reason, or none
 *   submit.ts   signed once, submitted in batches with local nonces; the receipt read claim by claim
 *   turns.ts    committee turns: per claim only `threshold` primaries submit at once, backups hold theirs
 *   confirm.ts  the scan cursor and the checkpoint: verdicts tracked to their depth while scanning goes on
 *   report.ts   the tick's per-claim outcomes, counted once in report, metrics and log
 *   loop.ts     ticks in a row, backoff after failures, bounded stop
 *   health.ts   /healthz: problems named, lag in blocks and seconds, tick age, pending transactions
 */
import { getAddress, type Provider, type Signer } from "ethers";
import pino, { type Logger } from "pino";
import { connectContracts, createRpc, shortMessage, type OracleAddresses } from "./chain.ts";
import { defaultConfig, type OracleConfig } from "./config.ts";
import { createMetrics, type OracleMetrics } from "./metrics.ts";
import type { OracleModel } from "./model/assessment.ts";
import { startOpsServer, type HealthReport, type IpfsClient, type OpsServer } from "@triad/sdk/node";
import type { DaemonDeps } from "./daemon/context.ts";
import { chainAnswered, healthReport, observeLag, type HealthState } from "./daemon/health.ts";
import { AbandonedTick, createTickLoop } from "./daemon/loop.ts";
import type { TickReport, TickResult } from "./daemon/report.ts";
import { openSession, type Session } from "./daemon/session.ts";
import { runTick } from "./daemon/tick.ts";

export { GAS_BASE, GAS_PER_VERDICT } from "./daemon/submit.ts";
export type { ClaimOutcome, ReasonCode, RefusalReason, SkipReason, TickReport, TickResult } from "./daemon/report.ts";

export interface CreateOracleParams {
  provider: Provider;
  /** The committee member's key, connected to `provider`. Transactions are sent from it with local nonces. */
  signer: Signer;
  addresses: OracleAddresses;
  model: OracleModel;
  config?: Partial<OracleConfig>;
  logger?: Logger;
  /** Fetch implementation for evidence (defaults to the global fetch). */
  fetch?: typeof fetch;
  /** The IPFS node ipfs:// evidence is read through (`openIpfs`; the caller opens and closes it). */
  ipfs?: IpfsClient;
  /**
   * Called after every tick that got past start-up, the loop's and `tick()`'s alike, with how it ended and its
   * per-claim outcomes (also for a failed tick: what it did before failing). Must not throw.
   */
  onTick?: (result: TickResult) => void;
}

export interface Oracle {
  /** Connects, checks membership and model approval, starts the ops server (if configured) and the poll loop. */
  start(): Promise<void>;
  /**
   * Graceful stop, within `shutdownTimeoutMs`: the tick in progress finishes (or is abandoned before submitting, or
   * its waits are aborted at the time limit); the checkpoint stays correct either way.
   */
  stop(): Promise<void>;
  /** Runs one tick now (serialised with the loop); initialises on first use. */
  tick(): Promise<TickReport>;
  /** Resolves once the oracle is initialised. */
  init(): Promise<void>;
  readonly metrics: OracleMetrics;
  /** RPC requests issued so far (the benchmark reads it). */
  rpcRequests(): number;
  /** The next block to scan. */
  nextBlock(): number;
  /** The checkpoint: the lowest block whose claims are not all safely done (verdicts `confirmations` deep). */
  checkpointBlock(): number;
  /** URL of /healthz and /metrics once started with a metrics port. */
  opsUrl(): string | undefined;
  health(): Promise<HealthReport>;
  readonly member: Promise<string>;
}

export function createOracle(params: CreateOracleParams): Oracle {
  const config: OracleConfig = defaultConfig(params.config ?? {});
  const metrics = createMetrics();
  const abort = new AbortController();
  const baseLogger = params.logger ?? pino({ level: config.logLevel, base: { service: "triad-oracle" } });
  let log = baseLogger; // the member's logger once the session knows the member and chain
  const deps: DaemonDeps = {
    config,
    provider: params.provider,
    signer: params.signer,
    addresses: params.addresses,
    contracts: connectContracts(params.addresses, params.provider),
    model: params.model,
    rpc: createRpc({
      retries: config.rpcRetries,
      baseMs: config.rpcRetryBaseMs,
      timeoutMs: config.rpcTimeoutMs,
      metrics,
      signal: abort.signal,
      onRetry: (method, attempt, error) => log.warn({ method, attempt, err: shortMessage(error) }, "RPC request failed, retrying"),
      // Any answer of the node counts for /healthz's grace period, not only the probe's and the tick's head reads: a
      // flaky endpoint that answers most requests is not down.
      onAnswer: () => chainAnswered(health, deps.now()),
    }),
    metrics,
    fetch: params.fetch,
    ipfs: params.ipfs,
    now: () => Date.now(),
  };
  const memberPromise = params.signer.getAddress().then(getAddress);
  memberPromise.catch(() => undefined);

  const health: HealthState = { since: deps.now() };
  let member: string | undefined;
  let session: Session | undefined;
  let opening: Promise<Session> | undefined;
  let ops: OpsServer | undefined;
  let running = false;

  function init(): Promise<Session> {
    opening ??= (async () => {
      member = await memberPromise;
      session = await openSession(deps, { member, logger: baseLogger, bindLog: (l) => (log = l) });
      return session;
    })().catch((error) => {
      opening = undefined;
      throw error;
    });
    return opening;
  }

  const nextBlock = () => session?.checkpoint.next() ?? 0;
  const checkpointBlock = () => session?.checkpoint.safe() ?? 0;

  function notify(result: TickResult): void {
    try {
      params.onTick?.(result);
    } catch (error) {
      log.warn({ err: shortMessage(error) }, "onTick threw");
    }
  }

  /** One tick with its bookkeeping: health state, error metric, debug summary. */
  async function tickOnce(): Promise<TickReport> {
    try {
      const s = await init();
      const result = await runTick(deps, s, {
        stopping: () => loop.stopping(),
        observeHead: (head) => chainAnswered(health, deps.now(), head),
        observeLag: (blocks) => observeLag(deps, health, blocks),
      });
      notify(result);
      if (result.kind === "abandoned") throw new AbandonedTick();
      if (result.kind === "failed") throw result.error;
      health.lastTickAt = deps.now();
      health.lastError = undefined;
      metrics.lastTickTimestamp.set(health.lastTickAt / 1000);
      if (!result.report.idle) {
        const { outcomes: _outcomes, ...summary } = result.report; // each outcome has its own log line
        log.debug(summary, "tick done");
      }
      return result.report;
    } catch (error) {
      if (!(error instanceof AbandonedTick)) {
        metrics.tickErrors.inc();
        health.lastError = shortMessage(error);
      }
      throw error;
    }
  }

  const loop = createTickLoop({ config, runTick: tickOnce, lastHead: () => health.lastHead, log: () => log });

  const healthNow = () =>
    healthReport(deps, health, {
      initialising: opening !== undefined,
      running,
      nextBlock: nextBlock(),
      checkpoint: session && checkpointBlock(),
      member,
      submitter: session?.submitter,
      awaitingDepth: session?.checkpoint.pending(),
      reset: session?.reset,
    });

  return {
    metrics,
    member: memberPromise,
    init: async () => {
      await init();
    },
    tick: loop.tick,
    health: healthNow,
    rpcRequests: () => deps.rpc.count(),
    nextBlock,
    checkpointBlock,
    opsUrl: () => ops?.url,
    async start() {
      if (running) return;
      const s = await init();
      running = true;
      if (config.metricsPort !== undefined) {
        ops = await startOpsServer({ port: config.metricsPort, host: config.metricsHost, registry: metrics.registry, health: healthNow });
        log.info({ url: ops.url }, "ops server listening (/healthz, /metrics)");
      }
      if (s.verifier.workers > 0) {
        log.info({ workers: s.verifier.workers }, "evidence verification on worker threads");
      }
      health.since = deps.now();
      loop.start();
    },
    async stop() {
      // The loop gets most of the time limit to end its tick; then every wait is aborted (RPC retries, the
      // submitter's receipt waits) and whatever is left is given up on: the checkpoint is correct at every moment.
      const limit = config.shutdownTimeoutMs;
      const started = deps.now();
      const left = () => Math.max(0, limit - (deps.now() - started));
      const ended = await loop.stop(Math.floor(limit * 0.6));
      if (!ended) log.warn({ shutdownTimeoutMs: limit }, "the tick in progress did not end in time: aborting its waits");
      abort.abort();
      await within(Promise.resolve(session?.submitter.close?.()), left());
      await within(Promise.resolve(session?.verifier.close()), left());
      running = false;
      await within(Promise.resolve(ops?.close()), left());
      ops = undefined;
      log.info({ nextBlock: nextBlock(), checkpoint: checkpointBlock() }, "oracle stopped");
    },
  };
}

/** Waits for `promise` at most `ms` (its failure is logged by its owner, not here). */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
