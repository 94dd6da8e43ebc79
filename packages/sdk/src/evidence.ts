import { getAddress, isAddress, keccak256, type TypedDataDomain } from "ethers";
import { recoverSigner } from "./recover.ts";
import { AI4I_SCHEMA } from "./ai4i.ts";
import { deviceRegistryDomain, type SignedReading } from "./eip712.ts";
import { InvalidInputError, TriadError } from "./errors.ts";
import { readingProofRoot } from "./merkle.ts";
import { readingDigest } from "./signing.ts";

/**
 * Evidence bundles (docs/protocol.md §7): the JSON file a claimant files with a claim. Its hash is keccak256 over the
 * exact file bytes, so producers BUILD bundles with {@link buildEvidenceBundleV2} + {@link serializeEvidence} and the
 * oracle PARSES the bytes it fetched with {@link parseEvidence}, checks signatures, proofs and completeness with
 * {@link verifyEvidenceReadings}, then what the chain says about the anchors with {@link verifyEvidenceAnchoring}.
 *
 * Two versions: `triad.evidence/v2` (readings with their anchors and Merkle proofs, plus the readings just before and
 * after, so that provenance and completeness can be checked) is what the oracle accepts; `triad.evidence/v1` (signed
 * readings only) still parses and verifies here, but proves no provenance: the oracle refuses it as `NOT_ANCHORED`.
 */

export const EVIDENCE_SCHEMA = "triad.evidence/v1";
export const EVIDENCE_SCHEMA_V2 = "triad.evidence/v2";

/** Most sibling hashes in a reading's Merkle proof (a proof of a tree of 2^64 leaves has 64). */
export const MAX_PROOF_LENGTH = 64;

/**
 * How far a reading's timestamp may lie after the time of the anchor that covers it (a device clock running ahead of
 * the chain's, within what a gateway accepts by default): a reading cannot be anchored before it was signed, so a
 * timestamp further ahead is a lie (`IMPLAUSIBLE_TIMESTAMP`).
 */
export const MAX_CLOCK_AHEAD_SECONDS = 300n;

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
 * The on-chain anchor a reading is proved under: a fleet anchor (`DeviceRegistry.anchorFleet`, keyed by the anchoring
 * gateway and the root) or a batch anchor of the device itself (`anchorBatch`, keyed by the device and the root).
 */
export type EvidenceAnchor = { kind: "fleet"; gateway: string; root: string } | { kind: "device"; root: string };

/** A reading of a v2 bundle: the signed reading, the anchor that covers it and its Merkle proof under that anchor. */
export interface AnchoredEvidenceReading extends EvidenceReading {
  anchor: EvidenceAnchor;
  proof: string[];
}

/**
 * A `triad.evidence/v2` bundle (docs/protocol.md §7): `readings` are the device's readings around the incident;
 * `before` and `after` are the device's readings just before and just after them. Seqs are contiguous from `before`
 * to `after`, so nothing in between can have been left out.
 */
export interface EvidenceBundleV2 {
  schema: typeof EVIDENCE_SCHEMA_V2;
  chainId: number;
  registry: string;
  device: string;
  sensorSchema: string;
  incidentAt: number;
  before: AnchoredEvidenceReading;
  readings: AnchoredEvidenceReading[];
  after: AnchoredEvidenceReading;
}

/** A bundle of either version, as {@link parseEvidence} returns it (tell them apart by `schema`). */
export type AnyEvidenceBundle = EvidenceBundle | EvidenceBundleV2;

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
  // provenance and completeness (v2)
  | "NOT_ANCHORED"
  | "INCOMPLETE_WINDOW"
  | "IMPLAUSIBLE_TIMESTAMP"
  | "GATEWAY_NOT_AUTHORISED"
  | "GATEWAY_NOT_ACCEPTED"
  | "ANCHORED_LATE"
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
const HASH = /^0x[0-9a-fA-F]{64}$/;

// ------------------------------------------------------------------ building

/**
 * A v1 bundle from device-signed readings (for example from `signAi4iRows`). All readings must be the same device's;
 * seq and timestamp must fit in a JSON-safe integer. The oracle refuses v1 (no anchors): file
 * {@link buildEvidenceBundleV2} bundles.
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
  const device = bundleDevice(args.device, args.readings[0]);
  return {
    schema: EVIDENCE_SCHEMA,
    chainId: safeInteger(args.chainId, "chainId"),
    registry: getAddress(args.registry),
    device,
    sensorSchema: args.sensorSchema ?? AI4I_SCHEMA,
    incidentAt: safeInteger(args.incidentAt, "incidentAt"),
    readings: args.readings.map((r, i) => evidenceReading(r, device, `reading ${i}`)),
  };
}

/** A signed reading with the anchor that covers it and its Merkle proof under that anchor's root. */
export interface ProvenReading {
  reading: SignedReading;
  anchor: EvidenceAnchor;
  proof: readonly string[];
}

/**
 * A `triad.evidence/v2` bundle: `readings` around the incident, `before`/`after` the device's readings just before and
 * just after them, each with its anchor and proof (what the gateway's evidence API serves; a fleet anchor's readings
 * and proofs are what `prepareFleetBatch`/`anchorFleet` return). Shapes are checked here (one device, JSON-safe
 * integers, 32-byte hashes); whether the seqs are contiguous and the proofs hold is for {@link verifyEvidenceReadings}.
 */
export function buildEvidenceBundleV2(args: {
  chainId: bigint | number;
  registry: string;
  incidentAt: bigint | number;
  before: ProvenReading;
  readings: readonly ProvenReading[];
  after: ProvenReading;
  /** Defaults to the readings' device. */
  device?: string;
  sensorSchema?: string;
}): EvidenceBundleV2 {
  if (args.readings.length === 0) throw new InvalidInputError("an evidence bundle needs at least one reading around the incident");
  const device = bundleDevice(args.device, args.readings[0].reading);
  const proven = (p: ProvenReading, what: string): AnchoredEvidenceReading => ({
    ...evidenceReading(p.reading, device, what),
    anchor: normaliseAnchor(p.anchor, what),
    proof: p.proof.map((h, j) => {
      if (!HASH.test(h)) throw new InvalidInputError(`${what} proof[${j}] is not 32 bytes of hex`, { what });
      return h.toLowerCase();
    }),
  });
  return {
    schema: EVIDENCE_SCHEMA_V2,
    chainId: safeInteger(args.chainId, "chainId"),
    registry: getAddress(args.registry),
    device,
    sensorSchema: args.sensorSchema ?? AI4I_SCHEMA,
    incidentAt: safeInteger(args.incidentAt, "incidentAt"),
    before: proven(args.before, "the reading before"),
    readings: args.readings.map((p, i) => proven(p, `reading ${i}`)),
    after: proven(args.after, "the reading after"),
  };
}

function bundleDevice(device: string | undefined, first: SignedReading | undefined): string {
  const address = device ?? first?.device;
  if (!address || !isAddress(address)) throw new InvalidInputError("an evidence bundle needs a device address (or at least one reading)");
  return getAddress(address);
}

function evidenceReading(r: SignedReading, device: string, what: string): EvidenceReading {
  if (getAddress(r.device) !== device) throw new InvalidInputError(`${what} is from device ${r.device}, the bundle is for ${device}`);
  return {
    seq: safeInteger(r.seq, `${what} seq`),
    timestamp: safeInteger(r.timestamp, `${what} timestamp`),
    values: r.values.map(String),
    signature: r.signature,
  };
}

function normaliseAnchor(anchor: EvidenceAnchor, what: string): EvidenceAnchor {
  if (!HASH.test(anchor.root)) throw new InvalidInputError(`${what} anchor root is not 32 bytes of hex`);
  if (anchor.kind === "device") return { kind: "device", root: anchor.root.toLowerCase() };
  if (anchor.kind !== "fleet" || !isAddress(anchor.gateway))
    throw new InvalidInputError(`${what} anchor is neither a fleet anchor with a gateway nor a device anchor`);
  return { kind: "fleet", gateway: getAddress(anchor.gateway), root: anchor.root.toLowerCase() };
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
export function serializeEvidence(bundle: AnyEvidenceBundle): Uint8Array {
  const reading = (r: EvidenceReading) => ({ seq: r.seq, timestamp: r.timestamp, values: r.values, signature: r.signature });
  const anchored = (r: AnchoredEvidenceReading) => ({
    ...reading(r),
    anchor:
      r.anchor.kind === "fleet"
        ? { kind: r.anchor.kind, gateway: r.anchor.gateway, root: r.anchor.root }
        : { kind: r.anchor.kind, root: r.anchor.root },
    proof: r.proof,
  });
  const header = {
    schema: bundle.schema,
    chainId: bundle.chainId,
    registry: bundle.registry,
    device: bundle.device,
    sensorSchema: bundle.sensorSchema,
    incidentAt: bundle.incidentAt,
  };
  const canonical =
    bundle.schema === EVIDENCE_SCHEMA_V2
      ? { ...header, before: anchored(bundle.before), readings: bundle.readings.map(anchored), after: anchored(bundle.after) }
      : { ...header, readings: bundle.readings.map(reading) };
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
 * Parses and schema-checks bundle bytes of either version. Throws {@link EvidenceError} with reason `MALFORMED_JSON`
 * (not UTF-8 JSON), `WRONG_SCHEMA` (anything not shaped exactly like a bundle of docs/protocol.md §7, unknown keys
 * included) or `MISSING_SIGNATURE`. Signatures are only checked for presence here and proofs for their shape;
 * {@link verifyEvidenceReadings} verifies them.
 */
export function parseEvidence(bytes: Uint8Array, options: ParseEvidenceOptions = {}): AnyEvidenceBundle {
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

function jsonHash(v: unknown, path: string): string {
  if (typeof v !== "string" || !HASH.test(v)) wrongSchema(`must be 0x + 64 hex digits, got ${JSON.stringify(v)?.slice(0, 80)}`, path);
  return v.toLowerCase();
}

const V1_KEYS = ["schema", "chainId", "registry", "device", "sensorSchema", "incidentAt", "readings"] as const;
const V2_KEYS = ["schema", "chainId", "registry", "device", "sensorSchema", "incidentAt", "before", "readings", "after"] as const;

function validateBundle(json: unknown, maxReadings: number): AnyEvidenceBundle {
  if (!isObject(json)) wrongSchema("must be a JSON object", "$");
  const v2 = json.schema === EVIDENCE_SCHEMA_V2;
  if (json.schema !== EVIDENCE_SCHEMA && !v2) {
    wrongSchema(`schema must be "${EVIDENCE_SCHEMA_V2}" (or "${EVIDENCE_SCHEMA}"), got ${JSON.stringify(json.schema)}`, "$.schema");
  }
  exactKeys(json, v2 ? V2_KEYS : V1_KEYS, "$");
  if (typeof json.sensorSchema !== "string" || json.sensorSchema === "") wrongSchema("must be a non-empty string", "$.sensorSchema");
  if (!Array.isArray(json.readings) || json.readings.length === 0) wrongSchema("must be a non-empty array", "$.readings");
  if (json.readings.length > maxReadings) wrongSchema(`has ${json.readings.length} readings, at most ${maxReadings} allowed`, "$.readings");
  const header = {
    chainId: jsonUint(json.chainId, "$.chainId"),
    registry: jsonAddress(json.registry, "$.registry"),
    device: jsonAddress(json.device, "$.device"),
    sensorSchema: json.sensorSchema,
    incidentAt: jsonUint(json.incidentAt, "$.incidentAt"),
  };
  if (!v2) {
    const readings = (json.readings as unknown[]).map((r, i) => validateReading(r, `$.readings[${i}]`, i, false));
    return { schema: EVIDENCE_SCHEMA, ...header, readings };
  }
  const before = validateReading(json.before, "$.before", -1, true) as AnchoredEvidenceReading;
  const readings = (json.readings as unknown[]).map((r, i) => validateReading(r, `$.readings[${i}]`, i, true) as AnchoredEvidenceReading);
  const after = validateReading(json.after, "$.after", readings.length, true) as AnchoredEvidenceReading;
  return { schema: EVIDENCE_SCHEMA_V2, ...header, before, readings, after };
}

function validateReading(r: unknown, at: string, index: number, anchored: boolean): EvidenceReading | AnchoredEvidenceReading {
  if (!isObject(r)) wrongSchema("must be an object", at);
  exactKeys(r, anchored ? ["seq", "timestamp", "values", "anchor", "proof"] : ["seq", "timestamp", "values"], at, ["signature"]);
  if (!Array.isArray(r.values) || r.values.length === 0) wrongSchema("must be a non-empty array", `${at}.values`);
  const values = (r.values as unknown[]).map((v, j) => {
    if (typeof v !== "string" || !DECIMAL.test(v) || BigInt(v) < INT64_MIN || BigInt(v) > INT64_MAX) {
      wrongSchema(`must be an int64 as a decimal string, got ${JSON.stringify(v)}`, `${at}.values[${j}]`);
    }
    return v;
  });
  if (r.signature === undefined || r.signature === null || r.signature === "") {
    throw new EvidenceError("MISSING_SIGNATURE", `evidence ${at} has no signature`, { index });
  }
  if (typeof r.signature !== "string") wrongSchema("must be a 0x hex string", `${at}.signature`);
  const reading: EvidenceReading = {
    seq: jsonUint(r.seq, `${at}.seq`),
    timestamp: jsonUint(r.timestamp, `${at}.timestamp`),
    values,
    signature: r.signature,
  };
  if (!anchored) return reading;
  if (!Array.isArray(r.proof) || r.proof.length > MAX_PROOF_LENGTH)
    wrongSchema(`must be an array of at most ${MAX_PROOF_LENGTH} hashes`, `${at}.proof`);
  const proof = (r.proof as unknown[]).map((h, j) => jsonHash(h, `${at}.proof[${j}]`));
  return { ...reading, anchor: validateAnchor(r.anchor, `${at}.anchor`), proof };
}

function validateAnchor(a: unknown, at: string): EvidenceAnchor {
  if (!isObject(a)) wrongSchema("must be an object", at);
  if (a.kind === "fleet") {
    exactKeys(a, ["kind", "gateway", "root"], at);
    return { kind: "fleet", gateway: jsonAddress(a.gateway, `${at}.gateway`), root: jsonHash(a.root, `${at}.root`) };
  }
  if (a.kind === "device") {
    exactKeys(a, ["kind", "root"], at);
    return { kind: "device", root: jsonHash(a.root, `${at}.root`) };
  }
  wrongSchema(`kind must be "fleet" or "device", got ${JSON.stringify(a.kind)}`, `${at}.kind`);
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
  /** The policy period; every reading's timestamp (v2: of `readings`, not `before`/`after`) must lie in `[start, end]`. */
  period?: { start: bigint | number; end: bigint | number };
  /** The sensor schema the consumer understands (for example "ai4i-2020/v1"). */
  sensorSchema?: string;
  /** Number of values a reading of that schema has (6 for ai4i-2020/v1). */
  valuesPerReading?: number;
  /**
   * v2: the window around `incidentAt` the consumer decides from (the model's): `before` must be older than its start
   * and `after` newer than its end, so that every reading of the window is in the bundle.
   */
  window?: { beforeSeconds: bigint | number; afterSeconds: bigint | number };
}

/** Where a v2 bundle's reading sits and which of the bundle's distinct anchors covers it. */
export interface AnchoredReadingRef {
  /** "the reading before", "reading 3", "the reading after": for messages. */
  label: string;
  seq: bigint;
  timestamp: bigint;
  /** Index into {@link EvidenceAnchoring.anchors}. */
  anchor: number;
}

/** The anchors of a verified v2 bundle: what is left to check on-chain ({@link verifyEvidenceAnchoring}). */
export interface EvidenceAnchoring {
  /** The distinct anchors, in order of first use (fleet gateways checksummed, roots lower case). */
  anchors: EvidenceAnchor[];
  /** Every reading of the bundle — before, readings, after — in that order. */
  readings: AnchoredReadingRef[];
}

/** A bundle whose readings all verified: typed readings, ready for the model. */
export interface VerifiedEvidence {
  schema: AnyEvidenceBundle["schema"];
  domain: TypedDataDomain;
  device: string;
  incidentAt: bigint;
  /** The readings around the incident (v2: `readings`, without `before` and `after`), in seq order. */
  readings: SignedReading[];
  /** v2 only: each reading's anchor, checked off-chain (the proof leads to the anchor's root). */
  anchoring?: EvidenceAnchoring;
}

/** The domain a bundle's readings are signed in: the registry and chain the bundle names. */
export function evidenceDomain(bundle: AnyEvidenceBundle): TypedDataDomain {
  return deviceRegistryDomain(bundle.chainId, bundle.registry);
}

/** A short name of an anchor for messages. */
export function describeAnchor(anchor: EvidenceAnchor): string {
  return anchor.kind === "fleet" ? `fleet anchor ${anchor.root} of gateway ${anchor.gateway}` : `device anchor ${anchor.root}`;
}

/**
 * Checks every reading of `bundle` in a fixed order, so every committee member reports the same first failure
 * (docs/protocol.md §7.3): the header against the expectations given (sensor schema, domain, incident time, device);
 * then reading by reading — v2: `before`, `readings`, `after` — seq strictly increasing (v2: by exactly one, else
 * `INCOMPLETE_WINDOW`; timestamps not decreasing, else `IMPLAUSIBLE_TIMESTAMP`), the policy period, the number of
 * values, the device's signature, and (v2) the Merkle proof leading to the anchor's root (`NOT_ANCHORED`); finally (v2,
 * with `window`) that `before` and `after` lie outside the window. Throws {@link EvidenceError} with the first
 * failure's reason. Whether the anchors exist on-chain, and when, is {@link verifyEvidenceAnchoring}'s part.
 */
export function verifyEvidenceReadings(bundle: AnyEvidenceBundle, expect: EvidenceExpectations = {}): VerifiedEvidence {
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
  const device = getAddress(bundle.device);
  const period = expect.period && { start: BigInt(expect.period.start), end: BigInt(expect.period.end) };
  const v2 = bundle.schema === EVIDENCE_SCHEMA_V2;
  const entries: { label: string; r: EvidenceReading | AnchoredEvidenceReading; inWindow: boolean }[] = v2
    ? [
        { label: "the reading before", r: bundle.before, inWindow: false },
        ...bundle.readings.map((r, i) => ({ label: `reading ${i}`, r, inWindow: true })),
        { label: "the reading after", r: bundle.after, inWindow: false },
      ]
    : bundle.readings.map((r, i) => ({ label: `reading ${i}`, r, inWindow: true }));
  const readings: SignedReading[] = [];
  const anchors: EvidenceAnchor[] = [];
  const anchorIndex = new Map<string, number>();
  const refs: AnchoredReadingRef[] = [];
  let previous: { seq: bigint; timestamp: bigint } | undefined;
  entries.forEach(({ label, r, inWindow }, index) => {
    const seq = BigInt(r.seq);
    const timestamp = BigInt(r.timestamp);
    const fail = (reason: EvidenceFailureReason, message: string, cause?: unknown): never => {
      throw new EvidenceError(
        reason,
        `evidence ${label} ${message}`,
        { index, seq: seq.toString() },
        cause === undefined ? undefined : { cause },
      );
    };
    if (previous && seq <= previous.seq) fail("SEQ_NOT_INCREASING", `has seq ${seq} after ${previous.seq}`);
    if (v2 && previous && seq !== previous.seq + 1n) {
      const missing = seq - 1n === previous.seq + 1n ? `seq ${previous.seq + 1n} is` : `seqs ${previous.seq + 1n}..${seq - 1n} are`;
      fail("INCOMPLETE_WINDOW", `has seq ${seq} after ${previous.seq}: ${missing} missing`);
    }
    if (v2 && previous && timestamp < previous.timestamp) {
      fail("IMPLAUSIBLE_TIMESTAMP", `is timestamped ${timestamp}, before the previous reading's ${previous.timestamp}`);
    }
    previous = { seq, timestamp };
    if (inWindow && period && (timestamp < period.start || timestamp > period.end)) {
      fail("OUTSIDE_POLICY_PERIOD", `at ${timestamp} lies outside the policy period [${period.start}, ${period.end}]`);
    }
    if (expect.valuesPerReading !== undefined && r.values.length !== expect.valuesPerReading) {
      fail("INVALID_VALUES", `has ${r.values.length} values, expected ${expect.valuesPerReading}`);
    }
    const reading: SignedReading = { device, seq, timestamp, values: r.values.map(BigInt), signature: r.signature };
    if (!SIGNATURE.test(r.signature)) fail("BAD_SIGNATURE", "signature is not 65 bytes of hex");
    const digest = readingDigest(domain, reading);
    let signer = "";
    try {
      signer = recoverSigner(digest, r.signature);
    } catch (cause) {
      fail("BAD_SIGNATURE", "signature is malformed", cause);
    }
    if (signer !== device) fail("BAD_SIGNATURE", `is not signed by device ${device}`);
    if ("anchor" in r) {
      if (readingProofRoot(digest, r.proof) !== r.anchor.root.toLowerCase()) {
        fail("NOT_ANCHORED", `is not under the root of its ${describeAnchor(r.anchor)} (its proof leads elsewhere)`);
      }
      const key =
        r.anchor.kind === "fleet"
          ? `fleet/${getAddress(r.anchor.gateway)}/${r.anchor.root.toLowerCase()}`
          : `device/${r.anchor.root.toLowerCase()}`;
      let at = anchorIndex.get(key);
      if (at === undefined) {
        at =
          anchors.push(
            r.anchor.kind === "fleet"
              ? { ...r.anchor, gateway: getAddress(r.anchor.gateway), root: r.anchor.root.toLowerCase() }
              : { kind: "device", root: r.anchor.root.toLowerCase() },
          ) - 1;
        anchorIndex.set(key, at);
      }
      refs.push({ label, seq, timestamp, anchor: at });
    }
    if (inWindow) readings.push(reading);
  });
  if (bundle.schema === EVIDENCE_SCHEMA_V2 && expect.window) {
    const start = BigInt(bundle.incidentAt) - BigInt(expect.window.beforeSeconds);
    const end = BigInt(bundle.incidentAt) + BigInt(expect.window.afterSeconds);
    if (BigInt(bundle.before.timestamp) >= start) {
      throw new EvidenceError(
        "INCOMPLETE_WINDOW",
        `evidence does not reach back past the window [${start}, ${end}]: the reading before (seq ${bundle.before.seq}) is at ${bundle.before.timestamp}`,
      );
    }
    if (BigInt(bundle.after.timestamp) <= end) {
      throw new EvidenceError(
        "INCOMPLETE_WINDOW",
        `evidence does not reach past the end of the window [${start}, ${end}]: the reading after (seq ${bundle.after.seq}) is at ${bundle.after.timestamp}`,
      );
    }
  }
  return {
    schema: bundle.schema,
    domain,
    device,
    incidentAt: BigInt(bundle.incidentAt),
    readings,
    ...(v2 && { anchoring: { anchors, readings: refs } }),
  };
}

/** What the chain says about one anchor of a bundle (read once per distinct anchor, e.g. by the oracle). */
export interface AnchorFacts {
  /** The anchor's `anchoredAt` (`fleetAnchorOf` / `anchorOf`); 0 when it is not on-chain. */
  anchoredAt: bigint;
  /**
   * Fleet anchors: at `anchoredAt` the device was Active and its owner was the gateway or had authorised it
   * (`statusAt`, `ownerAt`, `gatewayAuthorisedAt`), the rule of `verifyFleetReading`. Device anchors: true (the
   * registry checked the anchorer and the device's status when it accepted the batch).
   */
  authorised: boolean;
  /** Whether the claim's product accepts the anchoring account (`productAcceptsGateway`); undefined: not checked. */
  accepted?: boolean;
  /** The anchoring account (fleet: the gateway; device anchors: the `BatchAnchored` event's `by`), for messages. */
  anchorer?: string;
}

/** The timing rules of anchors; each rule left out is not checked. */
export interface AnchoringRules {
  /** The claim's filing time: a reading anchored after it is `ANCHORED_LATE`. */
  filedAt?: bigint;
  /** The product's `maxAnchorDelay`: a reading anchored more than this after its timestamp is `ANCHORED_LATE`. */
  maxAnchorDelay?: bigint;
  /** Default {@link MAX_CLOCK_AHEAD_SECONDS}. */
  maxClockAhead?: bigint;
}

/**
 * The on-chain part of the provenance checks of a v2 bundle (docs/protocol.md §7.3), given the facts of each distinct
 * anchor (`facts[i]` for `anchoring.anchors[i]`): reading by reading in bundle order, the anchor exists
 * (`NOT_ANCHORED`), its gateway was authorised by the device's owner at the anchor's time (`GATEWAY_NOT_AUTHORISED`)
 * and is accepted by the product (`GATEWAY_NOT_ACCEPTED`), the anchor is neither after the filing nor more than
 * `maxAnchorDelay` after the reading's timestamp (`ANCHORED_LATE`), and the timestamp is not after the anchor by more
 * than `maxClockAhead` (`IMPLAUSIBLE_TIMESTAMP`). Throws {@link EvidenceError} with the first failure.
 */
export function verifyEvidenceAnchoring(anchoring: EvidenceAnchoring, facts: readonly AnchorFacts[], rules: AnchoringRules = {}): void {
  if (facts.length !== anchoring.anchors.length) {
    throw new InvalidInputError(`${facts.length} anchor facts for ${anchoring.anchors.length} anchors`);
  }
  const clockAhead = rules.maxClockAhead ?? MAX_CLOCK_AHEAD_SECONDS;
  for (const r of anchoring.readings) {
    const anchor = anchoring.anchors[r.anchor];
    const f = facts[r.anchor];
    const name = describeAnchor(anchor);
    const fail = (reason: EvidenceFailureReason, message: string): never => {
      throw new EvidenceError(reason, `evidence ${r.label} (seq ${r.seq}) ${message}`, { seq: r.seq.toString(), anchor: name });
    };
    if (f.anchoredAt === 0n) fail("NOT_ANCHORED", `cites ${name}, which is not on-chain`);
    if (!f.authorised) {
      fail(
        "GATEWAY_NOT_AUTHORISED",
        `is under ${name}, a gateway the device's owner had not authorised (or the device was not Active) at ${f.anchoredAt}`,
      );
    }
    if (f.accepted === false)
      fail("GATEWAY_NOT_ACCEPTED", `is under ${name}: the product does not accept anchors of ${f.anchorer ?? "that account"}`);
    if (rules.filedAt !== undefined && f.anchoredAt > rules.filedAt) {
      fail("ANCHORED_LATE", `was anchored at ${f.anchoredAt}, after the claim was filed at ${rules.filedAt}`);
    }
    if (rules.maxAnchorDelay !== undefined && f.anchoredAt > r.timestamp + rules.maxAnchorDelay) {
      fail("ANCHORED_LATE", `at ${r.timestamp} was anchored at ${f.anchoredAt}, more than the product's ${rules.maxAnchorDelay} s later`);
    }
    if (r.timestamp > f.anchoredAt + clockAhead) {
      fail(
        "IMPLAUSIBLE_TIMESTAMP",
        `is timestamped ${r.timestamp}, ${r.timestamp - f.anchoredAt} s after its anchor existed (${f.anchoredAt})`,
      );
    }
  }
}

// ------------------------------------------------------------------ publishing

/**
 * Publishes bundle bytes to a content-addressed evidence store (`npm run oracle -- evidence-server`, or anything
 * speaking its protocol: `POST <store>/evidence` → `{hash, uri}`) and checks that the store hashed them as we do.
 */
export async function publishEvidence(
  storeUrl: string,
  bytes: Uint8Array,
  timeoutMs = 10_000,
  /** The store's upload token (sent as `Authorization: Bearer …`); a store without open uploads refuses without it. */
  token?: string,
): Promise<{ hash: string; uri: string }> {
  const url = `${storeUrl.replace(/\/+$/, "")}/evidence`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body: new Uint8Array(bytes),
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
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
