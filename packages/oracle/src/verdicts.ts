/**
 * The verdict a member signs for a claim, from what the checks concluded (docs/protocol.md §10.4, §11.3): the model's
 * assessment (approved, or rejected with the model's reason code) or the first evidence failure (rejected, score 0,
 * with that failure's reason code). One definition for the daemon (daemon/decide.ts) and for `oracle assess` /
 * `oracle audit` (actions.ts), so they sign and recompute the same digest.
 */
import {
  buildRejectionVerdict,
  buildVerdict,
  reasonCodeOfEvidenceFailure,
  type EvidenceFailureReason,
  type Verdict,
  type VerdictClaim,
} from "@triad/sdk";
import type { ClaimAssessment } from "./model/assessment.ts";

/**
 * The verdict for `claim`: from the model's `assessment` (its `reasonCode`: 0 APPROVED, NO_FAILURE_DETECTED or
 * NO_READINGS_IN_WINDOW), or the rejection for the evidence `failure` (`reasonCodeOfEvidenceFailure`).
 */
export function verdictOf(
  claim: VerdictClaim,
  modelHash: string,
  conclusion: { assessment: ClaimAssessment } | { failure: EvidenceFailureReason },
): Verdict {
  if ("failure" in conclusion) return buildRejectionVerdict(claim, modelHash, reasonCodeOfEvidenceFailure(conclusion.failure));
  const { approved, scoreBps, reasonCode } = conclusion.assessment;
  return buildVerdict(claim, { approved, scoreBps, reasonCode }, modelHash);
}
