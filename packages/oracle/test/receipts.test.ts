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
  it("an entry the contract skips because the claim was decided meanwhile is late; the others submitted, finalised", async function () {
    const f = await loadFixture(deployOracleFixture);
    const evidence = await startEvidenceServer({ port: 0 });
    const [a, b] = await f.insureNewDevices(["receipt-a", "receipt-b"]);
    const x = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: a.device });
    const y = await f.bundle([...normalRows(3, 20), ...persistingFailureRows("PWF")], { device: b.device });
    const xClaim = await f.fileClaim({ hash: x.hash, uri: evidence.put(x.bytes).uri, incidentAt: x.incidentAt, policy: a.policyId });
    const yClaim = await f.fileClaim({ hash: y.hash, uri: evidence.put(y.bytes).uri, incidentAt: y.incidentAt, policy: b.policyId });

    // While the daemon hands its batch to the node (after it checked which claims are decided, even just before
    // sending), X gets decided elsewhere: the 1-of-1 committee's member signs a rejection from another process (a
    // committee where another member decides alone would be no majority, audit I-4).
    let decidedByOther = false;
    const decideX = async () => {
      if (!decidedByOther) {
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
    };
    const racingProvider = new Proxy(ethers.provider, {
      get(target, prop) {
        if (prop === "broadcastTransaction") {
          return async (raw: string) => {
            await decideX();
            return target.broadcastTransaction(raw);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const oracle = createOracle({
      provider: racingProvider,
      signer: f.members[0],
      addresses: f.addresses,
      model: f.model,
      config: testConfig(),
      logger: pino({ level: "silent" }),
    });
    try {
      const report = await oracle.tick();
      expect(decidedByOther).to.equal(true);
      expect(report).to.include({ claims: 2, submitted: 1, approved: 1, transactions: 1 });
      expect(await counterValue(oracle.metrics.verdictsRefused)).to.equal(0);
      expect(await counterValue(oracle.metrics.verdictsLate)).to.equal(1);
      // Both verdicts went out in one transaction; the receipt skipped X's entry (VerdictSkipped: ClaimsUnexpectedStatus,
      // the claim was decided already: late, not a refusal) and finalised Y.
      expect(
        report.outcomes.map((o) => [o.claimId, o.outcome, o.reason, o.outcome === "approved" ? o.finalised : undefined]),
      ).to.deep.equal([
        [xClaim, "late", undefined, undefined],
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
