/**
 * The failure monitor's state machine: per device, "calm" or "alerting", driven by the risk of each scored reading.
 * Pure and deterministic: the same scored readings in the same order give the same alerts (no clock, no I/O).
 *
 *   calm     ── risk ≥ raiseAtBps on `raiseAfter` consecutive scored readings ──▶ alerting   (alert "raised")
 *   alerting ── risk < clearAtBps on `clearAfter` consecutive scored readings ──▶ calm       (alert "cleared")
 *
 * `clearAtBps < raiseAtBps` is the hysteresis band: while alerting, a reading in [clearAtBps, raiseAtBps) restarts the
 * clear count, and while calm, a reading below raiseAtBps restarts the raise count, so a risk that hovers at one
 * threshold cannot make the state flap. Readings that were not scored (outside the model's telemetry envelope) are
 * not observed at all: they neither count towards nor break a run. A device's readings are observed in seq order;
 * a reading at or below the last observed seq of its device is ignored (a re-delivery), so replays are harmless.
 */
import { TriadError } from "@triad/sdk";

/** When a device's alert is raised and cleared. Risks are basis points of the model score (`scoreBps`, 0..10000). */
export interface AlertThresholds {
  /** Raise when the risk is at least this … */
  raiseAtBps: number;
  /** … on this many consecutive scored readings of the device (1 = at once). */
  raiseAfter: number;
  /** Clear when the risk is below this (strictly below raiseAtBps) … */
  clearAtBps: number;
  /** … on this many consecutive scored readings. */
  clearAfter: number;
}

/**
 * Defaults (packages/oracle/MODEL.md, "Live monitoring"): raise as soon as one reading's failure probability is at
 * least 50 %, because the shipped model recognises a failure condition on the reading that shows it and gives no
 * earlier warning, so each extra reading required only delays the alert (the claim threshold, 3110 bps, is tuned for
 * claims and raises more false alarms on a machine running inside its limits); clear after 5 consecutive readings
 * below 1500 bps, so a machine that hovers at a limit does not flap.
 */
export const DEFAULT_ALERT_THRESHOLDS: Readonly<AlertThresholds> = Object.freeze({
  raiseAtBps: 5000,
  raiseAfter: 1,
  clearAtBps: 1500,
  clearAfter: 5,
});

/** Most consecutive readings a threshold may ask for. */
export const MAX_CONSECUTIVE = 10_000;

/** Invalid thresholds: `problems` holds one line per bad field. */
export class AlertThresholdsError extends TriadError {
  override readonly name = "AlertThresholdsError";
  constructor(readonly problems: string[]) {
    super(`invalid alert thresholds: ${problems.join("; ")}`, "MONITOR_THRESHOLDS", { problems });
  }
}

/** The thresholds, checked: integers in range and clearAtBps < raiseAtBps. Throws {@link AlertThresholdsError}. */
export function validateAlertThresholds(thresholds: Partial<AlertThresholds> = {}): AlertThresholds {
  const t = { ...DEFAULT_ALERT_THRESHOLDS, ...thresholds };
  const problems: string[] = [];
  const check = (name: keyof AlertThresholds, min: number, max: number) => {
    const v = t[name];
    if (!Number.isInteger(v) || v < min || v > max) problems.push(`${name} must be a whole number in ${min}..${max}, got ${String(v)}`);
  };
  check("raiseAtBps", 1, 10_000);
  check("clearAtBps", 1, 10_000);
  check("raiseAfter", 1, MAX_CONSECUTIVE);
  check("clearAfter", 1, MAX_CONSECUTIVE);
  if (problems.length === 0 && t.clearAtBps >= t.raiseAtBps)
    problems.push(`clearAtBps (${t.clearAtBps}) must be below raiseAtBps (${t.raiseAtBps}): that gap is the hysteresis`);
  if (problems.length > 0) throw new AlertThresholdsError(problems);
  return { raiseAtBps: t.raiseAtBps, raiseAfter: t.raiseAfter, clearAtBps: t.clearAtBps, clearAfter: t.clearAfter };
}

/** One reading with the model's verdict on it. */
export interface ScoredReading {
  device: string;
  seq: bigint;
  /** The reading's own timestamp, unix seconds. */
  timestamp: bigint;
  /** `scoreBps` of the reading: floor(noisy-OR score × 10000). */
  riskBps: number;
  /** floor(p × 10000) of each output head, in the model's output order (e.g. HDF, PWF, OSF, TWF). */
  modeProbabilitiesBps: Readonly<Record<string, number>>;
}

export type AlertState = "raised" | "cleared";

/** A state change of one device (docs/protocol.md §5.3, "Alerts"; the wire form is `encodeAlert`). */
export interface Alert {
  device: string;
  state: AlertState;
  /** Risk of the reading that made the transition. */
  riskBps: number;
  /**
   * The dominant failure modes. Raised: the heads whose probability is at least raiseAtBps, most probable first, or
   * the most probable head when none is (several moderate heads). Cleared: those of the alert being cleared.
   */
  modes: string[];
  /** Every head's probability on the reading that made the transition. */
  modeProbabilitiesBps: Readonly<Record<string, number>>;
  seq: bigint;
  timestamp: bigint;
  thresholds: AlertThresholds;
  modelHash: string;
}

interface DeviceState {
  alerting: boolean;
  /** Consecutive readings on the way to the other state. */
  run: number;
  lastSeq: bigint;
  modes: string[];
}

/** The dominant failure modes of one reading (see {@link Alert.modes}). */
export function dominantModes(modeProbabilitiesBps: Readonly<Record<string, number>>, raiseAtBps: number): string[] {
  const ranked = Object.entries(modeProbabilitiesBps).sort(([, a], [, b]) => b - a); // stable: output order on ties
  const strong = ranked.filter(([, p]) => p >= raiseAtBps).map(([mode]) => mode);
  return strong.length > 0 ? strong : ranked.slice(0, 1).map(([mode]) => mode);
}

/** Per-device alert state (module comment). `observe` each scored reading; it returns the alert of a transition. */
export class FailureMonitor {
  readonly thresholds: AlertThresholds;
  readonly modelHash: string;
  private readonly devices = new Map<string, DeviceState>();
  private alertingCount = 0;

  constructor(options: { modelHash: string; thresholds?: Partial<AlertThresholds> }) {
    this.thresholds = validateAlertThresholds(options.thresholds);
    this.modelHash = options.modelHash;
  }

  /** Feeds one scored reading; returns the alert when the device changes state, otherwise undefined. */
  observe(reading: ScoredReading): Alert | undefined {
    const { raiseAtBps, raiseAfter, clearAtBps, clearAfter } = this.thresholds;
    let s = this.devices.get(reading.device);
    if (!s) {
      s = { alerting: false, run: 0, lastSeq: -1n, modes: [] };
      this.devices.set(reading.device, s);
    }
    if (reading.seq <= s.lastSeq) return undefined;
    s.lastSeq = reading.seq;
    if (!s.alerting) {
      s.run = reading.riskBps >= raiseAtBps ? s.run + 1 : 0;
      if (s.run < raiseAfter) return undefined;
      s.alerting = true;
      s.run = 0;
      s.modes = dominantModes(reading.modeProbabilitiesBps, raiseAtBps);
      this.alertingCount++;
      return this.alert(reading, "raised", s.modes);
    }
    s.run = reading.riskBps < clearAtBps ? s.run + 1 : 0;
    if (s.run < clearAfter) return undefined;
    const modes = s.modes;
    s.alerting = false;
    s.run = 0;
    s.modes = [];
    this.alertingCount--;
    return this.alert(reading, "cleared", modes);
  }

  /** The last seq observed for `device`, undefined before its first reading. */
  lastSeq(device: string): bigint | undefined {
    return this.devices.get(device)?.lastSeq;
  }

  /** Whether `device` is alerting now. */
  isAlerting(device: string): boolean {
    return this.devices.get(device)?.alerting ?? false;
  }

  /** Devices alerting now. */
  get devicesAlerting(): number {
    return this.alertingCount;
  }

  /** The devices alerting now with the modes of their alert. */
  alerting(): { device: string; modes: string[] }[] {
    return [...this.devices].filter(([, s]) => s.alerting).map(([device, s]) => ({ device, modes: [...s.modes] }));
  }

  private alert(reading: ScoredReading, state: AlertState, modes: string[]): Alert {
    return {
      device: reading.device,
      state,
      riskBps: reading.riskBps,
      modes: [...modes],
      modeProbabilitiesBps: { ...reading.modeProbabilitiesBps },
      seq: reading.seq,
      timestamp: reading.timestamp,
      thresholds: { ...this.thresholds },
      modelHash: this.modelHash,
    };
  }
}
