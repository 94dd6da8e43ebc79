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
  /** Claim score in [0,1]: the maximum over the scored readings (0 when none). */
  score: number;
  /** floor(score × 10000) (`scoreToBps` of @triad/sdk), as signed in the verdict. */
  scoreBps: number;
  approved: boolean;
  readingsInWindow: number;
  /** Readings in the window that were inside the telemetry envelope and were scored. */
  readingsScored: number;
  /** Index into the input array of the reading with the maximum score, −1 if none was scored. */
  maxIndex: number;
  /** Features of that reading (empty if none). */
  features: Record<string, number>;
  /** Per-failure-mode probabilities of that reading (empty if none). */
  modeProbabilities: Record<string, number>;
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
