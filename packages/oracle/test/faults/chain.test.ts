/**
 * Fault suite, the chain under the daemon changes: the node is reset and the suite deployed again (as a user does after
 * restarting `hardhat node`), and a reorg deeper than the confirmation depth. The daemons must notice, rescan from a
 * safe point, and decide the claims of the chain as it is now, with the right verdicts.
 */
import { expect } from "chai";
import { claimReason } from "@triad/sdk";
import { CLAIM_STATUS, claimOutcomes, deployToNode, startChainNode } from "@triad/devkit";
import {
  BLOCK_TIME_MS,
  expectDecidedOnce,
  metric,
  faultScenarios,
  waitForHealthy,
  waitForUnhealthy,
  waitUntil,
  type FaultWorld,
} from "./helpers.ts";

describe("oracle faults: chain reset and deep reorg (hardhat node, interval mining, real daemons)", function () {
  this.timeout(300_000);
  let w: FaultWorld;
  faultScenarios((world) => (w = world));

  it("detects a reorg deeper than the confirmation depth and decides the claims again on the new branch", async function () {
    const prepared = await w.prepare(2, "reorg");
    // The daemons run (and have scanned blocks below the fork) before the claims are filed.
    const daemons = await w.startCommittee({ env: { ORACLE_CONFIRMATIONS: "2" } });
    const scanned = (await w.node.head()) + 4;
    await waitUntil("a few blocks scanned before the filings", async () => (await w.node.head()) >= scanned, 30_000);
    const ids = await w.file(prepared);
    const snapshot = await w.node.rpc<string>("evm_snapshot");
    const forkBlock = await w.node.head();
    const first = await w.waitDecided(ids);
    expectDecidedOnce(first, prepared);
    // Let the checkpoints move well past the verdicts and their depth.
    const decidedAt = Math.max(...first.flatMap((o) => o.finalisations.map((f) => f.block)));
    await waitUntil("6 blocks past the verdicts", async () => (await w.node.head()) >= decidedAt + 6, 60_000);
    await new Promise((r) => setTimeout(r, 3 * BLOCK_TIME_MS));

    // The reorg: back to the block after the filings; the verdicts are gone, the new branch grows again.
    expect(await w.node.rpc<boolean>("evm_revert", [snapshot])).to.equal(true);
    expect(await w.node.head()).to.equal(forkBlock);
    const reverted = await claimOutcomes(w.d, ids, forkBlock);
    expect(
      reverted.map((o) => o.status),
      "statuses right after the reorg",
    ).to.deep.equal(ids.map(() => CLAIM_STATUS.Filed));

    const outcomes = await w.waitDecided(ids, 120_000);
    expectDecidedOnce(outcomes, prepared);
    for (const o of outcomes) {
      expect(o.finalisations[0].block, `claim ${o.claimId} decided on the new branch`).to.be.greaterThan(forkBlock);
      expect(claimReason(o.finalisations[0].reason).name).to.be.oneOf(["APPROVED", "NO_FAILURE_DETECTED"]);
    }
    for (const p of daemons) {
      await waitForHealthy(p, 30_000);
      expect(await metric(p, "reorgs_total", { kind: "deep" }), `member ${p.member} reorgs_total{kind="deep"}`).to.be.at.least(1);
    }
  });

  it("after the node is reset and the suite deployed again, decides the new chain's claims (right verdicts, once each)", async function () {
    const prepared = await w.prepare(2, "before-reset");
    const daemons = await w.startCommittee();
    expectDecidedOnce(await w.waitDecided(await w.file(prepared)), prepared);
    await w.node.mine(300); // the old chain ran for a while: the checkpoints are far above the new chain's head
    const oldAddresses = w.d.addresses;

    // The reset: the node dies, a new one starts, the suite is deployed again; the daemons keep running.
    await w.node.stop("SIGKILL");
    const node = await startChainNode();
    w.node = node;
    w.proxy.target = node.url;
    // Until the suite is deployed again the daemons say so: unhealthy, a chain reset.
    for (const p of daemons) await waitForUnhealthy(p, /reset/i, 60_000);
    w.d.close();
    w.d = await deployToNode(node.url);
    expect(w.d.addresses, "the redeployment lands at the same addresses (same deployer, same nonces)").to.deep.equal(oldAddresses);
    await node.setMining(BLOCK_TIME_MS);
    // New devices under the same policy ids as the old chain's: a cache keyed by policy id alone gives wrong verdicts.
    const again = await w.prepare(2, "after-reset");
    const ids = await w.file(again);
    const outcomes = await w.waitDecided(ids, 120_000);
    expectDecidedOnce(outcomes, again);
    for (const p of daemons) {
      await waitForHealthy(p, 30_000);
      expect(await metric(p, "reorgs_total", { kind: "reset" }), `member ${p.member} reorgs_total{kind="reset"}`).to.be.at.least(1);
    }
  });
});
