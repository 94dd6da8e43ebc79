/**
 * Fetching evidence bundles from the URI a claimant filed, within the operator's limits: scheme and host allow-lists,
 * a byte limit enforced while the body streams in, a deadline per attempt, and redirects checked against the same
 * allow-list. Failures are {@link EvidenceError}s with a reason code.
 *
 * Transient failures (unreachable host, timeout, HTTP 5xx/429) are retried `rules.retries` times with exponential
 * backoff, then the claim is REJECTED with that reason. Rationale: the contract needs a verdict before the claim's
 * assessment deadline, a rejection can be appealed to the arbiter, and waiting indefinitely for a URI the claimant
 * controls would let one claimant stall a committee member. Permanent failures (not allowed, 4xx, too large) are not
 * retried.
 */
import { EvidenceError, type EvidenceFailureReason } from "@triad/sdk";
import type { EvidenceFetchRules } from "./config.ts";

const MAX_REDIRECTS = 3;
const TRANSIENT: ReadonlySet<EvidenceFailureReason> = new Set(["FETCH_UNREACHABLE", "FETCH_TIMEOUT", "FETCH_HTTP_STATUS"]);

export interface FetchEvidenceDeps {
  /** Defaults to the global fetch (Node 20: undici). */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Called before each retry (for logs). */
  onRetry?: (attempt: number, error: EvidenceError) => void;
}

/** Resolves the URI to fetch (ipfs:// goes through the gateway) and checks it against the allow-lists. */
export function resolveEvidenceUrl(uri: string, rules: Pick<EvidenceFetchRules, "schemes" | "hosts" | "ipfsGateway">): URL {
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
  if (scheme === "ipfs") {
    if (!rules.ipfsGateway) throw new EvidenceError("URI_NOT_ALLOWED", "ipfs evidence URIs need ORACLE_IPFS_GATEWAY", { uri });
    const rest = uri.slice("ipfs://".length).replace(/^ipfs\//, "");
    url = new URL(rest, rules.ipfsGateway.endsWith("/") ? rules.ipfsGateway : rules.ipfsGateway + "/");
  }
  checkHost(url, rules.hosts, uri);
  if (url.username || url.password) throw new EvidenceError("URI_NOT_ALLOWED", "evidence URIs with credentials are not allowed", { uri });
  return url;
}

function checkHost(url: URL, hosts: readonly string[], uri: string): void {
  if (hosts.includes("*")) return;
  const host = url.hostname.toLowerCase();
  if (!hosts.includes(host) && !hosts.includes(url.host.toLowerCase())) {
    throw new EvidenceError("URI_NOT_ALLOWED", `evidence host "${url.host}" is not in ORACLE_EVIDENCE_HOSTS`, { uri });
  }
}

/**
 * Fetches the bytes at `uri` (one attempt per try, `rules.retries` retries on transient failures). Throws
 * {@link EvidenceError}: URI_NOT_ALLOWED, FETCH_UNREACHABLE, FETCH_TIMEOUT, FETCH_HTTP_STATUS, TOO_LARGE.
 */
export async function fetchEvidence(uri: string, rules: EvidenceFetchRules, deps: FetchEvidenceDeps = {}): Promise<Uint8Array> {
  const url = resolveEvidenceUrl(uri, rules);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchOnce(url, rules, deps.fetch ?? fetch);
    } catch (error) {
      if (!(error instanceof EvidenceError) || !TRANSIENT.has(error.reason) || attempt >= rules.retries) throw error;
      if (error.reason === "FETCH_HTTP_STATUS" && !(error.details.retryable as boolean)) throw error;
      deps.onRetry?.(attempt + 1, error);
      await sleep(rules.retryDelayMs * 2 ** attempt);
    }
  }
}

async function fetchOnce(start: URL, rules: EvidenceFetchRules, doFetch: typeof fetch): Promise<Uint8Array> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, rules.timeoutMs);
  try {
    let url = start;
    for (let hop = 0; ; hop++) {
      let response: Response;
      try {
        response = await doFetch(url, { redirect: "manual", signal: controller.signal, headers: { accept: "application/json" } });
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
        url = new URL(response.headers.get("location")!, url);
        const scheme = url.protocol.replace(/:$/, "");
        if (!rules.schemes.includes(scheme))
          throw new EvidenceError("URI_NOT_ALLOWED", `evidence URI redirects to a ${scheme} URL`, { url: url.href });
        checkHost(url, rules.hosts, url.href);
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
