/**
 * The training pipeline, shared by `packages/oracle/src/model/train-cli.ts` (the shipped model) and its k-fold cross-validation, so the
 * cross-validated figures measure exactly the procedure that produced the shipped model: stratified split →
 * normalisation fitted on the training part → threshold ramps from small per-feature trees → a small MLP with one
 * head per failure mode, trained with a class-weighted loss → decision threshold chosen on the validation part.
 *
 * Reproducible: every random choice (splits, batch order, initial weights) comes from seeded generators, and the
 * training loop is ours (no `Math.random` inside `model.fit`), so the same data and seed give the same weights on
 * the same backend.
 */
import * as tf from "@tensorflow/tfjs";
import type { Ai4iRow } from "@triad/sdk";
import { featureVector, fitNormalisation, normalise, type Normalisation } from "./features.ts";
import { chooseThreshold, metricsAt, type ClassificationMetrics } from "./metrics.ts";
import { seededRandom, shuffled } from "./random.ts";
import { FAILURE_MODES, predictScores } from "./scoring.ts";

export interface TrainingConfig {
  /** Units per hidden layer (ReLU). */
  hidden: number[];
  epochs: number;
  batchSize: number;
  /** Initial Adam learning rate; it follows a cosine decay to `learningRate × finalLearningRateFraction`. */
  learningRate: number;
  finalLearningRateFraction: number;
  /** Weight of a positive (failure) row in the loss; handles the class imbalance. */
  positiveWeight: number;
  /** L2 penalty on the kernels. */
  l2: number;
  /** Fraction of rows held out (stratified) for validation and threshold choice. */
  validationFraction: number;
  /** Depth of the per-feature, per-mode trees whose splits become threshold ramps (0: no ramps). */
  splitDepth: number;
  /** Fewest training rows on either side of a split. */
  splitMinLeaf: number;
  /** A split must lower its node's Gini impurity by at least this fraction (prunes splits on noise). */
  splitMinGain: number;
  seed: number;
}

/** Chosen by 5-fold stratified cross-validation of the whole pipeline (packages/oracle/MODEL.md, "Training"). */
export const DEFAULT_CONFIG: TrainingConfig = {
  hidden: [32, 16],
  epochs: 100,
  batchSize: 256,
  learningRate: 0.01,
  finalLearningRateFraction: 0.05,
  positiveWeight: 3,
  l2: 3e-4,
  validationFraction: 0.2,
  splitDepth: 2,
  splitMinLeaf: 10,
  splitMinGain: 0.05,
  seed: 20_200_101,
};

/** Row indices per fold, each fold with the same share of positives (stratified k-fold). */
export function stratifiedFolds(labels: readonly (0 | 1)[], k: number, seed: number): number[][] {
  const random = seededRandom(seed);
  const folds: number[][] = Array.from({ length: k }, () => []);
  // One round-robin over positives then negatives: every fold gets the same share of each, sizes differ by ≤ 1.
  let next = 0;
  for (const label of [1, 0] as const) {
    const members = shuffled(
      labels.flatMap((l, i) => (l === label ? [i] : [])),
      random,
    );
    for (const index of members) folds[next++ % k].push(index);
  }
  return folds.map((f) => f.sort((a, b) => a - b));
}

/** A stratified split into (train, validation) row indices. */
export function stratifiedSplit(labels: readonly (0 | 1)[], validationFraction: number, seed: number): [number[], number[]] {
  const random = seededRandom(seed);
  const train: number[] = [];
  const validation: number[] = [];
  for (const label of [1, 0] as const) {
    const members = shuffled(
      labels.flatMap((l, i) => (l === label ? [i] : [])),
      random,
    );
    const nValidation = Math.round(members.length * validationFraction);
    validation.push(...members.slice(0, nValidation));
    train.push(...members.slice(nValidation));
  }
  return [train.sort((a, b) => a - b), validation.sort((a, b) => a - b)];
}

/**
 * A step on one input feature: 0 below `lo`, 1 above `hi`, linear in between (in normalised units). `lo` and `hi`
 * are the two neighbouring training values around a split, so no training row falls inside the ramp.
 */
export interface ThresholdRamp {
  feature: number;
  lo: number;
  hi: number;
}

const gini = (positives: number, n: number): number => (n === 0 ? 0 : 2 * (positives / n) * (1 - positives / n));

/**
 * Split points of a small decision tree on one feature, as ramps between the neighbouring values: Gini splits,
 * depth-first up to `depth` levels, at least `minLeaf` rows per side, each lowering its node's impurity by at least
 * the fraction `minGain`. `values` are normalised (unit standard deviation).
 *
 * Failure mechanisms switch on at physical limits; a network given these steps as inputs can put a sharp boundary
 * exactly there, which ReLU units trained by gradient descent only approach slowly (cf. the piecewise linear encoding
 * with target-aware bins of Gorishniy, Rubachev & Babenko, "On Embeddings for Numerical Features in Tabular Deep
 * Learning", NeurIPS 2022).
 */
export function treeSplits(
  values: readonly number[],
  targets: readonly (0 | 1)[],
  feature: number,
  depth: number,
  minLeaf: number,
  minGain: number,
): ThresholdRamp[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ramps: ThresholdRamp[] = [];
  const grow = (from: number, to: number, level: number): void => {
    const n = to - from;
    let positives = 0;
    for (let k = from; k < to; k++) positives += targets[order[k]];
    if (level === 0 || positives === 0 || positives === n || n < 2 * minLeaf) return;
    const parent = gini(positives, n);
    let best = -1;
    let bestGain = minGain * parent;
    let left = 0;
    for (let k = from; k < to - 1; k++) {
      left += targets[order[k]];
      const nLeft = k - from + 1;
      // Values closer than 1e-6 standard deviations are the same reading up to floating-point noise.
      if (nLeft < minLeaf || n - nLeft < minLeaf || values[order[k + 1]] - values[order[k]] < 1e-6) continue;
      const gain = parent - (nLeft / n) * gini(left, nLeft) - ((n - nLeft) / n) * gini(positives - left, n - nLeft);
      if (gain > bestGain) {
        bestGain = gain;
        best = k;
      }
    }
    if (best < 0) return;
    ramps.push({ feature, lo: values[order[best]], hi: values[order[best + 1]] });
    grow(from, best + 1, level - 1);
    grow(best + 1, to, level - 1);
  };
  grow(0, order.length, depth);
  return ramps;
}

/** Tree splits of every feature for every failure mode, without duplicates, in a stable order. */
export function findThresholdRamps(
  x: readonly (readonly number[])[],
  targets: readonly (readonly (0 | 1)[])[],
  config: Pick<TrainingConfig, "splitDepth" | "splitMinLeaf" | "splitMinGain">,
): ThresholdRamp[] {
  const ramps = new Map<string, ThresholdRamp>();
  for (let f = 0; f < x[0].length; f++) {
    const column = x.map((row) => row[f]);
    for (let m = 0; m < targets[0].length; m++) {
      const labels = targets.map((t) => t[m]);
      for (const r of treeSplits(column, labels, f, config.splitDepth, config.splitMinLeaf, config.splitMinGain)) {
        ramps.set(`${r.feature}:${r.lo}:${r.hi}`, r);
      }
    }
  }
  return [...ramps.values()].sort((a, b) => a.feature - b.feature || a.lo - b.lo);
}

/**
 * The network: the normalised features and their threshold ramps (a frozen dense layer with hard-sigmoid
 * activation) feed dense ReLU layers and one sigmoid output per failure mode. Initial weights from fixed seeds.
 */
export function buildNetwork(inputSize: number, ramps: readonly ThresholdRamp[], config: TrainingConfig): tf.LayersModel {
  const input = tf.input({ shape: [inputSize], name: "features" });
  let h: tf.SymbolicTensor = input;
  if (ramps.length > 0) {
    const rampLayer = tf.layers.dense({ name: "threshold_ramps", units: ramps.length, activation: "hardSigmoid", trainable: false });
    const steps = rampLayer.apply(input) as tf.SymbolicTensor;
    // hardSigmoid(z) = clip(0.2·z + 0.5, 0, 1): z = 5·(x − mid)/(hi − lo) makes it 0 at lo and 1 at hi.
    const kernel = new Float32Array(inputSize * ramps.length);
    const bias = new Float32Array(ramps.length);
    ramps.forEach((r, j) => {
      const k = 5 / (r.hi - r.lo);
      kernel[r.feature * ramps.length + j] = k;
      bias[j] = -k * ((r.lo + r.hi) / 2);
    });
    const values = [tf.tensor2d(kernel, [inputSize, ramps.length]), tf.tensor1d(bias)];
    rampLayer.setWeights(values);
    tf.dispose(values);
    h = tf.layers.concatenate({ name: "features_and_ramps" }).apply([input, steps]) as tf.SymbolicTensor;
  }
  config.hidden.forEach((units, i) => {
    h = tf.layers
      .dense({
        name: `hidden_${i + 1}`,
        units,
        activation: "relu",
        kernelInitializer: tf.initializers.heNormal({ seed: config.seed + i + 1 }),
        biasInitializer: "zeros",
      })
      .apply(h) as tf.SymbolicTensor;
  });
  const output = tf.layers
    .dense({
      name: "mode_probabilities",
      units: FAILURE_MODES.length,
      activation: "sigmoid",
      kernelInitializer: tf.initializers.glorotUniform({ seed: config.seed + 100 }),
      biasInitializer: "zeros",
    })
    .apply(h) as tf.SymbolicTensor;
  return tf.model({ name: "triad_failure_mlp", inputs: input, outputs: output });
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
}

/** Adam whose learning rate the training loop can lower between epochs without losing its moment estimates. */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}

/** Cosine decay from `learningRate` (first epoch) to `learningRate × finalLearningRateFraction` (last epoch). */
export function learningRateAt(epoch: number, config: TrainingConfig): number {
  const progress = config.epochs > 1 ? (epoch - 1) / (config.epochs - 1) : 1;
  const floor = config.finalLearningRateFraction;
  return config.learningRate * (floor + ((1 - floor) * (1 + Math.cos(Math.PI * progress))) / 2);
}

/** Trains in place with Adam on the weighted binary cross-entropy plus an L2 penalty, batches in seeded order. */
export async function trainNetwork(
  model: tf.LayersModel,
  x: readonly (readonly number[])[],
  y: readonly (readonly (0 | 1)[])[],
  config: TrainingConfig,
  onEpoch?: (r: EpochReport) => void,
): Promise<void> {
  const random = seededRandom(config.seed ^ 0x5eed);
  const optimizer = new ScheduledAdam(config.learningRate, 0.9, 0.999, 1e-7);
  const xs = tf.tensor2d(x as number[][], [x.length, x[0].length], "float32");
  const ys = tf.tensor2d(y as (0 | 1)[][], [y.length, y[0].length], "float32");
  const ws = tf.tensor2d(
    y.map((targets) => targets.map((t) => (t === 1 ? config.positiveWeight : 1))),
    [y.length, y[0].length],
    "float32",
  );
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const kernels = variables.filter((v) => v.name.includes("kernel"));
  const indices = Array.from({ length: x.length }, (_, i) => i);
  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      optimizer.setLearningRate(learningRateAt(epoch, config));
      const order = shuffled(indices, random);
      let lossSum = 0;
      let batches = 0;
      for (let start = 0; start < order.length; start += config.batchSize) {
        const batchIndex = tf.tensor1d(order.slice(start, start + config.batchSize), "int32");
        const loss = optimizer.minimize(
          () =>
            tf.tidy(() => {
              const xb = tf.gather(xs, batchIndex);
              const yb = tf.gather(ys, batchIndex);
              const wb = tf.gather(ws, batchIndex);
              const p = tf.clipByValue(model.apply(xb, { training: true }) as tf.Tensor, 1e-7, 1 - 1e-7);
              const bce = tf.neg(tf.add(tf.mul(yb, tf.log(p)), tf.mul(tf.sub(1, yb), tf.log(tf.sub(1, p)))));
              const dataLoss = tf.div(tf.sum(tf.mul(wb, bce)), tf.sum(wb));
              const penalty = tf.mul(config.l2, tf.addN(kernels.map((k) => tf.sum(tf.square(k)))));
              return tf.add(dataLoss, penalty) as tf.Scalar;
            }),
          true,
          variables,
        );
        batchIndex.dispose();
        if (loss) {
          lossSum += (await loss.data())[0];
          loss.dispose();
        }
        batches++;
      }
      onEpoch?.({ epoch, epochs: config.epochs, loss: lossSum / batches });
    }
  } finally {
    xs.dispose();
    ys.dispose();
    ws.dispose();
    optimizer.dispose();
  }
}

/** Training targets: one 0/1 per failure mode head (the score's label is `Machine failure`, see scoring.ts). */
export function modeTargets(row: Ai4iRow): (0 | 1)[] {
  return FAILURE_MODES.map((mode) => row.modes[mode]);
}

export interface PipelineResult {
  model: tf.LayersModel;
  normalisation: Normalisation;
  ramps: ThresholdRamp[];
  threshold: number;
  /** Metrics of the validation part at the chosen threshold. */
  validation: ClassificationMetrics;
  trainRows: number;
  validationRows: number;
}

/**
 * The whole procedure on the given rows: stratified train/validation split, normalisation fitted on the training
 * part only, training, threshold chosen on the validation part.
 */
export async function fitPipeline(
  rows: readonly Ai4iRow[],
  config: TrainingConfig,
  onEpoch?: (r: EpochReport) => void,
): Promise<PipelineResult> {
  const labels = rows.map((r) => r.failure);
  const features = rows.map((r) => featureVector(r));
  const [trainIdx, validationIdx] = stratifiedSplit(labels, config.validationFraction, config.seed);
  const normalisation = fitNormalisation(trainIdx.map((i) => features[i]));
  const xTrain = trainIdx.map((i) => normalise(features[i], normalisation));
  const xValidation = validationIdx.map((i) => normalise(features[i], normalisation));
  const trainTargets = trainIdx.map((i) => modeTargets(rows[i]));
  const ramps = config.splitDepth > 0 ? findThresholdRamps(xTrain, trainTargets, config) : [];
  const model = buildNetwork(features[0].length, ramps, config);
  await trainNetwork(model, xTrain, trainTargets, config, onEpoch);
  const validationLabels = validationIdx.map((i) => labels[i]);
  const validationScores = await predictScores(model, xValidation);
  const threshold = chooseThreshold(validationScores, validationLabels);
  return {
    model,
    normalisation,
    ramps,
    threshold,
    validation: metricsAt(validationScores, validationLabels, threshold),
    trainRows: trainIdx.length,
    validationRows: validationIdx.length,
  };
}

export interface FoldResult {
  fold: number;
  metrics: ClassificationMetrics;
}

/**
 * Stratified k-fold cross-validation of {@link fitPipeline}: each fold is held out once, the pipeline (including its
 * own validation split and threshold choice) runs on the rest, and the held-out fold is scored at that threshold.
 */
export async function crossValidate(
  rows: readonly Ai4iRow[],
  config: TrainingConfig,
  k: number,
  onFold?: (r: FoldResult) => void,
): Promise<FoldResult[]> {
  const labels = rows.map((r) => r.failure);
  const folds = stratifiedFolds(labels, k, config.seed + 7);
  const results: FoldResult[] = [];
  for (let fold = 0; fold < k; fold++) {
    const heldOut = new Set(folds[fold]);
    const trainRows = rows.filter((_, i) => !heldOut.has(i));
    const testRows = folds[fold].map((i) => rows[i]);
    const fitted = await fitPipeline(trainRows, config);
    try {
      const scores = await predictScores(
        fitted.model,
        testRows.map((r) => normalise(featureVector(r), fitted.normalisation)),
      );
      const result = {
        fold: fold + 1,
        metrics: metricsAt(
          scores,
          testRows.map((r) => r.failure),
          fitted.threshold,
        ),
      };
      results.push(result);
      onFold?.(result);
    } finally {
      fitted.model.dispose();
    }
  }
  return results;
}

export interface MeanSd {
  mean: number;
  sd: number;
}

/** Mean and sample standard deviation. */
export function meanSd(values: readonly number[]): MeanSd {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, sd: Math.sqrt(variance) };
}
