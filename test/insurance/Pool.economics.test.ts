import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { DAY, LP_DEPOSIT, PROTOCOL_FEE_BPS, UNIT, WITHDRAWAL_COOLDOWN, deployInsuranceFixture } from "@triad/devkit/insurance";
import { fileClaim, signBy, verdictFor, type InsuranceFixture } from "@triad/devkit/insurance";

const { loadFixture, time, mine } = networkHelpers;

/**
 * The audit's pool findings (issue 12), replayed as the attacker would. Both tests failed on the code before the
 * fix (the synchronous pool): H-1 — the attacker paid 54.46 for 500 of premium; H-2 — the early LP took out
 * 100,027.74 instead of at most 97,775.
 */
describe("InsurancePool: economics (audit findings H-1, H-2)", () => {
  /** Sends `txs` into one block (automine off), then mines it. */
  async function inOneBlock(txs: (() => Promise<unknown>)[]) {
    await ethers.provider.send("evm_setAutomine", [false]);
    try {
      for (const send of txs) await send();
      await mine();
    } finally {
      await ethers.provider.send("evm_setAutomine", [true]);
    }
  }

  it("H-1 premium sandwich: deposit huge, buy cover and request redemption in one block; the attacker gets back no more than it deposited and nothing of the premium", async () => {
    const fx = await loadFixture(deployInsuranceFixture);
    const { pool, claims, token, holder, admin, device, productId } = fx;
    const huge = 10_000_000n * UNIT; // a flash loan's worth: 99% of the pool
    await token.connect(admin).mint(holder.address, huge);
    await token.connect(holder).approve(await pool.getAddress(), ethers.MaxUint256);
    const coverage = 10_000n * UNIT;
    const duration = 365n * DAY;
    const premium = await claims.quotePremium(productId, coverage, duration);
    const shares = await pool.previewDeposit(huge);
    const before = await token.balanceOf(holder.address);

    await inOneBlock([
      () => pool.connect(holder).deposit(huge, holder.address, { gasLimit: 500_000 }),
      () => claims.connect(holder).buyPolicy(productId, device, coverage, duration, { gasLimit: 800_000 }),
      // The old attack's last step: redeem at once. Now there is nothing to redeem without a request...
      () => pool.connect(holder).redeem(shares, holder.address, holder.address, { gasLimit: 500_000 }),
      // ...so the attacker requests in the same block.
      () => pool.connect(holder).requestRedeem(shares, holder.address, holder.address, { gasLimit: 500_000 }),
    ]);
    expect(await pool.pendingRedeemRequest(0n, holder.address)).to.equal(shares);
    expect(await pool.maxRedeem(holder.address)).to.equal(0n);
    await expect(pool.connect(holder).redeem(shares, holder.address, holder.address))
      .to.be.revertedWithCustomError(pool, "ERC4626ExceededMaxRedeem")
      .withArgs(holder.address, shares, 0n);

    // After the cooldown the request pays the lower of its value at request (the purchase's block: nothing earned)
    // and now.
    await time.increase(WITHDRAWAL_COOLDOWN);
    expect(await pool.claimableRedeemRequest(0n, holder.address)).to.equal(shares);
    const max = await pool.maxRedeem(holder.address);
    expect(max).to.equal(shares);
    await pool.connect(holder).redeem(max, holder.address, holder.address);
    const after = await token.balanceOf(holder.address);
    const returned = after - (before - huge - premium);
    expect(returned, "no more than deposited").to.be.lte(huge);
    expect(before - after, "the whole premium paid").to.be.gte(premium);
    // The premium stays with the pool: the honest LP earns it over the term.
    const net = premium - (premium * PROTOCOL_FEE_BPS) / 10_000n;
    expect((await pool.unearnedPremiums()) + (await pool.totalAssets()) - LP_DEPOSIT).to.be.gte(net);
  });

  /** LP1 and LP2 hold 100,000 each; a 5,000 policy has a claim filed (5,000, deductible 100: pays 4,900). */
  async function twoLpClaimFixture() {
    const fx = await deployInsuranceFixture();
    await fx.pool.connect(fx.lp2).deposit(LP_DEPOSIT, fx.lp2.address);
    await fx.claims.connect(fx.holder).buyPolicy(fx.productId, fx.device, 5_000n * UNIT, 90n * DAY);
    const premium = (await fx.claims.getPolicy(1n)).premium;
    const { claimId } = await fileClaim(fx, 1n, { amount: 5_000n * UNIT });
    return { ...fx, claimId, net: premium - (premium * PROTOCOL_FEE_BPS) / 10_000n };
  }

  async function approve(fx: InsuranceFixture, claimId: bigint) {
    const v = await verdictFor(fx, claimId, true);
    await fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v));
  }

  /** LP1's bound: half the capital after the 4,900 loss, plus at most half of the whole net premium. */
  const lp1Bound = (net: bigint) => LP_DEPOSIT - 2_450n * UNIT + net / 2n;

  it("H-2 exit ahead of a known payout: once a payout is approved the share price carries it, so an LP cannot exit at the pre-loss price", async () => {
    const fx = await loadFixture(twoLpClaimFixture);
    const { pool, token, lp1, claimId, net } = fx;
    const equity = await pool.totalAssets();
    await approve(fx, claimId);
    // Reserved at approval: the share price falls now, not at settlement.
    expect(await pool.reservedPayouts()).to.equal(4_900n * UNIT);
    expect(equity - (await pool.totalAssets())).to.be.gte(4_900n * UNIT - UNIT); // minus a second of earning

    const shares = await pool.balanceOf(lp1.address);
    await expect(pool.connect(lp1).redeem(shares, lp1.address, lp1.address)).to.be.revertedWithCustomError(
      pool,
      "ERC4626ExceededMaxRedeem",
    );
    await pool.connect(lp1).requestRedeem(shares, lp1.address, lp1.address);
    await time.increase(WITHDRAWAL_COOLDOWN);
    const before = await token.balanceOf(lp1.address);
    await pool.connect(lp1).redeem(await pool.maxRedeem(lp1.address), lp1.address, lp1.address);
    const got = (await token.balanceOf(lp1.address)) - before;
    expect(got).to.be.lte(lp1Bound(net));
  });

  it("H-2 exit ahead of a known payout: a request made before the approval pays the lower, post-loss price when claimed after it", async () => {
    const fx = await loadFixture(twoLpClaimFixture);
    const { pool, claims, token, lp1, claimId, net } = fx;
    const shares = await pool.balanceOf(lp1.address);
    await pool.connect(lp1).requestRedeem(shares, lp1.address, lp1.address);
    const [, atRequest] = await pool.redeemRequest(lp1.address);
    await approve(fx, claimId); // during the cooldown: the claim's verdict is due within the assessment window
    await time.increase(WITHDRAWAL_COOLDOWN);
    const before = await token.balanceOf(lp1.address);
    await pool.connect(lp1).redeem(shares, lp1.address, lp1.address);
    const got = (await token.balanceOf(lp1.address)) - before;
    expect(got).to.be.lt(atRequest);
    expect(got).to.be.lte(lp1Bound(net));
    // Settlement pays from the reserve: LP2's equity does not move with it.
    // (The appeal window closed during the cooldown.)
    expect(BigInt(await time.latest())).to.be.gte((await claims.getClaim(claimId)).appealDeadline);
    const equity = await pool.totalAssets();
    await claims.settle(claimId);
    expect(await pool.reservedPayouts()).to.equal(0n);
    expect(await pool.totalAssets()).to.be.gte(equity);
  });

  it("H-2 exit ahead of a known payout: a rejection on appeal releases the reserve (the price recovers)", async () => {
    const fx = await loadFixture(twoLpClaimFixture);
    const { pool, claims, insurer, arbiter, claimId } = fx;
    await approve(fx, claimId);
    const depressed = await pool.totalAssets();
    await claims.connect(insurer).challenge(claimId);
    await expect(claims.connect(arbiter).resolve(claimId, false, 0n))
      .to.emit(pool, "PayoutReserved")
      .withArgs(claimId, 0n, 0n);
    expect(await pool.reservedPayouts()).to.equal(0n);
    expect((await pool.totalAssets()) - depressed).to.be.gte(4_900n * UNIT);
  });

  it("H-2 exit ahead of a known payout: an escalated claim reserves the most it can pay until the arbiter decides", async () => {
    const fx = await loadFixture(twoLpClaimFixture);
    const { pool, claims, arbiter, holder, token, claimId } = fx;
    await time.increaseTo((await claims.getClaim(claimId)).assessmentDeadline + 1n);
    await expect(claims.escalate(claimId))
      .to.emit(pool, "PayoutReserved")
      .withArgs(claimId, 4_900n * UNIT, 4_900n * UNIT);
    // The arbiter approves 3,000: 2,900 paid, the reserve released in the same transaction.
    const tx = claims.connect(arbiter).resolve(claimId, true, 3_000n * UNIT);
    await expect(tx)
      .to.emit(pool, "ClaimPaid")
      .withArgs(claimId, holder.address, 2_900n * UNIT);
    await expect(tx).to.changeTokenBalances(ethers, token, [pool], [-2_900n * UNIT]);
    expect(await pool.reservedPayouts()).to.equal(0n);
  });
});
