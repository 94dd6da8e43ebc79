/**
 * The gateway's HTTP API (node:http, JSON), on 127.0.0.1 by default:
 *
 *   GET /healthz                                  200 healthy / 503 unhealthy: broker up, database writable, registry cache fresh
 *   GET /metrics                                  Prometheus text
 *   GET /v1/devices/{device}                      last seq, reading count, equivocations, rejections by reason (404 unknown)
 *   GET /v1/devices/{device}/readings?from=&to=&limit=&after=
 *                                                 the device's stored readings with their signatures, in seq order;
 *                                                 from/to bound the reading timestamp (seconds, inclusive), limit ≤ 1000
 *                                                 (default 100), after = a seq to page from (the answer's `next`).
 *
 *   GET /v1/devices/{device}/evidence?incidentAt=&before=&after=
 *                                                 a triad.evidence/v2 bundle (docs/protocol.md §7) of the device's readings
 *                                                 with timestamps in [incidentAt − before, incidentAt + after] (defaults
 *                                                 3600 and 600 s) and the readings just before and after them, each with
 *                                                 its fleet anchor and proof, as the exact bytes to publish; header
 *                                                 x-triad-evidence-hash = keccak256 of the body. 409 (with Retry-After)
 *                                                 while a reading is not in a confirmed anchor yet or the device has not
 *                                                 reported after the window yet; 422 when a seq is missing (the oracle
 *                                                 would refuse the bundle as INCOMPLETE_WINDOW)
 *   GET /v1/anchors?limit=&status=                fleet anchors, newest first (status pending | confirmed)
 *   GET /v1/anchors/{root}                        one fleet anchor: gateway account, reading count, transaction, block,
 *                                                 chain time; the URI recorded on-chain with the root points here
 *
 * Each reading carries `anchor` ({root, gateway, status, txHash, blockNumber, anchoredAt}) and `proof` (the Merkle
 * proof of its digest under that root, for `DeviceRegistry.verifyFleetReading`): both null until the reading is
 * assigned to a fleet anchor; `status` says whether that anchor is confirmed on-chain yet. Integers are decimal strings.
 *   GET /v1/streams/{listingId}/challenge?subscriber=     live marketplace streams (./streams.ts, docs/protocol.md §13.4):
 *   GET /v1/streams/{listingId}?subscriber=&challenge=&signature=[&since=]   a challenge to sign, then Server-Sent Events
 *
 * Bad parameters answer 400 with {"error": "<what is wrong>"}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isAddress } from "ethers";
import type { Registry } from "prom-client";
import type { StreamHub } from "./streams.ts";
import { buildEvidenceBundleV2, evidenceHash, serializeEvidence, type ProvenReading } from "@triad/sdk";
import type { AnchorRecord, ReadingStore, StoredReading } from "./store/types.ts";

export interface HealthReport {
  healthy: boolean;
  [key: string]: unknown;
}

export interface HttpApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
/** Most readings in one evidence bundle. */
export const MAX_EVIDENCE_READINGS = 100_000;

class BadRequest extends Error {}

const UINT = /^(0|[1-9]\d{0,19})$/;

function uintParam(params: URLSearchParams, name: string): bigint | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!UINT.test(raw) || BigInt(raw) > 2n ** 64n - 1n)
    throw new BadRequest(`${name} must be a whole number of 0..2^64-1 (got "${raw.slice(0, 40)}")`);
  return BigInt(raw);
}

export function anchorJson(a: AnchorRecord) {
  return {
    root: a.root,
    gateway: a.gateway,
    count: a.count,
    uri: a.uri,
    status: a.status,
    txHash: a.txHash,
    blockNumber: a.blockNumber,
    anchoredAt: a.anchoredAt === null ? null : new Date(a.anchoredAt * 1000).toISOString(),
    createdAt: new Date(a.createdAt).toISOString(),
  };
}

export function readingJson(r: StoredReading, anchor?: AnchorRecord) {
  return {
    device: r.device,
    seq: r.seq.toString(),
    timestamp: r.timestamp.toString(),
    values: r.values.map(String),
    signature: r.signature,
    digest: r.digest,
    receivedAt: new Date(r.receivedAt).toISOString(),
    anchor:
      r.anchorRoot === null
        ? null
        : anchor
          ? {
              root: anchor.root,
              gateway: anchor.gateway,
              status: anchor.status,
              txHash: anchor.txHash,
              blockNumber: anchor.blockNumber,
              anchoredAt: anchor.anchoredAt === null ? null : new Date(anchor.anchoredAt * 1000).toISOString(),
            }
          : { root: r.anchorRoot },
    proof: r.proof,
  };
}

export async function startHttpApi(options: {
  host: string;
  port: number;
  store: ReadingStore;
  registry: Registry;
  health: () => Promise<HealthReport>;
  /** Called before /metrics renders (refreshes gauges). */
  beforeMetrics?: () => Promise<void>;
  /** Live marketplace streams: serves /v1/streams/… */
  streams?: Pick<StreamHub, "handle">;
  /**
   * What evidence bundles name: the chain, the registry (its EIP-712 domain) and a device's sensor schema id; and the
   * anchoring interval, for the Retry-After of a bundle whose readings are not anchored yet (default 60 s).
   */
  evidence?: {
    chainId: bigint;
    registry: string;
    sensorSchema(device: string): Promise<string | undefined>;
    anchorIntervalSeconds?: number;
    /** The gateway's clock, ms since the epoch (default Date.now). */
    now?: () => number;
  };
}): Promise<HttpApi> {
  const { store } = options;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
  /** The anchors of a page of readings, one lookup per distinct root. */
  const withAnchors = async (rows: StoredReading[]) => {
    const roots = new Map<string, AnchorRecord | undefined>();
    for (const r of rows) if (r.anchorRoot !== null && !roots.has(r.anchorRoot)) roots.set(r.anchorRoot, await store.anchor(r.anchorRoot));
    return rows.map((r) => readingJson(r, r.anchorRoot === null ? undefined : roots.get(r.anchorRoot)));
  };
  /**
   * The window's readings with the readings just before and after them (seqs contiguous from one to the other), each
   * in a confirmed fleet anchor with its proof: what a triad.evidence/v2 bundle needs. Otherwise why not, as the
   * HTTP status and sentence to answer (409 with a retry time while it is a matter of waiting).
   */
  const provenWindow = async (
    device: string,
    rows: StoredReading[],
    to: bigint,
    timing: { intervalSeconds: number; now: () => number },
  ): Promise<
    | { ok: true; readings: { before: ProvenReading; readings: ProvenReading[]; after: ProvenReading } }
    | { ok: false; status: number; error: string; retryAfter?: number }
  > => {
    const nowMs = timing.now();
    // Anchoring takes up to an interval; a reading after the window can only come once the window is over.
    const retryAfter = Math.max(1, Math.ceil(timing.intervalSeconds));
    const untilWindowEnd = Math.max(0, Number(to) + 1 - Math.floor(nowMs / 1000));
    const retryAt = (seconds: number) => new Date(nowMs + seconds * 1000).toISOString();
    const incomplete = (seq: bigint, where: string) => ({
      ok: false as const,
      status: 422,
      error: `reading seq ${seq} of ${device} (${where}) is not stored at this gateway: the window cannot be proved complete, and a claim on it would be refused (INCOMPLETE_WINDOW)`,
    });
    for (let i = 1; i < rows.length; i++)
      if (rows[i].seq !== rows[i - 1].seq + 1n) return incomplete(rows[i - 1].seq + 1n, "inside the window");
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (first.seq === 0n) {
      return {
        ok: false,
        status: 422,
        error: `the first reading of ${device} (seq 0) is in the window: no reading before it can prove the window complete`,
      };
    }
    const [previous] = await store.readings({ device, afterSeq: first.seq >= 2n ? first.seq - 2n : undefined, limit: 1 });
    if (previous?.seq !== first.seq - 1n) return incomplete(first.seq - 1n, "just before the window");
    const [next] = await store.readings({ device, afterSeq: last.seq, limit: 1 });
    if (!next) {
      return {
        ok: false,
        status: 409,
        retryAfter: untilWindowEnd + retryAfter,
        error: `${device} has not reported a reading after the window (after ${to}) yet: retry after ${retryAt(untilWindowEnd + retryAfter)}`,
      };
    }
    if (next.seq !== last.seq + 1n) return incomplete(last.seq + 1n, "just after the window");
    const all = [previous, ...rows, next];
    const anchors = new Map<string, AnchorRecord | undefined>();
    for (const r of all)
      if (r.anchorRoot !== null && !anchors.has(r.anchorRoot)) anchors.set(r.anchorRoot, await store.anchor(r.anchorRoot));
    const proven = all.map((r): ProvenReading | undefined => {
      const anchor = r.anchorRoot === null ? undefined : anchors.get(r.anchorRoot);
      if (!anchor || anchor.status !== "confirmed" || r.proof === null) return undefined;
      return { reading: r, anchor: { kind: "fleet", gateway: anchor.gateway, root: anchor.root }, proof: r.proof };
    });
    const waiting = proven.findIndex((p) => p === undefined);
    if (waiting >= 0) {
      const r = all[waiting];
      const state = r.anchorRoot === null ? "not in an anchor yet" : "in an anchor not confirmed on-chain yet";
      return {
        ok: false,
        status: 409,
        retryAfter,
        error: `reading seq ${r.seq} of ${device} is ${state}: not anchored yet, retry after ${retryAt(retryAfter)}`,
      };
    }
    const [before, ...inWindow] = proven as ProvenReading[];
    const afterReading = inWindow.pop()!;
    return { ok: true, readings: { before, readings: inWindow, after: afterReading } };
  };
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, { error: "only GET" });
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://gateway");
    } catch {
      return json(res, 400, { error: "bad request URL" });
    }
    const parts = url.pathname.split("/").filter((p) => p !== "");
    if (parts[0] === "v1" && parts[1] === "streams" && options.streams) return options.streams.handle(req, res, url);
    if (url.pathname === "/healthz") {
      const report = await options.health();
      return json(res, report.healthy ? 200 : 503, report);
    }
    if (url.pathname === "/metrics") {
      await options.beforeMetrics?.();
      res.writeHead(200, { "content-type": options.registry.contentType }).end(await options.registry.metrics());
      return;
    }
    if (parts[0] === "v1" && parts[1] === "devices" && parts.length >= 3 && parts.length <= 4) {
      const device = decodeURIComponent(parts[2]);
      if (!isAddress(device)) throw new BadRequest(`"${String(device).slice(0, 60)}" is not a device address (0x + 40 hex digits)`);
      if (parts.length === 3) {
        const summary = await store.deviceSummary(device);
        if (!summary) return json(res, 404, { error: `no readings stored for ${device}` });
        return json(res, 200, {
          device: summary.device,
          lastSeq: summary.lastSeq.toString(),
          readings: summary.readings,
          lastTimestamp: summary.lastTimestamp.toString(),
          firstReceivedAt: new Date(summary.firstReceivedAt).toISOString(),
          lastReceivedAt: new Date(summary.lastReceivedAt).toISOString(),
          equivocations: summary.equivocations,
          rejections: summary.rejections,
        });
      }
      if (parts[3] === "evidence") {
        const known = new Set(["incidentAt", "before", "after"]);
        for (const key of url.searchParams.keys())
          if (!known.has(key)) throw new BadRequest(`unknown parameter "${key.slice(0, 40)}" (incidentAt, before, after)`);
        const incidentAt = uintParam(url.searchParams, "incidentAt");
        if (incidentAt === undefined) throw new BadRequest("incidentAt (seconds since the epoch) is required");
        const before = uintParam(url.searchParams, "before") ?? 3600n;
        const after = uintParam(url.searchParams, "after") ?? 600n;
        if (!options.evidence) return json(res, 503, { error: "this gateway serves no evidence bundles" });
        const schema = await options.evidence.sensorSchema(device);
        if (schema === undefined) return json(res, 404, { error: `device ${device} is not registered or its sensor schema is unknown` });
        const from = incidentAt > before ? incidentAt - before : 0n;
        const to = incidentAt + after;
        const rows: StoredReading[] = [];
        for (let afterSeq: bigint | undefined; ;) {
          const page = await store.readings({ device, from, to, afterSeq, limit: MAX_LIMIT });
          rows.push(...page);
          if (page.length < MAX_LIMIT) break;
          if (rows.length >= MAX_EVIDENCE_READINGS)
            return json(res, 413, { error: `more than ${MAX_EVIDENCE_READINGS} readings in the window: narrow before/after` });
          afterSeq = page[page.length - 1].seq;
        }
        if (rows.length === 0)
          return json(res, 404, { error: `no readings of ${device} between ${from} and ${to} (incidentAt ${incidentAt})` });
        const served = await provenWindow(device, rows, to, {
          intervalSeconds: options.evidence.anchorIntervalSeconds ?? 60,
          now: options.evidence.now ?? Date.now,
        });
        if (!served.ok) {
          if (served.retryAfter !== undefined) res.setHeader("retry-after", String(served.retryAfter));
          return json(res, served.status, { error: served.error });
        }
        const bytes = serializeEvidence(
          buildEvidenceBundleV2({
            chainId: options.evidence.chainId,
            registry: options.evidence.registry,
            incidentAt,
            sensorSchema: schema,
            ...served.readings,
          }),
        );
        res.writeHead(200, { "content-type": "application/json", "x-triad-evidence-hash": evidenceHash(bytes) }).end(bytes);
        return;
      }
      if (parts[3] !== "readings") return json(res, 404, { error: "not found" });
      const known = new Set(["from", "to", "limit", "after"]);
      for (const key of url.searchParams.keys())
        if (!known.has(key)) throw new BadRequest(`unknown parameter "${key.slice(0, 40)}" (from, to, limit, after)`);
      const from = uintParam(url.searchParams, "from");
      const to = uintParam(url.searchParams, "to");
      const after = uintParam(url.searchParams, "after");
      const limitRaw = uintParam(url.searchParams, "limit");
      if (from !== undefined && to !== undefined && from > to) throw new BadRequest(`from (${from}) is after to (${to})`);
      if (limitRaw !== undefined && (limitRaw < 1n || limitRaw > BigInt(MAX_LIMIT))) throw new BadRequest(`limit must be 1..${MAX_LIMIT}`);
      const limit = Number(limitRaw ?? BigInt(DEFAULT_LIMIT));
      const rows = await store.readings({ device, from, to, afterSeq: after, limit });
      return json(res, 200, {
        device,
        readings: await withAnchors(rows),
        next: rows.length === limit ? rows[rows.length - 1].seq.toString() : null,
      });
    }
    if (parts[0] === "v1" && parts[1] === "anchors" && parts.length === 3) {
      const root = decodeURIComponent(parts[2]).toLowerCase();
      if (!/^0x[0-9a-f]{64}$/.test(root)) throw new BadRequest(`"${root.slice(0, 80)}" is not a root (0x + 64 hex digits)`);
      const anchor = await store.anchor(root);
      if (!anchor) return json(res, 404, { error: `no anchor ${root} at this gateway` });
      return json(res, 200, anchorJson(anchor));
    }
    if (parts[0] === "v1" && parts[1] === "anchors" && parts.length === 2) {
      const known = new Set(["limit", "status"]);
      for (const key of url.searchParams.keys())
        if (!known.has(key)) throw new BadRequest(`unknown parameter "${key.slice(0, 40)}" (limit, status)`);
      const status = url.searchParams.get("status") ?? undefined;
      if (status !== undefined && status !== "pending" && status !== "confirmed")
        throw new BadRequest("status must be pending or confirmed");
      const limitRaw = uintParam(url.searchParams, "limit");
      if (limitRaw !== undefined && (limitRaw < 1n || limitRaw > BigInt(MAX_LIMIT))) throw new BadRequest(`limit must be 1..${MAX_LIMIT}`);
      const anchors = await store.anchors({ limit: Number(limitRaw ?? BigInt(DEFAULT_LIMIT)), status });
      return json(res, 200, { anchors: anchors.map(anchorJson) });
    }
    return json(res, 404, {
      error:
        "not found (see /v1/devices/{device}, /v1/devices/{device}/readings, /v1/devices/{device}/evidence, /v1/anchors, /healthz, /metrics)",
    });
  };
  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.end();
      if (error instanceof BadRequest) json(res, 400, { error: error.message });
      else json(res, 500, { error: String((error as Error)?.message ?? error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
