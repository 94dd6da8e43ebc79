import { TypedDataEncoder, concat, getAddress, isAddress, keccak256, type TypedDataDomain } from "ethers";
import { recoverSigner } from "./recover.ts";
import { AI4I_SCHEMA } from "./ai4i.ts";
import { READING_TYPES, deviceRegistryDomain, type SignedReading } from "./eip712.ts";
import { InvalidInputError, TriadError } from "./errors.ts";

/**
 * Evidence bundles (docs/protocol.md §7): the JSON file a claimant files with a claim. Its hash is
 * keccak256 over the exact file bytes, so the tasks BUILD bundles with {@link buildEvidenceBundle} +
 * {@link serializeEvidence} and the oracle PARSES the bytes it fetched with {@link parseEvidence} and checks them with
 * {@link verifyEvidenceReadings}.
 */

export const EVIDENCE_SCHEMA = "triad.evidence/v1";

/** One reading as it appears in a bundle: int64 values as decimal strings, seq and timestamp as JSON integers. */
export interface EvidenceReading {
  seq: number;
  timestamp: number;
  values: string[];
  signature: string;
}

/** A `triad.evidence/v1` bundle, field for field as in docs/protocol.md §7. */
export interface EvidenceBundle {
  schema: typeof EVIDENCE_SCHEMA;
  chainId: number;
  /** The DeviceRegistry whose EIP-712 domain the readings are signed in. */
  registry: string;
  device: string;
  sensorSchema: string;
  incidentAt: number;
  readings: EvidenceReading[];
}

/**
 * Why a bundle (or the claim it backs) is invalid. The oracle rejects the claim with the reason; operators see it in
 * logs and in the `triad_oracle_evidence_failures_total{reason}` metric.
 */
export type EvidenceFailureReason =
  // fetching (oracle/src/evidence.ts)
  | "URI_NOT_ALLOWED"
  | "FETCH_UNREACHABLE"
  | "FETCH_TIMEOUT"
  | "FETCH_HTTP_STATUS"
  | "TOO_LARGE"
  // the bytes
  | "HASH_MISMATCH"
  | "MALFORMED_JSON"
  | "WRONG_SCHEMA"
  | "MISSING_SIGNATURE"
  // the readings against the chain's records
  | "SENSOR_SCHEMA_MISMATCH"
  | "WRONG_DOMAIN"
  | "INCIDENT_MISMATCH"
  | "DEVICE_MISMATCH"
  | "DEVICE_NOT_ACTIVE"
  | "SEQ_NOT_INCREASING"
  | "OUTSIDE_POLICY_PERIOD"
  | "INVALID_VALUES"
  | "BAD_SIGNATURE"
  // the model could not use the readings
  | "NO_READINGS_IN_WINDOW";

/** Evidence that cannot support a claim; `reason` is the machine-readable code, `message` one line for people. */
export class EvidenceError extends TriadError {
  override readonly name = "EvidenceError";
  constructor(
    readonly reason: EvidenceFailureReason,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, "EVIDENCE_INVALID", { reason, ...details }, options);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

// ------------------------------------------------------------------ building

/**
 * A bundle from device-signed readings (for example from `signAi4iRows`). All readings must be the same device's;
 * seq and timestamp must fit in a JSON-safe integer.
 */
export function buildEvidenceBundle(args: {
  chainId: bigint | number;
  registry: string;
  incidentAt: bigint | number;
  readings: readonly SignedReading[];
  /** Defaults to the readings' device. */
  device?: string;
  sensorSchema?: string;
}): EvidenceBundle {
  const device = args.device ?? args.readings[0]?.device;
  if (!device || !isAddress(device)) throw new InvalidInputError("an evidence bundle needs a device address (or at least one reading)");
  const readings = args.readings.map((r, i): EvidenceReading => {
    if (getAddress(r.device) !== getAddress(device)) {
      throw new InvalidInputError(`reading ${i} is from device ${r.device}, the bundle is for ${device}`, { index: i });
    }
    return {
      seq: safeInteger(r.seq, `reading ${i} seq`),
      timestamp: safeInteger(r.timestamp, `reading ${i} timestamp`),
      values: r.values.map(String),
      signature: r.signature,
    };
  });
  return {
    schema: EVIDENCE_SCHEMA,
    chainId: safeInteger(args.chainId, "chainId"),
    registry: getAddress(args.registry),
    device: getAddress(device),
    sensorSchema: args.sensorSchema ?? AI4I_SCHEMA,
    incidentAt: safeInteger(args.incidentAt, "incidentAt"),
    readings,
  };
}

function safeInteger(value: bigint | number, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidInputError(`${what} must be a non-negative integer below 2^53, got ${value}`);
  return n;
}

/**
 * The bundle's canonical bytes: compact JSON (UTF-8), keys in the order of docs/protocol.md §7. The same bundle always
 * serialises to the same bytes, hence to the same {@link evidenceHash}.
 */
export function serializeEvidence(bundle: EvidenceBundle): Uint8Array {
  const canonical = {
    schema: bundle.schema,
    chainId: bundle.chainId,
    registry: bundle.registry,
    device: bundle.device,
    sensorSchema: bundle.sensorSchema,
    incidentAt: bundle.incidentAt,
    readings: bundle.readings.map((r) => ({ seq: r.seq, timestamp: r.timestamp, values: r.values, signature: r.signature })),
  };
  return new TextEncoder().encode(JSON.stringify(canonical));
}

/** `evidenceHash` = keccak256 of the exact bytes (what `fileClaim` records and the oracle checks). */
export function evidenceHash(bytes: Uint8Array): string {
  return keccak256(bytes);
}

// ------------------------------------------------------------------ parsing

/** Parsing limits; the defaults are generous for AI4I telemetry (a reading a minute for a week). */
export interface ParseEvidenceOptions {
  maxReadings?: number;
}

/**
 * Parses and schema-checks bundle bytes. Throws {@link EvidenceError} with reason `MALFORMED_JSON` (not UTF-8 JSON),
 * `WRONG_SCHEMA` (anything not shaped exactly like the specified bundle (docs/protocol.md §7), unknown keys included) or `MISSING_SIGNATURE`.
 * Signatures are only checked for presence here; {@link verifyEvidenceReadings} verifies them.
 */
export function parseEvidence(bytes: Uint8Array, options: ParseEvidenceOptions = {}): EvidenceBundle {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    // The parser's message quotes the input: keep it to one printable line (it reaches logs and claimants).
    const detail = (cause as Error).message.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").slice(0, 160);
    throw new EvidenceError("MALFORMED_JSON", `evidence is not UTF-8 JSON: ${detail}`, {}, { cause });
  }
  return validateBundle(json, options.maxReadings ?? 20_000);
}

function wrongSchema(message: string, path: string): never {
  throw new EvidenceError("WRONG_SCHEMA", `evidence ${path}: ${message}`, { path });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function exactKeys(obj: Record<string, unknown>, required: readonly string[], path: string, optional: readonly string[] = []): void {
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) wrongSchema(`unknown field "${key}"`, path);
  }
  for (const key of required) if (!(key in obj)) wrongSchema(`missing field "${key}"`, path);
}

function jsonUint(v: unknown, path: string, max = UINT64_MAX): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || BigInt(v) > max) {
    wrongSchema(`must be a non-negative JSON integer (at most 2^53 - 1), got ${JSON.stringify(v)}`, path);
  }
  return v;
}

function jsonAddress(v: unknown, path: string): string {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v) || !isAddress(v)) {
    wrongSchema(`must be a 0x address, got ${JSON.stringify(v)}`, path);
  }
  return getAddress(v);
}

function validateBundle(json: unknown, maxReadings: number): EvidenceBundle {
  if (!isObject(json)) wrongSchema("must be a JSON object", "$");
  if (json.schema !== EVIDENCE_SCHEMA) {
    wrongSchema(`schema must be "${EVIDENCE_SCHEMA}", got ${JSON.stringify(json.schema)}`, "$.schema");
  }
  exactKeys(json, ["schema", "chainId", "registry", "device", "sensorSchema", "incidentAt", "readings"], "$");
  if (typeof json.sensorSchema !== "string" || json.sensorSchema === "") wrongSchema("must be a non-empty string", "$.sensorSchema");
  if (!Array.isArray(json.readings) || json.readings.length === 0) wrongSchema("must be a non-empty array", "$.readings");
  if (json.readings.length > maxReadings) wrongSchema(`has ${json.readings.length} readings, at most ${maxReadings} allowed`, "$.readings");
  const readings = (json.readings as unknown[]).map((r, i): EvidenceReading => {
    const at = `$.readings[${i}]`;
    if (!isObject(r)) wrongSchema("must be an object", at);
    exactKeys(r, ["seq", "timestamp", "values"], at, ["signature"]);
    if (!Array.isArray(r.values) || r.values.length === 0) wrongSchema("must be a non-empty array", `${at}.values`);
    const values = (r.values as unknown[]).map((v, j) => {
      if (typeof v !== "string" || !DECIMAL.test(v) || BigInt(v) < INT64_MIN || BigInt(v) > INT64_MAX) {
        wrongSchema(`must be an int64 as a decimal string, got ${JSON.stringify(v)}`, `${at}.values[${j}]`);
      }
      return v;
    });
    if (r.signature === undefined || r.signature === null || r.signature === "") {
      throw new EvidenceError("MISSING_SIGNATURE", `evidence ${at} has no signature`, { index: i });
    }
    if (typeof r.signature !== "string") wrongSchema("must be a 0x hex string", `${at}.signature`);
    return { seq: jsonUint(r.seq, `${at}.seq`), timestamp: jsonUint(r.timestamp, `${at}.timestamp`), values, signature: r.signature };
  });
  return {
    schema: EVIDENCE_SCHEMA,
    chainId: jsonUint(json.chainId, "$.chainId"),
    registry: jsonAddress(json.registry, "$.registry"),
    device: jsonAddress(json.device, "$.device"),
    sensorSchema: json.sensorSchema,
    incidentAt: jsonUint(json.incidentAt, "$.incidentAt"),
    readings,
  };
}

// ------------------------------------------------------------------ verification

/** What the chain says a bundle must match; any field left out is a check that is skipped. */
export interface EvidenceExpectations {
  /** The chain the oracle runs on; with `registry`, the domain the readings must be signed in. */
  chainId?: bigint | number;
  /** The DeviceRegistry of the deployment. */
  registry?: string;
  /** The policy's device. */
  device?: string;
  /** The claim's `incidentAt`. */
  incidentAt?: bigint | number;
  /** The policy period; every reading's timestamp must lie in `[start, end]`. */
  period?: { start: bigint | number; end: bigint | number };
  /** The sensor schema the consumer understands (for example "ai4i-2020/v1"). */
  sensorSchema?: string;
  /** Number of values a reading of that schema has (6 for ai4i-2020/v1). */
  valuesPerReading?: number;
}

/** A bundle whose readings all verified: typed readings, ready for the model. */
export interface VerifiedEvidence {
  domain: TypedDataDomain;
  device: string;
  incidentAt: bigint;
  readings: SignedReading[];
}

/** The domain a bundle's readings are signed in: the registry and chain the bundle names. */
export function evidenceDomain(bundle: EvidenceBundle): TypedDataDomain {
  return deviceRegistryDomain(bundle.chainId, bundle.registry);
}

const readingEncoder = TypedDataEncoder.from(READING_TYPES);

/**
 * Checks every reading of `bundle`: each signature recovers to the bundle's device in the bundle's domain, seq
 * strictly increases, and — for each expectation given — the domain, device, incident time, policy period and sensor
 * schema match. Throws {@link EvidenceError} with the first failure's reason (checks run in a fixed order so every
 * committee member reports the same one). Readings are not trusted to be in any other order than by seq.
 */
export function verifyEvidenceReadings(bundle: EvidenceBundle, expect: EvidenceExpectations = {}): VerifiedEvidence {
  if (expect.sensorSchema !== undefined && bundle.sensorSchema !== expect.sensorSchema) {
    throw new EvidenceError(
      "SENSOR_SCHEMA_MISMATCH",
      `evidence sensor schema is "${bundle.sensorSchema}", expected "${expect.sensorSchema}"`,
    );
  }
  if (expect.chainId !== undefined && BigInt(bundle.chainId) !== BigInt(expect.chainId)) {
    throw new EvidenceError("WRONG_DOMAIN", `evidence is signed for chain ${bundle.chainId}, this is chain ${expect.chainId}`);
  }
  if (expect.registry !== undefined && getAddress(bundle.registry) !== getAddress(expect.registry)) {
    throw new EvidenceError("WRONG_DOMAIN", `evidence names registry ${bundle.registry}, the deployment's is ${expect.registry}`);
  }
  if (expect.incidentAt !== undefined && BigInt(bundle.incidentAt) !== BigInt(expect.incidentAt)) {
    throw new EvidenceError("INCIDENT_MISMATCH", `evidence incidentAt ${bundle.incidentAt} differs from the claim's ${expect.incidentAt}`);
  }
  if (expect.device !== undefined && getAddress(bundle.device) !== getAddress(expect.device)) {
    throw new EvidenceError("DEVICE_MISMATCH", `evidence is from device ${bundle.device}, the policy insures ${expect.device}`);
  }
  const domain = evidenceDomain(bundle);
  const domainSeparator = TypedDataEncoder.hashDomain(domain);
  const device = getAddress(bundle.device);
  const period = expect.period && { start: BigInt(expect.period.start), end: BigInt(expect.period.end) };
  const readings: SignedReading[] = [];
  let previousSeq = -1n;
  bundle.readings.forEach((r, index) => {
    const seq = BigInt(r.seq);
    const timestamp = BigInt(r.timestamp);
    if (seq <= previousSeq) {
      throw new EvidenceError("SEQ_NOT_INCREASING", `evidence reading ${index} has seq ${seq} after ${previousSeq}`, { index });
    }
    previousSeq = seq;
    if (period && (timestamp < period.start || timestamp > period.end)) {
      throw new EvidenceError(
        "OUTSIDE_POLICY_PERIOD",
        `evidence reading ${index} at ${timestamp} lies outside the policy period [${period.start}, ${period.end}]`,
        { index },
      );
    }
    if (expect.valuesPerReading !== undefined && r.values.length !== expect.valuesPerReading) {
      throw new EvidenceError(
        "INVALID_VALUES",
        `evidence reading ${index} has ${r.values.length} values, expected ${expect.valuesPerReading}`,
        { index },
      );
    }
    const reading: SignedReading = { device, seq, timestamp, values: r.values.map(BigInt), signature: r.signature };
    if (!SIGNATURE.test(r.signature)) {
      throw new EvidenceError("BAD_SIGNATURE", `evidence reading ${index} signature is not 65 bytes of hex`, { index });
    }
    let signer: string;
    try {
      // Same digest as sdk readingDigest(), with the encoder and domain separator computed once per bundle.
      const digest = keccak256(
        concat(["0x1901", domainSeparator, readingEncoder.hash({ device, seq, timestamp, values: reading.values })]),
      );
      signer = recoverSigner(digest, r.signature);
    } catch (cause) {
      throw new EvidenceError("BAD_SIGNATURE", `evidence reading ${index} signature is malformed`, { index }, { cause });
    }
    if (signer !== device) {
      throw new EvidenceError("BAD_SIGNATURE", `evidence reading ${index} is not signed by device ${device}`, { index, signer });
    }
    readings.push(reading);
  });
  return { domain, device, incidentAt: BigInt(bundle.incidentAt), readings };
}

// ------------------------------------------------------------------ publishing

/**
 * Publishes bundle bytes to a content-addressed evidence store (`npm run oracle -- evidence-server`, or anything
 * speaking its protocol: `POST <store>/evidence` → `{hash, uri}`) and checks that the store hashed them as we do.
 */
export async function publishEvidence(storeUrl: string, bytes: Uint8Array, timeoutMs = 10_000): Promise<{ hash: string; uri: string }> {
  const url = `${storeUrl.replace(/\/+$/, "")}/evidence`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body: new Uint8Array(bytes),
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new TriadError(
      `cannot reach the evidence store at ${url} (start it with: npm run oracle -- evidence-server)`,
      "EVIDENCE_STORE_UNREACHABLE",
      { url },
      { cause },
    );
  }
  const body = (await res.json().catch(() => ({}))) as { hash?: string; uri?: string; error?: string };
  if (!res.ok || !body.hash || !body.uri) {
    throw new TriadError(`the evidence store refused the bundle: HTTP ${res.status} ${body.error ?? ""}`.trim(), "EVIDENCE_STORE_REFUSED", {
      url,
      status: res.status,
    });
  }
  const expected = evidenceHash(bytes);
  if (body.hash.toLowerCase() !== expected.toLowerCase()) {
    throw new TriadError(`the evidence store hashed the bundle to ${body.hash}, expected ${expected}`, "EVIDENCE_STORE_HASH", { url });
  }
  return { hash: expected, uri: body.uri };
}
