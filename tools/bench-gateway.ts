/**
 * `npx hardhat run tools/bench-gateway.ts`: gateway throughput on this machine — verified and durably stored
 * readings per second from K simulated devices publishing signed AI4I readings with QoS 1 to the embedded broker.
 *
 * The devices run in a worker thread (their MQTT clients and publishing must not share the gateway's event loop);
 * their readings are signed before the clock starts. The gateway runs in this process against the in-process
 * Hardhat chain (served over HTTP: only first-sight registry lookups use it) with a SQLite file in a temp dir (WAL,
 * synchronous=FULL). The figure: readings acknowledged (each PUBACK only after its commit) / wall time from the first
 * publish to the last PUBACK. Also prints the store transaction batch sizes and the publish → PUBACK latency.
 *
 * Settings (environment): BENCH_GW_DEVICES (100), BENCH_GW_READINGS per device (200), BENCH_GW_INFLIGHT unacked
 * publishes per device (50).
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

interface Job {
  url: string;
  inflight: number;
  devices: { clientId: string; topic: string; payloads: Uint8Array[] }[];
}

async function publisher(job: Job): Promise<void> {
  const mqtt = (await import("mqtt")).default;
  const clients = await Promise.all(
    job.devices.map((d) => mqtt.connectAsync(job.url, { clientId: d.clientId, protocolVersion: 4, reconnectPeriod: 0 })),
  );
  parentPort!.postMessage({ kind: "ready" });
  await new Promise<void>((r) => parentPort!.once("message", () => r()));
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    job.devices.map(async (d, i) => {
      let next = 0;
      const lane = async () => {
        while (next < d.payloads.length) {
          const body = Buffer.from(d.payloads[next++]);
          const t = performance.now();
          await clients[i].publishAsync(d.topic, body, { qos: 1 });
          latencies.push(performance.now() - t);
        }
      };
      // In-order per device: QoS 1 publishes of one connection are handled in order by the broker.
      await Promise.all(Array.from({ length: Math.min(job.inflight, d.payloads.length) }, lane));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  parentPort!.postMessage({ kind: "done", seconds, acked: latencies.length, p50: q(0.5), p99: q(0.99) });
}

async function main(): Promise<void> {
  const path = (await import("node:path")).default;
  const os = (await import("node:os")).default;
  const { mkdtempSync } = await import("node:fs");
  const { Wallet } = await import("ethers");
  const pino = (await import("pino")).default;
  const { connection, deployTriad, serveChainOverHttp } = await import("@triad/devkit");
  const { deviceRegistryDomain, deviceTopic, encodeWireReading, readingDigest, registerDevice, signDigest, telemetryToValues } =
    await import("@triad/sdk");
  const { nativeRecovery } = await import("@triad/sdk/node");
  const { parseConfig, startGateway, counterValue } = await import("@triad/gateway");

  const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
  const K = env("BENCH_GW_DEVICES", 100);
  const N = env("BENCH_GW_READINGS", 200);
  const INFLIGHT = env("BENCH_GW_INFLIGHT", 50);

  const suite = await deployTriad();
  const [owner] = await connection.ethers.getSigners();
  const registry = await suite.registry.getAddress();
  const chainId = (await connection.ethers.provider.getNetwork()).chainId;
  const domain = deviceRegistryDomain(chainId, registry);
  const keys = Array.from({ length: K }, () => new Wallet(Wallet.createRandom().privateKey));
  console.log(`registering ${K} devices…`);
  for (const deviceKey of keys) await registerDevice(suite.registry.connect(owner), { deviceKey });

  console.log(`signing ${K * N} readings…`);
  const now = BigInt(Math.floor(Date.now() / 1000));
  const job: Job = {
    url: "",
    inflight: INFLIGHT,
    devices: keys.map((key, d) => ({
      clientId: `bench-${d}`,
      topic: deviceTopic(chainId, key.address, "readings"),
      payloads: Array.from({ length: N }, (_, i) => {
        const reading = {
          device: key.address,
          seq: BigInt(i + 1),
          timestamp: now + BigInt(Math.floor(i / 10)),
          values: telemetryToValues({
            airTempK: 298 + (i % 30) / 10,
            processTempK: 308.5,
            rpm: 1500 + (i % 300),
            torqueNm: 40 + (i % 20),
            toolWearMin: i % 250,
            variant: "L",
          }),
        };
        return encodeWireReading({ ...reading, signature: signDigest(key.privateKey, readingDigest(domain, reading)) });
      }),
    })),
  };

  const rpc = await serveChainOverHttp();
  const dir = mkdtempSync(path.join(os.tmpdir(), "triad-bench-gateway-"));
  const gateway = await startGateway(
    parseConfig({
      TRIAD_GATEWAY_RPC_URL: rpc.url,
      TRIAD_GATEWAY_REGISTRY_ADDRESS: registry,
      TRIAD_GATEWAY_MQTT_PORT: "0",
      TRIAD_GATEWAY_HTTP_PORT: "0",
      TRIAD_GATEWAY_DATABASE_URL: `sqlite:${path.join(dir, "bench.sqlite")}`,
      TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: "3600",
    }),
    { logger: pino({ level: "warn" }) },
  );
  // First sight of each device (one registry lookup each) is not what is measured: warm the cache.
  await Promise.all(keys.map((k) => gateway.registry.lookup(k.address)));
  job.url = gateway.mqttUrl;

  const worker = new Worker(new URL(import.meta.url), { workerData: job, execArgv: ["--import", "tsx"] });
  const result = await new Promise<{ seconds: number; acked: number; p50: number; p99: number }>((resolve, reject) => {
    worker.on("message", (m: { kind: string }) => {
      if (m.kind === "ready") worker.postMessage("go");
      else resolve(m as never);
    });
    worker.on("error", reject);
  });
  await worker.terminate();
  const stored = await counterValue(gateway.metrics.stored);
  const rejected = await counterValue(gateway.metrics.rejected);
  const batches = await gateway.metrics.batchSize.get();
  const sum = batches.values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
  const count = batches.values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 1;
  const { readings } = await gateway.store.counts();
  await gateway.stop();
  await rpc.close();

  const rate = result.acked / result.seconds;
  console.log(
    JSON.stringify(
      {
        gateway: {
          devices: K,
          readingsPerDevice: N,
          inflightPerDevice: INFLIGHT,
          acknowledged: result.acked,
          storedInDb: readings,
          stored,
          rejected,
          seconds: Number(result.seconds.toFixed(3)),
          verifiedStoredPerSecond: Math.round(rate),
          publishToPubackMs: { p50: Number(result.p50.toFixed(2)), p99: Number(result.p99.toFixed(2)) },
          meanReadingsPerTransaction: Number((sum / count).toFixed(1)),
          nativeSecp256k1: nativeRecovery(),
          cpus: os.cpus().length,
        },
      },
      null,
      2,
    ),
  );
  console.log(
    `\ngateway: ${Math.round(rate)} verified + durably stored readings/s (${result.acked} readings from ${K} devices in ${result.seconds.toFixed(2)} s; embedded aedes, SQLite WAL synchronous=FULL)`,
  );
  if (readings !== K * N || stored !== K * N)
    throw new Error(`expected ${K * N} stored readings, got ${readings} in the database (${stored} counted)`);
}

if (isMainThread) {
  await main();
} else {
  await publisher(workerData as Job);
}
