import { expect } from "chai";
import { networkHelpers } from "@triad/devkit/network";
import { DeviceStatus, enumValues } from "@triad/sdk";
import { DAY, STANDARD_PRODUCT, UNIT, deployInsuranceFixture } from "@triad/devkit/insurance";
import { buyPolicy, evidence } from "@triad/devkit/insurance";

const { loadFixture, time } = networkHelpers;

const Device = enumValues(DeviceStatus);
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
    await expect(claims.connect(holder).fileClaim(first, AMOUNT, end - 1n, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
    await expect(claims.connect(holder).fileClaim(second, AMOUNT, end, evidenceHash, evidenceURI)).to.emit(claims, "ClaimFiled");
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
});
