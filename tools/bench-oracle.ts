/**
 * `npx hardhat run tools/bench-oracle.ts`: the oracle part of `npm run bench` alone, on a fresh deployment — one
 * daemon (a 1-of-1 committee), then three (2 of 3) on the same claims (tools/lib/bench-oracle.ts says how). Prints the
 * figures as JSON; writes nothing.
 *
 * Settings (environment), as `npm run bench`: BENCH_CLAIMS (1000), BENCH_READINGS per claim window (10),
 * BENCH_BATCH (20), BENCH_LATENCY_CLAIMS (100), BENCH_LATENCY_GAP_MS (100), BENCH_POLL_MS (100), BENCH_WORKERS
 * (the daemon's default), e.g.
 *   BENCH_CLAIMS=200 BENCH_LATENCY_CLAIMS=20 npx hardhat run tools/bench-oracle.ts
 */
import { connection } from "@triad/devkit";
import { loadModel } from "@triad/oracle/model";
import { startEvidenceServer } from "@triad/oracle";
import { nativeRecovery } from "@triad/sdk/node";
import { countRpcRequests, prepareOracleWorkload, runOracle, type OracleBenchOptions } from "./lib/bench-oracle.ts";
import { setupBenchSuite } from "./lib/bench-suite.ts";
import { step } from "./lib/report.ts";

const env = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
};

const options: OracleBenchOptions = {
  claims: env("BENCH_CLAIMS", 1000),
  latencyClaims: env("BENCH_LATENCY_CLAIMS", 100),
  latencyGapMs: env("BENCH_LATENCY_GAP_MS", 100),
  readingsPerClaim: env("BENCH_READINGS", 10),
  batchSize: env("BENCH_BATCH", 20),
  pollIntervalMs: env("BENCH_POLL_MS", 100),
  verifyWorkers: process.env.BENCH_WORKERS ? env("BENCH_WORKERS", 0) : undefined,
};

step("Deploying the suite (Ignition) on the in-process Hardhat chain; loading the model; starting the evidence server");
const suite = await setupBenchSuite();
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
  console.log(
    JSON.stringify(
      {
        oracle: oracle.figures,
        committee: committee.figures,
        notes: {
          settings: options,
          tfjsBackend: model.backend,
          nativeSecp256k1: nativeRecovery(),
          oracleRun: oracle.detail,
          committeeRun: committee.detail,
        },
      },
      null,
      2,
    ),
  );
} catch (error) {
  console.error(`bench-oracle failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await evidence.close();
}
