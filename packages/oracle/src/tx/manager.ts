/**
 * The transaction manager of the member's key: every verdict transaction goes out through {@link TxManager.send},
 * which returns only once one of its versions is mined (or the manager is closed). What it does:
 *  - nonces are local: transactions are handed to the node one at a time in nonce order; the nonce is re-read from
 *    the node (`latest`, so a transaction of ours left pending by a restart is replaced, not queued behind) at start,
 *    after any send error, and on {@link TxManager.resync} (reorgs, resets);
 *  - fees come from the node's fee history ({@link estimateFees});
 *  - a transaction without a receipt after `txReplaceAfterMs` is replaced: the same nonce with both fees bumped by
 *    `txFeeBumpPercent` (or to the current estimate, if higher), never above `txMaxFeeGwei`; at the cap, or when the
 *    node no longer knows it (dropped), it is sent again unchanged. Every hash of a nonce is watched, since any of
 *    them may be the one mined;
 *  - node answers are read by meaning ({@link classifyRpcError}): "already known" is a success, "nonce too low" means
 *    another version (or another sender of the same key) used the nonce, "underpriced" raises the fees;
 *  - no gas money ("insufficient funds" in any node's wording) pauses sending: {@link OutOfFundsError} is thrown, the
 *    out_of_funds gauge is 1 and one error line says which address to fund; the first send that the balance covers
 *    resumes;
 *  - waits never hang: receipts are polled with per-request timeouts, and {@link TxManager.close} ends every wait at
 *    once with {@link TxManagerClosedError}.
 */
import { BaseWallet, Transaction, formatEther, type Provider, type Signer, type TransactionReceipt } from "ethers";
import type { Logger } from "pino";
import { TriadError } from "@triad/sdk";
import { classifyRpcError, isAlreadyKnownError, shortMessage, type Rpc } from "../chain.ts";
import type { OracleConfig } from "../config.ts";
import type { OracleMetrics } from "../metrics.ts";
import { bumpFees, estimateFees, maxCost, type Fees } from "./fees.ts";

/** The signer cannot pay for gas: nothing was sent; the tick fails and is retried once the signer is funded. */
export class OutOfFundsError extends TriadError {
  override readonly name = "OutOfFundsError";
  constructor(
    readonly address: string,
    readonly balance: bigint,
    readonly needed: bigint | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `the oracle's signer ${address} cannot pay for gas (balance ${formatEther(balance)} ETH${
        needed === undefined ? "" : `, a verdict transaction may cost up to ${formatEther(needed)} ETH`
      }): fund ${address}; submission resumes by itself`,
      "OUT_OF_FUNDS",
      { address, balance: balance.toString(), ...(needed !== undefined && { needed: needed.toString() }) },
      options,
    );
  }
}

/** The manager was closed (shutdown) while a transaction was pending; it may still be mined. */
export class TxManagerClosedError extends TriadError {
  override readonly name = "TxManagerClosedError";
  constructor() {
    super("transaction manager closed while waiting for a receipt (shutdown)", "TX_ABANDONED");
  }
}

/** What to send: the manager adds nonce, fees and chain id. */
export interface TxRequest {
  to: string;
  data: string;
  gasLimit: bigint;
}

export interface TxManagerOptions {
  provider: Provider;
  signer: Signer;
  rpc: Rpc;
  metrics: OracleMetrics;
  log: Logger;
  config: Pick<OracleConfig, "txReplaceAfterMs" | "txFeeBumpPercent" | "txMaxFeeGwei" | "pollIntervalMs">;
  /** The chain's id (read from the provider when absent). */
  chainId?: bigint;
  /** Milliseconds since some origin (default performance.now): the replacement timer. */
  now?: () => number;
}

export interface TxManager {
  /** Sends `request` and resolves with the receipt of whichever of its versions was mined (status 0 included). */
  send(request: TxRequest): Promise<TransactionReceipt>;
  /** Transactions sent and not yet mined. */
  pendingCount(): number;
  /** Age of the oldest of them, or undefined when none is pending. */
  oldestPendingAgeMs(): number | undefined;
  /** Whether the last send found the signer without gas money. */
  outOfFunds(): boolean;
  /** The next send re-reads the nonce from the node (after a reorg, a chain reset, a restart). */
  resync(): void;
  /** Ends every wait now (each pending `send` rejects with {@link TxManagerClosedError}); resolves at once. */
  close(): Promise<void>;
}

interface Pending {
  request: TxRequest;
  nonce: number;
  fees: Fees;
  /** Every hash sent for this nonce (any of them may be mined). */
  hashes: Set<string>;
  /** The latest version: what a re-broadcast sends again. */
  latest: { hash: string; raw?: string };
  firstSentAt: number;
  lastSentAt: number;
  /** Its fees are at the cap: it can only be re-broadcast (the tx_fee_capped alert). */
  capped?: boolean;
}

/** Attempts at one send before giving up on it (nonce taken, fees too low...): each re-reads what it needs. */
const MAX_SEND_ATTEMPTS = 6;

export function createTxManager(options: TxManagerOptions): TxManager {
  const { provider, signer, rpc, metrics, log, config } = options;
  const now = options.now ?? (() => performance.now());
  const maxFeeWei = BigInt(config.txMaxFeeGwei) * 1_000_000_000n;
  const receiptPollMs = Math.max(20, Math.min(config.pollIntervalMs, 1000));
  const abort = new AbortController();
  const pending = new Set<Pending>();
  let nonce: number | undefined;
  let chainId = options.chainId;
  let address: string | undefined;
  let outOfFunds = false;
  let sendQueue: Promise<unknown> = Promise.resolve();

  function updateGauges(): void {
    metrics.txPending.set(pending.size);
    const oldest = oldestPendingAgeMs();
    metrics.txOldestPendingSeconds.set(oldest === undefined ? 0 : oldest / 1000);
    metrics.txFeeCapped.set([...pending].some((p) => p.capped) ? 1 : 0);
  }

  function oldestPendingAgeMs(): number | undefined {
    let first: number | undefined;
    for (const p of pending) if (first === undefined || p.firstSentAt < first) first = p.firstSentAt;
    return first === undefined ? undefined : now() - first;
  }

  /** `promise`, or a {@link TxManagerClosedError} as soon as the manager is closed. */
  function unlessClosed<T>(promise: Promise<T>): Promise<T> {
    if (abort.signal.aborted) return Promise.reject(new TxManagerClosedError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new TxManagerClosedError());
      abort.signal.addEventListener("abort", onAbort, { once: true });
      promise.then(resolve, reject).finally(() => abort.signal.removeEventListener("abort", onAbort));
    });
  }

  const sleep = (ms: number) => unlessClosed(new Promise<void>((r) => setTimeout(r, ms).unref?.()));

  function inSendOrder<T>(fn: () => Promise<T>): Promise<T> {
    const run = sendQueue.then(fn, fn);
    sendQueue = run.catch(() => undefined);
    return run;
  }

  async function me(): Promise<string> {
    address ??= await signer.getAddress();
    return address;
  }

  /** The next nonce from the node: `latest`, so that our own transactions still pending are replaced in order. */
  async function syncNonce(): Promise<number> {
    const from = await me();
    const [latest, inPool] = await Promise.all([
      rpc.call("eth_getTransactionCount", () => provider.getTransactionCount(from, "latest")),
      rpc.call("eth_getTransactionCount", () => provider.getTransactionCount(from, "pending")),
    ]);
    metrics.nonceResyncs.inc();
    // Nonces this manager is still watching stay reserved; whatever else sits in the pool from this key (a
    // restart's leftovers, another process) is replaced from `latest` on, filling any gap.
    let next = latest;
    const watched = new Set([...pending].map((p) => p.nonce));
    while (watched.has(next)) next++;
    if (inPool > latest) {
      log.warn(
        { latest, pending: inPool, next },
        "transactions of this key are pending in the node's pool: replacing them from the latest nonce",
      );
    }
    return next;
  }

  async function readBalance(): Promise<bigint> {
    const balance = await rpc.call("eth_getBalance", async () => provider.getBalance(await me()));
    metrics.signerBalanceWei.set(Number(balance));
    return balance;
  }

  async function fundsError(cause: unknown, needed: bigint | undefined): Promise<OutOfFundsError> {
    const balance = await readBalance().catch(() => 0n);
    const error = new OutOfFundsError(await me(), balance, needed, { cause });
    if (!outOfFunds) log.error({ address: error.address, balance: balance.toString() }, error.message);
    outOfFunds = true;
    metrics.outOfFunds.set(1);
    return error;
  }

  function fundsOk(): void {
    if (outOfFunds) log.info({ address }, "the signer can pay for gas again: submission resumed");
    outOfFunds = false;
    metrics.outOfFunds.set(0);
  }

  /** Signs and hands one version to the node; returns its hash (a local key knows it before the node answers). */
  async function broadcast(p: Pick<Pending, "request" | "nonce" | "fees">, record?: Pending): Promise<{ hash: string; raw?: string }> {
    chainId ??= (await rpc.call("eth_chainId", () => provider.getNetwork())).chainId;
    const fees =
      p.fees.type === 2
        ? { type: 2, maxFeePerGas: p.fees.maxFeePerGas, maxPriorityFeePerGas: p.fees.maxPriorityFeePerGas }
        : { type: 0, gasPrice: p.fees.gasPrice };
    const tx = { ...p.request, from: await me(), nonce: p.nonce, chainId, value: 0n, ...fees };
    if (signer instanceof BaseWallet) {
      const raw = await signer.signTransaction(tx);
      const hash = Transaction.from(raw).hash!;
      record?.hashes.add(hash); // the node may have it even if its answer gets lost
      try {
        await rpc.call("eth_sendRawTransaction", () => provider.broadcastTransaction(raw), { retries: 0 });
      } catch (error) {
        if (!isAlreadyKnownError(error)) throw error;
      }
      return { hash, raw };
    }
    // A signer without a local key (a node's account, a remote signer): the node signs; the same fields give the
    // same transaction, so sending again is a re-broadcast.
    try {
      const sent = await rpc.call("eth_sendTransaction", () => signer.sendTransaction(tx), { retries: 0 });
      record?.hashes.add(sent.hash);
      return { hash: sent.hash };
    } catch (error) {
      if (isAlreadyKnownError(error) && record) return record.latest;
      throw error;
    }
  }

  /**
   * First send of a request: a fresh nonce, current fees. Send errors are read by meaning and retried with what
   * they call for (a re-read nonce, higher fees); no gas money throws {@link OutOfFundsError}.
   */
  function firstSend(request: TxRequest): Promise<Pending> {
    return inSendOrder(async () => {
      let fees = await estimateFees({ provider, rpc }, maxFeeWei);
      if (outOfFunds) {
        // Paused: send only once the balance covers the transaction.
        const needed = maxCost(fees, request.gasLimit);
        if ((await readBalance()) < needed) throw await fundsError(undefined, needed);
      }
      let lastError: unknown;
      for (let attempt = 0; attempt < MAX_SEND_ATTEMPTS; attempt++) {
        if (abort.signal.aborted) throw new TxManagerClosedError();
        nonce ??= await syncNonce();
        const mine = nonce;
        const record: Pending = {
          request,
          nonce: mine,
          fees,
          hashes: new Set(),
          latest: { hash: "" },
          firstSentAt: now(),
          lastSentAt: now(),
        };
        try {
          record.latest = await broadcast(record, record);
          nonce = mine + 1;
          fundsOk();
          pending.add(record);
          updateGauges();
          return record;
        } catch (error) {
          lastError = error;
          nonce = undefined; // a failed send may or may not have used the nonce: ask the node again
          const kind = classifyRpcError(error);
          if (kind === "funds") throw await fundsError(error, maxCost(fees, request.gasLimit));
          if (kind === "nonce") {
            log.warn({ nonce: mine, err: shortMessage(error) }, "nonce taken: re-reading it from the node");
            continue;
          }
          if (kind === "underpriced") {
            // Too low for the pool or the base fee, or another transaction of this key holds the nonce.
            const bumped = bumpFees(fees, await estimateFees({ provider, rpc }, maxFeeWei), config.txFeeBumpPercent, maxFeeWei);
            if (bumped.capped) {
              throw new TriadError(
                `the node refuses the verdict transaction's fees and ORACLE_TX_MAX_FEE_GWEI (${config.txMaxFeeGwei} gwei) allows no higher: ${shortMessage(error)}`,
                "TX_FEE_CAP",
                { nonce: mine, maxFeeGwei: config.txMaxFeeGwei },
                { cause: error },
              );
            }
            log.warn({ nonce: mine, err: shortMessage(error) }, "fees too low: raising them");
            fees = bumped.fees;
            continue;
          }
          if (record.hashes.size > 0 && (kind === "transient" || kind === "timeout")) {
            // The node may have it: watch it (it is sent again after txReplaceAfterMs if the node does not know it).
            nonce = mine + 1;
            record.latest = { hash: [...record.hashes][record.hashes.size - 1] };
            pending.add(record);
            updateGauges();
            log.warn(
              { nonce: mine, hash: record.latest.hash, err: shortMessage(error) },
              "send failed in transit: watching the transaction",
            );
            return record;
          }
          throw error;
        }
      }
      throw lastError;
    });
  }

  /** The receipt of any version of `p`, if one is mined. */
  async function findReceipt(p: Pending): Promise<TransactionReceipt | null> {
    const receipts = await Promise.all(
      [...p.hashes].map((hash) => rpc.call("eth_getTransactionReceipt", () => provider.getTransactionReceipt(hash))),
    );
    return receipts.find((r) => r !== null) ?? null;
  }

  /** After `txReplaceAfterMs` without a receipt: replace with bumped fees, re-broadcast, or move to a free nonce. */
  async function unstick(p: Pending): Promise<void> {
    const from = await me();
    const latest = await rpc.call("eth_getTransactionCount", () => provider.getTransactionCount(from, "latest"));
    if (latest > p.nonce) {
      // The nonce is used. By one of our versions (its receipt shows up on the next poll) or by another transaction
      // of this key: then the request was never mined, and it goes out again under a new nonce.
      if (await findReceipt(p)) return;
      log.warn(
        { nonce: p.nonce, hashes: [...p.hashes] },
        "the nonce was used by another transaction of this key: sending again with a new nonce",
      );
      await inSendOrder(async () => {
        nonce = undefined;
        nonce = await syncNonce();
        p.nonce = nonce;
        p.hashes.clear();
        p.latest = await broadcast(p, p);
        nonce = p.nonce + 1;
      });
      p.lastSentAt = now();
      return;
    }
    const lower = [...pending].some((q) => q !== p && q.nonce < p.nonce);
    if (latest < p.nonce && !lower) {
      // A gap below it (a reset chain, a lost transaction): nothing can mine it. It moves down to the free nonce.
      log.warn({ nonce: p.nonce, latest }, "nonce gap below a pending transaction: sending it again at the node's nonce");
      metrics.nonceResyncs.inc();
      await inSendOrder(async () => {
        p.nonce = latest;
        p.hashes.clear();
        p.latest = await broadcast(p, p);
        nonce = undefined;
      });
      p.lastSentAt = now();
      return;
    }
    const known = await Promise.all([...p.hashes].map((hash) => rpc.call("eth_getTransactionByHash", () => provider.getTransaction(hash))));
    if (!known.some((t) => t !== null)) {
      // Dropped from the node's pool: the same transaction again (if its price is still good it is mined).
      log.warn({ nonce: p.nonce, hash: p.latest.hash }, "verdict transaction dropped by the node: re-broadcasting it");
      await resend(p);
      metrics.txRebroadcasts.inc();
      p.lastSentAt = now();
      return;
    }
    const bumped = bumpFees(p.fees, await estimateFees({ provider, rpc }, maxFeeWei), config.txFeeBumpPercent, maxFeeWei);
    p.capped = bumped.capped;
    updateGauges();
    if (bumped.capped) {
      log.error(
        { nonce: p.nonce, hash: p.latest.hash, maxFeeGwei: config.txMaxFeeGwei },
        "verdict transaction unmined and its fees are at ORACLE_TX_MAX_FEE_GWEI: re-broadcasting it unchanged",
      );
      await resend(p);
      metrics.txRebroadcasts.inc();
    } else {
      const previous = p.fees;
      p.fees = bumped.fees;
      try {
        p.latest = await broadcast(p, p);
        metrics.txReplacements.inc();
        log.warn(
          { nonce: p.nonce, hash: p.latest.hash, fees: describe(bumped.fees) },
          "verdict transaction unmined: replaced with higher fees",
        );
      } catch (error) {
        p.fees = previous;
        throw error;
      }
    }
    p.lastSentAt = now();
  }

  /** The latest version again, exactly (a local key's signed bytes; else the same fields). */
  async function resend(p: Pending): Promise<void> {
    if (p.latest.raw) {
      try {
        await rpc.call("eth_sendRawTransaction", () => provider.broadcastTransaction(p.latest.raw!), { retries: 0 });
      } catch (error) {
        if (!isAlreadyKnownError(error)) throw error;
      }
      return;
    }
    p.latest = await broadcast(p, p);
  }

  /** Polls until a version of `p` is mined, unsticking it when due; send errors there are logged, not fatal. */
  async function watch(p: Pending): Promise<TransactionReceipt> {
    try {
      for (;;) {
        updateGauges();
        const receipt = await unlessClosed(findReceipt(p).catch(() => null));
        if (receipt) return receipt;
        if (now() - p.lastSentAt >= config.txReplaceAfterMs) {
          try {
            await unlessClosed(unstick(p));
          } catch (error) {
            if (error instanceof TxManagerClosedError) throw error;
            const kind = classifyRpcError(error);
            if (kind === "funds") {
              // A replacement costs more than the balance: the version already sent stays valid.
              await fundsError(error, maxCost(p.fees, p.request.gasLimit));
            } else {
              log.warn(
                { nonce: p.nonce, err: shortMessage(error), kind },
                "could not replace or re-broadcast the transaction: retrying later",
              );
            }
            if (kind === "nonce") nonce = undefined;
            p.lastSentAt = now();
          }
        }
        await sleep(receiptPollMs);
      }
    } finally {
      pending.delete(p);
      updateGauges();
    }
  }

  return {
    async send(request) {
      const p = await unlessClosed(firstSend(request));
      const receipt = await watch(p);
      // Keeps signer_balance_wei current for low-balance alerts (not awaited: the receipt is what the caller needs).
      readBalance().catch(() => undefined);
      return receipt;
    },
    pendingCount: () => pending.size,
    oldestPendingAgeMs,
    outOfFunds: () => outOfFunds,
    resync() {
      nonce = undefined;
    },
    async close() {
      abort.abort();
    },
  };
}

function describe(fees: Fees): Record<string, string> {
  return fees.type === 2
    ? { maxFeePerGas: fees.maxFeePerGas.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString() }
    : { gasPrice: fees.gasPrice.toString() };
}
