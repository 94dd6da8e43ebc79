/**
 * The device agent: holds the device key, reserves each reading's seq durably, signs the reading (EIP-712 `Reading`
 * in the DeviceRegistry's domain), appends it to an on-disk outbox and publishes it with QoS 1 to
 * `triad/v1/{chainId}/{device}/readings`; a reading leaves the outbox only when the broker's PUBACK arrives. While
 * the broker is unreachable readings keep accumulating in the outbox (up to `maxOutbox`), and on reconnect the
 * outbox is sent again from its oldest reading, in seq order. Rejections published by the gateway on the device's
 * rejections topic are logged and counted.
 *
 * Delivery is at least once: a reading whose PUBACK was lost (broker or connection gone after it received the
 * PUBLISH) is sent again; the gateway treats an exact duplicate as idempotent. A seq is never re-used, even across
 * crashes: it is committed to disk before the reading is signed.
 *
 * {@link Uplink} is the engine: one MQTT connection and one state file for one or more devices. A
 * {@link DeviceAgent} is an uplink with one device; {@link createFleet} runs many devices over a few uplinks.
 */
import { EventEmitter } from "node:events";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type IClientOptions, type MqttClient, connect } from "mqtt";
import pino, { type Logger } from "pino";
import { getAddress, type TypedDataDomain, type Wallet } from "ethers";

/** The device key: an ethers Wallet (or HDNodeWallet); its private key signs readings. */
export type DeviceWallet = Pick<Wallet, "address" | "privateKey">;
import {
  InvalidInputError,
  REJECTION_REASONS,
  TriadError,
  WIRE_MAX_VALUES,
  deviceRegistryDomain,
  deviceTopic,
  encodeWireReading,
  readingDigest,
  signDigest,
  type Reading,
  type SignedReading,
} from "@triad/sdk/node";
import { createDeviceMetrics, type DeviceMetrics } from "./metrics.ts";
import { DeviceStore, OutboxFullError, type OutboxRow } from "./store.ts";
import type { ReadingSource } from "./sources.ts";

export { OutboxFullError } from "./store.ts";

/** Unix time in seconds (may be fractional; readings carry it rounded down). */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now() / 1000;

export interface UplinkOptions {
  chainId: bigint | number;
  /** DeviceRegistry address: the EIP-712 domain's verifying contract. */
  registry: string;
  /** Broker URL: mqtt://host:1883, mqtts://…, ws://… */
  mqttUrl: string;
  /** The SQLite state file (seqs and outbox). */
  stateFile: string;
  clientId: string;
  clock?: Clock;
  logger?: Logger;
  metrics?: DeviceMetrics;
  /** Most readings in the outbox; when full, new readings are refused (OutboxFullError). Default 100,000. */
  maxOutbox?: number;
  /** Most readings published and not yet acknowledged at once. Default 256. */
  inflight?: number;
  /** Reconnect back-off: first delay and cap (ms). Default 250 and 5,000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Extra mqtt.js options (username, password, TLS ca/cert/key, keepalive…). */
  mqtt?: Partial<IClientOptions>;
  /** Called for every rejection received. */
  onRejection?: (rejection: ReceivedRejection) => void;
}

export interface ReceivedRejection {
  device: string;
  seq?: bigint;
  reason: string;
  detail: string;
}

export interface UplinkStats {
  connected: boolean;
  signed: number;
  acked: number;
  outbox: number;
  rejections: Record<string, number>;
  refused: Record<string, number>;
}

interface DeviceEntry {
  address: string;
  privateKey: string;
  topic: string;
  rejectionsTopic: string;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const decoder = new TextDecoder();

/** One MQTT connection and one state file, publishing the outbox of one or more devices in order. */
export class Uplink extends EventEmitter {
  readonly chainId: bigint;
  readonly domain: TypedDataDomain;
  readonly store: DeviceStore;
  readonly metrics: DeviceMetrics;
  readonly logger: Logger;
  private readonly options: UplinkOptions;
  private readonly clock: Clock;
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly byRejectionsTopic = new Map<string, DeviceEntry>();
  private client: MqttClient | undefined;
  private connected = false;
  private generation = 0;
  private lastSentId = 0;
  private inflightCount = 0;
  private readonly sentAt = new Map<number, number>();
  private ackQueue: number[] = [];
  private ackFlushScheduled = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private closing = false;
  private started = false;
  private readonly counts = { signed: 0, acked: 0, rejections: {} as Record<string, number>, refused: {} as Record<string, number> };

  constructor(options: UplinkOptions) {
    super();
    this.options = options;
    this.chainId = BigInt(options.chainId);
    this.domain = deviceRegistryDomain(this.chainId, getAddress(options.registry));
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? pino({ level: "info", base: { service: "triad-device" } });
    this.metrics = options.metrics ?? createDeviceMetrics();
    this.store = new DeviceStore(options.stateFile, { maxOutbox: options.maxOutbox });
    this.metrics.outboxCapacity.set(this.store.maxOutbox);
    this.metrics.outbox.inc(this.store.outboxSize);
    this.backoff = options.reconnectMinMs ?? 250;
  }

  /** Adds a device (its key) to this uplink; returns its next seq. */
  addDevice(key: DeviceWallet): bigint {
    const address = getAddress(key.address);
    const entry: DeviceEntry = {
      address,
      privateKey: key.privateKey,
      topic: deviceTopic(this.chainId, address, "readings"),
      rejectionsTopic: deviceTopic(this.chainId, address, "rejections"),
    };
    const next = this.store.ensureDevice(address, this.chainId, this.options.registry);
    this.devices.set(address, entry);
    this.byRejectionsTopic.set(entry.rejectionsTopic, entry);
    if (this.connected) this.client?.subscribe(entry.rejectionsTopic, { qos: 1 });
    return next;
  }

  /** Starts connecting (returns at once; readings are buffered until the broker is reachable). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * Reserves a seq for each reading (durably), signs it, appends it to the outbox and schedules its publication.
   * Synchronous: readings of one device are signed and appended in seq order. Throws {@link OutboxFullError} (nothing
   * reserved) when the outbox cannot take the batch, InvalidInputError for values that cannot be signed.
   */
  publishBatch(items: readonly { device: string; values: readonly bigint[] }[]): SignedReading[] {
    if (this.closing) throw new TriadError("the device agent is closed", "CLOSED");
    const entries = items.map((item, i) => {
      const entry = this.devices.get(item.device) ?? this.devices.get(getAddress(item.device));
      if (!entry) throw new InvalidInputError(`device ${item.device} is not served by this agent`, { index: i });
      if (item.values.length === 0 || item.values.length > WIRE_MAX_VALUES || item.values.some((v) => v < INT64_MIN || v > INT64_MAX)) {
        this.refuse("bad_input", 1);
        throw new InvalidInputError(`a reading needs 1 to ${WIRE_MAX_VALUES} int64 values`, { index: i });
      }
      return entry;
    });
    let seqs: bigint[];
    try {
      seqs = this.store.reserve(entries.map((e) => e.address));
    } catch (error) {
      if (error instanceof OutboxFullError) this.refuse("outbox_full", items.length);
      throw error;
    }
    const timestamp = BigInt(Math.floor(this.clock()));
    const signed = entries.map((entry, i): SignedReading => {
      const reading: Reading = { device: entry.address, seq: seqs[i], timestamp, values: [...items[i].values] };
      return { ...reading, signature: signDigest(entry.privateKey, readingDigest(this.domain, reading)) };
    });
    this.store.append(signed.map((s) => ({ device: s.device, seq: s.seq, payload: decoder.decode(encodeWireReading(s)) })));
    this.counts.signed += signed.length;
    this.metrics.signed.inc(signed.length);
    this.metrics.outbox.set(this.store.outboxSize);
    this.pump();
    return signed;
  }

  private refuse(reason: string, n: number): void {
    this.counts.refused[reason] = (this.counts.refused[reason] ?? 0) + n;
    this.metrics.refused.inc({ reason }, n);
  }

  stats(): UplinkStats {
    return {
      connected: this.connected,
      signed: this.counts.signed,
      acked: this.counts.acked,
      outbox: this.store.outboxSize, // kept in memory: readable after close
      rejections: { ...this.counts.rejections },
      refused: { ...this.counts.refused },
    };
  }

  /** Resolves when the outbox is empty (every reading acknowledged); rejects after `timeoutMs`. */
  async drain(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.store.outboxSize > 0 || this.ackQueue.length > 0) {
      if (this.ackQueue.length > 0) this.flushAcks();
      if (this.store.outboxSize === 0) break;
      if (Date.now() > deadline)
        throw new TriadError(`${this.store.outboxSize} readings still in the outbox after ${timeoutMs} ms`, "DRAIN_TIMEOUT");
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.off("acked", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(250, Math.max(1, deadline - Date.now())));
        this.on("acked", done);
      });
    }
  }

  /** Resolves once connected (rejects after `timeoutMs`). */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected) {
      if (Date.now() > deadline) throw new TriadError(`not connected to ${this.options.mqttUrl} after ${timeoutMs} ms`, "NOT_CONNECTED");
      await sleep(20);
    }
  }

  /**
   * Stops: waits up to `drainMs` (default 0) for the outbox to empty, then disconnects and closes the state file.
   * Whatever is still in the outbox stays on disk and is sent by the next agent on the same state.
   */
  async close(options: { drainMs?: number } = {}): Promise<void> {
    if (options.drainMs && this.connected) await this.drain(options.drainMs).catch(() => undefined);
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    this.setConnected(false);
    this.generation++;
    if (client) await client.endAsync(true).catch(() => undefined);
    this.flushAcks();
    this.store.close();
  }

  // ---------------------------------------------------------------------------------------------- connection

  private connect(): void {
    if (this.closing) return;
    const generation = ++this.generation;
    const client = connect(this.options.mqttUrl, {
      protocolVersion: 4, // MQTT 3.1.1: every broker speaks it (aedes has no MQTT 5); override with options.mqtt
      connectTimeout: 5_000,
      keepalive: 30,
      ...this.options.mqtt,
      clientId: this.options.clientId,
      clean: true,
      reconnectPeriod: 0, // reconnection is ours: a new client per connection, the outbox is the only store
      resubscribe: false,
    });
    this.client = client;
    client.on("connect", () => {
      if (generation !== this.generation) return;
      this.flushAcks();
      this.backoff = this.options.reconnectMinMs ?? 250;
      this.lastSentId = 0; // resend the outbox from its oldest reading
      this.inflightCount = 0;
      this.sentAt.clear();
      this.setConnected(true);
      this.metrics.connects.inc();
      this.logger.info({ url: this.options.mqttUrl, outbox: this.store.outboxSize }, "connected to the broker");
      const topics = [...this.devices.values()].map((d) => d.rejectionsTopic);
      if (topics.length > 0) {
        client.subscribe(topics, { qos: 1 }, (error) => {
          if (error) this.logger.warn({ err: error.message }, "cannot subscribe to the rejections topics");
        });
      }
      this.emit("connected");
      this.pump();
    });
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
    client.on("error", (error) => {
      if (generation !== this.generation) return;
      this.logger.debug({ err: error.message }, "MQTT error");
    });
    client.on("close", () => {
      if (generation !== this.generation) return;
      const wasConnected = this.connected;
      this.setConnected(false);
      if (wasConnected) this.logger.warn({ outbox: this.store.outboxSize }, "disconnected from the broker: buffering");
      this.emit("disconnected");
      client.end(true);
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.reconnectMaxMs ?? 5_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private setConnected(value: boolean): void {
    this.connected = value;
    this.metrics.connected.set(value ? 1 : 0);
  }

  /** Publishes outbox rows after the last one sent, keeping at most `inflight` unacknowledged. */
  private pump(): void {
    const client = this.client;
    if (!this.connected || !client) return;
    const window = this.options.inflight ?? 256;
    const generation = this.generation;
    while (this.inflightCount < window) {
      const rows = this.store.pending(this.lastSentId, window - this.inflightCount);
      if (rows.length === 0) break;
      for (const row of rows) this.send(client, generation, row);
    }
  }

  private send(client: MqttClient, generation: number, row: OutboxRow): void {
    const entry = this.devices.get(row.device);
    this.lastSentId = row.id;
    if (!entry) {
      // A reading of a device this process does not serve (another fleet layout on the same state): keep it.
      return;
    }
    this.inflightCount++;
    this.sentAt.set(row.id, performance.now());
    client.publish(entry.topic, row.payload, { qos: 1 }, (error) => {
      if (generation !== this.generation) return; // that connection is gone; the row is sent again on the next one
      this.inflightCount--;
      const t0 = this.sentAt.get(row.id);
      this.sentAt.delete(row.id);
      if (error) {
        this.logger.debug({ err: error.message, seq: row.seq.toString() }, "publish failed");
        return;
      }
      if (t0 !== undefined) this.metrics.ackSeconds.observe((performance.now() - t0) / 1000);
      this.ackQueue.push(row.id);
      this.scheduleAckFlush();
      this.pump();
    });
  }

  private scheduleAckFlush(): void {
    if (this.ackFlushScheduled) return;
    this.ackFlushScheduled = true;
    setImmediate(() => {
      this.ackFlushScheduled = false;
      this.flushAcks();
    });
  }

  private flushAcks(): void {
    if (this.ackQueue.length === 0) return;
    const ids = this.ackQueue;
    this.ackQueue = [];
    this.store.remove(ids);
    this.counts.acked += ids.length;
    this.metrics.acked.inc(ids.length);
    this.metrics.outbox.set(this.store.outboxSize);
    this.emit("acked", ids.length);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const entry = this.byRejectionsTopic.get(topic);
    if (!entry) return;
    let rejection: ReceivedRejection;
    try {
      const obj = JSON.parse(payload.toString("utf8")) as { seq?: unknown; reason?: unknown; detail?: unknown };
      const reason =
        typeof obj.reason === "string" && (REJECTION_REASONS as readonly string[]).includes(obj.reason) ? obj.reason : "UNKNOWN";
      const seq = typeof obj.seq === "string" && /^\d{1,20}$/.test(obj.seq) ? BigInt(obj.seq) : undefined;
      rejection = { device: entry.address, seq, reason, detail: typeof obj.detail === "string" ? obj.detail.slice(0, 500) : "" };
    } catch {
      rejection = { device: entry.address, reason: "UNKNOWN", detail: "unreadable rejection message" };
    }
    this.counts.rejections[rejection.reason] = (this.counts.rejections[rejection.reason] ?? 0) + 1;
    this.metrics.rejections.inc({ reason: rejection.reason });
    this.logger.warn(
      { device: rejection.device, seq: rejection.seq?.toString(), reason: rejection.reason, detail: rejection.detail },
      "reading rejected by the gateway",
    );
    this.emit("rejection", rejection);
    this.options.onRejection?.(rejection);
  }
}

// ------------------------------------------------------------------------------------------------ one device

export interface DeviceAgentOptions {
  /** The device key (see keys.ts: key file, keystore). */
  key: DeviceWallet;
  chainId: bigint | number;
  registry: string;
  mqttUrl: string;
  /** Directory of the state file `device-<address>.sqlite`. */
  stateDir: string;
  clock?: Clock;
  logger?: Logger;
  metrics?: DeviceMetrics;
  maxOutbox?: number;
  inflight?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  mqtt?: Partial<IClientOptions>;
  clientId?: string;
  onRejection?: (rejection: ReceivedRejection) => void;
}

export interface RunResult {
  published: number;
  refused: number;
}

export interface DeviceAgent {
  readonly device: string;
  readonly domain: TypedDataDomain;
  readonly uplink: Uplink;
  readonly metrics: DeviceMetrics;
  /** The seq the next reading gets. */
  nextSeq(): bigint;
  /** Signs and queues one reading (see {@link Uplink.publishBatch}). */
  publish(values: readonly bigint[]): SignedReading;
  /**
   * Publishes every reading of `source` until it ends or `signal` aborts. A reading refused because the outbox is
   * full is counted and skipped (the readings already signed are kept); any other error ends the run.
   */
  run(source: ReadingSource, options?: { signal?: AbortSignal }): Promise<RunResult>;
  stats(): UplinkStats;
  waitConnected(timeoutMs?: number): Promise<void>;
  drain(timeoutMs?: number): Promise<void>;
  close(options?: { drainMs?: number }): Promise<void>;
}

/** The state file of `device` in `stateDir`. */
export function deviceStateFile(stateDir: string, device: string): string {
  return path.join(stateDir, `device-${getAddress(device).toLowerCase()}.sqlite`);
}

/** Opens the device's state, starts connecting to the broker (without waiting) and returns the agent. */
export function createDeviceAgent(options: DeviceAgentOptions): DeviceAgent {
  const device = getAddress(options.key.address);
  const uplink = new Uplink({
    chainId: options.chainId,
    registry: options.registry,
    mqttUrl: options.mqttUrl,
    stateFile: deviceStateFile(options.stateDir, device),
    clientId: options.clientId ?? `triad-${device.toLowerCase()}`,
    clock: options.clock,
    logger: options.logger?.child({ device }) ?? pino({ level: "info", base: { service: "triad-device", device } }),
    metrics: options.metrics,
    maxOutbox: options.maxOutbox,
    inflight: options.inflight,
    reconnectMinMs: options.reconnectMinMs,
    reconnectMaxMs: options.reconnectMaxMs,
    mqtt: options.mqtt,
    onRejection: options.onRejection,
  });
  try {
    uplink.addDevice(options.key);
  } catch (error) {
    uplink.store.close();
    throw error;
  }
  uplink.start();
  let fullLogged = 0;
  return {
    device,
    domain: uplink.domain,
    uplink,
    metrics: uplink.metrics,
    nextSeq: () => uplink.store.nextSeq(device),
    publish: (values) => uplink.publishBatch([{ device, values }])[0],
    async run(source, runOptions = {}) {
      const result: RunResult = { published: 0, refused: 0 };
      for await (const reading of source) {
        if (runOptions.signal?.aborted) break;
        try {
          uplink.publishBatch([{ device, values: reading.values }]);
          result.published++;
        } catch (error) {
          if (!(error instanceof OutboxFullError)) throw error;
          result.refused++;
          if (Date.now() - fullLogged > 10_000) {
            fullLogged = Date.now();
            uplink.logger.error({ outbox: error.size }, "outbox full: new readings are refused until the broker acknowledges some");
          }
        }
      }
      return result;
    },
    stats: () => uplink.stats(),
    waitConnected: (t) => uplink.waitConnected(t),
    drain: (t) => uplink.drain(t),
    close: (o) => uplink.close(o),
  };
}
