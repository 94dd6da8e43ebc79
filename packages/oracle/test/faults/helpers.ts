/**
 * Shared set-up of the oracle's fault suite (`npm run test:faults`): a real `hardhat node` with interval mining, the
 * suite deployed into it, an RPC fault proxy in front of it, an evidence host on 127.0.0.1 that can stall, redirect or
 * misbehave per claim, and real `oracle run` daemons of the 2-of-3 committee that reach the node only through the
 * proxy. Assertions read the chain: every claim decided exactly once (its status and its VerdictFinalised events).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import {
  CLAIM_STATUS,
  claimOutcomes,
  deployToNode,
  fileClaims,
  metricValue,
  prepareClaims,
  startChainNode,
  startDaemon,
  startEvidenceHost,
  startRpcFaultProxy,
  type ChainNode,
  type ClaimOutcome,
  type DaemonProcess,
  type EvidenceHost,
  type NodeDeployment,
  type PreparedClaim,
  type RpcFaultProxy,
} from "@triad/devkit";
import { claimReason } from "@triad/sdk";

/** Block time of the suite's node (interval mining); scenarios that need blocks faster or slower set their own. */
export const BLOCK_TIME_MS = 1000;

/**
 * Daemon settings of the suite: short deadlines so that each fault shows within seconds (the defaults are for real
 * networks: packages/oracle/README.md).
 */
export const FAULT_ENV: Record<string, string> = {
  ORACLE_RPC_TIMEOUT_MS: "2000",
  ORACLE_RPC_RETRIES: "3",
  ORACLE_RPC_RETRY_BASE_MS: "100",
  ORACLE_TX_REPLACE_AFTER_MS: "3000",
  ORACLE_TX_FEE_BUMP_PERCENT: "25",
  ORACLE_SHUTDOWN_TIMEOUT_MS: "5000",
  ORACLE_HEALTH_RPC_GRACE_MS: "5000",
  ORACLE_EVIDENCE_TIMEOUT_MS: "1500",
  ORACLE_EVIDENCE_RETRIES: "1",
  ORACLE_EVIDENCE_RETRY_DELAY_MS: "100",
  ORACLE_EVIDENCE_DEADLINE_MS: "6000",
  ORACLE_BATCH_SIZE: "8",
};

export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A running node + deployment + proxy + evidence host, and the daemons a scenario starts. */
export interface FaultWorld {
  node: ChainNode;
  d: NodeDeployment;
  proxy: RpcFaultProxy;
  evidence: EvidenceHost;
  dir: string;
  daemons: DaemonProcess[];
  /** Starts committee members `members` (default 0 and 1: the threshold) through the proxy. */
  startCommittee(options?: { members?: number[]; env?: Record<string, string> }): Promise<DaemonProcess[]>;
  /** Restarts a stopped daemon with the same checkpoint file. */
  restart(daemon: DaemonProcess, env?: Record<string, string>): Promise<DaemonProcess>;
  /**
   * Insures devices and anchors their evidence (automine meanwhile, then interval mining again), and serves each
   * bundle on the evidence host. Claim i is genuine when i is even unless `genuine` says otherwise.
   */
  prepare(count: number, seed: string, genuine?: (i: number) => boolean): Promise<PreparedClaim[]>;
  /** Files the prepared claims (evidence URIs from the host unless `uriOf` overrides). */
  file(prepared: readonly PreparedClaim[], uriOf?: (c: PreparedClaim, i: number) => string): Promise<bigint[]>;
  /** Waits until none of the claims is Filed, then returns their outcomes. */
  waitDecided(claimIds: readonly bigint[], timeoutMs?: number): Promise<ClaimOutcome[]>;
  close(): Promise<void>;
}

export async function startFaultWorld(options: { blockTimeMs?: number } = {}): Promise<FaultWorld> {
  const blockTimeMs = options.blockTimeMs ?? BLOCK_TIME_MS;
  const dir = mkdtempSync(path.join(os.tmpdir(), "triad-faults-"));
  const node = await startChainNode();
  let d: NodeDeployment;
  try {
    d = await deployToNode(node.url);
    await node.setMining(blockTimeMs);
  } catch (error) {
    await node.stop("SIGKILL");
    throw error;
  }
  const proxy = await startRpcFaultProxy(node.url);
  const evidence = await startEvidenceHost();
  const daemons: DaemonProcess[] = [];
  let committees = 0; // each committee scans with checkpoints of its own
  const world: FaultWorld = {
    node,
    d,
    proxy,
    evidence,
    dir,
    daemons,
    async startCommittee({ members = [0, 1], env = {} } = {}) {
      committees += 1;
      // A new committee scans from the current head: the claims of earlier scenarios are not its business.
      const startBlock = String(await world.node.head());
      const started = await Promise.all(
        members.map((member) =>
          startDaemon(world.d, {
            member,
            rpcUrl: proxy.url,
            checkpointFile: path.join(dir, `committee-${committees}-member-${member}.json`),
            evidenceHosts: evidence.host,
            env: { ...FAULT_ENV, ORACLE_START_BLOCK: startBlock, ...env },
          }),
        ),
      );
      daemons.push(...started);
      await Promise.all(started.map((p) => waitForHealthy(p, 120_000)));
      return started;
    },
    async restart(daemon, env = {}) {
      const next = await startDaemon(world.d, {
        member: daemon.member,
        rpcUrl: proxy.url,
        checkpointFile: daemon.checkpointFile,
        evidenceHosts: evidence.host,
        env: { ...FAULT_ENV, ...env },
      });
      daemons.push(next);
      return next;
    },
    async prepare(count, seed, genuine) {
      await world.node.setMining("auto");
      try {
        const prepared = await prepareClaims(world.d, count, { seed, genuine });
        for (const c of prepared) evidence.set(`/evidence/${c.hash}`, { kind: "serve", bytes: c.bytes });
        return prepared;
      } finally {
        await world.node.setMining(blockTimeMs);
      }
    },
    async file(prepared, uriOf = (c) => `${evidence.url}/evidence/${c.hash}`) {
      return (await fileClaims(world.d, prepared, uriOf)).map((f) => f.claimId);
    },
    async waitDecided(claimIds, timeoutMs = 90_000) {
      return waitUntil(
        `claims ${claimIds.join(", ")} to be decided`,
        async () => {
          const outcomes = await claimOutcomes(world.d, claimIds);
          return outcomes.every((o) => o.status !== CLAIM_STATUS.Filed) ? outcomes : undefined;
        },
        timeoutMs,
        500,
      ).catch(async (error: Error) => {
        const outcomes = await claimOutcomes(world.d, claimIds).catch(() => []);
        throw new Error(`${error.message}\nclaims: ${describe(outcomes)}\n${daemonTails(daemons)}`);
      });
    },
    async close() {
      await Promise.all(daemons.map((p) => p.stop("SIGKILL", 1000)));
      await proxy.close();
      await evidence.close();
      world.d.close();
      await world.node.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

let shared: Promise<FaultWorld> | undefined;

/**
 * The suite's one world (node, deployment, proxy, evidence host), started by the first file that asks and stopped
 * after the last (a root hook): the node and the deployment take a while to start. Each scenario starts its own
 * daemons (new checkpoints) and stops them; the files leave the proxy healed.
 */
export function faultWorld(): Promise<FaultWorld> {
  shared ??= startFaultWorld();
  return shared;
}

after(async function () {
  this.timeout(60_000);
  if (shared) await (await shared.catch(() => undefined))?.close();
});

/**
 * The hooks of a file's scenarios: the shared world handed to `use` before the first one, and each scenario ended
 * after it ({@link endScenario}).
 */
export function faultScenarios(use: (w: FaultWorld) => void): void {
  let world: FaultWorld | undefined;
  before(async function () {
    world = await faultWorld();
    use(world);
  });
  afterEach(async function () {
    await endScenario(world);
  });
}

/** After each scenario: its daemons stopped, the proxy healed and its counts cleared. */
export async function endScenario(w: FaultWorld | undefined): Promise<void> {
  if (!w) return;
  await Promise.all(w.daemons.splice(0).map((p) => p.stop("SIGKILL", 1000)));
  w.proxy.heal();
  w.proxy.clearCounts();
}

/** One line per claim: id, status, finalisations. */
export function describe(outcomes: readonly ClaimOutcome[]): string {
  return outcomes
    .map(
      (o) =>
        `#${o.claimId} status ${o.status} finalised ${o.finalisations.length}x [${o.finalisations.map((f) => claimReason(f.reason).name).join(", ")}]`,
    )
    .join("; ");
}

/** The last log lines of each daemon (for a failure message). */
export function daemonTails(daemons: readonly DaemonProcess[], lines = 12): string {
  return daemons
    .map((p) => `--- member ${p.member} (pid ${p.process.pid}):\n${p.stdout.slice(-lines).join("\n")}\n${p.stderr.join("").slice(-2000)}`)
    .join("\n");
}

/**
 * Every claim decided exactly once: not Filed any more, exactly one VerdictFinalised, and the verdict the evidence
 * calls for (genuine → approved, normal telemetry → rejected as NO_FAILURE_DETECTED).
 */
export function expectDecidedOnce(outcomes: readonly ClaimOutcome[], prepared?: readonly PreparedClaim[]): void {
  for (const [i, o] of outcomes.entries()) {
    expect(o.status, `claim ${o.claimId} status (${describe(outcomes)})`).to.not.equal(CLAIM_STATUS.Filed);
    expect(o.finalisations, `claim ${o.claimId} VerdictFinalised events (${describe(outcomes)})`).to.have.length(1);
    if (prepared) {
      const want = prepared[i].genuine ? "APPROVED" : "NO_FAILURE_DETECTED";
      expect(claimReason(o.finalisations[0].reason).name, `claim ${o.claimId} verdict`).to.equal(want);
    }
  }
}

/** Waits until the daemon's /healthz answers 200. */
export async function waitForHealthy(daemon: DaemonProcess, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return waitUntil(
    `member ${daemon.member}'s /healthz to answer 200`,
    async () => {
      if (daemon.process.exitCode !== null) throw new Error(`the daemon exited (${daemon.process.exitCode}): ${daemonTails([daemon])}`);
      const h = await daemon.health();
      return h?.status === 200 ? h.report : undefined;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${daemonTails([daemon])}`);
  });
}

/** Waits until /healthz answers 503 with a problem matching `problem`; returns the report. */
export async function waitForUnhealthy(daemon: DaemonProcess, problem: RegExp, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  let last: unknown;
  return waitUntil(
    `member ${daemon.member}'s /healthz to answer 503 with a problem matching ${problem}`,
    async () => {
      const h = await daemon.health();
      last = h;
      return h?.status === 503 && problem.test(JSON.stringify(h.report.problems ?? [])) ? h.report : undefined;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last answer: ${JSON.stringify(last)}`);
  });
}

/** A metric of the daemon (prefix triad_oracle_ added), undefined when it does not export it. */
export async function metric(daemon: DaemonProcess, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return metricValue(await daemon.metrics(), `triad_oracle_${name}`, labels);
}
