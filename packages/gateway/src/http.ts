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
 * Each reading carries `anchor` and `proof`: null until fleet anchoring lands (the next slice fills them with the
 * anchor root/transaction and the Merkle proof of the reading's digest). Integers are decimal strings.
 * Bad parameters answer 400 with {"error": "<what is wrong>"}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isAddress } from "ethers";
import type { Registry } from "prom-client";
import type { ReadingStore, StoredReading } from "./store/types.ts";

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

class BadRequest extends Error {}

const UINT = /^(0|[1-9]\d{0,19})$/;

function uintParam(params: URLSearchParams, name: string): bigint | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!UINT.test(raw) || BigInt(raw) > 2n ** 64n - 1n)
    throw new BadRequest(`${name} must be a whole number of 0..2^64-1 (got "${raw.slice(0, 40)}")`);
  return BigInt(raw);
}

export function readingJson(r: StoredReading) {
  return {
    device: r.device,
    seq: r.seq.toString(),
    timestamp: r.timestamp.toString(),
    values: r.values.map(String),
    signature: r.signature,
    digest: r.digest,
    receivedAt: new Date(r.receivedAt).toISOString(),
    anchor: r.anchorRoot === null ? null : { root: r.anchorRoot },
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
}): Promise<HttpApi> {
  const { store } = options;
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
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
        readings: rows.map(readingJson),
        next: rows.length === limit ? rows[rows.length - 1].seq.toString() : null,
      });
    }
    return json(res, 404, { error: "not found (see /v1/devices/{device}, /v1/devices/{device}/readings, /healthz, /metrics)" });
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
