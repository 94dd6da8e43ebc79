/**
 * A small content-addressed evidence store over HTTP: a local stand-in for IPFS or object storage, used by the demo,
 * the tasks and the tests (docs/protocol.md §7.4).
 *
 *   PUT|POST /evidence          body = bundle bytes → 201 {"hash": "0x…", "uri": "http://host:port/evidence/0x…", "bytes": n}
 *   PUT      /evidence/<0xhash> body must hash to <0xhash> (409 otherwise); 200 at once when already stored
 *   GET|HEAD /evidence/<0xhash> → 200 the exact bytes (application/json), 404 when unknown
 *
 * The key is keccak256 of the exact bytes (the claim's evidenceHash), so what it serves cannot be swapped: that, and
 * only that, is why it answers with an immutable cache header (the bytes are re-hashed before they are served).
 *
 * Safe to expose on a network:
 *  - uploads need `Authorization: Bearer <token>` (compared in constant time): 401 without, 403 with another token;
 *    without a configured token uploads are refused (403), unless `openUploads` (tests and demos, loopback only);
 *  - each client (remote address) may upload `quotaBytesPerMinute` (a token bucket, charged as bytes arrive): 429
 *    with Retry-After beyond it;
 *  - stored plus in-flight bytes stay within `maxTotalBytes` (memory or disk): 507 when an upload does not fit;
 *  - bodies above `maxBytes` are refused with 413 while streaming;
 *  - an upload must parse as a Triad evidence bundle (the SDK's `parseEvidence`), else 422: no HTML or anything else
 *    is ever stored through HTTP, and everything is served as `application/json` with `X-Content-Type-Options:
 *    nosniff` and a CSP that forbids scripts.
 * `put()` (in-process, no HTTP) is trusted: no token, quota or content check (tests store invalid bundles with it),
 * but it counts in the total. Binds to 127.0.0.1 unless told otherwise.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { isIP, type AddressInfo } from "node:net";
import path from "node:path";
import { EvidenceError, TriadError, evidenceHash, parseEvidence } from "@triad/sdk";

export interface EvidenceServerOptions {
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /** Directory to persist bundles in (`<hash>.json`); in memory when omitted. */
  dir?: string;
  /** Largest accepted body (default 1 MiB). */
  maxBytes?: number;
  /** Bearer token every upload must present (at least 16 characters). */
  token?: string;
  /** Uploads without a token, for tests and demos: only allowed when `host` is a loopback address. */
  openUploads?: boolean;
  /** Bytes one client (remote address) may upload per minute; at least `maxBytes` (default 8 MiB). */
  quotaBytesPerMinute?: number;
  /** Bound on stored plus in-flight bytes, in memory or on disk (default 256 MiB). */
  maxTotalBytes?: number;
  /** Milliseconds clock of the quota (default Date.now). */
  now?: () => number;
}

export interface EvidenceServer {
  /** Base URL, for example http://127.0.0.1:40123 */
  url: string;
  /** The URI a bundle with this hash is served at. */
  uriOf(hash: string): string;
  /** Stores bytes directly (without HTTP, unchecked: trusted callers only) and returns their hash and URI. */
  put(bytes: Uint8Array): { hash: string; uri: string };
  /** Bytes stored (counted against `maxTotalBytes`) and bundles stored. */
  usage(): { bytes: number; bundles: number };
  close(): Promise<void>;
}

/** The evidence server cannot start with these options (one sentence naming the option). */
export class EvidenceServerConfigError extends TriadError {
  override readonly name = "EvidenceServerConfigError";
  constructor(message: string) {
    super(message, "EVIDENCE_SERVER_CONFIG");
  }
}

const HASH_PATH = /^\/evidence\/(0x[0-9a-f]{64})$/;
const STORED_FILE = /^(0x[0-9a-f]{64})\.json$/;
const MIB = 1024 * 1024;
const MIN_TOKEN_LENGTH = 16;
/** Headers of every answer: JSON only, never sniffed or rendered as a page. */
const SAFE_HEADERS = {
  "content-type": "application/json",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
} as const;

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

export async function startEvidenceServer(options: EvidenceServerOptions = {}): Promise<EvidenceServer> {
  const host = options.host ?? "127.0.0.1";
  const maxBytes = options.maxBytes ?? MIB;
  const quota = options.quotaBytesPerMinute ?? 8 * MIB;
  const maxTotalBytes = options.maxTotalBytes ?? 256 * MIB;
  const now = options.now ?? Date.now;
  const token = options.token;
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new EvidenceServerConfigError(`the evidence server's upload token must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  if (token === undefined && options.openUploads && !isLoopback(host)) {
    throw new EvidenceServerConfigError(
      `open uploads (no token) are only allowed on a loopback address, not ${host}: configure a token (ORACLE_EVIDENCE_SERVER_TOKEN)`,
    );
  }
  if (quota < maxBytes) {
    throw new EvidenceServerConfigError(
      `the upload quota (${quota} bytes a minute) must be at least the largest bundle (${maxBytes} bytes)`,
    );
  }
  if (maxTotalBytes < maxBytes) {
    throw new EvidenceServerConfigError(
      `the store's bound (${maxTotalBytes} bytes) must be at least the largest bundle (${maxBytes} bytes)`,
    );
  }
  const tokenDigest = token === undefined ? undefined : sha256(Buffer.from(token, "utf8"));

  const memory = new Map<string, Uint8Array>();
  /** Size of every stored bundle, by hash (memory and disk alike). */
  const sizes = new Map<string, number>();
  let storedBytes = 0;
  let inflightBytes = 0;
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    for (const name of readdirSync(options.dir)) {
      const match = STORED_FILE.exec(name);
      if (!match) continue;
      const size = statSync(path.join(options.dir, name)).size;
      sizes.set(match[1], size);
      storedBytes += size;
    }
  }

  const load = (hash: string): Uint8Array | undefined => {
    if (memory.has(hash)) return memory.get(hash);
    if (!options.dir) return undefined;
    const file = path.join(options.dir, `${hash}.json`);
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  };
  const store = (bytes: Uint8Array): string => {
    const hash = evidenceHash(bytes);
    if (sizes.has(hash)) return hash;
    if (options.dir) {
      const file = path.join(options.dir, `${hash}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes);
      renameSync(tmp, file);
    } else {
      memory.set(hash, bytes);
    }
    sizes.set(hash, bytes.byteLength);
    storedBytes += bytes.byteLength;
    return hash;
  };

  /** Per-client token buckets: `quota` bytes, refilled continuously over a minute. */
  const buckets = new Map<string, { bytes: number; at: number }>();
  const bucketOf = (client: string) => {
    const t = now();
    let bucket = buckets.get(client);
    if (!bucket) {
      if (buckets.size >= 10_000) {
        for (const [key, b] of buckets) if (b.bytes + ((t - b.at) * quota) / 60_000 >= quota) buckets.delete(key);
      }
      bucket = { bytes: quota, at: t };
      buckets.set(client, bucket);
    }
    bucket.bytes = Math.min(quota, bucket.bytes + ((t - bucket.at) * quota) / 60_000);
    bucket.at = t;
    return bucket;
  };
  const retryAfterSeconds = (missing: number) => Math.max(1, Math.ceil((missing * 60) / quota));

  let base = "";
  const uriOf = (hash: string) => `${base}/evidence/${hash.toLowerCase()}`;

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => send(res, 500, { error: String((error as Error).message ?? error) }));
  });
  // A client that trickles its headers or body cannot hold a connection for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? "/", "http://x").pathname.toLowerCase();
    const match = HASH_PATH.exec(pathname);
    if ((req.method === "GET" || req.method === "HEAD") && match) return serve(req, res, match[1]);
    if ((req.method === "PUT" || req.method === "POST") && (pathname === "/evidence" || (req.method === "PUT" && match))) {
      return upload(req, res, match?.[1]);
    }
    if (pathname === "/healthz") return send(res, 200, { ok: true });
    send(res, match || pathname === "/evidence" ? 405 : 404, { error: "use PUT/POST /evidence or GET /evidence/<0x keccak256>" });
  }

  function serve(req: IncomingMessage, res: ServerResponse, hash: string): void {
    const bytes = load(hash);
    if (!bytes) return send(res, 404, { error: "unknown evidence hash" });
    // The immutable header is true only if the bytes are those of the hash: a file changed on disk is not served.
    if (evidenceHash(bytes) !== hash) return send(res, 500, { error: "the stored bytes of this hash are corrupt" });
    res.writeHead(200, {
      ...SAFE_HEADERS,
      "content-length": bytes.byteLength,
      "cache-control": "public, max-age=31536000, immutable",
      etag: `"${hash}"`,
    });
    res.end(req.method === "HEAD" ? undefined : bytes);
  }

  async function upload(req: IncomingMessage, res: ServerResponse, expected: string | undefined): Promise<void> {
    const denied = authorise(req);
    if (denied) return refuse(req, res, denied.status, denied.error, denied.headers);
    // PUT of a hash already stored: nothing to read or store (its bytes are those of the hash).
    if (expected && sizes.has(expected)) return refuse(req, res, 200, { hash: expected, uri: uriOf(expected), bytes: sizes.get(expected) });
    const bucket = bucketOf(req.socket.remoteAddress ?? "unknown");
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared)) {
      if (declared > maxBytes) return refuse(req, res, 413, `body larger than ${maxBytes} bytes`);
      if (declared > bucket.bytes) return quotaExceeded(req, res, declared - bucket.bytes);
      if (storedBytes + inflightBytes + declared > maxTotalBytes) return storeFull(req, res);
    }
    const body = await readBody(req, maxBytes, (n) => {
      // Charged as the bytes arrive, so parallel uploads of one client share its quota and in-flight bytes count.
      if (n > bucket.bytes) return "quota";
      if (storedBytes + inflightBytes + n > maxTotalBytes) return "full";
      bucket.bytes -= n;
      inflightBytes += n;
      return undefined;
    });
    inflightBytes -= body.received;
    if (body.refused === "aborted") return; // the client went away
    if (body.refused === "too large") return refuse(req, res, 413, `body larger than ${maxBytes} bytes`);
    if (body.refused === "quota") return quotaExceeded(req, res, maxBytes);
    if (body.refused === "full") return storeFull(req, res);
    const bytes = body.bytes!;
    if (bytes.byteLength === 0) return send(res, 400, { error: "empty body" });
    const hash = evidenceHash(bytes);
    if (expected && expected !== hash) return send(res, 409, { error: `body hashes to ${hash}, not ${expected}` });
    try {
      parseEvidence(bytes);
    } catch (error) {
      if (!(error instanceof EvidenceError)) throw error;
      return send(res, 422, { error: `not a Triad evidence bundle: ${error.message}`, reason: error.reason });
    }
    if (!sizes.has(hash) && storedBytes + bytes.byteLength > maxTotalBytes) return storeFull(req, res);
    store(bytes);
    return send(res, 201, { hash, uri: uriOf(hash), bytes: bytes.byteLength });
  }

  function authorise(req: IncomingMessage): { status: number; error: string; headers?: Record<string, string> } | undefined {
    if (!tokenDigest) {
      if (options.openUploads) return undefined;
      return { status: 403, error: "uploads are disabled: this evidence server has no upload token configured" };
    }
    const header = req.headers.authorization ?? "";
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (presented === undefined) {
      return {
        status: 401,
        error: "uploads need Authorization: Bearer <token>",
        headers: { "www-authenticate": 'Bearer realm="triad-evidence"' },
      };
    }
    // Digests of equal length, compared in constant time: the comparison reveals neither the token nor its length.
    if (!timingSafeEqual(sha256(Buffer.from(presented, "utf8")), tokenDigest)) return { status: 403, error: "wrong upload token" };
    return undefined;
  }

  function quotaExceeded(req: IncomingMessage, res: ServerResponse, missing: number): void {
    refuse(req, res, 429, `upload quota of ${quota} bytes a minute exceeded`, { "retry-after": String(retryAfterSeconds(missing)) });
  }

  function storeFull(req: IncomingMessage, res: ServerResponse): void {
    refuse(req, res, 507, `the evidence store is full (${maxTotalBytes} bytes)`);
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
    usage: () => ({ bytes: storedBytes, bundles: sizes.size }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

type BodyResult = { bytes?: Uint8Array; refused?: "too large" | "quota" | "full" | "aborted"; received: number };

/**
 * Reads the body up to `maxBytes`; `admit(n)` is asked before each chunk is kept and may refuse it ("quota",
 * "full"). `received` is what was admitted (the caller releases it from its in-flight count); a client that goes away
 * mid-body ends it as "aborted".
 */
function readBody(req: IncomingMessage, maxBytes: number, admit: (n: number) => "quota" | "full" | undefined): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (result: Omit<BodyResult, "received">) => {
      if (done) return;
      done = true;
      resolve({ ...result, received });
    };
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      if (received + chunk.byteLength > maxBytes) return finish({ refused: "too large" });
      const refused = admit(chunk.byteLength);
      if (refused) return finish({ refused });
      received += chunk.byteLength;
      chunks.push(chunk);
    });
    req.on("end", () => finish({ bytes: new Uint8Array(Buffer.concat(chunks)) }));
    req.on("error", () => finish({ refused: "aborted" }));
    req.on("close", () => finish({ refused: "aborted" }));
  });
}

/** Answers before (or instead of) reading the body, then closes the connection. */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  error: string | Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  res.setHeader("connection", "close");
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  send(res, status, typeof error === "string" ? { error } : error);
  req.resume();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SAFE_HEADERS, "content-length": Buffer.byteLength(text) });
  res.end(text);
}
