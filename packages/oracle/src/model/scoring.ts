/**
 * From network outputs to the claim score, shared by training, evaluation and inference.
 *
 * The network has one sigmoid output per failure mode that telemetry can explain (AI4I 2020: heat dissipation HDF,
 * power PWF, overstrain OSF, tool wear TWF). Each head learns one clean, nearly separable target instead of the union
 * of all modes. The score is the probability that at least one mode is present, treating the heads as independent
 * (noisy-OR): 1 − Π(1 − p_mode). Random failures (RNF) have no telemetry signature and get no head.
 */
import * as tf from "@tensorflow/tfjs";

export const FAILURE_MODES = ["HDF", "PWF", "OSF", "TWF"] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

/** Noisy-OR of the per-mode probabilities, in float64 so the result depends only on the network's outputs. */
export function combineModeProbabilities(probabilities: ArrayLike<number>): number {
  let none = 1;
  for (let i = 0; i < probabilities.length; i++) none *= 1 - probabilities[i];
  return Math.min(1, Math.max(0, 1 - none));
}

/** Per-mode probabilities of normalised feature vectors, one predict call for the whole batch. */
export async function predictModeProbabilities(model: tf.LayersModel, x: readonly (readonly number[])[]): Promise<number[][]> {
  if (x.length === 0) return [];
  const input = tf.tensor2d(x as number[][], [x.length, x[0].length], "float32");
  const output = model.predict(input) as tf.Tensor;
  try {
    const width = output.shape[1] ?? 1;
    const flat = await output.data();
    return Array.from({ length: x.length }, (_, i) => Array.from(flat.subarray(i * width, (i + 1) * width)));
  } finally {
    input.dispose();
    output.dispose();
  }
}

/** Scores in [0,1] of normalised feature vectors, one predict call for the whole batch. */
export async function predictScores(model: tf.LayersModel, x: readonly (readonly number[])[]): Promise<number[]> {
  return (await predictModeProbabilities(model, x)).map(combineModeProbabilities);
}
