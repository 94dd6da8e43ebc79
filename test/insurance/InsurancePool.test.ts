import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { UNIT } from "@triad/devkit/insurance";

const { loadFixture } = networkHelpers;

const MAX_UTIL = 8_000n;
const FEE = 1_000n;
const BPS = 10_000n;

/** A pool whose CLAIMS_ROLE is held by an EOA (`claimsRole`), so pool rules can be tested in isolation. */
async function deployPoolFixture() {
  const [admin, treasury, claimsRole, lp1, lp2, attacker, victim, outsider] = await ethers.getSigners();
  const token = await ethers.deployContract("TestToken", [admin.address]);
  const pool = await ethers.deployContract("InsurancePool", [
    await token.getAddress(),
    admin.address,
    treasury.address,
    MAX_UTIL,
    FEE,
  ]);
  await pool.grantRole(await pool.CLAIMS_ROLE(), claimsRole.address);
  for (const a of [claimsRole, lp1, lp2, attacker, victim]) {
    await token.mint(a.address, 1_000_000n * UNIT);
    await token.connect(a).approve(await pool.getAddress(), ethers.MaxUint256);
  }
  return { token, pool, admin, treasury, claimsRole, lp1, lp2, attacker, victim, outsider };
}

async function fundedPoolFixture() {
  const fx = await deployPoolFixture();
  await fx.pool.connect(fx.lp1).deposit(1_000n * UNIT, fx.lp1.address);
  return fx;
}

describe("InsurancePool", () => {
  describe("ERC-4626 basics", () => {
    it("has the asset, 6 extra share decimals and the configured parameters", async () => {
      const { pool, token, treasury } = await loadFixture(deployPoolFixture);
      expect(await pool.asset()).to.equal(await token.getAddress());
      expect(await pool.decimals()).to.equal(12n);
      expect(await pool.maxUtilisationBps()).to.equal(MAX_UTIL);
      expect(await pool.protocolFeeBps()).to.equal(FEE);
      expect(await pool.treasury()).to.equal(treasury.address);
      expect(await pool.maxDeposit(ethers.ZeroAddress)).to.equal(2n ** 112n - 1n);
    });

    it("mints 1e6 shares per base unit to the first depositor and books the assets", async () => {
      const { pool, token, lp1 } = await loadFixture(deployPoolFixture);
      const tx = pool.connect(lp1).deposit(1_000n * UNIT, lp1.address);
      await expect(tx).to.emit(pool, "Deposit").withArgs(lp1.address, lp1.address, 1_000n * UNIT, 1_000n * UNIT * 10n ** 6n);
      await expect(tx).to.changeTokenBalances(ethers, token, [lp1, pool], [-1_000n * UNIT, 1_000n * UNIT]);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(1_000n * UNIT);
    });

    it("bounds mint by the 112-bit ledger: maxMint is the shares maxDeposit buys, and minting them all fits", async () => {
      const { pool, token, admin, lp2 } = await loadFixture(fundedPoolFixture);
      const maxAssets = 2n ** 112n - 1n - 1_000n * UNIT;
      expect(await pool.maxDeposit(lp2.address)).to.equal(maxAssets);
      const maxShares = await pool.maxMint(lp2.address);
      expect(maxShares).to.equal(await pool.convertToShares(maxAssets));
      await expect(pool.connect(lp2).mint(maxShares + 1n, lp2.address))
        .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxMint")
        .withArgs(lp2.address, maxShares + 1n, maxShares);
      const cost = await pool.previewMint(maxShares);
      expect(cost).to.be.lte(maxAssets);
      await token.connect(admin).mint(lp2.address, cost);
      await expect(pool.connect(lp2).mint(maxShares, lp2.address)).to.changeTokenBalances(ethers, token, [lp2, pool], [-cost, cost]);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT + cost);
      expect(await pool.balanceOf(lp2.address)).to.equal(maxShares);
      expect(await pool.maxMint(lp2.address)).to.equal(await pool.convertToShares(await pool.maxDeposit(lp2.address)));
    });

    it("refuses the zero address and invalid parameters at construction", async () => {
      const { token, admin, treasury } = await loadFixture(deployPoolFixture);
      const f = await ethers.getContractFactory("InsurancePool");
      const t = await token.getAddress();
      await expect(f.deploy(ethers.ZeroAddress, admin.address, treasury.address, 1, 0)).to.be.revertedWithCustomError(f, "PoolZeroAddress");
      await expect(f.deploy(t, ethers.ZeroAddress, treasury.address, 1, 0)).to.be.revertedWithCustomError(f, "PoolZeroAddress");
      await expect(f.deploy(t, admin.address, ethers.ZeroAddress, 1, 0)).to.be.revertedWithCustomError(f, "PoolZeroAddress");
      await expect(f.deploy(t, admin.address, treasury.address, 0, 0))
        .to.be.revertedWithCustomError(f, "PoolInvalidUtilisation")
        .withArgs(0n);
      await expect(f.deploy(t, admin.address, treasury.address, 10_001, 0))
        .to.be.revertedWithCustomError(f, "PoolInvalidUtilisation")
        .withArgs(10_001n);
      await expect(f.deploy(t, admin.address, treasury.address, 1, 2_001))
        .to.be.revertedWithCustomError(f, "PoolFeeTooHigh")
        .withArgs(2_001n, 2_000n);
    });
  });

  describe("premiums", () => {
    it("sends the fee to the treasury and the rest to the pool, raising the share price", async () => {
      const { pool, token, claimsRole, treasury, lp1, lp2 } = await loadFixture(fundedPoolFixture);
      const shares = await pool.balanceOf(lp1.address);
      const before = await pool.convertToAssets(shares);
      const tx = pool.connect(claimsRole).collectPremium(7n, 100n * UNIT);
      await expect(tx).to.emit(pool, "PremiumCollected").withArgs(7n, 90n * UNIT, 10n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [claimsRole, pool, treasury], [-100n * UNIT, 90n * UNIT, 10n * UNIT]);
      expect(await pool.totalAssets()).to.equal(1_090n * UNIT);
      const after = await pool.convertToAssets(shares);
      expect(after).to.be.gt(before);
      // The LP owns all shares bar the virtual ones: within one base unit of all assets.
      expect(1_090n * UNIT - after).to.be.lte(1n);
      // A later LP buys in at the higher price: fewer shares per asset.
      await pool.connect(lp2).deposit(1_000n * UNIT, lp2.address);
      expect(await pool.balanceOf(lp2.address)).to.be.lt(shares);
    });

    it("rounds the fee down in the pool's favour", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      await expect(pool.connect(claimsRole).collectPremium(1n, 19n)).to.emit(pool, "PremiumCollected").withArgs(1n, 18n, 1n);
      await expect(pool.connect(claimsRole).collectPremium(1n, 9n)).to.emit(pool, "PremiumCollected").withArgs(1n, 9n, 0n);
    });

    it("adds forfeited deposits without a fee", async () => {
      const { pool, token, claimsRole, treasury } = await loadFixture(fundedPoolFixture);
      const tx = pool.connect(claimsRole).collectForfeit(3n, 50n * UNIT);
      await expect(tx).to.emit(pool, "DepositForfeited").withArgs(3n, 50n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [claimsRole, pool, treasury], [-50n * UNIT, 50n * UNIT, 0n]);
      expect(await pool.totalAssets()).to.equal(1_050n * UNIT);
    });
  });

  describe("utilisation invariant", () => {
    it("locks up to assets * maxUtilisation and refuses beyond", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      expect(await pool.lockableAssets()).to.equal(800n * UNIT);
      await expect(pool.connect(claimsRole).lock(800n * UNIT)).to.emit(pool, "CapitalLocked").withArgs(800n * UNIT, 800n * UNIT);
      expect(await pool.lockableAssets()).to.equal(0n);
      await expect(pool.connect(claimsRole).lock(1n))
        .to.be.revertedWithCustomError(pool, "PoolUtilisationExceeded")
        .withArgs(800n * UNIT + 1n, 1_000n * UNIT, MAX_UTIL);
    });

    it("lets LPs withdraw only unlocked capital (maxWithdraw / maxRedeem honour it)", async () => {
      const { pool, token, claimsRole, lp1 } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(400n * UNIT);
      // 400 locked needs ceil(400 / 0.8) = 500 of assets: 500 is free.
      expect(await pool.freeAssets()).to.equal(500n * UNIT);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(500n * UNIT);
      const maxRedeem = await pool.maxRedeem(lp1.address);
      expect(await pool.previewRedeem(maxRedeem)).to.be.lte(500n * UNIT);
      await expect(pool.connect(lp1).withdraw(500n * UNIT + 1n, lp1.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxWithdraw")
        .withArgs(lp1.address, 500n * UNIT + 1n, 500n * UNIT);
      await expect(pool.connect(lp1).redeem(maxRedeem + 1n, lp1.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxRedeem")
        .withArgs(lp1.address, maxRedeem + 1n, maxRedeem);
      await expect(pool.connect(lp1).withdraw(500n * UNIT, lp1.address, lp1.address)).to.changeTokenBalances(ethers, 
        token,
        [pool, lp1],
        [-500n * UNIT, 500n * UNIT],
      );
      expect(await pool.totalAssets()).to.equal(500n * UNIT);
      expect((await pool.lockedAssets()) * BPS).to.be.lte((await pool.totalAssets()) * MAX_UTIL);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(0n);
    });

    it("caps each LP at its own assets and the pool's free capital", async () => {
      const { pool, claimsRole, lp1, lp2 } = await loadFixture(fundedPoolFixture);
      await pool.connect(lp2).deposit(100n * UNIT, lp2.address);
      await pool.connect(claimsRole).lock(800n * UNIT); // needs 1000 of 1100
      expect(await pool.maxWithdraw(lp2.address)).to.equal(100n * UNIT);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(100n * UNIT);
    });

    it("refuses a max utilisation the current ledger would break, and validates the range", async () => {
      const { pool, admin, claimsRole } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(600n * UNIT);
      await expect(pool.connect(admin).setMaxUtilisation(5_999))
        .to.be.revertedWithCustomError(pool, "PoolUtilisationExceeded")
        .withArgs(600n * UNIT, 1_000n * UNIT, 5_999n);
      await expect(pool.connect(admin).setMaxUtilisation(6_000)).to.emit(pool, "MaxUtilisationSet").withArgs(6_000n);
      await expect(pool.connect(admin).setMaxUtilisation(0)).to.be.revertedWithCustomError(pool, "PoolInvalidUtilisation").withArgs(0n);
      await expect(pool.connect(admin).setMaxUtilisation(10_001))
        .to.be.revertedWithCustomError(pool, "PoolInvalidUtilisation")
        .withArgs(10_001n);
    });

    it("pays claims out of locked capital: assets and locked both drop", async () => {
      const { pool, token, claimsRole, victim } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(800n * UNIT);
      const tx = pool.connect(claimsRole).payClaim(9n, victim.address, 300n * UNIT);
      await expect(tx).to.emit(pool, "ClaimPaid").withArgs(9n, victim.address, 300n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [pool, victim], [-300n * UNIT, 300n * UNIT]);
      expect(await pool.totalAssets()).to.equal(700n * UNIT);
      expect(await pool.lockedAssets()).to.equal(500n * UNIT);
      // 500 * 10000 <= 700 * 8000: the payout kept the invariant although utilisation was at its maximum.
      expect(500n * BPS).to.be.lte(700n * MAX_UTIL);
      await expect(pool.connect(claimsRole).payClaim(9n, victim.address, 500n * UNIT + 1n))
        .to.be.revertedWithCustomError(pool, "PoolExceedsLocked")
        .withArgs(500n * UNIT + 1n, 500n * UNIT);
    });

    it("releases locked capital", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(300n * UNIT);
      await expect(pool.connect(claimsRole).release(100n * UNIT)).to.emit(pool, "CapitalReleased").withArgs(100n * UNIT, 200n * UNIT);
      await expect(pool.connect(claimsRole).release(200n * UNIT + 1n))
        .to.be.revertedWithCustomError(pool, "PoolExceedsLocked")
        .withArgs(200n * UNIT + 1n, 200n * UNIT);
    });
  });

  describe("inflation attack", () => {
    it("makes the first-depositor attack unprofitable (virtual shares, decimals offset 6)", async () => {
      const { pool, claimsRole, attacker, victim } = await loadFixture(deployPoolFixture);
      // The attacker deposits one base unit, then inflates the share price the only way this pool allows:
      // paying premiums into it (direct donations are ignored by the ledger).
      await pool.connect(attacker).deposit(1n, attacker.address);
      const inflation = 10_000n * UNIT;
      await pool.connect(claimsRole).collectPremium(1n, inflation);
      const victimDeposit = 1_000n * UNIT;
      await pool.connect(victim).deposit(victimDeposit, victim.address);
      const victimShares = await pool.balanceOf(victim.address);
      expect(victimShares).to.be.gt(0n);
      const victimValue = await pool.previewRedeem(victimShares);
      // The victim loses less than 0.01 tUSD to rounding...
      expect(victimDeposit - victimValue).to.be.lt(UNIT / 100n);
      // ...while the attacker gets back about half of what it paid in: the other half accrues to the 1e6 virtual
      // shares, so the attack loses thousands to gain at most a hundredth.
      const attackerValue = await pool.previewRedeem(await pool.balanceOf(attacker.address));
      const attackerCost = inflation + 1n;
      expect(attackerValue + (victimDeposit - victimValue)).to.be.lt((attackerCost * 6n) / 10n);
    });

    it("ignores direct donations: they move neither the ledger nor the share price", async () => {
      const { pool, token, attacker, lp1 } = await loadFixture(fundedPoolFixture);
      const price = await pool.convertToAssets(10n ** 12n);
      await token.connect(attacker).transfer(await pool.getAddress(), 5_000n * UNIT);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
      expect(await pool.convertToAssets(10n ** 12n)).to.equal(price);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(1_000n * UNIT);
    });
  });

  describe("administration", () => {
    it("sets the fee (capped) and the treasury", async () => {
      const { pool, admin, outsider } = await loadFixture(deployPoolFixture);
      await expect(pool.connect(admin).setProtocolFee(2_000)).to.emit(pool, "ProtocolFeeSet").withArgs(2_000n);
      await expect(pool.connect(admin).setProtocolFee(2_001))
        .to.be.revertedWithCustomError(pool, "PoolFeeTooHigh")
        .withArgs(2_001n, 2_000n);
      await expect(pool.connect(admin).setTreasury(outsider.address)).to.emit(pool, "TreasurySet").withArgs(outsider.address);
      expect(await pool.treasury()).to.equal(outsider.address);
      await expect(pool.connect(admin).setTreasury(ethers.ZeroAddress)).to.be.revertedWithCustomError(pool, "PoolZeroAddress");
    });

    it("restricts claims operations to CLAIMS_ROLE and parameters to the admin", async () => {
      const { pool, outsider } = await loadFixture(fundedPoolFixture);
      const claimsRole = await pool.CLAIMS_ROLE();
      for (const call of [
        () => pool.connect(outsider).lock(1n),
        () => pool.connect(outsider).release(1n),
        () => pool.connect(outsider).payClaim(1n, outsider.address, 1n),
        () => pool.connect(outsider).collectPremium(1n, 1n),
        () => pool.connect(outsider).collectForfeit(1n, 1n),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(pool, "AccessControlUnauthorizedAccount").withArgs(outsider.address, claimsRole);
      }
      for (const call of [
        () => pool.connect(outsider).setMaxUtilisation(1),
        () => pool.connect(outsider).setProtocolFee(1),
        () => pool.connect(outsider).setTreasury(outsider.address),
      ]) {
        await expect(call())
          .to.be.revertedWithCustomError(pool, "AccessControlUnauthorizedAccount")
          .withArgs(outsider.address, ethers.ZeroHash);
      }
    });
  });
});
