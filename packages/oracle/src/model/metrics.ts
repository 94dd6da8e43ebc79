/** Binary-classification metrics shared by training, cross-validation and `npm run model:eval`. */
import { scoreToBps } from "@triad/sdk";

export interface ConfusionMatrix {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface ClassificationMetrics {
  rows: number;
  positives: number;
  auc: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  threshold: number;
  confusion: ConfusionMatrix;
}

/**
 * The decision rule, the same everywhere: approve when the score in whole basis points (`scoreToBps`, what the
 * verdict signs) reaches the threshold's. Deciding on `scoreBps` makes the decision a function of the number that is
 * signed on-chain.
 */
export function isPositive(score: number, threshold: number): boolean {
  return scoreToBps(score) >= Math.round(threshold * 10_000);
}

export function confusionAt(scores: readonly number[], labels: readonly (0 | 1)[], threshold: number): ConfusionMatrix {
  const c: ConfusionMatrix = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < scores.length; i++) {
    const predicted = isPositive(scores[i], threshold);
    if (labels[i] === 1) {
      if (predicted) c.tp++;
      else c.fn++;
    } else if (predicted) c.fp++;
    else c.tn++;
  }
  return c;
}

/** ROC-AUC as the Mann–Whitney statistic: P(score of a random positive > a random negative), ties count ½. */
export function rocAuc(scores: readonly number[], labels: readonly (0 | 1)[]): number {
  const order = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => a[0] - b[0]);
  let positives = 0;
  let rankSumPositives = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j][0] === order[i][0]) j++;
    const averageRank = (i + 1 + j) / 2; // ranks i+1 … j share their mean
    for (let k = i; k < j; k++) {
      if (order[k][1] === 1) {
        positives++;
        rankSumPositives += averageRank;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export function metricsAt(scores: readonly number[], labels: readonly (0 | 1)[], threshold: number): ClassificationMetrics {
  const confusion = confusionAt(scores, labels, threshold);
  const { tp, fp, tn, fn } = confusion;
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    rows: scores.length,
    positives: tp + fn,
    auc: rocAuc(scores, labels),
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    accuracy: ratio(tp + tn, scores.length),
    threshold,
    confusion,
  };
}

/**
 * The threshold (a whole number of basis points) that maximises F1 on validation scores. A whole range of thresholds
 * usually ties (every threshold between two neighbouring validation scores gives the same F1); the middle of the
 * widest tied range is taken, so the boundary sits as far as possible from the validation scores on either side
 * instead of hugging the last positive or negative seen.
 */
export function chooseThreshold(scores: readonly number[], labels: readonly (0 | 1)[]): number {
  const positivesAtLeast = new Array<number>(10_002).fill(0);
  const negativesAtLeast = new Array<number>(10_002).fill(0);
  scores.forEach((s, i) => (labels[i] === 1 ? positivesAtLeast : negativesAtLeast)[scoreToBps(s)]++);
  for (let t = 10_000; t >= 0; t--) {
    positivesAtLeast[t] += positivesAtLeast[t + 1];
    negativesAtLeast[t] += negativesAtLeast[t + 1];
  }
  const totalPositives = positivesAtLeast[0];
  const f1 = (t: number): number => ratio(2 * positivesAtLeast[t], positivesAtLeast[t] + negativesAtLeast[t] + totalPositives);
  let best = -1;
  for (let t = 1; t <= 10_000; t++) best = Math.max(best, f1(t));
  let bestStart = 1;
  let bestLength = 0;
  for (let t = 1; t <= 10_000;) {
    if (f1(t) !== best) {
      t++;
      continue;
    }
    let end = t;
    while (end + 1 <= 10_000 && f1(end + 1) === best) end++;
    if (end - t + 1 > bestLength) {
      bestStart = t;
      bestLength = end - t + 1;
    }
    t = end + 1;
  }
  return Math.floor(bestStart + (bestLength - 1) / 2) / 10_000;
}
