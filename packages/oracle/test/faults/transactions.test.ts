/**
 * Fault suite, verdict transactions: real daemons (2 of the 2-of-3 committee) against a `hardhat node` with interval
 * mining, reaching it through an RPC fault proxy. A transaction dropped on its way, one priced out by a base-fee
 * spike, and a signer without gas money must never halt a daemon nor lose a claim.
 */
import { expect } from "chai";
import { Transaction, Wallet } from "ethers";
import { CLAIM_STATUS, claimOutcomes, hardhatAccountKey, NODE_ACCOUNTS } from "@triad/devkit";
import {
  daemonTails,
  expectDecidedOnce,
  metric,
  faultScenarios,
  waitForHealthy,
  waitForUnhealthy,
  waitUntil,
  type FaultWorld,
} from "./helpers.ts";

describe("oracle faults: verdict transactions (hardhat node, interval mining, real daemons)", function () {
  this.timeout(240_000);
  let w: FaultWorld;
  faultScenarios((world) => (w = world));

  it("re-broadcasts a dropped verdict transaction, and the claims are decided exactly once", async function () {
    const prepared = await w.prepare(2, "dropped");
    const daemons = await w.startCommittee();
    w.proxy.faults.dropRawTransactions = 2; // the first verdict transaction of each member never reaches the node
    const ids = await w.file(prepared);
    const outcomes = await w.waitDecided(ids);
    expectDecidedOnce(outcomes, prepared);
    expect(w.proxy.injected.dropped, "transactions swallowed by the proxy").to.have.length(2);
    expect(w.proxy.count("eth_sendRawTransaction"), "raw transactions sent (the dropped ones sent again)").to.be.greaterThan(2);
    let resent = 0;
    for (const p of daemons)
      resent += ((await metric(p, "tx_rebroadcasts_total")) ?? 0) + ((await metric(p, "tx_replacements_total")) ?? 0);
    expect(resent, "tx_rebroadcasts_total + tx_replacements_total of both members").to.be.at.least(2);
    for (const p of daemons) await waitForHealthy(p, 30_000);
  });

  it("replaces a verdict transaction underpriced by a base-fee spike with bumped fees, and the claims are decided", async function () {
    const prepared = await w.prepare(2, "underpriced");
    const daemons = await w.startCommittee();
    const seen = w.proxy.rawTransactions.length;
    const ids = await w.file(prepared);
    await w.node.setMining(0); // no blocks until both members' verdict transactions wait in the mempool
    await waitUntil("both members' verdict transactions", () => w.proxy.rawTransactions.length >= seen + 2, 60_000);
    const first = w.proxy.rawTransactions.slice(seen, seen + 2).map((raw) => Transaction.from(raw));
    const maxFee = first.reduce((m, t) => (t.maxFeePerGas! > m ? t.maxFeePerGas! : m), 0n);
    const spike = maxFee * 4n; // every pending verdict is now underpriced (below the cap of ORACLE_TX_MAX_FEE_GWEI)
    const hold = setInterval(
      () => void w.node.rpc("hardhat_setNextBlockBaseFeePerGas", [`0x${spike.toString(16)}`]).catch(() => undefined),
      100,
    );
    try {
      await w.node.rpc("hardhat_setNextBlockBaseFeePerGas", [`0x${spike.toString(16)}`]);
      await w.node.setMining(1000);
      // Held until a member re-sends one of its nonces with higher fees (a replacement), at most 40 s.
      await waitUntil(
        "a replacement of an underpriced verdict transaction (same sender and nonce, higher maxFeePerGas)",
        () =>
          w.proxy.rawTransactions
            .slice(seen + 2)
            .map((raw) => Transaction.from(raw))
            .some((t) => first.some((f) => f.from === t.from && f.nonce === t.nonce && t.maxFeePerGas! > f.maxFeePerGas!)),
        40_000,
      );
    } finally {
      clearInterval(hold);
    }
    const outcomes = await w.waitDecided(ids);
    expectDecidedOnce(outcomes, prepared);
    let replaced = 0;
    for (const p of daemons) replaced += (await metric(p, "tx_replacements_total")) ?? 0;
    expect(replaced, "tx_replacements_total of both members").to.be.at.least(1);
    for (const p of daemons) await waitForHealthy(p, 30_000);
  });

  it("pauses while a member has no gas money (503: out of funds, nothing decided nor lost), then decides every claim after a refill", async function () {
    const prepared = await w.prepare(2, "funds");
    const daemons = await w.startCommittee();
    const members = daemons.map((p) => new Wallet(hardhatAccountKey(NODE_ACCOUNTS.committee[p.member])).address);
    for (const m of members) await w.node.rpc("hardhat_setBalance", [m, "0x0"]);
    const ids = await w.file(prepared);
    for (const p of daemons) {
      await waitForUnhealthy(p, /fund/i, 60_000);
      expect(await metric(p, "out_of_funds"), `member ${p.member} out_of_funds`).to.equal(1);
    }
    // Paused, not lost: nothing decided, the claims still wait (the checkpoint did not move past them).
    const during = await claimOutcomes(w.d, ids);
    expect(
      during.map((o) => o.status),
      "statuses while out of funds",
    ).to.deep.equal(ids.map(() => CLAIM_STATUS.Filed));
    for (const m of members) await w.node.rpc("hardhat_setBalance", [m, `0x${(10n ** 20n).toString(16)}`]);
    const outcomes = await w.waitDecided(ids).catch((e: Error) => {
      throw new Error(`${e.message}\n${daemonTails(daemons)}`);
    });
    expectDecidedOnce(outcomes, prepared);
    for (const p of daemons) {
      await waitForHealthy(p, 60_000);
      expect(await metric(p, "out_of_funds"), `member ${p.member} out_of_funds after the refill`).to.equal(0);
    }
  });
});
