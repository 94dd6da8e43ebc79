/**
 * Oracle throughput and latency on the benchmark's deployment, through the real daemon code path: `createOracle`
 * with its poll loop (`start()`), evidence downloaded over HTTP from `startEvidenceServer` on 127.0.0.1, reading
 * signatures checked on the verifier's worker threads, the shipped model, verdicts signed with the member's local
 * key and submitted in batches. The chain is Hardhat's in-process network (automine), in the same Node process.
 *
 *  - throughput: a backlog of claims filed before the daemons start; claims/s = claims / (start → the last claim's
 *    finalising verdict mined). RPC requests per claim and inference time per claim come from this phase.
 *  - latency: with the daemons caught up and polling, claims filed one at a time; ClaimFiled mined → the verdict
 *    that decides the claim mined (as the daemon that sent it sees its receipt).
 */
import os from "node:os";
import path from "node:path";
import { mkdtempSync } from "node:fs";
import { Writable } from "node:stream";
import type { Wallet } from "ethers";
import pino from "pino";
import { fileClaim } from "@triad/sdk/node";
import { createOracle, mapLimit, type Oracle } from "@triad/oracle";
import type { EvidenceServer } from "@triad/oracle";
import type { LoadedModel } from "@triad/oracle/model";
import { connection, ethers, failureRows, makeBundle, networkHelpers, normalRows } from "@triad/devkit";
import { UNIT, insureDevices, setCommittee, type BenchSuite } from "./bench-suite.ts";

const { time } = networkHelpers;

/** The JSON keys of `oracle` and `committee` in bench/results.json (stable: other tools read them). */
export interface OracleFigures {
  claimsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  inferenceMs: number;
  rpcCallsPerClaim: number;
}

/** How a run was made and what else it saw (RESULTS.md and `notes`). */
export interface OracleRunDetail {
  daemons: number;
  threshold: number;
  backlogClaims: number;
  backlogSeconds: number;
  approved: number;
  rejected: number;
  /** Verdict transactions of the backlog phase (all daemons). */
  transactions: number;
  /** Signatures the contract refused (a third member signing an already decided claim, …). */
  refused: number;
  /** Claims skipped by a daemon (already decided when it got to them, …). */
  skipped: number;
  latencyClaims: number;
  /** CPU seconds of this process (chain, daemons, workers) during the backlog phase, and the machine's load. */
  cpuSeconds: number;
  loadAverage: [number, number];
}

export interface OracleBenchOptions {
  claims: number;
  latencyClaims: number;
  latencyGapMs: number;
  readingsPerClaim: number;
  batchSize: number;
  pollIntervalMs: number;
  verifyWorkers?: number;
}

interface PreparedClaim {
  policyId: bigint;
  hash: string;
  uri: string;
  incidentAt: bigint;
}

export interface OracleWorkload {
  /** Claims filed before the daemons start. */
  backlog: bigint[];
  /** Insured devices with evidence ready, filed during the latency phase. */
  live: PreparedClaim[];
  /** First block the daemons scan. */
  fromBlock: number;
}

const COVERAGE = 100n * UNIT;
const CLAIM_AMOUNT = 50n * UNIT;
const FILING_CONCURRENCY = 8;

/**
 * Insures one device per claim (parametric product), signs each an evidence bundle of real AI4I rows — half end in
 * a failure row (approved), half are normal telemetry (rejected) — stores the bundles in the evidence server and
 * files the backlog.
 */
export async function prepareOracleWorkload(
  s: BenchSuite,
  evidence: EvidenceServer,
  options: OracleBenchOptions,
  progress: (message: string) => void,
): Promise<OracleWorkload> {
  const total = options.claims + options.latencyClaims;
  const insured = await insureDevices(s, { count: total, tag: "oracle", productId: s.parametricProductId, coverage: COVERAGE });
  progress(`oracle: ${total} devices registered and insured`);
  const failures = [...failureRows("HDF", 40), ...failureRows("PWF", 40), ...failureRows("OSF", 40)];
  const incidentAt = BigInt(await time.latest()) - 600n;
  const prepared: PreparedClaim[] = [];
  for (const [i, { device, policyId }] of insured.entries()) {
    const r = options.readingsPerClaim;
    const rows = i % 2 === 0 ? normalRows(r, i % 500) : [...normalRows(r - 1, i % 500), failures[i % failures.length]];
    const bundle = await makeBundle({
      deviceKey: device,
      chainId: BigInt(s.triad.chainId),
      registry: s.addresses.registry,
      rows,
      incidentAt,
    });
    prepared.push({ policyId, hash: bundle.hash, uri: evidence.put(bundle.bytes).uri, incidentAt });
  }
  progress(`oracle: ${total} evidence bundles of ${options.readingsPerClaim} signed readings stored in the evidence server`);
  const fromBlock = (await ethers.provider.getBlockNumber()) + 1;
  const filed = await mapLimit(prepared.slice(0, options.claims), FILING_CONCURRENCY, (p) => file(s, p));
  progress(`oracle: ${filed.length} claims filed (the backlog)`);
  return { backlog: filed.map((f) => f.claimId), live: prepared.slice(options.claims), fromBlock };
}

function file(s: BenchSuite, p: PreparedClaim) {
  return fileClaim(s.triad.claims.connect(s.holder), s.triad.token.connect(s.holder), {
    policyId: p.policyId,
    amount: CLAIM_AMOUNT,
    incidentAt: p.incidentAt,
    evidenceHash: p.hash,
    evidenceURI: p.uri,
  });
}

/**
 * Counts the JSON-RPC requests that reach the in-process chain (all of them, whoever sends them: ethers' provider,
 * the network helpers and `send` all go through the connection's EIP-1193 `request`).
 */
export function countRpcRequests(): () => number {
  const provider = connection.provider;
  const request = provider.request.bind(provider);
  let count = 0;
  provider.request = (args) => {
    count++;
    return request(args);
  };
  return () => count;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const round = (v: number, digits = 1) => +v.toFixed(digits);

/**
 * Runs `members.length` daemons (a committee where `threshold` signatures decide: 1 → 1 of 1, 2 → 2 of 3) over the workload: the backlog, then the latency
 * stream. Leaves the chain as it is (the caller reverts to a snapshot between runs).
 */
export async function runOracle(
  s: BenchSuite,
  workload: OracleWorkload,
  args: { members: Wallet[]; threshold: 1 | 2 | 3; model: LoadedModel; rpcCount: () => number; options: OracleBenchOptions },
  progress: (message: string) => void,
): Promise<{ figures: OracleFigures; detail: OracleRunDetail }> {
  const { options } = args;
  await setCommittee(s, args.threshold);
  const decidedAt = new Map<string, number>();
  const outcome = { approved: 0, rejected: 0 };
  let refused = 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), "triad-bench-"));
  const daemons: Oracle[] = args.members.map((member, i) => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line.includes('"verdict refused') || line.includes('"verdict skipped by the contract')) refused++;
          if (!line.includes('"verdict submitted"')) continue;
          const entry = JSON.parse(line) as { claimId: string; finalised: boolean; outcome: "approved" | "rejected" };
          if (entry.finalised && !decidedAt.has(entry.claimId)) {
            decidedAt.set(entry.claimId, performance.now());
            outcome[entry.outcome]++;
          }
        }
        done();
      },
    });
    return createOracle({
      provider: ethers.provider,
      signer: member.connect(ethers.provider),
      addresses: s.addresses,
      model: args.model,
      logger: pino({ level: "info", base: { service: "triad-oracle" } }, sink),
      config: {
        confirmations: 0,
        pollIntervalMs: options.pollIntervalMs,
        startBlock: workload.fromBlock,
        checkpointFile: path.join(dir, `checkpoint-${i}.json`),
        batchSize: options.batchSize,
        verifyWorkers: options.verifyWorkers,
        metricsPort: undefined,
        evidence: { schemes: ["http"], hosts: ["127.0.0.1"], maxBytes: 1024 * 1024, timeoutMs: 10_000, retries: 2, retryDelayMs: 500 },
      },
    });
  });
  try {
    return await measure();
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
  }

  async function measure(): Promise<{ figures: OracleFigures; detail: OracleRunDetail }> {
    await Promise.all(daemons.map((d) => d.init())); // model checks and worker threads booted: not part of the run

    const waitUntil = async (ids: readonly bigint[], what: string) => {
      const deadline = Date.now() + 300_000;
      for (let i = 0; i < ids.length;) {
        if (decidedAt.has(ids[i].toString())) {
          i++;
          continue;
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${i} of ${ids.length} decided`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    // ---------------------------------------------------------------- throughput: the backlog
    const rpcBefore = args.rpcCount();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const d of daemons) await d.start();
    await waitUntil(workload.backlog, "the backlog");
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const rpcRequests = args.rpcCount() - rpcBefore;
    const backlogOutcome = { ...outcome };
    const backlogRefused = refused;
    // Per-daemon figures of the backlog phase.
    let inferenceSeconds = 0;
    let inferred = 0;
    let skipped = 0;
    let transactions = 0;
    for (const d of daemons) {
      const sumOf = (values: { metricName?: string; value: number }[], suffix: string) =>
        values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
      inferenceSeconds += sumOf((await d.metrics.inferenceSeconds.get()).values, "_sum");
      transactions += sumOf((await d.metrics.submissionSeconds.get()).values, "_count");
      inferred += (await d.metrics.inferredClaims.get()).values[0]?.value ?? 0;
      skipped += (await d.metrics.claimsSkipped.get()).values.reduce((n, v) => n + v.value, 0);
    }
    progress(`${label(args)}: ${workload.backlog.length} claims decided in ${seconds.toFixed(1)} s`);

    // ---------------------------------------------------------------- latency: claims one at a time
    const filedAt = new Map<string, number>();
    const live: bigint[] = [];
    for (const p of workload.live) {
      const { claimId } = await file(s, p);
      filedAt.set(claimId.toString(), performance.now());
      live.push(claimId);
      await new Promise((r) => setTimeout(r, options.latencyGapMs));
    }
    await waitUntil(live, "the latency claims");
    const latencies = live.map((id) => decidedAt.get(id.toString())! - filedAt.get(id.toString())!).sort((a, b) => a - b);
    progress(
      `${label(args)}: ${live.length} claims filed one at a time every ${options.latencyGapMs} ms, p50 ${percentile(latencies, 50).toFixed(0)} ms`,
    );

    // The chain agrees: every claim decided.
    for (const id of [...workload.backlog, ...live]) {
      const claim = await s.triad.claims.getClaim(id);
      if (Number(claim.status) === 1) throw new Error(`claim ${id} is still Filed after the run`);
    }
    const loads = os.loadavg();
    return {
      figures: {
        claimsPerSecond: round(workload.backlog.length / seconds),
        p50Ms: round(percentile(latencies, 50)),
        p95Ms: round(percentile(latencies, 95)),
        maxMs: round(latencies[latencies.length - 1]),
        inferenceMs: round((inferenceSeconds * 1000) / Math.max(1, inferred), 3),
        rpcCallsPerClaim: round(rpcRequests / workload.backlog.length, 2),
      },
      detail: {
        daemons: daemons.length,
        threshold: args.threshold,
        backlogClaims: workload.backlog.length,
        backlogSeconds: round(seconds, 2),
        approved: backlogOutcome.approved,
        rejected: backlogOutcome.rejected,
        transactions,
        refused: backlogRefused,
        skipped,
        latencyClaims: live.length,
        cpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
        loadAverage: [round(loads[0], 2), round(loads[1], 2)],
      },
    };
  }
}

function label(args: { members: unknown[]; threshold: number }): string {
  return args.members.length === 1 ? "oracle" : `committee ${args.threshold}-of-${args.members.length}`;
}
