import { getAddress, hashMessage, isAddress, isHexString } from "ethers";
import { InvalidInputError } from "./errors.ts";
import { recoverSigner } from "./recover.ts";
import type { WireReading } from "./wire.ts";

/**
 * Live marketplace streams (docs/protocol.md §13.4): the stream manifest a Stream listing sells, the challenge a
 * subscriber signs to open a stream at a gateway, and the Server-Sent Events the gateway sends. Shared by the gateway
 * (`@triad/gateway`, which checks the signature) and the subscriber client (./stream-client.ts).
 */

/** The `schema` of a stream manifest. */
export const STREAM_MANIFEST_SCHEMA = "triad.stream/v1";

/** What a Stream listing's manifest says (its plaintext is delivered encrypted like a dataset file). */
export interface StreamManifest {
  schema: typeof STREAM_MANIFEST_SCHEMA;
  /** Base URL (http or https) of the gateway serving the stream: the client adds `/v1/streams/{listingId}`. */
  gateway: string;
  /** The devices streamed (EIP-55): the listing's devices. */
  devices: string[];
  /** Sensor schema id string of the readings, when given (e.g. "ai4i-2020/v1"). */
  sensorSchema?: string;
}

/**
 * The manifest's plaintext bytes (UTF-8 JSON). One device is written as `device`, several as `devices`; its
 * keccak256 is the listing's `contentHash`.
 */
export function buildStreamManifest(params: { gateway: string; devices: readonly string[]; sensorSchema?: string }): Uint8Array {
  const manifest = parseStreamManifest({
    schema: STREAM_MANIFEST_SCHEMA,
    gateway: params.gateway,
    ...(params.devices.length === 1 ? { device: params.devices[0] } : { devices: params.devices }),
    ...(params.sensorSchema === undefined ? {} : { sensorSchema: params.sensorSchema }),
  });
  const { devices, ...rest } = manifest;
  const body = devices.length === 1 ? { ...rest, device: devices[0] } : { ...rest, devices };
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * Reads a stream manifest (bytes, JSON text or a parsed object). Throws `InvalidInputError` naming the first problem:
 * another schema, a gateway that is not an http(s) URL, not exactly one of `device` / `devices` (1..16 distinct
 * addresses), unknown fields.
 */
export function parseStreamManifest(input: Uint8Array | string | object): StreamManifest {
  let value: unknown = input;
  if (typeof input === "string" || input instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: true }).decode(input));
    } catch {
      throw new InvalidInputError("the stream manifest is not UTF-8 JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InvalidInputError("the stream manifest is not a JSON object");
  const m = value as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    if (!["schema", "gateway", "device", "devices", "sensorSchema"].includes(key)) {
      throw new InvalidInputError(`the stream manifest has an unknown field "${key.slice(0, 40)}"`);
    }
  }
  if (m.schema !== STREAM_MANIFEST_SCHEMA) throw new InvalidInputError(`the stream manifest's schema must be "${STREAM_MANIFEST_SCHEMA}"`);
  let gateway: URL | undefined;
  try {
    gateway = typeof m.gateway === "string" ? new URL(m.gateway) : undefined;
  } catch {
    gateway = undefined;
  }
  if (!gateway || (gateway.protocol !== "http:" && gateway.protocol !== "https:")) {
    throw new InvalidInputError("the stream manifest's gateway must be an http or https URL");
  }
  if ((m.device === undefined) === (m.devices === undefined)) {
    throw new InvalidInputError('the stream manifest must have exactly one of "device" and "devices"');
  }
  const list = m.device !== undefined ? [m.device] : m.devices;
  if (!Array.isArray(list) || list.length === 0 || list.length > 16)
    throw new InvalidInputError("the stream manifest must name 1 to 16 devices");
  const devices = list.map((d) => {
    if (typeof d !== "string" || !isAddress(d))
      throw new InvalidInputError(`the stream manifest names "${String(d).slice(0, 60)}", not a device address`);
    return getAddress(d);
  });
  if (new Set(devices).size !== devices.length) throw new InvalidInputError("the stream manifest names a device twice");
  if (m.sensorSchema !== undefined && (typeof m.sensorSchema !== "string" || m.sensorSchema === "")) {
    throw new InvalidInputError("the stream manifest's sensorSchema must be a non-empty string");
  }
  return {
    schema: STREAM_MANIFEST_SCHEMA,
    gateway: m.gateway as string,
    devices,
    ...(m.sensorSchema === undefined ? {} : { sensorSchema: m.sensorSchema as string }),
  };
}

// ------------------------------------------------------------------ challenge

/** What a subscriber signs to open a stream: a gateway's single-use challenge bound to these fields. */
export interface StreamChallenge {
  /** The gateway's chain. */
  chainId: bigint;
  /** The DataMarketplace the gateway checks access at. */
  marketplace: string;
  listingId: bigint;
  subscriber: string;
  /** The gateway's random nonce: 32 bytes, 0x-hex. */
  challenge: string;
  /** Unix seconds after which the gateway no longer accepts it. */
  expiresAt: bigint;
}

/** The first line of every challenge message (what a wallet shows first). */
export const STREAM_CHALLENGE_TITLE = "Triad stream subscription";

/**
 * The exact text signed (EIP-191 `personal_sign`, ethers `signMessage`) to open a stream: seven lines separated by
 * "\n", no trailing newline, addresses EIP-55, integers decimal, the challenge lower-case hex.
 */
export function streamChallengeMessage(c: StreamChallenge): string {
  if (!isHexString(c.challenge, 32)) throw new InvalidInputError("a stream challenge is 32 bytes of 0x-hex", { challenge: c.challenge });
  return [
    STREAM_CHALLENGE_TITLE,
    `Chain: ${BigInt(c.chainId)}`,
    `Marketplace: ${getAddress(c.marketplace)}`,
    `Listing: ${BigInt(c.listingId)}`,
    `Subscriber: ${getAddress(c.subscriber)}`,
    `Challenge: ${c.challenge.toLowerCase()}`,
    `Expires: ${BigInt(c.expiresAt)}`,
  ].join("\n");
}

/** The address that signed a challenge message (EIP-191); throws on a malformed signature. */
export function recoverStreamChallenge(c: StreamChallenge, signature: string): string {
  return recoverSigner(hashMessage(streamChallengeMessage(c)), signature);
}

// ------------------------------------------------------------------ events

/** Answer of `GET /v1/streams/{listingId}/challenge?subscriber=…` (integers as decimal strings). */
export interface StreamChallengeResponse {
  challenge: string;
  expiresAt: string;
  chainId: string;
  marketplace: string;
  registry: string;
  listingId: string;
  subscriber: string;
  /** The text to sign, for clients that do not build it (the SDK rebuilds it from the fields above). */
  message: string;
}

/** Data of the first event (`event: open`) of an accepted stream. */
export interface StreamOpenEvent {
  listingId: string;
  subscriber: string;
  chainId: string;
  /** The DeviceRegistry whose EIP-712 domain the readings are signed in. */
  registry: string;
  marketplace: string;
  /** The listing's devices: the only ones whose readings the stream carries. */
  devices: string[];
  /** The subscriber's access expiry at opening (unix seconds): the stream ends then unless renewed. */
  accessExpiry: string;
  /** How often, at most, the gateway re-checks access (seconds). */
  recheckSeconds: number;
}

/** Data of an `event: reading`: the signed reading in its wire form (§5.3) and its device. */
export interface StreamReadingEvent {
  device: string;
  reading: WireReading;
}

/** Why a gateway ends a stream (`event: end`). */
export const STREAM_END_REASONS = ["expired", "revoked", "stopping", "slow", "unavailable"] as const;
export type StreamEndReason = (typeof STREAM_END_REASONS)[number];

/** Data of the last event (`event: end`). */
export interface StreamEndEvent {
  reason: StreamEndReason;
  detail: string;
}

/** Codes of a refused stream request (the JSON body `{ error, code }`), by HTTP status. */
export const STREAM_REFUSAL_CODES = {
  BAD_REQUEST: 400,
  UNKNOWN_CHALLENGE: 401,
  CHALLENGE_EXPIRED: 401,
  BAD_SIGNATURE: 401,
  NO_ACCESS: 403,
  NOT_FOUND: 404,
  UNKNOWN_LISTING: 404,
  NOT_A_STREAM: 404,
  METHOD_NOT_ALLOWED: 405,
  MARKETPLACE_NOT_CONFIGURED: 503,
  STREAMS_FULL: 503,
  CHAIN_UNAVAILABLE: 503,
  STOPPING: 503,
} as const;
export type StreamRefusalCode = keyof typeof STREAM_REFUSAL_CODES;
