/**
 * `npm run train [-- --data <csv> --out <dir> --folds <k> --backend <auto|wasm|cpu|tfjs-node>]`
 *
 * Trains the oracle's failure model on AI4I 2020 data and writes `packages/oracle/model/` (model.json, weights.bin,
 * metadata.json). First it cross-validates the whole procedure (k-fold, stratified; `--folds 0` skips it), then it
 * trains the shipped model. Everything is seeded: the same data on the same backend gives the same files and hash.
 * Afterwards: `npm run model:hash`, and the committee approves that hash on-chain (packages/oracle/MODEL.md).
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { keccak256 } from "ethers";
import { AI4I_SCHEMA, parseAi4iCsv, type Ai4iRow } from "@triad/sdk";
import { InvalidInputError } from "@triad/sdk";
import {
  MODEL_JSON,
  MODEL_SCHEMA,
  WEIGHTS_BIN,
  writeMetadataFile,
  writeModelFiles,
  type ModelBinding,
  type TelemetryEnvelope,
} from "./artifacts.ts";
import { BACKEND_NAMES, selectBackend, type BackendName } from "./backend.ts";
import type { ClaimRule } from "./claim-rule.ts";
import { parseCliOptions, readTextFile, runCli } from "./cli.ts";
import { FEATURE_NAMES, FEATURE_VERSION } from "./features.ts";
import { DEFAULT_MODEL_DIR, type ModelMetadata } from "./index.ts";
import { FAILURE_MODES } from "./scoring.ts";
import { DEFAULT_CONFIG, crossValidate, fitPipeline, meanSd, type EpochReport } from "./training.ts";

const REPO = path.resolve(import.meta.dirname, "../../../..");
const USAGE = "npm run train -- [--data <csv>] [--out <dir>] [--folds <k>] [--backend auto|tfjs-node|wasm|cpu]";

/**
 * Claim window and claim rule (./claim-rule.ts, packages/oracle/MODEL.md "Claim rule"): a claim is approved when the
 * readings within 10 minutes before to 15 minutes after `incidentAt` show a failure that persists — at least 4
 * consecutive readings over at least 3 minutes, each scoring ≥ 0.85. Before: a failure that stops the machine shows
 * its condition up to the incident; after: a failure declared when it began shows that it lasted. One reading at a
 * failure limit approves nothing, so the claimant gains nothing by shopping for the instant of one. Chosen with
 * `npm run claim-rule` (incident-time shopping on simulated 30-day policies against recall on simulated failure
 * episodes and AI4I failures); changing them changes the model hash.
 */
const CLAIM_WINDOW = { beforeSeconds: 600, afterSeconds: 900 };
const CLAIM_RULE: ClaimRule = { minReadings: 4, minSeconds: 180, minScore: 0.85 };

/** Readings beyond the training data's range by more than this share of the range are not scored in claims. */
const ENVELOPE_MARGIN = 0.1;

function telemetryEnvelope(rows: readonly Ai4iRow[]): TelemetryEnvelope {
  const range = (values: number[], floor = -Infinity) => {
    const min = Math.min(...values);
    const max = Math.max(...values);
    const margin = (max - min) * ENVELOPE_MARGIN;
    // Rounded outwards to 3 decimals (the telemetry's resolution in mK / mNm) to keep the JSON readable.
    return { min: Math.max(floor, Math.floor((min - margin) * 1000) / 1000), max: Math.ceil((max + margin) * 1000) / 1000 };
  };
  return {
    airTempK: range(rows.map((r) => r.airTempK)),
    processTempK: range(rows.map((r) => r.processTempK)),
    rpm: range(
      rows.map((r) => r.rpm),
      0,
    ),
    torqueNm: range(
      rows.map((r) => r.torqueNm),
      0,
    ),
    toolWearMin: range(
      rows.map((r) => r.toolWearMin),
      0,
    ),
  };
}

function progress(label: string): (r: EpochReport) => void {
  const tty = process.stdout.isTTY;
  return ({ epoch, epochs, loss }) => {
    const line = `${label} epoch ${String(epoch).padStart(3)}/${epochs}  loss ${loss.toFixed(4)}`;
    if (tty) process.stdout.write(`\r${line}${epoch === epochs ? "\n" : ""}`);
    else if (epoch % 10 === 0 || epoch === epochs) console.log(line);
  };
}

const pct = (x: number): string => (x * 100).toFixed(1).padStart(5) + "%";

async function main(): Promise<void> {
  const args = parseCliOptions(
    process.argv.slice(2),
    {
      data: { type: "string", default: path.join(REPO, "data/ai4i2020/ai4i2020-train.csv") },
      out: { type: "string", default: DEFAULT_MODEL_DIR },
      folds: { type: "string", default: "5" },
      backend: { type: "string", default: "auto" },
    },
    USAGE,
  );
  const folds = Number(args.folds);
  if (!Number.isInteger(folds) || folds === 1 || folds < 0 || folds > 20) {
    throw new InvalidInputError(`--folds must be 0 (skip cross-validation) or an integer from 2 to 20, got ${args.folds}`);
  }
  const backendArg = String(args.backend);
  if (backendArg !== "auto" && !BACKEND_NAMES.includes(backendArg as BackendName)) {
    throw new InvalidInputError(`--backend must be auto, ${BACKEND_NAMES.join(", ")}; got ${backendArg} (usage: ${USAGE})`);
  }
  const dataFile = path.resolve(String(args.data));
  const outDir = path.resolve(String(args.out));
  const started = Date.now();

  const csv = await readTextFile(dataFile, "training data");
  const rows = parseAi4iCsv(csv, dataFile);
  const positives = rows.filter((r) => r.failure === 1).length;
  if (rows.length < 100 || positives < 2 * Math.max(folds, 5)) {
    throw new InvalidInputError(`${dataFile} has ${rows.length} rows and ${positives} failures: too few to train on`);
  }
  const backend = await selectBackend(backendArg as BackendName | "auto");
  const config = DEFAULT_CONFIG;
  console.log(
    `data: ${path.relative(REPO, dataFile)}: ${rows.length} rows, ${positives} failures (${pct(positives / rows.length).trim()})`,
  );
  console.log(`backend: ${backend} (tfjs ${tf.version.tfjs}); features: ${FEATURE_NAMES.join(", ")}`);

  let crossValidation: ModelMetadata["metrics"]["crossValidation"] = null;
  if (folds > 0) {
    console.log(`cross-validation: ${folds}-fold stratified, the whole procedure per fold`);
    const results = await crossValidate(rows, config, folds, ({ fold, metrics: m }) =>
      console.log(
        `  fold ${fold}/${folds}: AUC ${m.auc.toFixed(4)}  F1 ${m.f1.toFixed(3)}  precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)}  threshold ${m.threshold}`,
      ),
    );
    const summary = (k: "auc" | "f1" | "precision" | "recall" | "accuracy") => meanSd(results.map((r) => r.metrics[k]));
    crossValidation = {
      folds,
      auc: summary("auc"),
      f1: summary("f1"),
      precision: summary("precision"),
      recall: summary("recall"),
      accuracy: summary("accuracy"),
    };
    const fmt = (m: { mean: number; sd: number }) => `${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}`;
    console.log(
      `  mean ± sd: AUC ${fmt(crossValidation.auc)}  F1 ${fmt(crossValidation.f1)}  precision ${fmt(crossValidation.precision)}  recall ${fmt(crossValidation.recall)}`,
    );
  }

  console.log(
    `training the shipped model (${Math.round((1 - config.validationFraction) * 100)}% train / ${Math.round(config.validationFraction * 100)}% validation)`,
  );
  const fitted = await fitPipeline(rows, config, progress("  "));
  const v = fitted.validation;
  const binding: ModelBinding = {
    schema: MODEL_SCHEMA,
    sensorSchema: AI4I_SCHEMA,
    featureVersion: FEATURE_VERSION,
    featureNames: [...FEATURE_NAMES],
    normalisation: fitted.normalisation,
    outputs: [...FAILURE_MODES],
    scoreRule: "noisy-or",
    threshold: fitted.threshold,
    window: CLAIM_WINDOW,
    claimRule: CLAIM_RULE,
    envelope: telemetryEnvelope(rows),
  };
  const modelHash = await writeModelFiles(outDir, fitted.model, binding);
  const learnedThresholds = fitted.ramps.map((r) => {
    const j = r.feature;
    const physical = (z: number) => z * fitted.normalisation.std[j] + fitted.normalisation.mean[j];
    return { feature: FEATURE_NAMES[j], between: [physical(r.lo), physical(r.hi)].map((x) => Number(x.toPrecision(6))) };
  });
  const metadata: ModelMetadata = {
    ...binding,
    metrics: { validation: v, crossValidation },
    training: {
      data: path.relative(REPO, dataFile),
      dataKeccak256: keccak256(Buffer.from(csv, "utf8")),
      rows: rows.length,
      positives,
      trainRows: fitted.trainRows,
      validationRows: fitted.validationRows,
      backend,
      tfjs: tf.version.tfjs,
      config,
      architecture: `${FEATURE_NAMES.length} features + ${fitted.ramps.length} threshold ramps → ${config.hidden.join(" → ")} (ReLU) → ${FAILURE_MODES.length} sigmoid heads (${FAILURE_MODES.join(", ")}) → noisy-OR`,
      parameters: fitted.model.countParams(),
      learnedThresholds,
    },
    modelHash,
    files: [MODEL_JSON, WEIGHTS_BIN],
  };
  await writeMetadataFile(outDir, metadata);
  fitted.model.dispose();

  const c = v.confusion;
  console.log(`validation (${v.rows} rows, ${v.positives} failures) at threshold ${v.threshold}:`);
  console.log(
    `  AUC ${v.auc.toFixed(4)}  F1 ${v.f1.toFixed(3)}  precision ${v.precision.toFixed(3)}  recall ${v.recall.toFixed(3)}  accuracy ${v.accuracy.toFixed(4)}`,
  );
  console.log(`  confusion: TP ${c.tp}  FP ${c.fp}  FN ${c.fn}  TN ${c.tn}`);
  console.log(`wrote ${path.relative(REPO, outDir) || "."}/{${MODEL_JSON},${WEIGHTS_BIN},metadata.json}`);
  console.log(`model hash: ${modelHash}`);
  console.log(`wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

runCli(main);
