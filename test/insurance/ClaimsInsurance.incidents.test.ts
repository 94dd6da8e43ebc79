import { expect } from "chai";
import { networkHelpers } from "@triad/devkit/network";
import { ClaimStatus, enumValues } from "@triad/sdk";
import { DAY, STANDARD_PRODUCT, UNIT, deployInsuranceFixture, type InsuranceFixture } from "@triad/devkit/insurance";
import { buyPolicy, evidence, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";

const { loadFixture, time } = networkHelpers;

/**
 * Issue 14, on-chain: no evidence and no incident is paid twice (IClaimsInsurance, docs/protocol.md §10.3). An
 * evidence hash is filed once, ever; a claim reserves its device's incident window [incidentAt − 600 s,
 * incidentAt + 900 s] (the fixture products' terms) from filing, across all the device's policies, in whole minutes,
 * and releases it only when it ends unpaid (Closed).
 */

const Status = enumValues(ClaimStatus);
const AMOUNT = 1_000n * UNIT;
const BEFORE = BigInt(STANDARD_PRODUCT.incidentWindowBefore);
const AFTER = BigInt(STANDARD_PRODUCT.incidentWindowAfter);
/** Minutes per word of the contract's bitmap. */
const WORD = 256n * 60n;

const windowOf = (incidentAt: bigint): [bigint, bigint] => [incidentAt - BEFORE, incidentAt + AFTER];

/** Decides `claimId` with two committee signatures (approved: full amount unless `payout`). */
async function decide(fx: InsuranceFixture, claimId: bigint, approved: boolean, payout?: bigint) {
  const v = await verdictFor(fx, claimId, approved, payout === undefined ? {} : { payout });
  return fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v));
}

/** Files on `policyId` at `incidentAt` with fresh evidence (`tag`); the transaction is returned, not awaited. */
async function fileAt(fx: InsuranceFixture, policyId: bigint, incidentAt: bigint, tag: string) {
  const now = BigInt(await time.latest());
  if (now < incidentAt + 60n) await time.increaseTo(incidentAt + 60n);
  const { evidenceHash, evidenceURI } = evidence(tag);
  return fx.claims.connect(fx.holder).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI);
}

/** The first instant from `from` on whose incident window ends exactly on a minute boundary (end % 60 == 0). */
const windowEndingOnAMinute = (from: bigint) => from + ((60n - ((from + AFTER) % 60n)) % 60n);

/** Fixture + a parametric policy (pays in the verdict's transaction) and a standard one on a second device. */
async function incidentsFixture() {
  const fx = await deployInsuranceFixture();
  const [secondDevice] = await registerDevices(fx, fx.holder, 1, "incidents");
  const parametric = await buyPolicy(fx, { productId: fx.parametricProductId, coverage: 5_000n * UNIT });
  const standard = await buyPolicy(fx, { device: secondDevice, coverage: 5_000n * UNIT });
  const coveredFrom = (await fx.claims.getPolicy(parametric)).start + DAY;
  await time.increaseTo(coveredFrom + 2n * WORD);
  return { ...fx, secondDevice, parametric, standard, coveredFrom };
}

describe("ClaimsInsurance: evidence and incidents are paid at most once", () => {
  describe("evidence used once", () => {
    it("refuses an evidence hash filed before, on any policy and any device, naming the earlier claim", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims, holder } = fx;
      const t = BigInt(await time.latest()) - 3_600n;
      await fileAt(fx, fx.parametric, t, "used-once");
      const { evidenceHash, evidenceURI } = evidence("used-once");
      expect(await claims.evidenceClaim(evidenceHash)).to.equal(1n);
      expect(await claims.evidenceClaim(evidence("never-filed").evidenceHash)).to.equal(0n);
      // Another device, another policy, another incident: still the same bundle.
      await expect(claims.connect(holder).fileClaim(fx.standard, AMOUNT, t, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsEvidenceAlreadyUsed")
        .withArgs(evidenceHash, 1n);
      // Rejected and closed: the evidence stays used (a bundle backs one claim, whatever became of it).
      await decide(fx, 1n, false);
      expect((await claims.getClaim(1n)).status).to.equal(Status.Closed);
      await expect(claims.connect(holder).fileClaim(fx.parametric, AMOUNT, t + 3_600n, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsEvidenceAlreadyUsed")
        .withArgs(evidenceHash, 1n);
    });

    it("refuses the same bundle on the same policy after it was paid (issue 14, first fraud)", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims, holder } = fx;
      const t = BigInt(await time.latest()) - 7_200n;
      await fileAt(fx, fx.parametric, t, "paid-bundle");
      await decide(fx, 1n, true);
      expect((await claims.getClaim(1n)).status).to.equal(Status.Paid);
      const { evidenceHash, evidenceURI } = evidence("paid-bundle");
      // The identical filing (same incident) and one that only moves the incident time are both refused.
      for (const incidentAt of [t, t + 3_600n]) {
        await expect(claims.connect(holder).fileClaim(fx.parametric, AMOUNT, incidentAt, evidenceHash, evidenceURI))
          .to.be.revertedWithCustomError(claims, "ClaimsEvidenceAlreadyUsed")
          .withArgs(evidenceHash, 1n);
      }
    });
  });

  describe("incident windows", () => {
    it("reserves [incidentAt − before, incidentAt + after] for the device at filing", async () => {
      const fx = await loadFixture(incidentsFixture);
      const t = BigInt(await time.latest()) - 3_600n;
      const tx = fileAt(fx, fx.parametric, t, "reserve");
      const [start, end] = windowOf(t);
      await expect(tx).to.emit(fx.claims, "IncidentWindowReserved").withArgs(1n, fx.device, start, end);
      await expect(tx).to.emit(fx.claims, "ClaimFiled");
    });

    it("refuses a window overlapping a paid one of the same device; disjoint windows and other devices are free", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims } = fx;
      const t = BigInt(await time.latest()) - 6n * 3_600n;
      await fileAt(fx, fx.parametric, t, "first");
      await decide(fx, 1n, true);
      // Any incident whose window meets the paid one, from either side.
      for (const [i, incidentAt] of [t, t - 660n, t + 600n, t - 1n, t + 1n].entries()) {
        const [start, end] = windowOf(incidentAt);
        await expect(fileAt(fx, fx.parametric, incidentAt, `overlap-${i}`))
          .to.be.revertedWithCustomError(claims, "ClaimsIncidentWindowTaken")
          .withArgs(fx.device, start, end);
      }
      // The same instant on another device is another incident.
      await expect(fileAt(fx, fx.standard, t, "other-device")).to.emit(claims, "ClaimFiled");
      // An hour later on the same device: a new incident.
      await expect(fileAt(fx, fx.parametric, t + 3_600n, "later")).to.emit(claims, "ClaimFiled");
    });

    it("refuses a window overlapping an open claim of another policy of the same device (a renewal)", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const { claims, insurer, holder } = fx;
      await claims.connect(insurer).createProduct({ ...STANDARD_PRODUCT, waitingPeriod: 0n });
      const productId = await claims.productCount();
      const first = await buyPolicy(fx, { productId });
      const { end } = await claims.getPolicy(first);
      await time.setNextBlockTimestamp(end);
      const renewal = await buyPolicy(fx, { productId });
      await time.increase(3_600n);
      await fileAt(fx, first, end - 1n, "before-renewal");
      const [start, windowEnd] = windowOf(end + 5n);
      await expect(fileAt(fx, renewal, end + 5n, "after-renewal"))
        .to.be.revertedWithCustomError(claims, "ClaimsIncidentWindowTaken")
        .withArgs(fx.device, start, windowEnd);
      expect((await claims.getClaim(1n)).status, "the first claim is still open").to.equal(Status.Filed);
      // The first minute after the open window's last one is free.
      const firstFree = ((end - 1n + AFTER) / 60n + 1n) * 60n + BEFORE;
      await expect(fileAt(fx, renewal, firstFree, "next-minute")).to.emit(claims, "ClaimFiled");
      expect(await claims.ownerOf(renewal)).to.equal(holder.address);
    });

    it("compares windows in whole minutes: sharing a minute is overlapping, the next minute is free", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims } = fx;
      const t = windowEndingOnAMinute(BigInt(await time.latest()) - 6n * 3_600n);
      await fileAt(fx, fx.parametric, t, "minute");
      await decide(fx, 1n, true);
      const end = t + AFTER; // a minute boundary: the window takes the minute starting at `end`
      expect(end % 60n).to.equal(0n);
      // A window starting 59 s after `end` shares its last minute; one starting 60 s after does not.
      await expect(fileAt(fx, fx.parametric, end + 59n + BEFORE, "same-minute")).to.be.revertedWithCustomError(
        claims,
        "ClaimsIncidentWindowTaken",
      );
      await expect(fileAt(fx, fx.parametric, end + 60n + BEFORE, "next-minute")).to.emit(claims, "ClaimFiled");
    });

    it("releases the window when the claim ends unpaid: rejected and settled", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims } = fx;
      const t = BigInt(await time.latest()) - 3_600n;
      await fileAt(fx, fx.standard, t, "rejected");
      await decide(fx, 1n, false);
      await time.increaseTo((await claims.getClaim(1n)).appealDeadline);
      const [start, end] = windowOf(t);
      await expect(claims.settle(1n)).to.emit(claims, "IncidentWindowReleased").withArgs(1n, fx.secondDevice, start, end);
      expect((await claims.getClaim(1n)).status).to.equal(Status.Closed);
      // The same incident can be claimed again, with other evidence.
      await expect(fileAt(fx, fx.standard, t, "refiled")).to.emit(claims, "IncidentWindowReserved");
    });

    it("releases the window of a parametric rejection in the verdict's transaction", async () => {
      const fx = await loadFixture(incidentsFixture);
      const t = BigInt(await time.latest()) - 3_600n;
      await fileAt(fx, fx.parametric, t, "parametric-rejected");
      const [start, end] = windowOf(t);
      await expect(decide(fx, 1n, false))
        .to.emit(fx.claims, "IncidentWindowReleased")
        .withArgs(1n, fx.device, start, end);
      await expect(fileAt(fx, fx.parametric, t, "parametric-refiled")).to.emit(fx.claims, "ClaimFiled");
    });

    it("releases the window of a claim the arbiter rejects after it expired without a verdict (escalated)", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims } = fx;
      const t = BigInt(await time.latest()) - 3_600n;
      await fileAt(fx, fx.standard, t, "expired");
      await time.increaseTo((await claims.getClaim(1n)).assessmentDeadline + 1n);
      await claims.escalate(1n);
      await expect(fileAt(fx, fx.standard, t + 60n, "while-escalated")).to.be.revertedWithCustomError(claims, "ClaimsClaimOpen");
      await expect(claims.connect(fx.arbiter).resolve(1n, false, 0n)).to.emit(claims, "IncidentWindowReleased");
      await expect(fileAt(fx, fx.standard, t + 60n, "after-resolve")).to.emit(claims, "ClaimFiled");
    });

    it("releases the window of an approval that pays nothing (payout within the deductible), keeps a paid one", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims } = fx;
      const deductible = BigInt(STANDARD_PRODUCT.deductible);
      const t = BigInt(await time.latest()) - 6n * 3_600n;
      await fileAt(fx, fx.standard, t, "within-deductible");
      await decide(fx, 1n, true, deductible);
      await time.increaseTo((await claims.getClaim(1n)).appealDeadline);
      await expect(claims.settle(1n)).to.emit(claims, "IncidentWindowReleased");
      expect((await claims.getClaim(1n)).status).to.equal(Status.Closed);
      await fileAt(fx, fx.standard, t, "paid-for-real");
      await decide(fx, 2n, true);
      await time.increaseTo((await claims.getClaim(2n)).appealDeadline);
      await expect(claims.settle(2n)).to.not.emit(claims, "IncidentWindowReleased");
      expect((await claims.getClaim(2n)).status).to.equal(Status.Paid);
      await expect(fileAt(fx, fx.standard, t, "paid-again")).to.be.revertedWithCustomError(claims, "ClaimsIncidentWindowTaken");
    });

    it("keeps windows exact across the bitmap's 256-minute words, for the longest window a product may set", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const { claims, insurer } = fx;
      // Product 3: parametric terms with a one-day window (MAX_INCIDENT_WINDOW), which spans up to 7 words.
      const DAY_BEFORE = DAY - 60n;
      await claims.connect(insurer).createProduct({
        ...STANDARD_PRODUCT,
        deductible: 0n,
        appealWindow: 0n,
        incidentWindowBefore: DAY_BEFORE,
        incidentWindowAfter: 60n,
      });
      await claims.connect(insurer).setProductModel(3n, fx.modelHash, true);
      const dayPolicy = await buyPolicy(fx, { productId: 3n, coverage: 5_000n * UNIT });
      const [paidDevice, releasedDevice] = await registerDevices(fx, fx.holder, 2, "words");
      const options = { productId: fx.parametricProductId, coverage: 5_000n * UNIT };
      const paid = await buyPolicy(fx, { ...options, device: paidDevice });
      const released = await buyPolicy(fx, { ...options, device: releasedDevice });
      await time.increase(4n * DAY);

      // A window across a word boundary (minute 256·k, at `boundary`): minutes 256k − 10 … 256k + 15.
      const boundary = ((BigInt(await time.latest()) - DAY) / WORD) * WORD;
      const straddle = boundary + 30n;
      const leftOnly = boundary - 1n - AFTER; // window ends at boundary − 1: minutes 256k − 26 … 256k − 1 (word k − 1)
      const rightOnly = boundary + 60n + BEFORE; // window starts at boundary + 60: minutes 256k + 1 … 256k + 26 (word k)
      // Paid: both words hold it.
      await fileAt(fx, paid, straddle, "straddle-paid");
      await decide(fx, await claims.claimCount(), true, 100n * UNIT);
      await expect(fileAt(fx, paid, leftOnly, "left-taken")).to.be.revertedWithCustomError(claims, "ClaimsIncidentWindowTaken");
      await expect(fileAt(fx, paid, rightOnly, "right-taken")).to.be.revertedWithCustomError(claims, "ClaimsIncidentWindowTaken");
      // Rejected: both words are cleared, so both neighbours fit (and do not overlap each other).
      await fileAt(fx, released, straddle, "straddle-rejected");
      await expect(decide(fx, await claims.claimCount(), false)).to.emit(claims, "IncidentWindowReleased");
      await fileAt(fx, released, leftOnly, "left-free");
      await decide(fx, await claims.claimCount(), true, 100n * UNIT);
      await expect(fileAt(fx, released, rightOnly, "right-free")).to.emit(claims, "ClaimFiled");

      // The one-day window, paid: refuses any incident whose window meets one of its 1,441 minutes.
      const dayIncident = BigInt(await time.latest()) - 3_600n;
      await fileAt(fx, dayPolicy, dayIncident, "one-day");
      await decide(fx, await claims.claimCount(), true, 100n * UNIT);
      const nextFree = ((dayIncident + 60n) / 60n + 1n) * 60n + DAY_BEFORE; // its window starts in the next minute
      await expect(fileAt(fx, dayPolicy, dayIncident - DAY, "one-day-before")).to.be.revertedWithCustomError(
        claims,
        "ClaimsIncidentWindowTaken",
      );
      await expect(fileAt(fx, dayPolicy, nextFree - 1n, "one-day-overlap")).to.be.revertedWithCustomError(
        claims,
        "ClaimsIncidentWindowTaken",
      );
      await expect(fileAt(fx, dayPolicy, nextFree, "one-day-next")).to.emit(claims, "ClaimFiled");
    });

    it("costs the same however many claims the device had: no loop a claimant can grow", async () => {
      const fx = await loadFixture(incidentsFixture);
      const { claims } = fx;
      const gas: bigint[] = [];
      // Start at a fixed place in the contract's 256-minute bitmap words, so that which filings cross a word boundary
      // does not depend on the time of day the test runs (it decided the comparison below once).
      const WORD = 256n * 60n;
      const start = ((fx.coveredFrom + 60n + WORD - 1n) / WORD) * WORD + 3_600n;
      for (let i = 0n; i < 30n; i++) {
        // Incidents an hour apart, a third of them paid (their windows stay): the device's history grows, the words
        // a filing touches do not.
        const receipt = await (await fileAt(fx, fx.parametric, start + i * 3_600n, `history-${i}`)).wait();
        gas.push(receipt!.gasUsed);
        const paid = i % 3n === 0n;
        await decide(fx, await claims.claimCount(), paid, paid ? 100n * UNIT : undefined);
      }
      const steady = gas.slice(1);
      const [low, high] = [steady.reduce((a, b) => (a < b ? a : b)), steady.reduce((a, b) => (a > b ? a : b))];
      // What varies is how many bitmap words the window touches (1 or 2 for this 26-minute window) and whether each
      // goes from zero to non-zero (about 20,000 gas more per word), never the length of the history.
      expect(high - low, `fileClaim gas ${low}..${high}`).to.be.lessThan(2n * 22_100n);
      const mean = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n) / BigInt(xs.length);
      expect(mean(gas.slice(20)), "no upward trend with the history").to.be.lessThanOrEqual(mean(gas.slice(1, 11)) + 5_000n);
    });
  });
});
