/**
 * What a claim assessment is, for the model (which produces it) and the oracle (which turns it into a verdict): one
 * definition shared by `loadModel` (./index.ts), the daemon, `oracle assess` and `oracle audit`. Types only, so the
 * oracle's main entry can name them without loading TensorFlow.js.
 */

/** One `ai4i-2020/v1` reading of an evidence bundle (values as in docs/protocol.md §5). */
export interface ReadingInput {
  timestamp: number;
  values: readonly bigint[];
}

/** One claim to assess: its readings and the incident time. */
export interface ClaimInput {
  readings: readonly ReadingInput[];
  incidentAt: number;
}

export interface ClaimAssessment {
  /**
   * Claim score in [0,1]: the sustained score of the claim rule (./claim-rule.ts) — the highest score that the
   * window's readings held together over a run of consecutive scored readings long enough for the rule (0 when no
   * run qualifies). One alarming reading alone scores 0.
   */
  score: number;
  /** floor(score × 10000) (`scoreToBps` of @triad/sdk), as signed in the verdict. */
  scoreBps: number;
  /** `scoreBps ≥ round(claimRule.minScore × 10000)`. */
  approved: boolean;
  /**
   * The verdict's reason code (`CLAIM_REASONS` of @triad/sdk): 0 APPROVED; NO_READINGS_IN_WINDOW when no reading of
   * the window could be scored (none in the window, or all outside the telemetry envelope); NO_FAILURE_DETECTED
   * otherwise.
   */
  reasonCode: number;
  readingsInWindow: number;
  /** Readings in the window that were inside the telemetry envelope and were scored. */
  readingsScored: number;
  /** The deciding run as indices into the input array (first and last reading), or null when no run qualifies. */
  run: { first: number; last: number } | null;
  /** Index into the input array of the deciding run's weakest reading (its score is the claim's), −1 if none. */
  decidingIndex: number;
  /** Features of that reading (empty if none). */
  features: Record<string, number>;
  /** Per-failure-mode probabilities of that reading (empty if none). */
  modeProbabilities: Record<string, number>;
  /**
   * The highest single-reading score of the window in basis points (0 if none was scored) and its index (−1): what a
   * maximum rule would have decided on. A high peak with a low `scoreBps` is a failure signal that did not persist.
   */
  peakScoreBps: number;
  peakIndex: number;
}

/** The part of a loaded model (`LoadedModel`) the oracle uses to decide claims. */
export interface OracleModel {
  modelHash: string;
  /** The tfjs backend it runs on (logged; members should run the same one). */
  backend?: string;
  assessClaim(readings: readonly ReadingInput[], incidentAt: number): Promise<ClaimAssessment>;
  /**
   * `assessClaim` for many claims with one network call: the same result per claim (a row's score does not depend
   * on the other rows). Throws, like `assessClaim`, on a reading no machine can produce; callers that must not let
   * one claim fail the others assess claim by claim then.
   */
  assessClaims(claims: readonly ClaimInput[]): Promise<ClaimAssessment[]>;
}
