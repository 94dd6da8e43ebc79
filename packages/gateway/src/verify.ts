/**
 * Verification of one MQTT message as a reading: a pure stage (no I/O, no clock of its own) returning a
 * discriminated union, so the ingest, the tests and a future replay tool decide the same way.
 *
 * Checks, in order (the first failing one is the reason, docs/protocol.md "Rejections"):
 *   WRONG_TOPIC        the topic is not a readings topic of this gateway's chain
 *   MALFORMED          the payload is not the wire reading (`parseWireReading`), oversize included
 *   BAD_SIGNATURE      the EIP-712 signature (registry domain) does not recover to the topic's device
 *   UNKNOWN_DEVICE     not registered in the DeviceRegistry
 *   DEVICE_NOT_ACTIVE  suspended or revoked
 *   SCHEMA_MISMATCH    the device's sensor schema is not served, or the value count / a value's range is wrong
 *   CLOCK_SKEW         the timestamp is further than the allowed skew from the gateway's clock
 * Sequence numbers (SEQ_NOT_INCREASING: more than the reorder window below the last stored seq), duplicates and
 * EQUIVOCATION are decided by the store, atomically with the insert (./store/types.ts).
 *
 * The signature check is `recoverReading` of the SDK, written out as `recoverSigner(readingDigest(…))` so the digest
 * (the anchor's leaf) is computed once. Import "@triad/sdk/node" once in the process for native secp256k1.
 *
 * Stage 1 (`checkEnvelope`: topic, wire format, signature) needs no registry and is most of the CPU; the ingest runs
 * it on worker threads (./verify-pool.ts). Stage 2 (`checkReading`) needs the registry cache and runs in the ingest.
 */
import type { TypedDataDomain } from "ethers";
import {
  parseDeviceTopic,
  parseWireReading,
  readingDigest,
  recoverSigner,
  sensorSchemaId,
  WireFormatError,
  type RejectionReason,
  type SignedReading,
} from "@triad/sdk";
import type { ValueRange } from "./config.ts";
import type { DeviceState } from "./registry-cache.ts";

export interface VerifiedReading extends SignedReading {
  digest: string;
}

export type Verification =
  { ok: true; reading: VerifiedReading } | { ok: false; reason: RejectionReason; detail: string; seq?: bigint; device?: string };

export interface SchemaRule {
  name: string;
  ranges: readonly ValueRange[];
}

export interface VerifyContext {
  chainId: bigint;
  /** The DeviceRegistry's EIP-712 domain. */
  domain: TypedDataDomain;
  /** The registry state of a device: a state, null (not registered) or undefined (not known to the caller yet). */
  device(address: string): DeviceState | null | undefined;
  /** Sensor schema rules by on-chain schema id (keccak256 of the name). */
  schemas: ReadonlyMap<string, SchemaRule>;
  /** The gateway's clock, seconds since the epoch. */
  nowSeconds: number;
  maxClockSkewSeconds: number;
}

/** Schema rules keyed by on-chain id from rules keyed by schema name (the configuration's value ranges). */
export function schemaRules(valueRanges: Record<string, readonly ValueRange[]>): Map<string, SchemaRule> {
  return new Map(Object.entries(valueRanges).map(([name, ranges]) => [sensorSchemaId(name).toLowerCase(), { name, ranges }]));
}

/** The verdict of stage 1: a reading whose signature is the topic's device's, or the first failing check. */
export type Envelope = { ok: true; reading: VerifiedReading } | Extract<Verification, { ok: false }>;

/** Stage 1 (no registry): topic, wire format, signature. */
export function checkEnvelope(topic: string, payload: Uint8Array, ctx: Pick<VerifyContext, "chainId" | "domain">): Envelope {
  const parsed = parseDeviceTopic(topic);
  if (!parsed || parsed.channel !== "readings" || parsed.chainId !== ctx.chainId) {
    const why = !parsed
      ? "not a triad/v1/{chainId}/{device}/readings topic"
      : parsed.chainId !== ctx.chainId
        ? `chain ${parsed.chainId} is not this gateway's chain ${ctx.chainId}`
        : `devices publish readings, not ${parsed.channel}`;
    return { ok: false, reason: "WRONG_TOPIC", detail: why, device: parsed?.device };
  }
  const device = parsed.device;
  let reading: SignedReading;
  try {
    reading = parseWireReading(payload, device);
  } catch (error) {
    if (error instanceof WireFormatError) return { ok: false, reason: "MALFORMED", detail: error.message, seq: error.seq, device };
    return { ok: false, reason: "MALFORMED", detail: String((error as Error)?.message ?? error), device };
  }
  let digest: string;
  let signer: string;
  try {
    digest = readingDigest(ctx.domain, reading);
    signer = recoverSigner(digest, reading.signature);
  } catch (error) {
    return {
      ok: false,
      reason: "BAD_SIGNATURE",
      detail: `signature does not recover: ${(error as Error)?.message ?? error}`.slice(0, 200),
      seq: reading.seq,
      device,
    };
  }
  if (signer !== device) {
    return {
      ok: false,
      reason: "BAD_SIGNATURE",
      detail: `signed by ${signer}, not by the topic's device ${device}`,
      seq: reading.seq,
      device,
    };
  }
  return { ok: true, reading: { ...reading, digest } };
}

/** Stage 2: registry state, schema and value ranges, clock skew. */
export function checkReading(
  reading: VerifiedReading,
  state: DeviceState | null | undefined,
  ctx: Omit<VerifyContext, "device">,
): Verification {
  const { seq, device } = reading;
  if (state === undefined) return { ok: false, reason: "UNAVAILABLE", detail: "the device's registry state is not known yet", seq, device };
  if (state === null)
    return { ok: false, reason: "UNKNOWN_DEVICE", detail: `${device} is not registered in the DeviceRegistry`, seq, device };
  if (state.status !== "Active") return { ok: false, reason: "DEVICE_NOT_ACTIVE", detail: `${device} is ${state.status}`, seq, device };
  const rule = ctx.schemas.get(state.sensorSchema.toLowerCase());
  if (!rule)
    return {
      ok: false,
      reason: "SCHEMA_MISMATCH",
      detail: `sensor schema ${state.sensorSchema} is not served by this gateway`,
      seq,
      device,
    };
  if (reading.values.length !== rule.ranges.length) {
    return {
      ok: false,
      reason: "SCHEMA_MISMATCH",
      detail: `${rule.name} has ${rule.ranges.length} values, got ${reading.values.length}`,
      seq,
      device,
    };
  }
  for (let i = 0; i < rule.ranges.length; i++) {
    const [min, max] = rule.ranges[i];
    const v = reading.values[i];
    if (v < min || v > max)
      return { ok: false, reason: "SCHEMA_MISMATCH", detail: `${rule.name} values[${i}] = ${v} is outside [${min}, ${max}]`, seq, device };
  }
  const skew = Number(reading.timestamp) - ctx.nowSeconds;
  if (!Number.isFinite(skew) || Math.abs(skew) > ctx.maxClockSkewSeconds) {
    return {
      ok: false,
      reason: "CLOCK_SKEW",
      detail: `timestamp ${reading.timestamp} is ${skew > 0 ? "ahead of" : "behind"} the gateway's clock by ${Math.abs(skew)} s (allowed ${ctx.maxClockSkewSeconds} s)`,
      seq,
      device,
    };
  }
  return { ok: true, reading };
}

/** Both stages: the verdict on one message, given the registry state of its device in `ctx.device`. */
export function verifyReading(topic: string, payload: Uint8Array, ctx: VerifyContext): Verification {
  const envelope = checkEnvelope(topic, payload, ctx);
  if (!envelope.ok) return envelope;
  return checkReading(envelope.reading, ctx.device(envelope.reading.device), ctx);
}
