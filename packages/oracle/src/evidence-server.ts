/**
 * A small content-addressed evidence store over HTTP: a local stand-in for IPFS or object storage, used by the demo,
 * the tasks and the tests.
 *
 *   PUT|POST /evidence          body = bundle bytes → 201 {"hash": "0x…", "uri": "http://host:port/evidence/0x…", "bytes": n}
 *   PUT      /evidence/<0xhash> body must hash to <0xhash> (409 otherwise)
 *   GET|HEAD /evidence/<0xhash> → 200 the exact bytes (application/json), 404 when unknown
 *
 * The key is keccak256 of the exact bytes (the claim's evidenceHash), so what it serves cannot be swapped. It stores
 * bytes as given: checking bundles is the oracle's job. Bodies above `maxBytes` are refused with 413 while streaming.
 * Binds to 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { evidenceHash } from "@triad/sdk";

export interface EvidenceServerOptions {
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /** Directory to persist bundles in (`<hash>.json`); in memory when omitted. */
  dir?: string;
  /** Largest accepted body (default 1 MiB). */
  maxBytes?: number;
}

export interface EvidenceServer {
  /** Base URL, for example http://127.0.0.1:40123 */
  url: string;
  /** The URI a bundle with this hash is served at. */
  uriOf(hash: string): string;
  /** Stores bytes directly (without HTTP) and returns their hash and URI. */
  put(bytes: Uint8Array): { hash: string; uri: string };
  close(): Promise<void>;
}

const HASH_PATH = /^\/evidence\/(0x[0-9a-f]{64})$/;

export async function startEvidenceServer(options: EvidenceServerOptions = {}): Promise<EvidenceServer> {
  const host = options.host ?? "127.0.0.1";
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const memory = new Map<string, Uint8Array>();
  if (options.dir) mkdirSync(options.dir, { recursive: true });

  const load = (hash: string): Uint8Array | undefined => {
    if (memory.has(hash)) return memory.get(hash);
    if (!options.dir) return undefined;
    const file = path.join(options.dir, `${hash}.json`);
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  };
  const store = (bytes: Uint8Array): string => {
    const hash = evidenceHash(bytes);
    if (options.dir) {
      const file = path.join(options.dir, `${hash}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes);
      renameSync(tmp, file);
    } else {
      memory.set(hash, bytes);
    }
    return hash;
  };

  let base = "";
  const uriOf = (hash: string) => `${base}/evidence/${hash.toLowerCase()}`;

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => send(res, 500, { error: String((error as Error).message ?? error) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? "/", "http://x").pathname.toLowerCase();
    const match = HASH_PATH.exec(pathname);
    if ((req.method === "GET" || req.method === "HEAD") && match) {
      const bytes = load(match[1]);
      if (!bytes) return send(res, 404, { error: "unknown evidence hash" });
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": bytes.byteLength,
        "cache-control": "public, max-age=31536000, immutable",
      });
      res.end(req.method === "HEAD" ? undefined : bytes);
      return;
    }
    if ((req.method === "PUT" || req.method === "POST") && (pathname === "/evidence" || (req.method === "PUT" && match))) {
      const declared = Number(req.headers["content-length"] ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(req, res, maxBytes);
      const body = await readBody(req, maxBytes);
      if (body === "too large") return tooLarge(req, res, maxBytes);
      if (body.byteLength === 0) return send(res, 400, { error: "empty body" });
      const hash = evidenceHash(body);
      if (match && match[1] !== hash) return send(res, 409, { error: `body hashes to ${hash}, not ${match[1]}` });
      store(body);
      return send(res, 201, { hash, uri: uriOf(hash), bytes: body.byteLength });
    }
    if (pathname === "/healthz") return send(res, 200, { ok: true });
    send(res, match || pathname === "/evidence" ? 405 : 404, { error: "use PUT/POST /evidence or GET /evidence/<0x keccak256>" });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  base = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;

  return {
    url: base,
    uriOf,
    put(bytes) {
      const hash = store(bytes);
      return { hash, uri: uriOf(hash) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | "too large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      total += chunk.byteLength;
      if (total > maxBytes) {
        over = true;
        resolve("too large");
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on("error", reject);
  });
}

function tooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number): void {
  res.setHeader("connection", "close");
  send(res, 413, { error: `body larger than ${maxBytes} bytes` });
  req.resume();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
