import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ClaimStatus, enumValues } from "@triad/sdk";
import { DAY, STANDARD_PRODUCT, UNIT, deployInsuranceFixture, type InsuranceFixture } from "@triad/devkit/insurance";
import { DEFAULT_COVERAGE, buyPolicy, evidence, fileClaim, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";

const { loadFixture, mine, time } = networkHelpers;

const Status = enumValues(ClaimStatus);
const AMOUNT = 1_000n * UNIT;
const DEPOSIT = BigInt(STANDARD_PRODUCT.claimDeposit);
const DEDUCTIBLE = BigInt(STANDARD_PRODUCT.deductible);
const WAITING = BigInt(STANDARD_PRODUCT.waitingPeriod);
const CLAIM_WINDOW = BigInt(STANDARD_PRODUCT.claimWindow);

/** The pool's books: LP equity + reserved payouts + unearned premium (== its token balance; time does not move it). */
async function booksOf(fx: InsuranceFixture): Promise<bigint> {
  const { pool } = fx;
  return (await pool.totalAssets()) + (await pool.reservedPayouts()) + (await pool.unearnedPremiums());
}

/** Fixture + a standard-product policy (policy 1), nothing filed. */
async function policyFixture() {
  const fx = await deployInsuranceFixture();
  const policyId = await buyPolicy(fx);
  const policy = await fx.claims.getPolicy(policyId);
  return { ...fx, policyId, policy };
}

/** Fixture + claim 1 (1,000 tUSD) filed on policy 1. */
async function filedFixture() {
  const fx = await policyFixture();
  const filed = await fileClaim(fx, fx.policyId, { amount: AMOUNT });
  return { ...fx, ...filed };
}

/** Decides `claimId` with two committee signatures. */
async function decide(fx: InsuranceFixture, claimId: bigint, approved: boolean, payout?: bigint) {
  const v = await verdictFor(fx, claimId, approved, payout === undefined ? {} : { payout });
  await fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v));
}

async function approvedFixture() {
  const fx = await filedFixture();
  await decide(fx, fx.claimId, true);
  return fx;
}

async function rejectedFixture() {
  const fx = await filedFixture();
  await decide(fx, fx.claimId, false);
  return fx;
}

async function partialFixture() {
  const fx = await filedFixture();
  await decide(fx, fx.claimId, true, 400n * UNIT);
  return fx;
}

async function afterAppealWindow(fx: InsuranceFixture, claimId: bigint) {
  await time.increaseTo((await fx.claims.getClaim(claimId)).appealDeadline);
}

describe("ClaimsInsurance: claims, appeals, settlement, pause", () => {
  describe("fileClaim", () => {
    it("records the claim, takes the deposit and emits ClaimFiled exactly as declared", async () => {
      const fx = await loadFixture(policyFixture);
      const { claims, token, holder, device, policyId, policy } = fx;
      const incidentAt = policy.start + WAITING + 10n;
      const filedAt = incidentAt + 3_600n;
      const { evidenceHash, evidenceURI } = evidence("file");
      await time.setNextBlockTimestamp(filedAt);
      const tx = claims.connect(holder).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI);
      const deadline = filedAt + BigInt(STANDARD_PRODUCT.assessmentWindow);
      await expect(tx)
        .to.emit(claims, "ClaimFiled")
        .withArgs(1n, policyId, device, holder.address, AMOUNT, incidentAt, deadline, evidenceHash, evidenceURI);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, claims], [-DEPOSIT, DEPOSIT]);
      const c = await claims.getClaim(1n);
      expect(c.policyId).to.equal(policyId);
      expect(c.claimant).to.equal(holder.address);
      expect(c.amount).to.equal(AMOUNT);
      expect(c.deposit).to.equal(DEPOSIT);
      expect(c.payout).to.equal(0n);
      expect(c.incidentAt).to.equal(incidentAt);
      expect(c.filedAt).to.equal(filedAt);
      expect(c.assessmentDeadline).to.equal(deadline);
      expect(c.appealDeadline).to.equal(0n);
      expect(c.status).to.equal(Status.Filed);
      expect(c.evidenceHash).to.equal(evidenceHash);
      expect(c.modelHash).to.equal(ethers.ZeroHash);
      expect(c.evidenceURI).to.equal(evidenceURI);
      expect((await claims.getPolicy(policyId)).openClaimId).to.equal(1n);
      expect(await claims.claimCount()).to.equal(1n);
    });

    it("is only for the current holder of an existing policy", async () => {
      const fx = await loadFixture(policyFixture);
      const { claims, holder, other, policyId, policy } = fx;
      const incidentAt = policy.start + WAITING;
      await time.increaseTo(incidentAt);
      const { evidenceHash, evidenceURI } = evidence("x");
      await expect(claims.connect(holder).fileClaim(99n, AMOUNT, incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsUnknownPolicy")
        .withArgs(99n);
      await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsNotPolicyHolder")
        .withArgs(policyId, other.address, holder.address);
      await claims.connect(holder).transferFrom(holder.address, other.address, policyId);
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsNotPolicyHolder")
        .withArgs(policyId, holder.address, other.address);
      await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    });

    it("allows one open claim per policy", async () => {
      const fx = await loadFixture(filedFixture);
      const { evidenceHash, evidenceURI } = evidence("second");
      await expect(fx.claims.connect(fx.holder).fileClaim(fx.policyId, AMOUNT, fx.incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsClaimOpen")
        .withArgs(fx.policyId, fx.claimId);
    });

    it("requires 0 < amount <= remaining coverage", async () => {
      const fx = await loadFixture(policyFixture);
      const { claims, holder, policyId, policy } = fx;
      const incidentAt = policy.start + WAITING;
      await time.increaseTo(incidentAt);
      const { evidenceHash, evidenceURI } = evidence("x");
      await expect(claims.connect(holder).fileClaim(policyId, 0n, incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidAmount")
        .withArgs(policyId, 0n, DEFAULT_COVERAGE);
      await expect(claims.connect(holder).fileClaim(policyId, DEFAULT_COVERAGE + 1n, incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidAmount")
        .withArgs(policyId, DEFAULT_COVERAGE + 1n, DEFAULT_COVERAGE);
    });

    it("requires the incident inside [start + waitingPeriod, end), not in the future, filed within the claim window", async () => {
      const fx = await loadFixture(policyFixture);
      const { claims, holder, policyId, policy } = fx;
      const from = policy.start + WAITING;
      const { evidenceHash, evidenceURI } = evidence("x");
      await time.increaseTo(from + 100n);
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, from - 1n, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsIncidentNotCovered")
        .withArgs(policyId, from - 1n, from, policy.end);
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, policy.end + 1n, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsIncidentNotCovered")
        .withArgs(policyId, policy.end + 1n, from, policy.end);
      // Half-open (L-2): the instant `end` belongs to a renewal, not to this policy.
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, policy.end, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsIncidentNotCovered")
        .withArgs(policyId, policy.end, from, policy.end);
      await time.setNextBlockTimestamp(from + 200n);
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, from + 201n, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsIncidentInFuture")
        .withArgs(from + 201n, from + 200n);
      await time.setNextBlockTimestamp(from + CLAIM_WINDOW + 1n);
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, from, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsClaimWindowClosed")
        .withArgs(policyId, from, from + CLAIM_WINDOW);
      // The last second of the window still works.
      await time.setNextBlockTimestamp(from + 2n + CLAIM_WINDOW);
      await expect(claims.connect(holder).fileClaim(policyId, AMOUNT, from + 2n, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    });

    it("requires evidence", async () => {
      const fx = await loadFixture(policyFixture);
      const incidentAt = fx.policy.start + WAITING;
      await time.increaseTo(incidentAt);
      await expect(
        fx.claims.connect(fx.holder).fileClaim(fx.policyId, AMOUNT, incidentAt, ethers.ZeroHash, "u"),
      ).to.be.revertedWithCustomError(fx.claims, "ClaimsZeroEvidence");
    });
  });

  describe("settlement", () => {
    it("pays payout - deductible to the holder after the appeal window and refunds the deposit", async () => {
      const fx = await loadFixture(approvedFixture);
      const { claims, pool, token, holder, other, claimId, policyId } = fx;
      const { appealDeadline } = await claims.getClaim(claimId);
      await time.setNextBlockTimestamp(appealDeadline - 1n);
      await expect(claims.settle(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsAppealWindowOpen")
        .withArgs(claimId, appealDeadline, appealDeadline - 1n);
      // Hardhat 3 estimates gas first, so a reverting transaction is never mined; mine the block it took in Hardhat 2.
      await mine();
      const paid = AMOUNT - DEDUCTIBLE;
      const locked = await pool.lockedAssets();
      const books = await booksOf(fx);
      // Reserved since the approval: the share price already carries the loss.
      expect(await pool.reservedPayouts()).to.equal(paid);
      const tx = claims.connect(other).settle(claimId); // anyone may settle
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Paid, paid, DEPOSIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims, other], [paid + DEPOSIT, -paid, -DEPOSIT, 0n]);
      expect(await pool.lockedAssets()).to.equal(locked - paid);
      expect(await booksOf(fx)).to.equal(books - paid);
      expect(await pool.reservedPayouts()).to.equal(0n);
      expect((await claims.getClaim(claimId)).status).to.equal(Status.Paid);
      const policy = await claims.getPolicy(policyId);
      expect([policy.paidOut, policy.openClaimId, policy.released]).to.deep.equal([paid, 0n, false]);
      await expect(claims.settle(claimId)).to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus").withArgs(claimId, Status.Paid);
    });

    it("closes a rejection and sends the deposit to the pool", async () => {
      const fx = await loadFixture(rejectedFixture);
      const { claims, pool, token, holder, claimId, policyId } = fx;
      await afterAppealWindow(fx, claimId);
      const books = await booksOf(fx);
      const tx = claims.settle(claimId);
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Closed, 0n, 0n);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims], [0n, DEPOSIT, -DEPOSIT]);
      // Booked as unearned, earned over one withdrawal cooldown (docs/protocol.md §12.2).
      expect(await booksOf(fx)).to.equal(books + DEPOSIT);
      expect((await claims.getPolicy(policyId)).openClaimId).to.equal(0n);
    });

    it("closes an approval that does not exceed the deductible, refunding the deposit", async () => {
      const fx = await loadFixture(filedFixture);
      await decide(fx, fx.claimId, true, DEDUCTIBLE);
      await afterAppealWindow(fx, fx.claimId);
      const tx = fx.claims.settle(fx.claimId);
      await expect(tx).to.emit(fx.claims, "ClaimSettled").withArgs(fx.claimId, fx.holder.address, Status.Closed, 0n, DEPOSIT);
      await expect(tx).to.changeTokenBalances(ethers, fx.token, [fx.holder, fx.pool], [DEPOSIT, 0n]);
    });

    it("pays whoever holds the policy token at settlement", async () => {
      const fx = await loadFixture(approvedFixture);
      await fx.claims.connect(fx.holder).transferFrom(fx.holder.address, fx.other.address, fx.policyId);
      await afterAppealWindow(fx, fx.claimId);
      await expect(fx.claims.settle(fx.claimId)).to.changeTokenBalances(
        ethers,
        fx.token,
        [fx.holder, fx.other],
        [0n, AMOUNT - DEDUCTIBLE + DEPOSIT],
      );
    });

    it("refuses to settle undecided claims", async () => {
      const fx = await loadFixture(filedFixture);
      await expect(fx.claims.settle(fx.claimId))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsUnexpectedStatus")
        .withArgs(fx.claimId, Status.Filed);
      await expect(fx.claims.settle(42n)).to.be.revertedWithCustomError(fx.claims, "ClaimsUnexpectedStatus").withArgs(42n, Status.None);
    });

    it("lets the policy claim again after a settlement, up to the remaining coverage, then releases it when exhausted", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const { claims, pool } = fx;
      // Parametric product: no deductible, so claims can use up the whole coverage.
      const policyId = await buyPolicy(fx, { productId: fx.parametricProductId, coverage: 2_000n * UNIT });
      const first = await fileClaim(fx, policyId, { amount: 1_500n * UNIT, tag: "a" });
      await decide(fx, first.claimId, true);
      const { evidenceHash, evidenceURI } = evidence("b");
      // Another incident: the first one's window stays taken once paid (see ClaimsInsurance.incidents.test.ts).
      const secondIncident = first.incidentAt + 3_600n;
      await expect(claims.connect(fx.holder).fileClaim(policyId, 501n * UNIT, secondIncident, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidAmount")
        .withArgs(policyId, 501n * UNIT, 500n * UNIT);
      await claims.connect(fx.holder).fileClaim(policyId, 500n * UNIT, secondIncident, evidenceHash, evidenceURI);
      await decide(fx, 2n, true);
      const policy = await claims.getPolicy(policyId);
      expect([policy.paidOut, policy.released]).to.deep.equal([2_000n * UNIT, true]);
      expect(await pool.lockedAssets()).to.equal(0n);
      await expect(claims.connect(fx.holder).fileClaim(policyId, 1n, first.incidentAt, evidenceHash, evidenceURI))
        .to.be.revertedWithCustomError(claims, "ClaimsCoverageReleased")
        .withArgs(policyId);
    });
  });

  describe("products without a claim deposit", () => {
    /** Fixture + product 3 (the standard terms, no claim deposit), a policy on it and a 1,000 tUSD claim filed. */
    async function noDepositFixture() {
      const fx = await deployInsuranceFixture();
      await fx.claims.connect(fx.insurer).createProduct({ ...STANDARD_PRODUCT, claimDeposit: 0n });
      await fx.claims.connect(fx.insurer).setProductModel(3n, fx.modelHash, true);
      const policyId = await buyPolicy(fx, { productId: 3n });
      const balances = [await fx.token.balanceOf(fx.holder.address), await fx.token.balanceOf(await fx.claims.getAddress())];
      const filed = await fileClaim(fx, policyId, { amount: AMOUNT });
      return { ...fx, policyId, balances, ...filed };
    }

    it("files a claim without moving tokens", async () => {
      const { claims, token, holder, balances, claimId } = await loadFixture(noDepositFixture);
      expect(await token.balanceOf(holder.address)).to.equal(balances[0]);
      expect(await token.balanceOf(await claims.getAddress())).to.equal(balances[1]);
      const claim = await claims.getClaim(claimId);
      expect([claim.status, claim.amount, claim.deposit]).to.deep.equal([Status.Filed, AMOUNT, 0n]);
    });

    it("closes a rejection with nothing forfeited to the pool", async () => {
      const fx = await loadFixture(noDepositFixture);
      const { claims, pool, token, holder, claimId } = fx;
      await decide(fx, claimId, false);
      await afterAppealWindow(fx, claimId);
      const books = await booksOf(fx);
      const tx = claims.settle(claimId);
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Closed, 0n, 0n);
      await expect(tx).not.to.emit(pool, "DepositForfeited");
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims], [0n, 0n, 0n]);
      expect(await booksOf(fx)).to.equal(books);
    });

    it("pays an approval minus the deductible and refunds nothing", async () => {
      const fx = await loadFixture(noDepositFixture);
      const { claims, pool, token, holder, claimId } = fx;
      await decide(fx, claimId, true);
      await afterAppealWindow(fx, claimId);
      const paid = AMOUNT - DEDUCTIBLE;
      const tx = claims.settle(claimId);
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Paid, paid, 0n);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims], [paid, -paid, 0n]);
    });
  });

  describe("appeals", () => {
    it("lets the holder appeal a rejection; the arbiter's decision is final and settled at once", async () => {
      const fx = await loadFixture(rejectedFixture);
      const { claims, token, pool, holder, arbiter, claimId } = fx;
      await expect(claims.connect(holder).appeal(claimId))
        .to.emit(claims, "ClaimAppealed")
        .withArgs(claimId, holder.address, Status.Rejected);
      expect((await claims.getClaim(claimId)).status).to.equal(Status.Appealed);
      await afterAppealWindow(fx, claimId);
      await expect(claims.settle(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus")
        .withArgs(claimId, Status.Appealed);
      const tx = claims.connect(arbiter).resolve(claimId, true, 800n * UNIT);
      await expect(tx)
        .to.emit(claims, "ClaimResolved")
        .withArgs(claimId, true, 800n * UNIT, arbiter.address);
      await expect(tx)
        .to.emit(claims, "ClaimSettled")
        .withArgs(claimId, holder.address, Status.Paid, 800n * UNIT - DEDUCTIBLE, DEPOSIT);
      await expect(tx).to.changeTokenBalances(
        ethers,
        token,
        [holder, pool],
        [800n * UNIT - DEDUCTIBLE + DEPOSIT, -(800n * UNIT - DEDUCTIBLE)],
      );
      const c = await claims.getClaim(claimId);
      expect([c.status, c.approved, c.payout]).to.deep.equal([Status.Paid, true, 800n * UNIT]);
      await expect(claims.connect(arbiter).resolve(claimId, true, 1n))
        .to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus")
        .withArgs(claimId, Status.Paid);
    });

    it("lets the holder appeal a partial payout but not a full one", async () => {
      const fx = await loadFixture(partialFixture);
      await expect(fx.claims.connect(fx.holder).appeal(fx.claimId))
        .to.emit(fx.claims, "ClaimAppealed")
        .withArgs(fx.claimId, fx.holder.address, Status.Approved);
      const full = await loadFixture(approvedFixture);
      await expect(full.claims.connect(full.holder).appeal(full.claimId))
        .to.be.revertedWithCustomError(full.claims, "ClaimsNothingToAppeal")
        .withArgs(full.claimId, AMOUNT, AMOUNT);
    });

    it("only the holder appeals, only within the window, only decided claims", async () => {
      const fx = await loadFixture(rejectedFixture);
      const { claims, holder, other, claimId } = fx;
      await expect(claims.connect(other).appeal(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsNotPolicyHolder")
        .withArgs(fx.policyId, other.address, holder.address);
      const { appealDeadline } = await claims.getClaim(claimId);
      await time.setNextBlockTimestamp(appealDeadline);
      await expect(claims.connect(holder).appeal(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsAppealWindowClosed")
        .withArgs(claimId, appealDeadline, appealDeadline);
      const filed = await loadFixture(filedFixture);
      await expect(filed.claims.connect(filed.holder).appeal(filed.claimId))
        .to.be.revertedWithCustomError(filed.claims, "ClaimsUnexpectedStatus")
        .withArgs(filed.claimId, Status.Filed);
    });

    it("lets the insurer challenge an approval; a rejection by the arbiter forfeits the deposit", async () => {
      const fx = await loadFixture(approvedFixture);
      const { claims, token, pool, holder, insurer, arbiter, claimId } = fx;
      await expect(claims.connect(insurer).challenge(claimId))
        .to.emit(claims, "ClaimAppealed")
        .withArgs(claimId, insurer.address, Status.Approved);
      const tx = claims.connect(arbiter).resolve(claimId, false, 0n);
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Closed, 0n, 0n);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims], [0n, DEPOSIT, -DEPOSIT]);
    });

    it("limits challenges to the insurer, to approvals, within the window", async () => {
      const fx = await loadFixture(approvedFixture);
      const { claims, insurer, other, claimId } = fx;
      await expect(claims.connect(other).challenge(claimId))
        .to.be.revertedWithCustomError(claims, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, await claims.INSURER_ROLE());
      const { appealDeadline } = await claims.getClaim(claimId);
      await time.setNextBlockTimestamp(appealDeadline);
      await expect(claims.connect(insurer).challenge(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsAppealWindowClosed")
        .withArgs(claimId, appealDeadline, appealDeadline);
      const rejected = await loadFixture(rejectedFixture);
      await expect(rejected.claims.connect(rejected.insurer).challenge(rejected.claimId))
        .to.be.revertedWithCustomError(rejected.claims, "ClaimsUnexpectedStatus")
        .withArgs(rejected.claimId, Status.Rejected);
    });

    it("bounds the arbiter's payout and restricts resolve to the arbiter", async () => {
      const fx = await loadFixture(rejectedFixture);
      const { claims, holder, arbiter, other, claimId } = fx;
      await expect(claims.connect(arbiter).resolve(claimId, true, AMOUNT))
        .to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus")
        .withArgs(claimId, Status.Rejected);
      await claims.connect(holder).appeal(claimId);
      await expect(claims.connect(arbiter).resolve(claimId, true, AMOUNT + 1n))
        .to.be.revertedWithCustomError(claims, "ClaimsPayoutTooHigh")
        .withArgs(claimId, AMOUNT + 1n, AMOUNT);
      await expect(claims.connect(arbiter).resolve(claimId, false, 1n))
        .to.be.revertedWithCustomError(claims, "ClaimsPayoutTooHigh")
        .withArgs(claimId, 1n, 0n);
      await expect(claims.connect(other).resolve(claimId, true, AMOUNT))
        .to.be.revertedWithCustomError(claims, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, await claims.ARBITER_ROLE());
    });
  });

  describe("escalation", () => {
    it("sends a claim without a verdict by its deadline to the arbiter (anyone may escalate)", async () => {
      const fx = await loadFixture(filedFixture);
      const { claims, token, holder, other, arbiter, claimId } = fx;
      const { assessmentDeadline } = await claims.getClaim(claimId);
      await time.setNextBlockTimestamp(assessmentDeadline);
      await expect(claims.connect(other).escalate(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsAssessmentPending")
        .withArgs(claimId, assessmentDeadline, assessmentDeadline);
      // Hardhat 3 estimates gas first, so a reverting transaction is never mined; mine the block it took in Hardhat 2.
      await mine();
      await expect(claims.connect(other).escalate(claimId)).to.emit(claims, "ClaimEscalated").withArgs(claimId, other.address);
      expect((await claims.getClaim(claimId)).status).to.equal(Status.Escalated);
      // The committee can no longer decide it.
      const v = await verdictFor(fx, claimId, true);
      await expect(claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus")
        .withArgs(claimId, Status.Escalated);
      await expect(claims.escalate(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus")
        .withArgs(claimId, Status.Escalated);
      await expect(claims.connect(arbiter).resolve(claimId, true, AMOUNT)).to.changeTokenBalances(
        ethers,
        token,
        [holder],
        [AMOUNT - DEDUCTIBLE + DEPOSIT],
      );
    });
  });

  describe("pause", () => {
    it("stops new policies; claims, verdicts, appeals, settlements, releases and LP exits continue", async () => {
      const fx = await loadFixture(approvedFixture);
      const { claims, pool, token, guardian, holder, lp1, device, productId, claimId, policyId } = fx;
      // A second open claim on another policy, filed before the pause, to be decided during it.
      const [device2] = await registerDevices(fx, holder, 1, "pause");
      const policy2 = await buyPolicy(fx, { device: device2 });
      const second = await fileClaim(fx, policy2, { tag: "pause" });

      // An LP's withdrawal request, made before the pause, is claimed during it.
      await pool.connect(lp1).requestRedeem((await pool.balanceOf(lp1.address)) / 10n, lp1.address, lp1.address);
      await expect(claims.connect(guardian).pause()).to.emit(claims, "Paused").withArgs(guardian.address);
      await expect(claims.connect(holder).buyPolicy(productId, device, UNIT, 30n * DAY)).to.be.revertedWithCustomError(
        claims,
        "EnforcedPause",
      );
      const { evidenceHash, evidenceURI } = evidence("paused");

      const v = await verdictFor(fx, second.claimId, false);
      await expect(claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v))).to.emit(claims, "VerdictFinalised");
      await expect(claims.connect(holder).appeal(second.claimId)).to.emit(claims, "ClaimAppealed");
      await afterAppealWindow(fx, claimId);
      await expect(claims.settle(claimId)).to.emit(claims, "ClaimSettled");
      await time.increase(await pool.withdrawalCooldown());
      const free = await pool.maxWithdraw(lp1.address);
      expect(free).to.be.gt(0n);
      await expect(pool.connect(lp1).withdraw(free, lp1.address, lp1.address)).to.changeTokenBalances(ethers, token, [lp1], [free]);

      // Claims on existing policies are filed during a pause too (L-1: a pause must not run out claim windows).
      await expect(claims.connect(holder).fileClaim(policyId, UNIT, second.incidentAt, evidenceHash, evidenceURI)).to.emit(
        claims,
        "ClaimFiled",
      );
      await expect(claims.connect(guardian).unpause()).to.emit(claims, "Unpaused").withArgs(guardian.address);
    });

    it("is the guardian's", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const role = await fx.claims.GUARDIAN_ROLE();
      await expect(fx.claims.connect(fx.other).pause())
        .to.be.revertedWithCustomError(fx.claims, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, role);
      await fx.claims.connect(fx.guardian).pause();
      await expect(fx.claims.connect(fx.other).unpause())
        .to.be.revertedWithCustomError(fx.claims, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, role);
      await expect(fx.claims.connect(fx.guardian).pause()).to.be.revertedWithCustomError(fx.claims, "EnforcedPause");
    });
  });
});
