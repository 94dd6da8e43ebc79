/**
 * Content on IPFS (docs/protocol.md §2, content addressing): evidence bundles and marketplace files are published as UnixFS files with
 * CIDv1, raw leaves, 1 MiB chunks and balanced DAGs of up to 1,024 links (the IPIP-499 `unixfs-v1-2025` profile) and
 * referenced by `ipfs://<cid>` URIs. Whoever reads them trusts no node: every block is checked against its CID (its
 * SHA-256 multihash) before it is used, so the bytes returned are the bytes the CID names, whichever node, gateway or
 * chunking produced them.
 *
 * Three ways to reach IPFS, one {@link IpfsClient}:
 * - `{ dir }`: an in-process Helia node with a filesystem blockstore under `dir`, a libp2p of TCP (127.0.0.1 unless
 *   `listen` says otherwise), Noise and Yamux, no bootstrap list, no mDNS, no DHT: it exchanges blocks (Bitswap) with
 *   the `peers` it is told to dial, nothing else.
 * - `{ apiUrl }`: an external Kubo node through its HTTP RPC (`/api/v0/add`, `/api/v0/block/get`).
 * - `{ gatewayUrl }`: a trustless HTTP gateway (`GET /ipfs/<cid>?format=raw`, one block per request); read-only.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { PrivateKey } from "@libp2p/interface";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type * as Helia from "helia";
import type { ReadableStorage } from "ipfs-unixfs-exporter";
import type { ImporterOptions } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { InvalidInputError, TriadError } from "../errors.ts";

// ------------------------------------------------------------------ types

/** What went wrong reading or writing IPFS content; one sentence, the CID in `details.cid`. */
export type IpfsErrorCode =
  /** No node, peer or gateway had (a block of) the content, or it is not a file. */
  | "IPFS_NOT_FOUND"
  /** A block's bytes do not hash to its CID: the source sent other content. */
  | "IPFS_CID_MISMATCH"
  /** The content is larger than the caller's `maxBytes`. */
  | "IPFS_TOO_LARGE"
  /** The node, API or gateway could not be reached or failed, or the read was cancelled. */
  | "IPFS_UNAVAILABLE";

export class IpfsError extends TriadError {
  override readonly name = "IpfsError";
  constructor(code: IpfsErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, code, details, options);
  }
}

/** An in-process Helia node. */
export interface HeliaIpfsOptions {
  /** Folder of the node: its blocks (`blocks/`) and its libp2p key (`libp2p.key`, so its peer id survives restarts). */
  dir: string;
  /** Multiaddrs (with `/p2p/<peer id>`) dialled at start, and again by reads while not connected (every 3 s at most). */
  peers?: readonly string[];
  /** Listen multiaddrs (default `/ip4/127.0.0.1/tcp/0`: loopback only, a free port). */
  listen?: readonly string[];
  /**
   * No network at all: `add` writes the blocks into the folder and `get` reads only what is there (no `peers`). For a
   * short-lived publisher (a CLI command) whose folder a long-running node on the same folder serves.
   */
  offline?: boolean;
}

/** An external Kubo node's RPC API, e.g. `http://127.0.0.1:5001`. */
export interface KuboIpfsOptions {
  apiUrl: string;
  /** Extra request headers (an `Authorization` for a protected API). */
  headers?: Record<string, string>;
}

/** A trustless HTTP gateway, e.g. `http://127.0.0.1:8080` (a trailing `/ipfs/` is accepted). Read-only. */
export interface GatewayIpfsOptions {
  gatewayUrl: string;
}

export type IpfsOptions = HeliaIpfsOptions | KuboIpfsOptions | GatewayIpfsOptions;

export interface IpfsGetOptions {
  /** Largest content accepted, in bytes: larger content is refused (IPFS_TOO_LARGE) before or while it is read. */
  maxBytes: number;
  /** Cancels the read (IPFS_UNAVAILABLE, the signal's reason as `cause`). */
  signal?: AbortSignal;
  /** Own deadline of the read when `signal` does not end it earlier (default 60 s). */
  timeoutMs?: number;
}

export interface IpfsClient {
  readonly kind: "helia" | "kubo" | "gateway";
  /** Publishes `bytes` as a UnixFS file (CIDv1, raw leaves) and returns its CID (base32 `bafy…`/`bafk…`). */
  add(bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<string>;
  /**
   * The bytes of the file `cid` names (`<cid>`, `<cid>/<path>` or `ipfs://<cid>[/<path>]`), every block verified
   * against its CID.
   */
  get(cid: string, options: IpfsGetOptions): Promise<Uint8Array>;
  /** The multiaddrs other nodes dial to reach this one (a Helia node; empty otherwise). */
  multiaddrs(): string[];
  close(): Promise<void>;
}

// ------------------------------------------------------------------ content addressing

/** The import settings of every `add` (Helia's, and the local {@link ipfsCidOf}); Kubo is asked for the same. */
export const IPFS_IMPORT_OPTIONS: Readonly<ImporterOptions> = Object.freeze({ profile: "unixfs-v1-2025" });

/** Largest block accepted from any source (Bitswap's limit is 2 MiB; our files use 1 MiB chunks). */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;
/** Blocks read at once while reading a file. */
const BLOCK_READ_CONCURRENCY = 8;
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * The CIDv1 `add` gives `bytes` (computed locally, nothing stored): what a claimant can check an `ipfs://` URI
 * against before filing it.
 */
export async function ipfsCidOf(bytes: Uint8Array): Promise<string> {
  const { importBytes } = await import("ipfs-unixfs-importer");
  const { cid } = await importBytes(bytes, { put: async (key: CID) => key }, { ...IPFS_IMPORT_OPTIONS });
  return cid.toString();
}

/**
 * The CID and path of `ipfs://<cid>[/<path>]`, `/ipfs/<cid>…` or a bare `<cid>[/<path>]`; the CID normalised to
 * CIDv1 base32. Throws InvalidInputError on anything else.
 */
export function parseIpfsUri(uri: string): { cid: string; path: string } {
  const rest = uri
    .trim()
    .replace(/^ipfs:\/\//i, "")
    .replace(/^\/?ipfs\//, "");
  const [root, ...parts] = rest.split("/");
  let cid: CID;
  try {
    cid = CID.parse(root);
  } catch {
    throw new InvalidInputError(`"${uri}" does not name an IPFS CID (expected ipfs://<cid>)`, { uri });
  }
  const relative = parts.filter((p) => p !== "").join("/");
  return { cid: cid.toV1().toString(), path: relative };
}

/** Throws IPFS_CID_MISMATCH unless `bytes` hash to `cid`'s multihash (SHA-256, or identity). */
async function verifyBlock(cid: CID, bytes: Uint8Array, source: string): Promise<void> {
  const { code, digest } = cid.multihash;
  if (code === 0x00) {
    if (!equalBytes(digest, bytes)) throw mismatch(cid, source);
    return;
  }
  if (code !== sha256.code) {
    throw new IpfsError("IPFS_CID_MISMATCH", `cannot verify ${cid}: its hash function 0x${code.toString(16)} is not SHA-256`, {
      cid: cid.toString(),
    });
  }
  const actual = await sha256.digest(bytes);
  if (!equalBytes(actual.digest, digest)) throw mismatch(cid, source);
}

function mismatch(cid: CID, source: string): IpfsError {
  return new IpfsError("IPFS_CID_MISMATCH", `${source} sent bytes for block ${cid} that do not hash to its CID: refused`, {
    cid: cid.toString(),
    source,
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fetches one block's bytes from a source (not yet verified). */
type BlockFetcher = (cid: CID, signal: AbortSignal) => Promise<Uint8Array>;

/**
 * Reads the UnixFS file `target` names through `fetchBlock`, each block verified against its CID, at most
 * `maxBytes` of content (and a bounded amount of DAG around it).
 */
async function readVerified(
  target: string,
  fetchBlock: BlockFetcher,
  source: string,
  options: IpfsGetOptions,
  /** Whether a read that ran out of time means "no peer has it" (a peer-to-peer node) rather than "source down". */
  timeoutMeansNotFound = false,
): Promise<Uint8Array> {
  const { cid, path: subPath } = parseIpfsUri(target);
  const { maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new InvalidInputError(`maxBytes must be a whole number of bytes, got ${maxBytes}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  const name = subPath ? `${cid}/${subPath}` : cid;
  // Content plus the DAG's inner nodes (a few dozen bytes per 1 MiB leaf): more than this is not a file of maxBytes.
  let budget = maxBytes + 64 * 1024 + Math.ceil(maxBytes / 64);
  const storage: ReadableStorage = {
    async *get(key: CID) {
      const bytes = await fetchBlock(key, signal);
      if (bytes.length > MAX_BLOCK_BYTES) {
        throw new IpfsError("IPFS_TOO_LARGE", `${source} sent a block of ${bytes.length} bytes for ${key} (at most ${MAX_BLOCK_BYTES})`, {
          cid: key.toString(),
        });
      }
      await verifyBlock(key, bytes, source);
      budget -= bytes.length;
      if (budget < 0) throw tooLarge(name, maxBytes);
      yield bytes;
    },
  };
  try {
    // Loaded on first use (as Helia is): @triad/sdk/node is imported by every command and service.
    const { exporter } = await import("ipfs-unixfs-exporter");
    const entry = await exporter(subPath ? `${cid}/${subPath}` : cid, storage, { signal });
    if (entry.type !== "file" && entry.type !== "raw" && entry.type !== "identity") {
      throw new IpfsError("IPFS_NOT_FOUND", `ipfs://${name} is a ${entry.type}, not a file`, { cid, type: entry.type });
    }
    if (entry.size > BigInt(maxBytes)) throw tooLarge(name, maxBytes, entry.size);
    const out = new Uint8Array(Number(entry.size));
    let offset = 0;
    for await (const chunk of entry.content({ signal, blockReadConcurrency: BLOCK_READ_CONCURRENCY })) {
      if (offset + chunk.length > out.length) throw tooLarge(name, maxBytes);
      out.set(chunk, offset);
      offset += chunk.length;
    }
    if (offset !== out.length) {
      throw new IpfsError("IPFS_CID_MISMATCH", `ipfs://${name} declares ${out.length} bytes but its blocks hold ${offset}`, { cid });
    }
    return out;
  } catch (err) {
    if (err instanceof TriadError) throw err;
    if (signal.aborted) {
      if (options.signal?.aborted) {
        throw new IpfsError("IPFS_UNAVAILABLE", `reading ipfs://${name} from ${source} was cancelled`, { cid }, { cause: signal.reason });
      }
      const seconds = Math.round(timeoutMs / 1000);
      if (timeoutMeansNotFound) {
        throw new IpfsError("IPFS_NOT_FOUND", `no peer of ${source} provided ipfs://${name} within ${seconds} s`, { cid, timedOut: true });
      }
      throw new IpfsError("IPFS_UNAVAILABLE", `${source} did not deliver ipfs://${name} within ${seconds} s`, { cid, timedOut: true });
    }
    const e = err as { name?: string; message?: string };
    if (e.name === "NotFoundError" || e.name === "NoResolverError") {
      throw new IpfsError("IPFS_NOT_FOUND", `ipfs://${name} was not found through ${source}: ${e.message}`, { cid }, { cause: err });
    }
    throw new IpfsError(
      "IPFS_UNAVAILABLE",
      `cannot read ipfs://${name} from ${source}: ${e.message ?? String(err)}`,
      { cid },
      { cause: err },
    );
  }
}

function tooLarge(name: string, maxBytes: number, size?: bigint): IpfsError {
  return new IpfsError(
    "IPFS_TOO_LARGE",
    `ipfs://${name} is larger than the ${maxBytes} bytes accepted${size === undefined ? "" : ` (${size} bytes)`}`,
    { cid: name, maxBytes, ...(size === undefined ? {} : { size: Number(size) }) },
  );
}

/** Reads a response body of at most `limit` bytes (the rest is not read). */
async function readBody(res: Response, limit: number, what: () => IpfsError): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await res.body?.cancel();
    throw what();
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw what();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** A failed fetch (DNS, refused connection, reset) as IPFS_UNAVAILABLE; an abort passes through. */
function unreachable(err: unknown, source: string, details: Record<string, unknown>): unknown {
  if ((err as { name?: string }).name === "AbortError" || (err as { name?: string }).name === "TimeoutError") return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new IpfsError("IPFS_UNAVAILABLE", `cannot reach ${source}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, details, {
    cause: err,
  });
}

// ------------------------------------------------------------------ clients

/**
 * Opens an IPFS client: an in-process Helia node (`{ dir }`), an external Kubo node (`{ apiUrl }`) or a trustless
 * gateway (`{ gatewayUrl }`). Close it when done (a Helia node holds its port and its blockstore).
 */
export async function openIpfs(options: IpfsOptions): Promise<IpfsClient> {
  if ("dir" in options) return openHelia(options);
  if ("apiUrl" in options) return kuboClient(options);
  if ("gatewayUrl" in options) return gatewayClient(options);
  throw new InvalidInputError("openIpfs needs dir (Helia), apiUrl (Kubo) or gatewayUrl (trustless gateway)");
}

function httpBase(url: string, option: string): string {
  if (!/^https?:\/\/[^\s/]+/i.test(url)) throw new InvalidInputError(`${option} must be an http:// or https:// URL, got "${url}"`);
  return url.replace(/\/+$/, "");
}

/** The node's libp2p key from `file`, made (and kept) on first start. */
async function loadOrCreateKey(file: string): Promise<PrivateKey> {
  const { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } = await import("@libp2p/crypto/keys");
  try {
    return privateKeyFromProtobuf(new Uint8Array(readFileSync(file)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new InvalidInputError(`cannot read the IPFS node's key ${file}: ${(err as Error).message}`, { file }, { cause: err });
    }
  }
  const key = await generateKeyPair("Ed25519");
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, privateKeyToProtobuf(key), { mode: 0o600 });
  renameSync(tmp, file);
  return key;
}

function parseMultiaddrs(values: readonly string[], option: string): Multiaddr[] {
  return values.map((value) => {
    try {
      return multiaddr(value);
    } catch {
      throw new InvalidInputError(`${option}: "${value}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…)`, { value });
    }
  });
}

async function openHelia(options: HeliaIpfsOptions): Promise<IpfsClient> {
  const peers = parseMultiaddrs(options.peers ?? [], "peers");
  for (const peer of peers) {
    if (peer.getComponents().every((c) => c.name !== "p2p")) {
      throw new InvalidInputError(`peers: "${peer}" names no peer id (it must end in /p2p/<peer id>)`, { value: peer.toString() });
    }
  }
  const listen = parseMultiaddrs(options.listen ?? ["/ip4/127.0.0.1/tcp/0"], "listen").map(String);
  if (options.offline) {
    if (peers.length > 0) throw new InvalidInputError("an offline IPFS node dials no peers: drop peers or offline");
    return openFolder(options.dir);
  }
  // Loaded here, not on import: @triad/sdk/node is imported by every command, and Helia takes most of a second to load.
  const [{ createHelia }, { FsBlockstore }, { MemoryDatastore }, { tcp }, { noise }, { yamux }, { identify }] = await Promise.all([
    import("helia"),
    import("blockstore-fs"),
    import("datastore-core"),
    import("@libp2p/tcp"),
    import("@libp2p/noise"),
    import("@libp2p/yamux"),
    import("@libp2p/identify"),
  ]);
  mkdirSync(options.dir, { recursive: true });
  const blockstore = new FsBlockstore(path.join(options.dir, "blocks"));
  await blockstore.open();
  const privateKey = await loadOrCreateKey(path.join(options.dir, "libp2p.key"));
  let helia: ReturnType<typeof Helia.createHelia>;
  try {
    helia = createHelia({
      blockstore,
      datastore: new MemoryDatastore(),
      // No delegated routing and no public gateways: blocks come from this node's disk and the peers it dials.
      http: { delegatedRouters: [], recursiveGateways: [] },
      libp2p: {
        privateKey,
        addresses: { listen },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        peerDiscovery: [],
        services: { identify: identify() },
      },
    });
    await helia.start();
  } catch (err) {
    await blockstore.close().catch(() => undefined);
    throw new IpfsError(
      "IPFS_UNAVAILABLE",
      `cannot start the IPFS node in ${options.dir}: ${(err as Error).message}`,
      { dir: options.dir },
      { cause: err },
    );
  }
  const source = `the IPFS node in ${options.dir}`;

  /**
   * Dials the configured peers this node is not connected to (a restarted peer, a dropped connection), each for at
   * most 5 s and at most every 3 s (an unreachable peer does not slow every block down); failures are left to the
   * read that follows.
   */
  const lastDial = new Map<string, number>();
  const dialPeers = async (signal?: AbortSignal) => {
    const peerIdOf = (addr: Multiaddr) => addr.getComponents().find((x) => x.name === "p2p")!.value!;
    const connected = new Set(helia.libp2p.getConnections().map((c) => c.remotePeer.toString()));
    const now = performance.now();
    const due = peers.filter((p) => !connected.has(peerIdOf(p)) && now - (lastDial.get(p.toString()) ?? -Infinity) >= 3_000);
    for (const p of due) lastDial.set(p.toString(), now);
    const deadline = AbortSignal.timeout(5_000);
    await Promise.allSettled(due.map((p) => helia.libp2p.dial(p, { signal: signal ? AbortSignal.any([signal, deadline]) : deadline })));
  };
  await dialPeers();

  const fetchBlock: BlockFetcher = async (cid, signal) => {
    if (!(await helia.blockstore.has(cid))) {
      // Connected to someone: the read goes on while missing peers are dialled (Bitswap sends them the want-list
      // once connected). Connected to no one: the dials are all there is to wait for.
      const dialling = dialPeers(signal);
      if (helia.libp2p.getConnections().length === 0) await dialling;
      if (helia.libp2p.getConnections().length === 0) {
        throw new IpfsError(
          "IPFS_NOT_FOUND",
          `block ${cid} is not in ${source}, and no peer is connected to ask${peers.length ? ` (none of the ${peers.length} configured peers answered)` : " (configure peers)"}`,
          { cid: cid.toString() },
        );
      }
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of helia.blockstore.get(cid, { signal })) chunks.push(chunk);
    return chunks.length === 1 ? chunks[0] : concat(chunks);
  };

  return {
    kind: "helia",
    async add(bytes) {
      const { importBytes } = await import("ipfs-unixfs-importer");
      const { cid } = await importBytes(bytes, helia.blockstore, { ...IPFS_IMPORT_OPTIONS });
      return cid.toString();
    },
    get: (cid, getOptions) => readVerified(cid, fetchBlock, source, getOptions, true),
    multiaddrs: () => helia.libp2p.getMultiaddrs().map(String),
    async close() {
      await helia.stop();
      await blockstore.close();
    },
  };
}

/** The blockstore folder of a Helia node, without the node: `add` writes blocks there, `get` reads them from there. */
async function openFolder(dir: string): Promise<IpfsClient> {
  const { FsBlockstore } = await import("blockstore-fs");
  mkdirSync(dir, { recursive: true });
  const blockstore = new FsBlockstore(path.join(dir, "blocks"));
  await blockstore.open();
  const source = `the IPFS folder ${dir}`;
  const fetchBlock: BlockFetcher = async (cid) => {
    if (!(await blockstore.has(cid))) {
      throw new IpfsError("IPFS_NOT_FOUND", `block ${cid} is not in ${source} (offline: no peer is asked)`, { cid: cid.toString() });
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of blockstore.get(cid)) chunks.push(chunk);
    return concat(chunks);
  };
  return {
    kind: "helia",
    async add(bytes) {
      const { importBytes } = await import("ipfs-unixfs-importer");
      const { cid } = await importBytes(bytes, blockstore, { ...IPFS_IMPORT_OPTIONS });
      return cid.toString();
    },
    get: (cid, getOptions) => readVerified(cid, fetchBlock, source, getOptions),
    multiaddrs: () => [],
    close: () => blockstore.close(),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

function kuboClient(options: KuboIpfsOptions): IpfsClient {
  const base = httpBase(options.apiUrl, "the Kubo API URL");
  const source = `the Kubo node at ${base}`;
  const headers = options.headers ?? {};

  /** Kubo's error sentence from a failed RPC answer ({"Message": …}). */
  const kuboMessage = async (res: Response) => {
    try {
      return String(((await res.json()) as { Message?: unknown }).Message ?? `HTTP ${res.status}`);
    } catch {
      return `HTTP ${res.status}`;
    }
  };

  const fetchBlock: BlockFetcher = async (cid, signal) => {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v0/block/get?arg=${cid}`, { method: "POST", headers, signal });
    } catch (err) {
      throw unreachable(err, source, { cid: cid.toString() });
    }
    if (res.status !== 200) {
      const message = await kuboMessage(res);
      const notFound = /not found|no link named|could not find/i.test(message);
      throw new IpfsError(notFound ? "IPFS_NOT_FOUND" : "IPFS_UNAVAILABLE", `${source} cannot give block ${cid}: ${message}`, {
        cid: cid.toString(),
        status: res.status,
      });
    }
    return readBody(
      res,
      MAX_BLOCK_BYTES,
      () => new IpfsError("IPFS_TOO_LARGE", `${source} sent a block larger than ${MAX_BLOCK_BYTES} bytes for ${cid}`),
    );
  };

  return {
    kind: "kubo",
    async add(bytes, addOptions = {}) {
      const form = new FormData();
      form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), "content");
      // The unixfs-v1-2025 settings Helia uses (CIDv1, raw leaves, 1 MiB chunks), so both give a file one CID.
      const url = `${base}/api/v0/add?cid-version=1&raw-leaves=true&chunker=size-1048576&pin=true&quieter=true`;
      let res: Response;
      try {
        res = await fetch(url, { method: "POST", body: form, headers, signal: addOptions.signal });
      } catch (err) {
        throw unreachable(err, source, {});
      }
      if (res.status !== 200)
        throw new IpfsError("IPFS_UNAVAILABLE", `${source} refused to add the content: ${await kuboMessage(res)}`, { status: res.status });
      const text = await res.text();
      // One JSON object per line (progress lines, then the file's); the last names the file.
      const last = text.trim().split("\n").pop() ?? "";
      let hash: string | undefined;
      try {
        hash = (JSON.parse(last) as { Hash?: string }).Hash;
      } catch {
        hash = undefined;
      }
      if (!hash) throw new IpfsError("IPFS_UNAVAILABLE", `${source} answered the add without a CID`, { body: text.slice(0, 200) });
      return CID.parse(hash).toV1().toString();
    },
    get: (cid, getOptions) => readVerified(cid, fetchBlock, source, getOptions),
    multiaddrs: () => [],
    async close() {},
  };
}

function gatewayClient(options: GatewayIpfsOptions): IpfsClient {
  const base = httpBase(options.gatewayUrl, "the IPFS gateway URL").replace(/\/ipfs$/, "");
  const source = `the IPFS gateway at ${base}`;
  const fetchBlock: BlockFetcher = async (cid, signal) => {
    let res: Response;
    try {
      // Trustless gateway: one raw block per request (https://specs.ipfs.tech/http-gateways/trustless-gateway/).
      // Redirects are followed (subdomain gateways redirect): whatever answers, the bytes are checked against the CID.
      res = await fetch(`${base}/ipfs/${cid}?format=raw`, { headers: { accept: "application/vnd.ipld.raw" }, signal });
    } catch (err) {
      throw unreachable(err, source, { cid: cid.toString() });
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new IpfsError("IPFS_NOT_FOUND", `${source} does not have block ${cid} (HTTP ${res.status})`, { cid: cid.toString() });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new IpfsError("IPFS_UNAVAILABLE", `${source} answered HTTP ${res.status} for block ${cid}`, {
        cid: cid.toString(),
        status: res.status,
      });
    }
    return readBody(
      res,
      MAX_BLOCK_BYTES,
      () => new IpfsError("IPFS_TOO_LARGE", `${source} sent a block larger than ${MAX_BLOCK_BYTES} bytes for ${cid}`),
    );
  };
  return {
    kind: "gateway",
    async add() {
      throw new IpfsError("IPFS_UNAVAILABLE", `${source} is read-only: publish through an IPFS node (a Helia dir or a Kubo API)`);
    },
    get: (cid, getOptions) => readVerified(cid, fetchBlock, source, getOptions),
    multiaddrs: () => [],
    async close() {},
  };
}
