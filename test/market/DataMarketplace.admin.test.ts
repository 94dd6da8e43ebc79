import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ZeroAddress, ZeroHash } from "ethers";
import {
  BUYER_PUBLIC_KEY,
  ENCRYPTED_KEY,
  FEE_BPS,
  ListingStatus,
  MAX_FEE_BPS,
  MAX_UINT64,
  PRICE,
  STREAM_PRICE,
  feeOf,
  listedFixture,
  purchasedFixture,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** DataMarketplace: the protocol fee and its manager, and the market admin's take-down. */
describe("DataMarketplace", function () {
  describe("fees", function () {
    async function deliverAt(price: bigint) {
      const f = await loadFixture(listedFixture);
      await f.market.connect(f.signers.seller).setPrice(f.datasetId, price);
      await f.market.connect(f.signers.buyer).purchase(f.datasetId, price, BUYER_PUBLIC_KEY);
      return f;
    }

    it("rounds the fee down in the seller's favour", async function () {
      const { market, datasetId, signers } = await deliverAt(999_999n);
      // 999_999 * 250 / 10_000 = 24_999.975 -> 24_999
      await expect(market.connect(signers.seller).deliver(1n, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(1n, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, 975_000n, 24_999n, MAX_UINT64);
      expect(await market.withdrawable(signers.seller.address)).to.equal(975_000n);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(24_999n);
    });

    it("takes no fee from an amount too small to carry one", async function () {
      const { market, datasetId, signers } = await deliverAt(39n);
      await expect(market.connect(signers.seller).deliver(1n, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(1n, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, 39n, 0n, MAX_UINT64);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(0n);
    });

    it("with a zero fee pays the seller everything", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.admin).setFee(0n)).to.emit(market, "FeeChanged").withArgs(FEE_BPS, 0n, signers.admin.address);
      await market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY);
      await expect(market.connect(signers.seller).deliver(1n, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(1n, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, PRICE, 0n, MAX_UINT64);
      expect(await market.withdrawable(signers.seller.address)).to.equal(PRICE);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(0n);
    });

    it("accepts a fee at the cap and rejects one above it", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.admin).setFee(MAX_FEE_BPS))
        .to.emit(market, "FeeChanged")
        .withArgs(FEE_BPS, MAX_FEE_BPS, signers.admin.address);
      await expect(market.connect(signers.admin).setFee(MAX_FEE_BPS + 1n))
        .to.be.revertedWithCustomError(market, "MarketFeeTooHigh")
        .withArgs(MAX_FEE_BPS + 1n, MAX_FEE_BPS);
      await market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY);
      await market.connect(signers.seller).deliver(1n, ENCRYPTED_KEY);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(5_000_000n); // 10 % of 50 tUSD
      expect(await market.withdrawable(signers.seller.address)).to.equal(45_000_000n);
    });

    it("lets only the fee manager change the fee", async function () {
      const { market, signers } = await loadFixture(listedFixture);
      const role = await market.FEE_MANAGER_ROLE();
      await expect(market.connect(signers.other).setFee(1n))
        .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
        .withArgs(signers.other.address, role);
      await market.connect(signers.admin).grantRole(role, signers.other.address);
      await expect(market.connect(signers.other).setFee(1n)).to.emit(market, "FeeChanged").withArgs(FEE_BPS, 1n, signers.other.address);
    });

    it("charges a pending purchase the fee rate of its purchase time", async function () {
      const { market, datasetId, datasetPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.admin).setFee(MAX_FEE_BPS);
      await expect(market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(
          datasetPurchase,
          datasetId,
          signers.buyer.address,
          signers.seller.address,
          ENCRYPTED_KEY,
          PRICE - feeOf(PRICE),
          feeOf(PRICE),
          MAX_UINT64,
        );
    });

    it("accrues later fees to a new treasury while the old one keeps what it earned", async function () {
      const { market, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      await expect(market.connect(signers.admin).setTreasury(signers.other.address))
        .to.emit(market, "TreasuryChanged")
        .withArgs(signers.treasury.address, signers.other.address);
      await market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(feeOf(PRICE));
      expect(await market.withdrawable(signers.other.address)).to.equal(feeOf(STREAM_PRICE));
      await expect(market.connect(signers.admin).setTreasury(ZeroAddress)).to.be.revertedWithCustomError(market, "MarketZeroAddress");
      await expect(market.connect(signers.other).setTreasury(signers.other.address))
        .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
        .withArgs(signers.other.address, ZeroHash);
    });
  });

  describe("takeDown", function () {
    it("ends sales, deliveries and access, and makes pending purchases refundable at once", async function () {
      const { market, token, datasetId, datasetPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.buyer2).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY);
      await market.connect(signers.seller).deliver(3n, ENCRYPTED_KEY);
      expect(await market.hasAccess(datasetId, signers.buyer2.address, await time.latest())).to.equal(true);
      const proceeds = await market.withdrawable(signers.seller.address);

      const reason = "court order 2024/117";
      const tx = market.connect(signers.admin).takeDown(datasetId, reason);
      await expect(tx)
        .to.emit(market, "ListingStatusChanged")
        .withArgs(datasetId, ListingStatus.Active, ListingStatus.TakenDown, signers.admin.address);
      await expect(tx).to.emit(market, "ListingTakenDown").withArgs(datasetId, signers.admin.address, reason);

      expect(await market.hasAccess(datasetId, signers.buyer2.address, await time.latest())).to.equal(false);
      await expect(market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY))
        .to.be.revertedWithCustomError(market, "MarketListingTakenDown")
        .withArgs(datasetId);
      await expect(market.connect(signers.other).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(datasetId, ListingStatus.TakenDown);
      // Before the delivery deadline, the buyer takes the refund (pull).
      expect(BigInt(await time.latest())).to.be.lessThan((await market.getPurchase(datasetPurchase)).deliverBy);
      await expect(market.connect(signers.buyer).refund(datasetPurchase)).to.changeTokenBalances(
        ethers,
        token,
        [market, signers.buyer],
        [-PRICE, PRICE],
      );
      // Proceeds of the earlier delivery are not clawed back (documented).
      expect(await market.withdrawable(signers.seller.address)).to.equal(proceeds);
    });

    it("is final and blocks seller changes", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await market.connect(signers.admin).takeDown(datasetId, "illegal content");
      await expect(market.connect(signers.admin).takeDown(datasetId, "again"))
        .to.be.revertedWithCustomError(market, "MarketInvalidStatusTransition")
        .withArgs(datasetId, ListingStatus.TakenDown, ListingStatus.TakenDown);
      await expect(market.connect(signers.seller).unpauseListing(datasetId))
        .to.be.revertedWithCustomError(market, "MarketInvalidStatusTransition")
        .withArgs(datasetId, ListingStatus.TakenDown, ListingStatus.Active);
      await expect(market.connect(signers.seller).setPrice(datasetId, 1n))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(datasetId, ListingStatus.TakenDown);
      await expect(market.connect(signers.seller).addAnchors(datasetId, []))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(datasetId, ListingStatus.TakenDown);
    });

    it("applies to closed listings, needs the market admin role and an existing listing", async function () {
      const { market, streamId, signers } = await loadFixture(listedFixture);
      await market.connect(signers.seller).closeListing(streamId);
      await expect(market.connect(signers.admin).takeDown(streamId, "x"))
        .to.emit(market, "ListingStatusChanged")
        .withArgs(streamId, ListingStatus.Closed, ListingStatus.TakenDown, signers.admin.address);
      await expect(market.connect(signers.other).takeDown(1n, "x"))
        .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
        .withArgs(signers.other.address, await market.MARKET_ADMIN_ROLE());
      await expect(market.connect(signers.admin).takeDown(99n, "x"))
        .to.be.revertedWithCustomError(market, "MarketListingNotFound")
        .withArgs(99n);
    });
  });

  describe("sweepSurplus", function () {
    /** {@link purchasedFixture} (two purchases in escrow) plus `stray` tokens sent to the marketplace directly. */
    async function strayTokensFixture() {
      const f = await purchasedFixture();
      const stray = 7_000_000n;
      await f.token.connect(f.signers.buyer2).transfer(await f.market.getAddress(), stray);
      return { ...f, stray };
    }

    it("I-6 stuck tokens: tokens sent directly are swept to the treasury; escrow and withdrawable balances are not", async function () {
      const { market, token, signers, datasetPurchase, streamPurchase, stray } = await loadFixture(strayTokensFixture);
      const { admin, seller, buyer, treasury } = signers;
      const escrow = PRICE + STREAM_PRICE;
      expect(await market.owed()).to.equal(escrow);
      expect(await token.balanceOf(market)).to.equal(escrow + stray);
      // Swept right after the purchases: only the stray tokens leave, paid to the treasury (not credited to it).
      const sweep = market.connect(admin).sweepSurplus();
      await expect(sweep).to.emit(market, "SurplusSwept").withArgs(treasury.address, stray);
      await expect(sweep).to.changeTokenBalances(ethers, token, [market, treasury], [-stray, stray]);
      expect(await market.withdrawable(treasury.address)).to.equal(0n);
      expect(await market.owed()).to.equal(escrow);

      // Right after a delivery: the escrow became withdrawable balances, still owed, so nothing is swept.
      await market.connect(seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      expect(await market.owed()).to.equal(escrow);
      expect(await market.connect(admin).sweepSurplus.staticCall()).to.equal(0n);
      const empty = market.connect(admin).sweepSurplus();
      await expect(empty).to.emit(market, "SurplusSwept").withArgs(treasury.address, 0n);
      await expect(empty).to.changeTokenBalances(ethers, token, [market, treasury], [0n, 0n]);

      // Every owed party is paid in full: the seller's proceeds, the treasury's fee, the undelivered stream's refund.
      const fee = feeOf(PRICE);
      await expect(market.connect(seller).withdraw(seller.address)).to.changeTokenBalances(ethers, token, [seller], [PRICE - fee]);
      await expect(market.connect(treasury).withdraw(treasury.address)).to.changeTokenBalances(ethers, token, [treasury], [fee]);
      await time.increaseTo((await market.getPurchase(streamPurchase)).deliverBy + 1n);
      await expect(market.connect(buyer).refund(streamPurchase)).to.changeTokenBalances(ethers, token, [buyer], [STREAM_PRICE]);
      expect(await market.owed()).to.equal(0n);
      expect(await token.balanceOf(market)).to.equal(0n);
    });

    it("I-6 stuck tokens: only the default admin sweeps the marketplace", async function () {
      const { market, token, signers, stray } = await loadFixture(strayTokensFixture);
      const { admin, other, treasury } = signers;
      // Even the other admin roles cannot sweep.
      await market.connect(admin).grantRole(await market.MARKET_ADMIN_ROLE(), other.address);
      await market.connect(admin).grantRole(await market.FEE_MANAGER_ROLE(), other.address);
      for (const caller of [other, treasury]) {
        await expect(market.connect(caller).sweepSurplus())
          .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, await market.DEFAULT_ADMIN_ROLE());
      }
      expect(await token.balanceOf(market)).to.equal(PRICE + STREAM_PRICE + stray);
    });
  });
});

networkHelpers;
