/**
 * The claim rule (docs/protocol.md §8.3): a claim is approved only when the model sees a failure that PERSISTS — on
 * at least `minReadings` consecutive readings of the claim's window, spanning at least `minSeconds` from the first to
 * the last of them, every one scoring at least `minScore`. One alarming reading never approves a claim.
 *
 * Why: the claimant chooses `incidentAt`. Under the earlier rule (the maximum reading score of the window) a 30-day
 * policy of honest telemetry at one reading a minute held dozens of instants whose window contained one reading at a
 * failure limit ("incident-time shopping"). A failure the insurance pays for is a machine state that lasts; a single
 * reading at a limit is not one. `npm run claim-rule` measures both sides on the machine simulator of @triad/device
 * and on the AI4I failures (packages/oracle/MODEL.md, "Claim rule").
 *
 * The parameters are part of the model's binding (`claimRule` in `model.json`), so the model hash covers them.
 * Pure functions of the readings' scores and timestamps: the oracle (`assessClaim`), `triad claim check` and
 * `tools/claim-rule.ts` decide with this one implementation.
 */

/** The claim rule's parameters (binding field `claimRule`). */
export interface ClaimRule {
  /** Consecutive scored readings a failure must be seen on (≥ 1). */
  minReadings: number;
  /** Seconds from the first to the last reading of such a run (≥ 0). */
  minSeconds: number;
  /** Score every reading of the run must reach, in [0.0001, 1); approve iff `scoreBps ≥ round(minScore × 10 000)`. */
  minScore: number;
}

/**
 * One reading of the window in evidence order (seq order): its timestamp and its score in [0, 1], or `null` when it
 * was not scored (outside the telemetry envelope). An unscored reading breaks a run: a machine that stopped in
 * between has not shown a persisting failure.
 */
export interface RuleReading {
  timestamp: number;
  score: number | null;
}

/** The run that decides a claim: indices into the rule's input, first and last reading, and its weakest reading. */
export interface DecidingRun {
  first: number;
  last: number;
  /** The reading with the lowest score of the run (the first of equals): its score is the claim's. */
  weakest: number;
}

export interface SustainedScore {
  /**
   * The sustained score: the highest score the readings held together over a qualifying run (the maximum over
   * qualifying runs of the minimum score in the run), 0 when no run qualifies.
   */
  score: number;
  /** The deciding run (the earliest one of equal score), or null when no run qualifies. */
  run: DecidingRun | null;
}

/** The basis points a sustained score must reach: `round(minScore × 10 000)`. */
export function claimRuleThresholdBps(rule: ClaimRule): number {
  return Math.round(rule.minScore * 10_000);
}

/** Why `rule` is not a claim rule this code can apply, or an empty list. */
export function claimRuleProblems(rule: unknown): string[] {
  if (typeof rule !== "object" || rule === null) return ["claim rule missing"];
  const r = rule as Partial<Record<keyof ClaimRule, unknown>>;
  const problems: string[] = [];
  if (!Number.isSafeInteger(r.minReadings) || (r.minReadings as number) < 1)
    problems.push(`claimRule.minReadings ${String(r.minReadings)}`);
  if (!Number.isSafeInteger(r.minSeconds) || (r.minSeconds as number) < 0) problems.push(`claimRule.minSeconds ${String(r.minSeconds)}`);
  if (typeof r.minScore !== "number" || !(r.minScore >= 0.0001 && r.minScore < 1))
    problems.push(`claimRule.minScore ${String(r.minScore)}`);
  const keys = Object.keys(rule).filter((k) => !["minReadings", "minSeconds", "minScore"].includes(k));
  if (keys.length > 0) problems.push(`claimRule has unknown fields ${keys.join(", ")}`);
  return problems;
}

/**
 * The sustained score of a window's readings under `rule`. For every reading i that starts a run, the run is
 * extended reading by reading until it holds `minReadings` readings and spans `minSeconds` (the shortest qualifying
 * run from i: longer runs can only have a lower minimum); an unscored reading or the end of the window before that
 * means no qualifying run starts at i. Cost O(n · L), L the length of the longest qualifying run.
 */
export function sustainedScore(readings: readonly RuleReading[], rule: ClaimRule): SustainedScore {
  let best: SustainedScore = { score: 0, run: null };
  for (let first = 0; first < readings.length; first++) {
    const start = readings[first];
    if (start.score === null) continue;
    let weakest = first;
    for (let last = first; last < readings.length; last++) {
      const score = readings[last].score;
      if (score === null) break;
      if (score < readings[weakest].score!) weakest = last;
      if (last - first + 1 >= rule.minReadings && readings[last].timestamp - start.timestamp >= rule.minSeconds) {
        const held = readings[weakest].score!;
        // Strictly greater: the earliest run wins a tie. A run held at 0 is no evidence either way (score 0, no run).
        if (held > best.score) best = { score: held, run: { first, last, weakest } };
        break;
      }
    }
  }
  return best;
}
