/**
 * /healthz that tells the truth (issue 15, item 4): a stuck daemon is unhealthy by time whatever its lag, a lagging
 * one says by how many blocks and for how long, and a slow RPC endpoint is not "down" until the grace period has
 * passed; every unhealthy report names its problems. Also: stop() ends within its bound while a tick hangs.
 */
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";
import { ethers, networkHelpers } from "@triad/devkit/network";
import {
  deployOracleFixture,
  normalRows,
  oracleFor,
  persistingFailureRows,
  serveChainOverHttp,
  startRawServer,
  startRpcFaultProxy,
  testConfig,
  waitFor,
} from "@triad/devkit";
import pino from "pino";
import { createOracle } from "../src/daemon.ts";
import { createTickRecorder } from "../src/daemon/report.ts";
import { counterValue, createMetrics } from "../src/metrics.ts";

const { loadFixture } = networkHelpers;

describe("oracle: /healthz tells the truth", function () {
  it("a stuck tick turns /healthz unhealthy by time (naming why) and stop() still ends within its bound", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [insured] = await f.insureNewDevices(["health-stuck"]);
    const b = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: insured.device });
    // An evidence host that accepts the connection and never answers; the evidence deadline is far away.
    const hanging = await startRawServer(() => undefined);
    const startBlock = (await ethers.provider.getBlockNumber()) + 1;
    await f.fileClaim({ hash: b.hash, uri: `${hanging.url}/e`, incidentAt: b.incidentAt, policy: insured.policyId });
    const oracle = oracleFor(f, f.members[0], {
      config: {
        startBlock,
        metricsPort: 0,
        healthMaxTickAgeMs: 1500,
        shutdownTimeoutMs: 3000,
        evidence: { ...testConfig().evidence!, timeoutMs: 600_000, deadlineMs: 600_000, retries: 0 },
      },
    });
    await oracle.start();
    try {
      const first = await oracle.health();
      expect(first).to.include({ healthy: true, chainReachable: true });
      expect(first.problems).to.deep.equal([]);
      let body: Record<string, unknown> = {};
      await waitFor(async () => {
        const res = await fetch(`${oracle.opsUrl()}/healthz`);
        body = (await res.json()) as Record<string, unknown>;
        return res.status === 503;
      }, "/healthz to report the stuck tick");
      // The claim's block is the one not scanned yet: within the block limit, so only the time tells.
      expect(body).to.include({ healthy: false, chainReachable: true, lagBlocks: 1 });
      expect(body.problems).to.have.length(1);
      expect((body.problems as string[])[0]).to.match(/^no tick succeeded for [\d.]+ s \(ORACLE_HEALTH_MAX_TICK_AGE_MS: 1.5 s\)/);
      const metrics = await (await fetch(`${oracle.opsUrl()}/metrics`)).text();
      expect(metrics).to.match(/triad_oracle_last_tick_timestamp_seconds 0/); // no tick ever completed
    } finally {
      // The tick still waits for the evidence: stop() gives up on it at its bound (the test's timeout would catch a hang).
      await oracle.stop();
      await hanging.close();
    }
  });

  it("lagging: unhealthy beyond the block limit, with the lag in blocks and seconds; healthy once caught up", async function () {
    const f = await loadFixture(deployOracleFixture);
    const oracle = createOracle({
      provider: ethers.provider,
      signer: f.members[0],
      addresses: f.addresses,
      model: f.model,
      config: testConfig({ startBlock: 0, logBlockRange: 5, healthMaxLagBlocks: 3 }),
      logger: pino({ level: "silent" }),
    });
    try {
      await oracle.init();
      const head = await ethers.provider.getBlockNumber();
      const behind = await oracle.health();
      expect(behind).to.include({ healthy: false, lagBlocks: head + 1, nextBlock: 0, lagSeconds: 0 });
      expect(behind.problems).to.deep.equal([`${head + 1} confirmed blocks not scanned yet (ORACLE_HEALTH_MAX_LAG_BLOCKS: 3)`]);
      await oracle.tick(); // 5 blocks further
      const later = await oracle.health();
      expect(later.lagBlocks).to.equal(head + 1 - 5);
      expect(later.lagSeconds as number).to.be.at.least(0);
      // Catch up.
      while ((await oracle.tick()).toBlock < (await ethers.provider.getBlockNumber()));
      const caughtUp = await oracle.health();
      expect(caughtUp).to.include({ healthy: true, lagBlocks: 0, lagSeconds: 0 });
      expect(caughtUp.problems).to.deep.equal([]);
      expect((await oracle.metrics.lagBlocks.get()).values[0].value).to.equal(0);
    } finally {
      await oracle.stop();
    }
  });

  it("a slow RPC endpoint is not down until the grace period has passed; then the report says so", async function () {
    const f = await loadFixture(deployOracleFixture);
    const chain = await serveChainOverHttp();
    const proxy = await startRpcFaultProxy(chain.url);
    const provider = new ethersLib.JsonRpcProvider(proxy.url, f.chainId, { staticNetwork: true });
    const graceMs = 6000;
    const oracle = createOracle({
      provider,
      signer: f.members[0].connect(provider),
      addresses: f.addresses,
      model: f.model,
      // Scanning from the current head: in a full test run the shared chain is thousands of blocks long, and a lag
      // beyond ORACLE_HEALTH_MAX_LAG_BLOCKS would make the report unhealthy for a reason this test is not about.
      config: testConfig({ healthRpcGraceMs: graceMs, rpcTimeoutMs: 1000, startBlock: await ethers.provider.getBlockNumber() }),
      logger: pino({ level: "silent" }),
    });
    try {
      await oracle.init();
      const first = await oracle.health();
      expect(first, `healthy at first (problems: ${JSON.stringify(first.problems)})`).to.include({ healthy: true, chainReachable: true });
      // Every answer now takes longer than the probe waits (and than the grace period).
      proxy.faults.latencyMs = 3 * graceMs;
      const reports = [];
      const until = Date.now() + 3 * graceMs;
      while (Date.now() < until) {
        const report = await oracle.health();
        reports.push(report);
        if (!report.chainReachable) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(reports.at(-1)!.chainReachable, "unreachable in the end").to.equal(false);
      const slow = reports.slice(0, -1);
      expect(slow.length, "reports while slow but within the grace period").to.be.greaterThan(0);
      for (const r of slow) expect(r).to.include({ healthy: true, chainReachable: true });
      const failing = slow.filter((r) => r.chainFailingMs !== undefined);
      expect(failing.length, "reports with a failed probe, still healthy").to.be.greaterThan(0);
      for (const r of failing) expect(r.chainFailingMs as number).to.be.below(graceMs);
      const down = reports.at(-1)!;
      expect(down).to.include({ healthy: false, chainReachable: false });
      expect(down.chainFailingMs as number).to.be.at.least(graceMs);
      expect(down.problems).to.have.length(1);
      expect((down.problems as string[])[0]).to.match(
        /^the chain's RPC endpoint has not answered for [\d.]+ s \(ORACLE_HEALTH_RPC_GRACE_MS: 6 s\)$/,
      );
      // Back to normal: healthy at once.
      proxy.heal();
      expect(await oracle.health()).to.include({ healthy: true, chainReachable: true });
    } finally {
      await oracle.stop();
      provider.destroy();
      await proxy.close();
      await chain.close();
    }
  });

  it("refusals are split: late (already decided, normal in k-of-n) apart from refused for a reason (alert)", async function () {
    const metrics = createMetrics();
    const recorder = createTickRecorder({ metrics, log: pino({ level: "silent" }) }, 1);
    recorder.record({ claimId: 1n, outcome: "late" });
    recorder.record({ claimId: 2n, outcome: "late", txHash: "0xaa" });
    recorder.record({ claimId: 3n, outcome: "refused", reason: "reverted", message: "execution reverted" });
    expect(await counterValue(metrics.verdictsLate)).to.equal(2);
    expect(await counterValue(metrics.verdictsRefused)).to.equal(1);
    expect(await counterValue(metrics.verdictsRefused, { reason: "reverted" })).to.equal(1);
    const text = await metrics.registry.metrics();
    expect(text).to.match(/triad_oracle_verdicts_late_total 2/);
    expect(text).to.match(/triad_oracle_verdicts_refused_total\{reason="reverted"\} 1/);
  });
});
