/**
 * The model's features: the one implementation shared by training (`packages/oracle/src/model/train-cli.ts`), evaluation (`eval-cli.ts`)
 * and inference (`index.ts`). Changing anything here changes what a model means, so a change must bump
 * {@link FEATURE_VERSION}; a model trained with another version refuses to load.
 */
import type { Ai4iTelemetry, ProductVariant } from "@triad/sdk";
import { InvalidInputError } from "@triad/sdk";

/** Identifies the feature definitions below; stored in (and checked against) every model's artifacts. */
export const FEATURE_VERSION = "triad.features/v1";

/**
 * Overstrain limits of wear × torque per product variant, in min·Nm (Matzka 2020, the AI4I data set's
 * description of the OSF failure mode). Used to express strain as a fraction of what the variant tolerates.
 */
export const OVERSTRAIN_LIMIT_MIN_NM: Readonly<Record<ProductVariant, number>> = { L: 11_000, M: 12_000, H: 13_000 };

const RPM_TO_RAD_PER_S = (2 * Math.PI) / 60;

/**
 * Feature names, in the order of the model's input vector. Units: K, rpm, N·m, min, W, min·N·m; `strainRatio` is wear
 * × torque divided by the variant's overstrain limit; the variant is one-hot. Absolute air and process temperatures
 * are left out: no failure mechanism depends on them except through their difference, and 5-fold cross-validation
 * was no better with them (packages/oracle/MODEL.md).
 */
export const FEATURE_NAMES = [
  "tempDiffK",
  "rpm",
  "torqueNm",
  "toolWearMin",
  "powerW",
  "strainMinNm",
  "strainRatio",
  "variantL",
  "variantM",
  "variantH",
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

/** z-score statistics, one entry per feature in {@link FEATURE_NAMES} order. */
export interface Normalisation {
  mean: number[];
  std: number[];
}

/**
 * Refuses telemetry no machine can produce (negative speed, torque or wear, temperatures at or below 0 K,
 * non-finite numbers): the model would extrapolate on it and return a meaningless score.
 */
export function assertPlausibleTelemetry(t: Ai4iTelemetry): void {
  const fields: [keyof Ai4iTelemetry, number, boolean][] = [
    ["airTempK", t.airTempK, t.airTempK > 0],
    ["processTempK", t.processTempK, t.processTempK > 0],
    ["rpm", t.rpm, t.rpm >= 0],
    ["torqueNm", t.torqueNm, t.torqueNm >= 0],
    ["toolWearMin", t.toolWearMin, t.toolWearMin >= 0],
  ];
  for (const [name, value, ok] of fields) {
    if (!Number.isFinite(value) || !ok) {
      throw new InvalidInputError(`telemetry field ${name} is out of range: ${value}`, { field: name, value });
    }
  }
  if (!(t.variant in OVERSTRAIN_LIMIT_MIN_NM)) {
    throw new InvalidInputError(`product variant must be L, M or H, got ${String(t.variant)}`, { variant: t.variant });
  }
}

/** The features of one reading, by name (what a claim assessment reports). */
export function featureRecord(t: Ai4iTelemetry): Record<FeatureName, number> {
  assertPlausibleTelemetry(t);
  const strainMinNm = t.toolWearMin * t.torqueNm;
  return {
    // Heat dissipation fails when the process runs too close to ambient temperature at low speed. Subtracting in
    // whole mK (the telemetry's resolution) keeps equal differences equal: 308.6 − 300.0 and 309.7 − 301.1 differ
    // in the last bits as floating-point numbers, and a split between them would learn rounding noise.
    tempDiffK: (Math.round(t.processTempK * 1000) - Math.round(t.airTempK * 1000)) / 1000,
    rpm: t.rpm,
    torqueNm: t.torqueNm,
    toolWearMin: t.toolWearMin,
    // Mechanical power P = τ·ω; the drive fails both below and above its operating band.
    powerW: t.torqueNm * t.rpm * RPM_TO_RAD_PER_S,
    // Overstrain grows with a worn tool under high torque; the tolerated amount depends on the variant.
    strainMinNm,
    strainRatio: strainMinNm / OVERSTRAIN_LIMIT_MIN_NM[t.variant],
    variantL: t.variant === "L" ? 1 : 0,
    variantM: t.variant === "M" ? 1 : 0,
    variantH: t.variant === "H" ? 1 : 0,
  };
}

/** The features of one reading as a vector in {@link FEATURE_NAMES} order (not yet normalised). */
export function featureVector(t: Ai4iTelemetry): number[] {
  const record = featureRecord(t);
  return FEATURE_NAMES.map((name) => record[name]);
}

/** Mean and (population) standard deviation per column; a constant column gets std 1 so it normalises to 0. */
export function fitNormalisation(vectors: readonly (readonly number[])[]): Normalisation {
  if (vectors.length === 0) throw new InvalidInputError("cannot fit a normalisation on zero rows");
  const width = vectors[0].length;
  const mean = new Array<number>(width).fill(0);
  const std = new Array<number>(width).fill(0);
  for (const v of vectors) for (let j = 0; j < width; j++) mean[j] += v[j];
  for (let j = 0; j < width; j++) mean[j] /= vectors.length;
  for (const v of vectors) for (let j = 0; j < width; j++) std[j] += (v[j] - mean[j]) ** 2;
  for (let j = 0; j < width; j++) {
    const s = Math.sqrt(std[j] / vectors.length);
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

/** Applies z-score normalisation; the result is what the network's input layer receives. */
export function normalise(vector: readonly number[], n: Normalisation): number[] {
  if (vector.length !== n.mean.length) {
    throw new InvalidInputError(`feature vector has ${vector.length} entries, the normalisation ${n.mean.length}`);
  }
  return vector.map((x, j) => (x - n.mean[j]) / n.std[j]);
}
