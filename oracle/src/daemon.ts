/**
 * The oracle daemon (DESIGN.md, Off-chain): scans ClaimFiled events from its checkpoint behind a confirmation depth,
 * assesses each claim's evidence with the approved model, signs the EIP-712 Verdict as a committee member and
 * submits it (alone or in batches); the contract accumulates members' signatures and finalises at the threshold.
 *
 * One tick:
 *   1. head − confirmations bounds the scan; read ClaimFiled logs of [checkpoint, min(safe head, checkpoint + range − 1)].
 *   2. Skip claims already decided (getClaim), past their deadline, or whose product does not allow our model.
 *   3. Look up each policy, device status and product once per tick (cached), fetch evidence (bounded concurrency).
 *   4. Check the evidence; score the valid claims in one batched inference; invalid evidence → a rejection verdict.
 *   5. Skip verdicts this member already signed (hasSigned) — e.g. after a restart — sign the rest, submit them in
 *      batches with locally managed nonces, wait for the receipts.
 *   6. Advance the checkpoint atomically past the range.
 * A failure anywhere before step 6 abandons the tick: the next one re-scans the same range, and step 2/5 make that
 * idempotent (the contract also refuses a duplicate signature), so a claim is never lost nor double-signed.
 */
import { getAddress, type Provider, type Signer, type TransactionRequest } from "ethers";
import pino, { type Logger } from "pino";
import { claimsDomain } from "../../sdk/eip712";
import { TriadError } from "../../sdk/errors";
import { signVerdict, verdictDigest } from "../../sdk/signing";
import { buildRejectionVerdict, buildVerdict } from "../../sdk/verdict";
import type { Verdict } from "../../sdk/eip712";
import type { EvidenceFailureReason } from "../../sdk/evidence";
import { DEVICE_ACTIVE, checkEvidence, scoreEvidence, type ClaimAssessment, type EvidenceCheck, type OracleModel, type ScoreResult } from "./assess";
import { CLAIM_STATUS, checkChainId, connectContracts, createRpc, isPermanentRpcError, shortMessage, type OracleAddresses, type OracleContracts, type Rpc } from "./chain";
import { defaultCheckpointFile, readCheckpoint, writeCheckpoint } from "./checkpoint";
import { defaultConfig, type OracleConfig } from "./config";
import { fetchEvidence } from "./evidence";
import { EvidenceError } from "../../sdk/evidence";
import { createMetrics, type OracleMetrics } from "./metrics";
import { startOpsServer, type HealthReport, type OpsServer } from "./server";

const FILED = 1n;

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
}

/** What one tick did (returned by `tick()`; also logged). */
export interface TickReport {
  fromBlock: number;
  toBlock: number;
  claims: number;
  submitted: number;
  approved: number;
  rejected: number;
  skipped: number;
  transactions: number;
  /** The tick found nothing confirmed to scan. */
  idle: boolean;
}

/** A claim of the scanned range on its way through the tick. */
interface WorkItem {
  claimId: bigint;
  policyId: bigint;
  amount: bigint;
  incidentAt: bigint;
  assessmentDeadline: bigint;
  evidenceHash: string;
  evidenceURI: string;
  blockNumber: number;
  device?: string;
  productId?: bigint;
  check?: EvidenceCheck;
  score?: ScoreResult;
  verdict?: Verdict;
  digest?: string;
  signature?: string;
}

export interface Oracle {
  /** Connects, checks membership and model approval, starts the ops server (if configured) and the poll loop. */
  start(): Promise<void>;
  /** Graceful stop: the tick in progress finishes (or is abandoned before submitting), the checkpoint stays correct. */
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
  /** URL of /healthz and /metrics once started with a metrics port. */
  opsUrl(): string | undefined;
  health(): Promise<HealthReport>;
  readonly member: Promise<string>;
}

export function createOracle(params: CreateOracleParams): Oracle {
  const config: OracleConfig = defaultConfig(params.config ?? {});
  const { provider, signer, model } = params;
  const metrics = createMetrics();
  const abort = new AbortController();
  const baseLogger = params.logger ?? pino({ level: config.logLevel, base: { service: "triad-oracle" } });
  let log = baseLogger;
  const rpc: Rpc = createRpc({
    retries: config.rpcRetries,
    baseMs: config.rpcRetryBaseMs,
    metrics,
    signal: abort.signal,
    onRetry: (method, attempt, error) => log.warn({ method, attempt, err: shortMessage(error) }, "RPC request failed, retrying"),
  });
  const contracts: OracleContracts = connectContracts(params.addresses, provider);
  const claimsWrite = contracts.claims.connect(signer);
  const memberPromise = signer.getAddress().then(getAddress);
  memberPromise.catch(() => undefined);

  let chainId = 0n;
  let me = "";
  let checkpointFile = "";
  let next = 0;
  let lastHead: number | undefined;
  let lastTickAt: number | undefined;
  let lastError: string | undefined;
  let initPromise: Promise<void> | undefined;
  let running = false;
  let stopping = false;
  let loopDone: Promise<void> = Promise.resolve();
  let queue: Promise<unknown> = Promise.resolve();
  let ops: OpsServer | undefined;
  let wake: (() => void) | undefined;
  let nonce: number | undefined;
  let sendQueue: Promise<unknown> = Promise.resolve();
  let slot = 0;
  /**
   * Set at start and after a failed tick: the range about to be scanned may hold claims this member already signed a
   * verdict for (possibly a different digest, e.g. evidence that was unreachable then and is reachable now). One
   * VerdictSigned log query finds them, so a member never signs two verdicts for one claim.
   */
  let rescan = true;
  const signedBefore = new Set<string>();

  async function initialise(): Promise<void> {
    me = await memberPromise;
    chainId = await checkChainId(rpc, provider, config.chainId);
    log = baseLogger.child({ member: me, chainId: Number(chainId) });
    const [[isMember, memberSlot], approved] = await Promise.all([
      rpc.call("memberSlot", () => contracts.committee.memberSlot(me)),
      rpc.call("isModelApproved", () => contracts.committee.isModelApproved(model.modelHash)),
    ]);
    if (!isMember) {
      throw new TriadError(`signer ${me} is not a member of the OracleCommittee at ${params.addresses.committee}`, "NOT_A_MEMBER", { member: me });
    }
    if (!approved) {
      throw new TriadError(`model ${model.modelHash} is not approved by the OracleCommittee: its verdicts would be refused`, "MODEL_NOT_APPROVED", {
        modelHash: model.modelHash,
      });
    }
    slot = Number(memberSlot);
    checkpointFile = config.checkpointFile ?? defaultCheckpointFile(chainId, me);
    const cp = readCheckpoint(checkpointFile, { chainId, claims: params.addresses.claims, member: me });
    next = cp?.nextBlock ?? config.startBlock ?? 0;
    metrics.checkpointBlock.set(next);
    log.info(
      { claims: params.addresses.claims, modelHash: model.modelHash, backend: model.backend, nextBlock: next, checkpointFile, batchSize: config.batchSize },
      cp ? "oracle resumed from checkpoint" : "oracle starting (no checkpoint)",
    );
  }

  function init(): Promise<void> {
    initPromise ??= initialise().catch((error) => {
      initPromise = undefined;
      throw error;
    });
    return initPromise;
  }

  function serialise<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------- the tick

  async function runTick(): Promise<TickReport> {
    await init();
    const head = await rpc.call("eth_blockNumber", () => provider.getBlockNumber());
    lastHead = head;
    metrics.headBlock.set(head);
    const safe = head - config.confirmations;
    const from = next;
    const report: TickReport = { fromBlock: from, toBlock: from - 1, claims: 0, submitted: 0, approved: 0, rejected: 0, skipped: 0, transactions: 0, idle: true };
    if (safe < from) {
      metrics.lagBlocks.set(0);
      return report;
    }
    const to = Math.min(safe, from + config.logBlockRange - 1);
    report.toBlock = to;
    report.idle = false;
    const events = await rpc.call("eth_getLogs", () => contracts.claims.queryFilter(contracts.claims.filters.ClaimFiled(), from, to));
    const items: WorkItem[] = events.map((e) => ({
      claimId: e.args.claimId,
      policyId: e.args.policyId,
      amount: e.args.amount,
      incidentAt: e.args.incidentAt,
      assessmentDeadline: e.args.assessmentDeadline,
      evidenceHash: e.args.evidenceHash.toLowerCase(),
      evidenceURI: e.args.evidenceURI,
      blockNumber: e.blockNumber,
      device: getAddress(e.args.device),
    }));
    report.claims = items.length;
    metrics.claimsSeen.inc(items.length);
    if (items.length > 0) await processClaims(items, report);
    advance(to + 1, head);
    return report;
  }

  function advance(nextBlock: number, head: number): void {
    next = nextBlock;
    writeCheckpoint(checkpointFile, { chainId: Number(chainId), claims: params.addresses.claims, member: me, nextBlock, updatedAt: new Date().toISOString() });
    metrics.checkpointBlock.set(nextBlock);
    metrics.lagBlocks.set(Math.max(0, head - config.confirmations - (nextBlock - 1)));
  }

  function skip(item: WorkItem, reason: string, report: TickReport, extra: Record<string, unknown> = {}) {
    report.skipped++;
    metrics.claimsSkipped.inc({ reason });
    log.info({ claimId: item.claimId.toString(), reason, ...extra }, "claim skipped");
  }

  async function processClaims(all: WorkItem[], report: TickReport): Promise<void> {
    // 2. current state of each claim; the latest block's time bounds the deadline.
    const [latest, states] = await Promise.all([
      rpc.call("eth_getBlockByNumber", () => provider.getBlock("latest")),
      mapLimit(all, config.concurrency, (item) => rpc.call("getClaim", () => contracts.claims.getClaim(item.claimId))),
    ]);
    const now = BigInt(latest?.timestamp ?? 0);
    if (rescan) {
      const head = lastHead ?? (await rpc.call("eth_blockNumber", () => provider.getBlockNumber()));
      for (let start = next; start <= head; start += config.logBlockRange) {
        const end = Math.min(head, start + config.logBlockRange - 1);
        const logs = await rpc.call("eth_getLogs", () => contracts.claims.queryFilter(contracts.claims.filters.VerdictSigned(), start, end));
        for (const l of logs) if ((Number(l.args.signers) >> slot) & 1) signedBefore.add(l.args.claimId.toString());
      }
      rescan = false;
    }
    let items = all.filter((item, i) => {
      const state = states[i];
      if (state.status !== FILED) {
        skip(item, "decided", report, { status: CLAIM_STATUS[Number(state.status)] });
        return false;
      }
      if (signedBefore.has(item.claimId.toString())) {
        skip(item, "already_signed", report);
        return false;
      }
      // The chain's record wins over the event (it is what the contract checks the verdict against).
      item.assessmentDeadline = state.assessmentDeadline;
      item.evidenceHash = state.evidenceHash.toLowerCase();
      item.amount = state.amount;
      item.incidentAt = state.incidentAt;
      if (item.assessmentDeadline <= now) {
        skip(item, "deadline_passed", report, { deadline: item.assessmentDeadline.toString() });
        return false;
      }
      return true;
    });
    if (items.length === 0) return;

    // 3. policies, devices and products once per tick.
    const policies = await lookupOnce(items.map((i) => i.policyId.toString()), (id) => rpc.call("getPolicy", () => contracts.claims.getPolicy(BigInt(id))));
    const devices = await lookupOnce(
      items.map((i) => getAddress(policies.get(i.policyId.toString())!.device)),
      (device) => rpc.call("ownerAndStatus", () => contracts.registry.ownerAndStatus(device)),
    );
    const products = await lookupOnce(
      items.map((i) => policies.get(i.policyId.toString())!.productId.toString()),
      (productId) => rpc.call("isProductModel", () => contracts.claims.isProductModel(BigInt(productId), model.modelHash)),
    );
    items = items.filter((item) => {
      const policy = policies.get(item.policyId.toString())!;
      item.device = getAddress(policy.device);
      item.productId = policy.productId;
      if (!products.get(policy.productId.toString())) {
        skip(item, "model_not_allowed", report, { productId: policy.productId.toString(), modelHash: model.modelHash });
        return false;
      }
      return true;
    });

    // 3b/4. evidence.
    await mapLimit(items, config.concurrency, async (item) => {
      const policy = policies.get(item.policyId.toString())!;
      const [, status] = devices.get(item.device!)!;
      const ctx = {
        chainId,
        registry: params.addresses.registry,
        claim: { evidenceHash: item.evidenceHash, incidentAt: item.incidentAt },
        policy: { device: item.device!, start: policy.start, end: policy.end },
        deviceStatus: Number(status),
      };
      let bytes: Uint8Array;
      if (Number(status) !== DEVICE_ACTIVE) {
        // No need to fetch: the claim fails whatever the evidence says.
        const message = `the insured device ${item.device} is not Active in the registry (status ${status})`;
        item.check = { ok: false, evidenceHash: item.evidenceHash, reason: "DEVICE_NOT_ACTIVE", message };
        return;
      }
      try {
        bytes = await fetchEvidence(item.evidenceURI, config.evidence, {
          fetch: params.fetch,
          onRetry: (attempt, error) => log.warn({ claimId: item.claimId.toString(), attempt, reason: error.reason, err: error.message }, "evidence fetch failed, retrying"),
        });
      } catch (error) {
        if (!(error instanceof EvidenceError)) throw error;
        item.check = { ok: false, evidenceHash: item.evidenceHash, reason: error.reason, message: error.message };
        return;
      }
      item.check = checkEvidence(bytes, ctx);
    });

    // 4b. one batched inference over every claim with valid evidence.
    const valid = items.filter((i) => i.check!.ok);
    if (valid.length > 0) {
      const started = performance.now();
      const scores = await scoreEvidence(
        model,
        valid.map((i) => (i.check as Extract<EvidenceCheck, { ok: true }>).verified),
      );
      metrics.inferenceSeconds.observe((performance.now() - started) / 1000);
      metrics.inferredClaims.inc(valid.length);
      valid.forEach((item, k) => (item.score = scores[k]));
    }

    // Verdicts.
    const domain = claimsDomain(chainId, params.addresses.claims);
    items = items.filter((item) => {
      const claim = { claimId: item.claimId, amount: item.amount, evidenceHash: item.evidenceHash, assessmentDeadline: item.assessmentDeadline };
      const reject = (reason: EvidenceFailureReason, message: string) => {
        metrics.evidenceFailures.inc({ reason });
        log.warn({ claimId: item.claimId.toString(), reason, err: message, uri: item.evidenceURI }, "evidence invalid: rejecting claim");
        item.verdict = buildRejectionVerdict(claim, model.modelHash);
      };
      const check = item.check!;
      if (!check.ok) {
        reject(check.reason, check.message);
      } else if (item.score && !item.score.ok) {
        if (item.score.reason === "MODEL_ERROR") {
          log.error({ claimId: item.claimId.toString(), err: item.score.message }, "model failed: abstaining on this claim");
          skip(item, "abstained", report);
          return false;
        }
        reject(item.score.reason, item.score.message);
      } else {
        const a = (item.score as { ok: true; assessment: ClaimAssessment }).assessment;
        item.verdict = buildVerdict(claim, a, model.modelHash);
        log.info(
          { claimId: item.claimId.toString(), approved: a.approved, scoreBps: a.scoreBps, readingsInWindow: a.readingsInWindow },
          "claim assessed",
        );
      }
      item.digest = verdictDigest(domain, item.verdict!);
      return true;
    });

    // 5. skip what this member already signed (a restart after a crash), sign the rest.
    const signed = await mapLimit(items, config.concurrency, (item) => rpc.call("hasSigned", () => contracts.claims.hasSigned(item.digest!, me)));
    items = items.filter((item, i) => {
      if (signed[i]) skip(item, "already_signed", report, { digest: item.digest });
      return !signed[i];
    });
    for (const item of items) item.signature = await signVerdict(signer, domain, item.verdict!);
    if (stopping) {
      log.info({ claims: items.length }, "stopping: abandoning the tick before submission (it is re-scanned on restart)");
      throw new AbandonedTick();
    }
    await submit(items, report);
  }

  async function submit(items: WorkItem[], report: TickReport): Promise<void> {
    const batches: WorkItem[][] = [];
    for (let i = 0; i < items.length; i += config.batchSize) batches.push(items.slice(i, i + config.batchSize));
    await Promise.all(
      batches.map(async (batch) => {
        const started = performance.now();
        let request: TransactionRequest;
        try {
          request =
            config.batchSize === 1
              ? await claimsWrite.submitVerdict.populateTransaction(batch[0].verdict!, [batch[0].signature!])
              : await claimsWrite.submitVerdicts.populateTransaction(
                  batch.map((i) => i.verdict!),
                  batch.map((i) => [i.signature!]),
                );
          const receipt = await sendAndWait(request);
          report.transactions++;
          metrics.submissionSeconds.observe((performance.now() - started) / 1000);
          accountReceipt(batch, receipt, report);
        } catch (error) {
          if (!isPermanentRpcError(error)) throw error;
          // A reverted submission (estimateGas): the claim was decided meanwhile or the verdict is refused.
          // Refusals are final for this digest, so the tick moves on (logged and counted).
          for (const item of batch) {
            metrics.verdictsRefused.inc();
            log.warn({ claimId: item.claimId.toString(), err: shortMessage(error) }, "verdict refused by the contract");
          }
        }
      }),
    );
  }

  /**
   * Nonces are managed here rather than per send: gas is estimated for all batches concurrently, then transactions
   * are handed to the node one at a time in nonce order (a node may refuse a nonce gap — Hardhat's automine does),
   * and their receipts are awaited concurrently. After any failed send the next nonce is re-read from the node.
   */
  async function sendAndWait(request: TransactionRequest) {
    const estimate = await rpc.call("eth_estimateGas", () => provider.estimateGas({ ...request, from: me }));
    const gasLimit = (estimate * 12n) / 10n; // headroom: entries may be skipped or tallies change before inclusion
    const response = await inSendOrder(async () => {
      nonce ??= await rpc.call("eth_getTransactionCount", () => signer.getNonce("pending"));
      const mine = nonce;
      try {
        const sent = await rpc.call("eth_sendTransaction", () => signer.sendTransaction({ ...request, gasLimit, nonce: mine }));
        nonce = mine + 1;
        return sent;
      } catch (error) {
        nonce = undefined; // a failed send may or may not have used the nonce: ask the node again
        throw error;
      }
    });
    const receipt = await rpc.call("eth_getTransactionReceipt", () => response.wait());
    if (!receipt) throw new TriadError("transaction dropped", "TX_DROPPED", { hash: response.hash });
    return receipt;
  }

  function inSendOrder<T>(fn: () => Promise<T>): Promise<T> {
    const run = sendQueue.then(fn, fn);
    sendQueue = run.catch(() => undefined);
    return run;
  }

  function accountReceipt(batch: WorkItem[], receipt: { logs: readonly { address: string; topics: readonly string[]; data: string }[] }, report: TickReport) {
    const skippedIds = new Set<string>();
    const finalised = new Set<string>();
    for (const entry of receipt.logs) {
      if (getAddress(entry.address) !== params.addresses.claims) continue;
      const parsed = contracts.claims.interface.parseLog(entry);
      if (parsed?.name === "VerdictSkipped") skippedIds.add(parsed.args.claimId.toString());
      if (parsed?.name === "VerdictFinalised") finalised.add(parsed.args.claimId.toString());
    }
    for (const item of batch) {
      const id = item.claimId.toString();
      if (skippedIds.has(id)) {
        metrics.verdictsRefused.inc();
        log.warn({ claimId: id }, "verdict skipped by the contract (VerdictSkipped)");
        continue;
      }
      const outcome = item.verdict!.approved ? "approved" : "rejected";
      metrics.verdictsSubmitted.inc({ outcome });
      report.submitted++;
      if (item.verdict!.approved) report.approved++;
      else report.rejected++;
      log.info({ claimId: id, outcome, payout: item.verdict!.payout.toString(), finalised: finalised.has(id), tx: (receipt as { hash?: string }).hash }, "verdict submitted");
    }
  }

  async function tick(): Promise<TickReport> {
    return serialise(async () => {
      try {
        const report = await runTick();
        lastTickAt = Date.now();
        lastError = undefined;
        if (!report.idle) log.debug({ ...report }, "tick done");
        return report;
      } catch (error) {
        rescan = true;
        if (!(error instanceof AbandonedTick)) {
          metrics.tickErrors.inc();
          lastError = shortMessage(error);
        }
        throw error;
      }
    });
  }

  // ---------------------------------------------------------------- loop and lifecycle

  async function loop(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let idle = true;
      try {
        const report = await tick();
        idle = report.idle || report.toBlock >= (lastHead ?? 0) - config.confirmations;
        failures = 0;
      } catch (error) {
        if (error instanceof AbandonedTick) break;
        failures++;
        log.error({ err: shortMessage(error), failures }, "tick failed; retrying from the checkpoint");
      }
      if (stopping) break;
      // Catch up without sleeping while confirmed blocks remain; back off after failures.
      const delay = failures > 0 ? Math.min(config.pollIntervalMs * 2 ** Math.min(failures, 6), 60_000) : idle ? config.pollIntervalMs : 0;
      if (delay > 0) await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  async function health(): Promise<HealthReport> {
    let head: number | undefined;
    let reachable = false;
    try {
      head = await withTimeout(provider.getBlockNumber(), 2000);
      reachable = true;
      lastHead = head;
    } catch {
      reachable = false;
    }
    const lag = head === undefined ? undefined : Math.max(0, head - config.confirmations - (next - 1));
    const healthy = reachable && initPromise !== undefined && lag !== undefined && lag <= config.healthMaxLagBlocks;
    return {
      healthy,
      chainReachable: reachable,
      head,
      nextBlock: next,
      lagBlocks: lag,
      maxLagBlocks: config.healthMaxLagBlocks,
      member: me || undefined,
      modelHash: model.modelHash,
      lastTickAt: lastTickAt && new Date(lastTickAt).toISOString(),
      lastError,
    };
  }

  return {
    metrics,
    member: memberPromise,
    init,
    tick,
    health,
    rpcRequests: () => rpc.count(),
    nextBlock: () => next,
    opsUrl: () => ops?.url,
    async start() {
      if (running) return;
      await init();
      running = true;
      stopping = false;
      if (config.metricsPort !== undefined) {
        ops = await startOpsServer({ port: config.metricsPort, host: config.metricsHost, registry: metrics.registry, health });
        log.info({ url: ops.url }, "ops server listening (/healthz, /metrics)");
      }
      loopDone = loop();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loopDone;
      await queue;
      abort.abort();
      running = false;
      await ops?.close();
      ops = undefined;
      log.info({ nextBlock: next }, "oracle stopped");
    },
  };
}

class AbandonedTick extends Error {
  constructor() {
    super("tick abandoned for shutdown");
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let cursor = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (cursor < items.length) {
      const i = cursor++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

async function lookupOnce<K, V>(keys: readonly K[], fn: (key: K) => Promise<V>): Promise<Map<K, V>> {
  const unique = [...new Set(keys)];
  const values = await Promise.all(unique.map(fn));
  return new Map(unique.map((k, i) => [k, values[i]]));
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
