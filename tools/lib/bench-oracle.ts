/**
 * Oracle throughput and latency on the benchmark's deployment, through the real daemon code path: `createOracle`
 * with its poll loop (`start()`), evidence downloaded over HTTP from `startEvidenceServer` on 127.0.0.1, reading
 * signatures checked on the verifier's worker threads, the shipped model, verdicts signed with the member's local
 * key and submitted in batches. The chain is Hardhat's in-process network (automine), in the same Node process.
 *
 * The claims are decided on their telemetry, as in production: each claim's evidence is an anchored
 * `triad.evidence/v2` bundle (docs/protocol.md §7) of real AI4I rows, whose readings a gateway the holder authorised
 * anchored on-chain before the claim was filed. Half the claims are genuine — their window ends in a failure that
 * persists (five readings a minute apart, well past a failure limit), which the claim rule approves (§8.3) — and half
 * are normal telemetry, rejected as NO_FAILURE_DETECTED. After each run every claim is checked on-chain against that
 * expectation, so an approval counted by the benchmark is a genuine one and a rejection is not an evidence failure.
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
import { Wallet, id } from "ethers";
import pino from "pino";
import { claimReasonCode, findEvent, type Ai4iRow } from "@triad/sdk/node";
import { createOracle, mapLimit, type Oracle } from "@triad/oracle";
import type { EvidenceServer } from "@triad/oracle";
import type { LoadedModel } from "@triad/oracle/model";
import {
  clearFailureRows,
  connection,
  ethers,
  makeAnchoredBundle,
  networkHelpers,
  normalRows,
  persistingFailureRows,
  type EvidenceWindow,
} from "@triad/devkit";
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
  /** Its window ends in a persisting failure: the claim must be approved (else rejected as NO_FAILURE_DETECTED). */
  genuine: boolean;
}

export interface OracleWorkload {
  /** Claims filed before the daemons start. */
  backlog: bigint[];
  /** The backlog claims that are genuine (decimal ids). */
  genuine: Set<string>;
  /** Insured devices with evidence ready, filed during the latency phase. */
  live: PreparedClaim[];
  /** First block the daemons scan. */
  fromBlock: number;
}

const COVERAGE = 100n * UNIT;
const CLAIM_AMOUNT = 50n * UNIT;
const FILING_CONCURRENCY = 8;
/** Failure readings at the end of a genuine claim's window: a failure lasting 4 minutes (the claim rule needs 3). */
const FAILURE_READINGS = 5;
/**
 * Most readings per claim window: the bundles are anchored all at once after the fact, and the oldest reading (the
 * one before the window's first) must be anchored within the product's `maxAnchorDelay` (1 hour) of its timestamp.
 */
const MAX_READINGS_PER_CLAIM = 40;
const FAILURE_MODES = ["HDF", "PWF", "OSF"] as const;
/** Reason codes of the verdicts the benchmark expects (docs/protocol.md §10.4). */
const APPROVED = BigInt(claimReasonCode("APPROVED"));
const NO_FAILURE_DETECTED = BigInt(claimReasonCode("NO_FAILURE_DETECTED"));

/** The telemetry of the `i`-th claim: genuine claims (odd `i`) end in a persisting failure, the modes in turn. */
function claimRows(i: number, readings: number): { rows: Ai4iRow[]; genuine: boolean } {
  if (i % 2 === 0) return { rows: normalRows(readings, i % 500), genuine: false };
  const k = (i - 1) / 2;
  const mode = FAILURE_MODES[k % FAILURE_MODES.length];
  const runs = clearFailureRows(mode).length - FAILURE_READINGS + 1;
  const failure = persistingFailureRows(mode, FAILURE_READINGS, Math.floor(k / FAILURE_MODES.length) % runs);
  return { rows: [...normalRows(readings - FAILURE_READINGS, i % 500), ...failure], genuine: true };
}

/**
 * Insures one device per claim (parametric product); for each, signs its readings — half end in a persisting
 * failure (genuine: approved), half are normal telemetry (rejected) — and has the holder's gateway anchor them on-chain
 * as an anchored v2 bundle reaching past the model's `window` (one fleet anchor per bundle); stores the bundles in the
 * evidence server and files the backlog.
 */
export async function prepareOracleWorkload(
  s: BenchSuite,
  evidence: EvidenceServer,
  window: EvidenceWindow,
  options: OracleBenchOptions,
  progress: (message: string) => void,
): Promise<OracleWorkload> {
  const r = options.readingsPerClaim;
  if (!Number.isSafeInteger(r) || r < FAILURE_READINGS || r > MAX_READINGS_PER_CLAIM)
    throw new Error(`readings per claim (BENCH_READINGS) must be from ${FAILURE_READINGS} to ${MAX_READINGS_PER_CLAIM}, got ${r}`);
  const total = options.claims + options.latencyClaims;
  const insured = await insureDevices(s, { count: total, tag: "oracle", productId: s.parametricProductId, coverage: COVERAGE });
  progress(`oracle: ${total} devices registered and insured`);
  // The holder's gateway: an account the device owner authorised, as a real gateway is (docs/protocol.md §6.3).
  const gateway = new Wallet(id("triad/bench/oracle/gateway"), ethers.provider);
  await (await s.deployer.sendTransaction({ to: gateway.address, value: 10n ** 20n })).wait();
  await (await s.triad.registry.connect(s.holder).setGateway(gateway.address, true)).wait();
  const anchorer = s.triad.registry.connect(gateway);
  // The reading after each window (incidentAt + window.afterSeconds + 1) lies two minutes in the past when anchored.
  const incidentAt = BigInt(await time.latest()) - BigInt(window.afterSeconds) - 120n;
  const chainId = BigInt(s.triad.chainId);
  const prepared: PreparedClaim[] = [];
  for (const [i, { device, policyId }] of insured.entries()) {
    const { rows, genuine } = claimRows(i, r);
    const bundle = await makeAnchoredBundle({ deviceKey: device, chainId, anchorer, rows, incidentAt, window });
    prepared.push({ policyId, hash: bundle.hash, uri: evidence.put(bundle.bytes).uri, incidentAt, genuine });
  }
  progress(
    `oracle: ${total} anchored evidence bundles (${r} readings in each window, plus the readings before and after) stored in the evidence server`,
  );
  const fromBlock = (await ethers.provider.getBlockNumber()) + 1;
  const backlog = prepared.slice(0, options.claims);
  const filed = await mapLimit(backlog, FILING_CONCURRENCY, (p) => file(s, p));
  progress(`oracle: ${filed.length} claims filed (the backlog)`);
  return {
    backlog: filed.map((f) => f.claimId),
    genuine: new Set(filed.filter((_, i) => backlog[i].genuine).map((f) => f.claimId.toString())),
    live: prepared.slice(options.claims),
    fromBlock,
  };
}

/**
 * Files `p` (the holder approved the claims contract for every deposit at set-up). Its gas limit is the estimate plus
 * a quarter: the daemons' verdicts are mined between a filing's estimate and its transaction and change state the
 * filing reads, and a filing sent with the bare estimate failed that way in the committee's latency phase (a revert
 * without a reason).
 */
async function file(s: BenchSuite, p: PreparedClaim): Promise<{ claimId: bigint }> {
  const claims = s.triad.claims.connect(s.holder);
  const args = [p.policyId, CLAIM_AMOUNT, p.incidentAt, p.hash, p.uri] as const;
  const gasLimit = ((await claims.fileClaim.estimateGas(...args)) * 5n) / 4n;
  const receipt = (await (await claims.fileClaim(...args, { gasLimit })).wait())!;
  return { claimId: findEvent(claims, receipt, "ClaimFiled").args.claimId as bigint };
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
        evidence: { schemes: ["http"], hosts: ["127.0.0.1:*"], maxBytes: 1024 * 1024, timeoutMs: 10_000, retries: 2, retryDelayMs: 500 },
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
    const genuine = new Set(workload.genuine);
    for (const p of workload.live) {
      const { claimId } = await file(s, p);
      filedAt.set(claimId.toString(), performance.now());
      live.push(claimId);
      if (p.genuine) genuine.add(claimId.toString());
      await new Promise((r) => setTimeout(r, options.latencyGapMs));
    }
    await waitUntil(live, "the latency claims");
    const latencies = live.map((id) => decidedAt.get(id.toString())! - filedAt.get(id.toString())!).sort((a, b) => a - b);
    progress(
      `${label(args)}: ${live.length} claims filed one at a time every ${options.latencyGapMs} ms, p50 ${percentile(latencies, 50).toFixed(0)} ms`,
    );

    // The chain agrees: every claim decided, and as its telemetry shows — genuine claims approved, the others
    // rejected for want of a failure (not for their evidence): the benchmark measured real decisions.
    for (const id of [...workload.backlog, ...live]) {
      const claim = await s.triad.claims.getClaim(id);
      if (Number(claim.status) === 1) throw new Error(`claim ${id} is still Filed after the run`);
      const expected = genuine.has(id.toString()) ? { approved: true, reason: APPROVED } : { approved: false, reason: NO_FAILURE_DETECTED };
      if (claim.approved !== expected.approved || claim.reason !== expected.reason) {
        throw new Error(
          `claim ${id} (${expected.approved ? "a persisting failure" : "normal telemetry"}) was decided approved=${claim.approved} with reason ${claim.reason}, expected approved=${expected.approved} with reason ${expected.reason}`,
        );
      }
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
