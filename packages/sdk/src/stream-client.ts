import { getAddress, type Signer, type TypedDataDomain } from "ethers";
import type { SignedReading } from "./eip712.ts";
import { deviceRegistryDomain } from "./eip712.ts";
import { TriadError } from "./errors.ts";
import { recoverReading } from "./signing.ts";
import {
  streamChallengeMessage,
  type StreamChallengeResponse,
  type StreamEndEvent,
  type StreamEndReason,
  type StreamOpenEvent,
  type StreamReadingEvent,
} from "./stream.ts";
import { parseWireReading } from "./wire.ts";

/**
 * The subscriber side of a live marketplace stream (docs/protocol.md §13.4), for browsers and Node ≥ 22 alike (fetch
 * with a streaming body; no EventSource, which cannot be told to stop reconnecting with a used challenge):
 * asks the gateway for a challenge, signs it (EIP-191), opens the Server-Sent Events stream and hands every reading
 * whose device signature verifies to `onReading`, in the order received.
 */

/** Who subscribes: an ethers Signer (wallet, browser provider's signer), or an address with a sign function. */
export type StreamSigner = Pick<Signer, "getAddress" | "signMessage"> | { address: string; signMessage(message: string): Promise<string> };

/** A reading received on the stream whose device signature verified. */
export interface StreamReading {
  device: string;
  reading: SignedReading;
}

/** A reading event that did not verify: not the wire shape, not a listed device, bad signature or seq not increasing. */
export interface InvalidStreamReading {
  device?: string;
  /** The event's raw data. */
  data: string;
  reason: string;
}

/**
 * How the stream ended: the gateway's reason (`expired`, `revoked`, `stopping`, `slow`, `unavailable`), `aborted`
 * (the caller's signal or `close()`), or `disconnected` (the connection closed without an `end` event).
 */
export interface StreamEnd {
  reason: StreamEndReason | "aborted" | "disconnected";
  detail: string;
}

export interface SubscribeToStreamParams {
  /** Base URL of the gateway (the manifest's `gateway`). */
  gatewayUrl: string;
  listingId: bigint | number | string;
  signer: StreamSigner;
  /** Replays the stored readings with seq above this (per device, bounded by the gateway) before live ones. */
  since?: bigint;
  onReading(event: StreamReading): void;
  /** Readings that failed verification (they are never passed to `onReading`). */
  onInvalidReading?(event: InvalidStreamReading): void;
  /** Called once when the stream is over, whatever the cause. */
  onEnd?(end: StreamEnd): void;
  signal?: AbortSignal;
  /**
   * The registry domain readings must be signed in; default: the one the gateway announces (chainId, registry). Give
   * it to trust no gateway statement about the deployment.
   */
  domain?: TypedDataDomain;
  /** Refuse to sign a challenge for another chain or marketplace than these (recommended in dApps). */
  expect?: { chainId?: bigint; marketplace?: string };
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface StreamSubscription {
  /** What the gateway announced when the stream opened. */
  info: StreamOpenEvent;
  /** Resolves when the stream is over (never rejects). */
  done: Promise<StreamEnd>;
  /** Ends the stream (reason `aborted`). */
  close(): void;
}

/** The gateway refused a stream request; `code` is the gateway's (e.g. NO_ACCESS) and `status` the HTTP status. */
export class StreamRefusedError extends TriadError {
  override readonly name = "StreamRefusedError";
  constructor(
    message: string,
    code: string,
    readonly status: number,
    details: Record<string, unknown> = {},
  ) {
    super(message, code, { status, ...details });
  }
}

/**
 * Subscribes to a Stream listing at a gateway. Resolves once the gateway accepted (the `open` event arrived), with the
 * announced details and a `done` promise; rejects with a {@link StreamRefusedError} when the gateway refuses (401 bad
 * signature or challenge, 403 no access, 404 not a stream listing, 503 not available) or a `TriadError` when it cannot
 * be reached.
 */
export async function subscribeToStream(params: SubscribeToStreamParams): Promise<StreamSubscription> {
  const doFetch = params.fetch ?? globalThis.fetch;
  const base = params.gatewayUrl.replace(/\/+$/, "");
  const listingId = BigInt(params.listingId);
  const subscriber = getAddress("address" in params.signer ? params.signer.address : await params.signer.getAddress());
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (params.signal?.aborted) throw new TriadError("the subscription was aborted before it opened", "ABORTED");
  params.signal?.addEventListener("abort", abort, { once: true });
  try {
    const challengeRes = await request(doFetch, `${base}/v1/streams/${listingId}/challenge?subscriber=${subscriber}`, controller.signal);
    const c = (await challengeRes.json()) as StreamChallengeResponse;
    if (BigInt(c.listingId) !== listingId || getAddress(c.subscriber) !== subscriber) {
      throw new TriadError("the gateway's challenge is for another listing or subscriber", "BAD_CHALLENGE", { ...c });
    }
    const chainId = BigInt(c.chainId);
    if (params.expect?.chainId !== undefined && chainId !== params.expect.chainId) {
      throw new TriadError(`the gateway serves chain ${chainId}, expected ${params.expect.chainId}`, "CHAIN_MISMATCH");
    }
    if (params.expect?.marketplace !== undefined && getAddress(c.marketplace) !== getAddress(params.expect.marketplace)) {
      throw new TriadError(
        `the gateway checks access at marketplace ${c.marketplace}, expected ${params.expect.marketplace}`,
        "MARKETPLACE_MISMATCH",
      );
    }
    const message = streamChallengeMessage({
      chainId,
      marketplace: c.marketplace,
      listingId,
      subscriber,
      challenge: c.challenge,
      expiresAt: BigInt(c.expiresAt),
    });
    const signature = await params.signer.signMessage(message);
    const query = new URLSearchParams({ subscriber, challenge: c.challenge, signature });
    if (params.since !== undefined) query.set("since", params.since.toString());
    const res = await request(doFetch, `${base}/v1/streams/${listingId}?${query}`, controller.signal, { accept: "text/event-stream" });
    if (!res.headers.get("content-type")?.startsWith("text/event-stream") || !res.body) {
      throw new TriadError("the gateway did not answer with an event stream", "BAD_RESPONSE", {
        contentType: res.headers.get("content-type"),
      });
    }
    const events = sseEvents(res.body);
    const first = await events.next();
    if (first.done || first.value.event !== "open") {
      controller.abort();
      throw new TriadError("the gateway's stream did not start with an open event", "BAD_RESPONSE");
    }
    const info = JSON.parse(first.value.data) as StreamOpenEvent;
    const domain = params.domain ?? deviceRegistryDomain(BigInt(info.chainId), info.registry);
    const done = consume(events, info, domain, params, controller.signal).then((end) => {
      params.signal?.removeEventListener("abort", abort);
      try {
        params.onEnd?.(end);
      } catch {
        // a throwing onEnd must not turn `done` into a rejection
      }
      return end;
    });
    return { info, done, close: abort };
  } catch (error) {
    params.signal?.removeEventListener("abort", abort);
    controller.abort();
    if (error instanceof TriadError) throw error;
    if (controller.signal.aborted) throw new TriadError("the subscription was aborted before it opened", "ABORTED", {}, { cause: error });
    throw new TriadError(
      `cannot reach the gateway at ${base}: ${(error as Error)?.message ?? error}`,
      "GATEWAY_UNAVAILABLE",
      {},
      { cause: error },
    );
  }
}

async function request(doFetch: typeof fetch, url: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  const res = await doFetch(url, { signal, headers: { accept: "application/json", ...headers } });
  if (res.ok) return res;
  let body: { error?: string; code?: string } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON: use the status only
  }
  throw new StreamRefusedError(body.error ?? `the gateway answered HTTP ${res.status}`, body.code ?? `HTTP_${res.status}`, res.status, {
    ...body,
  });
}

async function consume(
  events: AsyncGenerator<{ event: string; data: string }>,
  info: StreamOpenEvent,
  domain: TypedDataDomain,
  params: SubscribeToStreamParams,
  signal: AbortSignal,
): Promise<StreamEnd> {
  const listed = new Set(info.devices.map((d) => d.toLowerCase()));
  const lastSeq = new Map<string, bigint>();
  const invalid = (event: InvalidStreamReading) => {
    try {
      params.onInvalidReading?.(event);
    } catch {
      // the caller's callback must not end the stream
    }
  };
  try {
    for await (const { event, data } of events) {
      if (event === "end") {
        const end = JSON.parse(data) as StreamEndEvent;
        return { reason: end.reason, detail: end.detail };
      }
      if (event !== "reading") continue;
      let parsed: StreamReadingEvent;
      let reading: SignedReading;
      try {
        parsed = JSON.parse(data) as StreamReadingEvent;
        reading = parseWireReading(new TextEncoder().encode(JSON.stringify(parsed.reading)), parsed.device);
      } catch (error) {
        invalid({ data, reason: `not a reading event: ${(error as Error)?.message ?? error}` });
        continue;
      }
      const device = reading.device;
      const key = device.toLowerCase();
      let signer: string | undefined;
      try {
        signer = recoverReading(domain, reading);
      } catch {
        signer = undefined;
      }
      const previous = lastSeq.get(key);
      if (!listed.has(key)) invalid({ device, data, reason: `device ${device} is not a device of the listing` });
      else if (signer?.toLowerCase() !== key) invalid({ device, data, reason: `seq ${reading.seq}: the signature is not the device's` });
      else if (previous !== undefined && reading.seq <= previous)
        invalid({ device, data, reason: `seq ${reading.seq} is not above the previous ${previous}` });
      else {
        lastSeq.set(key, reading.seq);
        params.onReading({ device, reading });
      }
    }
    return signal.aborted
      ? { reason: "aborted", detail: "closed by the subscriber" }
      : { reason: "disconnected", detail: "the gateway closed the stream without an end event" };
  } catch (error) {
    if (signal.aborted) return { reason: "aborted", detail: "closed by the subscriber" };
    return { reason: "disconnected", detail: `the connection to the gateway failed: ${(error as Error)?.message ?? error}` };
  }
}

/** Server-Sent Events of a response body (the WHATWG parsing rules for the fields used: event, data, comments). */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A lone "\r" at the end of the buffer may be the first half of "\r\n": wait for more.
        if (buffer[newline] === "\r" && newline === buffer.length - 1) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const raw = colon < 0 ? "" : line.slice(colon + 1);
          const content = raw.startsWith(" ") ? raw.slice(1) : raw;
          if (field === "event") event = content;
          else if (field === "data") data.push(content);
        }
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}
