/**
 * `npm run bench` (`hardhat run tools/bench.ts`): the benchmark (not a test). On Hardhat's in-process chain it
 * measures
 *   1. gas per operation (whole-transaction gasUsed from receipts), through the SDK actions, on the Ignition
 *      deployment (`deployTriad`) plus a parametric product;
 *   2. oracle throughput and latency of one daemon (a 1-of-1 committee) on BENCH_CLAIMS claims;
 *   3. the same with a 2-of-3 committee, three daemons (same claims: the chain is reverted to a snapshot);
 *   4. the gateway: verified + durably stored readings/s (embedded aedes, SQLite) and publish → PUBACK latency at
 *      1,000 readings/s from 1,000 paced devices (tools/lib/bench-gateway.ts);
 * and writes bench/results.json (stable keys, read by other tools) and bench/RESULTS.md (figures against their
 * targets, the machine, the date), printing the table too. The claim rule's figures in those files (`claimRule`, the
 * "Claim rule" section; `npm run claim-rule -- --write`) are not measured here and are kept (tools/lib/bench-files.ts).
 *
 * Settings (environment; `hardhat run` passes no arguments to the script): BENCH_CLAIMS (1000), BENCH_READINGS
 * per evidence bundle (10), BENCH_BATCH verdicts per transaction (20, the daemon's default), BENCH_LATENCY_CLAIMS
 * (100), BENCH_LATENCY_GAP_MS (100), BENCH_POLL_MS (100), BENCH_WORKERS verification worker threads per daemon (the
 * daemon's default: one per core, at most 4), BENCH_OUT output directory (bench/); for the gateway BENCH_GW_DEVICES
 * (100), BENCH_GW_READINGS per device (200), BENCH_GW_INFLIGHT (50), BENCH_GW_LATENCY_DEVICES (1000),
 * BENCH_GW_LATENCY_SECONDS (30), BENCH_GW_WARMUP_SECONDS (3), BENCH_GW_POSTGRES_MOSQUITTO (1; 0 skips that run); e.g.
 *   BENCH_CLAIMS=200 BENCH_OUT=/tmp/bench npm run bench
 */
import os from "node:os";
import path from "node:path";
import { connection } from "@triad/devkit";
import { loadModel } from "@triad/oracle/model";
import { startEvidenceServer } from "@triad/oracle";
import { nativeRecovery } from "@triad/sdk/node";
import { writeBenchFiles } from "./lib/bench-files.ts";
import { measureGas } from "./lib/bench-gas.ts";
import { GATEWAY_BENCH_DEFAULTS, measureGateway, withAnchorGas, type GatewayBenchOptions } from "./lib/bench-gateway.ts";
import { countRpcRequests, prepareOracleWorkload, runOracle, type OracleBenchOptions } from "./lib/bench-oracle.ts";
import { renderResults, type BenchResults } from "./lib/bench-report.ts";
import { setupBenchSuite } from "./lib/bench-suite.ts";
import { step } from "./lib/report.ts";

const env = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
};

async function main() {
  const t0 = Date.now();
  const options: OracleBenchOptions = {
    claims: env("BENCH_CLAIMS", 1000),
    latencyClaims: env("BENCH_LATENCY_CLAIMS", 100),
    latencyGapMs: env("BENCH_LATENCY_GAP_MS", 100),
    readingsPerClaim: env("BENCH_READINGS", 10),
    batchSize: env("BENCH_BATCH", 20),
    pollIntervalMs: env("BENCH_POLL_MS", 100),
    verifyWorkers: process.env.BENCH_WORKERS ? env("BENCH_WORKERS", 0) : undefined,
  };
  const g = GATEWAY_BENCH_DEFAULTS;
  const gatewayOptions: GatewayBenchOptions = {
    devices: env("BENCH_GW_DEVICES", g.devices),
    readingsPerDevice: env("BENCH_GW_READINGS", g.readingsPerDevice),
    inflight: env("BENCH_GW_INFLIGHT", g.inflight),
    latencyDevices: env("BENCH_GW_LATENCY_DEVICES", g.latencyDevices),
    latencyWarmupSeconds: env("BENCH_GW_WARMUP_SECONDS", g.latencyWarmupSeconds),
    latencySeconds: env("BENCH_GW_LATENCY_SECONDS", g.latencySeconds),
    postgresMosquitto: env("BENCH_GW_POSTGRES_MOSQUITTO", 1) === 1,
  };
  const outDir = path.resolve(process.env.BENCH_OUT ?? path.join(import.meta.dirname, "..", "bench"));
  const loadAtStart = os.loadavg();

  step("Deploying the suite (Ignition) on the in-process Hardhat chain");
  const suite = await setupBenchSuite();
  const gas = await measureGas(suite, step);

  step("Loading the model; starting the evidence server on 127.0.0.1");
  const model = await loadModel(undefined, { backend: "auto" });
  const evidence = await startEvidenceServer({ port: 0, host: "127.0.0.1" });
  const rpcCount = countRpcRequests();
  try {
    const workload = await prepareOracleWorkload(suite, evidence, model.metadata.window, options, step);
    const snapshot = (await connection.provider.request({ method: "evm_snapshot" })) as string;
    step(`oracle: one daemon (a 1-of-1 committee) on ${options.claims} claims`);
    const oracle = await runOracle(suite, workload, { members: suite.members.slice(0, 1), threshold: 1, model, rpcCount, options }, step);
    await connection.provider.request({ method: "evm_revert", params: [snapshot] });
    step(`committee: three daemons (2 of 3) on the same ${options.claims} claims (chain reverted to the snapshot)`);
    const committee = await runOracle(suite, workload, { members: suite.members, threshold: 2, model, rpcCount, options }, step);
    step("gateway: its own process (embedded broker, SQLite), simulated devices in a worker thread");
    const gateway = await measureGateway({ registry: suite.triad.registry.connect(suite.holder), options: gatewayOptions, progress: step });

    const cpus = os.cpus();
    const results: BenchResults = {
      gas: gas.gas,
      oracle: oracle.figures,
      committee: committee.figures,
      gateway: withAnchorGas(gateway.figures, gas.gas.anchorFleet, gatewayOptions.latencyDevices),
      machine: {
        cpuModel: cpus[0]?.model ?? "unknown",
        cpuCount: cpus.length,
        memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAverageAtStart: loadAtStart.map((v) => +v.toFixed(2)),
      },
      date: new Date().toISOString(),
      notes: {
        settings: { ...options, verifyWorkers: options.verifyWorkers ?? "default (one per core, at most 4)" },
        tfjsBackend: model.backend ?? "unknown",
        nativeSecp256k1: nativeRecovery(),
        gasDetail: gas.detail,
        oracleRun: oracle.detail,
        committeeRun: committee.detail,
        gatewaySettings: gatewayOptions,
        gatewayRun: gateway.detail,
        durationSeconds: Math.round((Date.now() - t0) / 1000),
      },
    };
    const { markdown, table } = renderResults(results);
    // The claim rule's figures (npm run claim-rule -- --write) are kept as they are: this run does not measure them.
    const kept = writeBenchFiles(outDir, results, markdown);
    console.log("\n" + table + "\n");
    step(`Wrote ${path.relative(process.cwd(), outDir)}/results.json and RESULTS.md${kept.length > 0 ? ` (kept ${kept.join(", ")})` : ""}`);
  } finally {
    await evidence.close();
  }
}

await main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
