import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { Wallet, id } from "ethers";
import { DeviceStatus, GatewayPolicy, enumValue } from "@triad/sdk";
import {
  DAY,
  HOLDER_FUNDS,
  LP_DEPOSIT,
  MAX_UTILISATION_BPS,
  PROTOCOL_FEE_BPS,
  STANDARD_PRODUCT,
  UNIT,
  deployInsuranceFixture,
  registerDevice,
} from "@triad/devkit/insurance";
import { DEFAULT_COVERAGE, DEFAULT_DURATION, buyPolicy, fileClaim, registerDevices } from "@triad/devkit/insurance";

const { loadFixture, mine, time } = networkHelpers;

const YEAR = 365n * DAY;
/** Independent statement of the premium formula: ceil(coverage * rateBps * duration / (10000 * 365 days)). */
const premiumOf = (coverage: bigint, rateBps: bigint, duration: bigint) =>
  (coverage * rateBps * duration + 10_000n * YEAR - 1n) / (10_000n * YEAR);

/** ProductField enum of IClaimsInsurance. */
const Field = {
  MaxCoverage: 0n,
  Deductible: 1n,
  ClaimDeposit: 2n,
  PremiumRateBps: 3n,
  MinDuration: 4n,
  MaxDuration: 5n,
  WaitingPeriod: 6n,
  ClaimWindow: 7n,
  AssessmentWindow: 8n,
  SensorSchema: 9n,
  MaxAnchorDelay: 10n,
  IncidentWindow: 11n,
};
const ANY_GATEWAY = enumValue(GatewayPolicy, "AnyAuthorised");
const ALLOWLIST = enumValue(GatewayPolicy, "Allowlist");

describe("ClaimsInsurance: deployment, products and policies", () => {
  describe("deployment", () => {
    it("wires the pool's asset, the committee and the registry, with the EIP-712 domain of docs/protocol.md", async () => {
      const { claims, token, pool, committee, registry, chainId } = await loadFixture(deployInsuranceFixture);
      expect(await claims.token()).to.equal(await token.getAddress());
      expect(await claims.pool()).to.equal(await pool.getAddress());
      expect(await claims.committee()).to.equal(await committee.getAddress());
      expect(await claims.registry()).to.equal(await registry.getAddress());
      const domain = await claims.eip712Domain();
      expect(domain.name).to.equal("Triad ClaimsInsurance");
      expect(domain.version).to.equal("1");
      expect(domain.chainId).to.equal(chainId);
      expect(domain.verifyingContract).to.equal(await claims.getAddress());
      expect(await claims.supportsInterface("0x80ac58cd")).to.equal(true); // ERC-721
      expect(await claims.supportsInterface("0x7965db0b")).to.equal(true); // AccessControl
      expect(await claims.supportsInterface("0xffffffff")).to.equal(false);
    });

    it("refuses zero addresses", async () => {
      const { admin, pool, committee, registry } = await loadFixture(deployInsuranceFixture);
      const f = await ethers.getContractFactory("ClaimsInsurance");
      const [p, c, r] = [await pool.getAddress(), await committee.getAddress(), await registry.getAddress()];
      for (const args of [
        [ethers.ZeroAddress, p, c, r],
        [admin.address, ethers.ZeroAddress, c, r],
        [admin.address, p, ethers.ZeroAddress, r],
        [admin.address, p, c, ethers.ZeroAddress],
      ] as const) {
        await expect(f.deploy(...args)).to.be.revertedWithCustomError(f, "ClaimsZeroAddress");
      }
    });
  });

  describe("products", () => {
    it("creates products with sequential ids and stores every field", async () => {
      const { claims, insurer } = await loadFixture(deployInsuranceFixture);
      const product = {
        ...STANDARD_PRODUCT,
        deductible: 7n,
        claimDeposit: 0n,
        waitingPeriod: 0n,
        maxAnchorDelay: 7_200n,
        incidentWindowBefore: 1_800n,
        incidentWindowAfter: 120n,
        gatewayPolicy: ALLOWLIST,
      };
      const tx = claims.connect(insurer).createProduct(product);
      await expect(tx).to.emit(claims, "ProductCreated");
      const [created] = await claims.queryFilter(claims.filters.ProductCreated(3n));
      expect(created.args.product.maxAnchorDelay).to.equal(7_200n);
      expect(created.args.product.gatewayPolicy).to.equal(ALLOWLIST);
      expect(await claims.productCount()).to.equal(3n);
      const stored = await claims.getProduct(3n);
      expect(stored.maxCoverage).to.equal(product.maxCoverage);
      expect(stored.deductible).to.equal(7n);
      expect(stored.claimDeposit).to.equal(0n);
      expect(stored.premiumRateBps).to.equal(product.premiumRateBps);
      expect(stored.waitingPeriod).to.equal(0n);
      expect(stored.claimWindow).to.equal(product.claimWindow);
      expect(stored.assessmentWindow).to.equal(product.assessmentWindow);
      expect(stored.appealWindow).to.equal(product.appealWindow);
      expect(stored.minDuration).to.equal(product.minDuration);
      expect(stored.maxDuration).to.equal(product.maxDuration);
      expect(stored.sensorSchema).to.equal(product.sensorSchema);
      expect(stored.maxAnchorDelay).to.equal(7_200n);
      expect(stored.incidentWindowBefore).to.equal(1_800n);
      expect(stored.incidentWindowAfter).to.equal(120n);
      expect(stored.gatewayPolicy).to.equal(ALLOWLIST);
      expect(stored.active).to.equal(true);
      // The fixture's products: anchored within an hour by any gateway the owner authorised, the model's window.
      const standard = await claims.getProduct(1n);
      expect([standard.maxAnchorDelay, standard.incidentWindowBefore, standard.incidentWindowAfter, standard.gatewayPolicy]).to.deep.equal([
        3_600n,
        600n,
        900n,
        ANY_GATEWAY,
      ]);
    });

    it("validates every field", async () => {
      const { claims, insurer } = await loadFixture(deployInsuranceFixture);
      const p = STANDARD_PRODUCT;
      const cases: [Partial<typeof p>, bigint][] = [
        [{ maxCoverage: 0n }, Field.MaxCoverage],
        [{ maxCoverage: 2n ** 96n }, Field.MaxCoverage],
        [{ deductible: p.maxCoverage }, Field.Deductible],
        [{ claimDeposit: 2n ** 96n }, Field.ClaimDeposit],
        [{ premiumRateBps: 0n }, Field.PremiumRateBps],
        [{ minDuration: 0n }, Field.MinDuration],
        [{ minDuration: 366n * DAY }, Field.MinDuration],
        [{ maxDuration: 3651n * DAY }, Field.MaxDuration],
        [{ waitingPeriod: p.maxDuration }, Field.WaitingPeriod],
        [{ claimWindow: 0n }, Field.ClaimWindow],
        [{ assessmentWindow: 0n }, Field.AssessmentWindow],
        [{ sensorSchema: ethers.ZeroHash }, Field.SensorSchema],
        [{ maxAnchorDelay: 0n }, Field.MaxAnchorDelay],
        [{ incidentWindowBefore: DAY, incidentWindowAfter: 1n }, Field.IncidentWindow],
        [{ incidentWindowBefore: 2n ** 32n - 1n, incidentWindowAfter: 2n ** 32n - 1n }, Field.IncidentWindow],
      ];
      for (const [change, field] of cases) {
        await expect(claims.connect(insurer).createProduct({ ...p, ...change }))
          .to.be.revertedWithCustomError(claims, "ClaimsInvalidProduct")
          .withArgs(field);
      }
      // The limits themselves are accepted: a one-day window (MAX_INCIDENT_WINDOW), an empty one, a one-second delay.
      expect(await claims.MAX_INCIDENT_WINDOW()).to.equal(DAY);
      for (const change of [
        { incidentWindowBefore: DAY - 60n, incidentWindowAfter: 60n },
        { incidentWindowBefore: 0n, incidentWindowAfter: 0n },
        { maxAnchorDelay: 1n },
      ]) {
        await expect(claims.connect(insurer).createProduct({ ...p, ...change })).to.emit(claims, "ProductCreated");
      }
      // An enum value beyond GatewayPolicy is refused by the ABI decoder (a revert without data).
      await expect(claims.connect(insurer).createProduct({ ...p, gatewayPolicy: 2n })).to.be.revertedWithoutReason(ethers);
    });

    it("accepts any owner-authorised gateway, or only the product's allowlist, kept by the insurer", async () => {
      const { claims, insurer, productId } = await loadFixture(deployInsuranceFixture);
      const [gatewayA, gatewayB] = [new Wallet(id("gateway A")).address, new Wallet(id("gateway B")).address];
      expect(await claims.productAcceptsGateway(productId, gatewayA)).to.equal(true);
      await claims.connect(insurer).createProduct({ ...STANDARD_PRODUCT, gatewayPolicy: ALLOWLIST });
      const listed = await claims.productCount();
      expect(await claims.productAcceptsGateway(listed, gatewayA)).to.equal(false);
      await expect(claims.connect(insurer).setProductGateway(listed, gatewayA, true))
        .to.emit(claims, "ProductGatewaySet")
        .withArgs(listed, gatewayA, true);
      expect(await claims.productAcceptsGateway(listed, gatewayA)).to.equal(true);
      expect(await claims.productAcceptsGateway(listed, gatewayB)).to.equal(false);
      await expect(claims.connect(insurer).setProductGateway(listed, gatewayA, false))
        .to.emit(claims, "ProductGatewaySet")
        .withArgs(listed, gatewayA, false);
      expect(await claims.productAcceptsGateway(listed, gatewayA)).to.equal(false);
      // An allowlist entry on an AnyAuthorised product is kept but changes nothing.
      await claims.connect(insurer).setProductGateway(productId, gatewayB, false);
      expect(await claims.productAcceptsGateway(productId, gatewayB)).to.equal(true);
      await expect(claims.connect(insurer).setProductGateway(99n, gatewayA, true))
        .to.be.revertedWithCustomError(claims, "ClaimsUnknownProduct")
        .withArgs(99n);
      await expect(claims.productAcceptsGateway(99n, gatewayA)).to.be.revertedWithCustomError(claims, "ClaimsUnknownProduct").withArgs(99n);
      await expect(claims.connect(insurer).setProductGateway(listed, ethers.ZeroAddress, true)).to.be.revertedWithCustomError(
        claims,
        "ClaimsZeroAddress",
      );
    });

    it("opens and closes products and allows models per product", async () => {
      const { claims, insurer, productId, modelHash } = await loadFixture(deployInsuranceFixture);
      await expect(claims.connect(insurer).setProductActive(productId, false))
        .to.emit(claims, "ProductActiveSet")
        .withArgs(productId, false);
      expect((await claims.getProduct(productId)).active).to.equal(false);
      expect(await claims.isProductModel(productId, modelHash)).to.equal(true);
      await expect(claims.connect(insurer).setProductModel(productId, modelHash, false))
        .to.emit(claims, "ProductModelSet")
        .withArgs(productId, modelHash, false);
      expect(await claims.isProductModel(productId, modelHash)).to.equal(false);
      expect(await claims.isProductModel(2n, modelHash)).to.equal(true);
      await expect(claims.connect(insurer).setProductModel(99n, modelHash, true))
        .to.be.revertedWithCustomError(claims, "ClaimsUnknownProduct")
        .withArgs(99n);
      await expect(claims.connect(insurer).setProductActive(99n, true))
        .to.be.revertedWithCustomError(claims, "ClaimsUnknownProduct")
        .withArgs(99n);
      await expect(claims.connect(insurer).setProductModel(productId, ethers.ZeroHash, true)).to.be.revertedWithCustomError(
        claims,
        "ClaimsZeroModel",
      );
      await expect(claims.quotePremium(99n, 1n, 1n))
        .to.be.revertedWithCustomError(claims, "ClaimsUnknownProduct")
        .withArgs(99n);
    });

    it("restricts product management to the insurer role", async () => {
      const { claims, other, productId, modelHash } = await loadFixture(deployInsuranceFixture);
      const role = await claims.INSURER_ROLE();
      for (const call of [
        () => claims.connect(other).createProduct(STANDARD_PRODUCT),
        () => claims.connect(other).setProductActive(productId, false),
        () => claims.connect(other).setProductModel(productId, modelHash, false),
        () => claims.connect(other).setProductGateway(productId, other.address, true),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(claims, "AccessControlUnauthorizedAccount").withArgs(other.address, role);
      }
    });
  });

  describe("buyPolicy", () => {
    it("charges the premium into the pool (fee to treasury), locks the coverage and mints the policy token", async () => {
      const { claims, pool, token, holder, treasury, device, productId } = await loadFixture(deployInsuranceFixture);
      const premium = premiumOf(DEFAULT_COVERAGE, 500n, DEFAULT_DURATION);
      expect(await claims.quotePremium(productId, DEFAULT_COVERAGE, DEFAULT_DURATION)).to.equal(premium);
      const fee = (premium * PROTOCOL_FEE_BPS) / 10_000n;
      const start = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(start);
      const tx = claims.connect(holder).buyPolicy(productId, device, DEFAULT_COVERAGE, DEFAULT_DURATION);
      await expect(tx)
        .to.emit(claims, "PolicyPurchased")
        .withArgs(1n, productId, device, holder.address, DEFAULT_COVERAGE, premium, start, start + DEFAULT_DURATION);
      await expect(tx).to.emit(claims, "Transfer").withArgs(ethers.ZeroAddress, holder.address, 1n);
      await expect(tx).to.emit(pool, "CapitalLocked").withArgs(DEFAULT_COVERAGE, DEFAULT_COVERAGE);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, treasury, claims], [-premium, premium - fee, fee, 0n]);
      expect(await claims.ownerOf(1n)).to.equal(holder.address);
      expect(await pool.lockedAssets()).to.equal(DEFAULT_COVERAGE);
      // The net premium is a liability at purchase (earned over the term, docs/protocol.md §12.2): LP equity is
      // unchanged in the purchase's block.
      expect(await pool.unearnedPremiums()).to.equal(premium - fee);
      expect(await pool.totalAssets()).to.equal(LP_DEPOSIT);
      const policy = await claims.getPolicy(1n);
      expect(policy.productId).to.equal(productId);
      expect(policy.device).to.equal(device);
      expect(policy.start).to.equal(start);
      expect(policy.end).to.equal(start + DEFAULT_DURATION);
      expect(policy.coverage).to.equal(DEFAULT_COVERAGE);
      expect(policy.paidOut).to.equal(0n);
      expect(policy.premium).to.equal(premium);
      expect(policy.openClaimId).to.equal(0n);
      expect(policy.released).to.equal(false);
    });

    it("rounds the premium up", async () => {
      const { claims, productId } = await loadFixture(deployInsuranceFixture);
      // 1 unit of coverage for 30 days at 5%: 0.0041 base units -> 1.
      expect(await claims.quotePremium(productId, 1n, 30n * DAY)).to.equal(1n);
      // 5% of 20 tUSD for a year is exactly 1 tUSD; one more base unit of coverage rounds up.
      expect(await claims.quotePremium(productId, 20n * UNIT, Number(YEAR))).to.equal(UNIT);
      expect(await claims.quotePremium(productId, 20n * UNIT + 1n, Number(YEAR))).to.equal(UNIT + 1n);
    });

    it("refuses unknown and inactive products", async () => {
      const { claims, insurer, holder, device, productId } = await loadFixture(deployInsuranceFixture);
      await expect(claims.connect(holder).buyPolicy(99n, device, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsUnknownProduct")
        .withArgs(99n);
      await claims.connect(insurer).setProductActive(productId, false);
      await expect(claims.connect(holder).buyPolicy(productId, device, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsProductInactive")
        .withArgs(productId);
    });

    it("sells only to the owner of an Active registered device with the product's sensor schema", async () => {
      const { claims, registry, holder, other, device, productId } = await loadFixture(deployInsuranceFixture);
      await expect(claims.connect(other).buyPolicy(productId, device, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsNotDeviceOwner")
        .withArgs(device, other.address, holder.address);
      const unregistered = new Wallet(id("unregistered")).address;
      await expect(claims.connect(holder).buyPolicy(productId, unregistered, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsNotDeviceOwner")
        .withArgs(unregistered, holder.address, ethers.ZeroAddress);
      await registry.connect(holder).suspend(device);
      await expect(claims.connect(holder).buyPolicy(productId, device, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsDeviceNotActive")
        .withArgs(device, enumValue(DeviceStatus, "Suspended"));
      const otherKey = new Wallet(id("other schema device"));
      const otherDevice = await registerDevice(registry, holder, otherKey, {
        schema: "triad.device/v1",
        sensorSchema: "other-schema/v1",
        model: "m",
        firmware: "f",
      });
      await expect(claims.connect(holder).buyPolicy(productId, otherDevice, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsSensorSchemaMismatch")
        .withArgs(otherDevice, id("other-schema/v1"), STANDARD_PRODUCT.sensorSchema);
    });

    it("allows one policy per device at a time", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const { claims, holder, device, productId } = fx;
      await buyPolicy(fx);
      const { end } = await claims.getPolicy(1n);
      await expect(claims.connect(holder).buyPolicy(productId, device, UNIT, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsDeviceAlreadyCovered")
        .withArgs(device, end);
      await time.increaseTo(end);
      // Coverage above the deductible: a policy that could never pay is refused (L-3).
      await expect(claims.connect(holder).buyPolicy(productId, device, 1_000n * UNIT, DEFAULT_DURATION)).to.emit(claims, "PolicyPurchased");
    });

    it("validates coverage and duration", async () => {
      const { claims, holder, device, productId } = await loadFixture(deployInsuranceFixture);
      const max = BigInt(STANDARD_PRODUCT.maxCoverage);
      await expect(claims.connect(holder).buyPolicy(productId, device, 0n, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidCoverage")
        .withArgs(0n, max);
      await expect(claims.connect(holder).buyPolicy(productId, device, max + 1n, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidCoverage")
        .withArgs(max + 1n, max);
      await expect(claims.connect(holder).buyPolicy(productId, device, UNIT, 30n * DAY - 1n))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidDuration")
        .withArgs(30n * DAY - 1n, 30n * DAY, 365n * DAY);
      await expect(claims.connect(holder).buyPolicy(productId, device, UNIT, 365n * DAY + 1n))
        .to.be.revertedWithCustomError(claims, "ClaimsInvalidDuration")
        .withArgs(365n * DAY + 1n, 30n * DAY, 365n * DAY);
    });

    it("refuses a policy the pool cannot lock (utilisation invariant)", async () => {
      const { claims, pool, insurer, holder, device } = await loadFixture(deployInsuranceFixture);
      await claims.connect(insurer).createProduct({ ...STANDARD_PRODUCT, maxCoverage: 1_000_000n * UNIT });
      const coverage = 90_000n * UNIT;
      // Unearned premium does not back coverage: only the LPs' capital counts.
      await expect(claims.connect(holder).buyPolicy(3n, device, coverage, DEFAULT_DURATION))
        .to.be.revertedWithCustomError(pool, "PoolUtilisationExceeded")
        .withArgs(coverage, LP_DEPOSIT, MAX_UTILISATION_BPS);
    });

    it("refuses a premium that does not fit its 96-bit storage", async () => {
      const { claims, insurer, holder, device } = await loadFixture(deployInsuranceFixture);
      const max = 2n ** 96n - 1n;
      await claims
        .connect(insurer)
        .createProduct({ ...STANDARD_PRODUCT, maxCoverage: max, premiumRateBps: 65_535n, maxDuration: 3_650n * DAY });
      const premium = await claims.quotePremium(3n, max, 3_650n * DAY);
      expect(premium).to.be.gt(max);
      await expect(claims.connect(holder).buyPolicy(3n, device, max, 3_650n * DAY))
        .to.be.revertedWithCustomError(claims, "ClaimsValueTooLarge")
        .withArgs(premium);
    });

    it("needs the premium allowance and balance", async () => {
      const { claims, token, holder, device, productId } = await loadFixture(deployInsuranceFixture);
      await token.connect(holder).approve(await claims.getAddress(), 0n);
      await expect(claims.connect(holder).buyPolicy(productId, device, 1_000n * UNIT, DEFAULT_DURATION)).to.be.revertedWithCustomError(
        token,
        "ERC20InsufficientAllowance",
      );
      await token.connect(holder).approve(await claims.getAddress(), ethers.MaxUint256);
      await token.connect(holder).transfer(await claims.getAddress(), HOLDER_FUNDS);
      await expect(claims.connect(holder).buyPolicy(productId, device, 1_000n * UNIT, DEFAULT_DURATION)).to.be.revertedWithCustomError(
        token,
        "ERC20InsufficientBalance",
      );
    });
  });

  describe("releaseCoverage", () => {
    it("releases the coverage to the pool after the claim period (end + claimWindow), once", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const { claims, pool, other } = fx;
      const policyId = await buyPolicy(fx);
      const { end } = await claims.getPolicy(policyId);
      const claimPeriodEnd = end + BigInt(STANDARD_PRODUCT.claimWindow);
      await time.increaseTo(claimPeriodEnd - 1n); // the next transaction runs at claimPeriodEnd
      await expect(claims.connect(other).releaseCoverage(policyId))
        .to.be.revertedWithCustomError(claims, "ClaimsPolicyNotExpired")
        .withArgs(policyId, claimPeriodEnd);
      // Hardhat 3 estimates gas first, so a reverting transaction is never mined; mine the block it took in Hardhat 2.
      await mine();
      const tx = claims.connect(other).releaseCoverage(policyId);
      await expect(tx).to.emit(claims, "CoverageReleased").withArgs(policyId, DEFAULT_COVERAGE);
      await expect(tx).to.emit(pool, "CapitalReleased").withArgs(DEFAULT_COVERAGE, 0n);
      expect(await pool.lockedAssets()).to.equal(0n);
      expect((await claims.getPolicy(policyId)).released).to.equal(true);
      await expect(claims.releaseCoverage(policyId)).to.be.revertedWithCustomError(claims, "ClaimsCoverageReleased").withArgs(policyId);
      await expect(claims.releaseCoverage(99n)).to.be.revertedWithCustomError(claims, "ClaimsUnknownPolicy").withArgs(99n);
    });

    it("waits for an open claim, and releases only what was not paid out", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const { claims, pool, arbiter } = fx;
      const policyId = await buyPolicy(fx);
      const { end } = await claims.getPolicy(policyId);
      // An incident on the last covered second (the period is half-open), filed within the claim window after the policy ended.
      const { claimId } = await fileClaim(fx, policyId, { incidentAt: end - 1n, amount: 600n * UNIT });
      await time.increaseTo(end + BigInt(STANDARD_PRODUCT.claimWindow) + 1n);
      await expect(claims.releaseCoverage(policyId)).to.be.revertedWithCustomError(claims, "ClaimsClaimOpen").withArgs(policyId, claimId);
      // No verdict by the deadline: escalated and resolved by the arbiter with a payout of 600 (500 after deductible).
      await claims.escalate(claimId);
      await claims.connect(arbiter).resolve(claimId, true, 600n * UNIT);
      expect(await pool.lockedAssets()).to.equal(DEFAULT_COVERAGE - 500n * UNIT);
      await expect(claims.releaseCoverage(policyId))
        .to.emit(claims, "CoverageReleased")
        .withArgs(policyId, DEFAULT_COVERAGE - 500n * UNIT);
      expect(await pool.lockedAssets()).to.equal(0n);
    });

    it("is not paused by the guardian", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const policyId = await buyPolicy(fx);
      await fx.claims.connect(fx.guardian).pause();
      const { end } = await fx.claims.getPolicy(policyId);
      await time.increaseTo(end + BigInt(STANDARD_PRODUCT.claimWindow) + 1n);
      await expect(fx.claims.releaseCoverage(policyId)).to.emit(fx.claims, "CoverageReleased");
    });
  });

  describe("policy tokens", () => {
    it("are ERC-721 tokens that can change hands", async () => {
      const fx = await loadFixture(deployInsuranceFixture);
      const [device2] = await registerDevices(fx, fx.holder, 1, "tokens");
      await buyPolicy(fx);
      await buyPolicy(fx, { device: device2 });
      expect(await fx.claims.policyCount()).to.equal(2n);
      expect(await fx.claims.balanceOf(fx.holder.address)).to.equal(2n);
      await fx.claims.connect(fx.holder).transferFrom(fx.holder.address, fx.other.address, 2n);
      expect(await fx.claims.ownerOf(2n)).to.equal(fx.other.address);
      expect(await fx.claims.name()).to.equal("Triad Device Policy");
    });
  });
});
