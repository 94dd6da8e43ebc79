/**
 * The model-backed monitor: score a batch of readings in one predict call (./scoring.ts), then feed the scored ones,
 * in input order, to the per-device state machine (./hysteresis.ts). Batches are processed one after the other even
 * when `process` is called concurrently, so the alerts depend only on the order of the readings.
 */
import type { AlertThresholds } from "./hysteresis.ts";
import { FailureMonitor, type Alert } from "./hysteresis.ts";
import { scoreReadings, type MonitorModel, type MonitorReading, type ReadingScore } from "./scoring.ts";

/** What happened to one reading of a batch. */
export type MonitorOutcome =
  | { kind: "scored"; riskBps: number; alert?: Alert }
  | { kind: "out-of-envelope" }
  | { kind: "undecodable"; detail: string }
  /** At or below the last seq already observed for its device (a re-delivery): scored, not observed. */
  | { kind: "stale"; riskBps: number };

export interface MonitorBatchReport {
  /** One per input reading, in input order. */
  outcomes: MonitorOutcome[];
  /** The transitions of the batch, in reading order. */
  alerts: Alert[];
  scored: number;
  outOfEnvelope: number;
  undecodable: number;
  /** Wall time of the predict call and decoding (0 when nothing was scorable), seconds. */
  scoreSeconds: number;
}

export class ModelMonitor {
  readonly state: FailureMonitor;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly model: MonitorModel,
    thresholds?: Partial<AlertThresholds>,
  ) {
    this.state = new FailureMonitor({ modelHash: model.modelHash, thresholds });
  }

  get modelHash(): string {
    return this.model.modelHash;
  }

  /** Scores `readings` (one predict call) and observes them in order; resolves with the batch's report. */
  process(readings: readonly MonitorReading[]): Promise<MonitorBatchReport> {
    const run = this.tail.then(() => this.run(readings));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async run(readings: readonly MonitorReading[]): Promise<MonitorBatchReport> {
    const started = performance.now();
    const scores: ReadingScore[] = await scoreReadings(this.model, readings);
    const scoreSeconds = (performance.now() - started) / 1000;
    const report: MonitorBatchReport = { outcomes: [], alerts: [], scored: 0, outOfEnvelope: 0, undecodable: 0, scoreSeconds };
    readings.forEach((r, i) => {
      const s = scores[i];
      if (s.kind === "out-of-envelope") {
        report.outOfEnvelope++;
        report.outcomes.push(s);
        return;
      }
      if (s.kind === "undecodable") {
        report.undecodable++;
        report.outcomes.push(s);
        return;
      }
      report.scored++;
      const before = this.state.lastSeq(r.device);
      if (before !== undefined && r.seq <= before) {
        report.outcomes.push({ kind: "stale", riskBps: s.riskBps });
        return;
      }
      const alert = this.state.observe({ device: r.device, seq: r.seq, timestamp: r.timestamp, ...s });
      if (alert) report.alerts.push(alert);
      report.outcomes.push(alert ? { kind: "scored", riskBps: s.riskBps, alert } : { kind: "scored", riskBps: s.riskBps });
    });
    return report;
  }
}
