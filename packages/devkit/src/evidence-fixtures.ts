import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import type { Wallet } from "ethers";
import pino, { type Logger } from "pino";
import {
  buildEvidenceBundle,
  deviceRegistryDomain,
  evidenceHash,
  parseAi4iCsv,
  serializeEvidence,
  signAi4iRows,
  type Ai4iRow,
  type EvidenceBundle,
} from "@triad/sdk";

const CSV_FILE = path.resolve(import.meta.dirname, "../../../data/ai4i2020/ai4i2020-train.csv");
let rows: Ai4iRow[] | undefined;

/** The AI4I 2020 training rows (parsed once). */
export function ai4iRows(): Ai4iRow[] {
  rows ??= parseAi4iCsv(readFileSync(CSV_FILE, "utf8"), CSV_FILE);
  return rows;
}

/** Real failure rows of one mode (HDF: heat dissipation, PWF: power, OSF: overstrain). */
export function failureRows(mode: "HDF" | "PWF" | "OSF", count: number): Ai4iRow[] {
  return ai4iRows()
    .filter((r) => r.failure === 1 && r.modes[mode] === 1)
    .slice(0, count);
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
 * A signed evidence bundle: `rows` as consecutive readings of `deviceKey`, one a minute (or `interval`), the LAST one at
 * `incidentAt` (so a failure row placed last is the incident).
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
