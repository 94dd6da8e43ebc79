/**
 * The gateway part of the benchmark (`npm run bench`, and alone: `npx hardhat run tools/bench-gateway.ts`): the real
 * gateway as its own process (`triad-gateway run`: embedded aedes broker, verification workers, SQLite WAL
 * synchronous=FULL in a temp dir, its registry cache over HTTP against the in-process chain), and simulated devices
 * in a worker thread of this process (./bench-gateway-devices.ts: one MQTT connection per device, readings signed
 * before the clock starts). A process of its own, as in production: the gateway's heap is not Hardhat's (hundreds of
 * MB, whose garbage collection would be charged to the gateway and pause it).
 *
 *  1. throughput: K devices each keep INFLIGHT QoS 1 publishes in flight until N readings each are acknowledged;
 *     figure = readings acknowledged (each PUBACK only after its commit) / first publish → last PUBACK. Each device's
 *     first reading is sent and acknowledged before the clock starts (first sight: one registry lookup, and the
 *     verification workers loaded);
 *  2. latency: L devices publish 1 reading/s each, spread evenly over the second (L readings/s offered, paced), for
 *     a warm-up then S seconds; figure = publish → PUBACK percentiles of the S seconds;
 *  3. (optional) the throughput devices through Mosquitto into a gateway storing in PostgreSQL, counted at the gateway.
 * Every reading must be in the database at the end (else the run fails). The CPU each thread spent per reading is
 * reported too (Linux /proc): on a shared 2-core machine it says more than wall time about the gateway's cost.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { DeviceRegistry } from "@triad/contracts";
import { deviceRegistryDomain, deviceTopic, registerDevice } from "@triad/sdk/node";
import { defaultVerifyWorkers, SqliteReadingStore } from "@triad/gateway";
import { mapLimit } from "@triad/oracle";
import { jsonLines, ROOT, serveChainOverHttp, waitFor } from "@triad/devkit";
import { startMosquitto, startPostgres } from "@triad/devkit/services";
import { signedPayloads, type DeviceJob, type DeviceRunResult, type DeviceWorkerMessage } from "./bench-gateway-devices.ts";
import { benchDeviceKey } from "./bench-suite.ts";

export interface GatewayBenchOptions {
  /** Throughput run: devices, readings per device, unacknowledged publishes per device. */
  devices: number;
  readingsPerDevice: number;
  inflight: number;
  /** Latency run: devices (1 reading/s each), warm-up and measured seconds. */
  latencyDevices: number;
  latencyWarmupSeconds: number;
  latencySeconds: number;
  /** Also run the throughput devices through Mosquitto into a gateway on PostgreSQL (the services of @triad/devkit). */
  postgresMosquitto: boolean;
}

export const GATEWAY_BENCH_DEFAULTS: GatewayBenchOptions = {
  devices: 100,
  readingsPerDevice: 200,
  inflight: 50,
  latencyDevices: 1000,
  latencyWarmupSeconds: 3,
  latencySeconds: 30,
  postgresMosquitto: true,
};

/** bench/results.json `gateway`: the figures of the "Done when". */
export interface GatewayFigures {
  /** Verified + durably stored readings/s, embedded aedes + SQLite (WAL, synchronous=FULL). Goal ≥ 10,000. */
  readingsPerSecond: number;
  /** Publish → PUBACK at 1 reading/s from each of `latencyDevices` devices, paced. Goal p99 ≤ 50 ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  // ---- slot filled by the lead (null: not measured by this benchmark yet)
  /** Verified + stored readings/s with PostgreSQL and an external Mosquitto broker. */
  postgresMosquittoReadingsPerSecond: number | null;
  /** Gas of one fleet anchor (`DeviceRegistry.anchorFleet`) per anchoring interval, whatever the fleet size. */
  anchorGasPerInterval: number | null;
  /** That gas divided by the readings one interval anchors. */
  anchorGasPerReading: number | null;
}

/**
 * CPU time per reading, µs: the gateway process's ingest (main) thread, its other threads (verification workers, V8's
 * GC and compiler threads), the simulated devices' thread (null where /proc is not available).
 */
export interface CpuPerReading {
  gatewayMainUs: number;
  gatewayOtherThreadsUs: number;
  devicesUs: number;
}

export interface GatewayRunDetail {
  throughput: {
    devices: number;
    readingsPerDevice: number;
    inflightPerDevice: number;
    readings: number;
    seconds: number;
    publishToPubackMs: { p50: number; p99: number };
    meanReadingsPerTransaction: number;
    cpuPerReading: CpuPerReading | null;
  };
  latency: {
    devices: number;
    offeredPerSecond: number;
    warmupSeconds: number;
    seconds: number;
    readings: number;
    publishToPubackMs: { p50: number; p90: number; p99: number; max: number };
    /** How late the device worker wrote publishes against their schedule (the offered load's own jitter). */
    publishLateMs: { p99: number; max: number };
    meanReadingsPerTransaction: number;
    cpuPerReading: CpuPerReading | null;
  };
  /** The gateway's default (`defaultVerifyWorkers`) on this machine. */
  verifyWorkers: number;
  setupSeconds: number;
  cpus: number;
  /** The PostgreSQL + Mosquitto run (null when not run). */
  postgresMosquitto: { readings: number; seconds: number; readingsPerSecond: number } | null;
}

export interface GatewayBenchResult {
  figures: GatewayFigures;
  detail: GatewayRunDetail;
}

const round = (v: number, digits = 2) => Number(v.toFixed(digits));

function quantile(sorted: Float64Array | number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const perReading = (ms: number, readings: number) => round((ms * 1000) / readings, 1);

/** CPU time of a process (all threads) and of its main thread, ms, from /proc (Linux); null elsewhere. */
function processCpu(pid: number): { allMs: number; mainMs: number } | null {
  const ticks = (file: string) => {
    const stat = readFileSync(file, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (USER_HZ = 100)
  };
  try {
    const mainMs = ticks(`/proc/${pid}/task/${pid}/stat`) * 10;
    let allMs = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) allMs += ticks(`/proc/${pid}/task/${task}/stat`) * 10;
    return { allMs, mainMs };
  } catch {
    return null;
  }
}

/** `triad-gateway run` as a child process: its URLs once started, its /metrics, its CPU, a graceful stop. */
interface GatewayProcess {
  pid: number;
  mqttUrl: string;
  httpUrl: string;
  /** Prometheus samples by name (labels dropped, values of one name summed). */
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, "packages/gateway/bin/triad-gateway.js"), "run"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", TRIAD_GATEWAY_LOG_LEVEL: "info", TRIAD_GATEWAY_HTTP_HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let buffered = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    stdout.push(...lines);
  });
  child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const started = () => jsonLines(stdout).find((l) => l.msg === "gateway started");
  try {
    await waitFor(() => started() !== undefined || child.exitCode !== null, "the gateway to start", 120_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const line = started();
  if (!line) throw new Error(`the gateway did not start: ${stderr.join("") || stdout.slice(-5).join("\n")}`);
  const httpUrl = String(line.httpUrl);
  return {
    pid: child.pid!,
    mqttUrl: String(line.mqttUrl),
    httpUrl,
    async metrics() {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      const out = new Map<string, number>();
      for (const l of text.split("\n")) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? ([-+.\deE]+|NaN)$/.exec(l);
        if (m) out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]));
      }
      return out;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM"); // graceful: accepted readings reach their verdict, the database is closed
      const code = await exited;
      if (code !== 0) throw new Error(`the gateway exited with ${code}: ${stderr.join("").slice(-500)}`);
    },
  };
}

const STORED = "triad_gateway_readings_stored_total";
const BATCH_SUM = "triad_gateway_store_batch_readings_sum";
const BATCH_COUNT = "triad_gateway_store_batch_readings_count";

/** Drives `devices` against `gateway` (its embedded broker at host:port): their results, its CPU per reading, its commits. */
async function driveAgainst(gateway: GatewayProcess, devices: ReturnType<typeof startDevices>, host: string, port: number) {
  let cpu0: ReturnType<typeof processCpu> = null;
  const m0 = await gateway.metrics();
  const run = await devices.run(host, port, () => {
    cpu0 = processCpu(gateway.pid);
  });
  const cpu1 = processCpu(gateway.pid);
  const m1 = await gateway.metrics();
  const readings = run.result.acknowledged;
  const delta = (name: string) => (m1.get(name) ?? 0) - (m0.get(name) ?? 0);
  const c0 = cpu0 as ReturnType<typeof processCpu>;
  const cpuPerReading: CpuPerReading | null =
    c0 && cpu1
      ? {
          gatewayMainUs: perReading(cpu1.mainMs - c0.mainMs, readings),
          gatewayOtherThreadsUs: perReading(cpu1.allMs - c0.allMs - (cpu1.mainMs - c0.mainMs), readings),
          devicesUs: perReading(run.result.cpuMs, readings),
        }
      : null;
  return { result: run.result, cpuPerReading, meanReadingsPerTransaction: round(delta(BATCH_SUM) / Math.max(1, delta(BATCH_COUNT)), 1) };
}

/**
 * Starts the devices' worker on `job`. It signs what it must at once (on the other core, while this thread goes on
 * with the set-up); `run` connects the devices to host:port and drives them (`onStart` just before the first publish).
 */
function startDevices(job: DeviceJob): {
  run(host: string, port: number, onStart?: () => void): Promise<{ result: DeviceRunResult }>;
  stop(): Promise<number>;
} {
  const worker = new Worker(path.join(import.meta.dirname, "bench-gateway-devices.ts"), {
    workerData: job,
    execArgv: ["--import", import.meta.resolve("tsx")],
  });
  const failure = new Promise<never>((_, reject) => {
    worker.on("error", reject);
    worker.on("exit", (code) => reject(new Error(`the simulated devices' worker exited (${code})`)));
    worker.on("message", (m: DeviceWorkerMessage) => {
      if (m.kind === "failed") reject(new Error(`simulated devices: ${m.error}`));
    });
  });
  failure.catch(() => undefined); // seen by whoever waits
  const waitFor = <K extends DeviceWorkerMessage["kind"]>(kind: K) =>
    Promise.race([
      new Promise<Extract<DeviceWorkerMessage, { kind: K }>>((resolve) => {
        const on = (m: DeviceWorkerMessage) => {
          if (m.kind !== kind) return;
          worker.off("message", on);
          resolve(m as Extract<DeviceWorkerMessage, { kind: K }>);
        };
        worker.on("message", on);
      }),
      failure,
    ]);
  const signed = waitFor("signed");
  return {
    async run(host, port, onStart = () => undefined) {
      await signed;
      const ready = waitFor("ready");
      worker.postMessage({ host, port });
      await ready;
      onStart();
      const done = waitFor("done");
      worker.postMessage("go");
      return { result: (await done).result };
    },
    stop: () => worker.terminate(),
  };
}

/**
 * The anchoring slots from the gas part's `anchorFleet` figure (one transaction per interval, whatever the fleet): per
 * interval as measured, per reading for a fleet of `devices` devices at 1 reading/s anchored every `intervalSeconds`
 * (the gateway's default interval is 60 s).
 */
export function withAnchorGas(
  figures: GatewayFigures,
  anchorFleetGas: number | undefined,
  devices: number,
  intervalSeconds = 60,
): GatewayFigures {
  if (anchorFleetGas === undefined) return figures;
  return {
    ...figures,
    anchorGasPerInterval: anchorFleetGas,
    anchorGasPerReading: round(anchorFleetGas / (devices * intervalSeconds), 3),
  };
}

/**
 * Registers the benchmark's devices with `registry` (connected to their owner), runs the measurements against fresh
 * gateway processes and returns the figures. `progress` prints a line per step.
 */
export async function measureGateway(args: {
  registry: DeviceRegistry;
  options: GatewayBenchOptions;
  progress: (message: string) => void;
}): Promise<GatewayBenchResult> {
  const { registry, options: o, progress } = args;
  const t0 = Date.now();
  const registryAddress = await registry.getAddress();
  const chainId = (await registry.runner!.provider!.getNetwork()).chainId;
  const domain = deviceRegistryDomain(chainId, registryAddress);
  const throughputKeys = Array.from({ length: o.devices }, (_, i) => benchDeviceKey("gateway-throughput", i));
  const latencyKeys = Array.from({ length: o.latencyDevices }, (_, i) => benchDeviceKey("gateway-latency", i));
  const now = BigInt(Math.floor(Date.now() / 1000));
  const latencyPerDevice = o.latencyWarmupSeconds + o.latencySeconds;
  // The latency devices sign their readings in their own thread while this one registers every device and signs the
  // throughput readings.
  const latencyDevices = startDevices({
    mode: { kind: "paced", ratePerDevice: 1 },
    domain,
    devices: latencyKeys.map((key, d) => ({
      clientId: `bench-lat-${d}`,
      topic: deviceTopic(chainId, key.address, "readings"),
      sign: { privateKey: key.privateKey, device: key.address, count: latencyPerDevice, firstTimestamp: now + 60n, perSecond: 1 },
    })),
  });
  const rpc = await serveChainOverHttp();
  const dir = mkdtempSync(path.join(os.tmpdir(), "triad-bench-gateway-"));
  let gateway: GatewayProcess | undefined;
  try {
    await mapLimit([...throughputKeys, ...latencyKeys], 16, (deviceKey) =>
      registerDevice(registry, { deviceKey, validForSeconds: 86_400 }),
    );
    progress(`gateway: ${throughputKeys.length + latencyKeys.length} devices registered`);
    // Reading 1 of each throughput device is its warm-up; readings 2..N+1 are measured.
    const throughputPayloads = throughputKeys.map((key) =>
      signedPayloads(domain, {
        privateKey: key.privateKey,
        device: key.address,
        count: o.readingsPerDevice + 1,
        firstTimestamp: now,
        perSecond: 10,
      }),
    );
    const throughputJob = (from: number, to: number, tag: string) =>
      throughputKeys.map((key, d) => ({
        clientId: `bench-${tag}-${d}`,
        topic: deviceTopic(chainId, key.address, "readings"),
        payloads: throughputPayloads[d].slice(from, to),
      }));
    progress(`gateway: ${o.devices * (o.readingsPerDevice + 1)} throughput readings signed`);

    const dbFile = path.join(dir, "bench.sqlite");
    gateway = await startGatewayProcess({
      TRIAD_GATEWAY_RPC_URL: rpc.url,
      TRIAD_GATEWAY_REGISTRY_ADDRESS: registryAddress,
      TRIAD_GATEWAY_MQTT_HOST: "127.0.0.1",
      TRIAD_GATEWAY_MQTT_PORT: "0",
      TRIAD_GATEWAY_HTTP_PORT: "0",
      TRIAD_GATEWAY_DATABASE_URL: `sqlite:${dbFile}`,
      TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: "3600",
    });
    const broker = new URL(gateway.mqttUrl);
    const warm = startDevices({ mode: { kind: "burst", inflight: 1 }, devices: throughputJob(0, 1, "warm") });
    await warm.run(broker.hostname, Number(broker.port)).finally(() => warm.stop());
    const setupSeconds = round((Date.now() - t0) / 1000, 1);

    progress(`gateway: throughput — ${o.devices} devices × ${o.readingsPerDevice} readings, ${o.inflight} in flight each`);
    const throughputDevices = startDevices({
      mode: { kind: "burst", inflight: o.inflight },
      devices: throughputJob(1, o.readingsPerDevice + 1, "tput"),
    });
    const tput = await driveAgainst(gateway, throughputDevices, broker.hostname, Number(broker.port)).finally(() =>
      throughputDevices.stop(),
    );
    const tputReadings = tput.result.acknowledged;
    const tputSorted = tput.result.latenciesMs.slice().sort();
    const readingsPerSecond = Math.round(tputReadings / tput.result.seconds);
    progress(
      `gateway: ${readingsPerSecond} readings/s verified and durably stored (${tputReadings} in ${tput.result.seconds.toFixed(2)} s)`,
    );

    progress(
      `gateway: latency — ${o.latencyDevices} devices × 1 reading/s, paced, ${o.latencyWarmupSeconds} s warm-up + ${o.latencySeconds} s measured`,
    );
    const lat = await driveAgainst(gateway, latencyDevices, broker.hostname, Number(broker.port));
    const measured: number[] = [];
    for (let i = 0; i < lat.result.latenciesMs.length; i++)
      if (lat.result.sentAtMs[i] >= o.latencyWarmupSeconds * 1000) measured.push(lat.result.latenciesMs[i]);
    measured.sort((a, b) => a - b);
    progress(
      `gateway: publish → PUBACK p50 ${quantile(measured, 0.5).toFixed(1)} ms, p99 ${quantile(measured, 0.99).toFixed(1)} ms at ${o.latencyDevices} readings/s`,
    );

    await gateway.stop();
    const store = SqliteReadingStore.open(dbFile);
    const { readings: inDb } = await store.counts().finally(() => store.close());
    const expected = o.devices * (o.readingsPerDevice + 1) + o.latencyDevices * latencyPerDevice;
    if (inDb !== expected) throw new Error(`gateway bench: expected ${expected} stored readings, the database has ${inDb}`);

    const result: GatewayBenchResult = {
      figures: {
        readingsPerSecond,
        latencyP50Ms: round(quantile(measured, 0.5)),
        latencyP99Ms: round(quantile(measured, 0.99)),
        postgresMosquittoReadingsPerSecond: null,
        anchorGasPerInterval: null,
        anchorGasPerReading: null,
      },
      detail: {
        throughput: {
          devices: o.devices,
          readingsPerDevice: o.readingsPerDevice,
          inflightPerDevice: o.inflight,
          readings: tputReadings,
          seconds: round(tput.result.seconds, 3),
          publishToPubackMs: { p50: round(quantile(tputSorted, 0.5)), p99: round(quantile(tputSorted, 0.99)) },
          meanReadingsPerTransaction: tput.meanReadingsPerTransaction,
          cpuPerReading: tput.cpuPerReading,
        },
        latency: {
          devices: o.latencyDevices,
          offeredPerSecond: o.latencyDevices,
          warmupSeconds: o.latencyWarmupSeconds,
          seconds: o.latencySeconds,
          readings: measured.length,
          publishToPubackMs: {
            p50: round(quantile(measured, 0.5)),
            p90: round(quantile(measured, 0.9)),
            p99: round(quantile(measured, 0.99)),
            max: round(quantile(measured, 1)),
          },
          publishLateMs: { p99: round(lat.result.lateP99Ms ?? 0), max: round(lat.result.lateMaxMs ?? 0) },
          meanReadingsPerTransaction: lat.meanReadingsPerTransaction,
          cpuPerReading: lat.cpuPerReading,
        },
        verifyWorkers: defaultVerifyWorkers(),
        setupSeconds,
        cpus: os.cpus().length,
        postgresMosquitto: null,
      },
    };
    if (o.postgresMosquitto) {
      progress(`gateway: PostgreSQL + Mosquitto — the same ${o.devices} devices × ${o.readingsPerDevice} readings through the broker`);
      const external = await measurePostgresMosquitto({
        rpcUrl: rpc.url,
        registryAddress,
        warmJob: throughputJob(0, 1, "pg-warm"),
        job: throughputJob(1, o.readingsPerDevice + 1, "pg"),
      });
      progress(`gateway: ${external.readingsPerSecond} readings/s verified and stored with PostgreSQL + Mosquitto`);
      result.figures.postgresMosquittoReadingsPerSecond = external.readingsPerSecond;
      result.detail.postgresMosquitto = external;
    }
    return result;
  } finally {
    await latencyDevices.stop();
    await gateway?.stop().catch(() => undefined);
    await rpc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The throughput devices again, through a Mosquitto broker to a gateway subscribed to it (MQTT 5 shared subscription)
 * that stores in PostgreSQL. The devices' PUBACKs come from Mosquitto, so the figure is counted at the gateway:
 * readings stored / (first publish → the last one committed).
 */
async function measurePostgresMosquitto(args: {
  rpcUrl: string;
  registryAddress: string;
  warmJob: DeviceJob["devices"];
  job: DeviceJob["devices"];
}): Promise<{ readingsPerSecond: number; seconds: number; readings: number }> {
  const [pg, broker] = await Promise.all([startPostgres(), startMosquitto()]);
  let gateway: GatewayProcess | undefined;
  try {
    gateway = await startGatewayProcess({
      TRIAD_GATEWAY_RPC_URL: args.rpcUrl,
      TRIAD_GATEWAY_REGISTRY_ADDRESS: args.registryAddress,
      TRIAD_GATEWAY_MQTT_URL: broker.url,
      TRIAD_GATEWAY_MQTT_CLIENT_ID: "bench-gateway",
      TRIAD_GATEWAY_HTTP_PORT: "0",
      TRIAD_GATEWAY_DATABASE_URL: pg.url,
      TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: "3600",
    });
    const url = new URL(broker.url);
    const stored = async () => (await gateway!.metrics()).get(STORED) ?? 0;
    const storedAll = async (count: number, what: string) => {
      await waitFor(async () => (await stored()) >= count, what, 300_000);
    };
    const warm = startDevices({ mode: { kind: "burst", inflight: 1 }, devices: args.warmJob });
    await warm.run(url.hostname, Number(url.port)).finally(() => warm.stop());
    await storedAll(args.warmJob.length, "the warm-up readings stored in PostgreSQL");
    const base = await stored();
    const total = args.job.reduce((n, d) => n + d.payloads!.length, 0);
    let started = 0;
    const devices = startDevices({ mode: { kind: "burst", inflight: 50 }, devices: args.job });
    await devices
      .run(url.hostname, Number(url.port), () => {
        started = performance.now();
      })
      .finally(() => devices.stop());
    await storedAll(base + total, "every reading stored in PostgreSQL");
    const seconds = (performance.now() - started) / 1000;
    return { readingsPerSecond: Math.round(total / seconds), seconds: round(seconds, 3), readings: total };
  } finally {
    await gateway?.stop().catch(() => undefined);
    await broker.stop();
    await pg.stop();
  }
}
