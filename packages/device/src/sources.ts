/**
 * Reading sources: async iterables of telemetry values for the device agent.
 *
 * - {@link ai4iCsvSource}: replays the rows of an AI4I 2020 CSV at a rate (optionally looping);
 * - {@link jsonLinesSource}: JSON lines on a stream (stdin), one reading per line;
 * - {@link simulatorSource}: the machine simulator ({@link MachineSimulator}).
 *
 * Every source yields {@link SourceReading}s; `values` are the `ai4i-2020/v1` integers the device signs.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { TriadError, WIRE_MAX_VALUES, parseAi4iCsv, telemetryToValues, type Ai4iTelemetry } from "@triad/sdk";
import { MachineSimulator, type GroundTruth, type SimulatorOptions } from "./simulator.ts";

export interface SourceReading {
  values: bigint[];
  /** The telemetry in physical units, when the source knows it. */
  telemetry?: Ai4iTelemetry;
  /** The machine's ground truth (simulator) or the data set's label (AI4I replay). */
  truth?: Pick<GroundTruth, "failure" | "modes"> & Partial<GroundTruth>;
}

export type ReadingSource = AsyncIterable<SourceReading>;

export interface PacingOptions {
  /** Readings per second; 0 or undefined = as fast as the consumer takes them. */
  rate?: number;
  /** Stop after this many readings (default: the source's end, or never for endless sources). */
  count?: number;
  /** Stop early when aborted (the iteration ends normally). */
  signal?: AbortSignal;
}

/**
 * Paces an iterable at `rate` per second on a fixed schedule (reading i is due at start + i/rate, so a slow consumer
 * does not make the series drift; a consumer that fell behind gets the overdue readings at once).
 */
export async function* paced<T>(items: Iterable<T> | AsyncIterable<T>, options: PacingOptions = {}): AsyncGenerator<T> {
  const { rate, count, signal } = options;
  if (rate !== undefined && !(rate >= 0 && Number.isFinite(rate))) throw new RangeError(`rate must be a non-negative number, got ${rate}`);
  if (count !== undefined && !(Number.isInteger(count) && count >= 0))
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  const start = performance.now();
  let i = 0;
  for await (const item of items) {
    if (signal?.aborted || (count !== undefined && i >= count)) return;
    if (rate) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal });
        } catch {
          return; // aborted
        }
      }
    }
    i++;
    yield item;
  }
}

/** The machine simulator as a source (endless unless `count` is given); each reading carries the ground truth. */
export function simulatorSource(options: SimulatorOptions & PacingOptions = {}): ReadingSource {
  const sim = new MachineSimulator(options);
  function* steps(): Generator<SourceReading> {
    for (const s of sim) yield { values: telemetryToValues(s.telemetry), telemetry: s.telemetry, truth: s.truth };
  }
  return paced(steps(), options);
}

/** Replays an AI4I 2020 CSV (`file` or `text`) in row order, at `rate`, optionally looping; the label is the truth. */
export function ai4iCsvSource(
  options: ({ file: string } | { text: string; name?: string }) & PacingOptions & { loop?: boolean },
): ReadingSource {
  const rows =
    "file" in options ? parseAi4iCsv(readFileSync(options.file, "utf8"), options.file) : parseAi4iCsv(options.text, options.name ?? "CSV");
  if (rows.length === 0) throw new TriadError("the AI4I CSV has no rows", "INVALID_INPUT");
  function* all(): Generator<SourceReading> {
    do {
      for (const row of rows) {
        yield {
          values: telemetryToValues(row),
          telemetry: row,
          truth: {
            failure: row.failure === 1,
            modes: { TWF: !!row.modes.TWF, HDF: !!row.modes.HDF, PWF: !!row.modes.PWF, OSF: !!row.modes.OSF, RNF: !!row.modes.RNF },
          },
        };
      }
    } while (options.loop);
  }
  return paced(all(), options);
}

/** A bad line of a JSON-lines source: its 1-based line number and why. */
export class JsonLineError extends TriadError {
  override readonly name = "JsonLineError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`, "INVALID_INPUT", { line });
  }
}

const DECIMAL = /^-?(0|[1-9]\d{0,19})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Reads one JSON line into a reading. Accepted shapes:
 * - `{"values": ["298100", "308600", …]}` or a bare array `["298100", …]`: the signed integers, as decimal strings
 *   or safe JavaScript integers (1 to 64 values, int64);
 * - `{"airTempK": 298.1, "processTempK": 308.6, "rpm": 1551, "torqueNm": 42.8, "toolWearMin": 0, "variant": "M"}`:
 *   `ai4i-2020/v1` telemetry in physical units.
 */
export function parseJsonLine(text: string, line: number): SourceReading {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JsonLineError(line, "not valid JSON");
  }
  const fail = (reason: string): never => {
    throw new JsonLineError(line, reason);
  };
  const toValues = (arr: unknown[]): bigint[] => {
    if (arr.length === 0 || arr.length > WIRE_MAX_VALUES)
      return fail(`values must hold 1 to ${WIRE_MAX_VALUES} entries, got ${arr.length}`);
    return arr.map((v, i) => {
      let n: bigint;
      if (typeof v === "string" && DECIMAL.test(v)) n = BigInt(v);
      else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
      else return fail(`values[${i}] must be an integer (decimal string or safe integer), got ${JSON.stringify(v)}`);
      if (n < INT64_MIN || n > INT64_MAX) return fail(`values[${i}] is outside int64`);
      return n;
    });
  };
  if (Array.isArray(value)) return { values: toValues(value) };
  if (typeof value !== "object" || value === null) return fail("expected an object or an array");
  const obj = value as Record<string, unknown>;
  if ("values" in obj) {
    if (!Array.isArray(obj.values)) return fail('"values" must be an array');
    return { values: toValues(obj.values) };
  }
  const fields = ["airTempK", "processTempK", "rpm", "torqueNm", "toolWearMin"] as const;
  const missing = [...fields, "variant"].filter((f) => !(f in obj));
  if (missing.length > 0) return fail(`expected "values" or the telemetry fields; missing ${missing.join(", ")}`);
  for (const f of fields) {
    if (typeof obj[f] !== "number" || !Number.isFinite(obj[f])) fail(`"${f}" must be a finite number`);
    if ((obj[f] as number) < 0) fail(`"${f}" must not be negative`);
  }
  if (obj.variant !== "L" && obj.variant !== "M" && obj.variant !== "H") return fail('"variant" must be "L", "M" or "H"');
  const telemetry = obj as unknown as Ai4iTelemetry;
  return { values: telemetryToValues(telemetry), telemetry };
}

export interface JsonLinesOptions extends PacingOptions {
  /**
   * What a bad line does: "stop" (default) ends the source with a {@link JsonLineError} naming the line — nothing is
   * silently lost; "skip" reports it to `onError` and goes on with the next line. Blank lines are always ignored.
   */
  onBadLine?: "stop" | "skip";
  onError?: (error: JsonLineError) => void;
}

/** JSON lines from a stream (e.g. `process.stdin`), one reading per line (see {@link parseJsonLine}). */
export function jsonLinesSource(stream: Readable, options: JsonLinesOptions = {}): ReadingSource {
  const policy = options.onBadLine ?? "stop";
  async function* lines(): AsyncGenerator<SourceReading> {
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    let n = 0;
    try {
      for await (const text of rl) {
        n++;
        if (text.trim() === "") continue;
        try {
          yield parseJsonLine(text, n);
        } catch (error) {
          if (!(error instanceof JsonLineError)) throw error;
          if (policy === "stop") throw error;
          options.onError?.(error);
        }
      }
    } finally {
      rl.close();
    }
  }
  return paced(lines(), options);
}
