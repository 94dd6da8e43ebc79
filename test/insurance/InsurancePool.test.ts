import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { DAY, UNIT } from "@triad/devkit/insurance";
import type { InsurancePool } from "@triad/contracts";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

const { loadFixture, time } = networkHelpers;

const MAX_UTIL = 8_000n;
const FEE = 1_000n;
const BPS = 10_000n;
const COOLDOWN = 5n * DAY;
/** One whole share at the pool's 12 decimals. */
const SHARE = 10n ** 12n;

/** Start of the UTC day after `t` (premiums are earned until their end rounded up to a whole day). */
const dayEndOf = (t: bigint) => ((t + DAY - 1n) / DAY) * DAY;

/** Requests redemption of `shares` of `lp` and waits the cooldown out: the request is claimable afterwards. */
async function requestAndWait(pool: InsurancePool, lp: HardhatEthersSigner, shares: bigint) {
  await pool.connect(lp).requestRedeem(shares, lp.address, lp.address);
  await time.increase(COOLDOWN);
}

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
    COOLDOWN,
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
      expect(await pool.withdrawalCooldown()).to.equal(COOLDOWN);
      expect(await pool.share()).to.equal(await pool.getAddress());
    });

    it("mints 1e6 shares per base unit to the first depositor and books the assets", async () => {
      const { pool, token, lp1 } = await loadFixture(deployPoolFixture);
      const tx = pool.connect(lp1).deposit(1_000n * UNIT, lp1.address);
      await expect(tx)
        .to.emit(pool, "Deposit")
        .withArgs(lp1.address, lp1.address, 1_000n * UNIT, 1_000n * UNIT * 10n ** 6n);
      await expect(tx).to.changeTokenBalances(ethers, token, [lp1, pool], [-1_000n * UNIT, 1_000n * UNIT]);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
      expect(await pool.convertToAssets(await pool.balanceOf(lp1.address))).to.equal(1_000n * UNIT);
      // Withdrawals are asynchronous: nothing is claimable without a request.
      expect(await pool.maxWithdraw(lp1.address)).to.equal(0n);
      expect(await pool.maxRedeem(lp1.address)).to.equal(0n);
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
      await expect(f.deploy(ethers.ZeroAddress, admin.address, treasury.address, 1, 0, COOLDOWN)).to.be.revertedWithCustomError(
        f,
        "PoolZeroAddress",
      );
      await expect(f.deploy(t, ethers.ZeroAddress, treasury.address, 1, 0, COOLDOWN)).to.be.revertedWithCustomError(f, "PoolZeroAddress");
      await expect(f.deploy(t, admin.address, ethers.ZeroAddress, 1, 0, COOLDOWN)).to.be.revertedWithCustomError(f, "PoolZeroAddress");
      await expect(f.deploy(t, admin.address, treasury.address, 0, 0, COOLDOWN))
        .to.be.revertedWithCustomError(f, "PoolInvalidUtilisation")
        .withArgs(0n);
      await expect(f.deploy(t, admin.address, treasury.address, 10_001, 0, COOLDOWN))
        .to.be.revertedWithCustomError(f, "PoolInvalidUtilisation")
        .withArgs(10_001n);
      await expect(f.deploy(t, admin.address, treasury.address, 1, 2_001, COOLDOWN))
        .to.be.revertedWithCustomError(f, "PoolFeeTooHigh")
        .withArgs(2_001n, 2_000n);
      await expect(f.deploy(t, admin.address, treasury.address, 1, 0, 3_599))
        .to.be.revertedWithCustomError(f, "PoolCooldownTooShort")
        .withArgs(3_599n, 3_600n);
      // I-6: the pool cannot be its own treasury (its address is known before deployment).
      const [deployer] = await ethers.getSigners();
      const next = ethers.getCreateAddress({ from: deployer.address, nonce: await ethers.provider.getTransactionCount(deployer.address) });
      await expect(f.deploy(t, admin.address, next, 1, 0, COOLDOWN))
        .to.be.revertedWithCustomError(f, "PoolInvalidTreasury")
        .withArgs(next);
    });
  });

  describe("premiums", () => {
    it("sends the fee to the treasury and books the rest as unearned premium: the share price does not move at purchase", async () => {
      const { pool, token, claimsRole, treasury, lp1, lp2 } = await loadFixture(fundedPoolFixture);
      const shares = await pool.balanceOf(lp1.address);
      const before = await pool.convertToAssets(shares);
      const start = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(start);
      const tx = pool.connect(claimsRole).collectPremium(7n, 100n * UNIT, start, start + 30n * DAY);
      await expect(tx)
        .to.emit(pool, "PremiumCollected")
        .withArgs(7n, 90n * UNIT, 10n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [claimsRole, pool, treasury], [-100n * UNIT, 90n * UNIT, 10n * UNIT]);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
      expect(await pool.unearnedPremiums()).to.equal(90n * UNIT);
      expect(await pool.convertToAssets(shares)).to.equal(before);
      // A later LP buys in at the price of what has been earned only: after half the (rounded) term, about half.
      await time.increaseTo(start + (dayEndOf(start + 30n * DAY) - start) / 2n);
      await pool.connect(lp2).deposit(1_000n * UNIT, lp2.address);
      expect(await pool.balanceOf(lp2.address)).to.be.lt(shares);
      const price = await pool.convertToAssets(SHARE);
      expect(price).to.be.gt(before / 1_000_000n);
    });

    it("earns a premium linearly until its end rounded up to a whole day, exactly to the unit, never faster", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      const start = BigInt(await time.latest()) + 1n;
      const end = start + 30n * DAY;
      const earnedUntil = dayEndOf(end);
      const span = earnedUntil - start;
      await time.setNextBlockTimestamp(start);
      await pool.connect(claimsRole).collectPremium(1n, 100n * UNIT + 7n, start, end); // not a multiple of the span: dust
      const netBooked = await pool.unearnedPremiums();
      for (const elapsed of [2n, DAY / 3n, 10n * DAY + 17n, span - 1n]) {
        await time.setNextBlockTimestamp(start + elapsed);
        // A transaction that accrues, and the views in its block.
        const receipt = (await (await pool.connect(claimsRole).lock(0n)).wait())!;
        const at = { blockTag: receipt.blockNumber };
        const earned = netBooked - (await pool.unearnedPremiums(at));
        const linear = (netBooked * elapsed) / span;
        // Never more than linear over the rounded span, at most one unit less.
        expect(earned).to.be.lte(linear);
        expect(linear - earned).to.be.lte(1n);
        expect(await pool.totalAssets(at)).to.equal(1_000n * UNIT + earned);
      }
      // Fully earned at the rounded end, dust included: nothing stays unearned.
      await time.setNextBlockTimestamp(earnedUntil);
      await expect(pool.connect(claimsRole).lock(0n)).to.emit(pool, "PremiumsEarned");
      expect(await pool.unearnedPremiums()).to.equal(0n);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT + netBooked);
    });

    it("earns many premiums ending far apart across long quiet periods (day bitmap over several 256-day words)", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      const start = BigInt(await time.latest()) + 1n;
      const terms = [3n, 200n, 255n, 256n, 257n, 600n, 1_000n].map((d) => d * DAY + 1_234n);
      const booked: { net: bigint; end: bigint }[] = [];
      for (const [i, term] of terms.entries()) {
        const at = start + BigInt(i);
        await time.setNextBlockTimestamp(at);
        const receipt = (await (
          await pool.connect(claimsRole).collectPremium(BigInt(i), 1_000n * UNIT + BigInt(i), at, at + term)
        ).wait())!;
        const net = pool.interface.parseLog(receipt.logs.find((l) => pool.interface.parseLog(l)?.name === "PremiumCollected")!)!.args
          .net as bigint;
        booked.push({ net, end: dayEndOf(at + term) });
      }
      const total = booked.reduce((a, b) => a + b.net, 0n);
      for (const t of [start + 300n * DAY, start + 700n * DAY, start + 1_100n * DAY]) {
        await time.setNextBlockTimestamp(t);
        const receipt = (await (await pool.connect(claimsRole).lock(0n)).wait())!;
        const earned = total - (await pool.unearnedPremiums({ blockTag: receipt.blockNumber }));
        // Each premium earned linearly from its booking to its rounded end: never more, at most one unit less each.
        let [floor, ceil] = [0n, 0n];
        for (const [i, b] of booked.entries()) {
          const from = start + BigInt(i);
          const [n, d] = t >= b.end ? [b.net, 1n] : [b.net * (t - from), b.end - from];
          floor += n / d;
          ceil += (n + d - 1n) / d;
        }
        expect(earned).to.be.lte(ceil);
        expect(earned).to.be.gte(floor - BigInt(booked.length));
      }
      expect(await pool.unearnedPremiums()).to.equal(0n);
    });

    it("keeps the views exact between transactions (accrual simulated in views)", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      const start = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(start);
      await pool.connect(claimsRole).collectPremium(1n, 100n * UNIT, start, start + 60n * DAY);
      await time.increase(20n * DAY);
      const viewed = await pool.totalAssets();
      // The next transaction's accrual books what the view showed (plus its own second).
      await pool.connect(claimsRole).lock(0n);
      const booked = await pool.totalAssets();
      expect(booked - viewed).to.be.lte((await pool.unearnedPremiums()) / (40n * DAY) + 2n);
      expect(booked).to.be.gte(viewed);
    });

    it("refuses a term that has not started or already ended", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      const now = BigInt(await time.latest());
      await expect(pool.connect(claimsRole).collectPremium(1n, UNIT, now + 100n, now + DAY))
        .to.be.revertedWithCustomError(pool, "PoolInvalidTerm")
        .withArgs(now + 100n, now + DAY);
      await expect(pool.connect(claimsRole).collectPremium(1n, UNIT, now - DAY, now - 1n))
        .to.be.revertedWithCustomError(pool, "PoolInvalidTerm")
        .withArgs(now - DAY, now - 1n);
    });

    it("rounds the fee down in the pool's favour", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      const now = BigInt(await time.latest());
      await expect(pool.connect(claimsRole).collectPremium(1n, 19n, now, now + DAY))
        .to.emit(pool, "PremiumCollected")
        .withArgs(1n, 18n, 1n);
      await expect(pool.connect(claimsRole).collectPremium(1n, 9n, now, now + DAY))
        .to.emit(pool, "PremiumCollected")
        .withArgs(1n, 9n, 0n);
    });

    it("adds forfeited deposits without a fee, earned over one withdrawal cooldown", async () => {
      const { pool, token, claimsRole, treasury } = await loadFixture(fundedPoolFixture);
      const tx = pool.connect(claimsRole).collectForfeit(3n, 50n * UNIT);
      await expect(tx)
        .to.emit(pool, "DepositForfeited")
        .withArgs(3n, 50n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [claimsRole, pool, treasury], [-50n * UNIT, 50n * UNIT, 0n]);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
      expect(await pool.unearnedPremiums()).to.equal(50n * UNIT);
      await time.increase(COOLDOWN + DAY);
      expect(await pool.totalAssets()).to.equal(1_050n * UNIT);
      expect(await pool.unearnedPremiums()).to.equal(0n);
    });
  });

  describe("utilisation invariant", () => {
    it("locks up to assets * maxUtilisation and refuses beyond", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      expect(await pool.lockableAssets()).to.equal(800n * UNIT);
      await expect(pool.connect(claimsRole).lock(800n * UNIT))
        .to.emit(pool, "CapitalLocked")
        .withArgs(800n * UNIT, 800n * UNIT);
      expect(await pool.lockableAssets()).to.equal(0n);
      await expect(pool.connect(claimsRole).lock(1n))
        .to.be.revertedWithCustomError(pool, "PoolUtilisationExceeded")
        .withArgs(800n * UNIT + 1n, 1_000n * UNIT, MAX_UTIL);
    });

    it("lets LPs withdraw only unlocked capital (maxWithdraw / maxRedeem honour it)", async () => {
      const { pool, token, claimsRole, lp1 } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(400n * UNIT);
      // 400 locked needs ceil(400 / 0.8) = 500 of assets: 500 is free. The utilisation check applies at claim time.
      expect(await pool.freeAssets()).to.equal(500n * UNIT);
      await requestAndWait(pool, lp1, await pool.balanceOf(lp1.address));
      expect(await pool.maxWithdraw(lp1.address)).to.equal(500n * UNIT);
      const maxRedeem = await pool.maxRedeem(lp1.address);
      expect(await pool.convertToAssets(maxRedeem)).to.be.lte(500n * UNIT);
      await expect(pool.connect(lp1).withdraw(500n * UNIT + 1n, lp1.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxWithdraw")
        .withArgs(lp1.address, 500n * UNIT + 1n, 500n * UNIT);
      await expect(pool.connect(lp1).redeem(maxRedeem + 1n, lp1.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxRedeem")
        .withArgs(lp1.address, maxRedeem + 1n, maxRedeem);
      await expect(pool.connect(lp1).withdraw(500n * UNIT, lp1.address, lp1.address)).to.changeTokenBalances(
        ethers,
        token,
        [pool, lp1],
        [-500n * UNIT, 500n * UNIT],
      );
      expect(await pool.totalAssets()).to.equal(500n * UNIT);
      expect((await pool.lockedAssets()) * BPS).to.be.lte((await pool.totalAssets()) * MAX_UTIL);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(0n);
      // The rest of the request stays claimable once capital is released.
      await pool.connect(claimsRole).release(400n * UNIT);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(500n * UNIT);
    });

    it("caps each LP at its own request and the pool's free capital", async () => {
      const { pool, claimsRole, lp1, lp2 } = await loadFixture(fundedPoolFixture);
      await pool.connect(lp2).deposit(100n * UNIT, lp2.address);
      await pool.connect(lp1).requestRedeem(await pool.balanceOf(lp1.address), lp1.address, lp1.address);
      await requestAndWait(pool, lp2, await pool.balanceOf(lp2.address));
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
      await expect(tx)
        .to.emit(pool, "ClaimPaid")
        .withArgs(9n, victim.address, 300n * UNIT);
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
      await expect(pool.connect(claimsRole).release(100n * UNIT))
        .to.emit(pool, "CapitalReleased")
        .withArgs(100n * UNIT, 200n * UNIT);
      await expect(pool.connect(claimsRole).release(200n * UNIT + 1n))
        .to.be.revertedWithCustomError(pool, "PoolExceedsLocked")
        .withArgs(200n * UNIT + 1n, 200n * UNIT);
    });
  });

  describe("inflation attack", () => {
    it("makes the first-depositor attack unprofitable (virtual shares, decimals offset 6)", async () => {
      const { pool, claimsRole, attacker, victim } = await loadFixture(deployPoolFixture);
      // The attacker deposits one base unit, then inflates the share price the only way this pool allows:
      // paying premiums into it and waiting until they are earned (direct donations are ignored by the ledger).
      await pool.connect(attacker).deposit(1n, attacker.address);
      const inflation = 10_000n * UNIT;
      const now = BigInt(await time.latest());
      await pool.connect(claimsRole).collectPremium(1n, inflation, now, now + 60n);
      await time.increase(DAY);
      const victimDeposit = 1_000n * UNIT;
      await pool.connect(victim).deposit(victimDeposit, victim.address);
      const victimShares = await pool.balanceOf(victim.address);
      expect(victimShares).to.be.gt(0n);
      const victimValue = await pool.convertToAssets(victimShares);
      // The victim loses less than 0.01 tUSD to rounding...
      expect(victimDeposit - victimValue).to.be.lt(UNIT / 100n);
      // ...while the attacker gets back about half of what it paid in: the other half accrues to the 1e6 virtual
      // shares, so the attack loses thousands to gain at most a hundredth.
      const attackerValue = await pool.convertToAssets(await pool.balanceOf(attacker.address));
      const attackerCost = inflation + 1n;
      expect(attackerValue + (victimDeposit - victimValue)).to.be.lt((attackerCost * 6n) / 10n);
    });

    it("ignores direct donations: they move neither the ledger nor the share price", async () => {
      const { pool, token, attacker, lp1 } = await loadFixture(fundedPoolFixture);
      const price = await pool.convertToAssets(10n ** 12n);
      await token.connect(attacker).transfer(await pool.getAddress(), 5_000n * UNIT);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
      expect(await pool.convertToAssets(10n ** 12n)).to.equal(price);
      expect(await pool.convertToAssets(await pool.balanceOf(lp1.address))).to.equal(1_000n * UNIT);
    });

    it("I-6 stuck tokens: the admin sweeps the surplus over the books to the treasury", async () => {
      const { pool, token, admin, treasury, attacker, claimsRole } = await loadFixture(fundedPoolFixture);
      const now = BigInt(await time.latest());
      await pool.connect(claimsRole).collectPremium(1n, 100n * UNIT, now, now + 30n * DAY);
      await token.connect(attacker).transfer(await pool.getAddress(), 5_000n * UNIT);
      const tx = pool.connect(admin).sweepSurplus();
      await expect(tx)
        .to.emit(pool, "SurplusSwept")
        .withArgs(treasury.address, 5_000n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [pool, treasury], [-5_000n * UNIT, 5_000n * UNIT]);
      // The books are intact: equity + unearned premium == balance.
      expect(await token.balanceOf(await pool.getAddress())).to.equal((await pool.totalAssets()) + (await pool.unearnedPremiums()));
      await expect(pool.connect(admin).sweepSurplus()).to.emit(pool, "SurplusSwept").withArgs(treasury.address, 0n);
    });

    it("I-6 the pool as its own treasury: refused", async () => {
      const { pool, admin } = await loadFixture(deployPoolFixture);
      const self = await pool.getAddress();
      await expect(pool.connect(admin).setTreasury(self)).to.be.revertedWithCustomError(pool, "PoolInvalidTreasury").withArgs(self);
    });
  });

  describe("payout reserves", () => {
    it("reserves an approved payout out of LP equity at once; paying it moves only the books", async () => {
      const { pool, token, claimsRole, victim } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(800n * UNIT);
      await expect(pool.connect(claimsRole).reservePayout(4n, 300n * UNIT))
        .to.emit(pool, "PayoutReserved")
        .withArgs(4n, 300n * UNIT, 300n * UNIT);
      expect(await pool.totalAssets()).to.equal(700n * UNIT);
      expect(await pool.reservedPayouts()).to.equal(300n * UNIT);
      // Re-reserving replaces the claim's amount; another claim adds up to the locked capital, not beyond.
      await expect(pool.connect(claimsRole).reservePayout(4n, 200n * UNIT))
        .to.emit(pool, "PayoutReserved")
        .withArgs(4n, 200n * UNIT, 200n * UNIT);
      await expect(pool.connect(claimsRole).reservePayout(5n, 600n * UNIT + 1n))
        .to.be.revertedWithCustomError(pool, "PoolExceedsLocked")
        .withArgs(600n * UNIT + 1n, 600n * UNIT);
      const tx = pool.connect(claimsRole).payClaim(4n, victim.address, 250n * UNIT);
      await expect(tx).to.emit(pool, "PayoutReserved").withArgs(4n, 0n, 0n);
      await expect(tx)
        .to.emit(pool, "ClaimPaid")
        .withArgs(4n, victim.address, 250n * UNIT);
      await expect(tx).to.changeTokenBalances(ethers, token, [pool, victim], [-250n * UNIT, 250n * UNIT]);
      expect(await pool.totalAssets()).to.equal(750n * UNIT);
      expect(await pool.reservedPayouts()).to.equal(0n);
    });

    it("releases a reserve (rejection on appeal): the equity comes back", async () => {
      const { pool, claimsRole } = await loadFixture(fundedPoolFixture);
      await pool.connect(claimsRole).lock(500n * UNIT);
      await pool.connect(claimsRole).reservePayout(1n, 400n * UNIT);
      await expect(pool.connect(claimsRole).reservePayout(1n, 0n)).to.emit(pool, "PayoutReserved").withArgs(1n, 0n, 0n);
      expect(await pool.totalAssets()).to.equal(1_000n * UNIT);
    });
  });

  describe("asynchronous redemption (ERC-7540)", () => {
    it("escrows requested shares, claimable after the cooldown; previews revert; views say pending and claimable", async () => {
      const { pool, lp1 } = await loadFixture(fundedPoolFixture);
      const shares = (await pool.balanceOf(lp1.address)) / 4n;
      const tx = pool.connect(lp1).requestRedeem(shares, lp1.address, lp1.address);
      await expect(tx).to.emit(pool, "RedeemRequest").withArgs(lp1.address, lp1.address, 0n, lp1.address, shares);
      await expect(tx)
        .to.emit(pool, "Transfer")
        .withArgs(lp1.address, await pool.getAddress(), shares);
      const [requested, atRequest, claimableAt] = await pool.redeemRequest(lp1.address);
      expect([requested, atRequest]).to.deep.equal([shares, 250n * UNIT]);
      expect(claimableAt).to.equal(BigInt(await time.latest()) + COOLDOWN);
      expect(await pool.pendingRedeemRequest(0n, lp1.address)).to.equal(shares);
      expect(await pool.claimableRedeemRequest(0n, lp1.address)).to.equal(0n);
      expect(await pool.maxRedeem(lp1.address)).to.equal(0n);
      await expect(pool.previewRedeem(shares)).to.be.revertedWithCustomError(pool, "PoolAsyncRedemption");
      await expect(pool.previewWithdraw(UNIT)).to.be.revertedWithCustomError(pool, "PoolAsyncRedemption");
      await time.increaseTo(claimableAt);
      expect(await pool.pendingRedeemRequest(0n, lp1.address)).to.equal(0n);
      expect(await pool.claimableRedeemRequest(0n, lp1.address)).to.equal(shares);
      expect(await pool.maxWithdraw(lp1.address)).to.equal(250n * UNIT);
      expect(await pool.maxRedeem(lp1.address)).to.equal(shares);
    });

    it("pays the lower of the value at request and at claim: gains after the request stay with the pool", async () => {
      const { pool, token, claimsRole, lp1, lp2 } = await loadFixture(fundedPoolFixture);
      await pool.connect(lp2).deposit(1_000n * UNIT, lp2.address);
      await pool.connect(lp1).requestRedeem(await pool.balanceOf(lp1.address), lp1.address, lp1.address);
      const now = BigInt(await time.latest());
      await pool.connect(claimsRole).collectPremium(1n, 200n * UNIT, now, now + DAY);
      await time.increase(COOLDOWN);
      const shares = await pool.maxRedeem(lp1.address);
      const tx = pool.connect(lp1).redeem(shares, lp1.address, lp1.address);
      await expect(tx)
        .to.emit(pool, "Withdraw")
        .withArgs(lp1.address, lp1.address, lp1.address, 1_000n * UNIT, shares);
      await expect(tx).to.changeTokenBalances(ethers, token, [lp1], [1_000n * UNIT]);
      // LP2 keeps the whole 180 earned while LP1 waited.
      expect(await pool.convertToAssets(await pool.balanceOf(lp2.address))).to.be.closeTo(1_180n * UNIT, 1n);
    });

    it("pays the lower price after a loss during the cooldown (escrowed shares bear losses)", async () => {
      const { pool, claimsRole, lp1, lp2, victim } = await loadFixture(fundedPoolFixture);
      await pool.connect(lp2).deposit(1_000n * UNIT, lp2.address);
      await pool.connect(claimsRole).lock(1_000n * UNIT);
      await pool.connect(lp1).requestRedeem(await pool.balanceOf(lp1.address), lp1.address, lp1.address);
      await pool.connect(claimsRole).payClaim(1n, victim.address, 400n * UNIT);
      await time.increase(COOLDOWN);
      expect(await pool.maxWithdraw(lp1.address)).to.be.closeTo(800n * UNIT, 1n);
    });

    it("claims by assets (withdraw) and in parts; the rest of the request keeps its pro-rata value at request", async () => {
      const { pool, token, lp1 } = await loadFixture(fundedPoolFixture);
      await requestAndWait(pool, lp1, await pool.balanceOf(lp1.address));
      const [requested] = await pool.redeemRequest(lp1.address);
      await expect(pool.connect(lp1).withdraw(300n * UNIT, lp1.address, lp1.address)).to.changeTokenBalances(
        ethers,
        token,
        [lp1, pool],
        [300n * UNIT, -300n * UNIT],
      );
      const [left, atRequest] = await pool.redeemRequest(lp1.address);
      expect(left).to.equal(requested - (requested * 3n) / 10n);
      expect(atRequest).to.equal(700n * UNIT);
      await expect(pool.connect(lp1).withdraw(700n * UNIT + 1n, lp1.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxWithdraw")
        .withArgs(lp1.address, 700n * UNIT + 1n, 700n * UNIT);
      await pool.connect(lp1).redeem(left, lp1.address, lp1.address);
      expect((await pool.redeemRequest(lp1.address))[2]).to.equal(0n);
      expect(await pool.totalSupply()).to.equal(0n);
    });

    it("cancels a request (pending or claimable): the shares come back", async () => {
      const { pool, lp1, outsider } = await loadFixture(fundedPoolFixture);
      const shares = await pool.balanceOf(lp1.address);
      await pool.connect(lp1).requestRedeem(shares, lp1.address, lp1.address);
      await expect(pool.connect(outsider).cancelRedeemRequest(0n, lp1.address))
        .to.be.revertedWithCustomError(pool, "PoolNotOperator")
        .withArgs(outsider.address, lp1.address);
      await expect(pool.connect(lp1).cancelRedeemRequest(0n, lp1.address))
        .to.emit(pool, "RedeemRequestCancelled")
        .withArgs(lp1.address, shares);
      expect(await pool.balanceOf(lp1.address)).to.equal(shares);
      await expect(pool.connect(lp1).cancelRedeemRequest(0n, lp1.address))
        .to.be.revertedWithCustomError(pool, "PoolNoRequest")
        .withArgs(lp1.address);
    });

    it("adding to a request restarts its cooldown", async () => {
      const { pool, lp1 } = await loadFixture(fundedPoolFixture);
      const half = (await pool.balanceOf(lp1.address)) / 2n;
      await requestAndWait(pool, lp1, half);
      await pool.connect(lp1).requestRedeem(half, lp1.address, lp1.address);
      expect(await pool.maxRedeem(lp1.address)).to.equal(0n);
      expect(await pool.pendingRedeemRequest(0n, lp1.address)).to.equal(half * 2n);
    });

    it("lets operators and share allowances act, and nobody else", async () => {
      const { pool, token, lp1, lp2, outsider } = await loadFixture(fundedPoolFixture);
      const shares = (await pool.balanceOf(lp1.address)) / 2n;
      await expect(pool.connect(outsider).requestRedeem(shares, outsider.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "ERC20InsufficientAllowance")
        .withArgs(outsider.address, 0n, shares);
      await pool.connect(lp1).approve(outsider.address, shares);
      await pool.connect(outsider).requestRedeem(shares, outsider.address, lp1.address);
      expect(await pool.pendingRedeemRequest(0n, outsider.address)).to.equal(shares);
      await expect(pool.connect(lp1).setOperator(lp2.address, true)).to.emit(pool, "OperatorSet").withArgs(lp1.address, lp2.address, true);
      expect(await pool.isOperator(lp1.address, lp2.address)).to.equal(true);
      await pool.connect(lp2).requestRedeem(shares, lp1.address, lp1.address);
      await time.increase(COOLDOWN);
      await expect(pool.connect(outsider).redeem(1n, outsider.address, lp1.address))
        .to.be.revertedWithCustomError(pool, "PoolNotOperator")
        .withArgs(outsider.address, lp1.address);
      await expect(pool.connect(lp2).withdraw(100n * UNIT, lp2.address, lp1.address)).to.changeTokenBalances(
        ethers,
        token,
        [lp2],
        [100n * UNIT],
      );
      await expect(pool.connect(lp1).requestRedeem(0n, lp1.address, lp1.address)).to.be.revertedWithCustomError(pool, "PoolZeroShares");
    });

    it("declares ERC-7540 operator, asynchronous redemption and ERC-7575 support (ERC-165)", async () => {
      const { pool } = await loadFixture(deployPoolFixture);
      for (const id of ["0xe3bc4e65", "0x620ee8e4", "0x2f0a18c5", "0x01ffc9a7"])
        expect(await pool.supportsInterface(id), id).to.equal(true);
      expect(await pool.supportsInterface("0xffffffff")).to.equal(false);
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
      await expect(pool.connect(admin).setWithdrawalCooldown(7n * DAY))
        .to.emit(pool, "WithdrawalCooldownSet")
        .withArgs(7n * DAY);
      await expect(pool.connect(admin).setWithdrawalCooldown(3_599))
        .to.be.revertedWithCustomError(pool, "PoolCooldownTooShort")
        .withArgs(3_599n, 3_600n);
    });

    it("restricts claims operations to CLAIMS_ROLE and parameters to the admin", async () => {
      const { pool, outsider } = await loadFixture(fundedPoolFixture);
      const claimsRole = await pool.CLAIMS_ROLE();
      for (const call of [
        () => pool.connect(outsider).lock(1n),
        () => pool.connect(outsider).release(1n),
        () => pool.connect(outsider).payClaim(1n, outsider.address, 1n),
        () => pool.connect(outsider).collectPremium(1n, 1n, 1n, 2n),
        () => pool.connect(outsider).collectForfeit(1n, 1n),
        () => pool.connect(outsider).reservePayout(1n, 1n),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(pool, "AccessControlUnauthorizedAccount").withArgs(outsider.address, claimsRole);
      }
      for (const call of [
        () => pool.connect(outsider).setMaxUtilisation(1),
        () => pool.connect(outsider).setProtocolFee(1),
        () => pool.connect(outsider).setTreasury(outsider.address),
        () => pool.connect(outsider).setWithdrawalCooldown(DAY),
        () => pool.connect(outsider).sweepSurplus(),
      ]) {
        await expect(call())
          .to.be.revertedWithCustomError(pool, "AccessControlUnauthorizedAccount")
          .withArgs(outsider.address, ethers.ZeroHash);
      }
    });
  });
});
