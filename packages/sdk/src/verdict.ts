import { TypedDataEncoder, concat, isHexString, keccak256, type TypedDataDomain } from "ethers";
import { claimReason } from "./claim-reasons.ts";
import { VERDICT_TYPES, type Verdict } from "./eip712.ts";
import { InvalidInputError } from "./errors.ts";

/** The fields of an on-chain claim a verdict is built from (`getClaim` or the `ClaimFiled` event). */
export interface VerdictClaim {
  claimId: bigint;
  amount: bigint;
  evidenceHash: string;
  /** The claim's assessment deadline as stored on-chain: the Verdict's `deadline`. */
  assessmentDeadline: bigint;
}

/**
 * What the model decided; `scoreBps` is the score rounded down to whole basis points, `reasonCode` the reason code of
 * `CLAIM_REASONS` (claim-reasons.ts): 0 (APPROVED) for an approval, else why the claim is rejected.
 */
export interface VerdictAssessment {
  approved: boolean;
  scoreBps: number;
  reasonCode: number;
}

/** A model score in [0, 1] as whole basis points, rounded down (docs/protocol.md §10.4); out-of-range scores are clamped. */
export function scoreToBps(score: number): number {
  if (Number.isNaN(score)) throw new InvalidInputError("model score is NaN");
  return Math.min(10_000, Math.max(0, Math.floor(score * 10_000)));
}

/**
 * The Verdict every honest committee member signs for `claim` (docs/protocol.md §10.4; IClaimsInsurance, payout rule):
 * `payout = approved ? claim.amount : 0`, `reason = reasonCode`, `deadline = claim.assessmentDeadline`. A pure
 * function of its inputs, so members running the same model on the same evidence produce the same EIP-712 digest.
 * Throws InvalidInputError unless `reasonCode` is 0 exactly for an approval (the contract refuses other verdicts).
 */
export function buildVerdict(claim: VerdictClaim, assessment: VerdictAssessment, modelHash: string): Verdict {
  if (!Number.isInteger(assessment.scoreBps) || assessment.scoreBps < 0 || assessment.scoreBps > 10_000) {
    throw new InvalidInputError(`scoreBps must be an integer in [0, 10000], got ${assessment.scoreBps}`, { scoreBps: assessment.scoreBps });
  }
  const { approved, reasonCode } = assessment;
  if (!Number.isInteger(reasonCode) || reasonCode < 0 || reasonCode > 255) {
    throw new InvalidInputError(`a reason code must be an integer in [0, 255], got ${reasonCode}`, { reasonCode: String(reasonCode) });
  }
  if (approved !== (reasonCode === 0)) {
    throw new InvalidInputError(
      approved
        ? `an approval carries reason code 0 (APPROVED), not ${reasonCode} (${claimReason(reasonCode).name})`
        : "a rejection needs a non-zero reason code saying why (0 means APPROVED)",
      { approved: String(approved), reasonCode: String(reasonCode) },
    );
  }
  for (const [name, value] of [
    ["modelHash", modelHash],
    ["evidenceHash", claim.evidenceHash],
  ] as const) {
    if (!isHexString(value, 32)) throw new InvalidInputError(`${name} must be 32 bytes of hex, got ${value}`, { [name]: value });
  }
  return {
    claimId: claim.claimId,
    evidenceHash: claim.evidenceHash.toLowerCase(),
    modelHash: modelHash.toLowerCase(),
    approved,
    payout: approved ? claim.amount : 0n,
    scoreBps: assessment.scoreBps,
    reason: reasonCode,
    deadline: claim.assessmentDeadline,
  };
}

/**
 * The verdict for a claim whose evidence is invalid (unreachable, wrong hash, bad signature, not anchored, …):
 * rejected, payout 0, score 0, made under the approved model (the contract only accepts verdicts bound to an approved
 * model hash), with the non-zero `reasonCode` of the first check that failed (`reasonCodeOfEvidenceFailure` for an evidence failure).
 */
export function buildRejectionVerdict(claim: VerdictClaim, modelHash: string, reasonCode: number): Verdict {
  return buildVerdict(claim, { approved: false, scoreBps: 0, reasonCode }, modelHash);
}

const verdictEncoder = TypedDataEncoder.from(VERDICT_TYPES);

/**
 * `verdictDigest` (sdk/signing) for many verdicts of one domain: the domain separator and the type encoder are
 * computed once, which makes a digest several times cheaper (the oracle digests every claim of a tick).
 */
export function verdictDigester(domain: TypedDataDomain): (verdict: Verdict) => string {
  const separator = TypedDataEncoder.hashDomain(domain);
  return (verdict) => keccak256(concat(["0x1901", separator, verdictEncoder.hash(verdict)]));
}
