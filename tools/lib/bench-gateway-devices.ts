/**
 * Worker thread of the gateway benchmark (./bench-gateway.ts): the simulated devices. One MQTT 3.1.1 connection per
 * device to the gateway's embedded broker, QoS 1 publishes of readings signed before the clock starts (handed over,
 * or signed here while the main thread does other set-up), and the time from writing each PUBLISH to reading its
 * PUBACK.
 *
 * It speaks the few packets it needs directly over TCP (CONNECT/CONNACK, PUBLISH QoS 1/PUBACK; no keep-alive, clean
 * session) with every PUBLISH encoded before the clock starts, instead of through mqtt.js: on a 2-core machine the
 * load generator shares the cores with the gateway it measures, and mqtt.js spends ~50 µs of CPU per publish where
 * this spends a few. What the gateway sees is the same: one connection per device, its readings in seq order.
 *
 * Modes:
 *  - burst: every device keeps `inflight` unacknowledged publishes in flight until all its readings are acknowledged
 *    (throughput: the gateway is never idle);
 *  - paced: every device publishes one reading every 1/`ratePerDevice` s, the devices' publishes spread evenly over
 *    each period (1,000 devices at 1/s: one publish every millisecond, not a burst a second) — latency at a given load.
 */
import { connect, type Socket } from "node:net";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { TypedDataDomain } from "ethers";
import { encodeWireReading, readingDigest, signDigest, telemetryToValues } from "@triad/sdk/node";

/** Readings a device signs: seq 1..count, `perSecond` readings per second of timestamps from `firstTimestamp`. */
export interface SigningSpec {
  privateKey: string;
  device: string;
  count: number;
  firstTimestamp: bigint;
  perSecond: number;
}

export interface DeviceJob {
  mode: { kind: "burst"; inflight: number } | { kind: "paced"; ratePerDevice: number };
  /** Each device's payloads, or what it signs itself (in the worker, before it connects). */
  devices: { clientId: string; topic: string; payloads?: Uint8Array[]; sign?: SigningSpec }[];
  /** The registry's EIP-712 domain (for `sign`). */
  domain?: TypedDataDomain;
}

/**
 * Worker protocol: the worker signs what it must, posts `signed`; on `{ connect: host, port }` it connects every
 * device and posts `ready`; on `go` it runs and posts `done` (or `failed` at any point).
 */
export type DeviceWorkerMessage =
  { kind: "signed" } | { kind: "ready" } | { kind: "done"; result: DeviceRunResult } | { kind: "failed"; error: string };

/** The wire payloads of `spec`'s readings (AI4I-shaped telemetry), signed with its key. */
export function signedPayloads(domain: TypedDataDomain, spec: SigningSpec): Uint8Array[] {
  return Array.from({ length: spec.count }, (_, i) => {
    const reading = {
      device: spec.device,
      seq: BigInt(i + 1),
      timestamp: spec.firstTimestamp + BigInt(Math.floor(i / spec.perSecond)),
      values: telemetryToValues({
        airTempK: 298 + (i % 30) / 10,
        processTempK: 308.5,
        rpm: 1500 + (i % 300),
        torqueNm: 40 + (i % 20),
        toolWearMin: i % 250,
        variant: "L",
      }),
    };
    return encodeWireReading({ ...reading, signature: signDigest(spec.privateKey, readingDigest(domain, reading)) });
  });
}

export interface DeviceRunResult {
  seconds: number;
  acknowledged: number;
  /** Publish → PUBACK, ms, in publish order per device (paced: the global publish order). */
  latenciesMs: Float64Array<ArrayBuffer>;
  /** For each latency: when its publish was written, ms after the start. */
  sentAtMs: Float64Array<ArrayBuffer>;
  /** CPU time of this worker thread during the run, ms. */
  cpuMs: number;
  /** Paced mode: how late the publishes were written against their schedule, ms (p99 and max). */
  lateP99Ms?: number;
  lateMaxMs?: number;
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId, "utf8");
  // Protocol "MQTT", level 4, flags: clean session; keep-alive 0 (off).
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

function publishPacket(topic: Buffer, packetId: number, payload: Uint8Array): Buffer {
  const length = 2 + topic.length + 2 + payload.length;
  const header = [0x32, ...remainingLength(length)]; // PUBLISH, QoS 1
  const out = Buffer.allocUnsafe(header.length + length);
  let at = 0;
  for (const b of header) out[at++] = b;
  out.writeUInt16BE(topic.length, at);
  at += 2;
  topic.copy(out, at);
  at += topic.length;
  out.writeUInt16BE(packetId, at);
  at += 2;
  out.set(payload, at);
  return out;
}

/** One device's connection: its pre-encoded publishes, and the PUBACKs it reads. */
class Device {
  readonly packets: Buffer[];
  /** performance.now() at which publish i was written. */
  readonly sentAt: Float64Array;
  readonly ackedAt: Float64Array;
  acked = 0;
  sent = 0;
  private socket!: Socket;
  private rest: Buffer = Buffer.alloc(0);
  private connected!: () => void;
  onAck: () => void = () => undefined;
  onFail: (error: Error) => void = () => undefined;

  constructor(
    readonly clientId: string,
    topic: string,
    payloads: Uint8Array[],
  ) {
    const t = Buffer.from(topic, "utf8");
    // Packet ids 1..65535, reused only after 65,535 publishes: far more than ever in flight.
    this.packets = payloads.map((p, i) => publishPacket(t, (i % 65535) + 1, p));
    this.sentAt = new Float64Array(payloads.length);
    this.ackedAt = new Float64Array(payloads.length);
  }

  open(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connected = resolve;
      this.socket = connect({ host, port, noDelay: true }, () => this.socket.write(connectPacket(this.clientId)));
      this.socket.on("data", (chunk: Buffer) => this.read(chunk));
      this.socket.on("error", (error) => {
        reject(error);
        this.onFail(error);
      });
      this.socket.on("close", () => {
        if (this.acked >= this.packets.length) return;
        const error = new Error(`${this.clientId}: the gateway closed the connection after ${this.acked} PUBACKs`);
        reject(error);
        this.onFail(error);
      });
    });
  }

  /** Writes the next `n` publishes in one write. */
  send(n: number): void {
    const end = Math.min(this.packets.length, this.sent + n);
    if (end <= this.sent) return;
    const now = performance.now();
    const chunk = end - this.sent === 1 ? this.packets[this.sent] : Buffer.concat(this.packets.slice(this.sent, end));
    for (let i = this.sent; i < end; i++) this.sentAt[i] = now;
    this.sent = end;
    this.socket.write(chunk);
  }

  private read(chunk: Buffer): void {
    let buf = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const now = performance.now();
    for (;;) {
      if (buf.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let at = 1;
      let complete = false;
      while (at < buf.length && at <= 4) {
        const byte = buf[at++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || buf.length < at + length) break;
      const type = buf[0] >> 4;
      if (type === 2) {
        if (buf[at + 1] !== 0) throw new Error(`${this.clientId}: CONNACK return code ${buf[at + 1]}`);
        this.connected();
      } else if (type === 4) {
        const packetId = buf.readUInt16BE(at);
        // PUBACKs of one connection come in publish order (the gateway stores and acknowledges in arrival order).
        const index = this.acked;
        if ((index % 65535) + 1 !== packetId) throw new Error(`${this.clientId}: PUBACK ${packetId} out of order`);
        this.ackedAt[index] = now;
        this.acked++;
        this.onAck();
      }
      buf = buf.subarray(at + length);
    }
    this.rest = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }

  close(): void {
    this.socket.end();
  }
}

const next = <T>(): Promise<T> => new Promise<T>((resolve) => parentPort!.once("message", resolve));

async function run(job: DeviceJob): Promise<DeviceRunResult> {
  const devices = job.devices.map((d) => new Device(d.clientId, d.topic, d.payloads ?? signedPayloads(job.domain!, d.sign!)));
  parentPort!.postMessage({ kind: "signed" });
  const { host, port } = await next<{ host: string; port: number }>();
  for (let i = 0; i < devices.length; i += 100) await Promise.all(devices.slice(i, i + 100).map((d) => d.open(host, port)));
  const total = devices.reduce((n, d) => n + d.packets.length, 0);
  parentPort!.postMessage({ kind: "ready" });
  await next<unknown>();

  const cpu0 = process.threadCpuUsage();
  const started = performance.now();
  let acknowledged = 0;
  let late: number[] = [];
  await new Promise<void>((resolve, reject) => {
    if (total === 0) return resolve();
    const mode = job.mode;
    for (const d of devices) {
      d.onAck = () => {
        if (++acknowledged === total) resolve();
        if (mode.kind === "burst") d.send(1);
      };
      d.onFail = reject;
    }
    if (mode.kind === "burst") {
      for (const d of devices) d.send(mode.inflight);
      return;
    }
    // Paced: publish k of device i is due at start + (k + i / K) / rate seconds.
    const K = devices.length;
    const periodMs = 1000 / mode.ratePerDevice;
    const slots = Math.max(...devices.map((d) => d.packets.length)) * K;
    let next = 0;
    const tick = () => {
      const due = (performance.now() - started) / periodMs; // in periods
      while (next < slots && next / K <= due) {
        const d = devices[next % K];
        const k = Math.floor(next / K);
        if (k < d.packets.length) {
          late.push((due - next / K) * periodMs);
          d.send(1);
        }
        next++;
      }
      if (next < slots) setTimeout(tick, 1);
    };
    tick();
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.threadCpuUsage(cpu0);
  for (const d of devices) {
    d.onFail = () => undefined;
    d.close();
  }

  const latencies: number[] = [];
  const sentAt: number[] = [];
  for (const d of devices)
    for (let i = 0; i < d.packets.length; i++) {
      latencies.push(d.ackedAt[i] - d.sentAt[i]);
      sentAt.push(d.sentAt[i] - started);
    }
  late = late.sort((a, b) => a - b);
  return {
    seconds,
    acknowledged,
    latenciesMs: Float64Array.from(latencies),
    sentAtMs: Float64Array.from(sentAt),
    cpuMs: (cpu.user + cpu.system) / 1000,
    ...(late.length > 0 ? { lateP99Ms: late[Math.floor(0.99 * (late.length - 1))], lateMaxMs: late[late.length - 1] } : {}),
  };
}

if (!isMainThread) {
  run(workerData as DeviceJob).then(
    (result) => parentPort!.postMessage({ kind: "done", result }, [result.latenciesMs.buffer, result.sentAtMs.buffer]),
    (error: unknown) => parentPort!.postMessage({ kind: "failed", error: error instanceof Error ? error.message : String(error) }),
  );
}
