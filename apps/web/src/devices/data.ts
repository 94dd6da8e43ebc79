import { getAddress } from "ethers";
import type { DeviceRegistry } from "@triad/contracts";
import {
  deviceRegistryDomain,
  readingDigest,
  readingProofRoot,
  recoverReading,
  TriadError,
  valuesToTelemetry,
  type Ai4iTelemetry,
  type SignedReading,
} from "@triad/sdk";
import { fetchGatewayJson, type AppConfig } from "../lib/config.ts";

/**
 * The devices pages' data: the gateway's HTTP API (packages/gateway/README.md; integers are decimal strings), the
 * monitor feed of `npm run app` (apps/web/scripts/monitor-feed.ts) and the checks of "verify this reading".
 */

/** A reading as the gateway serves it (`GET /v1/devices/{d}/readings`). */
export interface GatewayReading {
  device: string;
  seq: string;
  timestamp: string;
  values: string[];
  signature: string;
  digest: string;
  receivedAt: string;
  anchor: {
    root: string;
    gateway?: string;
    status?: "pending" | "confirmed";
    txHash?: string | null;
    blockNumber?: number | null;
    anchoredAt?: string | null;
  } | null;
  proof: string[] | null;
}

/** `GET /v1/devices/{d}`: what the gateway has stored of a device. */
export interface GatewayDeviceSummary {
  device: string;
  lastSeq: string;
  readings: number;
  lastTimestamp: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
  equivocations: number;
  rejections: Record<string, number>;
}

/** A fleet anchor (`GET /v1/anchors`). */
export interface GatewayAnchor {
  root: string;
  gateway: string;
  count: number;
  uri: string;
  status: "pending" | "confirmed";
  txHash: string | null;
  blockNumber: number | null;
  anchoredAt: string | null;
  createdAt: string;
}

/** The gateway's summary of `device`, or undefined when it stored nothing of it (404). */
export async function gatewayDevice(config: AppConfig, device: string, signal?: AbortSignal): Promise<GatewayDeviceSummary | undefined> {
  try {
    return await fetchGatewayJson<GatewayDeviceSummary>(config, `/v1/devices/${getAddress(device)}`, { signal });
  } catch (err) {
    if (err instanceof TriadError && err.code === "NOT_FOUND") return undefined;
    throw err;
  }
}

/** One page of readings (at most 1000) from `from` (unix s) or after seq `after`, in seq order. */
export async function gatewayReadings(
  config: AppConfig,
  device: string,
  params: { from?: bigint; after?: string; limit?: number },
  signal?: AbortSignal,
): Promise<{ readings: GatewayReading[]; next: string | null }> {
  const q = new URLSearchParams();
  if (params.from !== undefined) q.set("from", String(params.from));
  if (params.after !== undefined) q.set("after", params.after);
  q.set("limit", String(params.limit ?? 1000));
  return fetchGatewayJson(config, `/v1/devices/${getAddress(device)}/readings?${q}`, { signal });
}

/** Every reading from `from` on (following `next`), at most `max` (the newest are kept). */
export async function readingsSince(
  config: AppConfig,
  device: string,
  from: bigint,
  max = 2000,
  signal?: AbortSignal,
): Promise<GatewayReading[]> {
  const out: GatewayReading[] = [];
  let page = await gatewayReadings(config, device, { from }, signal);
  out.push(...page.readings);
  while (page.next && out.length < 20_000) {
    page = await gatewayReadings(config, device, { after: page.next }, signal);
    out.push(...page.readings);
  }
  return out.slice(-max);
}

/** The gateway's fleet anchors, newest first. */
export async function gatewayAnchors(config: AppConfig, limit = 50, signal?: AbortSignal): Promise<GatewayAnchor[]> {
  const body = await fetchGatewayJson<{ anchors: GatewayAnchor[] } | GatewayAnchor[]>(config, `/v1/anchors?limit=${limit}`, { signal });
  return Array.isArray(body) ? body : body.anchors;
}

/** A reading's telemetry in physical units, or undefined when its values are not `ai4i-2020/v1`. */
export function telemetryOf(r: GatewayReading): Ai4iTelemetry | undefined {
  try {
    return valuesToTelemetry(r.values.map(BigInt));
  } catch {
    return undefined;
  }
}

/** The monitor feed's answer for a device (`GET /monitor/v1/devices/{d}/risk`). */
export interface RiskFeed {
  modelHash: string;
  thresholds: { raiseAtBps: number; raiseAfter: number; clearAtBps: number; clearAfter: number };
  points: { seq: string; timestamp: string; riskBps: number | null; modes: Record<string, number> }[];
  alerts: { state: "raised" | "cleared"; riskBps: number; modes: string[]; seq: string; timestamp: string; modelHash: string }[];
}

/** Failure risk per reading and the monitor's alerts, or undefined when this host has no monitor feed. */
export async function riskFeed(config: AppConfig, device: string, from: bigint, signal?: AbortSignal): Promise<RiskFeed | undefined> {
  if (!config.monitorUrl) return undefined;
  const url = `${config.monitorUrl.replace(/\/$/, "")}/v1/devices/${getAddress(device)}/risk?from=${from}`;
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (cause) {
    throw new TriadError("the monitor feed is not reachable", "MONITOR_UNREACHABLE", { url }, { cause });
  }
  const body = (await res.json().catch(() => ({}))) as RiskFeed & { error?: string };
  if (!res.ok) throw new TriadError(`the monitor feed answered ${res.status}: ${body.error ?? res.statusText}`, "MONITOR_REFUSED", { url });
  return body;
}

// ------------------------------------------------------------------ verify this reading

/** One check of "verify this reading". */
export interface Check {
  ok: boolean;
  /** What was checked and what came out, as a sentence. */
  text: string;
}

export interface ReadingVerification {
  signature: Check;
  proof: Check;
  onChain?: Check;
  ok: boolean;
}

/** The reading as the SDK types it. */
export function toSignedReading(r: GatewayReading): SignedReading {
  return {
    device: getAddress(r.device),
    seq: BigInt(r.seq),
    timestamp: BigInt(r.timestamp),
    values: r.values.map(BigInt),
    signature: r.signature,
  };
}

/**
 * Checks a reading the gateway served: in the browser, that the device's key signed it (EIP-712 recovery) and that
 * its Merkle proof leads to its anchor's root; then on-chain, that the registry accepts it under that fleet anchor
 * (`verifyFleetReading`: anchor exists, device Active and gateway authorised by its owner at the anchor's time).
 */
export async function verifyGatewayReading(config: AppConfig, registry: DeviceRegistry, r: GatewayReading): Promise<ReadingVerification> {
  const domain = deviceRegistryDomain(config.chainId, config.deployment.contracts.DeviceRegistry!);
  const reading = toSignedReading(r);
  const digest = readingDigest(domain, reading);
  let signer = "";
  try {
    signer = recoverReading(domain, reading);
  } catch {
    /* malformed signature: signer stays empty */
  }
  const signature: Check =
    signer && getAddress(signer) === reading.device
      ? { ok: true, text: `signed by the device ${reading.device} (EIP-712 digest ${digest.slice(0, 10)}…)` }
      : { ok: false, text: `the signature is not the device's (recovered ${signer || "nothing"})` };
  if (digest.toLowerCase() !== r.digest.toLowerCase()) {
    signature.ok = false;
    signature.text += `; the gateway's digest ${r.digest.slice(0, 10)}… differs from the computed one`;
  }
  if (!r.anchor || !r.proof) {
    return {
      signature,
      proof: { ok: false, text: "not anchored yet: the gateway anchors readings every few seconds; try again shortly" },
      ok: false,
    };
  }
  const root = readingProofRoot(digest, r.proof);
  const proof: Check =
    root?.toLowerCase() === r.anchor.root.toLowerCase()
      ? { ok: true, text: `the ${r.proof.length}-step Merkle proof leads to the anchor's root ${r.anchor.root.slice(0, 10)}…` }
      : { ok: false, text: `the Merkle proof leads to ${root ?? "nothing"}, not to the anchor's root ${r.anchor.root}` };
  if (!r.anchor.gateway || r.anchor.status !== "confirmed") {
    return {
      signature,
      proof,
      onChain: { ok: false, text: "the anchor is not confirmed on-chain yet: try again in a few seconds" },
      ok: false,
    };
  }
  const accepted = await registry.verifyFleetReading(
    r.anchor.gateway,
    r.anchor.root,
    reading.device,
    reading.seq,
    reading.timestamp,
    reading.values,
    r.proof,
  );
  const onChain: Check = accepted
    ? {
        ok: true,
        text: `DeviceRegistry.verifyFleetReading accepts it under the fleet anchor of gateway ${r.anchor.gateway} (block ${r.anchor.blockNumber})`,
      }
    : {
        ok: false,
        text: "DeviceRegistry.verifyFleetReading refuses it (device not Active or gateway not authorised at the anchor's time, or a wrong proof)",
      };
  return { signature, proof, onChain, ok: signature.ok && proof.ok && onChain.ok };
}
