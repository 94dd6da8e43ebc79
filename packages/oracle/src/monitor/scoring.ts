/**
 * Scores live readings with the loaded model, a whole batch in ONE network call: the readings are decoded
 * (`ai4i-2020/v1`, docs/protocol.md §5.2), those outside the model's telemetry envelope are set aside (the model was
 * not trained there, so it is not asked), and the rest go through `scoreTelemetryModes`, which gives each reading's
 * score and per-mode probabilities from a single predict call (a row's result does not depend on the other rows).
 * (Not `assessClaims`: a claim is decided on a persisting failure, so one reading alone never scores as a claim.)
 */
import { scoreToBps, valuesToTelemetry, type Ai4iTelemetry } from "@triad/sdk";
import { withinEnvelope, type LoadedModel } from "../model/index.ts";

/** A reading to score: the gateway's stored readings have this shape. */
export interface MonitorReading {
  device: string;
  seq: bigint;
  timestamp: bigint;
  values: readonly bigint[];
}

/** The model's verdict on one reading. */
export type ReadingScore =
  | { kind: "scored"; riskBps: number; modeProbabilitiesBps: Record<string, number> }
  /** Decodable, but a value lies outside the model's telemetry envelope: not scored. */
  | { kind: "out-of-envelope" }
  /** Not `ai4i-2020/v1` values (wrong count, unknown variant): not scored. */
  | { kind: "undecodable"; detail: string };

/** The part of a loaded model the monitor uses. */
export type MonitorModel = Pick<LoadedModel, "modelHash" | "metadata" | "scoreTelemetryModes">;

/** One result per reading, in input order; the scorable ones are scored in one predict call. */
export async function scoreReadings(model: MonitorModel, readings: readonly MonitorReading[]): Promise<ReadingScore[]> {
  const results: ReadingScore[] = new Array(readings.length);
  const scorable: { index: number; telemetry: Ai4iTelemetry }[] = [];
  readings.forEach((r, index) => {
    let telemetry: Ai4iTelemetry;
    try {
      telemetry = valuesToTelemetry(r.values);
    } catch (error) {
      results[index] = { kind: "undecodable", detail: (error as Error).message };
      return;
    }
    if (!withinEnvelope(telemetry, model.metadata.envelope)) results[index] = { kind: "out-of-envelope" };
    else scorable.push({ index, telemetry });
  });
  if (scorable.length === 0) return results;
  const scores = await model.scoreTelemetryModes(scorable.map((s) => s.telemetry));
  scorable.forEach((s, i) => {
    const a = scores[i];
    results[s.index] = {
      kind: "scored",
      riskBps: scoreToBps(a.score),
      modeProbabilitiesBps: Object.fromEntries(model.metadata.outputs.map((mode) => [mode, scoreToBps(a.modeProbabilities[mode] ?? 0)])),
    };
  });
  return results;
}
