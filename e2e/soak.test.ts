import { expect } from "chai";
import { ClaimStatus, enumValue } from "@triad/sdk";
import type { ClaimOutcome, TickResult } from "@triad/oracle";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployOracleFixture, oracleFor } from "@triad/devkit";
import { captureLogger, normalRows, persistingFailureRows, startRawServer } from "@triad/devkit";
import { waitFor } from "@triad/devkit";
import { runSoak } from "@triad/devkit";

const { loadFixture, mine } = networkHelpers;

const FILED = enumValue(ClaimStatus, "Filed");

type Mined = Extract<ClaimOutcome, { outcome: "approved" | "rejected" }>;

/** The verdicts this member got mined, over the ticks seen (failed and abandoned ticks included), in order. */
function minedVerdicts(ticks: readonly TickResult[]): Mined[] {
  return ticks.flatMap((t) => t.report.outcomes.filter((o): o is Mined => o.outcome === "approved" || o.outcome === "rejected"));
}

describe("oracle under faults (e2e)", function () {
  it("a soak with a bounded backlog, the RPC endpoint unreachable for a while and the daemon killed twice decides every claim exactly once and the books balance", async function () {
    this.timeout(240_000); // a bound for a hung run, not a performance assertion
    const claimCount = Number(process.env.SOAK_TEST_CLAIMS ?? 240);
    const f = await loadFixture(deployOracleFixture);
    const result = await runSoak(f, {
      claims: claimCount,
      backlog: 60,
      outageMs: 3_000,
      readingsPerClaim: 6,
      timeoutMs: 180_000,
      progress: process.env.SOAK_VERBOSE ? (m) => console.log(`      soak: ${m}`) : undefined,
    });

    expect(result.findings).to.deep.equal([]);
    expect(result.claimIds).to.have.length(claimCount);
    // Half the claims are genuine (a persisting failure) and every one of them was approved and paid; the other half
    // (normal telemetry) rejected as NO_FAILURE_DETECTED and closed (each checked claim by claim in the findings).
    expect([result.approved, result.rejected]).to.deep.equal([Math.floor(claimCount / 2), Math.ceil(claimCount / 2)]);
    // The faults happened as scripted: two daemons killed, the third stopped gracefully; the restarts resumed from the
    // checkpoint; the outage reached the daemon (failed RPC requests) and it recovered.
    expect(result.daemons.map((d) => [d.stoppedWith, d.exitCode])).to.deep.equal([
      ["SIGKILL", null],
      ["SIGKILL", null],
      ["SIGTERM", 0],
    ]);
    expect(result.daemons.slice(1).every((d) => d.logs.some((l) => l.msg === "oracle resumed from checkpoint"))).to.equal(true);
    const during = result.daemons[1].logs;
    expect(
      during.some((l) => l.msg === "RPC request failed, retrying" || l.msg === "tick failed; retrying from the checkpoint"),
      "the daemon saw the outage",
    ).to.equal(true);
    expect(
      result.daemons.every((d) => d.logs.some((l) => l.msg === "verdict submitted")),
      "every daemon decided claims",
    ).to.equal(true);
  });

  it("a claim that vanishes in a reorg below the confirmation depth is never acted on", async function () {
    const CONFIRMATIONS = 3;
    const f = await loadFixture(deployOracleFixture);
    const [vanishing, replacement] = await f.insureNewDevices(["reorg-vanishing", "reorg-replacement"]);
    const x = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: vanishing.device });
    const y = await f.bundle([...normalRows(3, 10), ...persistingFailureRows("PWF")], { device: replacement.device });
    // Both bundles are served by a server that records what is fetched.
    const fetched: string[] = [];
    const evidence = await startRawServer((req, res) => {
      fetched.push(req.url!);
      const bytes = req.url === "/x" ? x.bytes : req.url === "/y" ? y.bytes : undefined;
      res.writeHead(bytes ? 200 : 404, { "content-type": "application/json" });
      res.end(bytes);
    });
    const { logger, lines } = captureLogger();
    const ticks: TickResult[] = [];
    const oracle = oracleFor(f, f.members[0], {
      config: { confirmations: CONFIRMATIONS, pollIntervalMs: 20, startBlock: (await ethers.provider.getBlockNumber()) + 1 },
      logger,
      onTick: (t) => ticks.push(t),
    });
    const gauge = async (g: typeof oracle.metrics.headBlock) => (await g.get()).values[0]?.value ?? -1;
    const xUri = `${evidence.url}/x`;
    let claimId = 0n;
    await oracle.start();
    try {
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      const xClaim = await f.fileClaim({ hash: x.hash, uri: xUri, incidentAt: x.incidentAt, policy: vanishing.policyId });
      const xBlock = await ethers.provider.getBlockNumber();
      await mine(CONFIRMATIONS - 1); // X is CONFIRMATIONS − 1 blocks deep: seen, not confirmed
      // The daemon has read a head with X in the chain and scanned up to the block before X.
      await waitFor(
        async () =>
          (await gauge(oracle.metrics.headBlock)) >= xBlock + CONFIRMATIONS - 1 && (await gauge(oracle.metrics.checkpointBlock)) === xBlock,
        "the daemon to see the head above X",
      );
      await new Promise((r) => setTimeout(r, 200)); // several more polls at that head
      expect(fetched, "X's evidence fetched before it was confirmed").to.deep.equal([]);

      // The reorg: X's block and the ones on top of it vanish; another chain grows past the confirmation depth, with a
      // different claim under the same id.
      await ethers.provider.send("evm_revert", [snapshot]);
      expect(await f.claims.claimCount()).to.equal(xClaim - 1n);
      claimId = await f.fileClaim({ hash: y.hash, uri: `${evidence.url}/y`, incidentAt: y.incidentAt, policy: replacement.policyId });
      expect(claimId, "the replacement claim reuses the vanished claim's id").to.equal(xClaim);
      await mine(CONFIRMATIONS + 2);
      await waitFor(async () => (await f.claims.getClaim(claimId)).status !== FILED, "the replacement claim to be decided");
    } finally {
      await oracle.stop();
      await evidence.close();
    }

    expect(fetched, "only the replacement claim's evidence is fetched, once").to.deep.equal(["/y"]);
    const claim = await f.claims.getClaim(claimId);
    expect([claim.policyId, claim.evidenceHash, claim.approved]).to.deep.equal([replacement.policyId, y.hash, true]);
    expect(await f.claims.queryFilter(f.claims.filters.VerdictSigned(claimId)), "one verdict signed for that claim id").to.have.length(1);
    // One verdict for that id, mined once: the replacement claim's, on its valid evidence (no evidence failure).
    expect(minedVerdicts(ticks).map((o) => [o.claimId, o.reason])).to.deep.equal([[claimId, undefined]]);
    // Nothing the daemon logged or counted refers to the vanished claim.
    expect(lines.filter((l) => JSON.stringify(l).includes(x.hash) || JSON.stringify(l).includes(xUri))).to.deep.equal([]);
    expect((await oracle.metrics.claimsSeen.get()).values[0].value, "claims read after the confirmation depth").to.equal(1);
  });

  it("a verdict transaction dropped by a reorg below the confirmation depth is submitted again", async function () {
    const CONFIRMATIONS = 2;
    const f = await loadFixture(deployOracleFixture);
    const [insured] = await f.insureNewDevices(["reorg-dropped-verdict"]);
    const b = await f.bundle([...normalRows(3), ...persistingFailureRows("OSF")], { device: insured.device });
    const served = await startRawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(b.bytes);
    });
    const { logger, lines } = captureLogger();
    const ticks: TickResult[] = [];
    const oracle = oracleFor(f, f.members[0], {
      config: { confirmations: CONFIRMATIONS, pollIntervalMs: 20, startBlock: (await ethers.provider.getBlockNumber()) + 1 },
      logger,
      onTick: (t) => ticks.push(t),
    });
    await oracle.start();
    let claimId = 0n;
    let droppedTx = "";
    try {
      claimId = await f.fileClaim({ hash: b.hash, uri: `${served.url}/e`, incidentAt: b.incidentAt, policy: insured.policyId });
      await mine(CONFIRMATIONS - 1);
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      await mine(1); // the claim is confirmed: the daemon decides it in the next block
      await waitFor(async () => (await f.claims.getClaim(claimId)).status !== FILED, "the verdict");
      const [first] = await f.claims.queryFilter(f.claims.filters.VerdictFinalised(claimId));
      droppedTx = first.transactionHash;
      // A reorg of two blocks — within the confirmation depth — takes the verdict's block away, and the node does not
      // re-include the transaction: the claim is Filed again.
      await ethers.provider.send("evm_revert", [snapshot]);
      expect((await f.claims.getClaim(claimId)).status).to.equal(FILED);
      expect(await ethers.provider.getTransactionReceipt(first.transactionHash)).to.equal(null);
      await waitFor(async () => {
        await mine(1); // the chain goes on
        return (await f.claims.getClaim(claimId)).status !== FILED;
      }, "the claim to be decided again");
      await mine(CONFIRMATIONS);
      await waitFor(
        async () => (await oracle.metrics.checkpointBlock.get()).values[0].value > first.blockNumber,
        "the checkpoint to pass the verdict",
      );
    } finally {
      await oracle.stop();
      await served.close();
    }
    expect(await f.claims.queryFilter(f.claims.filters.VerdictFinalised(claimId)), "decided once in the chain as it is").to.have.length(1);
    expect(
      lines.some((l) => l.msg === "tick failed; retrying from the checkpoint" && String(l.err).includes("dropped by a reorg")),
    ).to.equal(true);
    // Mined twice: by the tick that then failed because its transaction vanished, and by the tick that re-scanned.
    const mined = minedVerdicts(ticks);
    expect(mined.map((o) => o.claimId)).to.deep.equal([claimId, claimId]);
    expect(mined[0].txHash, "the first verdict is the dropped transaction").to.equal(droppedTx);
    // The re-submission may be byte-for-byte the dropped transaction (same nonce, data and fees: same hash) or a new
    // one; either way it is the one in the chain now.
    expect(await ethers.provider.getTransactionReceipt(mined[1].txHash!), "the re-submitted verdict is mined").to.not.equal(null);
    const reorged = ticks.filter((t) => t.kind === "failed" && String((t.error as Error).message).includes("dropped by a reorg"));
    expect(reorged).to.have.length(1);
    // With pipelining, the tick that notices the vanished transaction is a later one than the tick that mined it:
    // the failure names the dropped transaction.
    expect(String((reorged[0] as { error: Error }).error.message)).to.include(droppedTx);
  });
});
