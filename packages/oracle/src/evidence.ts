/**
 * Fetching evidence bundles from the URI a claimant filed, within the operator's limits (docs/protocol.md §7.4):
 *  - scheme and host allow-lists, a host entry naming its port: `host` admits only the scheme's default port,
 *    `host:port` that port, `host:*` any port of the host, `*` any host; redirects are re-checked against the same
 *    rules (scheme, host and port), may not go from https to http, and URIs with credentials are refused;
 *  - a byte limit enforced while the body streams in, a deadline per attempt, and a deadline per claim
 *    (`rules.deadlineMs`) that bounds all of one claim's attempts and backoff together, so a slow URI delays only its
 *    own claim;
 *  - a content check: the bytes must be UTF-8 JSON (whatever the Content-Type says), else `MALFORMED_JSON`;
 *  - `ipfs://<cid>[/<path>]` through an IPFS client (`deps.ipfs`: the daemon's Helia or Kubo node), else through the
 *    configured trustless HTTP gateway (`rules.ipfsGateway`); either way every block is verified against its CID
 *    (`openIpfs` of `@triad/sdk/node`), so a node or gateway cannot substitute other bytes.
 * Failures are {@link EvidenceError}s with a reason code.
 *
 * Transient failures (unreachable host, timeout, HTTP 5xx/429) are retried `rules.retries` times with exponential
 * backoff within the claim's deadline, then the claim is REJECTED with that reason. Rationale: the contract needs a
 * verdict before the claim's assessment deadline, a rejection can be appealed to the arbiter, and waiting
 * indefinitely for a URI the claimant controls would let one claimant stall a committee member. Permanent failures
 * (not allowed, 4xx, too large, not JSON) are not retried.
 */
import { EvidenceError, TriadError, type EvidenceFailureReason } from "@triad/sdk";
import type { EvidenceFetchRules, OracleConfig } from "./config.ts";

const MAX_REDIRECTS = 3;
const TRANSIENT: ReadonlySet<EvidenceFailureReason> = new Set(["FETCH_UNREACHABLE", "FETCH_TIMEOUT", "FETCH_HTTP_STATUS"]);
/** One claim's evidence time (all attempts and backoff) when the rules do not say (ORACLE_EVIDENCE_DEADLINE_MS). */
export const DEFAULT_EVIDENCE_DEADLINE_MS = 30_000;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { "http:": "80", "https:": "443" };

/** What the fetcher needs of an IPFS client (`IpfsClient` of `@triad/sdk/node`): a file's bytes, verified against its CID. */
export interface EvidenceIpfs {
  get(cid: string, options: { maxBytes: number; signal?: AbortSignal; timeoutMs?: number }): Promise<Uint8Array>;
}

export interface FetchEvidenceDeps {
  /** Defaults to the global fetch (undici). */
  fetch?: typeof fetch;
  /** ipfs:// URIs are fetched through it when given (else through a trustless gateway client on `rules.ipfsGateway`). */
  ipfs?: EvidenceIpfs;
  /** Cancels the fetch (shutdown): it then rejects with a non-evidence error, so no verdict is built on it. */
  signal?: AbortSignal;
  /** Called before each retry (for logs). */
  onRetry?: (attempt: number, error: EvidenceError) => void;
}

/** Where an evidence URI is fetched from: an HTTP(S) URL, or IPFS (`target` = the ipfs:// URI). */
export type EvidenceSource = { kind: "http"; url: URL } | { kind: "ipfs"; target: string; gateway?: string };

/** The fetch was cancelled by its caller (not the evidence's fault: nothing is decided on it). */
export class EvidenceFetchCancelled extends TriadError {
  override readonly name = "EvidenceFetchCancelled";
  constructor(uri: string, cause?: unknown) {
    super(`the evidence fetch of ${uri.slice(0, 200)} was cancelled`, "EVIDENCE_FETCH_CANCELLED", { uri }, { cause });
  }
}

type SourceRules = Pick<EvidenceFetchRules, "schemes" | "hosts" | "denied" | "ipfsGateway">;

/**
 * Resolves the URI to fetch and checks it against the allow-lists: an http(s) URL, or for `ipfs://` IPFS through the
 * client when `hasIpfsClient`, else through the configured gateway (which the operator chose: it needs no host entry).
 */
export function resolveEvidenceSource(uri: string, rules: SourceRules, hasIpfsClient = false): EvidenceSource {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI is not a URL: ${JSON.stringify(uri.slice(0, 200))}`);
  }
  const scheme = url.protocol.replace(/:$/, "").toLowerCase();
  if (!rules.schemes.includes(scheme)) {
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI scheme "${scheme}" is not allowed (allowed: ${rules.schemes.join(", ")})`, {
      uri,
    });
  }
  if (url.username || url.password) throw new EvidenceError("URI_NOT_ALLOWED", "evidence URIs with credentials are not allowed", { uri });
  if (scheme === "ipfs") {
    if (url.search || url.hash) throw new EvidenceError("URI_NOT_ALLOWED", "ipfs evidence URIs take no query or fragment", { uri });
    if (hasIpfsClient) return { kind: "ipfs", target: uri };
    if (!rules.ipfsGateway)
      throw new EvidenceError("URI_NOT_ALLOWED", "ipfs evidence URIs need an IPFS node or ORACLE_IPFS_GATEWAY", { uri });
    return { kind: "ipfs", target: uri, gateway: rules.ipfsGateway };
  }
  checkHost(url, rules, uri);
  return { kind: "http", url };
}

/** The http(s) URL an evidence URI is fetched from, checked against the allow-lists (ipfs:// has none: refused). */
export function resolveEvidenceUrl(uri: string, rules: SourceRules): URL {
  const source = resolveEvidenceSource(uri, rules);
  if (source.kind !== "http") throw new EvidenceError("URI_NOT_ALLOWED", "ipfs evidence URIs are fetched from IPFS, not a URL", { uri });
  return source.url;
}

/**
 * Whether `url`'s host AND port are admitted by `hosts`: `*` admits everything; `host:*` every port of the host;
 * `host:port` that port; a bare `host` only the default port of the URL's scheme (80 for http, 443 for https), so a
 * redirect to another service of the same machine (a node's RPC, the daemon's /metrics) is refused. IPv6 hosts are
 * written in brackets (`[::1]:8080`).
 */
export function hostAllowed(url: URL, hosts: readonly string[]): boolean {
  if (hosts.includes("*")) return true;
  const hostname = url.hostname.toLowerCase();
  const port = url.port || DEFAULT_PORTS[url.protocol];
  return hosts.some((entry) => {
    const { host, port: allowed } = splitHostEntry(entry);
    if (host !== hostname) return false;
    if (allowed === "*") return true;
    return allowed === undefined ? url.port === "" : allowed === port;
  });
}

/** `host`, `host:port`, `host:*`, `[v6]`, `[v6]:port` → host (lower case, brackets kept) and port (normalised). */
export function splitHostEntry(entry: string): { host: string; port?: string } {
  const e = entry.trim().toLowerCase();
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\*|\d{1,5}))?$/.exec(e);
  if (!match) return { host: e };
  const port = match[2] === undefined || match[2] === "*" ? match[2] : String(Number(match[2]));
  return { host: match[1], port };
}

/** Whether `entry` is a valid ORACLE_EVIDENCE_HOSTS entry (`*`, `host`, `host:port`, `host:*`, `[v6]`, `[v6]:port`). */
export function isHostEntry(entry: string): boolean {
  if (entry === "*") return true;
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\*|\d{1,5}))?$/i.exec(entry.trim());
  if (!match) return false;
  const port = match[2];
  return port === undefined || port === "*" || (Number(port) >= 1 && Number(port) <= 65535);
}

/**
 * The daemon's own endpoints as `host:port` entries (the RPC node of `ORACLE_RPC_URL`, the `/metrics` server), which
 * evidence fetching refuses whatever ORACLE_EVIDENCE_HOSTS says, `*` included (defence in depth: a claimant's URI or
 * redirect must not make the daemon call them).
 */
export function ownEndpoints(config: Pick<OracleConfig, "rpcUrl" | "metricsHost" | "metricsPort">): string[] {
  const out: string[] = [];
  if (config.rpcUrl) {
    try {
      const rpc = new URL(config.rpcUrl);
      out.push(`${rpc.hostname}:${rpc.port || (rpc.protocol === "https:" || rpc.protocol === "wss:" ? "443" : "80")}`);
    } catch {
      // Not a URL: the configuration refuses it before anything is fetched.
    }
  }
  if (config.metricsPort) {
    const host = config.metricsHost.includes(":") && !config.metricsHost.startsWith("[") ? `[${config.metricsHost}]` : config.metricsHost;
    out.push(`${host}:${config.metricsPort}`);
  }
  return out;
}

/** A name of this machine: loopback (127/8, ::1, localhost) or the unspecified address a local server binds to. */
function isLocalHost(host: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1?\]|\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\])$/.test(host);
}

/** Whether `url` is one of `denied` (`host:port`; a local host stands for every local name on that port). */
function isDenied(url: URL, denied: readonly string[] | undefined): boolean {
  if (!denied?.length) return false;
  const host = url.hostname.toLowerCase();
  const port = url.port || DEFAULT_PORTS[url.protocol];
  return denied.some((entry) => {
    const d = splitHostEntry(entry);
    return d.port === port && (d.host === host || (isLocalHost(d.host) && isLocalHost(host)));
  });
}

function checkHost(url: URL, rules: Pick<EvidenceFetchRules, "hosts" | "denied">, uri: string): void {
  if (isDenied(url, rules.denied)) {
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI points at the oracle's own RPC or metrics endpoint (${url.host})`, { uri });
  }
  const hosts = rules.hosts;
  if (!hostAllowed(url, hosts)) {
    throw new EvidenceError(
      "URI_NOT_ALLOWED",
      `evidence host "${url.host}" (port ${url.port || DEFAULT_PORTS[url.protocol]}) is not in ORACLE_EVIDENCE_HOSTS`,
      { uri },
    );
  }
}

/**
 * Fetches the bytes at `uri` for one claim: at most `rules.retries` retries on transient failures, all within
 * `rules.deadlineMs`. Throws {@link EvidenceError} (URI_NOT_ALLOWED, FETCH_UNREACHABLE, FETCH_TIMEOUT,
 * FETCH_HTTP_STATUS, TOO_LARGE, MALFORMED_JSON), or {@link EvidenceFetchCancelled} when `deps.signal` aborts.
 */
export async function fetchEvidence(uri: string, rules: EvidenceFetchRules, deps: FetchEvidenceDeps = {}): Promise<Uint8Array> {
  const source = resolveEvidenceSource(uri, rules, deps.ipfs !== undefined);
  if (deps.signal?.aborted) throw new EvidenceFetchCancelled(uri, deps.signal.reason);
  const deadlineMs = rules.deadlineMs ?? DEFAULT_EVIDENCE_DEADLINE_MS;
  // One signal for this claim, aborted by its deadline or by the caller (a listener removed at the end, not
  // AbortSignal.any: the caller's signal lives as long as the daemon).
  const claim = new AbortController();
  let deadlinePassed = false;
  const timer = setTimeout(() => {
    deadlinePassed = true;
    claim.abort();
  }, deadlineMs);
  const cancel = () => claim.abort();
  deps.signal?.addEventListener("abort", cancel, { once: true });
  const signal = claim.signal;
  const started = performance.now();
  const deadlineError = () =>
    new EvidenceError("FETCH_TIMEOUT", `evidence did not arrive within the claim's evidence deadline of ${deadlineMs} ms`, { uri });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const bytes =
          source.kind === "ipfs"
            ? await fetchFromIpfs(deps.ipfs ?? (await gatewayClient(source.gateway!)), source.target, rules, signal)
            : await fetchOnce(source.url, rules, deps.fetch ?? fetch, signal);
        checkJson(bytes, uri);
        return bytes;
      } catch (error) {
        if (deps.signal?.aborted) throw new EvidenceFetchCancelled(uri, deps.signal.reason);
        if (deadlinePassed) throw deadlineError();
        if (!(error instanceof EvidenceError) || !TRANSIENT.has(error.reason) || attempt >= rules.retries) throw error;
        if (error.reason === "FETCH_HTTP_STATUS" && !(error.details.retryable as boolean)) throw error;
        const delay = rules.retryDelayMs * 2 ** attempt;
        // No time left for another attempt: the claim ends now with the reason of the last one.
        if (performance.now() - started + delay >= deadlineMs) throw error;
        deps.onRetry?.(attempt + 1, error);
        await sleep(delay, signal);
        if (deps.signal?.aborted) throw new EvidenceFetchCancelled(uri, deps.signal.reason);
        if (deadlinePassed) throw deadlineError();
      }
    }
  } finally {
    clearTimeout(timer);
    deps.signal?.removeEventListener("abort", cancel);
  }
}

/** Trustless gateway clients by URL (stateless; `@triad/sdk/node`'s IPFS module is loaded only when needed). */
const gateways = new Map<string, Promise<EvidenceIpfs>>();
function gatewayClient(url: string): Promise<EvidenceIpfs> {
  let client = gateways.get(url);
  if (!client) {
    client = import("@triad/sdk/node").then(({ openIpfs }) => openIpfs({ gatewayUrl: url }));
    gateways.set(url, client);
  }
  return client;
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller looks at why). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The content check at fetch: UTF-8 JSON, whatever the server called it (an HTML page is refused here). */
function checkJson(bytes: Uint8Array, uri: string): void {
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    const detail = (cause as Error).message.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").slice(0, 120);
    throw new EvidenceError("MALFORMED_JSON", `evidence fetched from its URI is not UTF-8 JSON: ${detail}`, { uri }, { cause });
  }
}

/** One attempt through an IPFS client (blocks verified against their CIDs), its error codes mapped to evidence reasons. */
async function fetchFromIpfs(ipfs: EvidenceIpfs, target: string, rules: EvidenceFetchRules, outer: AbortSignal): Promise<Uint8Array> {
  const attempt = AbortSignal.timeout(rules.timeoutMs);
  const signal = AbortSignal.any([outer, attempt]);
  try {
    return await ipfs.get(target, { maxBytes: rules.maxBytes, signal, timeoutMs: rules.timeoutMs });
  } catch (cause) {
    if (cause instanceof EvidenceError) throw cause;
    const details = { uri: target };
    if (attempt.aborted && !outer.aborted) {
      throw new EvidenceError("FETCH_TIMEOUT", `evidence ${target} did not arrive from IPFS within ${rules.timeoutMs} ms`, details, {
        cause,
      });
    }
    const code = (cause as { code?: string }).code;
    const message = (cause as Error)?.message ?? String(cause);
    if (code === "IPFS_TOO_LARGE")
      throw new EvidenceError("TOO_LARGE", `evidence is larger than ${rules.maxBytes} bytes`, details, { cause });
    if (code === "INVALID_INPUT") throw new EvidenceError("URI_NOT_ALLOWED", `${target} does not name an IPFS CID`, details, { cause });
    // Not found (yet), no provider reachable, or a source that sent bytes not matching the CID: the claimant's
    // content may be fine, so these are retried, then end as EVIDENCE_UNAVAILABLE.
    throw new EvidenceError("FETCH_UNREACHABLE", `evidence ${target} could not be fetched from IPFS: ${message}`, details, { cause });
  }
}

async function fetchOnce(start: URL, rules: EvidenceFetchRules, doFetch: typeof fetch, outer: AbortSignal): Promise<Uint8Array> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, rules.timeoutMs);
  const signal = AbortSignal.any([outer, controller.signal]);
  try {
    let url = start;
    for (let hop = 0; ; hop++) {
      let response: Response;
      try {
        response = await doFetch(url, { redirect: "manual", signal, headers: { accept: "application/json" } });
      } catch (cause) {
        if (timedOut) throw timeoutError(url, rules);
        throw new EvidenceError(
          "FETCH_UNREACHABLE",
          `evidence at ${url.origin} is unreachable: ${describe(cause)}`,
          { url: url.href },
          { cause },
        );
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get("location")) {
        await response.body?.cancel().catch(() => undefined);
        if (hop >= MAX_REDIRECTS)
          throw new EvidenceError("FETCH_HTTP_STATUS", `evidence URI redirects more than ${MAX_REDIRECTS} times`, { url: url.href });
        url = checkRedirect(url, response.headers.get("location")!, rules);
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        const retryable = response.status >= 500 || response.status === 429;
        throw new EvidenceError("FETCH_HTTP_STATUS", `evidence server answered HTTP ${response.status}`, {
          url: url.href,
          status: response.status,
          retryable,
        });
      }
      const declared = Number(response.headers.get("content-length") ?? NaN);
      if (Number.isFinite(declared) && declared > rules.maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLarge(url, rules, declared);
      }
      return await readLimited(response, url, rules, () => timedOut);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The next URL of a redirect, checked like the first: scheme, host and port, no credentials, never https → http. */
function checkRedirect(from: URL, location: string, rules: EvidenceFetchRules): URL {
  let url: URL;
  try {
    url = new URL(location, from);
  } catch {
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI redirects to something that is not a URL`, { url: from.href });
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "http" && scheme !== "https")
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI redirects to a ${scheme} URL`, { url: url.href });
  if (!rules.schemes.includes(scheme))
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI redirects to a ${scheme} URL`, { url: url.href });
  if (from.protocol === "https:" && url.protocol === "http:")
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI redirects from https to http`, { url: url.href });
  if (url.username || url.password)
    throw new EvidenceError("URI_NOT_ALLOWED", "evidence URI redirects to a URL with credentials", { url: url.href });
  checkHost(url, rules, url.href);
  return url;
}

/** Reads the body chunk by chunk and gives up as soon as it passes `maxBytes` (a lying Content-Length changes nothing). */
async function readLimited(response: Response, url: URL, rules: EvidenceFetchRules, timedOut: () => boolean): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > rules.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(url, rules, total);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof EvidenceError) throw cause;
    if (timedOut()) throw timeoutError(url, rules);
    throw new EvidenceError(
      "FETCH_UNREACHABLE",
      `evidence download from ${url.origin} failed: ${describe(cause)}`,
      { url: url.href },
      { cause },
    );
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function timeoutError(url: URL, rules: EvidenceFetchRules): EvidenceError {
  return new EvidenceError("FETCH_TIMEOUT", `evidence at ${url.origin} did not arrive within ${rules.timeoutMs} ms`, { url: url.href });
}

function tooLarge(url: URL, rules: EvidenceFetchRules, bytes: number): EvidenceError {
  return new EvidenceError("TOO_LARGE", `evidence is larger than ${rules.maxBytes} bytes (${bytes} seen)`, { url: url.href, bytes });
}

function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
}
