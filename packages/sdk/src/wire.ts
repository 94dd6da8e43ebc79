import { isAddress, isHexString } from "ethers";
import type { SignedReading } from "./eip712.ts";
import { InvalidInputError } from "./errors.ts";
import { checksumAddress } from "./recover.ts";

/**
 * The device → gateway wire format (docs/protocol.md, "Wire format"): MQTT topics and the JSON payload of one signed
 * reading. A device publishes each reading with QoS 1 to `triad/v1/{chainId}/{device}/readings`; the gateway answers
 * a refused reading on `triad/v1/{chainId}/{device}/rejections` with its seq and a reason code, and raises failure-risk
 * alerts on `triad/v1/{chainId}/{device}/alerts`. Integers are decimal strings, so no JSON parser loses precision.
 */

export const WIRE_TOPIC_ROOT = "triad/v1";

/** Largest payload a gateway accepts for one reading (a reading is ~300 bytes; this leaves room for long schemas). */
export const WIRE_MAX_PAYLOAD_BYTES = 4096;
/** Most values one reading may carry. */
export const WIRE_MAX_VALUES = 64;

export type WireChannel = "readings" | "rejections" | "alerts";

/** The topic of `device`'s `channel` on `chainId`; the device address is written in lower case. */
export function deviceTopic(chainId: bigint | number, device: string, channel: WireChannel): string {
  if (!isAddress(device)) throw new InvalidInputError(`not a device address: ${device}`, { device });
  return `${WIRE_TOPIC_ROOT}/${BigInt(chainId)}/${device.toLowerCase()}/${channel}`;
}

/** The subscription filter of every device's `channel` on `chainId` (MQTT single-level wildcard for the device). */
export function channelFilter(chainId: bigint | number, channel: WireChannel): string {
  return `${WIRE_TOPIC_ROOT}/${BigInt(chainId)}/+/${channel}`;
}

/**
 * Parses a topic of the wire format. The device may be checksummed or lower case; anything else (another root,
 * a malformed chain id or address, another channel, extra levels) gives `undefined`.
 */
export function parseDeviceTopic(topic: string): { chainId: bigint; device: string; channel: WireChannel } | undefined {
  const parts = topic.split("/");
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== WIRE_TOPIC_ROOT) return undefined;
  const [, , chain, device, channel] = parts;
  if (!/^[1-9]\d{0,19}$/.test(chain) || !/^0x[0-9a-fA-F]{40}$/.test(device)) return undefined;
  if (channel !== "readings" && channel !== "rejections" && channel !== "alerts") return undefined;
  let checksummed: string;
  try {
    // A mixed-case address must be a valid checksum; all-lower (or all-upper hex) is accepted as is.
    checksummed = checksumAddress(device);
  } catch {
    return undefined;
  }
  return { chainId: BigInt(chain), device: checksummed, channel };
}

/** The JSON object a device publishes for one reading. */
export interface WireReading {
  seq: string;
  timestamp: string;
  values: string[];
  signature: string;
}

/** The payload bytes of a signed reading (compact JSON, keys in this order). */
export function encodeWireReading(reading: SignedReading): Uint8Array {
  const wire: WireReading = {
    seq: reading.seq.toString(),
    timestamp: reading.timestamp.toString(),
    values: reading.values.map((v) => v.toString()),
    signature: reading.signature,
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

/** Why a gateway refuses a reading: the `reason` of a rejection message (docs/protocol.md, "Rejections"). */
export const REJECTION_REASONS = [
  "MALFORMED", // not JSON, wrong shape, out-of-range integers, oversize
  "WRONG_TOPIC", // not a readings topic of this gateway's chain
  "BAD_SIGNATURE", // the signature does not recover to the topic's device
  "UNKNOWN_DEVICE", // not registered in the DeviceRegistry
  "DEVICE_NOT_ACTIVE", // suspended or revoked
  "SCHEMA_MISMATCH", // wrong number of values, or values outside the device's sensor schema
  "SEQ_NOT_INCREASING", // seq at or below one already stored with other content
  "EQUIVOCATION", // a different reading signed for a seq already stored (recorded as evidence)
  "CLOCK_SKEW", // timestamp too far from the gateway's clock
  "UNAVAILABLE", // the gateway could not store it now (the device should retry)
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** The payload a gateway publishes on a device's rejections topic. */
export interface WireRejection {
  /** The refused reading's seq as a decimal string, when it could be read. */
  seq?: string;
  reason: RejectionReason;
  /** One human line. */
  detail: string;
}

export function encodeWireRejection(rejection: WireRejection): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(rejection));
}

/** A wire payload that cannot be read: `reason` is always "MALFORMED"; `seq` is set when it could be read. */
export class WireFormatError extends InvalidInputError {
  readonly reason: RejectionReason = "MALFORMED";
  constructor(
    message: string,
    readonly seq?: bigint,
  ) {
    super(message, seq === undefined ? {} : { seq: seq.toString() });
  }
}

const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL = /^-?(0|[1-9]\d{0,19})$/;

/**
 * Reads the payload of a reading published on `device`'s readings topic into a {@link SignedReading} (signature not
 * yet checked: that is {@link recoverReading}'s job with the registry's domain). Throws {@link WireFormatError} for
 * anything that is not exactly the wire shape: unknown or missing keys, integers that are not decimal strings or out
 * of range (seq and timestamp uint64, values int64), a signature that is not 65 bytes of hex, more than
 * {@link WIRE_MAX_VALUES} values or more than {@link WIRE_MAX_PAYLOAD_BYTES} bytes.
 */
export function parseWireReading(payload: Uint8Array, device: string): SignedReading {
  if (payload.length > WIRE_MAX_PAYLOAD_BYTES)
    throw new WireFormatError(`payload of ${payload.length} bytes exceeds ${WIRE_MAX_PAYLOAD_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw new WireFormatError("payload is not UTF-8 JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new WireFormatError("payload is not a JSON object");
  const obj = value as Record<string, unknown>;
  const seq = typeof obj.seq === "string" && DECIMAL.test(obj.seq) ? BigInt(obj.seq) : undefined;
  const fail = (message: string): never => {
    throw new WireFormatError(message, seq !== undefined && seq >= 0n && seq <= UINT64_MAX ? seq : undefined);
  };
  for (const key of Object.keys(obj)) if (!["seq", "timestamp", "values", "signature"].includes(key)) fail(`unknown field "${key}"`);
  const uint64 = (v: unknown, name: string): bigint => {
    if (typeof v !== "string" || !DECIMAL.test(v)) return fail(`${name} must be a decimal string`);
    const n = BigInt(v);
    if (n < 0n || n > UINT64_MAX) return fail(`${name} is outside uint64`);
    return n;
  };
  const seqValue = uint64(obj.seq, "seq");
  const timestamp = uint64(obj.timestamp, "timestamp");
  if (!Array.isArray(obj.values)) return fail("values must be an array");
  if (obj.values.length === 0 || obj.values.length > WIRE_MAX_VALUES) return fail(`values must hold 1 to ${WIRE_MAX_VALUES} entries`);
  const values = obj.values.map((v, i) => {
    if (typeof v !== "string" || !DECIMAL.test(v)) return fail(`values[${i}] must be a decimal string`);
    const n = BigInt(v);
    if (n < INT64_MIN || n > INT64_MAX) return fail(`values[${i}] is outside int64`);
    return n;
  });
  if (typeof obj.signature !== "string" || !isHexString(obj.signature, 65)) return fail("signature must be 65 bytes of 0x-hex");
  return { device: checksumAddress(device), seq: seqValue, timestamp, values, signature: obj.signature };
}
