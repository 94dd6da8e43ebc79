/**
 * Why a claim was decided the way it was: the reason code a verdict carries on-chain (the `reason` field of the
 * EIP-712 `Verdict`, docs/protocol.md). Code 0 is the only code of an approval; every rejection carries the code of
 * the first check that failed, in the order of this table. Codes are part of the protocol: never renumber one,
 * only append.
 *
 * Each evidence failure the SDK and the oracle know ({@link EvidenceFailureReason}) maps to exactly one code
 * ({@link reasonCodeOfEvidenceFailure}).
 */
import type { EvidenceFailureReason } from "./evidence.ts";

export const CLAIM_REASONS = [
  { code: 0, name: "APPROVED", sentence: "the model found a failure in the anchored telemetry around the incident" },
  { code: 1, name: "NO_FAILURE_DETECTED", sentence: "the model found no failure in the telemetry around the incident" },
  { code: 2, name: "NO_READINGS_IN_WINDOW", sentence: "the evidence holds no reading the model can use around the incident" },
  {
    code: 3,
    name: "EVIDENCE_UNAVAILABLE",
    sentence: "the evidence could not be fetched from its URI (not allowed, unreachable, too slow or too large)",
  },
  { code: 4, name: "HASH_MISMATCH", sentence: "the evidence fetched does not hash to the evidence hash of the claim" },
  { code: 5, name: "MALFORMED_EVIDENCE", sentence: "the evidence is not a well-formed evidence bundle" },
  {
    code: 6,
    name: "WRONG_DEVICE_OR_DEPLOYMENT",
    sentence: "the evidence is for another device, sensor schema, incident time or deployment",
  },
  { code: 7, name: "BAD_SIGNATURE", sentence: "a reading is not signed by the insured device" },
  { code: 8, name: "SEQ_NOT_INCREASING", sentence: "the readings' sequence numbers do not strictly increase" },
  { code: 9, name: "OUTSIDE_POLICY_PERIOD", sentence: "a reading lies outside the policy period" },
  { code: 10, name: "DEVICE_NOT_ACTIVE", sentence: "the insured device was not Active in the registry at the incident" },
  { code: 11, name: "NOT_ANCHORED", sentence: "a reading is not covered by an on-chain anchor" },
  { code: 12, name: "GATEWAY_NOT_AUTHORISED", sentence: "a reading was anchored by a gateway the device's owner had not authorised" },
  { code: 13, name: "GATEWAY_NOT_ACCEPTED", sentence: "a reading was anchored by a gateway the product does not accept" },
  { code: 14, name: "ANCHORED_LATE", sentence: "a reading was anchored too long after its timestamp, or after the claim was filed" },
  { code: 15, name: "INCOMPLETE_WINDOW", sentence: "readings are missing from the claim's window (a gap in the sequence)" },
  {
    code: 16,
    name: "IMPLAUSIBLE_TIMESTAMP",
    sentence: "a reading's timestamp is implausible (earlier than the reading before it, or more than 300 s after its anchor)",
  },
] as const;

export type ClaimReasonName = (typeof CLAIM_REASONS)[number]["name"];

/** The code of a reason name. */
export function claimReasonCode(name: ClaimReasonName): number {
  return CLAIM_REASONS.find((r) => r.name === name)!.code;
}

/** The reason of a code; unknown codes (a newer protocol) are named, not thrown on. */
export function claimReason(code: number | bigint): { code: number; name: string; sentence: string } {
  const n = Number(code);
  return (
    CLAIM_REASONS.find((r) => r.code === n) ?? { code: n, name: `REASON_${n}`, sentence: `reason code ${n} (unknown to this version)` }
  );
}

const EVIDENCE_FAILURE_CODES: Record<EvidenceFailureReason, ClaimReasonName> = {
  URI_NOT_ALLOWED: "EVIDENCE_UNAVAILABLE",
  FETCH_UNREACHABLE: "EVIDENCE_UNAVAILABLE",
  FETCH_TIMEOUT: "EVIDENCE_UNAVAILABLE",
  FETCH_HTTP_STATUS: "EVIDENCE_UNAVAILABLE",
  TOO_LARGE: "EVIDENCE_UNAVAILABLE",
  HASH_MISMATCH: "HASH_MISMATCH",
  MALFORMED_JSON: "MALFORMED_EVIDENCE",
  WRONG_SCHEMA: "MALFORMED_EVIDENCE",
  MISSING_SIGNATURE: "MALFORMED_EVIDENCE",
  INVALID_VALUES: "MALFORMED_EVIDENCE",
  SENSOR_SCHEMA_MISMATCH: "WRONG_DEVICE_OR_DEPLOYMENT",
  WRONG_DOMAIN: "WRONG_DEVICE_OR_DEPLOYMENT",
  INCIDENT_MISMATCH: "WRONG_DEVICE_OR_DEPLOYMENT",
  DEVICE_MISMATCH: "WRONG_DEVICE_OR_DEPLOYMENT",
  DEVICE_NOT_ACTIVE: "DEVICE_NOT_ACTIVE",
  SEQ_NOT_INCREASING: "SEQ_NOT_INCREASING",
  OUTSIDE_POLICY_PERIOD: "OUTSIDE_POLICY_PERIOD",
  BAD_SIGNATURE: "BAD_SIGNATURE",
  NOT_ANCHORED: "NOT_ANCHORED",
  INCOMPLETE_WINDOW: "INCOMPLETE_WINDOW",
  IMPLAUSIBLE_TIMESTAMP: "IMPLAUSIBLE_TIMESTAMP",
  GATEWAY_NOT_AUTHORISED: "GATEWAY_NOT_AUTHORISED",
  GATEWAY_NOT_ACCEPTED: "GATEWAY_NOT_ACCEPTED",
  ANCHORED_LATE: "ANCHORED_LATE",
  NO_READINGS_IN_WINDOW: "NO_READINGS_IN_WINDOW",
};

/** The on-chain reason code of an evidence failure. */
export function reasonCodeOfEvidenceFailure(reason: EvidenceFailureReason): number {
  return claimReasonCode(EVIDENCE_FAILURE_CODES[reason]);
}
