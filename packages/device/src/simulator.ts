/**
 * A milling machine simulator producing `ai4i-2020/v1` telemetry as a time series, one reading per process step,
 * following how the AI4I 2020 data set was generated (S. Matzka, AI4I 2020; UCI 10.24432/C5HS5C) with the constants
 * re-fitted on data/ai4i2020/ai4i2020-train.csv (the figures in brackets):
 *
 * - air temperature: a mean-reverting random walk around 300 K, σ 2 K (mean 300.0, σ 2.00, lag-1 autocorrelation 0.9993);
 * - process temperature: air + 10 K + a random walk, σ 1 K of the difference (10.0, 1.00); the data's difference also
 *   falls as the air warms (slope −0.35 K/K), which keeps the process temperature's σ at 1.49 K — reproduced;
 * - torque: normal around 40 Nm, σ 10 Nm, independent per process, never negative (40.0, 10.07);
 * - rotational speed: from the power (the paper's "power of 2860 W with normal noise"); the data follows
 *   rpm = e^8.674 · torque^−0.367 · e^N(0, 0.036) (mean 1540, σ 181, correlation with torque −0.88);
 * - product variant per process: L 60 %, M 30 %, H 10 % (the data's shares); tool wear grows by 2/3/5 min for an
 *   L/M/H product (the data: the wear added after a product is always 2, 3 or 5 for L, M, H — the paper's
 *   "H/M/L add 5/3/2");
 * - the tool reaches its end of life at a wear drawn uniformly in 200–240 min; there it is replaced (wear back to 0)
 *   or, with probability 51/120 (the paper's counts), it fails (TWF) and stays failed until it is replaced
 *   {@link SimulatorOptions.toolRepairSteps} steps later.
 *
 * Failure modes are physical conditions evaluated on every step's values, so a failure persists while its condition
 * holds (unlike the data set, whose rows are independent products):
 * - TWF: the worn tool has failed (see above) and is not yet replaced;
 * - HDF: process − air temperature < 8.6 K and speed < 1380 rpm;
 * - PWF: power = torque · ω < 3500 W or > 9000 W;
 * - OSF: tool wear · torque > 11,000 / 12,000 / 13,000 min·Nm for an L / M / H product;
 * - RNF: 0.1 % chance per step, that step only.
 *
 * An episode ({@link SimulatorOptions.scenario}) drifts the relevant variables into a failure condition over `ramp`
 * steps, holds them there for `hold` steps and drifts them back over `ramp` steps. Deterministic per seed.
 */
import type { Ai4iTelemetry, ProductVariant } from "@triad/sdk";

export type FailureMode = "TWF" | "HDF" | "PWF" | "OSF" | "RNF";
export const FAILURE_MODES: readonly FailureMode[] = ["TWF", "HDF", "PWF", "OSF", "RNF"];

export type Scenario = "normal" | "heat-dissipation" | "power" | "overstrain";
export const SCENARIOS: readonly Scenario[] = ["normal", "heat-dissipation", "power", "overstrain"];

/** The thresholds of the AI4I failure modes. */
export const FAILURE_RULES = {
  hdfMaxTempDiffK: 8.6,
  hdfMaxRpm: 1380,
  pwfMinW: 3500,
  pwfMaxW: 9000,
  osfMaxStrain: { L: 11_000, M: 12_000, H: 13_000 } as Record<ProductVariant, number>,
  twfMinWear: 200,
  twfMaxWear: 240,
  rnfProbability: 0.001,
} as const;

/** Tool wear added by processing one product of each variant (min). */
export const WEAR_PER_PRODUCT: Record<ProductVariant, number> = { L: 2, M: 3, H: 5 };

export interface SimulatorOptions {
  /** Seed of the pseudo-random generator (number or string); the same seed gives the same series. Default 1. */
  seed?: number | string;
  /** The failure episode to drift into. Default "normal" (no episode; the machine's own failures still happen). */
  scenario?: Scenario;
  /** Step at which the episode's drift starts. Default 100. */
  episodeStart?: number;
  /** Steps of drift into (and back out of) the failure condition. Default 30. */
  ramp?: number;
  /** Steps the failure condition is held. Default 30. */
  hold?: number;
  /** Fix the product variant of every step (default: L 60 %, M 30 %, H 10 % at random). */
  variant?: ProductVariant;
  /** Steps a failed tool stays failed before it is replaced. Default 5. */
  toolRepairSteps?: number;
  /** Disable the random failure (RNF), e.g. for tests of the other modes. Default false. */
  noRandomFailures?: boolean;
}

/** The machine's ground truth at one step: which failure conditions hold. */
export interface GroundTruth {
  failure: boolean;
  modes: Record<FailureMode, boolean>;
  powerW: number;
  /** Tool wear × torque (min·Nm) and the threshold for this step's variant. */
  strain: number;
  /** The scheduled episode's phase at this step. */
  episode: "none" | "ramp-in" | "hold" | "ramp-out";
}

export interface SimulatedStep {
  step: number;
  telemetry: Ai4iTelemetry;
  truth: GroundTruth;
}

/** A small, fast, seedable PRNG (sfc32) with a normal deviate (Box–Muller). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  constructor(seed: number | string) {
    // xmur3 string hash → 4 words of state
    const text = String(seed);
    let h = 1779033703 ^ text.length;
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 3432918353);
      h = (h << 13) | (h >>> 19);
    }
    const next = () => {
      h = Math.imul(h ^ (h >>> 16), 2246822507);
      h = Math.imul(h ^ (h >>> 13), 3266489909);
      return (h ^= h >>> 16) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 15; i++) this.uniform();
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Standard normal deviate. */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

// Constants fitted on data/ai4i2020/ai4i2020-train.csv (see the module comment).
const AIR_MEAN_K = 300;
const AIR_SIGMA_K = 2;
const AIR_PHI = 0.9993;
const DIFF_MEAN_K = 10;
const DIFF_AIR_SLOPE = -0.35;
const DIFF_NOISE_SIGMA_K = Math.sqrt(1 - (DIFF_AIR_SLOPE * AIR_SIGMA_K) ** 2); // total σ of the difference = 1 K
const DIFF_PHI = 0.997;
const TORQUE_MEAN_NM = 40;
const TORQUE_SIGMA_NM = 10;
const RPM_LOG_A = 8.674;
const RPM_LOG_B = -0.367;
const RPM_LOG_SIGMA = 0.036;
const TWF_FAIL_PROBABILITY = 51 / 120;

/** Where an episode drives the machine (values held at full drift). */
const EPISODE_TARGETS: Record<Exclude<Scenario, "normal">, { diffK?: number; torqueNm: number; rpm: number }> = {
  // A clogged cooler at low speed: the process runs only ~8 K above the air at ~1300 rpm (≈ 7 kW, no other mode).
  "heat-dissipation": { diffK: 7.9, torqueNm: 52, rpm: 1300 },
  // A jammed feed: the spindle is overloaded, 70 Nm at 1310 rpm ≈ 9.6 kW.
  power: { torqueNm: 70, rpm: 1310 },
  // A worn tool kept cutting under heavy load: 70 Nm at 1200 rpm (≈ 8.8 kW); tool changes are held off during the
  // episode, so wear × torque crosses the variant's limit as the wear grows.
  overstrain: { torqueNm: 70, rpm: 1200 },
};

export function powerW(torqueNm: number, rpm: number): number {
  return (torqueNm * rpm * 2 * Math.PI) / 60;
}

/** The failure modes of one step's telemetry (all but TWF and RNF, which are machine events, not value conditions). */
export function failureConditions(t: Ai4iTelemetry): { HDF: boolean; PWF: boolean; OSF: boolean; powerW: number; strain: number } {
  const p = powerW(t.torqueNm, t.rpm);
  const strain = t.toolWearMin * t.torqueNm;
  return {
    HDF: t.processTempK - t.airTempK < FAILURE_RULES.hdfMaxTempDiffK && t.rpm < FAILURE_RULES.hdfMaxRpm,
    PWF: p < FAILURE_RULES.pwfMinW || p > FAILURE_RULES.pwfMaxW,
    OSF: strain > FAILURE_RULES.osfMaxStrain[t.variant],
    powerW: p,
    strain,
  };
}

const round = (v: number, decimals: number) => Math.round(v * 10 ** decimals) / 10 ** decimals;

/** A deterministic, time-stepped machine: call {@link MachineSimulator.next} once per reading interval. */
export class MachineSimulator {
  readonly options: Required<Omit<SimulatorOptions, "variant">> & { variant?: ProductVariant };
  private readonly rng: Rng;
  private stepIndex = 0;
  private airDev: number; // air temperature − 300 K
  private diffNoise: number; // process − air − (10 K + slope · airDev)
  private wear = 0;
  private toolEndOfLife: number;
  private toolFailsAtEnd: boolean;
  private failedSince: number | undefined;

  constructor(options: SimulatorOptions = {}) {
    const o = {
      seed: options.seed ?? 1,
      scenario: options.scenario ?? "normal",
      episodeStart: options.episodeStart ?? 100,
      ramp: options.ramp ?? 30,
      hold: options.hold ?? 30,
      variant: options.variant,
      toolRepairSteps: options.toolRepairSteps ?? 5,
      noRandomFailures: options.noRandomFailures ?? false,
    };
    if (!SCENARIOS.includes(o.scenario)) throw new RangeError(`scenario must be one of ${SCENARIOS.join(", ")}, got "${o.scenario}"`);
    for (const [name, v] of [
      ["episodeStart", o.episodeStart],
      ["ramp", o.ramp],
      ["hold", o.hold],
      ["toolRepairSteps", o.toolRepairSteps],
    ] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    }
    if (o.variant !== undefined && !["L", "M", "H"].includes(o.variant))
      throw new RangeError(`variant must be L, M or H, got "${o.variant}"`);
    this.options = o;
    this.rng = new Rng(o.seed);
    // Start from the stationary distributions, so a run has no warm-up transient.
    this.airDev = AIR_SIGMA_K * this.rng.normal();
    this.diffNoise = DIFF_NOISE_SIGMA_K * this.rng.normal();
    this.wear = Math.floor(this.rng.uniform() * 200);
    [this.toolEndOfLife, this.toolFailsAtEnd] = this.drawTool();
  }

  /** Steps produced so far. */
  get steps(): number {
    return this.stepIndex;
  }

  private drawTool(): [number, boolean] {
    const eol = FAILURE_RULES.twfMinWear + this.rng.uniform() * (FAILURE_RULES.twfMaxWear - FAILURE_RULES.twfMinWear);
    return [eol, this.rng.uniform() < TWF_FAIL_PROBABILITY];
  }

  /** The episode's drift (0 = normal, 1 = fully in the failure condition) and phase at `step`. */
  private drift(step: number): { alpha: number; phase: GroundTruth["episode"] } {
    const { scenario, episodeStart, ramp, hold } = this.options;
    if (scenario === "normal") return { alpha: 0, phase: "none" };
    const t = step - episodeStart;
    if (t < 0 || t >= 2 * ramp + hold) return { alpha: 0, phase: "none" };
    if (t < ramp) return { alpha: (t + 1) / (ramp + 1), phase: "ramp-in" };
    if (t < ramp + hold) return { alpha: 1, phase: "hold" };
    return { alpha: 1 - (t - ramp - hold + 1) / (ramp + 1), phase: "ramp-out" };
  }

  private pickVariant(): ProductVariant {
    if (this.options.variant) return this.options.variant;
    const u = this.rng.uniform();
    return u < 0.6 ? "L" : u < 0.9 ? "M" : "H";
  }

  /** The next step: this interval's telemetry and the machine's ground truth. */
  next(): SimulatedStep {
    const step = this.stepIndex++;
    const rng = this.rng;
    const { alpha, phase } = this.drift(step);
    const scenario = this.options.scenario;
    const target = scenario === "normal" ? undefined : EPISODE_TARGETS[scenario];

    // Temperatures: mean-reverting random walks (AR(1) with the data's stationary σ).
    this.airDev = AIR_PHI * this.airDev + AIR_SIGMA_K * Math.sqrt(1 - AIR_PHI ** 2) * rng.normal();
    this.diffNoise = DIFF_PHI * this.diffNoise + DIFF_NOISE_SIGMA_K * Math.sqrt(1 - DIFF_PHI ** 2) * rng.normal();
    const airTempK = AIR_MEAN_K + this.airDev;
    let diffK = DIFF_MEAN_K + DIFF_AIR_SLOPE * this.airDev + this.diffNoise;
    if (target?.diffK !== undefined) diffK = (1 - alpha) * diffK + alpha * (target.diffK + 0.1 * this.diffNoise);

    // Torque and speed: the normal process, blended towards the episode's operating point (with less noise there).
    let torqueNm = TORQUE_MEAN_NM + TORQUE_SIGMA_NM * rng.normal();
    const speedNoise = RPM_LOG_SIGMA * rng.normal();
    if (target) torqueNm = (1 - alpha) * torqueNm + alpha * (target.torqueNm + 0.05 * (torqueNm - TORQUE_MEAN_NM));
    torqueNm = Math.max(0.1, torqueNm);
    let rpm = Math.exp(RPM_LOG_A + RPM_LOG_B * Math.log(torqueNm) + speedNoise);
    if (target) rpm = (1 - alpha) * rpm + alpha * target.rpm * Math.exp(0.25 * speedNoise);

    // Tool: the product processed at this step, the wear it finds, end of life and failure.
    const variant = this.pickVariant();
    const holdTool = scenario === "overstrain" && phase !== "none";
    let twf = false;
    if (this.failedSince !== undefined) {
      if (step - this.failedSince >= this.options.toolRepairSteps) {
        this.failedSince = undefined;
        this.wear = 0;
        [this.toolEndOfLife, this.toolFailsAtEnd] = this.drawTool();
      } else twf = true;
    } else if (!holdTool && this.wear >= this.toolEndOfLife) {
      if (this.toolFailsAtEnd && this.options.toolRepairSteps > 0) {
        this.failedSince = step;
        twf = true;
      } else this.wear = 0;
      if (!twf) [this.toolEndOfLife, this.toolFailsAtEnd] = this.drawTool();
    }
    const telemetry: Ai4iTelemetry = {
      airTempK: round(airTempK, 1),
      processTempK: round(airTempK + diffK, 1),
      rpm: Math.round(rpm),
      torqueNm: round(torqueNm, 1),
      toolWearMin: this.wear,
      variant,
    };
    this.wear += WEAR_PER_PRODUCT[variant];

    const c = failureConditions(telemetry);
    const rnf = !this.options.noRandomFailures && rng.uniform() < FAILURE_RULES.rnfProbability;
    const modes = { TWF: twf, HDF: c.HDF, PWF: c.PWF, OSF: c.OSF, RNF: rnf };
    return {
      step,
      telemetry,
      truth: { failure: FAILURE_MODES.some((m) => modes[m]), modes, powerW: c.powerW, strain: c.strain, episode: phase },
    };
  }

  /** An endless iterator of steps. */
  *[Symbol.iterator](): Iterator<SimulatedStep> {
    for (;;) yield this.next();
  }
}
