/**
 * Live marketplace streams (docs/protocol.md §13.4): a buyer of a DataMarketplace Stream listing receives, as
 * Server-Sent Events, every reading of the listing's devices this gateway stores while its access lasts.
 *
 *   GET /v1/streams/{listingId}/challenge?subscriber=0x…   a single-use challenge (random 32 bytes, ttl) to sign
 *   GET /v1/streams/{listingId}?subscriber=&challenge=&signature=[&since=]
 *                                                          the event stream: `open`, `reading`…, `end`
 *
 * Opening: the signature (EIP-191 over `streamChallengeMessage`, @triad/sdk) must recover to the subscriber; the
 * challenge is consumed; the listing must exist and be a Stream; `hasAccess(listing, subscriber, t)` must hold at t =
 * the chain's latest block timestamp. The stream then carries each reading the ingest pipeline commits
 * (`IngestPipeline.onStored`) of the listing's devices, in commit order (so in seq order per device).
 *
 * Cut-off: the gateway re-checks `accessOf` / `hasAccess` at most `recheckMs` (≤ 30 s) apart and also when the access
 * expiry comes (by the chain's latest block timestamp or its own clock, whichever is later), and ends the stream with
 * `event: end` and a reason: `expired` (the expiry passed), `revoked` (hasAccess false before expiry: taken down),
 * `stopping`, `slow` (the subscriber did not read: more than `maxBufferedBytes` waited), `unavailable` (no re-check
 * succeeded for two periods, so access can no longer be vouched for).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { getAddress, isAddress, isHexString, ZeroAddress, type Provider } from "ethers";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { DataMarketplace__factory, type DataMarketplace } from "@triad/contracts";
import {
  DeploymentNotFoundError,
  encodeWireReading,
  ListingKind,
  ListingStatus,
  recoverStreamChallenge,
  streamChallengeMessage,
  TriadError,
  type StreamChallenge,
  type StreamEndReason,
  type StreamOpenEvent,
  type StreamRefusalCode,
  STREAM_REFUSAL_CODES,
} from "@triad/sdk";
import { loadDeployment } from "@triad/sdk/node";
import type { GatewayConfig, StreamLimits } from "./config.ts";
import type { IngestPipeline } from "./ingest.ts";
import type { NewReading, ReadingStore } from "./store/types.ts";

/** Comment lines sent this often keep proxies and load balancers from closing an idle stream. */
export const STREAM_KEEP_ALIVE_MS = 15_000;
/** Most readings replayed per device for `since`. */
export const STREAM_REPLAY_LIMIT = 1000;
/** Most challenges issued and not yet used or expired (each is ~200 bytes). */
export const MAX_PENDING_CHALLENGES = 10_000;

const STREAM_KIND = BigInt(ListingKind.indexOf("Stream"));
const TAKEN_DOWN = BigInt(ListingStatus.indexOf("TakenDown"));
const UINT = /^(0|[1-9]\d{0,19})$/;

/** What the hub reads of the DataMarketplace (the TypeChain binding fits). */
export type MarketplaceReader = Pick<DataMarketplace, "getListing" | "hasAccess" | "accessOf">;

export interface StreamHubOptions extends StreamLimits {
  chainId: bigint;
  registryAddress: string;
  /** The marketplace access is checked at; undefined: every stream request answers 503. */
  marketplace?: { address: string; contract: MarketplaceReader };
  provider: Pick<Provider, "getBlock">;
  store: Pick<ReadingStore, "readings">;
  pipeline: Pick<IngestPipeline, "onStored">;
  metricsRegistry: Registry;
  logger?: Logger;
  keepAliveMs?: number;
}

class Refusal extends Error {
  constructor(
    readonly code: StreamRefusalCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface PendingChallenge {
  listingId: bigint;
  subscriber: string;
  expiresAt: bigint;
}

/** One open stream. */
class Subscription {
  readonly devices: Set<string>;
  private readonly lastSeq = new Map<string, bigint>();
  /** Live readings that arrive while `since` is replayed (sent after it); undefined once replay is over. */
  private held: { reading: NewReading; frame: string }[] | undefined = [];
  private heldBytes = 0;
  private recheck: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private lastCheckOk = Date.now();
  ended = false;

  constructor(
    private readonly hub: StreamHub,
    readonly listingId: bigint,
    readonly subscriber: string,
    devices: readonly string[],
    private expiry: bigint,
    private readonly res: ServerResponse,
  ) {
    this.devices = new Set(devices.map((d) => d.toLowerCase()));
  }

  start(open: StreamOpenEvent, keepAliveMs: number): void {
    this.res.on("close", () => this.end(undefined, "the subscriber closed the connection"));
    this.res.on("error", (error) => this.end(undefined, `the connection failed: ${error.message}`));
    this.write(sseFrame("open", open));
    this.keepAlive = setInterval(() => this.write(": keep-alive\n\n"), keepAliveMs).unref();
    this.schedule(this.hub.recheckDelay(this.expiry, undefined));
  }

  /** Replays stored readings (for `since`), then releases the live ones that arrived meanwhile. */
  async replay(since: bigint | undefined): Promise<void> {
    try {
      if (since !== undefined) {
        for (const device of this.devices) {
          const rows = await this.hub.store.readings({ device: getAddress(device), afterSeq: since, limit: STREAM_REPLAY_LIMIT });
          for (const r of rows) this.send(r, readingFrame(r));
          if (this.ended) return;
        }
      }
    } finally {
      const held = this.held ?? [];
      this.held = undefined;
      for (const h of held) this.send(h.reading, h.frame);
    }
  }

  deliver(reading: NewReading, frame: string): void {
    if (!this.held) return this.send(reading, frame);
    this.held.push({ reading, frame });
    this.heldBytes += frame.length;
    if (this.heldBytes > this.hub.maxBufferedBytes) {
      this.end("slow", `more than ${this.hub.maxBufferedBytes} bytes of live readings waited while stored ones were replayed`);
    }
  }

  private send(reading: NewReading, frame: string): void {
    if (this.ended) return;
    const key = reading.device.toLowerCase();
    const last = this.lastSeq.get(key);
    if (last !== undefined && reading.seq <= last) return; // already sent (replay and live overlap)
    this.lastSeq.set(key, reading.seq);
    this.write(frame);
    this.hub.metrics.events.inc();
  }

  private write(chunk: string): void {
    if (this.ended) return;
    this.res.write(chunk);
    if (this.res.writableLength > this.hub.maxBufferedBytes) {
      this.end("slow", `more than ${this.hub.maxBufferedBytes} bytes waited for the subscriber: it reads too slowly`);
    }
  }

  private schedule(delayMs: number): void {
    if (this.ended) return;
    clearTimeout(this.recheck);
    this.recheck = setTimeout(() => void this.check(), delayMs).unref();
  }

  private async check(): Promise<void> {
    if (this.ended) return;
    const verdict = await this.hub.checkAccess(this.listingId, this.subscriber).catch((error: unknown) => error as Error);
    if (this.ended) return;
    if (verdict instanceof Error) {
      const failingFor = Date.now() - this.lastCheckOk;
      this.hub.logger?.warn(
        { listingId: this.listingId.toString(), subscriber: this.subscriber, err: verdict.message, failingForMs: failingFor },
        "stream access re-check failed",
      );
      if (failingFor >= 2 * this.hub.recheckMs) {
        return this.end("unavailable", "the gateway could not re-check access on-chain for two periods");
      }
      return this.schedule(this.hub.recheckMs);
    }
    this.lastCheckOk = Date.now();
    if (verdict.kind === "expired") return this.end("expired", verdict.detail);
    if (verdict.kind === "none") return this.end("revoked", verdict.detail);
    this.expiry = verdict.expiry;
    this.schedule(this.hub.recheckDelay(verdict.expiry, verdict.chainNow));
  }

  /** Ends the stream: with an `end` event when `reason` is given (not when the subscriber left). */
  end(reason: StreamEndReason | undefined, detail: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.recheck);
    clearInterval(this.keepAlive);
    this.hub.remove(this, reason ?? "left");
    this.hub.logger?.info(
      { listingId: this.listingId.toString(), subscriber: this.subscriber, reason: reason ?? "left", detail },
      "stream ended",
    );
    if (reason === undefined || this.res.destroyed) return;
    this.res.end(sseFrame("end", { reason, detail }));
    // A subscriber that does not read would keep the socket (and its buffer) forever: cut it after a grace period.
    if (reason === "slow") setTimeout(() => this.res.destroy(), 1000).unref();
  }
}

type AccessVerdict =
  | { kind: "ok"; expiry: bigint; chainNow: bigint }
  | { kind: "expired"; detail: string; expiry: bigint }
  | { kind: "none"; detail: string; expiry: bigint };

/**
 * The live streams of one gateway: challenges, open streams, access re-checks, the fan-out of stored readings, and
 * the metrics `triad_gateway_stream_subscribers`, `…_stream_events_total`, `…_stream_refusals_total{code}` and
 * `…_stream_ends_total{reason}`.
 */
export class StreamHub {
  readonly store: StreamHubOptions["store"];
  readonly logger: Logger | undefined;
  readonly recheckMs: number;
  readonly maxBufferedBytes: number;
  readonly metrics: { subscribers: Gauge; events: Counter; refusals: Counter<"code">; ends: Counter<"reason"> };
  private readonly challenges = new Map<string, PendingChallenge>();
  private readonly byDevice = new Map<string, Set<Subscription>>();
  private readonly open = new Set<Subscription>();
  /** Streams being opened (counted against maxSubscribers while their chain checks run). */
  private opening = 0;
  private unlisten: (() => void) | undefined;
  private stopping = false;

  constructor(private readonly o: StreamHubOptions) {
    this.store = o.store;
    this.logger = o.logger;
    this.recheckMs = o.recheckMs;
    this.maxBufferedBytes = o.maxBufferedBytes;
    const prefix = "triad_gateway_stream_";
    const registers = [o.metricsRegistry];
    this.metrics = {
      subscribers: new Gauge({ name: `${prefix}subscribers`, help: "Live marketplace streams open now", registers }),
      events: new Counter({ name: `${prefix}events_total`, help: "Readings sent on live marketplace streams", registers }),
      refusals: new Counter({
        name: `${prefix}refusals_total`,
        help: "Refused stream and challenge requests, by code (docs/protocol.md §13.4)",
        labelNames: ["code"] as const,
        registers,
      }),
      ends: new Counter({
        name: `${prefix}ends_total`,
        help: "Ended streams by reason (expired, revoked, stopping, slow, unavailable; left = the subscriber closed it)",
        labelNames: ["reason"] as const,
        registers,
      }),
    };
  }

  /** Whether stream requests can be served (a marketplace is configured). */
  get enabled(): boolean {
    return this.o.marketplace !== undefined;
  }

  /** Open streams. */
  get subscribers(): number {
    return this.open.size;
  }

  /** Serves `/v1/streams/…` (the HTTP API hands these paths over). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      if (req.method !== "GET") throw new Refusal("METHOD_NOT_ALLOWED", "streams are opened with GET");
      const parts = url.pathname.split("/").filter((p) => p !== "");
      const isChallenge = parts.length === 4 && parts[3] === "challenge";
      if (!(parts.length === 3 || isChallenge)) throw new Refusal("NOT_FOUND", "not found (see /v1/streams/{listingId}/challenge)");
      if (!UINT.test(parts[2])) throw new Refusal("BAD_REQUEST", `"${parts[2].slice(0, 40)}" is not a listing id (a whole number)`);
      const listingId = BigInt(parts[2]);
      if (!this.o.marketplace) {
        throw new Refusal("MARKETPLACE_NOT_CONFIGURED", "this gateway serves no streams: no DataMarketplace is configured (--marketplace)");
      }
      if (this.stopping) throw new Refusal("STOPPING", "the gateway is stopping");
      if (isChallenge) return this.issueChallenge(res, listingId, url.searchParams);
      await this.openStream(res, listingId, url.searchParams);
    } catch (error) {
      if (res.headersSent) {
        this.logger?.error({ err: (error as Error)?.message ?? String(error) }, "stream failed after it opened");
        res.destroy();
        return;
      }
      const refusal =
        error instanceof Refusal
          ? error
          : new Refusal("CHAIN_UNAVAILABLE", `the gateway cannot check access now: ${(error as Error)?.message ?? error}`);
      this.metrics.refusals.inc({ code: refusal.code });
      res
        .writeHead(STREAM_REFUSAL_CODES[refusal.code], { "content-type": "application/json", "cache-control": "no-store" })
        .end(JSON.stringify({ error: refusal.message, code: refusal.code, ...refusal.extra }));
    }
  }

  private issueChallenge(res: ServerResponse, listingId: bigint, params: URLSearchParams): void {
    for (const key of params.keys())
      if (key !== "subscriber") throw new Refusal("BAD_REQUEST", `unknown parameter "${key.slice(0, 40)}" (subscriber)`);
    const subscriber = addressParam(params, "subscriber");
    const now = nowSeconds();
    for (const [c, pending] of this.challenges) {
      if (pending.expiresAt > now) break; // insertion order is expiry order (one ttl for all)
      this.challenges.delete(c);
    }
    if (this.challenges.size >= MAX_PENDING_CHALLENGES) throw new Refusal("STREAMS_FULL", "too many open challenges; retry in a minute");
    const challenge = "0x" + randomBytes(32).toString("hex");
    const expiresAt = now + BigInt(this.o.challengeTtlSeconds);
    this.challenges.set(challenge, { listingId, subscriber, expiresAt });
    const marketplace = getAddress(this.o.marketplace!.address);
    const fields: StreamChallenge = { chainId: this.o.chainId, marketplace, listingId, subscriber, challenge, expiresAt };
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(
      JSON.stringify({
        challenge,
        expiresAt: expiresAt.toString(),
        chainId: this.o.chainId.toString(),
        marketplace,
        registry: getAddress(this.o.registryAddress),
        listingId: listingId.toString(),
        subscriber,
        message: streamChallengeMessage(fields),
      }),
    );
  }

  private async openStream(res: ServerResponse, listingId: bigint, params: URLSearchParams): Promise<void> {
    const known = new Set(["subscriber", "challenge", "signature", "since"]);
    for (const key of params.keys())
      if (!known.has(key))
        throw new Refusal("BAD_REQUEST", `unknown parameter "${key.slice(0, 40)}" (subscriber, challenge, signature, since)`);
    const subscriber = addressParam(params, "subscriber");
    const challenge = (params.get("challenge") ?? "").toLowerCase();
    const signature = params.get("signature") ?? "";
    if (!isHexString(challenge, 32)) throw new Refusal("BAD_REQUEST", "challenge must be the 32-byte 0x-hex value of /challenge");
    if (!isHexString(signature, 65)) throw new Refusal("BAD_REQUEST", "signature must be 65 bytes of 0x-hex");
    const sinceRaw = params.get("since");
    if (sinceRaw !== null && !UINT.test(sinceRaw)) throw new Refusal("BAD_REQUEST", "since must be a whole number (a seq)");
    const since = sinceRaw === null ? undefined : BigInt(sinceRaw);

    const pending = this.challenges.get(challenge);
    if (!pending || pending.listingId !== listingId || pending.subscriber !== subscriber) {
      throw new Refusal(
        "UNKNOWN_CHALLENGE",
        "unknown challenge: never issued here, already used, or issued for another listing or subscriber",
      );
    }
    if (nowSeconds() > pending.expiresAt) {
      this.challenges.delete(challenge);
      throw new Refusal("CHALLENGE_EXPIRED", `the challenge expired at ${isoSeconds(pending.expiresAt)}: ask for a new one`);
    }
    const marketplace = getAddress(this.o.marketplace!.address);
    let signer: string | undefined;
    try {
      signer = recoverStreamChallenge(
        { chainId: this.o.chainId, marketplace, listingId, subscriber, challenge, expiresAt: pending.expiresAt },
        signature,
      );
    } catch {
      signer = undefined;
    }
    if (signer !== subscriber) throw new Refusal("BAD_SIGNATURE", `the signature is not ${subscriber}'s over the challenge message`);
    this.challenges.delete(challenge); // consumed: no replay, whatever happens next

    if (this.open.size + this.opening >= this.o.maxSubscribers) {
      throw new Refusal("STREAMS_FULL", `this gateway serves at most ${this.o.maxSubscribers} streams at once; retry later`);
    }
    this.opening++;
    let listing: Awaited<ReturnType<MarketplaceReader["getListing"]>>;
    let verdict: AccessVerdict;
    try {
      listing = await this.o.marketplace!.contract.getListing(listingId);
      if (listing.seller === ZeroAddress) throw new Refusal("UNKNOWN_LISTING", `no listing ${listingId} at marketplace ${marketplace}`);
      if (listing.kind !== STREAM_KIND) {
        throw new Refusal("NOT_A_STREAM", `listing ${listingId} sells a ${ListingKind[Number(listing.kind)] ?? "?"}, not a Stream`);
      }
      verdict = await this.checkAccess(listingId, subscriber, listing.status);
    } finally {
      this.opening--;
    }
    if (verdict.kind !== "ok") {
      throw new Refusal("NO_ACCESS", verdict.detail, verdict.expiry === 0n ? {} : { accessExpiry: verdict.expiry.toString() });
    }
    if (this.stopping) throw new Refusal("STOPPING", "the gateway is stopping");
    if (res.destroyed || !res.socket || res.socket.destroyed) return; // the subscriber left while access was checked

    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no", // nginx: do not buffer the stream
    });
    res.flushHeaders();
    const devices = listing.devices.map((d) => getAddress(d));
    const sub = new Subscription(this, listingId, subscriber, devices, verdict.expiry, res);
    this.add(sub);
    this.logger?.info({ listingId: listingId.toString(), subscriber, devices, accessExpiry: verdict.expiry.toString() }, "stream opened");
    sub.start(
      {
        listingId: listingId.toString(),
        subscriber,
        chainId: this.o.chainId.toString(),
        registry: getAddress(this.o.registryAddress),
        marketplace,
        devices,
        accessExpiry: verdict.expiry.toString(),
        recheckSeconds: this.recheckMs / 1000,
      },
      this.o.keepAliveMs ?? STREAM_KEEP_ALIVE_MS,
    );
    await sub.replay(since);
  }

  /**
   * The subscriber's access now: `hasAccess` at the chain's latest block timestamp and the expiry of `accessOf`;
   * expired when that timestamp or the gateway's clock has reached the expiry.
   */
  async checkAccess(listingId: bigint, subscriber: string, knownStatus?: bigint): Promise<AccessVerdict> {
    const market = this.o.marketplace!.contract;
    const block = await this.o.provider.getBlock("latest");
    if (!block) throw new Error("the RPC endpoint returned no latest block");
    const chainNow = BigInt(block.timestamp);
    const [has, access] = await Promise.all([market.hasAccess(listingId, subscriber, chainNow), market.accessOf(listingId, subscriber)]);
    const expiry = access.expiry;
    const now = chainNow > nowSeconds() ? chainNow : nowSeconds();
    if (expiry === 0n)
      return { kind: "none", detail: `${subscriber} has no access to listing ${listingId}: no delivered purchase`, expiry };
    if (now >= expiry)
      return { kind: "expired", detail: `access of ${subscriber} to listing ${listingId} ended at ${isoSeconds(expiry)}`, expiry };
    if (has) return { kind: "ok", expiry, chainNow };
    const status = knownStatus ?? (await market.getListing(listingId)).status;
    const why =
      status === TAKEN_DOWN
        ? `listing ${listingId} was taken down`
        : `${subscriber} has no access to listing ${listingId} at chain time ${isoSeconds(chainNow)} (access from ${isoSeconds(access.since)})`;
    return { kind: "none", detail: why, expiry };
  }

  /** When to re-check next: after `recheckMs`, or when the expiry comes if sooner. */
  recheckDelay(expiry: bigint, chainNow: bigint | undefined): number {
    const nowMs = Math.max(Date.now(), chainNow === undefined ? 0 : Number(chainNow) * 1000);
    return Math.max(0, Math.min(this.recheckMs, Number(expiry) * 1000 - nowMs));
  }

  private add(sub: Subscription): void {
    this.open.add(sub);
    for (const device of sub.devices) {
      let set = this.byDevice.get(device);
      if (!set) this.byDevice.set(device, (set = new Set()));
      set.add(sub);
    }
    this.unlisten ??= this.o.pipeline.onStored((readings) => this.fanOut(readings));
    this.metrics.subscribers.set(this.open.size);
  }

  /** Called by a subscription that ended. */
  remove(sub: Subscription, reason: string): void {
    if (!this.open.delete(sub)) return;
    for (const device of sub.devices) {
      const set = this.byDevice.get(device);
      set?.delete(sub);
      if (set?.size === 0) this.byDevice.delete(device);
    }
    if (this.open.size === 0) {
      this.unlisten?.(); // no listener on the ingest hot path while nobody subscribes
      this.unlisten = undefined;
    }
    this.metrics.subscribers.set(this.open.size);
    this.metrics.ends.inc({ reason });
  }

  private fanOut(readings: NewReading[]): void {
    for (const reading of readings) {
      const subs = this.byDevice.get(reading.device.toLowerCase());
      if (!subs) continue;
      const frame = readingFrame(reading); // encoded once for every subscriber of the device
      for (const sub of [...subs]) sub.deliver(reading, frame);
    }
  }

  /** Ends every stream (`stopping`) and refuses new ones. */
  close(): void {
    this.stopping = true;
    for (const sub of [...this.open]) sub.end("stopping", "the gateway is stopping");
    this.challenges.clear();
  }
}

/**
 * The DataMarketplace of live streams: `config.marketplace`, else the deployment record's. An explicit address must
 * hold a DataMarketplace of this registry (else the gateway refuses to start); a record's that does not is ignored
 * with a warning. Undefined when there is none (streams answer 503).
 */
export async function resolveMarketplace(
  config: Pick<GatewayConfig, "marketplace" | "deploymentsDir">,
  ctx: { chainId: bigint; provider: Provider; registryAddress: string; logger?: Logger },
): Promise<{ address: string; contract: DataMarketplace } | undefined> {
  let address = config.marketplace;
  const explicit = address !== undefined;
  if (!explicit) {
    try {
      address = loadDeployment(ctx.chainId, { dir: config.deploymentsDir, required: ["DataMarketplace"] }).contracts.DataMarketplace!;
    } catch (error) {
      if (!(error instanceof DeploymentNotFoundError)) throw error;
      ctx.logger?.info({ reason: error.message }, "live streams off: no DataMarketplace address (--marketplace or the deployment record)");
      return undefined;
    }
  }
  const contract = DataMarketplace__factory.connect(address!, ctx.provider);
  let problem: string | undefined;
  if ((await ctx.provider.getCode(address!)) === "0x")
    problem = `no contract at the DataMarketplace address ${address} on chain ${ctx.chainId}`;
  else {
    const registry = await contract.REGISTRY().catch(() => undefined);
    if (registry === undefined) problem = `the contract at ${address} is not a DataMarketplace`;
    else if (registry.toLowerCase() !== ctx.registryAddress.toLowerCase()) {
      problem = `the DataMarketplace at ${address} uses the registry ${registry}, not ${ctx.registryAddress}`;
    }
  }
  if (problem && explicit) throw new TriadError(problem, "NO_MARKETPLACE", { marketplace: address });
  if (problem) {
    ctx.logger?.warn({ reason: problem }, "live streams off: the deployment record's DataMarketplace is not usable");
    return undefined;
  }
  ctx.logger?.info({ marketplace: address }, "live streams on");
  return { address: getAddress(address!), contract };
}

function addressParam(params: URLSearchParams, name: string): string {
  const raw = params.get(name);
  if (raw === null || !isAddress(raw)) throw new Refusal("BAD_REQUEST", `${name} must be an address (0x + 40 hex digits)`);
  return getAddress(raw);
}

function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `event: reading` with `{"device": …, "reading": <the wire JSON of §5.3>}`. */
function readingFrame(r: NewReading): string {
  return `event: reading\ndata: {"device":"${getAddress(r.device)}","reading":${new TextDecoder().decode(encodeWireReading(r))}}\n\n`;
}

function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

function isoSeconds(t: bigint): string {
  return t >= 253402300800n ? `${t} (never)` : new Date(Number(t) * 1000).toISOString();
}
