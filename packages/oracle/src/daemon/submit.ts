/**
 * Stage 4 of a tick: sign and submit.
 *  - {@link signOnce}: a member never signs a second, different verdict for a claim, and does not sign the same one
 *    twice while its earlier signature still counts; the rest is signed (a local key signs the digest directly).
 *  - {@link createSubmitter}: drops the claims decided meanwhile, sends the rest as one transaction (submitVerdict
 *    for batch size 1, else submitVerdicts) through the transaction manager (../tx/manager.ts: local nonces, fees
 *    from the fee history, replacement and re-broadcast until mined) with a fixed gas limit, and reads the receipt
 *    into one outcome per claim.
 */
import { BaseWallet } from "ethers";
import type { Logger } from "pino";
import { signDigest, signVerdict, type claimsDomain } from "@triad/sdk";
import { isPermanentRpcError, shortMessage } from "../chain.ts";
import { createTxManager, OutOfFundsError, TxManagerClosedError } from "../tx/manager.ts";
import { mapLimit } from "../util/concurrency.ts";
import type { DaemonDeps } from "./context.ts";
import type { Decision } from "./decide.ts";
import type { ClaimHistory, Skip } from "./lookups.ts";
import type { ClaimOutcome } from "./report.ts";

export { OutOfFundsError, TxManagerClosedError } from "../tx/manager.ts";

/** `ClaimStatus.Filed`: the only status in which a verdict counts. */
const CLAIM_FILED = 1;

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

/**
 * A submission's receipt read claim by claim, the submission refused as a whole (it reverted), or nothing sent
 * because every claim of the batch was decided meanwhile (all `late`).
 */
export type SubmitResult =
  | { kind: "mined"; tx: MinedTransaction; outcomes: ClaimOutcome[] }
  | { kind: "refused"; outcomes: ClaimOutcome[] }
  | { kind: "unsent"; outcomes: ClaimOutcome[] };

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
  /**
   * Submits one batch and waits until a version of its transaction is mined (replacing or re-broadcasting it when it
   * stalls, see ../tx/manager.ts). Claims decided on-chain meanwhile are dropped just before sending (outcome
   * `late`). Throws {@link OutOfFundsError} when the signer cannot pay for gas, {@link TxManagerClosedError} after
   * `close()`, and anything else but a refusal (the tick then fails and its range is scanned again).
   */
  submit(batch: readonly SignedVerdict[]): Promise<SubmitResult>;
  /** Verdict transactions sent and not yet mined. */
  pendingCount(): number;
  /** Age of the oldest of them (undefined: none pending). */
  oldestPendingAgeMs(): number | undefined;
  /** Whether submission is paused because the signer cannot pay for gas. */
  outOfFunds(): boolean;
  /** The next send re-reads the nonce from the node (after a reorg, a reset, a restart). */
  resync(): void;
  /** @deprecated the same as {@link Submitter.resync}. */
  forgetNonce(): void;
  /** Ends every wait at once: pending submissions reject with {@link TxManagerClosedError}. */
  close(): Promise<void>;
}

/** `blockGasLimit`: the chain's, if known (a submission's gas limit is capped at 90 % of it). */
export function createSubmitter(
  deps: Pick<DaemonDeps, "config" | "contracts" | "signer" | "rpc" | "metrics" | "addresses" | "provider">,
  options: { log: Logger; blockGasLimit?: bigint; chainId?: bigint },
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
  const transactions = createTxManager({
    provider: deps.provider,
    signer,
    rpc,
    metrics,
    log,
    config,
    chainId: options.chainId,
  });

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

  /**
   * The claims of `batch` decided on-chain since they were looked up (another member's transaction got there
   * first): one getClaim per claim, in parallel. Sending their verdicts would only pay for skipped entries.
   */
  async function decidedMeanwhile(batch: readonly SignedVerdict[]): Promise<Set<string>> {
    const claims = await mapLimit(batch, config.concurrency, (s) => rpc.call("getClaim", () => contracts.claims.getClaim(s.claim.claimId)));
    return new Set(batch.filter((_, i) => Number(claims[i].status) !== CLAIM_FILED).map((s) => s.claim.claimId.toString()));
  }

  /** Whether a VerdictSkipped entry's revert data says the claim was decided already (rather than a refusal). */
  function decidedAlready(reason: string): boolean {
    try {
      return contracts.claims.interface.parseError(reason)?.name === "ClaimsUnexpectedStatus";
    } catch {
      return false;
    }
  }

  /** One outcome per claim of a mined batch: VerdictSkipped entries are late or refused, the others counted. */
  function readReceipt(
    batch: readonly SignedVerdict[],
    receipt: { hash: string; logs: readonly { address: string; topics: readonly string[]; data: string }[] },
  ): ClaimOutcome[] {
    const skipped = new Map<string, string>();
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
      const reason: string = contracts.claims.interface.parseLog(entry)?.args.reason ?? "0x";
      skipped.set(claimId, reason);
      // Empty revert data in a batch entry is what running out of gas looks like.
      if (reason === "0x") log.error({ claimId }, "batch entry reverted without data: out of gas? (see GAS_PER_VERDICT)");
    }
    return batch.map(({ claim, verdict, rejection }): ClaimOutcome => {
      const id = claim.claimId.toString();
      const reason = skipped.get(id);
      if (reason !== undefined) {
        return decidedAlready(reason)
          ? { claimId: claim.claimId, outcome: "late", txHash: receipt.hash }
          : { claimId: claim.claimId, outcome: "refused", reason: "verdict_skipped", txHash: receipt.hash };
      }
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

  /** The outcomes of `batch` in its order: the late claims' and the sent ones'. */
  function merge(batch: readonly SignedVerdict[], late: Set<string>, sent: ClaimOutcome[]): ClaimOutcome[] {
    const byId = new Map(sent.map((o) => [o.claimId.toString(), o]));
    return batch.map(({ claim }) => byId.get(claim.claimId.toString()) ?? { claimId: claim.claimId, outcome: "late" });
  }

  return {
    pendingCount: () => transactions.pendingCount(),
    oldestPendingAgeMs: () => transactions.oldestPendingAgeMs(),
    outOfFunds: () => transactions.outOfFunds(),
    resync: () => transactions.resync(),
    forgetNonce: () => transactions.resync(),
    close: () => transactions.close(),
    async submit(batch) {
      const late = await decidedMeanwhile(batch);
      const open = batch.filter((s) => !late.has(s.claim.claimId.toString()));
      if (open.length === 0) return { kind: "unsent", outcomes: merge(batch, late, []) };
      const started = performance.now();
      try {
        const request =
          config.batchSize === 1
            ? await claimsWrite.submitVerdict.populateTransaction(open[0].verdict, [open[0].signature])
            : await claimsWrite.submitVerdicts.populateTransaction(
                open.map((s) => s.verdict),
                open.map((s) => [s.signature]),
              );
        const receipt = await transactions.send({ to: request.to, data: request.data, gasLimit: gasLimitFor(open.length) });
        metrics.submissionSeconds.observe((performance.now() - started) / 1000);
        if (receipt.status === 0) {
          const message = "the verdict transaction reverted";
          return {
            kind: "refused",
            outcomes: merge(
              batch,
              late,
              open.map(({ claim }) => ({ claimId: claim.claimId, outcome: "refused", reason: "reverted", txHash: receipt.hash, message })),
            ),
          };
        }
        return {
          kind: "mined",
          tx: { hash: receipt.hash, blockNumber: receipt.blockNumber },
          outcomes: merge(batch, late, readReceipt(open, receipt)),
        };
      } catch (error) {
        if (error instanceof OutOfFundsError || error instanceof TxManagerClosedError || !isPermanentRpcError(error)) throw error;
        // Refused when sent (a node that executes on send, e.g. an automining one): the claim was decided meanwhile or
        // the verdict is refused. Refusals are final for this digest, so the tick moves on (logged and counted).
        const message = shortMessage(error);
        return {
          kind: "refused",
          outcomes: merge(
            batch,
            late,
            open.map(({ claim }) => ({ claimId: claim.claimId, outcome: "refused", reason: "reverted", message })),
          ),
        };
      }
    },
  };
}
