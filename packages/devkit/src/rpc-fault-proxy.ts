/**
 * An HTTP JSON-RPC proxy on 127.0.0.1 in front of a node, for the oracle's fault suite and the latency benchmark. It
 * forwards every request (single or batch) and, as told, injects the faults a real network produces:
 *
 * - `failRate`: a fraction of the requests (of some methods, or all) fail, each way in turn: HTTP 502 from a load
 *   balancer, or a JSON-RPC error with a real node's wording (-32603 "internal error", -32000 "header not found");
 * - `hang`: requests matching a predicate are never answered (the connection stays open until the proxy closes);
 * - `dropRawTransactions`: `eth_sendRawTransaction` is answered with the transaction's hash but never forwarded: a
 *   transaction dropped on its way to the mempool;
 * - `latencyMs`: every request waits this long first.
 *
 * It counts requests per method (`counts`; other HTTP requests as "(http GET)" etc.), so a test can prove a daemon
 * re-broadcast, stopped asking, or never fetched anything from the RPC port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { keccak256 } from "ethers";

type JsonRpcId = string | number | null;
export interface JsonRpcRequest {
  jsonrpc?: string;
  id?: JsonRpcId;
  method: string;
  params?: unknown[];
}

/** How a failing request fails. */
export type RpcFaultKind = "http-502" | "internal-error" | "header-not-found";

/** Faults of a proxy; every field can be changed while it runs (`proxy.faults.x = …`). */
export interface RpcFaults {
  /** Fraction (0–1) of requests that fail; the kinds of {@link RpcFaults.failKinds} take turns. */
  failRate: number;
  /** Only these methods fail (default: every method but `eth_chainId`, which a daemon needs to start at all). */
  failMethods?: readonly string[];
  failKinds: readonly RpcFaultKind[];
  /** Requests for which this returns true are never answered. */
  hang?: (request: JsonRpcRequest) => boolean;
  /** Swallow raw transactions: answer their hash, never forward. A number swallows that many, then forwards. */
  dropRawTransactions: boolean | number;
  latencyMs: number;
}

export interface RpcFaultProxy {
  url: string;
  port: number;
  faults: RpcFaults;
  /** Requests received per method (each element of a batch counts). */
  counts: Map<string, number>;
  /** Requests that failed on purpose, hung, or were swallowed, per method. */
  injected: { failed: Map<string, number>; hung: Map<string, number>; dropped: string[] };
  /** Raw transactions seen (forwarded or not), in order. */
  rawTransactions: string[];
  /** The node the proxy forwards to (can be changed: a node restarted on another port). */
  target: string;
  count(method: string): number;
  /** Clears the faults (the counts stay). */
  heal(): void;
  /** Clears the counts, the injected faults' records and the raw transactions seen. */
  clearCounts(): void;
  close(): Promise<void>;
}

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Real nodes' wordings of the injected JSON-RPC errors (geth's for -32000, Hardhat's / Erigon's for -32603). */
const RPC_ERRORS: Record<Exclude<RpcFaultKind, "http-502">, { code: number; message: string }> = {
  "internal-error": { code: -32603, message: "Internal error" },
  "header-not-found": { code: -32000, message: "header not found" },
};

const NO_FAULTS: RpcFaults = {
  failRate: 0,
  failKinds: ["http-502", "internal-error", "header-not-found"],
  dropRawTransactions: false,
  latencyMs: 0,
};

/**
 * Starts the proxy in front of `target` (a node's URL). `random` decides which requests fail (default Math.random;
 * a seeded one makes a run repeatable).
 */
export async function startRpcFaultProxy(
  target: string,
  options: { faults?: Partial<RpcFaults>; random?: () => number } = {},
): Promise<RpcFaultProxy> {
  const random = options.random ?? Math.random;
  const sockets = new Set<Socket>();
  let kindTurn = 0;
  const proxy: RpcFaultProxy = {
    url: "",
    port: 0,
    faults: { ...NO_FAULTS, ...(options.faults ?? {}) },
    counts: new Map(),
    injected: { failed: new Map(), hung: new Map(), dropped: [] },
    rawTransactions: [],
    target,
    count: (method) => proxy.counts.get(method) ?? 0,
    heal: () => {
      proxy.faults = { ...NO_FAULTS };
    },
    clearCounts: () => {
      proxy.counts.clear();
      proxy.injected.failed.clear();
      proxy.injected.hung.clear();
      proxy.injected.dropped.length = 0;
      proxy.rawTransactions.length = 0;
    },
    close: async () => undefined,
  };

  /** The fault for one request: undefined (forward), "hang", "drop" or a failure kind. */
  function faultOf(request: JsonRpcRequest): RpcFaultKind | "hang" | "drop" | undefined {
    const f = proxy.faults;
    if (f.hang?.(request)) return "hang";
    if (request.method === "eth_sendRawTransaction" && f.dropRawTransactions !== false) {
      if (f.dropRawTransactions === true) return "drop";
      if (f.dropRawTransactions > 0) {
        f.dropRawTransactions -= 1;
        return "drop";
      }
    }
    const eligible = f.failMethods ? f.failMethods.includes(request.method) : request.method !== "eth_chainId";
    if (eligible && f.failRate > 0 && random() < f.failRate && f.failKinds.length > 0) {
      return f.failKinds[kindTurn++ % f.failKinds.length];
    }
    return undefined;
  }

  async function forward(body: string): Promise<{ status: number; text: string }> {
    const res = await fetch(proxy.target, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: res.status, text: await res.text() };
  }

  async function one(request: JsonRpcRequest): Promise<unknown | "hang" | "http-502"> {
    bump(proxy.counts, request.method);
    if (request.method === "eth_sendRawTransaction" && typeof request.params?.[0] === "string") {
      proxy.rawTransactions.push(request.params[0]);
    }
    const fault = faultOf(request);
    if (fault === "hang") {
      bump(proxy.injected.hung, request.method);
      return "hang";
    }
    if (fault === "http-502") {
      bump(proxy.injected.failed, request.method);
      return "http-502";
    }
    if (fault === "drop") {
      const raw = String(request.params![0]);
      proxy.injected.dropped.push(keccak256(raw));
      return { jsonrpc: "2.0", id: request.id ?? null, result: keccak256(raw) };
    }
    if (fault !== undefined) {
      bump(proxy.injected.failed, request.method);
      return { jsonrpc: "2.0", id: request.id ?? null, error: RPC_ERRORS[fault] };
    }
    const { status, text } = await forward(JSON.stringify(request));
    if (status !== 200) return "http-502";
    return JSON.parse(text) as unknown;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      bump(proxy.counts, `(http ${req.method})`); // not JSON-RPC: e.g. an evidence fetch redirected here
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
      return;
    }
    if (proxy.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, proxy.faults.latencyMs));
    const requests = (Array.isArray(body) ? body : [body]) as JsonRpcRequest[];
    const answers = await Promise.all(requests.map((r) => one(r)));
    if (answers.includes("hang")) return; // never answered: the socket stays open until the client gives up
    if (answers.includes("http-502")) {
      res.writeHead(502, { "content-type": "text/html" }).end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      return;
    }
    if (res.destroyed) return;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(body) ? answers : answers[0]));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return proxy;
}
