import { getAddress } from "ethers";
import type { ClaimsInsurance, DeviceRegistry } from "@triad/contracts";
import {
  AI4I_SCHEMA,
  DeviceStatus,
  EVIDENCE_SCHEMA_V2,
  EvidenceError,
  TriadError,
  claimReason,
  describeAnchor,
  enumName,
  evidenceHash,
  parseEvidence,
  reasonCodeOfEvidenceFailure,
  verifyEvidenceAnchoring,
  verifyEvidenceReadings,
  type AnchorFacts,
  type AnyEvidenceBundle,
  type EvidenceAnchor,
  type EvidenceFailureReason,
  type SignedReading,
} from "@triad/sdk";
import { readAnchorFacts } from "./anchor-facts.ts";

/**
 * Claim evidence in the browser: the gateway's `triad.evidence/v2` bundle of a device around an incident
 * (`GET /v1/devices/{device}/evidence`, docs/protocol.md §7.4, as `triad evidence:build --gateway` fetches it), and
 * the oracle's checks of docs/protocol.md §7.3 run here with the SDK before anything is filed or after a verdict:
 * the bytes' hash, the device's status at the incident, the bundle's schema, every reading's device signature and
 * Merkle proof, the completeness of the window, then each anchor on-chain (authorised, accepted by the product, in
 * time). The model is not run here: the claim page shows the committee's score and reason once it decides.
 */

/** Seconds before and after the incident the evidence must cover (the product's incident window, §10.1). */
export interface EvidenceWindow {
  beforeSeconds: number;
  afterSeconds: number;
}

/** How often the gateway is asked again while it answers 409 (a reading not anchored yet). */
const POLL_MS = 3_000;
/** Number of values of an ai4i-2020/v1 reading (what the committee's model reads). */
const AI4I_VALUES = 6;

/** Why fetching the gateway's bundle failed, in one sentence; `code` NOT_READY while anchoring is pending. */
export class GatewayEvidenceError extends TriadError {
  override readonly name = "GatewayEvidenceError";
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new TriadError("stopped waiting for the gateway", "ABORTED"));
      },
      { once: true },
    );
  });

/**
 * The bytes of the gateway's bundle of `device` around `incidentAt`. While the gateway answers 409 (a reading of the
 * window not in a confirmed anchor yet, or no reading after the window yet) it asks again every few seconds, telling
 * `onWaiting` why, until `timeoutMs`; checks the `x-triad-evidence-hash` header against the bytes.
 */
export async function fetchGatewayEvidence(params: {
  gatewayUrl: string;
  device: string;
  incidentAt: bigint;
  window: EvidenceWindow;
  timeoutMs?: number;
  signal?: AbortSignal;
  onWaiting?: (reason: string) => void;
  fetch?: typeof fetch;
}): Promise<Uint8Array> {
  const doFetch = params.fetch ?? globalThis.fetch.bind(globalThis);
  const base = params.gatewayUrl.replace(/\/+$/, "");
  const url = `${base}/v1/devices/${getAddress(params.device)}/evidence?incidentAt=${params.incidentAt}&before=${params.window.beforeSeconds}&after=${params.window.afterSeconds}`;
  const deadline = Date.now() + (params.timeoutMs ?? 120_000);
  for (;;) {
    let res: Response;
    let body: Uint8Array;
    try {
      res = await doFetch(url, { signal: params.signal });
      body = new Uint8Array(await res.arrayBuffer());
    } catch (cause) {
      if (params.signal?.aborted) throw new TriadError("stopped waiting for the gateway", "ABORTED");
      throw new GatewayEvidenceError(
        `cannot reach the gateway at ${base}: ${(cause as Error).message}`,
        "NETWORK_UNREACHABLE",
        { url: base },
        { cause },
      );
    }
    if (res.status === 200) {
      const claimed = res.headers.get("x-triad-evidence-hash");
      if (claimed !== null && claimed.toLowerCase() !== evidenceHash(body)) {
        throw new GatewayEvidenceError(
          `the gateway says its bundle hashes to ${claimed}, but the bytes received hash to ${evidenceHash(body)}`,
          "HASH_MISMATCH",
        );
      }
      return body;
    }
    let message = `HTTP ${res.status}`;
    try {
      message = String((JSON.parse(new TextDecoder().decode(body)) as { error?: unknown }).error ?? message);
    } catch {
      // not JSON: the status says it
    }
    message = message.replace(/\.$/, "");
    if (res.status === 409) {
      if (Date.now() >= deadline) {
        throw new GatewayEvidenceError(`the gateway has not anchored the window's readings yet: ${message}`, "NOT_READY", { url: base });
      }
      params.onWaiting?.(message.replace(/[,:]? retry after \S+$/, ""));
      await sleep(POLL_MS, params.signal);
      continue;
    }
    if (res.status === 404) throw new GatewayEvidenceError(`the gateway has nothing to prove this window with: ${message}`, "NOT_FOUND");
    if (res.status === 422) throw new GatewayEvidenceError(`the gateway cannot prove the window complete: ${message}`, "INCOMPLETE_WINDOW");
    throw new GatewayEvidenceError(`the gateway refused the request: ${message}`, "GATEWAY_REFUSED", { status: res.status });
  }
}

/**
 * The app's evidence store (config.json's `evidenceUrl`: the oracle's evidence server or anything speaking its
 * protocol, proxied same-origin under `npm run app`): `POST <store>/evidence` stores a bundle under its keccak256 and
 * answers `{hash, uri}`, `GET <store>/evidence/<0xhash>` serves it (docs/protocol.md §7.4; `evidenceUrl` may name the
 * store or its `/evidence` endpoint). What it serves is checked against its hash, so any copy is as good as another.
 */
export function storeEndpoint(evidenceUrl: string): string {
  const base = evidenceUrl.replace(/\/+$/, "");
  return /\/evidence$/.test(base) ? base : `${base}/evidence`;
}

export async function publishToStore(evidenceUrl: string, bytes: Uint8Array): Promise<{ hash: string; uri: string }> {
  const url = storeEndpoint(evidenceUrl);
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", body: new Uint8Array(bytes), headers: { "content-type": "application/json" } });
  } catch (cause) {
    throw new TriadError(
      `cannot reach the evidence store at ${url}: ${(cause as Error).message}`,
      "EVIDENCE_STORE_UNREACHABLE",
      { url },
      { cause },
    );
  }
  const body = (await res.json().catch(() => ({}))) as { hash?: string; uri?: string; error?: string };
  if (!res.ok || !body.hash || !body.uri) {
    throw new TriadError(`the evidence store refused the file: HTTP ${res.status} ${body.error ?? ""}`.trim(), "EVIDENCE_STORE_REFUSED", {
      url,
    });
  }
  const expected = evidenceHash(bytes);
  if (body.hash.toLowerCase() !== expected) {
    throw new TriadError(`the evidence store hashed the file to ${body.hash}, expected ${expected}`, "EVIDENCE_STORE_HASH", { url });
  }
  return { hash: expected, uri: body.uri };
}

/**
 * The bytes a content URI names, fetched in the browser: a store URI (`…/evidence/<0xhash>`) through this app's store
 * first (the store that published it may send no CORS headers), then the URI itself (http(s) or a path of this site),
 * or ipfs:// through `ipfsGateway`. A store copy is checked against the hash in its URI.
 */
export async function fetchContentBytes(
  uri: string,
  options: { evidenceUrl?: string; ipfsGateway?: string; signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const byHash = /\/evidence\/(0x[0-9a-fA-F]{64})$/.exec(uri);
  if (byHash && options.evidenceUrl) {
    try {
      const res = await fetch(`${storeEndpoint(options.evidenceUrl)}/${byHash[1].toLowerCase()}`, { signal: options.signal });
      if (res.ok) {
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (evidenceHash(bytes) === byHash[1].toLowerCase()) return bytes;
      }
    } catch {
      // fall through to the URI itself
    }
  }
  let url = uri;
  if (uri.startsWith("ipfs://")) {
    if (!options.ipfsGateway) {
      throw new TriadError(
        `the file is on IPFS (${uri}) and this app has no IPFS gateway configured: load the file instead`,
        "NO_IPFS_GATEWAY",
      );
    }
    url = `${options.ipfsGateway.replace(/\/+$/, "")}/ipfs/${uri.slice("ipfs://".length)}`;
  } else if (!/^https?:\/\//i.test(uri) && !uri.startsWith("/")) {
    throw new TriadError(`${uri} cannot be fetched by a browser: load the file instead`, "URI_NOT_FETCHABLE");
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: options.signal });
  } catch (cause) {
    throw new TriadError(
      `cannot fetch ${url} in the browser (${(cause as Error).message}): load the file instead`,
      "FETCH_FAILED",
      {},
      { cause },
    );
  }
  if (!res.ok) throw new TriadError(`${url} answered HTTP ${res.status}: load the file instead`, "FETCH_FAILED", { status: res.status });
  return new Uint8Array(await res.arrayBuffer());
}

/** One check of the report, in the order the oracle runs them. */
export interface EvidenceCheckStep {
  id: "hash" | "device-status" | "schema" | "readings" | "anchors";
  label: string;
  ok: boolean;
  detail: string;
}

/** An anchor of the bundle with what the chain says of it. */
export interface AnchorReport {
  anchor: EvidenceAnchor;
  name: string;
  /** Readings of the bundle (before, window, after) proved under it. */
  readings: number;
  facts?: AnchorFacts;
}

export interface EvidenceReport {
  ok: boolean;
  evidenceHash: string;
  bytes: number;
  bundle?: AnyEvidenceBundle;
  steps: EvidenceCheckStep[];
  /** The first failure, with the reason code and sentence the committee's rejection would carry. */
  failure?: { reason: EvidenceFailureReason; message: string; reasonCode: number; reasonName: string; sentence: string };
  /** The readings around the incident (the window's), for the chart; `verified` says whether their checks passed. */
  readings: SignedReading[];
  readingsVerified: boolean;
  anchors: AnchorReport[];
}

export interface EvidenceCheckContext {
  chainId: bigint;
  contracts: { registry: DeviceRegistry; claims: ClaimsInsurance };
  /** The claim's evidenceHash (a filed claim), checked first. */
  expectedHash?: string;
  /** The policy: its device, period and product. */
  policy?: { device: string; start: bigint; end: bigint; productId: bigint };
  /** The claim's (or the intended) incident time. */
  incidentAt?: bigint;
  /** The window the evidence must reach past on both sides. */
  window?: EvidenceWindow;
  /** The claim's filing time; "now" (the latest block) for a claim about to be filed. */
  filedAt?: bigint;
  /** First block to look for batch-anchor events. */
  fromBlock?: number;
}

function windowReadings(bundle: AnyEvidenceBundle): SignedReading[] {
  return bundle.readings.map((r) => ({
    device: getAddress(bundle.device),
    seq: BigInt(r.seq),
    timestamp: BigInt(r.timestamp),
    values: r.values.map((v) => BigInt(v)),
    signature: r.signature,
  }));
}

/**
 * Runs the oracle's evidence checks (docs/protocol.md §7.3) on `bytes` in the browser, in its order, stopping at the
 * first failure. Never throws for bad evidence (the report says why); chain errors propagate.
 */
export async function checkEvidenceInBrowser(bytes: Uint8Array, ctx: EvidenceCheckContext): Promise<EvidenceReport> {
  const hash = evidenceHash(bytes);
  const report: EvidenceReport = {
    ok: false,
    evidenceHash: hash,
    bytes: bytes.length,
    steps: [],
    readings: [],
    readingsVerified: false,
    anchors: [],
  };
  const fail = (step: EvidenceCheckStep["id"], label: string, reason: EvidenceFailureReason, message: string): EvidenceReport => {
    const code = reasonCodeOfEvidenceFailure(reason);
    const r = claimReason(code);
    report.steps.push({ id: step, label, ok: false, detail: message });
    report.failure = { reason, message, reasonCode: code, reasonName: r.name, sentence: r.sentence };
    return report;
  };
  if (ctx.expectedHash !== undefined) {
    const label = "The bytes are the ones the claim recorded";
    if (hash !== ctx.expectedHash.toLowerCase())
      return fail("hash", label, "HASH_MISMATCH", `the evidence hashes to ${hash}, the claim recorded ${ctx.expectedHash}`);
    report.steps.push({ id: "hash", label, ok: true, detail: `keccak256 ${hash}` });
  }
  if (ctx.policy && ctx.incidentAt !== undefined) {
    const label = "The device was Active at the incident";
    const status = enumName(DeviceStatus, await ctx.contracts.registry.statusAt(ctx.policy.device, ctx.incidentAt));
    if (status !== "Active") return fail("device-status", label, "DEVICE_NOT_ACTIVE", `the insured device was ${status} at the incident`);
    report.steps.push({ id: "device-status", label, ok: true, detail: "registry status Active at the incident time" });
  }
  let bundle: AnyEvidenceBundle;
  const schemaLabel = `A ${EVIDENCE_SCHEMA_V2} bundle`;
  try {
    bundle = parseEvidence(bytes);
  } catch (error) {
    if (error instanceof EvidenceError) return fail("schema", schemaLabel, error.reason, error.message);
    throw error;
  }
  report.bundle = bundle;
  report.readings = windowReadings(bundle);
  if (bundle.schema !== EVIDENCE_SCHEMA_V2) {
    return fail(
      "schema",
      schemaLabel,
      "NOT_ANCHORED",
      `a ${bundle.schema} bundle carries no anchors: claims are decided on ${EVIDENCE_SCHEMA_V2} bundles`,
    );
  }
  report.steps.push({
    id: "schema",
    label: schemaLabel,
    ok: true,
    detail: `${bundle.readings.length} readings around the incident, ${bytes.length} bytes`,
  });
  const readingsLabel = "Every reading signed by the device, proved under its anchor, none missing";
  let anchoring;
  try {
    const verified = verifyEvidenceReadings(bundle, {
      sensorSchema: AI4I_SCHEMA,
      valuesPerReading: AI4I_VALUES,
      chainId: ctx.chainId,
      registry: await ctx.contracts.registry.getAddress(),
      device: ctx.policy?.device,
      period: ctx.policy && { start: ctx.policy.start, end: ctx.policy.end },
      incidentAt: ctx.incidentAt,
      window: ctx.window,
    });
    anchoring = verified.anchoring!;
  } catch (error) {
    if (error instanceof EvidenceError) return fail("readings", readingsLabel, error.reason, error.message);
    throw error;
  }
  report.readingsVerified = true;
  report.steps.push({
    id: "readings",
    label: readingsLabel,
    ok: true,
    detail: `seq ${bundle.before.seq}..${bundle.after.seq}: ${bundle.readings.length + 2} signatures and Merkle proofs checked, the window is complete`,
  });
  report.anchors = anchoring.anchors.map((anchor, i) => ({
    anchor,
    name: describeAnchor(anchor),
    readings: anchoring.readings.filter((r) => r.anchor === i).length,
  }));
  const anchorsLabel = "Each anchor is on-chain, authorised, accepted by the product and in time";
  const productId = ctx.policy?.productId;
  const [facts, maxAnchorDelay] = await Promise.all([
    readAnchorFacts(ctx.contracts, bundle.device, anchoring.anchors, { productId, fromBlock: ctx.fromBlock }),
    productId === undefined ? undefined : ctx.contracts.claims.getProduct(productId).then((p) => BigInt(p.maxAnchorDelay)),
  ]);
  facts.forEach((f, i) => (report.anchors[i].facts = f));
  try {
    verifyEvidenceAnchoring(anchoring, facts, { filedAt: ctx.filedAt, maxAnchorDelay });
  } catch (error) {
    if (error instanceof EvidenceError) return fail("anchors", anchorsLabel, error.reason, error.message);
    throw error;
  }
  report.steps.push({
    id: "anchors",
    label: anchorsLabel,
    ok: true,
    detail: `${anchoring.anchors.length} anchor${anchoring.anchors.length === 1 ? "" : "s"} checked on-chain${maxAnchorDelay !== undefined ? `, each within the product's ${maxAnchorDelay} s anchoring delay` : ""}`,
  });
  report.ok = true;
  return report;
}
