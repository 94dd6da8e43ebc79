import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import type { Signer, Wallet } from "ethers";
import type { DeviceRegistry } from "@triad/contracts";
import pino, { type Logger } from "pino";
import {
  anchorFleet,
  buildEvidenceBundle,
  buildEvidenceBundleV2,
  deviceRegistryDomain,
  evidenceHash,
  parseAi4iCsv,
  prepareFleetBatch,
  serializeEvidence,
  signAi4iRows,
  type Ai4iRow,
  type EvidenceBundle,
  type EvidenceBundleV2,
  type ProvenReading,
  type SignedReading,
} from "@triad/sdk";

const CSV_FILE = path.resolve(import.meta.dirname, "../../../data/ai4i2020/ai4i2020-train.csv");
let rows: Ai4iRow[] | undefined;

/** The AI4I 2020 training rows (parsed once). */
export function ai4iRows(): Ai4iRow[] {
  rows ??= parseAi4iCsv(readFileSync(CSV_FILE, "utf8"), CSV_FILE);
  return rows;
}

/**
 * Real failure rows of one mode (HDF: heat dissipation, PWF: power, OSF: overstrain). One of them in a claim's window
 * is a single alarming reading, which the claim rule rejects; {@link persistingFailureRows} is a failure it approves.
 */
export function failureRows(mode: "HDF" | "PWF" | "OSF", count: number): Ai4iRow[] {
  return ai4iRows()
    .filter((r) => r.failure === 1 && r.modes[mode] === 1)
    .slice(0, count);
}

const OVERSTRAIN_LIMIT = { L: 11_000, M: 12_000, H: 13_000 } as const;
const powerW = (r: Ai4iRow) => (r.torqueNm * r.rpm * 2 * Math.PI) / 60;

/** Well past the data set's failure limits, so that every row is clearly a failure of its mode (not at a limit). */
const CLEARLY: Record<"HDF" | "PWF" | "OSF", (r: Ai4iRow) => boolean> = {
  HDF: (r) => Math.round((r.processTempK - r.airTempK) * 1000) <= 8200 && r.rpm <= 1340,
  PWF: (r) => powerW(r) <= 3200 || powerW(r) >= 9400,
  OSF: (r) => r.toolWearMin * r.torqueNm >= 1.08 * OVERSTRAIN_LIMIT[r.variant],
};

const clearRows = new Map<"HDF" | "PWF" | "OSF", Ai4iRow[]>();

/** The real AI4I failure rows of `mode` that are well past its failure limit (filtered once). */
export function clearFailureRows(mode: "HDF" | "PWF" | "OSF"): readonly Ai4iRow[] {
  let rows = clearRows.get(mode);
  if (rows === undefined) {
    rows = ai4iRows().filter((r) => r.failure === 1 && r.modes[mode] === 1 && CLEARLY[mode](r));
    clearRows.set(mode, rows);
  }
  return rows;
}

/**
 * Telemetry of a failure that PERSISTS, for claims that must be approved: `count` (default 5) of the
 * {@link clearFailureRows} of `mode`, `offset` rows into them. Signed one a minute apart (as {@link makeAnchoredBundle}
 * does) they are a failure lasting `count − 1` minutes, which the shipped claim rule approves (at least 4
 * consecutive readings over at least 180 s, each scoring ≥ 0.85; docs/protocol.md §8.3). One failure row
 * ({@link failureRows}) at the end of a bundle is rejected by design: one alarming reading never approves a claim.
 */
export function persistingFailureRows(mode: "HDF" | "PWF" | "OSF", count = 5, offset = 0): Ai4iRow[] {
  const rows = clearFailureRows(mode);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + count > rows.length)
    throw new Error(
      `persistingFailureRows: ${rows.length} clear ${mode} failure rows in the data set, asked for ${count} from row ${offset}`,
    );
  return rows.slice(offset, offset + count);
}

/** Real rows of machines running normally (no failure, low tool wear). */
export function normalRows(count: number, offset = 0): Ai4iRow[] {
  return ai4iRows()
    .filter((r) => r.failure === 0 && r.toolWearMin < 100)
    .slice(offset, offset + count);
}

/** Seconds between two readings of the test bundles. */
export const READING_INTERVAL = 60n;

/**
 * A signed `triad.evidence/v1` bundle (no anchors: the oracle refuses it as `NOT_ANCHORED`, docs/protocol.md §7; for
 * claims that must be decided on their telemetry use {@link makeAnchoredBundle}): `rows` as consecutive readings of
 * `deviceKey`, one a minute (or `interval`), the LAST one at `incidentAt`.
 */
export async function makeBundle(args: {
  deviceKey: Wallet;
  chainId: bigint;
  registry: string;
  rows: readonly Ai4iRow[];
  incidentAt: bigint;
  startSeq?: bigint;
  /** Seconds between readings (default {@link READING_INTERVAL}). */
  interval?: bigint;
}): Promise<{ bundle: EvidenceBundle; bytes: Uint8Array; hash: string }> {
  const domain = deviceRegistryDomain(args.chainId, args.registry);
  const interval = args.interval ?? READING_INTERVAL;
  const startTimestamp = args.incidentAt - interval * BigInt(args.rows.length - 1);
  const readings = await signAi4iRows({
    deviceKey: args.deviceKey,
    domain,
    rows: args.rows,
    startSeq: args.startSeq ?? 1n,
    startTimestamp,
    intervalSeconds: interval,
  });
  const bundle = buildEvidenceBundle({ chainId: args.chainId, registry: args.registry, incidentAt: args.incidentAt, readings });
  const bytes = serializeEvidence(bundle);
  return { bundle, bytes, hash: evidenceHash(bytes) };
}

export function bytesOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
}

/** A pino logger whose JSON lines are collected (to assert on what operators would see). */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** A local HTTP server with a custom handler (slow or misbehaving evidence hosts). */
export async function startRawServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The model's window around the incident that anchored bundles must reach past (the shipped model's: 600 s / 900 s). */
export interface EvidenceWindow {
  beforeSeconds: number;
  afterSeconds: number;
}

/** A fleet anchor the fixtures made: the anchoring account, the root, its chain time, and each reading's proof. */
export interface FixtureAnchor {
  gateway: string;
  root: string;
  anchoredAt: bigint;
  /** Proven readings, in the order anchored. */
  proven: ProvenReading[];
}

/**
 * Anchors signed readings (of any devices) in ONE fleet anchor sent by `anchorer`'s account (`registry` connected to
 * it), as a gateway does every interval; returns each reading with its anchor and proof.
 */
export async function anchorAsGateway(anchorer: DeviceRegistry, readings: readonly SignedReading[]): Promise<FixtureAnchor> {
  const runner = anchorer.runner as Signer;
  const gateway = await runner.getAddress();
  const domain = deviceRegistryDomain((await runner.provider!.getNetwork()).chainId, await anchorer.getAddress());
  const batch = prepareFleetBatch(domain, readings);
  const anchor = { kind: "fleet" as const, gateway, root: batch.root };
  const proven = batch.entries.map((e) => ({ reading: e.reading, anchor, proof: e.proof }));
  // The very same readings anchored before by this account (a test signing the same rows twice): the anchor stands.
  const existing = await anchorer.fleetAnchorOf(gateway, batch.root);
  if (existing.anchoredAt !== 0n) return { gateway, root: batch.root, anchoredAt: existing.anchoredAt, proven };
  const result = await anchorFleet(anchorer, { readings, domain, uri: (root) => `test://anchors/${root}` });
  const block = await result.receipt.getBlock();
  return { gateway, root: batch.root, anchoredAt: BigInt(block.timestamp), proven };
}

/**
 * An anchored `triad.evidence/v2` bundle: `rows` as consecutive readings of `deviceKey`, one a minute (or
 * `interval`), the LAST one at `incidentAt`; plus a normal reading just before them (seq − 1, older than the window)
 * and one just after (seq + 1, `window.afterSeconds + 1` s after the incident), all anchored at once by `anchorer` (a
 * registry connected to an account the device's owner authorised), now — as the gateway's evidence API serves them.
 */
export async function makeAnchoredBundle(args: {
  deviceKey: Wallet;
  chainId: bigint;
  /** The registry, connected to the anchoring account. */
  anchorer: DeviceRegistry;
  rows: readonly Ai4iRow[];
  incidentAt: bigint;
  window: EvidenceWindow;
  /** Seq of the first of `rows` (default 2: the reading before is seq 1). */
  startSeq?: bigint;
  interval?: bigint;
}): Promise<{ bundle: EvidenceBundleV2; bytes: Uint8Array; hash: string; anchor: FixtureAnchor }> {
  const registry = await args.anchorer.getAddress();
  const domain = deviceRegistryDomain(args.chainId, registry);
  const interval = args.interval ?? READING_INTERVAL;
  const startSeq = args.startSeq ?? 2n;
  if (startSeq < 1n) throw new Error("makeAnchoredBundle: startSeq must be at least 1 (the reading before needs a seq)");
  const first = args.incidentAt - interval * BigInt(args.rows.length - 1);
  const sign = (rows: readonly Ai4iRow[], seq: bigint, at: bigint) =>
    signAi4iRows({ deviceKey: args.deviceKey, domain, rows, startSeq: seq, startTimestamp: at, intervalSeconds: interval });
  const window = await sign(args.rows, startSeq, first);
  const [normal] = normalRows(1);
  const beforeAt =
    (first < args.incidentAt - BigInt(args.window.beforeSeconds) ? first : args.incidentAt - BigInt(args.window.beforeSeconds)) - 1n;
  const [before] = await sign([normal], startSeq - 1n, beforeAt);
  const [after] = await sign([normal], startSeq + BigInt(args.rows.length), args.incidentAt + BigInt(args.window.afterSeconds) + 1n);
  const anchor = await anchorAsGateway(args.anchorer, [before, ...window, after]);
  const proven = anchor.proven;
  const bundle = buildEvidenceBundleV2({
    chainId: args.chainId,
    registry,
    incidentAt: args.incidentAt,
    before: proven[0],
    readings: proven.slice(1, -1),
    after: proven[proven.length - 1],
  });
  const bytes = serializeEvidence(bundle);
  return { bundle, bytes, hash: evidenceHash(bytes), anchor };
}
