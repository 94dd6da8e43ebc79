/**
 * Stage 3 of a tick: from a claim to the verdict this member would sign.
 *  - {@link checkClaimEvidence}: download the evidence (bounded concurrency, a deadline per claim), check it (on the
 *    verifier's worker threads) against the claim, its policy, its device and the model's window, then its anchors
 *    against the chain (the lookups' reads, once per distinct anchor). Bad evidence is a result, never an exception.
 *  - {@link decideBatch}: score a batch's valid evidence in one inference and build every verdict, with its
 *    on-chain reason code (the model's, or the evidence failure's: ../verdicts.ts); invalid evidence gets a rejection
 *    verdict, and a model failure that is not the evidence's fault an abstention (no verdict rather than a wrong one).
 */
import type { Logger } from "pino";
import { EvidenceError, type EvidenceFailureReason, type Verdict } from "@triad/sdk";
import { checkAnchoring, DEVICE_ACTIVE, modelWindow, scoreEvidence, type AnchorReader, type EvidenceCheck } from "../assess.ts";
import { fetchEvidence, ownEndpoints, type EvidenceIpfs } from "../evidence.ts";
import { verdictOf } from "../verdicts.ts";
import type { EvidenceVerifier } from "../verifier.ts";
import type { Limiter } from "../util/concurrency.ts";
import type { DaemonDeps } from "./context.ts";
import type { CheckableClaim } from "./lookups.ts";

/** A claim and the result of checking its evidence. */
export interface CheckedClaim {
  claim: CheckableClaim;
  check: EvidenceCheck;
}

/** What this member concludes for one claim. */
export type Decision =
  /** A verdict to sign: the model's, or a rejection for invalid evidence (`rejection` says why). */
  | {
      kind: "verdict";
      claim: CheckableClaim;
      verdict: Verdict;
      digest: string;
      rejection?: { reason: EvidenceFailureReason; message: string };
    }
  /** The model failed on this claim for a reason that is not the evidence's fault: no verdict. */
  | { kind: "abstain"; claim: CheckableClaim; message: string };

/**
 * Downloads (in one of `downloadSlots`) and checks one claim's evidence. The download has the claim's own deadline
 * (`config.evidence.deadlineMs`, all attempts and backoff; it starts when the claim gets its slot), so a slow URI
 * delays only its own claim: the tick batches claims in the order their checks complete. `session.signal` (the
 * daemon stopping) cancels the download with an error, never a rejection verdict.
 */
export async function checkClaimEvidence(
  deps: Pick<DaemonDeps, "config" | "addresses" | "fetch" | "model" | "metrics"> & { ipfs?: EvidenceIpfs },
  session: { chainId: bigint; verifier: EvidenceVerifier; log: Logger; lookups: AnchorReader; signal?: AbortSignal },
  claim: CheckableClaim,
  downloadSlots: Limiter,
): Promise<EvidenceCheck> {
  const { device } = claim.policy;
  if (claim.deviceStatus !== DEVICE_ACTIVE) {
    // No need to fetch: the claim fails whatever the evidence says.
    const message = `the insured device ${device} is not Active in the registry (status ${claim.deviceStatus})`;
    return { ok: false, evidenceHash: claim.evidenceHash, reason: "DEVICE_NOT_ACTIVE", message };
  }
  let bytes: Uint8Array;
  try {
    bytes = await downloadSlots(async () => {
      const started = performance.now();
      let outcome = "failed";
      try {
        const rules = { ...deps.config.evidence, denied: [...(deps.config.evidence.denied ?? []), ...ownEndpoints(deps.config)] };
        const fetched = await fetchEvidence(claim.evidenceURI, rules, {
          fetch: deps.fetch,
          ipfs: deps.ipfs,
          signal: session.signal,
          onRetry: (attempt, error) =>
            session.log.warn(
              { claimId: claim.claimId.toString(), attempt, reason: error.reason, err: error.message },
              "evidence fetch failed, retrying",
            ),
        });
        outcome = "ok";
        return fetched;
      } finally {
        if (!session.signal?.aborted) deps.metrics.evidenceFetchSeconds.observe({ outcome }, (performance.now() - started) / 1000);
      }
    });
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    return { ok: false, evidenceHash: claim.evidenceHash, reason: error.reason, message: error.message };
  }
  const check = await session.verifier.check(bytes, {
    chainId: session.chainId,
    registry: deps.addresses.registry,
    claim: { evidenceHash: claim.evidenceHash, incidentAt: claim.incidentAt },
    policy: { device, start: claim.policy.start, end: claim.policy.end },
    deviceStatus: DEVICE_ACTIVE,
    window: modelWindow(deps.model),
  });
  // The anchors' facts on-chain, one read per distinct anchor (cached by the lookups across the tick's claims).
  return checkAnchoring(check, session.lookups, { productId: claim.policy.productId, filedAt: claim.filedAt });
}

/**
 * Scores the batch's valid evidence in one inference and decides every claim of the batch, in order. `digestOf` is
 * the EIP-712 digest of a verdict in the claims contract's domain.
 */
export async function decideBatch(
  deps: Pick<DaemonDeps, "model" | "metrics">,
  log: Logger,
  batch: readonly CheckedClaim[],
  digestOf: (verdict: Verdict) => string,
): Promise<Decision[]> {
  const { model, metrics } = deps;
  const valid = batch.flatMap((c) => (c.check.ok ? [c.check.verified] : []));
  const scores = valid.length > 0 ? await timedInference(deps, () => scoreEvidence(model, valid)) : [];
  let next = 0;
  return batch.map(({ claim, check }): Decision => {
    const id = claim.claimId.toString();
    const reject = (reason: EvidenceFailureReason, message: string): Decision => {
      metrics.evidenceFailures.inc({ reason });
      const verdict = verdictOf(claim, model.modelHash, { failure: reason });
      log.warn(
        { claimId: id, reason, reasonCode: verdict.reason, err: message, uri: claim.evidenceURI },
        "evidence invalid: rejecting claim",
      );
      return { kind: "verdict", claim, verdict, digest: digestOf(verdict), rejection: { reason, message } };
    };
    if (!check.ok) return reject(check.reason, check.message);
    const score = scores[next++];
    if (!score.ok) {
      if (score.reason === "MODEL_ERROR") {
        log.error({ claimId: id, err: score.message }, "model failed: abstaining on this claim");
        return { kind: "abstain", claim, message: score.message };
      }
      return reject(score.reason, score.message);
    }
    const a = score.assessment;
    const verdict = verdictOf(claim, model.modelHash, { assessment: a });
    log.info(
      { claimId: id, approved: a.approved, reasonCode: verdict.reason, scoreBps: a.scoreBps, readingsInWindow: a.readingsInWindow },
      "claim assessed",
    );
    return { kind: "verdict", claim, verdict, digest: digestOf(verdict) };
  });
}

async function timedInference<T extends unknown[]>(deps: Pick<DaemonDeps, "metrics">, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await run();
  deps.metrics.inferenceSeconds.observe((performance.now() - started) / 1000);
  deps.metrics.inferredClaims.inc(result.length);
  return result;
}
