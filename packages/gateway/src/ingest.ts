/**
 * MQTT ingest: the pipeline that turns a message into a durable verdict, and the two transports in front of it.
 *
 * The pipeline (`IngestPipeline.submit`) verifies a message (./verify.ts: stage 1 — topic, wire format, signature —
 * on worker threads, ./verify-pool.ts; stage 2 here), looks a device up in the registry cache on first sight, and
 * hands accepted readings to the store in GROUP COMMITS: every message that arrives while one transaction is being
 * written joins the next one, so a busy gateway fsyncs once per batch, not once per reading. `submit` resolves only
 * after the reading (or the record of its rejection) is durably committed. Messages keep their arrival order
 * whatever order the workers answer in, so one device's pipelined readings are stored in seq order by one gateway
 * (two gateways of a shared subscription may store them out of order: the store keeps late gap-fills, ./store/types.ts).
 *
 * Acknowledgement rule (both transports): a reading is acknowledged (MQTT PUBACK) only after its verdict is durable:
 *  - stored or exact duplicate: acknowledged;
 *  - permanent rejection (any reason but UNAVAILABLE): counted and recorded, a rejection `{seq, reason, detail}` is
 *    published on the device's `…/rejections` topic, and the message is ACKNOWLEDGED so the device does not
 *    resend it forever;
 *  - UNAVAILABLE (registry lookup or store failed): NOT acknowledged, so the device (or the external broker's
 *    persistent session) delivers it again.
 *
 * Embedded broker (aedes 1.x, MQTT 3.1.1): aedes writes the PUBACK of a QoS 1 publish in its `enqueuePublish` step,
 * which runs after `authorizePublish` calls back (lib/handlers/publish.js: authorizePublish → enqueuePublish →
 * write(PubAck) → broker.publish); the `published` hook runs after the PUBACK is written, so it cannot delay it. The
 * gateway therefore verifies and stores inside `authorizePublish` (test/ingest.test.ts proves the PUBACK waits for
 * the commit). An error from authorizePublish makes aedes close the connection without a PUBACK: used for
 * UNAVAILABLE, the device reconnects and resends. Readings are consumed by the gateway, not relayed: clients may
 * subscribe only to `…/rejections` and `…/alerts` topics, and nothing a client publishes is forwarded to other clients.
 *
 * External broker (mqtt.js, QoS 1, persistent session, MQTT 5 shared subscription
 * `$share/<group>/triad/v1/{chainId}/+/readings` so several gateways split the load): mqtt.js reads a connection's
 * messages one at a time, handing the next one to `client.handleMessage` only after the previous one's callback, and
 * writes the PUBACK of a QoS 1 message in that callback (for MQTT 3.1.1 and 5 alike; `customHandleAcks` is honoured
 * only with MQTT 5 and is serialised the same way). Calling back once the verdict is durable would therefore store
 * one reading per transaction (about 170 readings/s on PostgreSQL). So the gateway calls back at once WITH an error —
 * mqtt.js then sends no PUBACK and goes on to the next message — and writes the PUBACK itself once the verdict is
 * durable, in arrival order, on the connection the message came in on (after a reconnect the broker redelivers
 * instead: a PUBACK on the new connection could acknowledge another message that reuses the id). For UNAVAILABLE the
 * gateway does not acknowledge and reconnects, so the broker redelivers the message from the session.
 */
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from "aedes";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { TypedDataDomain } from "ethers";
import { channelFilter, deviceTopic, encodeWireRejection, type RejectionReason } from "@triad/sdk";
import type { GatewayMetrics } from "./metrics.ts";
import type { RegistryCache } from "./registry-cache.ts";
import { REORDER_WINDOW, type NewReading, type ReadingStore, type RejectionRecord } from "./store/types.ts";
import { checkReading, type SchemaRule, type Verification } from "./verify.ts";
import { createEnvelopeVerifier, defaultVerifyWorkers, type EnvelopeVerifier } from "./verify-pool.ts";

export type IngestOutcome =
  | { kind: "stored"; reading: NewReading }
  | { kind: "duplicate"; reading: NewReading }
  | { kind: "rejected"; reason: RejectionReason; detail: string; seq?: bigint; device?: string; permanent: boolean };

export interface IngestOptions {
  store: ReadingStore;
  registry: Pick<RegistryCache, "get" | "lookup">;
  chainId: bigint;
  domain: TypedDataDomain;
  schemas: ReadonlyMap<string, SchemaRule>;
  maxClockSkewSeconds: number;
  metrics: GatewayMetrics;
  logger?: Logger;
  /** Most messages per store transaction. */
  maxBatch?: number;
  /**
   * Worker threads for stage 1 of the verification (topic, wire format, signature: ./verify-pool.ts); 0 runs it on
   * the ingest thread. Default: {@link defaultVerifyWorkers} (one per core, at most 4).
   */
  verifyWorkers?: number;
  /** The clock, ms (tests move it). */
  now?: () => number;
}

interface Pending {
  receivedAt: number;
  verdict: Promise<Verification>;
  resolve(outcome: IngestOutcome): void;
}

export class IngestPipeline {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  private readonly maxBatch: number;
  private readonly now: () => number;
  private readonly envelopes: EnvelopeVerifier;
  private readonly storedListeners = new Set<(readings: NewReading[]) => void>();

  constructor(private readonly o: IngestOptions) {
    this.maxBatch = o.maxBatch ?? 2000;
    this.now = o.now ?? Date.now;
    this.envelopes = createEnvelopeVerifier({
      workers: o.verifyWorkers ?? defaultVerifyWorkers(),
      chainId: o.chainId,
      domain: o.domain,
      logger: o.logger,
    });
  }

  /** Worker threads verifying signatures (0: on the ingest thread). */
  get verifyWorkers(): number {
    return this.envelopes.workers;
  }

  /** Resolves once the verification workers have loaded (messages that arrive earlier wait for them). */
  ready(): Promise<void> {
    return this.envelopes.ready();
  }

  /**
   * Calls `listener` once per committed batch with the readings newly stored by it, in arrival order (never
   * duplicates or rejected ones), after the commit and before their verdicts are acknowledged. A listener must not
   * block: errors it throws are logged, never seen by the pipeline. Returns the function that removes it.
   */
  onStored(listener: (readings: NewReading[]) => void): () => void {
    this.storedListeners.add(listener);
    return () => this.storedListeners.delete(listener);
  }

  /** Messages accepted by `submit` whose verdict is not durable yet. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * The verdict on one message, resolved once it is durable. Never rejects: every failure is an outcome (a store
   * failure is UNAVAILABLE, not permanent).
   */
  submit(topic: string, payload: Uint8Array): Promise<IngestOutcome> {
    const receivedAt = this.now();
    this.o.metrics.received.inc();
    if (this.closed) {
      return Promise.resolve({ kind: "rejected", reason: "UNAVAILABLE", detail: "the gateway is shutting down", permanent: false });
    }
    let verdict: Promise<Verification>;
    try {
      verdict = this.verify(topic, payload);
    } catch (error) {
      verdict = Promise.resolve({ ok: false, reason: "MALFORMED", detail: String((error as Error)?.message ?? error) });
    }
    return new Promise<IngestOutcome>((resolve) => {
      this.queue.push({ receivedAt, verdict, resolve });
      this.schedule();
    });
  }

  private verify(topic: string, payload: Uint8Array): Promise<Verification> {
    return this.envelopes.check(topic, payload).then((envelope) => {
      if (!envelope.ok) return envelope;
      const decide = (state: ReturnType<RegistryCache["get"]>) =>
        checkReading(envelope.reading, state, {
          chainId: this.o.chainId,
          domain: this.o.domain,
          schemas: this.o.schemas,
          maxClockSkewSeconds: this.o.maxClockSkewSeconds,
          nowSeconds: Math.floor(this.now() / 1000),
        });
      const cached = this.o.registry.get(envelope.reading.device);
      if (cached !== undefined) return decide(cached);
      return this.o.registry.lookup(envelope.reading.device).then(decide, (error: unknown) => ({
        ok: false as const,
        reason: "UNAVAILABLE" as const,
        detail: `registry lookup failed: ${(error as Error)?.message ?? error}`.slice(0, 300),
        seq: envelope.reading.seq,
        device: envelope.reading.device,
      }));
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    const verdicts = await Promise.all(batch.map((p) => p.verdict));
    const outcomes: IngestOutcome[] = new Array(batch.length);
    const accepted: { index: number; reading: NewReading }[] = [];
    verdicts.forEach((v, index) => {
      if (v.ok) accepted.push({ index, reading: { ...v.reading, receivedAt: batch[index].receivedAt } });
      else
        outcomes[index] = {
          kind: "rejected",
          reason: v.reason,
          detail: v.detail,
          seq: v.seq,
          device: v.device,
          permanent: v.reason !== "UNAVAILABLE",
        };
    });
    const started = performance.now();
    try {
      await this.o.store.transaction(async (tx) => {
        const results = await tx.insertReadings(accepted.map((a) => a.reading));
        results.forEach((r, i) => {
          const { index, reading } = accepted[i];
          const { seq, device } = reading;
          if (r.outcome === "stored") outcomes[index] = { kind: "stored", reading };
          else if (r.outcome === "duplicate") outcomes[index] = { kind: "duplicate", reading };
          else if (r.outcome === "equivocation") {
            outcomes[index] = {
              kind: "rejected",
              reason: "EQUIVOCATION",
              detail: `seq ${seq} is already stored with other content (digest ${r.storedDigest}); recorded`,
              seq,
              device,
              permanent: true,
            };
          } else {
            outcomes[index] = {
              kind: "rejected",
              reason: "SEQ_NOT_INCREASING",
              detail: `seq ${seq} was never stored and is more than ${REORDER_WINDOW} below the last stored seq ${r.lastSeq}`,
              seq,
              device,
              permanent: true,
            };
          }
        });
        const at = this.now();
        const records: RejectionRecord[] = [];
        for (const o of outcomes)
          if (o.kind === "rejected" && o.permanent) records.push({ device: o.device, reason: o.reason, detail: o.detail, at });
        if (records.length > 0) await tx.recordRejections(records);
      });
    } catch (error) {
      this.o.logger?.error(
        { err: (error as Error)?.message ?? String(error), readings: batch.length },
        "store transaction failed; nothing of the batch is acknowledged",
      );
      for (let i = 0; i < batch.length; i++) {
        const v = verdicts[i];
        const seq = v.ok ? v.reading.seq : v.seq;
        const device = v.ok ? v.reading.device : v.device;
        outcomes[i] = {
          kind: "rejected",
          reason: "UNAVAILABLE",
          detail: "the gateway could not store the reading now; retry",
          seq,
          device,
          permanent: false,
        };
      }
    }
    if (this.storedListeners.size > 0) {
      const stored = outcomes.flatMap((o) => (o.kind === "stored" ? [o.reading] : []));
      if (stored.length > 0)
        for (const listener of this.storedListeners) {
          try {
            listener(stored);
          } catch (error) {
            this.o.logger?.error({ err: (error as Error)?.message ?? String(error) }, "an onStored listener failed");
          }
        }
    }
    const m = this.o.metrics;
    m.storeSeconds.observe((performance.now() - started) / 1000);
    m.batchSize.observe(batch.length);
    const done = this.now();
    outcomes.forEach((o, i) => {
      if (o.kind === "stored") m.stored.inc();
      else if (o.kind === "duplicate") m.duplicates.inc();
      else m.rejected.inc({ reason: o.reason });
      m.ingestSeconds.observe((done - batch[i].receivedAt) / 1000);
      batch[i].resolve(o);
    });
  }

  /** Waits until every submitted message has its durable verdict. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      if (this.flushing) await this.flushing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Refuses new messages (UNAVAILABLE: not acknowledged, so they come back), drains the accepted ones, stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    await this.envelopes.close();
  }
}

/** The rejection message of a permanent rejection, or undefined when the topic named no device to tell. */
export function rejectionMessage(chainId: bigint, outcome: IngestOutcome): { topic: string; payload: Buffer } | undefined {
  if (outcome.kind !== "rejected" || !outcome.device) return undefined;
  return {
    topic: deviceTopic(chainId, outcome.device, "rejections"),
    payload: Buffer.from(encodeWireRejection({ seq: outcome.seq?.toString(), reason: outcome.reason, detail: outcome.detail })),
  };
}

// ------------------------------------------------------------------ embedded broker

export interface EmbeddedBroker {
  broker: Aedes;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Whether `filter` may be subscribed to by a client: rejections or alerts topics of this chain (one device or +). */
export function subscribable(chainId: bigint, filter: string): boolean {
  const parts = filter.split("/");
  return (
    parts.length === 5 &&
    `${parts[0]}/${parts[1]}` === "triad/v1" &&
    parts[2] === chainId.toString() &&
    (parts[3] === "+" || /^0x[0-9a-fA-F]{40}$/.test(parts[3])) &&
    (parts[4] === "rejections" || parts[4] === "alerts")
  );
}

/** An aedes broker on host:port whose `authorizePublish` runs the pipeline (see the module comment). */
export async function startEmbeddedBroker(options: {
  host: string;
  port: number;
  pipeline: IngestPipeline;
  chainId: bigint;
  metrics?: GatewayMetrics;
  logger?: Logger;
}): Promise<EmbeddedBroker> {
  const { pipeline, chainId, logger } = options;
  const publishRejection = (outcome: IngestOutcome) => {
    const message = rejectionMessage(chainId, outcome);
    if (!message) return;
    broker.publish({ cmd: "publish", topic: message.topic, payload: message.payload, qos: 1, retain: false, dup: false }, (error) => {
      if (error) logger?.warn({ err: error.message, topic: message.topic }, "could not publish a rejection");
    });
  };
  const broker: Aedes = await Aedes.createBroker({
    authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) {
      packet.retain = false; // the gateway keeps no retained messages for anyone
      pipeline
        .submit(packet.topic, packet.payload as Buffer)
        .then((outcome) => {
          if (outcome.kind === "rejected") {
            if (!outcome.permanent) {
              logger?.warn(
                { client: client?.id, reason: outcome.reason, detail: outcome.detail },
                "reading not stored now; not acknowledged",
              );
              return callback(new Error(`${outcome.reason}: ${outcome.detail}`));
            }
            logger?.debug(
              { client: client?.id, reason: outcome.reason, seq: outcome.seq?.toString(), device: outcome.device, detail: outcome.detail },
              "reading rejected",
            );
            publishRejection(outcome);
          }
          callback(null);
        })
        .catch((error: unknown) => callback(error as Error));
    },
    authorizeSubscribe(
      _client: Client,
      subscription: Subscription,
      callback: (error: Error | null, subscription?: Subscription | null) => void,
    ) {
      callback(null, subscribable(chainId, subscription.topic) ? subscription : null);
    },
    authorizeForward(_client: Client, packet: AedesPublishPacket) {
      // Only the gateway's own messages (rejections, alerts) reach subscribers; client publishes carry a clientId.
      return (packet as { clientId?: string }).clientId ? null : packet;
    },
  });
  broker.on("clientError", (client, error) => logger?.debug({ client: client?.id, err: error.message }, "MQTT client error"));
  const updateClients = () => options.metrics?.mqttClients.set(broker.connectedClients);
  broker.on("client", updateClients);
  broker.on("clientDisconnect", updateClients);
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    broker,
    port,
    url: `mqtt://${host}:${port}`,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve())); // no new connections
      await new Promise<void>((resolve) => broker.close(() => resolve())); // closes the connected clients
      await stopped;
    },
  };
}

// ------------------------------------------------------------------ external broker

export interface ExternalSubscriber {
  client: MqttClient;
  /** The subscription filter (shared or plain). */
  filter: string;
  close(): Promise<void>;
}

/** Subscribes to every device's readings at an external broker; PUBACKs wait for durable verdicts. */
export async function startExternalSubscriber(options: {
  url: string;
  protocolVersion: 4 | 5;
  shareGroup?: string;
  clientId: string;
  username?: string;
  password?: string;
  pipeline: IngestPipeline;
  chainId: bigint;
  logger?: Logger;
}): Promise<ExternalSubscriber> {
  const { pipeline, chainId, logger } = options;
  const readings = channelFilter(chainId, "readings");
  const filter = options.shareGroup ? `$share/${options.shareGroup}/${readings}` : readings;
  let reconnecting = false;
  const client: MqttClient = mqtt.connect(options.url, {
    clientId: options.clientId,
    clean: false,
    protocolVersion: options.protocolVersion,
    ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0xffffffff } } : {}),
    username: options.username,
    password: options.password,
    reconnectPeriod: 1000,
    resubscribe: true,
  });
  // PUBACKs wait for durable verdicts without holding up the next message (see the module comment). Set before the
  // CONNACK: a persistent session may deliver at once.
  const sendPacket = (
    client as unknown as { _sendPacket(packet: { cmd: "puback"; messageId: number }, cb?: () => void): void }
  )._sendPacket.bind(client);
  const deferred = new Error("acknowledged by the gateway once the verdict is durable");
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== "publish") return callback();
    const topic = packet.topic.toString();
    const message = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const stream = client.stream;
    const outcome = pipeline.submit(topic, message);
    if (packet.qos === 1) callback(deferred); // no PUBACK from mqtt.js; the next message is read now
    outcome.then(
      (outcome) => {
        if (outcome.kind === "rejected" && !outcome.permanent) {
          if (packet.qos !== 1) callback(new Error(`${outcome.reason}: ${outcome.detail}`));
          // No PUBACK: reconnect so the broker redelivers from the persistent session.
          if (!reconnecting) {
            reconnecting = true;
            setTimeout(() => {
              reconnecting = false;
              client.stream?.destroy();
            }, 1000).unref();
          }
          return;
        }
        const rejection = rejectionMessage(chainId, outcome);
        if (rejection) client.publish(rejection.topic, rejection.payload, { qos: 1 }, () => undefined);
        if (packet.qos !== 1) return callback();
        // Acknowledge on the connection the message came in on, or not at all (the broker redelivers it and the store
        // answers "duplicate").
        if (client.stream === stream && !stream.destroyed && client.connected) sendPacket({ cmd: "puback", messageId: packet.messageId! });
      },
      (error: unknown) => {
        if (packet.qos !== 1) callback(error as Error);
      },
    );
  };
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", (error) => {
      client.end(true);
      reject(error);
    });
  });
  client.on("error", (error) => logger?.warn({ err: error.message }, "MQTT connection error"));
  await client.subscribeAsync(filter, { qos: 1 });
  logger?.info({ url: options.url, filter, clientId: options.clientId }, "subscribed at the external broker");
  return {
    client,
    filter,
    close: () => client.endAsync(),
  };
}
