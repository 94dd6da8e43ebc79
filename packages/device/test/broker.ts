/**
 * Test helpers: a real aedes broker served by node:net on 127.0.0.1 (stoppable and restartable on the same port),
 * and a raw mqtt.js subscriber collecting the signed readings of a chain.
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Aedes, type AedesOptions } from "aedes";
import { connect, type MqttClient } from "mqtt";
import { channelFilter, parseDeviceTopic, parseWireReading, type SignedReading } from "@triad/sdk";

export interface TestBroker {
  broker: Aedes;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startBroker(port = 0, options: AedesOptions = {}): Promise<TestBroker> {
  const broker = await Aedes.createBroker(options);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    broker,
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}

/** Restarts on `port`, retrying while the old listener is still releasing it. */
export async function restartBroker(port: number, options: AedesOptions = {}): Promise<TestBroker> {
  for (let i = 0; ; i++) {
    try {
      return await startBroker(port, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || i > 50) throw error;
      await sleep(50);
    }
  }
}

export interface Collector {
  client: MqttClient;
  readings: SignedReading[];
  /** Resolves when `n` readings were received in total. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A raw mqtt.js client subscribed (QoS 1) to every device's readings of `chainId`. */
export async function collectReadings(url: string, chainId: bigint): Promise<Collector> {
  const client = connect(url, { reconnectPeriod: 50, clientId: `collector-${Math.random().toString(16).slice(2)}` });
  const readings: SignedReading[] = [];
  client.on("message", (topic, payload) => {
    const parsed = parseDeviceTopic(topic);
    if (parsed?.channel === "readings") readings.push(parseWireReading(payload, parsed.device));
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => client.subscribe(channelFilter(chainId, "readings"), { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    client.once("error", reject);
  });
  return {
    client,
    readings,
    async waitFor(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (readings.length < n) {
        if (Date.now() > deadline) throw new Error(`received ${readings.length} readings, expected ${n}`);
        await sleep(10);
      }
    },
    close: () => client.endAsync(true),
  };
}

export async function until(condition: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
