/**
 * Stage 4 of a tick: sign and submit.
 *  - {@link signOnce}: a member never signs a second, different verdict for a claim, and does not sign the same one
 *    twice while its earlier signature still counts; the rest is signed (a local key signs the digest directly).
 *  - {@link createSubmitter}: sends a batch (submitVerdict for batch size 1, else submitVerdicts) with locally managed
 *    nonces and a fixed gas limit, and reads the receipt into one outcome per claim.
 */
import { BaseWallet, type TransactionRequest } from "ethers";
import type { Logger } from "pino";
import { TriadError, signDigest, signVerdict, type claimsDomain } from "@triad/sdk";
import { isPermanentRpcError, shortMessage } from "../chain.ts";
import { mapLimit } from "../util/concurrency.ts";
import type { DaemonDeps } from "./context.ts";
import type { Decision } from "./decide.ts";
import type { ClaimHistory, Skip } from "./lookups.ts";
import type { ClaimOutcome } from "./report.ts";

/** See {@link gasLimitFor}. */
export const GAS_BASE = 150_000n;
export const GAS_PER_VERDICT = 250_000n;

/** A verdict decision with this member's signature. */
export type SignedVerdict = Extract<Decision, { kind: "verdict" }> & { signature: string };

/** A verdict transaction, mined. */
export interface MinedTransaction {
  hash: string;
  blockNumber: number;
}

/** A submission's receipt read claim by claim, or the submission refused as a whole (it reverted). */
export type SubmitResult =
  { kind: "mined"; tx: MinedTransaction; outcomes: ClaimOutcome[] } | { kind: "refused"; outcomes: ClaimOutcome[] };

/**
 * Drops what this member already signed and signs the rest. The logs say which claims it signed (`history`);
 * `hasSigned` then tells whether that signature still counts (a membership change voids tallies: then the same
 * digest is signed again).
 */
export async function signOnce(
  deps: Pick<DaemonDeps, "rpc" | "contracts" | "signer" | "config">,
  session: { member: string; log: Logger },
  decisions: readonly Extract<Decision, { kind: "verdict" }>[],
  history: ClaimHistory,
  domain: ReturnType<typeof claimsDomain>,
): Promise<(SignedVerdict | Skip)[]> {
  const { rpc, contracts, signer } = deps;
  const sign = await mapLimit(decisions, deps.config.concurrency, async (d) => {
    const digests = history.signedByMe.get(d.claim.claimId.toString());
    if (!digests) return true;
    if (!digests.has(d.digest)) {
      session.log.warn(
        { claimId: d.claim.claimId.toString(), digest: d.digest },
        "this member signed another verdict for this claim before: not signing a second one",
      );
      return false;
    }
    return !(await rpc.call("hasSigned", () => contracts.claims.hasSigned(d.digest, session.member)));
  });
  // A local key signs the digest directly (what Wallet.signTypedData does after hashing it again, natively when
  // libsecp256k1 loads: the same signature, ~20x faster); any other signer (hardware, remote, Hardhat account) goes
  // through EIP-712 signTypedData.
  const key = signer instanceof BaseWallet ? signer.signingKey.privateKey : undefined;
  const out: (SignedVerdict | Skip)[] = [];
  for (const [i, d] of decisions.entries()) {
    if (!sign[i]) {
      out.push({ kind: "skip", claim: d.claim, reason: "already_signed", detail: { digest: d.digest } });
      continue;
    }
    const signature = key ? signDigest(key, d.digest) : await signVerdict(signer, domain, d.verdict);
    out.push({ ...d, signature });
  }
  return out;
}

export interface Submitter {
  /** Submits one batch and waits for its receipt. Throws on anything but a refusal (the tick then fails). */
  submit(batch: readonly SignedVerdict[]): Promise<SubmitResult>;
  /** A sent transaction vanished (reorg): its nonce is free again, so the next send asks the node. */
  forgetNonce(): void;
}

/** `blockGasLimit`: the chain's, if known (a submission's gas limit is capped at 90 % of it). */
export function createSubmitter(
  deps: Pick<DaemonDeps, "config" | "contracts" | "signer" | "rpc" | "metrics" | "addresses">,
  options: { log: Logger; blockGasLimit?: bigint },
): Submitter {
  const { config, contracts, signer, rpc, metrics } = deps;
  const { log } = options;
  const claimsWrite = contracts.claims.connect(signer);
  const blockGasCap = options.blockGasLimit === undefined ? undefined : (options.blockGasLimit * 9n) / 10n;
  if (blockGasCap !== undefined && GAS_BASE + GAS_PER_VERDICT * BigInt(config.batchSize) > blockGasCap) {
    log.warn(
      { batchSize: config.batchSize, blockGasLimit: options.blockGasLimit!.toString() },
      "ORACLE_BATCH_SIZE is large for this chain's block gas limit: batches are capped at 90 % of it",
    );
  }
  let nonce: number | undefined;
  let sendQueue: Promise<unknown> = Promise.resolve();

  const claimsAddress = deps.addresses.claims.toLowerCase();
  const FINALISED_TOPIC = contracts.claims.interface.getEvent("VerdictFinalised").topicHash;
  const SKIPPED_TOPIC = contracts.claims.interface.getEvent("VerdictSkipped").topicHash;

  /**
   * Gas limit of a submission of `n` verdicts. eth_estimateGas is skipped on purpose: for a batch it runs a binary
   * search of full executions (about 1.5 s for 50 verdicts on Hardhat, the largest cost of a tick), and a
   * submission can only revert on a refused single verdict, which the receipt reports anyway. The per-verdict
   * figure is over twice the most expensive verdict measured (an approval paid out at once, see
   * packages/oracle/README.md); only gas used is paid. Capped at 90 % of the block gas limit.
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

  /**
   * Nonces are managed here rather than per send: transactions are handed to the node one at a time in nonce order
   * (a node may refuse a nonce gap — Hardhat's automine does) and their receipts are awaited concurrently. After any
   * failed send the next nonce is re-read from the node.
   */
  async function sendAndWait(request: TransactionRequest, verdicts: number) {
    const gasLimit = gasLimitFor(verdicts);
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

  /** One outcome per claim of a mined batch: VerdictSkipped entries are refused, the others counted. */
  function readReceipt(
    batch: readonly SignedVerdict[],
    receipt: { hash: string; logs: readonly { address: string; topics: readonly string[]; data: string }[] },
  ): ClaimOutcome[] {
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
    return batch.map(({ claim, verdict, rejection }): ClaimOutcome => {
      const id = claim.claimId.toString();
      if (skippedIds.has(id)) return { claimId: claim.claimId, outcome: "refused", reason: "verdict_skipped", txHash: receipt.hash };
      const mined = {
        claimId: claim.claimId,
        reasonCode: verdict.reason,
        scoreBps: verdict.scoreBps,
        payout: verdict.payout,
        txHash: receipt.hash,
        finalised: finalised.has(id),
      };
      return verdict.approved
        ? { ...mined, outcome: "approved" }
        : { ...mined, outcome: "rejected", ...(rejection && { reason: rejection.reason }) };
    });
  }

  return {
    forgetNonce() {
      nonce = undefined;
    },
    async submit(batch) {
      const started = performance.now();
      try {
        const request =
          config.batchSize === 1
            ? await claimsWrite.submitVerdict.populateTransaction(batch[0].verdict, [batch[0].signature])
            : await claimsWrite.submitVerdicts.populateTransaction(
                batch.map((s) => s.verdict),
                batch.map((s) => [s.signature]),
              );
        const receipt = await sendAndWait(request, batch.length);
        metrics.submissionSeconds.observe((performance.now() - started) / 1000);
        return { kind: "mined", tx: { hash: receipt.hash, blockNumber: receipt.blockNumber }, outcomes: readReceipt(batch, receipt) };
      } catch (error) {
        if (!isPermanentRpcError(error)) throw error;
        // A reverted submission (receipt status 0, or refused at send): the claim was decided meanwhile or the
        // verdict is refused. Refusals are final for this digest, so the tick moves on (logged and counted).
        const message = shortMessage(error);
        return {
          kind: "refused",
          outcomes: batch.map(({ claim }) => ({ claimId: claim.claimId, outcome: "refused", reason: "reverted", message })),
        };
      }
    },
  };
}
