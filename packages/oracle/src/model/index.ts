/**
 * The oracle's AI model: load the artifacts of `packages/oracle/model/` (checking their hash), and score `ai4i-2020/v1`
 * telemetry and claims with them. See packages/oracle/MODEL.md for what the model is and is not good for.
 *
 * Claim rule (`assessClaim`): the readings whose timestamp lies in
 * `[incidentAt − window.beforeSeconds, incidentAt + window.afterSeconds]` (inclusive) and whose telemetry lies inside
 * the model's telemetry envelope are scored; the claim's score is the maximum (the first reading wins a tie).
 * Readings outside the window are ignored entirely (not even decoded). With no scorable reading in the window the
 * claim scores 0 and is rejected (`maxIndex` −1): there is no evidence of a failure at that time.
 * The decision is `scoreBps ≥ threshold × 10000`, a function of the `scoreBps` that the verdict signs.
 *
 * Determinism: the same artifacts and input give the same `scoreBps` on the same backend (tfjs-node, wasm and cpu
 * round differently in the last bits, so committee members should run the same backend).
 */
import * as path from "path";
import type * as tf from "@tensorflow/tfjs";
import { AI4I_SCHEMA, scoreToBps, valuesToTelemetry, type Ai4iTelemetry } from "@triad/sdk";
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
import { FEATURE_NAMES, FEATURE_VERSION, featureRecord, featureVector, normalise } from "./features.ts";
import type { ClaimAssessment, ClaimInput, OracleModel, ReadingInput } from "./assessment.ts";
import type { ClassificationMetrics } from "./metrics.ts";
import { combineModeProbabilities, predictModeProbabilities } from "./scoring.ts";

export { computeModelHash, selectBackend };
export type { BackendName, ClaimWindow, TelemetryEnvelope };
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
  const thresholdBps = Math.round(binding.threshold * 10_000);

  /** The claim rule (header) for many claims, with ONE network call over all their scorable readings. */
  const assessClaims = async (claims: readonly ClaimInput[]): Promise<ClaimAssessment[]> => {
    const rows: Ai4iTelemetry[] = [];
    const plans = claims.map(({ readings, incidentAt }) => {
      assertTimestamp(incidentAt, "incidentAt");
      readings.forEach((r, i) => assertTimestamp(r.timestamp, `readings[${i}].timestamp`));
      const from = incidentAt - binding.window.beforeSeconds;
      const to = incidentAt + binding.window.afterSeconds;
      let readingsInWindow = 0;
      const scorable: { index: number; row: number }[] = [];
      readings.forEach((r, index) => {
        if (r.timestamp < from || r.timestamp > to) return; // outside the window: not even decoded
        readingsInWindow++;
        const telemetry = valuesToTelemetry(r.values);
        if (!withinEnvelope(telemetry, binding.envelope)) return;
        scorable.push({ index, row: rows.length });
        rows.push(telemetry);
      });
      return { readingsInWindow, scorable };
    });
    const probabilities = rows.length > 0 ? await modeProbabilities(rows) : [];
    return plans.map(({ readingsInWindow, scorable }): ClaimAssessment => {
      let best: { index: number; row: number } | undefined;
      let bestScore = -1;
      for (const s of scorable) {
        const score = combineModeProbabilities(probabilities[s.row]);
        if (score > bestScore) {
          bestScore = score;
          best = s; // strictly greater: the first reading wins a tie
        }
      }
      if (!best) {
        return {
          score: 0,
          scoreBps: 0,
          approved: false,
          readingsInWindow,
          readingsScored: 0,
          maxIndex: -1,
          features: {},
          modeProbabilities: {},
        };
      }
      const scoreBps = scoreToBps(bestScore);
      return {
        score: bestScore,
        scoreBps,
        approved: scoreBps >= thresholdBps,
        readingsInWindow,
        readingsScored: scorable.length,
        maxIndex: best.index,
        features: { ...featureRecord(rows[best.row]) },
        modeProbabilities: Object.fromEntries(binding.outputs.map((mode, j) => [mode, probabilities[best!.row][j]])),
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
