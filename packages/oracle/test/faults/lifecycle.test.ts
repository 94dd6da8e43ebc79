/**
 * Fault suite, stopping a daemon mid-flight: SIGTERM while its verdict transaction is pending (it never gets mined)
 * must end the process within the shutdown bound; SIGKILL of both members while verdicts are on their way (one
 * transaction lands, one is lost), then a restart on the same checkpoints, must decide each claim exactly once.
 */
import { expect } from "chai";
import { CLAIM_STATUS, claimOutcomes } from "@triad/devkit";
import { BLOCK_TIME_MS, expectDecidedOnce, FAULT_ENV, metric, faultScenarios, waitUntil, type FaultWorld } from "./helpers.ts";

describe("oracle faults: SIGTERM and SIGKILL mid-flight (hardhat node, interval mining, real daemons)", function () {
  this.timeout(240_000);
  let w: FaultWorld;
  faultScenarios((world) => (w = world));

  it("SIGTERM while a verdict transaction is pending exits cleanly within ORACLE_SHUTDOWN_TIMEOUT_MS", async function () {
    const prepared = await w.prepare(1, "sigterm");
    const [daemon] = await w.startCommittee({ members: [0] });
    w.proxy.faults.dropRawTransactions = true; // the transaction is never mined: the submitter waits on it
    const seen = w.proxy.rawTransactions.length;
    await w.file(prepared);
    await waitUntil("the verdict transaction", () => w.proxy.rawTransactions.length > seen, 60_000);
    const bound = Number(FAULT_ENV.ORACLE_SHUTDOWN_TIMEOUT_MS);
    // The harness waits far longer than the bound before it would SIGKILL: a hang shows as the SIGKILL, not as a slow test.
    const { code, ms } = await daemon.stop("SIGTERM", bound + 20_000);
    expect(code, `exit code after SIGTERM (took ${ms} ms; bound ${bound} ms)\n${daemon.stdout.slice(-5).join("\n")}`).to.equal(0);
    expect(ms, "the process ended before the harness had to SIGKILL it").to.be.below(bound + 20_000);
  });

  it("SIGKILL of both members with verdicts in flight (one landed, one lost), then a restart on the same checkpoints: each claim decided exactly once", async function () {
    const prepared = await w.prepare(4, "sigkill");
    const daemons = await w.startCommittee();
    w.proxy.faults.dropRawTransactions = 1; // the first member's verdict transaction is lost with it, the other lands
    const seen = w.proxy.rawTransactions.length;
    const ids = await w.file(prepared);
    await waitUntil("verdict transactions of both members", () => w.proxy.rawTransactions.length >= seen + 2, 60_000, 20);
    await Promise.all(daemons.map((p) => p.stop("SIGKILL")));
    w.daemons.splice(0);
    // One signature each at most: nothing is decided until the restarted members finish the job.
    await new Promise((r) => setTimeout(r, 3 * BLOCK_TIME_MS));
    const during = await claimOutcomes(w.d, ids);
    expect(
      during.map((o) => o.status),
      "statuses after the SIGKILL",
    ).to.deep.equal(ids.map(() => CLAIM_STATUS.Filed));
    const restarted = [];
    for (const p of daemons) restarted.push(await w.restart(p));
    const outcomes = await w.waitDecided(ids, 90_000);
    expectDecidedOnce(outcomes, prepared);
    // No verdict refused for a reason: a restart does not sign or send what is already decided.
    for (const p of restarted) {
      expect((await metric(p, "verdicts_refused_total")) ?? 0, `member ${p.member} verdicts_refused_total after the restart`).to.equal(0);
    }
  });
});
