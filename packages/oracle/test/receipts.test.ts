import { expect } from "chai";
import pino from "pino";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { buildRejectionVerdict, claimReasonCode, claimsDomain, signVerdict } from "@triad/sdk";
import { counterValue } from "../src/metrics.ts";
import { startEvidenceServer } from "../src/evidence-server.ts";
import { createOracle } from "../src/daemon.ts";
import { deployOracleFixture, testConfig } from "@triad/devkit";
import { normalRows, persistingFailureRows } from "@triad/devkit";

const { loadFixture } = networkHelpers;

describe("oracle: what a batch's receipt says", function () {
  it("an entry the contract skips (decided meanwhile) is counted as refused; the others as submitted, finalised", async function () {
    const f = await loadFixture(deployOracleFixture);
    const evidence = await startEvidenceServer({ port: 0 });
    const [a, b] = await f.insureNewDevices(["receipt-a", "receipt-b"]);
    const x = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: a.device });
    const y = await f.bundle([...normalRows(3, 20), ...persistingFailureRows("PWF")], { device: b.device });
    const xClaim = await f.fileClaim({ hash: x.hash, uri: evidence.put(x.bytes).uri, incidentAt: x.incidentAt, policy: a.policyId });
    const yClaim = await f.fileClaim({ hash: y.hash, uri: evidence.put(y.bytes).uri, incidentAt: y.incidentAt, policy: b.policyId });

    // While the daemon downloads X's evidence (after it checked which claims are decided), X gets decided elsewhere:
    // the 1-of-1 committee's member signs a rejection from another process (a committee where another member
    // decides alone would be no majority, audit I-4).
    let decidedByOther = false;
    const racingFetch: typeof fetch = async (input, init) => {
      if (!decidedByOther && String(input).includes(x.hash)) {
        decidedByOther = true;
        const claim = await f.claims.getClaim(xClaim);
        const verdict = buildRejectionVerdict(
          { claimId: xClaim, amount: claim.amount, evidenceHash: claim.evidenceHash, assessmentDeadline: claim.assessmentDeadline },
          f.model.modelHash,
          claimReasonCode("NO_FAILURE_DETECTED"),
        );
        const signature = await signVerdict(f.members[0], claimsDomain(f.chainId, f.addresses.claims), verdict);
        await (await f.claims.submitVerdict(verdict, [signature])).wait();
      }
      return fetch(input, init);
    };
    const oracle = createOracle({
      provider: ethers.provider,
      signer: f.members[0],
      addresses: f.addresses,
      model: f.model,
      config: testConfig(),
      logger: pino({ level: "silent" }),
      fetch: racingFetch,
    });
    try {
      const report = await oracle.tick();
      expect(decidedByOther).to.equal(true);
      expect(report).to.include({ claims: 2, submitted: 1, approved: 1, transactions: 1 });
      expect(await counterValue(oracle.metrics.verdictsRefused)).to.equal(1);
      // Both verdicts went out in one transaction; the receipt refused X's entry (VerdictSkipped) and finalised Y.
      expect(
        report.outcomes.map((o) => [o.claimId, o.outcome, o.reason, o.outcome === "approved" ? o.finalised : undefined]),
      ).to.deep.equal([
        [xClaim, "refused", "verdict_skipped", undefined],
        [yClaim, "approved", undefined, true],
      ]);
      const [yDecision] = await f.claims.queryFilter(f.claims.filters.VerdictFinalised(yClaim));
      expect(report.outcomes.map((o) => o.outcome !== "skipped" && o.txHash)).to.deep.equal([
        yDecision.transactionHash,
        yDecision.transactionHash,
      ]);
      // X stays decided by the other member's rejection.
      expect((await f.claims.getClaim(xClaim)).approved).to.equal(false);
    } finally {
      await oracle.stop();
      await evidence.close();
    }
  });
});
