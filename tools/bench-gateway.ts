/**
 * `npx hardhat run tools/bench-gateway.ts`: the gateway part of `npm run bench` alone, on a fresh deployment —
 * verified and durably stored readings per second (embedded aedes, SQLite WAL synchronous=FULL) and publish → PUBACK
 * latency at a paced load (tools/lib/bench-gateway.ts says how). Prints the figures as JSON; writes nothing.
 *
 * Settings (environment): BENCH_GW_DEVICES (100), BENCH_GW_READINGS per device (200), BENCH_GW_INFLIGHT unacknowledged
 * publishes per device (50), BENCH_GW_LATENCY_DEVICES (1000, 1 reading/s each), BENCH_GW_LATENCY_SECONDS (30),
 * BENCH_GW_WARMUP_SECONDS (3), BENCH_GW_POSTGRES_MOSQUITTO (1; 0 skips that run); BENCH_GW_LATENCY_DEVICES=0 skips the
 * latency run.
 */
import { connection, deployTriad } from "@triad/devkit";
import { nativeRecovery } from "@triad/sdk/node";
import { GATEWAY_BENCH_DEFAULTS, measureGateway } from "./lib/bench-gateway.ts";
import { step } from "./lib/report.ts";

const env = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
};

const d = GATEWAY_BENCH_DEFAULTS;
const options = {
  devices: env("BENCH_GW_DEVICES", d.devices),
  readingsPerDevice: env("BENCH_GW_READINGS", d.readingsPerDevice),
  inflight: env("BENCH_GW_INFLIGHT", d.inflight),
  latencyDevices: env("BENCH_GW_LATENCY_DEVICES", d.latencyDevices),
  latencyWarmupSeconds: env("BENCH_GW_WARMUP_SECONDS", d.latencyWarmupSeconds),
  latencySeconds: env("BENCH_GW_LATENCY_SECONDS", d.latencySeconds),
  postgresMosquitto: env("BENCH_GW_POSTGRES_MOSQUITTO", 1) === 1,
};

step("Deploying the suite (Ignition) on the in-process Hardhat chain");
const suite = await deployTriad();
const [owner] = await connection.ethers.getSigners();
const { figures, detail } = await measureGateway({ registry: suite.registry.connect(owner), options, progress: step });
console.log(JSON.stringify({ gateway: figures, detail, nativeSecp256k1: nativeRecovery() }, null, 2));
console.log(
  `\ngateway: ${figures.readingsPerSecond} verified + durably stored readings/s (goal ≥ 10,000: ${figures.readingsPerSecond >= 10_000 ? "met" : "not met"}); ` +
    `publish → PUBACK at ${options.latencyDevices} readings/s: p50 ${figures.latencyP50Ms} ms, p99 ${figures.latencyP99Ms} ms (goal ≤ 50 ms: ${figures.latencyP99Ms <= 50 ? "met" : "not met"})`,
);
