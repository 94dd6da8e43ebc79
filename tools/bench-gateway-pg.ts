/**
 * `npx hardhat run tools/bench-gateway-pg.ts`: a quick measure of the gateway on PostgreSQL + Mosquitto (MQTT 5
 * shared subscription) — readings per second verified and durably stored in PostgreSQL (synchronous_commit=on, fsync
 * on) with one gateway, then two gateways sharing the database and the share group. Private PostgreSQL and Mosquitto
 * instances come from @triad/devkit/services; the gateways run in this process, the devices (mqtt.js, MQTT 3.1.1,
 * QoS 1) in a worker thread, with their readings signed before the clock starts. `npm run bench` holds the official
 * gateway figures; this one is for the PostgreSQL path.
 *
 * With Mosquitto in between, a device's PUBACK comes from the broker, not from the gateway's commit, so the clock
 * stops when every reading has its verdict: stored (the gateways' onStored) or refused (a message on the device's
 * rejections topic). Two modes:
 *  - rounds (default): every device publishes one reading, and the next round starts when all of them have their
 *    verdict — one reading in flight per device, as a fleet of devices publishing every few seconds;
 *  - burst: every device keeps BENCH_PG_INFLIGHT readings in flight (throughput with a backlog; across two gateways
 *    readings of one device can overtake each other, and the overtaken are refused SEQ_NOT_INCREASING: printed).
 *
 * Settings (environment): BENCH_PG_DEVICES (200), BENCH_PG_READINGS per device (50), BENCH_PG_MODE (rounds | burst),
 * BENCH_PG_INFLIGHT (20, burst), BENCH_PG_GATEWAYS ("1,2"), BENCH_PG_LOG (the gateways' log level on stderr: silent).
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

interface Job {
  url: string;
  mode: "rounds" | "burst";
  inflight: number;
  devices: { topic: string; payloads: Uint8Array[] }[];
}

/** The worker: one MQTT connection per device; publishes on the main thread's cue. */
async function devicesWorker(job: Job): Promise<void> {
  const mqtt = (await import("mqtt")).default;
  const clients = await Promise.all(job.devices.map(() => mqtt.connectAsync(job.url, { protocolVersion: 4, reconnectPeriod: 0 })));
  const port = parentPort!;
  port.postMessage({ kind: "ready" });
  const rounds = job.devices[0].payloads.length;
  const next = () => new Promise<void>((r) => port.once("message", () => r()));
  await next();
  if (job.mode === "rounds") {
    for (let round = 0; round < rounds; round++) {
      await Promise.all(job.devices.map((d, i) => clients[i].publishAsync(d.topic, Buffer.from(d.payloads[round]), { qos: 1 })));
      port.postMessage({ kind: "published", round });
      await next();
    }
  } else {
    await Promise.all(
      job.devices.map(async (d, i) => {
        let at = 0;
        const lane = async () => {
          while (at < d.payloads.length) await clients[i].publishAsync(d.topic, Buffer.from(d.payloads[at++]), { qos: 1 });
        };
        await Promise.all(Array.from({ length: Math.min(job.inflight, d.payloads.length) }, lane));
      }),
    );
    port.postMessage({ kind: "published", round: rounds - 1 });
  }
  await Promise.all(clients.map((c) => c.endAsync()));
  port.postMessage({ kind: "done" });
}

async function main(): Promise<void> {
  const { Wallet } = await import("ethers");
  const mqtt = (await import("mqtt")).default;
  const pino = (await import("pino")).default;
  const { connection, deployTriad, serveChainOverHttp } = await import("@triad/devkit");
  const { startMosquitto, startPostgres } = await import("@triad/devkit/services");
  const { deviceRegistryDomain, deviceTopic, encodeWireReading, readingDigest, registerDevice, signDigest, telemetryToValues } =
    await import("@triad/sdk");
  const { parseConfig, startGateway } = await import("@triad/gateway");
  const { step } = await import("./lib/report.ts");

  const env = (name: string, fallback: string) => process.env[name] || fallback;
  const K = Number(env("BENCH_PG_DEVICES", "200"));
  const N = Number(env("BENCH_PG_READINGS", "50"));
  const mode = env("BENCH_PG_MODE", "rounds") as Job["mode"];
  const inflight = Number(env("BENCH_PG_INFLIGHT", "20"));
  const gatewayCounts = env("BENCH_PG_GATEWAYS", "1,2").split(",").map(Number);
  const logLevel = env("BENCH_PG_LOG", "silent");
  if (!["rounds", "burst"].includes(mode)) throw new Error(`BENCH_PG_MODE must be rounds or burst, got "${mode}"`);

  step("Deploying the suite, starting PostgreSQL and Mosquitto");
  const [pg, broker] = await Promise.all([startPostgres(), startMosquitto()]);
  const suite = await deployTriad();
  const [owner] = await connection.ethers.getSigners();
  const registry = await suite.registry.getAddress();
  const chainId = (await connection.ethers.provider.getNetwork()).chainId;
  const domain = deviceRegistryDomain(chainId, registry);
  const rpc = await serveChainOverHttp();
  const results: Record<string, unknown>[] = [];
  try {
    for (const count of gatewayCounts) {
      step(`Registering ${K} devices and signing ${K * N} readings`);
      const keys = Array.from({ length: K }, () => new Wallet(Wallet.createRandom().privateKey));
      for (const deviceKey of keys) await registerDevice(suite.registry.connect(owner), { deviceKey });
      const now = BigInt(Math.floor(Date.now() / 1000));
      const devices = keys.map((key) => ({
        topic: deviceTopic(chainId, key.address, "readings"),
        payloads: Array.from({ length: N }, (_, i) => {
          const reading = {
            device: key.address,
            seq: BigInt(i + 1),
            timestamp: now,
            values: telemetryToValues({ airTempK: 298.1, processTempK: 308.6, rpm: 1500 + i, torqueNm: 40, toolWearMin: i, variant: "M" }),
          };
          return encodeWireReading({ ...reading, signature: signDigest(key.privateKey, readingDigest(domain, reading)) });
        }),
      }));

      step(`${count} gateway(s) on PostgreSQL + Mosquitto, ${K} devices × ${N} readings, ${mode}`);
      const url = await pg.createDatabase();
      const share = `bench${count}`;
      const gateways = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          startGateway(
            parseConfig({
              TRIAD_GATEWAY_RPC_URL: rpc.url,
              TRIAD_GATEWAY_REGISTRY_ADDRESS: registry,
              TRIAD_GATEWAY_MQTT_URL: broker.url,
              TRIAD_GATEWAY_MQTT_SHARE_GROUP: share,
              TRIAD_GATEWAY_MQTT_CLIENT_ID: `${share}-${i}`,
              TRIAD_GATEWAY_DATABASE_URL: url,
              TRIAD_GATEWAY_HTTP_PORT: "0",
            }),
            { logger: pino({ level: logLevel, base: { gateway: i } }, pino.destination(2)) },
          ),
        ),
      );
      const storedBy = gateways.map(() => 0);
      let stored = 0;
      gateways.forEach((gw, i) =>
        gw.pipeline.onStored((readings) => {
          storedBy[i] += readings.length;
          stored += readings.length;
        }),
      );
      const refused: Record<string, number> = {};
      let rejected = 0;
      const listener = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
      listener.on("message", (_t, message) => {
        const reason = (JSON.parse(message.toString("utf8")) as { reason: string }).reason;
        refused[reason] = (refused[reason] ?? 0) + 1;
        rejected++;
      });
      await listener.subscribeAsync(`triad/v1/${chainId}/+/rejections`, { qos: 1 });

      const worker = new Worker(new URL(import.meta.url), {
        workerData: { url: broker.url, mode, inflight, devices } satisfies Job,
        execArgv: ["--import", "tsx"],
      });
      const messages: { kind: string; round?: number }[] = [];
      let wake: (() => void) | undefined;
      worker.on("message", (m: { kind: string }) => {
        messages.push(m);
        wake?.();
      });
      worker.on("error", (e) => {
        throw e;
      });
      const nextMessage = async (kind: string) => {
        for (;;) {
          const i = messages.findIndex((m) => m.kind === kind);
          if (i >= 0) return messages.splice(i, 1)[0];
          await new Promise<void>((r) => (wake = r));
        }
      };
      const verdicts = async (n: number) => {
        while (stored + rejected < n) await new Promise((r) => setTimeout(r, 2));
      };
      await nextMessage("ready");
      const started = performance.now();
      worker.postMessage("go");
      if (mode === "rounds") {
        for (let round = 0; round < N; round++) {
          await nextMessage("published");
          await verdicts(K * (round + 1));
          worker.postMessage("go");
        }
      } else {
        await nextMessage("published");
        await verdicts(K * N);
      }
      const seconds = (performance.now() - started) / 1000;
      await nextMessage("done");
      await worker.terminate();
      const rows = Number(await pg.sql("SELECT count(*) FROM readings", new URL(url).pathname.slice(1)));
      // messages per store transaction and seconds per transaction, over all gateways (the group commits)
      const histogram = async (h: { get(): Promise<{ values: { metricName?: string; value: number }[] }> }) => {
        const values = (await h.get()).values;
        const of = (suffix: string) => values.filter((v) => v.metricName?.endsWith(suffix)).reduce((n, v) => n + v.value, 0);
        return { sum: of("_sum"), count: of("_count") };
      };
      let batches = 0;
      let decided = 0;
      let storeSeconds = 0;
      for (const gw of gateways) {
        const b = await histogram(gw.metrics.batchSize);
        batches += b.count;
        decided += b.sum;
        storeSeconds += (await histogram(gw.metrics.storeSeconds)).sum;
      }
      const result = {
        gateways: count,
        mode,
        devices: K,
        readingsPerDevice: N,
        seconds: Number(seconds.toFixed(2)),
        storedPerSecond: Math.round(stored / seconds),
        stored,
        rowsInDatabase: rows,
        storedByGateway: storedBy,
        refused,
        transactions: batches,
        messagesPerTransaction: Number((decided / Math.max(1, batches)).toFixed(2)),
        msPerTransaction: Number(((storeSeconds * 1000) / Math.max(1, batches)).toFixed(2)),
      };
      results.push(result);
      console.log(JSON.stringify(result));
      await listener.endAsync();
      for (const gw of gateways) await gw.stop();
    }
  } finally {
    await rpc.close();
    await broker.stop();
    await pg.stop();
  }
  console.log(
    "\n" +
      results
        .map(
          (r) =>
            `${r.gateways} gateway(s), ${r.mode}: ${r.storedPerSecond} readings/s stored in PostgreSQL (${r.stored} in ${r.seconds} s)`,
        )
        .join("\n"),
  );
}

if (isMainThread) await main();
else await devicesWorker(workerData as Job);
