/**
 * The model's files in `packages/oracle/model/` and its hash (docs/protocol.md §8.1):
 *
 * - `model.json`: the tfjs layers model (topology + weights manifest) and, in `userDefinedMetadata.triad`, the
 *   {@link ModelBinding} — everything besides the weights that changes a decision (feature names and version,
 *   normalisation, output heads and score rule, threshold, claim window and claim rule, telemetry envelope). tfjs keeps this field
 *   when it saves and loads a model, and since `model.json` is hashed, the binding is covered by the model hash.
 * - `weights.bin` (and any further weight files, in manifest order).
 * - `metadata.json`: a readable copy of the binding plus training metrics and the model hash. It is not hashed (it
 *   holds the hash); loading cross-checks its binding against `model.json`'s, so an edited metadata file is refused.
 *
 * modelHash = keccak256(bytes(model.json) ‖ bytes(weight file 1) ‖ … in manifest order).
 */
import { promises as fs } from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { concat, keccak256 } from "ethers";
import { TriadError } from "@triad/sdk";
import type { ClaimRule } from "./claim-rule.ts";
import type { Normalisation } from "./features.ts";

export const MODEL_JSON = "model.json";
export const WEIGHTS_BIN = "weights.bin";
export const METADATA_JSON = "metadata.json";
/**
 * v2: the binding carries the claim rule (`claimRule`, a persisting failure). v1 models were decided by the maximum
 * reading score of the window; this oracle no longer implements that rule and refuses them.
 */
export const MODEL_SCHEMA = "triad.model/v2";

/** Claim-level window around `incidentAt`, in seconds (readings with incidentAt − before ≤ t ≤ incidentAt + after). */
export interface ClaimWindow {
  beforeSeconds: number;
  afterSeconds: number;
}

/** Raw telemetry range the model accepts for claims: the training data's range widened by a margin. */
export type TelemetryEnvelope = Record<"airTempK" | "processTempK" | "rpm" | "torqueNm" | "toolWearMin", { min: number; max: number }>;

/** The decision-relevant configuration that is stored inside `model.json` and therefore covered by the hash. */
export interface ModelBinding {
  schema: typeof MODEL_SCHEMA;
  sensorSchema: "ai4i-2020/v1";
  featureVersion: string;
  featureNames: string[];
  normalisation: Normalisation;
  /** Output heads, in the order of the network's outputs. */
  outputs: string[];
  scoreRule: "noisy-or";
  /**
   * The reading-level decision threshold (chosen for F1 on single rows): a reading "shows a failure" when its
   * scoreBps ≥ threshold × 10000. Used by `model:eval` and as the reference for alerts; claims use `claimRule`.
   */
  threshold: number;
  window: ClaimWindow;
  /** How a claim is decided from the window's readings (./claim-rule.ts). */
  claimRule: ClaimRule;
  envelope: TelemetryEnvelope;
}

export interface ModelFiles {
  dir: string;
  modelJsonBytes: Uint8Array;
  modelJson: tf.io.ModelJSON;
  binding: ModelBinding;
  /** Weight files in manifest order. */
  weights: { name: string; bytes: Uint8Array }[];
}

const artifactError = (message: string, details: Record<string, unknown>, cause?: unknown): TriadError =>
  new TriadError(message, "MODEL_ARTIFACTS", details, cause === undefined ? undefined : { cause });

async function readFileOrThrow(file: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw artifactError(
      missing
        ? `model ${what} not found: ${file} (train a model with npm run train)`
        : `cannot read model ${what} ${file}: ${(e as Error).message}`,
      { file },
      e,
    );
  }
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw artifactError(`${file} is not valid JSON`, { file }, e);
  }
}

/** The weight file names of a manifest, in order. Only plain names inside the model directory are allowed. */
function weightFileNames(modelJson: tf.io.ModelJSON, file: string): string[] {
  const names = (modelJson.weightsManifest ?? []).flatMap((group) => group.paths);
  if (names.length === 0) throw artifactError(`${file} lists no weight files`, { file });
  for (const name of names) {
    if (typeof name !== "string" || name !== path.basename(name) || name === "." || name === "..") {
      throw artifactError(`${file} names a weight file outside the model directory: ${String(name)}`, { file, name });
    }
  }
  return names;
}

/** Reads `model.json` and its weight files exactly as they are hashed; nothing is interpreted beyond the manifest. */
export async function readModelFiles(dir: string): Promise<ModelFiles> {
  const modelFile = path.join(dir, MODEL_JSON);
  const modelJsonBytes = await readFileOrThrow(modelFile, "file");
  const parsed = parseJson(modelJsonBytes, modelFile) as tf.io.ModelJSON;
  if (typeof parsed !== "object" || parsed === null || !parsed.modelTopology || !Array.isArray(parsed.weightsManifest)) {
    throw artifactError(`${modelFile} is not a tfjs layers model (no modelTopology / weightsManifest)`, { file: modelFile });
  }
  const binding = (parsed.userDefinedMetadata as { triad?: ModelBinding } | undefined)?.triad;
  if ((binding?.schema as string | undefined) === "triad.model/v1") {
    throw artifactError(
      `${modelFile} is a triad.model/v1 model, decided by the maximum reading score of the claim window, which this oracle no longer implements (retrain with npm run train)`,
      { file: modelFile },
    );
  }
  if (!binding || binding.schema !== MODEL_SCHEMA) {
    throw artifactError(`${modelFile} has no ${MODEL_SCHEMA} binding in userDefinedMetadata.triad`, { file: modelFile });
  }
  const weights = [];
  for (const name of weightFileNames(parsed, modelFile)) {
    weights.push({ name, bytes: await readFileOrThrow(path.join(dir, name), "weight file") });
  }
  return { dir, modelJsonBytes, modelJson: parsed, binding, weights };
}

/** keccak256 over `model.json` followed by each weight file in manifest order. */
export function hashModelFiles(files: Pick<ModelFiles, "modelJsonBytes" | "weights">): `0x${string}` {
  return keccak256(concat([files.modelJsonBytes, ...files.weights.map((w) => w.bytes)])) as `0x${string}`;
}

/** The model hash of the artifacts in `dir` (see the module comment). */
export async function computeModelHash(dir: string): Promise<`0x${string}`> {
  return hashModelFiles(await readModelFiles(dir));
}

/** Reads and parses `metadata.json`. */
export async function readMetadataFile<T>(dir: string): Promise<T> {
  const file = path.join(dir, METADATA_JSON);
  return parseJson(await readFileOrThrow(file, "metadata"), file) as T;
}

/**
 * Writes `model.json` (with the binding in `userDefinedMetadata.triad`) and `weights.bin` into `dir` and returns
 * their model hash. The JSON is serialised with a fixed key order, so the same weights give the same bytes.
 */
export async function writeModelFiles(dir: string, model: tf.LayersModel, binding: ModelBinding): Promise<`0x${string}`> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } };
    }),
  );
  if (!saved?.weightSpecs || !saved.weightData) throw artifactError("tfjs returned no weights to save", {});
  const weightBytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData));
  const modelJson = {
    format: saved.format ?? "layers-model",
    generatedBy: saved.generatedBy ?? "",
    convertedBy: saved.convertedBy ?? null,
    modelTopology: saved.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: saved.weightSpecs }],
    userDefinedMetadata: { triad: binding },
  };
  const modelJsonBytes = new Uint8Array(Buffer.from(JSON.stringify(modelJson), "utf8"));
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, MODEL_JSON), modelJsonBytes);
  await fs.writeFile(path.join(dir, WEIGHTS_BIN), weightBytes);
  return hashModelFiles({ modelJsonBytes, weights: [{ name: WEIGHTS_BIN, bytes: weightBytes }] });
}

/** Writes `metadata.json` (pretty-printed, newline-terminated). */
export async function writeMetadataFile(dir: string, metadata: unknown): Promise<void> {
  await fs.writeFile(path.join(dir, METADATA_JSON), JSON.stringify(metadata, null, 2) + "\n");
}

/** Loads the tfjs model from files already read (and hashed), without touching the disk again. */
export async function loadLayersModelFromFiles(files: ModelFiles): Promise<tf.LayersModel> {
  const weightData = tf.io.concatenateArrayBuffers(files.weights.map((w) => w.bytes.slice().buffer as ArrayBuffer));
  const artifacts = await tf.io.getModelArtifactsForJSON(files.modelJson, async (manifest) => [
    manifest.flatMap((group) => group.weights),
    weightData,
  ]);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw artifactError(`${path.join(files.dir, MODEL_JSON)} could not be loaded by tfjs: ${(e as Error).message}`, { dir: files.dir }, e);
  }
}
