import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import {
  BUYER_PUBLIC_KEY,
  BUYER_PUBLIC_KEY_UNCOMPRESSED,
  DELIVERY_WINDOW,
  ENCRYPTED_KEY,
  FEE_BPS,
  Kind,
  MAX_UINT64,
  PERIOD,
  PRICE,
  PurchaseStatus,
  STREAM_PRICE,
  datasetParams,
  feeOf,
  listedFixture,
  nextTimestamp,
  purchasedFixture,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** DataMarketplace: purchases, stream subscriptions and price changes after a purchase. */
describe("DataMarketplace", function () {
  describe("purchase", function () {
    it("escrows the price, records the purchase and emits Purchased with the buyer's key", async function () {
      const { market, token, datasetId, signers } = await loadFixture(listedFixture);
      expect(await market.connect(signers.buyer).purchase.staticCall(datasetId, PRICE, BUYER_PUBLIC_KEY)).to.equal(1n);
      const t = await nextTimestamp();
      const tx = market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY);
      await expect(tx)
        .to.emit(market, "Purchased")
        .withArgs(1n, datasetId, signers.buyer.address, PRICE, FEE_BPS, t + DELIVERY_WINDOW, BUYER_PUBLIC_KEY);
      await expect(tx).to.changeTokenBalances(ethers, token, [signers.buyer, market], [-PRICE, PRICE]);

      const p = await market.getPurchase(1n);
      expect([p.buyer, p.status, p.feeBps, p.deliverBy, p.listingId, p.amount]).to.deep.equal([
        signers.buyer.address,
        PurchaseStatus.Pending,
        FEE_BPS,
        t + DELIVERY_WINDOW,
        datasetId,
        PRICE,
      ]);
      expect(await market.purchaseCount()).to.equal(1n);
      const access = await market.accessOf(datasetId, signers.buyer.address);
      expect([access.since, access.expiry, access.pendingLicence]).to.deep.equal([0n, 0n, true]);
      // Access starts on delivery, not at purchase.
      expect(await market.hasAccess(datasetId, signers.buyer.address, t)).to.equal(false);
    });

    it("accepts an uncompressed 65-byte key", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY_UNCOMPRESSED))
        .to.emit(market, "Purchased")
        .withArgs(1n, datasetId, signers.buyer.address, PRICE, FEE_BPS, (v: bigint) => v > 0n, BUYER_PUBLIC_KEY_UNCOMPRESSED);
    });

    it("rejects public keys of the wrong length or prefix", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      const compressedBody = BUYER_PUBLIC_KEY.slice(4);
      const uncompressedBody = BUYER_PUBLIC_KEY_UNCOMPRESSED.slice(4);
      const cases: [string, bigint, string][] = [
        ["0x", 0n, "0x00"],
        ["0x02" + "11".repeat(31), 32n, "0x02"],
        ["0x04" + compressedBody, 33n, "0x04"],
        ["0x02" + uncompressedBody, 65n, "0x02"],
        ["0x" + uncompressedBody, 64n, "0x" + uncompressedBody.slice(0, 2)],
        [BUYER_PUBLIC_KEY_UNCOMPRESSED + "00", 66n, "0x04"],
      ];
      for (const [key, length, prefix] of cases) {
        await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, key))
          .to.be.revertedWithCustomError(market, "MarketInvalidPublicKey")
          .withArgs(length, prefix);
      }
    });

    it("rejects unknown listings, a price above the buyer's maximum and a missing allowance", async function () {
      const { market, token, datasetId, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.buyer).purchase(99n, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketListingNotFound")
        .withArgs(99n);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE - 1n, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketPriceAboveMax")
        .withArgs(datasetId, PRICE, PRICE - 1n);
      await expect(market.connect(signers.other).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(await market.getAddress(), 0n, PRICE);
    });

    it("protects a buyer from a price raise landing before its purchase", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await market.connect(signers.seller).setPrice(datasetId, PRICE + 1n);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketPriceAboveMax")
        .withArgs(datasetId, PRICE + 1n, PRICE);
    });

    it("blocks new sales once a listed device is revoked or transferred, not while it is suspended", async function () {
      const { market, registry, devices, datasetId, signers } = await loadFixture(listedFixture);
      await registry.connect(signers.admin).suspend(devices.device2);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY)).to.emit(market, "Purchased");
      await registry.connect(signers.admin).revoke(devices.device2);
      await expect(market.connect(signers.buyer2).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketDeviceRevoked")
        .withArgs(devices.device2);
    });

    it("blocks new sales when the seller no longer owns a listed device", async function () {
      const { market, registry, devices, streamId, signers } = await loadFixture(listedFixture);
      await registry.connect(signers.seller).proposeOwner(devices.device1, signers.other.address);
      await registry.connect(signers.other).acceptOwnership(devices.device1);
      await expect(market.connect(signers.buyer).purchase(streamId, STREAM_PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketDeviceNotOwned")
        .withArgs(devices.device1, signers.seller.address, signers.other.address);
    });

    it("sells a one-time licence once per buyer: not while pending, not after delivery, again after a refund", async function () {
      const { market, datasetId, datasetPurchase, datasetDeliverBy, signers } = await loadFixture(purchasedFixture);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketAlreadyLicensed")
        .withArgs(datasetId, signers.buyer.address);
      await expect(market.connect(signers.buyer2).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY)).to.emit(market, "Purchased");
      await market.connect(signers.seller).deliver(3n, ENCRYPTED_KEY);
      await expect(market.connect(signers.buyer2).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketAlreadyLicensed")
        .withArgs(datasetId, signers.buyer2.address);

      await time.increaseTo(datasetDeliverBy + 1n);
      await market.connect(signers.buyer).refund(datasetPurchase);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.emit(market, "Purchased")
        .withArgs(4n, datasetId, signers.buyer.address, PRICE, FEE_BPS, (v: bigint) => v > datasetDeliverBy, BUYER_PUBLIC_KEY);
    });

    it("applies the one-time rule to models too, and lets stream buyers hold several pending periods", async function () {
      const { market, devices, streamId, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.seller).createListing(datasetParams(devices, [], { kind: Kind.Model }));
      await market.connect(signers.buyer).purchase(3n, PRICE, BUYER_PUBLIC_KEY);
      await expect(market.connect(signers.buyer).purchase(3n, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketAlreadyLicensed")
        .withArgs(3n, signers.buyer.address);
      await expect(market.connect(signers.buyer).purchase(streamId, STREAM_PRICE, BUYER_PUBLIC_KEY))
        .to.emit(market, "Purchased")
        .withArgs(4n, streamId, signers.buyer.address, STREAM_PRICE, FEE_BPS, (v: bigint) => v > 0n, BUYER_PUBLIC_KEY);
    });
  });

  describe("stream subscriptions", function () {
    it("grants one period from delivery, and expiry really ends access", async function () {
      const { market, streamId, streamPurchase, signers } = await loadFixture(purchasedFixture);
      const t = await nextTimestamp();
      await expect(market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(
          streamPurchase,
          streamId,
          signers.buyer.address,
          signers.seller.address,
          ENCRYPTED_KEY,
          STREAM_PRICE - feeOf(STREAM_PRICE),
          feeOf(STREAM_PRICE),
          t + PERIOD,
        );
      const buyer = signers.buyer.address;
      expect(await market.hasAccess(streamId, buyer, t)).to.equal(true);
      expect(await market.hasAccess(streamId, buyer, t + PERIOD - 1n)).to.equal(true);
      expect(await market.hasAccess(streamId, buyer, t + PERIOD)).to.equal(false);
      expect(await market.hasAccess(streamId, buyer, await time.latest())).to.equal(true);
      await time.increase(PERIOD);
      expect(await market.hasAccess(streamId, buyer, await time.latest())).to.equal(false);
    });

    it("extends a live subscription from its expiry", async function () {
      const { market, streamId, streamPurchase, signers } = await loadFixture(purchasedFixture);
      const t = await nextTimestamp();
      await market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY);
      await time.increase(PERIOD / 2n);
      await market.connect(signers.buyer).purchase(streamId, STREAM_PRICE, BUYER_PUBLIC_KEY);
      await expect(market.connect(signers.seller).deliver(3n, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(
          3n,
          streamId,
          signers.buyer.address,
          signers.seller.address,
          ENCRYPTED_KEY,
          STREAM_PRICE - feeOf(STREAM_PRICE),
          feeOf(STREAM_PRICE),
          t + 2n * PERIOD,
        );
      const access = await market.accessOf(streamId, signers.buyer.address);
      expect([access.since, access.expiry]).to.deep.equal([t, t + 2n * PERIOD]);
      expect(await market.hasAccess(streamId, signers.buyer.address, t + PERIOD + 1n)).to.equal(true);
      await time.increaseTo(t + 2n * PERIOD);
      expect(await market.hasAccess(streamId, signers.buyer.address, await time.latest())).to.equal(false);
    });

    it("restarts a lapsed subscription from now, forgetting the old window", async function () {
      const { market, streamId, streamPurchase, signers } = await loadFixture(purchasedFixture);
      const t = await nextTimestamp();
      await market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY);
      await time.increase(PERIOD + 1_000n);
      await market.connect(signers.buyer).purchase(streamId, STREAM_PRICE, BUYER_PUBLIC_KEY);
      const t2 = await nextTimestamp();
      await market.connect(signers.seller).deliver(3n, ENCRYPTED_KEY);
      const access = await market.accessOf(streamId, signers.buyer.address);
      expect([access.since, access.expiry]).to.deep.equal([t2, t2 + PERIOD]);
      expect(await market.hasAccess(streamId, signers.buyer.address, t + PERIOD + 500n)).to.equal(false); // the lapse
      expect(await market.hasAccess(streamId, signers.buyer.address, t2)).to.equal(true);
    });

    it("gives nothing for an undelivered renewal, and its refund leaves access where delivery put it", async function () {
      const { market, streamId, streamPurchase, signers } = await loadFixture(purchasedFixture);
      const t = await nextTimestamp();
      await market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY);
      await market.connect(signers.buyer).purchase(streamId, STREAM_PRICE, BUYER_PUBLIC_KEY); // renewal, never delivered
      await time.increase(DELIVERY_WINDOW + 1n);
      await market.connect(signers.buyer).refund(3n);
      const access = await market.accessOf(streamId, signers.buyer.address);
      expect([access.since, access.expiry]).to.deep.equal([t, t + PERIOD]);
      expect(await market.hasAccess(streamId, signers.buyer.address, t + PERIOD)).to.equal(false);
    });
  });

  describe("price changes", function () {
    it("do not affect existing buyers: delivery and refund use the amount paid", async function () {
      const { market, token, datasetId, streamId, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.seller).setPrice(datasetId, 2n * PRICE);
      await market.connect(signers.seller).setPrice(streamId, 3n * STREAM_PRICE);
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
      await time.increase(DELIVERY_WINDOW + 1n);
      await expect(market.connect(signers.buyer).refund(streamPurchase)).to.changeTokenBalances(
        ethers,
        token,
        [market, signers.buyer],
        [-STREAM_PRICE, STREAM_PRICE],
      );
      // New buyers pay the new price.
      await expect(market.connect(signers.buyer2).purchase(datasetId, 2n * PRICE, BUYER_PUBLIC_KEY)).to.changeTokenBalances(
        ethers,
        token,
        [signers.buyer2, market],
        [-2n * PRICE, 2n * PRICE],
      );
      expect((await market.getPurchase(3n)).amount).to.equal(2n * PRICE);
    });
  });
});

networkHelpers;
