/**
 * Fault suite, an unreliable RPC endpoint: 30 % of the requests fail (HTTP 502 and JSON-RPC errors in real nodes'
 * wordings), or some requests are never answered. Every claim must still be decided exactly once, a hung request may
 * cost at most the request timeout (ORACLE_RPC_TIMEOUT_MS), and a flaky or slow chain is not reported as down.
 */
import { expect } from "chai";
import { expectDecidedOnce, FAULT_ENV, metric, faultScenarios, waitForHealthy, type FaultWorld } from "./helpers.ts";

describe("oracle faults: unreliable RPC endpoint (hardhat node, interval mining, real daemons)", function () {
  this.timeout(240_000);
  let w: FaultWorld;
  faultScenarios((world) => (w = world));

  it("decides every claim exactly once while 30 % of RPC requests fail, and /healthz stays 200 (flaky is not down)", async function () {
    const prepared = await w.prepare(6, "flaky");
    const daemons = await w.startCommittee();
    w.proxy.faults.failRate = 0.3;
    const ids = await w.file(prepared);
    const outcomes = await w.waitDecided(ids, 150_000);
    expectDecidedOnce(outcomes, prepared);
    const failed = [...w.proxy.injected.failed.values()].reduce((a, b) => a + b, 0);
    expect(failed, "requests failed on purpose").to.be.at.least(10);
    // Still flaky: five health checks in a row answer 200.
    for (const p of daemons) {
      for (let i = 0; i < 5; i++) {
        const h = await p.health();
        expect(h?.status, `member ${p.member} /healthz under 30 % RPC errors: ${JSON.stringify(h?.report)}`).to.equal(200);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  });

  it("a hung RPC request costs at most the request timeout: claims are decided, timeouts counted", async function () {
    const prepared = await w.prepare(3, "hung");
    const daemons = await w.startCommittee();
    // One in four reads of the chain's state and logs is never answered, eight in all.
    let n = 0;
    let hung = 0;
    const reads = ["eth_call", "eth_getLogs", "eth_blockNumber", "eth_getTransactionReceipt"];
    w.proxy.faults.hang = (r) => reads.includes(r.method) && hung < 8 && n++ % 4 === 0 && ++hung > 0;
    const ids = await w.file(prepared);
    // Without a request timeout one hung request stalls a tick for ethers' 300 s default: 60 s would not do.
    const outcomes = await w.waitDecided(ids, 60_000);
    expectDecidedOnce(outcomes, prepared);
    expect(
      [...w.proxy.injected.hung.values()].reduce((a, b) => a + b, 0),
      "requests left hanging",
    ).to.be.at.least(3);
    let timeouts = 0;
    for (const p of daemons) timeouts += (await metric(p, "rpc_timeouts_total")) ?? 0;
    expect(timeouts, `rpc_timeouts_total (ORACLE_RPC_TIMEOUT_MS=${FAULT_ENV.ORACLE_RPC_TIMEOUT_MS})`).to.be.at.least(1);
    w.proxy.heal();
    for (const p of daemons) await waitForHealthy(p, 30_000);
  });
});
