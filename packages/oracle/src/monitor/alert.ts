/**
 * The wire form of an alert (docs/protocol.md §5.3, "Alerts"): one compact UTF-8 JSON object, published with QoS 1 on
 * `triad/v1/{chainId}/{device}/alerts` and POSTed as is to an alert webhook. `seq` and `timestamp` are uint64 and
 * travel as decimal strings like every wire integer that may exceed 2^53; basis points and counts are small JSON
 * numbers.
 */
import { getAddress, isAddress, isHexString } from "ethers";
import { InvalidInputError } from "@triad/sdk";
import { validateAlertThresholds, type Alert, type AlertThresholds } from "./hysteresis.ts";

export const ALERT_SCHEMA = "triad.alert/v1";

/** The JSON object of an alert, keys in this order. */
export interface WireAlert {
  schema: typeof ALERT_SCHEMA;
  device: string;
  state: Alert["state"];
  riskBps: number;
  modes: string[];
  modeProbabilitiesBps: Record<string, number>;
  seq: string;
  timestamp: string;
  thresholds: AlertThresholds;
  modelHash: string;
}

export function alertToWire(alert: Alert): WireAlert {
  return {
    schema: ALERT_SCHEMA,
    device: alert.device,
    state: alert.state,
    riskBps: alert.riskBps,
    modes: [...alert.modes],
    modeProbabilitiesBps: { ...alert.modeProbabilitiesBps },
    seq: alert.seq.toString(),
    timestamp: alert.timestamp.toString(),
    thresholds: { ...alert.thresholds },
    modelHash: alert.modelHash,
  };
}

/** The payload bytes of an alert (the MQTT payload and the webhook body). */
export function encodeAlert(alert: Alert): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(alertToWire(alert)));
}

const UINT = /^(0|[1-9]\d{0,19})$/;
const KEYS = ["schema", "device", "state", "riskBps", "modes", "modeProbabilitiesBps", "seq", "timestamp", "thresholds", "modelHash"];

/** Reads an alert payload (a subscriber's side). Throws InvalidInputError for anything but the exact wire shape. */
export function parseAlert(payload: Uint8Array | string): Alert {
  const fail = (message: string): never => {
    throw new InvalidInputError(`not a ${ALERT_SCHEMA} alert: ${message}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === "string" ? payload : new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    return fail("not UTF-8 JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("not a JSON object");
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!KEYS.includes(key)) fail(`unknown field "${key}"`);
  for (const key of KEYS) if (!(key in o)) fail(`missing field "${key}"`);
  if (o.schema !== ALERT_SCHEMA) fail(`schema must be "${ALERT_SCHEMA}"`);
  if (typeof o.device !== "string" || !isAddress(o.device)) fail("device must be an address");
  if (o.state !== "raised" && o.state !== "cleared") fail('state must be "raised" or "cleared"');
  const bps = (v: unknown, name: string): number =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 10_000 ? (v as number) : fail(`${name} must be 0..10000`);
  const riskBps = bps(o.riskBps, "riskBps");
  if (!Array.isArray(o.modes) || !o.modes.every((m) => typeof m === "string")) fail("modes must be an array of strings");
  const probs = o.modeProbabilitiesBps;
  if (typeof probs !== "object" || probs === null || Array.isArray(probs)) return fail("modeProbabilitiesBps must be an object");
  const modeProbabilitiesBps = Object.fromEntries(Object.entries(probs).map(([k, v]) => [k, bps(v, `modeProbabilitiesBps.${k}`)]));
  const uint = (v: unknown, name: string): bigint =>
    typeof v === "string" && UINT.test(v) ? BigInt(v) : fail(`${name} must be a decimal string`);
  const seq = uint(o.seq, "seq");
  const timestamp = uint(o.timestamp, "timestamp");
  const t = o.thresholds;
  if (typeof t !== "object" || t === null || Array.isArray(t)) return fail("thresholds must be an object");
  const keys = Object.keys(t).sort().join(",");
  if (keys !== "clearAfter,clearAtBps,raiseAfter,raiseAtBps") fail("thresholds must hold raiseAtBps, raiseAfter, clearAtBps, clearAfter");
  let thresholds: AlertThresholds;
  try {
    thresholds = validateAlertThresholds(t as AlertThresholds);
  } catch (error) {
    return fail((error as Error).message);
  }
  if (typeof o.modelHash !== "string" || !isHexString(o.modelHash, 32)) fail("modelHash must be 32 bytes of 0x-hex");
  return {
    device: getAddress(o.device as string),
    state: o.state as Alert["state"],
    riskBps,
    modes: [...(o.modes as string[])],
    modeProbabilitiesBps,
    seq,
    timestamp,
    thresholds,
    modelHash: o.modelHash as string,
  };
}
