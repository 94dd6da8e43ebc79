/**
 * The oracle's AI model: load the artifacts of `packages/oracle/model/` (checking their hash), and score `ai4i-2020/v1`
 * telemetry and claims with them. See packages/oracle/MODEL.md for what the model is and is not good for.
 *
 * Claim rule (`assessClaim`, docs/protocol.md §8.3): the readings whose timestamp lies in
 * `[incidentAt − window.beforeSeconds, incidentAt + window.afterSeconds]` (inclusive) are the window; those whose
 * telemetry lies inside the model's telemetry envelope are scored (one reading, one score). The claim's score is the
 * sustained score of ./claim-rule.ts: the highest score the window's readings held over a run of at least
 * `claimRule.minReadings` consecutive scored readings spanning at least `claimRule.minSeconds` (0 when no run
 * qualifies). Readings outside the window are ignored entirely (not even decoded). The decision is
 * `scoreBps ≥ claimRule.minScore × 10000`, a function of the `scoreBps` that the verdict signs; the reason code is 0
 * (approved), NO_READINGS_IN_WINDOW (nothing in the window could be scored) or NO_FAILURE_DETECTED.
 *
 * Determinism: the same artifacts and input give the same `scoreBps` on the same backend (tfjs-node, wasm and cpu
 * round differently in the last bits, so committee members should run the same backend).
 */
import * as path from "path";
import type * as tf from "@tensorflow/tfjs";
import { AI4I_SCHEMA, claimReasonCode, scoreToBps, valuesToTelemetry, type Ai4iTelemetry } from "@triad/sdk";
import { InvalidInputError, TriadError } from "@triad/sdk";
import {
  type MODEL_SCHEMA,
  computeModelHash,
  hashModelFiles,
  loadLayersModelFromFiles,
  readMetadataFile,
  readModelFiles,
  type ClaimWindow,
  type ModelBinding,
  type TelemetryEnvelope,
} from "./artifacts.ts";
import { selectBackend, type BackendName } from "./backend.ts";
import { claimRuleProblems, claimRuleThresholdBps, sustainedScore, type ClaimRule, type RuleReading } from "./claim-rule.ts";
import { FEATURE_NAMES, FEATURE_VERSION, featureRecord, featureVector, normalise } from "./features.ts";
import type { ClaimAssessment, ClaimInput, OracleModel, ReadingInput } from "./assessment.ts";
import type { ClassificationMetrics } from "./metrics.ts";
import { combineModeProbabilities, predictModeProbabilities } from "./scoring.ts";

export { computeModelHash, selectBackend };
export { seededRandom } from "./random.ts";
export { claimRuleThresholdBps, sustainedScore };
export type { BackendName, ClaimRule, ClaimWindow, RuleReading, TelemetryEnvelope };
export type { ClaimAssessment, ClaimInput, OracleModel, ReadingInput };

/** Default location of the shipped artifacts. */
export const DEFAULT_MODEL_DIR = path.resolve(import.meta.dirname, "../../model");

export interface MetricsSummary {
  mean: number;
  sd: number;
}

/** `metadata.json`: the binding stored in `model.json` plus how the model was trained and how well it does. */
export interface ModelMetadata extends ModelBinding {
  schema: typeof MODEL_SCHEMA;
  sensorSchema: typeof AI4I_SCHEMA;
  metrics: {
    /** The held-out validation part of the training data, at the chosen threshold. */
    validation: ClassificationMetrics;
    /** Stratified k-fold cross-validation of the whole training procedure (null if skipped). */
    crossValidation: {
      folds: number;
      auc: MetricsSummary;
      f1: MetricsSummary;
      precision: MetricsSummary;
      recall: MetricsSummary;
      accuracy: MetricsSummary;
    } | null;
  };
  training: Record<string, unknown>;
  modelHash: `0x${string}`;
  /** The hashed files, in hash order. */
  files: string[];
}

export interface LoadedModel extends OracleModel {
  modelHash: `0x${string}`;
  metadata: ModelMetadata;
  backend: BackendName;
  /** Scores in [0,1], one per row, in one batched predict call. No window or envelope rule applies. */
  scoreTelemetry(rows: readonly Ai4iTelemetry[]): Promise<number[]>;
  /** `scoreTelemetry` with each row's per-failure-mode probabilities (keys: the binding's `outputs`). */
  scoreTelemetryModes(rows: readonly Ai4iTelemetry[]): Promise<{ score: number; modeProbabilities: Record<string, number> }[]>;
  dispose(): void;
}

export interface LoadModelOptions {
  /** tfjs backend; "auto" (default) picks tfjs-node → wasm → cpu. */
  backend?: BackendName | "auto";
  /** Model hash the caller trusts (e.g. the one approved on-chain); loading fails on any other. */
  expectedHash?: string;
}

/** Key-order-independent JSON, to compare the binding in metadata.json with the one in model.json. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

const BINDING_KEYS: readonly (keyof ModelBinding)[] = [
  "schema",
  "sensorSchema",
  "featureVersion",
  "featureNames",
  "normalisation",
  "outputs",
  "scoreRule",
  "threshold",
  "window",
  "claimRule",
  "envelope",
];

/** Refuses a binding this code cannot honour (another feature set, schema or score rule). */
function checkBindingSupported(binding: ModelBinding, dir: string): void {
  const problems: string[] = [];
  if (binding.sensorSchema !== AI4I_SCHEMA) problems.push(`sensor schema ${String(binding.sensorSchema)}`);
  if (binding.featureVersion !== FEATURE_VERSION) problems.push(`feature version ${String(binding.featureVersion)}`);
  if (canonicalJson(binding.featureNames) !== canonicalJson(FEATURE_NAMES)) problems.push("feature names");
  if (binding.scoreRule !== "noisy-or") problems.push(`score rule ${String(binding.scoreRule)}`);
  const width = FEATURE_NAMES.length;
  if (binding.normalisation?.mean?.length !== width || binding.normalisation?.std?.length !== width) problems.push("normalisation size");
  if (!(binding.threshold > 0 && binding.threshold < 1)) problems.push(`threshold ${String(binding.threshold)}`);
  if (!(binding.window?.beforeSeconds >= 0 && binding.window?.afterSeconds >= 0)) problems.push("claim window");
  problems.push(...claimRuleProblems(binding.claimRule));
  if (problems.length > 0) {
    throw new TriadError(`model in ${dir} is not supported by this oracle version: ${problems.join(", ")}`, "MODEL_UNSUPPORTED", {
      dir,
      problems,
    });
  }
}

const ENVELOPE_FIELDS = ["airTempK", "processTempK", "rpm", "torqueNm", "toolWearMin"] as const;

export function withinEnvelope(t: Ai4iTelemetry, envelope: TelemetryEnvelope): boolean {
  return ENVELOPE_FIELDS.every((f) => t[f] >= envelope[f].min && t[f] <= envelope[f].max);
}

function assertTimestamp(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(`${what} must be unix seconds (a non-negative integer), got ${String(value)}`, { [what]: value });
  }
}

/**
 * Loads and verifies the model in `dir` (default `packages/oracle/model`) on the chosen backend. Throws a TriadError with
 * one line when a file is missing or unreadable, the hash of `model.json` + weights differs from `expectedHash` or
 * from `metadata.json`, or `metadata.json` does not match the binding inside the hashed `model.json`.
 */
export async function loadModel(dir: string = DEFAULT_MODEL_DIR, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const files = await readModelFiles(dir);
  const modelHash = hashModelFiles(files);
  if (opts.expectedHash !== undefined && opts.expectedHash.toLowerCase() !== modelHash) {
    throw new TriadError(`model in ${dir} has hash ${modelHash}, expected ${opts.expectedHash}`, "MODEL_HASH_MISMATCH", {
      dir,
      expected: opts.expectedHash,
      actual: modelHash,
    });
  }
  const metadata = await readMetadataFile<ModelMetadata>(dir);
  if (typeof metadata?.modelHash !== "string" || metadata.modelHash.toLowerCase() !== modelHash) {
    throw new TriadError(
      `model files in ${dir} hash to ${modelHash} but metadata.json says ${String(metadata?.modelHash)}: tampered or stale artifacts`,
      "MODEL_HASH_MISMATCH",
      { dir, expected: metadata?.modelHash, actual: modelHash },
    );
  }
  const binding = files.binding;
  const differing = BINDING_KEYS.filter((k) => canonicalJson(metadata[k]) !== canonicalJson(binding[k]));
  if (differing.length > 0) {
    throw new TriadError(
      `metadata.json in ${dir} differs from the hashed model.json in ${differing.join(", ")}: tampered artifacts`,
      "MODEL_METADATA_MISMATCH",
      { dir, fields: differing },
    );
  }
  checkBindingSupported(binding, dir);

  const backend = await selectBackend(opts.backend ?? "auto");
  const network: tf.LayersModel = await loadLayersModelFromFiles(files);
  const inputWidth = network.inputs[0]?.shape[1];
  const outputWidth = network.outputs[0]?.shape[1];
  if (inputWidth !== FEATURE_NAMES.length || outputWidth !== binding.outputs.length) {
    network.dispose();
    throw new TriadError(
      `model in ${dir} has ${String(inputWidth)} inputs / ${String(outputWidth)} outputs, its binding ${FEATURE_NAMES.length} / ${binding.outputs.length}`,
      "MODEL_UNSUPPORTED",
      { dir },
    );
  }

  let disposed = false;
  const modeProbabilities = async (rows: readonly Ai4iTelemetry[]): Promise<number[][]> => {
    if (disposed) throw new TriadError("model was disposed", "MODEL_DISPOSED");
    // Make sure this model's backend is the active one (another module may have switched it); idempotent.
    await selectBackend(backend);
    return predictModeProbabilities(
      network,
      rows.map((t) => normalise(featureVector(t), binding.normalisation)),
    );
  };
  const rule: ClaimRule = binding.claimRule;
  const ruleThresholdBps = claimRuleThresholdBps(rule);
  const NO_READINGS = claimReasonCode("NO_READINGS_IN_WINDOW");
  const NO_FAILURE = claimReasonCode("NO_FAILURE_DETECTED");
  const APPROVED = claimReasonCode("APPROVED");
  const modesOf = (p: readonly number[]): Record<string, number> => Object.fromEntries(binding.outputs.map((mode, j) => [mode, p[j]]));

  /** The claim rule (header) for many claims, with ONE network call over all their scorable readings. */
  const assessClaims = async (claims: readonly ClaimInput[]): Promise<ClaimAssessment[]> => {
    const rows: Ai4iTelemetry[] = [];
    const plans = claims.map(({ readings, incidentAt }) => {
      assertTimestamp(incidentAt, "incidentAt");
      readings.forEach((r, i) => assertTimestamp(r.timestamp, `readings[${i}].timestamp`));
      const from = incidentAt - binding.window.beforeSeconds;
      const to = incidentAt + binding.window.afterSeconds;
      // The window's readings in input (seq) order; `row` is the scored row, −1 outside the envelope.
      const window: { index: number; timestamp: number; row: number }[] = [];
      readings.forEach((r, index) => {
        if (r.timestamp < from || r.timestamp > to) return; // outside the window: not even decoded
        const telemetry = valuesToTelemetry(r.values);
        if (!withinEnvelope(telemetry, binding.envelope)) {
          window.push({ index, timestamp: r.timestamp, row: -1 });
          return;
        }
        window.push({ index, timestamp: r.timestamp, row: rows.length });
        rows.push(telemetry);
      });
      return window;
    });
    const probabilities = rows.length > 0 ? await modeProbabilities(rows) : [];
    const rowScores = probabilities.map(combineModeProbabilities);
    return plans.map((window): ClaimAssessment => {
      const scored = window.filter((w) => w.row >= 0);
      let peak: (typeof window)[number] | undefined;
      for (const w of scored) if (!peak || rowScores[w.row] > rowScores[peak.row]) peak = w; // the first wins a tie
      const ruleInput: RuleReading[] = window.map((w) => ({ timestamp: w.timestamp, score: w.row >= 0 ? rowScores[w.row] : null }));
      const { score, run } = sustainedScore(ruleInput, rule);
      const scoreBps = scoreToBps(score);
      const approved = scoreBps >= ruleThresholdBps; // ≥ 1 bps (claimRuleProblems), so no run is never approved
      const deciding = run && window[run.weakest];
      return {
        score,
        scoreBps,
        approved,
        reasonCode: scored.length === 0 ? NO_READINGS : approved ? APPROVED : NO_FAILURE,
        readingsInWindow: window.length,
        readingsScored: scored.length,
        run: run && { first: window[run.first].index, last: window[run.last].index },
        decidingIndex: deciding ? deciding.index : -1,
        features: deciding ? { ...featureRecord(rows[deciding.row]) } : {},
        modeProbabilities: deciding ? modesOf(probabilities[deciding.row]) : {},
        peakScoreBps: peak ? scoreToBps(rowScores[peak.row]) : 0,
        peakIndex: peak ? peak.index : -1,
      };
    });
  };
  return {
    modelHash,
    metadata,
    backend,
    async scoreTelemetry(rows) {
      return (await modeProbabilities(rows)).map(combineModeProbabilities);
    },
    async scoreTelemetryModes(rows) {
      return (await modeProbabilities(rows)).map((p) => ({ score: combineModeProbabilities(p), modeProbabilities: modesOf(p) }));
    },
    async assessClaim(readings, incidentAt) {
      return (await assessClaims([{ readings, incidentAt }]))[0];
    },
    assessClaims,
    dispose() {
      if (!disposed) network.dispose();
      disposed = true;
    },
  };
}
