/**
 * The oracle daemon (docs/protocol.md §11): scans ClaimFiled events from its checkpoint behind a confirmation depth,
 * assesses each claim's evidence with the approved model, signs the EIP-712 Verdict as a committee member and
 * submits it (alone or in batches); the contract accumulates members' signatures and finalises at the threshold.
 *
 * One tick:
 *   1. head − confirmations bounds the scan; read ClaimFiled logs of [checkpoint, min(safe head, checkpoint + range − 1)].
 *   2. One log query (VerdictFinalised, VerdictSigned) over [first claim block, head]: skip claims already decided or
 *      signed by this member; skip claims past their deadline or whose product does not allow our model.
 *   3. Policies (cached across ticks), device status and product permission once per tick.
 *   4. Per batch of `batchSize` claims, pipelined: download the evidence (bounded concurrency), check it on worker
 *      threads, score the valid claims in one batched inference, build verdicts (invalid evidence → rejection),
 *      sign them and submit the batch (locally managed nonces) while the next batch is still being checked.
 *   5. Wait for every receipt — and, with a confirmation depth, for the verdict transactions to be that deep and still
 *      in the chain — then advance the checkpoint atomically past the range.
 * A failure anywhere before step 5 abandons the tick: the next one re-scans the same range, and step 2 makes that
 * idempotent (the contract also refuses a duplicate signature), so a claim is never lost nor signed twice.
 */
import { BaseWallet, getAddress, type Provider, type Signer, type TransactionRequest } from "ethers";
import pino, { type Logger } from "pino";
import { claimsDomain } from "@triad/sdk";
import { TriadError } from "@triad/sdk";
import { signVerdict } from "@triad/sdk";
import { signDigest } from "@triad/sdk";
import { buildRejectionVerdict, buildVerdict, verdictDigester } from "@triad/sdk";
import type { Verdict } from "@triad/sdk";
import { EvidenceError, type EvidenceFailureReason } from "@triad/sdk";
import { DEVICE_ACTIVE, scoreEvidence, type ClaimAssessment, type EvidenceCheck, type OracleModel, type ScoreResult } from "./assess.ts";
import { checkChainId, connectContracts, createRpc, isPermanentRpcError, shortMessage, type OracleAddresses, type OracleContracts, type Rpc } from "./chain.ts";
import { defaultCheckpointFile, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import { defaultConfig, type OracleConfig } from "./config.ts";
import { fetchEvidence } from "./evidence.ts";
import { createMetrics, type OracleMetrics } from "./metrics.ts";
import { batchAssessor } from "./batch.ts";
import { createVerifier, defaultVerifyWorkers, type EvidenceVerifier } from "./verifier.ts";
import { startOpsServer, type HealthReport, type OpsServer } from "./server.ts";

/** See gasLimitFor. */
export const GAS_BASE = 150_000n;
export const GAS_PER_VERDICT = 250_000n;

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
  /** Main-thread milliseconds per stage (claimState, lookups, verify = waiting for checks, decide, submission). */
  phasesMs: Record<string, number>;
}

/** A verdict transaction of the tick, mined. */
interface MinedTransaction {
  hash: string;
  blockNumber: number;
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
  const signingKey = signer instanceof BaseWallet ? signer.signingKey : undefined;
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
  let blockGasCap: bigint | undefined;
  const assessMany = batchAssessor(model);
  const policyCache = new Map<string, { device: string; start: bigint; end: bigint; productId: bigint }>();
  let verifier: EvidenceVerifier = createVerifier({ workers: 0 });
  let slot = 0;

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
    const latest = await rpc.call("eth_getBlockByNumber", () => provider.getBlock("latest"));
    if (latest?.gasLimit) blockGasCap = (latest.gasLimit * 9n) / 10n;
    if (blockGasCap !== undefined && GAS_BASE + GAS_PER_VERDICT * BigInt(config.batchSize) > blockGasCap) {
      log.warn({ batchSize: config.batchSize, blockGasLimit: latest!.gasLimit.toString() }, "ORACLE_BATCH_SIZE is large for this chain's block gas limit: batches are capped at 90 % of it");
    }
    const workers = config.verifyWorkers ?? defaultVerifyWorkers();
    if (workers > 0) {
      verifier = createVerifier({ workers });
      await verifier.ready();
    }
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
    const report: TickReport = { fromBlock: from, toBlock: from - 1, claims: 0, submitted: 0, approved: 0, rejected: 0, skipped: 0, transactions: 0, idle: true, phasesMs: {} };
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
    const mined: MinedTransaction[] = [];
    if (items.length > 0) await processClaims(items, report, mined);
    await awaitConfirmations(mined);
    advance(to + 1, lastHead ?? head);
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

  /** Decided claims and this member's signed digests per claim, from the claims contract's logs in [from, to]. */
  async function verdictHistory(from: number, to: number) {
    const decided = new Set<string>();
    const signedByMe = new Map<string, Set<string>>();
    const iface = contracts.claims.interface;
    const topics = [[iface.getEvent("VerdictFinalised").topicHash, iface.getEvent("VerdictSigned").topicHash]];
    for (let start = from; start <= to; start += config.logBlockRange) {
      const end = Math.min(to, start + config.logBlockRange - 1);
      const logs = await rpc.call("eth_getLogs", () => provider.getLogs({ address: params.addresses.claims, topics, fromBlock: start, toBlock: end }));
      for (const entry of logs) {
        const parsed = iface.parseLog(entry);
        if (!parsed) continue;
        const id = parsed.args.claimId.toString();
        if (parsed.name === "VerdictFinalised") decided.add(id);
        else if ((Number(parsed.args.signers) >> slot) & 1) {
          if (!signedByMe.has(id)) signedByMe.set(id, new Set());
          signedByMe.get(id)!.add(String(parsed.args.digest).toLowerCase());
        }
      }
    }
    return { decided, signedByMe };
  }

  /**
   * The checkpoint may only pass claims whose verdicts are as final as the claims themselves: a verdict transaction
   * is mined at the head, so a reorg shallower than the confirmation depth can drop it (a node does not always
   * re-include it), which would leave the claim Filed behind the checkpoint. Waits until the tick's verdict
   * transactions are `confirmations` blocks deep and are still in the chain; if one vanished, the tick fails and is
   * re-scanned from the checkpoint (its claims are then undecided again and signed again).
   */
  async function awaitConfirmations(mined: readonly MinedTransaction[]): Promise<void> {
    if (config.confirmations === 0 || mined.length === 0) return;
    const target = Math.max(...mined.map((t) => t.blockNumber)) + config.confirmations;
    for (;;) {
      const head = await rpc.call("eth_blockNumber", () => provider.getBlockNumber());
      lastHead = head;
      if (head >= target) break;
      if (stopping) throw new AbandonedTick(); // re-scanned on restart: idempotent
      await new Promise((r) => setTimeout(r, Math.min(config.pollIntervalMs, 1000)));
    }
    for (const t of mined) {
      const receipt = await rpc.call("eth_getTransactionReceipt", () => provider.getTransactionReceipt(t.hash));
      if (!receipt) {
        nonce = undefined; // its nonce is free again
        throw new TriadError(`verdict transaction ${t.hash} (block ${t.blockNumber}) was dropped by a reorg: re-scanning from the checkpoint`, "TX_REORGED", {
          hash: t.hash,
        });
      }
    }
  }

  async function processClaims(all: WorkItem[], report: TickReport, mined: MinedTransaction[]): Promise<void> {
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      report.phasesMs[name] = +((report.phasesMs[name] ?? 0) + now - mark).toFixed(2);
      mark = now;
    };
    // 2. What happened to these claims since they were filed, from one log query over [first claim block, head]
    //    instead of a getClaim + hasSigned per claim: VerdictFinalised marks a claim decided, VerdictSigned with
    //    this member's slot bit marks one it already signed (a restart, or a second instance). A claim can only
    //    leave Filed without VerdictFinalised by escalation, which needs its deadline passed: checked against the
    //    latest block's time, with the deadline from the ClaimFiled event (the same value getClaim returns).
    const head = lastHead!;
    const [latest, history] = await Promise.all([
      rpc.call("eth_getBlockByNumber", () => provider.getBlock("latest")),
      verdictHistory(all[0].blockNumber, head),
    ]);
    const now = BigInt(latest?.timestamp ?? 0);
    let items = all.filter((item) => {
      const id = item.claimId.toString();
      if (history.decided.has(id)) {
        skip(item, "decided", report);
        return false;
      }
      if (item.assessmentDeadline <= now) {
        skip(item, "deadline_passed", report, { deadline: item.assessmentDeadline.toString() });
        return false;
      }
      return true;
    });
    if (items.length === 0) return;

    phase("claimState");
    // 3. policies, devices and products once per tick.
    // A policy's device, period and product never change: cached across ticks. Device status and the product's
    // model permission can change: read once per tick.
    const policies = await lookupOnce(items.map((i) => i.policyId.toString()), async (id) => {
      const cached = policyCache.get(id);
      if (cached) return cached;
      const p = await rpc.call("getPolicy", () => contracts.claims.getPolicy(BigInt(id)));
      const policy = { device: getAddress(p.device), start: p.start, end: p.end, productId: p.productId };
      if (policyCache.size >= 100_000) policyCache.clear();
      policyCache.set(id, policy);
      return policy;
    });
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

    phase("lookups");

    // 4-6 run per batch of `batchSize` claims, pipelined: every batch's downloads and checks are queued at once
    // (downloads are I/O with bounded concurrency; checks run on the verifier's worker threads), and batches are
    // scored, signed and submitted in order as their checks complete — so the main thread submits batch i while
    // the workers still verify batch i+1. Receipts are awaited together at the end; the checkpoint moves only after.
    const downloadSlots = createLimiter(config.concurrency);
    const batches: WorkItem[][] = [];
    for (let i = 0; i < items.length; i += config.batchSize) batches.push(items.slice(i, i + config.batchSize));
    const checked = batches.map((batch) => Promise.all(batch.map((item) => checkItem(item, policies, devices, downloadSlots))));
    checked.forEach((p) => p.catch(() => undefined)); // awaited below, in order
    const domain = claimsDomain(chainId, params.addresses.claims);
    const submissions: Promise<void>[] = [];
    try {
      for (let b = 0; b < batches.length; b++) {
        await checked[b];
        phase("verify");
        const ready = await decideBatch(batches[b], history, domain, report);
        phase("decide");
        if (stopping) {
          log.info({ claims: items.length }, "stopping: abandoning the rest of the tick (it is re-scanned on restart)");
          throw new AbandonedTick();
        }
        if (ready.length > 0) submissions.push(submit(ready, report, mined));
      }
    } finally {
      // Whatever was sent is accounted for before the tick ends (also when it is abandoned or failed).
      const settled = await Promise.allSettled(submissions);
      phase("submission");
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    }
  }

  /** Downloads (bounded concurrency) and checks (worker threads) one claim's evidence. */
  async function checkItem(
    item: WorkItem,
    policies: Map<string, { device: string; start: bigint; end: bigint }>,
    devices: Map<string, readonly [string, bigint]>,
    downloadSlots: Limiter,
  ): Promise<void> {
    const [, status] = devices.get(item.device!)!;
    if (Number(status) !== DEVICE_ACTIVE) {
      // No need to fetch: the claim fails whatever the evidence says.
      const message = `the insured device ${item.device} is not Active in the registry (status ${status})`;
      item.check = { ok: false, evidenceHash: item.evidenceHash, reason: "DEVICE_NOT_ACTIVE", message };
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = await downloadSlots(() =>
        fetchEvidence(item.evidenceURI, config.evidence, {
          fetch: params.fetch,
          onRetry: (attempt, error) =>
            log.warn({ claimId: item.claimId.toString(), attempt, reason: error.reason, err: error.message }, "evidence fetch failed, retrying"),
        }),
      );
    } catch (error) {
      if (!(error instanceof EvidenceError)) throw error;
      item.check = { ok: false, evidenceHash: item.evidenceHash, reason: error.reason, message: error.message };
      return;
    }
    const policy = policies.get(item.policyId.toString())!;
    item.check = await verifier.check(bytes, {
      chainId,
      registry: params.addresses.registry,
      claim: { evidenceHash: item.evidenceHash, incidentAt: item.incidentAt },
      policy: { device: item.device!, start: policy.start, end: policy.end },
      deviceStatus: DEVICE_ACTIVE,
    });
  }

  /**
   * Scores a batch's valid evidence in one inference, builds every verdict (rejections for invalid evidence), drops
   * what this member already signed and signs the rest. Returns the claims to submit.
   */
  async function decideBatch(
    batch: WorkItem[],
    history: Awaited<ReturnType<typeof verdictHistory>>,
    domain: ReturnType<typeof claimsDomain>,
    report: TickReport,
  ): Promise<WorkItem[]> {
    const valid = batch.filter((i) => i.check!.ok);
    if (valid.length > 0) {
      const started = performance.now();
      const scores = await scoreEvidence(
        model,
        valid.map((i) => (i.check as Extract<EvidenceCheck, { ok: true }>).verified),
        assessMany,
      );
      metrics.inferenceSeconds.observe((performance.now() - started) / 1000);
      metrics.inferredClaims.inc(valid.length);
      valid.forEach((item, k) => (item.score = scores[k]));
    }

    const digestOf = verdictDigester(domain);
    let items = batch.filter((item) => {
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
      item.digest = digestOf(item.verdict!);
      return true;
    });

    // 5. skip what this member already signed. The logs say which claims it signed; hasSigned then tells whether
    //    that signature still counts (a membership change voids tallies: then the same digest is signed again).
    //    A member never signs a second, different verdict for a claim.
    const resign = await mapLimit(items, config.concurrency, async (item) => {
      const digests = history.signedByMe.get(item.claimId.toString());
      if (!digests) return true;
      if (!digests.has(item.digest!)) {
        log.warn({ claimId: item.claimId.toString(), digest: item.digest }, "this member signed another verdict for this claim before: not signing a second one");
        return false;
      }
      return !(await rpc.call("hasSigned", () => contracts.claims.hasSigned(item.digest!, me)));
    });
    items = items.filter((item, i) => {
      if (!resign[i]) skip(item, "already_signed", report, { digest: item.digest });
      return resign[i];
    });
    for (const item of items) {
      // A local key signs the digest directly (what Wallet.signTypedData does after hashing it again, natively when
      // libsecp256k1 loads: the same signature, ~20x faster); any other
      // signer (hardware, remote, Hardhat account) goes through EIP-712 signTypedData.
      item.signature = signingKey ? signDigest(signingKey.privateKey, item.digest!) : await signVerdict(signer, domain, item.verdict!);
    }
    return items;
  }

  /** Submits one batch (submitVerdict for batch size 1, else submitVerdicts) and accounts for its receipt. */
  async function submit(batch: WorkItem[], report: TickReport, mined: MinedTransaction[]): Promise<void> {
    const started = performance.now();
    try {
      const request =
        config.batchSize === 1
          ? await claimsWrite.submitVerdict.populateTransaction(batch[0].verdict!, [batch[0].signature!])
          : await claimsWrite.submitVerdicts.populateTransaction(
              batch.map((i) => i.verdict!),
              batch.map((i) => [i.signature!]),
            );
      const receipt = await sendAndWait({ ...request, verdicts: batch.length });
      mined.push({ hash: receipt.hash, blockNumber: receipt.blockNumber });
      report.transactions++;
      metrics.submissionSeconds.observe((performance.now() - started) / 1000);
      accountReceipt(batch, receipt, report);
    } catch (error) {
      if (!isPermanentRpcError(error)) throw error;
      // A reverted submission (receipt status 0, or refused at send): the claim was decided meanwhile or the
      // verdict is refused. Refusals are final for this digest, so the tick moves on (logged and counted).
      for (const item of batch) {
        metrics.verdictsRefused.inc();
        log.warn({ claimId: item.claimId.toString(), err: shortMessage(error) }, "verdict refused by the contract");
      }
    }
  }

  /**
   * Nonces are managed here rather than per send: transactions are handed to the node one at a time in nonce order
   * (a node may refuse a nonce gap — Hardhat's automine does) and their receipts are awaited concurrently. After any
   * failed send the next nonce is re-read from the node. The gas limit comes from {@link gasLimitFor}, not from
   * eth_estimateGas.
   */
  async function sendAndWait(request: TransactionRequest & { verdicts: number }) {
    const gasLimit = gasLimitFor(request.verdicts);
    const response = await inSendOrder(async () => {
      nonce ??= await rpc.call("eth_getTransactionCount", () => signer.getNonce("pending"));
      const mine = nonce;
      try {
        const { verdicts: _count, ...tx } = request;
        const sent = await rpc.call("eth_sendTransaction", () => signer.sendTransaction({ ...tx, gasLimit, nonce: mine }));
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

  /**
   * Gas limit of a submission of `n` verdicts. eth_estimateGas is skipped on purpose: for a batch it runs a binary
   * search of full executions (about 1.5 s for 50 verdicts on Hardhat, the largest cost of a tick), and a
   * submission can only revert on a refused single verdict, which the receipt reports anyway. The per-verdict
   * figure is over twice the most expensive verdict measured (an approval paid out at once, see packages/oracle/README.md);
   * only gas used is paid. Capped at 90 % of the block gas limit.
   */
  function gasLimitFor(n: number): bigint {
    const limit = GAS_BASE + GAS_PER_VERDICT * BigInt(n);
    return blockGasCap !== undefined && limit > blockGasCap ? blockGasCap : limit;
  }

  function inSendOrder<T>(fn: () => Promise<T>): Promise<T> {
    const run = sendQueue.then(fn, fn);
    sendQueue = run.catch(() => undefined);
    return run;
  }

  const claimsAddress = params.addresses.claims.toLowerCase();
  const FINALISED_TOPIC = contracts.claims.interface.getEvent("VerdictFinalised").topicHash;
  const SKIPPED_TOPIC = contracts.claims.interface.getEvent("VerdictSkipped").topicHash;

  function accountReceipt(batch: WorkItem[], receipt: { logs: readonly { address: string; topics: readonly string[]; data: string }[] }, report: TickReport) {
    const skippedIds = new Set<string>();
    const finalised = new Set<string>();
    // A batch's receipt holds about five logs per claim (signature, decision, payout, transfers): only two events
    // matter here and both index the claim id, so the rest is skipped by topic, not ABI-decoded (a profile showed
    // decoding every log at ~10 % of the daemon's main thread).
    for (const entry of receipt.logs) {
      const topic = entry.topics[0];
      if ((topic !== FINALISED_TOPIC && topic !== SKIPPED_TOPIC) || entry.address.toLowerCase() !== claimsAddress) continue;
      const claimId = BigInt(entry.topics[1]).toString();
      if (topic === FINALISED_TOPIC) {
        finalised.add(claimId);
        continue;
      }
      skippedIds.add(claimId);
      // Empty revert data in a batch entry is what running out of gas looks like.
      if (contracts.claims.interface.parseLog(entry)?.args.reason === "0x") {
        log.error({ claimId }, "batch entry reverted without data: out of gas? (see GAS_PER_VERDICT)");
      }
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
      if (verifier.workers > 0) {
        log.info({ workers: verifier.workers }, "evidence verification on worker threads");
      }
      loopDone = loop();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loopDone;
      await queue;
      abort.abort();
      await verifier.close();
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

type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/** At most `limit` calls of the functions passed in run at once; the others wait in order. */
function createLimiter(limit: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve)); // the slot is handed over
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
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
