/**
 * Oracle benchmark: `npx hardhat run scripts/bench-oracle.ts` (in-process Hardhat network, automine).
 *
 * Runs the real daemon code path (createOracle, evidence over HTTP from the local evidence server, the shipped
 * model) and measures:
 *   1. throughput: a backlog of BENCH_CLAIMS claims (one per insured device, BENCH_READINGS signed AI4I readings each)
 *      decided by one daemon, batch size BENCH_BATCH → claims per second, RPC requests per claim, inference ms per claim;
 *   2. latency: claims filed one at a time (BENCH_LATENCY_CLAIMS of them, every BENCH_LATENCY_GAP_MS) while the daemon
 *      runs with BENCH_POLL_MS polling → ClaimFiled mined → verdict mined, p50 and p95.
 * Everything runs in one Node process on the same cores as the chain, so the figures are a floor for a daemon on its
 * own machine against a remote node (which adds network round trips instead).
 */
import type { Wallet } from "ethers";
import hre, { ethers } from "hardhat";
import { Writable } from "node:stream";
import pino from "pino";
import { createOracle } from "../oracle/src/daemon";
import { loadModel } from "../oracle/src/model";
import { startEvidenceServer } from "../oracle/src/evidence-server";
import { deployOracleFixture, testConfig } from "../test/oracle/fixtures";
import { failureRows, normalRows } from "../test/oracle/helpers";

const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 300);
const READINGS = Number(process.env.BENCH_READINGS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 50);
const LATENCY_CLAIMS = Number(process.env.BENCH_LATENCY_CLAIMS ?? 40);
const LATENCY_GAP_MS = Number(process.env.BENCH_LATENCY_GAP_MS ?? 100);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 100);
/** Verification worker threads (default: the daemon's default, one per core up to 4). */
const WORKERS = process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS);
/** tfjs backend of the daemon's model (default wasm: what "auto" picks without tfjs-node; the fixture already made cpu active). */
const BACKEND = (process.env.BENCH_BACKEND ?? "wasm") as "auto" | "tfjs-node" | "wasm" | "cpu";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const t0 = performance.now();
  const f = await deployOracleFixture();
  const model = await loadModel(undefined, { backend: BACKEND });
  const evidence = await startEvidenceServer({ port: 0, maxBytes: 1024 * 1024 });
  const [member] = f.members;

  // Count every JSON-RPC request that reaches the chain (the daemon's own counter counts its logical requests).
  let jsonRpc = 0;
  const provider = hre.network.provider as unknown as { request(args: unknown): Promise<unknown>; send(m: string, p?: unknown[]): Promise<unknown> };
  const send = provider.send.bind(provider);
  provider.send = (method: string, params?: unknown[]) => {
    jsonRpc++; // what hardhat-ethers' provider (the daemon's here) calls for each request
    return send(method, params);
  };

  const insure = (n: number, tag: string) => f.insureNewDevices(Array.from({ length: n }, (_, i) => `bench-${tag}-${i}`));
  const failures = [...failureRows("HDF", 40), ...failureRows("PWF", 40), ...failureRows("OSF", 40)];
  async function prepare(insured: { device: Wallet; policyId: bigint }, i: number) {
    const rows = i % 2 === 0 ? normalRows(READINGS, i % 500) : [...normalRows(READINGS - 1, i % 500), failures[i % failures.length]];
    const b = await f.bundle(rows, { device: insured.device });
    return { ...b, uri: evidence.put(b.bytes).uri, policyId: insured.policyId };
  }

  // ---------------------------------------------------------------- 1. throughput on a backlog
  process.stderr.write(`setting up ${CLAIMS} insured devices and claims with ${READINGS} readings each...\n`);
  const backlogPolicies = await insure(CLAIMS, "backlog");
  const prepared = await Promise.all(backlogPolicies.map(prepare));
  for (const p of prepared) await f.fileClaim({ hash: p.hash, uri: p.uri, incidentAt: p.incidentAt, policy: p.policyId });
  const setupSeconds = (performance.now() - t0) / 1000;

  const oracle = createOracle({
    provider: ethers.provider,
    signer: member,
    addresses: f.addresses,
    model,
    config: testConfig({ batchSize: BATCH, concurrency: 32, logBlockRange: 10_000, pollIntervalMs: POLL_MS, verifyWorkers: WORKERS }),
    logger: pino({ level: "silent" }),
  });
  await oracle.init();
  const rpcBefore = oracle.rpcRequests();
  const jsonRpcBefore = jsonRpc;
  const started = performance.now();
  let decided = 0;
  let transactions = 0;
  const phasesMs: Record<string, number> = {};
  while (decided < CLAIMS) {
    const report = await oracle.tick();
    decided += report.submitted + report.skipped;
    transactions += report.transactions;
    for (const [k, v] of Object.entries(report.phasesMs)) phasesMs[k] = +((phasesMs[k] ?? 0) + v).toFixed(1);
    if (report.idle) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const inference = await oracle.metrics.inferenceSeconds.get();
  const inferenceSum = inference.values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
  const throughput = {
    claims: CLAIMS,
    readingsPerClaim: READINGS,
    batchSize: BATCH,
    decided,
    transactions,
    seconds: +seconds.toFixed(3),
    claimsPerSecond: +(decided / seconds).toFixed(1),
    daemonRpcRequestsPerClaim: +((oracle.rpcRequests() - rpcBefore) / decided).toFixed(2),
    jsonRpcRequestsPerClaim: +((jsonRpc - jsonRpcBefore) / decided).toFixed(2),
    inferenceMsPerClaim: +((inferenceSum * 1000) / decided).toFixed(3),
    backend: model.backend,
    verifyWorkers: WORKERS ?? "default",
    phasesMs,
  };
  await oracle.stop();

  // ---------------------------------------------------------------- 2. latency with the daemon running
  const latencyPolicies = await insure(LATENCY_CLAIMS, "latency");
  const latencyPrepared = await Promise.all(latencyPolicies.map((p, i) => prepare(p, i + 1)));
  const minedAt = new Map<string, number>();
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line.includes('"verdict submitted"')) continue;
        const entry = JSON.parse(line) as { claimId: string };
        minedAt.set(entry.claimId, performance.now());
      }
      done();
    },
  });
  const live = createOracle({
    provider: ethers.provider,
    signer: member,
    addresses: f.addresses,
    model,
    config: testConfig({ batchSize: BATCH, pollIntervalMs: POLL_MS, verifyWorkers: WORKERS, startBlock: await ethers.provider.getBlockNumber() + 1 }),
    logger: pino({ level: "info" }, sink),
  });
  await live.start();
  const filedAt = new Map<string, number>();
  for (const p of latencyPrepared) {
    const claimId = await f.fileClaim({ hash: p.hash, uri: p.uri, incidentAt: p.incidentAt, policy: p.policyId });
    filedAt.set(claimId.toString(), performance.now());
    await new Promise((r) => setTimeout(r, LATENCY_GAP_MS));
  }
  const deadline = Date.now() + 60_000;
  while (minedAt.size < LATENCY_CLAIMS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await live.stop();
  const latencies = [...filedAt].filter(([id]) => minedAt.has(id)).map(([id, t]) => minedAt.get(id)! - t).sort((a, b) => a - b);
  const latency = {
    claims: LATENCY_CLAIMS,
    measured: latencies.length,
    pollIntervalMs: POLL_MS,
    gapMs: LATENCY_GAP_MS,
    p50Ms: +percentile(latencies, 50).toFixed(1),
    p95Ms: +percentile(latencies, 95).toFixed(1),
    maxMs: +(latencies[latencies.length - 1] ?? NaN).toFixed(1),
  };
  await evidence.close();

  const result = { throughput, latency, setupSeconds: +setupSeconds.toFixed(1), node: process.version, cpus: require("node:os").cpus().length };
  console.log(JSON.stringify(result, null, 2));
}

main().catch((error) => {
  console.error(`bench-oracle failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
