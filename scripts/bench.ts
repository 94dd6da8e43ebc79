/**
 * `npm run bench`: the benchmark (not a test). On Hardhat's in-process chain it measures
 *   1. gas per operation (whole-transaction gasUsed from receipts), through the SDK actions, on the Ignition
 *      deployment (`deployTriad`) plus a parametric product;
 *   2. oracle throughput and latency of one daemon (committee threshold 1) on BENCH_CLAIMS claims;
 *   3. the same with a 2-of-3 committee, three daemons (same claims: the chain is reverted to a snapshot).
 * and writes bench/results.json (stable keys, read by other tools) and bench/RESULTS.md (figures against their
 * targets, the machine, the date), printing the table too.
 *
 * Settings (environment): BENCH_CLAIMS (1000), BENCH_READINGS per evidence bundle (10), BENCH_BATCH verdicts per
 * transaction (20, the daemon's default), BENCH_LATENCY_CLAIMS (100), BENCH_LATENCY_GAP_MS (100), BENCH_POLL_MS
 * (100), BENCH_WORKERS verification worker threads per daemon (the daemon's default: one per core, at most 4),
 * BENCH_OUT output directory (bench/).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { loadModel } from "../oracle/src/model";
import { startEvidenceServer } from "../oracle/src/evidence-server";
import { nativeRecovery } from "../sdk/recover";
import { measureGas } from "./lib/bench-gas";
import { countRpcRequests, prepareOracleWorkload, runOracle, type OracleBenchOptions } from "./lib/bench-oracle";
import { renderResults, type BenchResults } from "./lib/bench-report";
import { setupBenchSuite } from "./lib/bench-suite";
import { step } from "./lib/report";

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
  const outDir = path.resolve(process.env.BENCH_OUT ?? path.join(__dirname, "..", "bench"));
  const loadAtStart = os.loadavg();

  step("Deploying the suite (Ignition) on the in-process Hardhat chain");
  const suite = await setupBenchSuite(hre);
  const gas = await measureGas(suite, step);

  step("Loading the model; starting the evidence server on 127.0.0.1");
  const model = await loadModel(undefined, { backend: "auto" });
  const evidence = await startEvidenceServer({ port: 0, host: "127.0.0.1" });
  const rpcCount = countRpcRequests(suite);
  try {
    const workload = await prepareOracleWorkload(suite, evidence, options, step);
    const snapshot = (await hre.network.provider.send("evm_snapshot")) as string;
    step(`oracle: one daemon (threshold 1) on ${options.claims} claims`);
    const oracle = await runOracle(suite, workload, { members: suite.members.slice(0, 1), threshold: 1, model, rpcCount, options }, step);
    await hre.network.provider.send("evm_revert", [snapshot]);
    step(`committee: three daemons (threshold 2) on the same ${options.claims} claims (chain reverted to the snapshot)`);
    const committee = await runOracle(suite, workload, { members: suite.members, threshold: 2, model, rpcCount, options }, step);

    const cpus = os.cpus();
    const results: BenchResults = {
      gas: gas.gas,
      oracle: oracle.figures,
      committee: committee.figures,
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
        nativeSecp256k1: nativeRecovery,
        gasDetail: gas.detail,
        oracleRun: oracle.detail,
        committeeRun: committee.detail,
        durationSeconds: Math.round((Date.now() - t0) / 1000),
      },
    };
    const { markdown, table } = renderResults(results);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
    writeFileSync(path.join(outDir, "RESULTS.md"), markdown);
    console.log("\n" + table + "\n");
    step(`Wrote ${path.relative(process.cwd(), outDir)}/results.json and RESULTS.md`);
  } finally {
    await evidence.close();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
