import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ClaimStatus, DeviceStatus, enumValues } from "@triad/sdk";
import { DAY, STANDARD_PRODUCT, UNIT, deployInsuranceFixture } from "@triad/devkit/insurance";
import { buyPolicy, evidence, fileClaim, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";

const { loadFixture, takeSnapshot, time } = networkHelpers;

const Device = enumValues(DeviceStatus);
const Claim = enumValues(ClaimStatus);
const AMOUNT = 1_000n * UNIT;
const WAITING = BigInt(STANDARD_PRODUCT.waitingPeriod);
const CLAIM_WINDOW = BigInt(STANDARD_PRODUCT.claimWindow);

/** The insurance fixture with policy 1 (standard product) sold on to `other`: holder = other, device owner = holder. */
async function soldPolicyFixture() {
  const fx = await deployInsuranceFixture();
  const policyId = await buyPolicy(fx);
  await fx.claims.connect(fx.holder).transferFrom(fx.holder.address, fx.other.address, policyId);
  const policy = await fx.claims.getPolicy(policyId);
  return { ...fx, policyId, policy, incidentAt: policy.start + WAITING + 3_600n };
}

/**
 * Two claims filed (deposits held: 2 × the standard deposit): claim 1 on a standard policy, claim 2 on a parametric
 * policy of a second device; then `stray` tokens sent to the claims contract directly.
 */
async function strayTokensFixture() {
  const fx = await deployInsuranceFixture();
  const [secondDevice] = await registerDevices(fx, fx.holder, 1, "i6");
  const standardPolicy = await buyPolicy(fx);
  const parametricPolicy = await buyPolicy(fx, { productId: fx.parametricProductId, device: secondDevice });
  const standardClaim = (await fileClaim(fx, standardPolicy, { tag: "i6-standard" })).claimId;
  const parametricClaim = (await fileClaim(fx, parametricPolicy, { tag: "i6-parametric" })).claimId;
  const stray = 123n * UNIT;
  await fx.token.mint(fx.other.address, stray);
  await fx.token.connect(fx.other).transfer(await fx.claims.getAddress(), stray);
  return { ...fx, standardClaim, parametricClaim, stray };
}

/** Regression tests of the audit findings (issue 12) in ClaimsInsurance, pool economics aside. */
describe("ClaimsInsurance audit findings", () => {
  it("M-2 device owner vs policy holder: the device status at the incident decides, not the status when filing", async () => {
    const fx = await loadFixture(soldPolicyFixture);
    const { claims, registry, holder, other, device, policyId, incidentAt } = fx;
    await time.increaseTo(incidentAt + 60n);
    // The seller (still the device owner) suspends the device after the incident, to void the buyer's claim.
    await registry.connect(holder).suspend(device);
    const { evidenceHash, evidenceURI } = evidence("m2");
    await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    expect(await registry.statusAt(device, incidentAt)).to.equal(Device.Active);
  });

  it("M-2 device owner vs policy holder: an incident while the device was suspended is refused at filing", async () => {
    const fx = await loadFixture(soldPolicyFixture);
    const { claims, registry, holder, other, device, policyId, incidentAt } = fx;
    await time.setNextBlockTimestamp(incidentAt - 10n);
    await registry.connect(holder).suspend(device);
    await time.increaseTo(incidentAt + 60n);
    await registry.connect(holder).resume(device);
    const { evidenceHash, evidenceURI } = evidence("m2-suspended");
    await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI))
      .to.be.revertedWithCustomError(claims, "ClaimsDeviceNotActiveAtIncident")
      .withArgs(device, incidentAt, Device.Suspended);
  });

  it("I-1 revocation: a device revoked before the incident cannot be claimed on; revoked after, the holder's claim stands", async () => {
    const fx = await loadFixture(soldPolicyFixture);
    const { claims, registry, holder, other, device, policyId, incidentAt } = fx;
    await time.setNextBlockTimestamp(incidentAt + 10n);
    await registry.connect(holder).revoke(device);
    await time.increase(60n);
    const { evidenceHash, evidenceURI } = evidence("i1");
    await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt + 10n, evidenceHash, evidenceURI))
      .to.be.revertedWithCustomError(claims, "ClaimsDeviceNotActiveAtIncident")
      .withArgs(device, incidentAt + 10n, Device.Revoked);
    await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
  });

  it("L-1 guardian pause: a pause longer than the claim window does not void covered claims", async () => {
    const fx = await loadFixture(soldPolicyFixture);
    const { claims, guardian, other, policyId, incidentAt } = fx;
    await time.increaseTo(incidentAt + 60n);
    await claims.connect(guardian).pause();
    await time.increase(CLAIM_WINDOW / 2n);
    const { evidenceHash, evidenceURI } = evidence("l1");
    // Filing works during the pause (the pause stops new policies only), so the window is never lost to a pause.
    await expect(claims.connect(other).fileClaim(policyId, AMOUNT, incidentAt, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    await expect(
      claims.connect(fx.holder).buyPolicy(fx.parametricProductId, fx.device, UNIT * 200n, 30n * DAY),
    ).to.be.revertedWithCustomError(claims, "EnforcedPause");
  });

  it("L-2 boundary instant: an incident at the renewal instant belongs to the new policy only", async () => {
    const fx = await loadFixture(deployInsuranceFixture);
    const { claims, insurer, holder } = fx;
    await claims.connect(insurer).createProduct({ ...STANDARD_PRODUCT, waitingPeriod: 0n });
    const productId = await claims.productCount();
    const first = await buyPolicy(fx, { productId });
    const { end } = await claims.getPolicy(first);
    await time.setNextBlockTimestamp(end);
    const second = await buyPolicy(fx, { productId });
    expect((await claims.getPolicy(second)).start).to.equal(end);
    await time.increase(60n);
    const { evidenceHash, evidenceURI } = evidence("l2");
    await expect(claims.connect(holder).fileClaim(first, AMOUNT, end, evidenceHash, evidenceURI))
      .to.be.revertedWithCustomError(claims, "ClaimsIncidentNotCovered")
      .withArgs(first, end, (await claims.getPolicy(first)).start, end);
    const beforeFiling = await takeSnapshot();
    await expect(claims.connect(holder).fileClaim(second, AMOUNT, end, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    await beforeFiling.restore();
    await expect(claims.connect(holder).fileClaim(first, AMOUNT, end - 1n, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    // One incident across the boundary is claimed once (issue 14): the renewal cannot claim the instant after it.
    const other = evidence("l2-renewal");
    await expect(
      claims.connect(holder).fileClaim(second, AMOUNT, end, other.evidenceHash, other.evidenceURI),
    ).to.be.revertedWithCustomError(claims, "ClaimsIncidentWindowTaken");
  });

  it("L-3 policies that can never pay: refused at purchase (duration within the waiting period, coverage within the deductible)", async () => {
    const fx = await loadFixture(deployInsuranceFixture);
    const { claims, insurer, holder, device, productId } = fx;
    const deductible = BigInt(STANDARD_PRODUCT.deductible);
    await expect(claims.connect(holder).buyPolicy(productId, device, deductible, 30n * DAY))
      .to.be.revertedWithCustomError(claims, "ClaimsCoverageNotAboveDeductible")
      .withArgs(deductible, deductible);
    await claims.connect(insurer).createProduct({ ...STANDARD_PRODUCT, waitingPeriod: 10n * DAY, minDuration: DAY });
    const longWait = await claims.productCount();
    await expect(claims.connect(holder).buyPolicy(longWait, device, 1_000n * UNIT, 10n * DAY))
      .to.be.revertedWithCustomError(claims, "ClaimsDurationNotAboveWaitingPeriod")
      .withArgs(10n * DAY, 10n * DAY);
    await expect(claims.connect(holder).buyPolicy(longWait, device, deductible + 1n, 10n * DAY + 1n)).to.emit(claims, "PolicyPurchased");
  });

  it("I-6 stuck tokens: tokens sent directly to the claims contract are swept to the treasury, claim deposits are not", async () => {
    const fx = await loadFixture(strayTokensFixture);
    const { claims, token, pool, admin, holder, treasury, members, standardClaim, parametricClaim, stray } = fx;
    const deposit = BigInt(STANDARD_PRODUCT.claimDeposit);
    expect(await claims.depositsHeld()).to.equal(2n * deposit);
    expect(await token.balanceOf(claims)).to.equal(2n * deposit + stray);
    const sweep = claims.connect(admin).sweepSurplus();
    await expect(sweep).to.emit(claims, "SurplusSwept").withArgs(treasury.address, stray);
    await expect(sweep).to.changeTokenBalances(ethers, token, [claims, treasury], [-stray, stray]);
    expect(await token.balanceOf(claims)).to.equal(2n * deposit);
    // Nothing above the deposits any more: a second sweep sends nothing and returns 0.
    expect(await claims.connect(admin).sweepSurplus.staticCall()).to.equal(0n);
    const empty = claims.connect(admin).sweepSurplus();
    await expect(empty).to.emit(claims, "SurplusSwept").withArgs(treasury.address, 0n);
    await expect(empty).to.changeTokenBalances(ethers, token, [claims, treasury], [0n, 0n]);

    // Every deposit held is still paid in full: refunded with the payout of an approval, forfeited to the pool on a
    // rejection.
    const approved = await verdictFor(fx, parametricClaim, true);
    await expect(claims.submitVerdict(approved, await signBy(fx, members.slice(0, 2), approved)))
      .to.emit(claims, "ClaimSettled")
      .withArgs(parametricClaim, holder.address, Claim.Paid, 1_000n * UNIT, deposit);
    expect(await claims.depositsHeld()).to.equal(deposit);
    const rejected = await verdictFor(fx, standardClaim, false);
    await claims.submitVerdict(rejected, await signBy(fx, members.slice(0, 2), rejected));
    await expect(claims.connect(admin).sweepSurplus()).to.emit(claims, "SurplusSwept").withArgs(treasury.address, 0n);
    await time.increaseTo((await claims.getClaim(standardClaim)).appealDeadline);
    const settle = claims.settle(standardClaim);
    await expect(settle).to.emit(pool, "DepositForfeited").withArgs(standardClaim, deposit);
    await expect(settle).to.changeTokenBalances(ethers, token, [claims, pool], [-deposit, deposit]);
    expect(await claims.depositsHeld()).to.equal(0n);
    expect(await token.balanceOf(claims)).to.equal(0n);
  });

  it("I-6 stuck tokens: only the admin sweeps the claims contract", async () => {
    const { claims, token, insurer, guardian, other, stray } = await loadFixture(strayTokensFixture);
    for (const caller of [insurer, guardian, other]) {
      await expect(claims.connect(caller).sweepSurplus())
        .to.be.revertedWithCustomError(claims, "AccessControlUnauthorizedAccount")
        .withArgs(caller.address, await claims.DEFAULT_ADMIN_ROLE());
    }
    expect(await token.balanceOf(claims)).to.equal(2n * BigInt(STANDARD_PRODUCT.claimDeposit) + stray);
  });
});
