/**
 * The daemon's stage functions that need no chain: which blocks a tick scans, when the loop ticks again, which
 * claims are still open, and how a tick's outcomes are counted and logged. The stages that talk to the chain are
 * covered end to end by daemon.test.ts, receipts.test.ts and e2e/soak.test.ts.
 */
import { expect } from "chai";
import { captureLogger } from "@triad/devkit";
import { createMetrics, counterValue } from "../src/metrics.ts";
import { scanRange, type FiledClaim } from "../src/daemon/scan.ts";
import { nextDelay } from "../src/daemon/loop.ts";
import { claimState, type ClaimHistory } from "../src/daemon/lookups.ts";
import { createTickRecorder } from "../src/daemon/report.ts";

function filed(claimId: bigint, assessmentDeadline: bigint): FiledClaim {
  return { claimId, policyId: 1n, amount: 10n, incidentAt: 0n, assessmentDeadline, evidenceHash: "0x", evidenceURI: "", blockNumber: 1 };
}

describe("oracle daemon stages", function () {
  it("scans only confirmed blocks from the checkpoint, at most logBlockRange of them", function () {
    const config = { confirmations: 2, logBlockRange: 100 };
    expect(scanRange(config, 10, 11)).to.deep.equal({ kind: "idle", from: 10 });
    expect(scanRange(config, 10, 12)).to.deep.equal({ kind: "range", from: 10, to: 10 });
    expect(scanRange(config, 10, 50)).to.deep.equal({ kind: "range", from: 10, to: 48 });
    expect(scanRange(config, 10, 5000)).to.deep.equal({ kind: "range", from: 10, to: 109 });
  });

  it("catches up without pausing, polls when caught up, backs off exponentially after failures up to a minute", function () {
    const config = { pollIntervalMs: 500 };
    expect(nextDelay(config, 0, false)).to.equal(0);
    expect(nextDelay(config, 0, true)).to.equal(500);
    expect([1, 2, 3, 6, 7, 20].map((failures) => nextDelay(config, failures, true))).to.deep.equal([
      1000, 2000, 4000, 32_000, 32_000, 32_000,
    ]);
    expect(nextDelay({ pollIntervalMs: 5000 }, 6, false)).to.equal(60_000);
  });

  it("skips decided claims and claims past their deadline; the rest stay open", function () {
    const history: ClaimHistory = { decided: new Set(["1"]), signedByMe: new Map() };
    const now = 1000n;
    expect(claimState(filed(1n, 2000n), history, now)).to.deep.include({ kind: "skip", reason: "decided" });
    expect(claimState(filed(2n, 1000n), history, now)).to.deep.include({
      kind: "skip",
      reason: "deadline_passed",
      detail: { deadline: "1000" },
    });
    expect(claimState(filed(3n, 1001n), history, now)).to.deep.include({ kind: "open" });
  });

  it("counts each outcome once in the report and the metrics, with one structured log line per claim", async function () {
    const metrics = createMetrics();
    const { logger, lines } = captureLogger();
    const recorder = createTickRecorder({ metrics, log: logger }, 100);
    expect(recorder.report()).to.include({ fromBlock: 100, toBlock: 99, claims: 0, idle: true });
    recorder.scanned(120, 4);
    recorder.record({ claimId: 1n, outcome: "approved", reasonCode: 0, scoreBps: 9000, payout: 5n, txHash: "0xaa", finalised: true });
    recorder.record({
      claimId: 2n,
      outcome: "rejected",
      reason: "HASH_MISMATCH",
      reasonCode: 4,
      scoreBps: 0,
      payout: 0n,
      txHash: "0xaa",
      finalised: false,
    });
    recorder.record({ claimId: 3n, outcome: "skipped", reason: "deadline_passed", detail: { deadline: "7" } });
    recorder.record({ claimId: 4n, outcome: "refused", reason: "verdict_skipped", txHash: "0xaa" });
    recorder.transaction();
    const report = recorder.report();
    expect(report).to.include({
      fromBlock: 100,
      toBlock: 120,
      claims: 4,
      submitted: 2,
      approved: 1,
      rejected: 1,
      skipped: 1,
      transactions: 1,
      idle: false,
    });
    expect(report.outcomes.map((o) => o.claimId)).to.deep.equal([1n, 2n, 3n, 4n]);
    expect(await counterValue(metrics.verdictsSubmitted, { outcome: "approved" })).to.equal(1);
    expect(await counterValue(metrics.verdictsSubmitted, { outcome: "rejected" })).to.equal(1);
    expect(await counterValue(metrics.claimsSkipped, { reason: "deadline_passed" })).to.equal(1);
    expect(await counterValue(metrics.verdictsRefused)).to.equal(1);
    expect(lines.map((l) => [l.claimId, l.msg])).to.deep.equal([
      ["1", "verdict submitted"],
      ["2", "verdict submitted"],
      ["3", "claim skipped"],
      ["4", "verdict skipped by the contract (VerdictSkipped)"],
    ]);
    expect(lines[0]).to.include({ outcome: "approved", reasonCode: 0, payout: "5", finalised: true, tx: "0xaa" });
    expect(lines[1]).to.include({ outcome: "rejected", reasonCode: 4 });
    expect(lines[2]).to.include({ reason: "deadline_passed", deadline: "7" });
  });
});
