import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ZeroAddress, type ContractTransactionResponse } from "ethers";
import {
  BUYER_PUBLIC_KEY,
  DELIVERY_WINDOW,
  ENCRYPTED_KEY,
  FEE_BPS,
  Kind,
  MAX_FEE_BPS,
  MAX_UINT64,
  PERIOD,
  PRICE,
  PurchaseStatus,
  STREAM_PRICE,
  datasetParams,
  deployMarketFixture,
  feeOf,
  nextTimestamp,
  purchasedFixture,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** DataMarketplace: key delivery, refunds, withdrawals, and re-entrancy through them. */
describe("DataMarketplace", function () {
  describe("deliver", function () {
    it("records the encrypted key, releases the escrow to withdrawable balances (no push) and grants access", async function () {
      const { market, token, datasetId, datasetPurchase, signers } = await loadFixture(purchasedFixture);
      const fee = feeOf(PRICE);
      const t = await nextTimestamp();
      const tx = market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      await expect(tx)
        .to.emit(market, "KeyDelivered")
        .withArgs(datasetPurchase, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, PRICE - fee, fee, MAX_UINT64);
      await expect(tx).to.changeTokenBalances(ethers, token, [market, signers.seller, signers.treasury], [0n, 0n, 0n]);
      expect(fee).to.equal(1_250_000n);
      expect(await market.withdrawable(signers.seller.address)).to.equal(PRICE - fee);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(fee);
      expect((await market.getPurchase(datasetPurchase)).status).to.equal(PurchaseStatus.Delivered);
      const access = await market.accessOf(datasetId, signers.buyer.address);
      expect([access.since, access.expiry, access.pendingLicence]).to.deep.equal([t, MAX_UINT64, false]);
      expect(await market.hasAccess(datasetId, signers.buyer.address, t)).to.equal(true);
      expect(await market.hasAccess(datasetId, signers.buyer.address, t + 100n * 365n * 86_400n)).to.equal(true);
      expect(await market.hasAccess(datasetId, signers.buyer.address, t - 1n)).to.equal(false);
    });

    it("lets an authorised agent deliver, and nobody else", async function () {
      const { market, datasetId, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      await expect(market.connect(signers.agent).deliver(datasetPurchase, ENCRYPTED_KEY))
        .to.be.revertedWithCustomError(market, "MarketNotSellerOrAgent")
        .withArgs(datasetPurchase, signers.agent.address);
      await market.connect(signers.seller).setAgent(signers.agent.address, true);
      await expect(market.connect(signers.agent).deliver(datasetPurchase, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(
          datasetPurchase,
          datasetId,
          signers.buyer.address,
          signers.agent.address,
          ENCRYPTED_KEY,
          PRICE - feeOf(PRICE),
          feeOf(PRICE),
          MAX_UINT64,
        );
      // Proceeds go to the seller, never to the agent.
      expect(await market.withdrawable(signers.agent.address)).to.equal(0n);
      await market.connect(signers.seller).setAgent(signers.agent.address, false);
      for (const s of [signers.agent, signers.buyer, signers.other]) {
        await expect(market.connect(s).deliver(streamPurchase, ENCRYPTED_KEY))
          .to.be.revertedWithCustomError(market, "MarketNotSellerOrAgent")
          .withArgs(streamPurchase, s.address);
      }
    });

    it("accepts delivery up to the deadline and rejects it one second later", async function () {
      const { market, datasetPurchase, streamPurchase, datasetDeliverBy, signers } = await loadFixture(purchasedFixture);
      await time.setNextBlockTimestamp(datasetDeliverBy);
      await expect(market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY)).to.emit(market, "KeyDelivered");
      const streamDeliverBy = (await market.getPurchase(streamPurchase)).deliverBy;
      await time.setNextBlockTimestamp(streamDeliverBy + 1n);
      await expect(market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY))
        .to.be.revertedWithCustomError(market, "MarketDeliveryDeadlinePassed")
        .withArgs(streamPurchase, streamDeliverBy, streamDeliverBy + 1n);
    });

    it("rejects unknown, delivered and refunded purchases and an empty key", async function () {
      const { market, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      const seller = market.connect(signers.seller);
      await expect(seller.deliver(99n, ENCRYPTED_KEY))
        .to.be.revertedWithCustomError(market, "MarketPurchaseNotPending")
        .withArgs(99n, PurchaseStatus.None);
      await expect(seller.deliver(datasetPurchase, "0x"))
        .to.be.revertedWithCustomError(market, "MarketEmptyEncryptedKey")
        .withArgs(datasetPurchase);
      await seller.deliver(datasetPurchase, ENCRYPTED_KEY);
      await expect(seller.deliver(datasetPurchase, ENCRYPTED_KEY))
        .to.be.revertedWithCustomError(market, "MarketPurchaseNotPending")
        .withArgs(datasetPurchase, PurchaseStatus.Delivered);
      await time.increase(DELIVERY_WINDOW + 1n);
      await market.connect(signers.buyer).refund(streamPurchase);
      await expect(seller.deliver(streamPurchase, ENCRYPTED_KEY))
        .to.be.revertedWithCustomError(market, "MarketPurchaseNotPending")
        .withArgs(streamPurchase, PurchaseStatus.Refunded);
    });

    it("still delivers pending purchases after the listing is paused or closed", async function () {
      const { market, datasetId, streamId, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.seller).pauseListing(datasetId);
      await market.connect(signers.seller).closeListing(streamId);
      await expect(market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY)).to.emit(market, "KeyDelivered");
      await expect(market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY)).to.emit(market, "KeyDelivered");
      // Closing stops sales, not the access already sold.
      expect(await market.hasAccess(streamId, signers.buyer.address, await time.latest())).to.equal(true);
    });
  });

  describe("refund", function () {
    it("is not available up to the delivery deadline", async function () {
      const { market, datasetPurchase, datasetDeliverBy, signers } = await loadFixture(purchasedFixture);
      await time.setNextBlockTimestamp(datasetDeliverBy);
      await expect(market.connect(signers.buyer).refund(datasetPurchase))
        .to.be.revertedWithCustomError(market, "MarketRefundNotAvailable")
        .withArgs(datasetPurchase, datasetDeliverBy, datasetDeliverBy);
    });

    it("returns the full amount after the deadline and leaves no access behind", async function () {
      const { market, token, datasetId, datasetPurchase, datasetDeliverBy, signers } = await loadFixture(purchasedFixture);
      await time.setNextBlockTimestamp(datasetDeliverBy + 1n);
      const tx = market.connect(signers.buyer).refund(datasetPurchase);
      await expect(tx).to.emit(market, "Refunded").withArgs(datasetPurchase, datasetId, signers.buyer.address, PRICE);
      await expect(tx).to.changeTokenBalances(
        ethers,
        token,
        [market, signers.buyer, signers.seller, signers.treasury],
        [-PRICE, PRICE, 0n, 0n],
      );
      expect((await market.getPurchase(datasetPurchase)).status).to.equal(PurchaseStatus.Refunded);
      const access = await market.accessOf(datasetId, signers.buyer.address);
      expect([access.since, access.expiry, access.pendingLicence]).to.deep.equal([0n, 0n, false]);
      expect(await market.hasAccess(datasetId, signers.buyer.address, await time.latest())).to.equal(false);
      expect(await market.withdrawable(signers.seller.address)).to.equal(0n);
      expect(await market.withdrawable(signers.treasury.address)).to.equal(0n);
    });

    it("only pays the buyer, and only once; never after delivery", async function () {
      const { market, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      await time.increase(DELIVERY_WINDOW + 1n);
      await expect(market.connect(signers.other).refund(streamPurchase))
        .to.be.revertedWithCustomError(market, "MarketNotBuyer")
        .withArgs(streamPurchase, signers.other.address);
      await expect(market.connect(signers.buyer).refund(datasetPurchase))
        .to.be.revertedWithCustomError(market, "MarketPurchaseNotPending")
        .withArgs(datasetPurchase, PurchaseStatus.Delivered);
      await market.connect(signers.buyer).refund(streamPurchase);
      await expect(market.connect(signers.buyer).refund(streamPurchase))
        .to.be.revertedWithCustomError(market, "MarketPurchaseNotPending")
        .withArgs(streamPurchase, PurchaseStatus.Refunded);
      await expect(market.connect(signers.buyer).refund(99n))
        .to.be.revertedWithCustomError(market, "MarketPurchaseNotPending")
        .withArgs(99n, PurchaseStatus.None);
    });
  });

  describe("withdraw", function () {
    it("pays the seller's proceeds and the treasury's fees on request, to any address", async function () {
      const { market, token, datasetPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      const proceeds = PRICE - feeOf(PRICE);
      expect(await market.connect(signers.seller).withdraw.staticCall(signers.seller.address)).to.equal(proceeds);
      const tx = market.connect(signers.seller).withdraw(signers.seller.address);
      await expect(tx).to.emit(market, "Withdrawn").withArgs(signers.seller.address, signers.seller.address, proceeds);
      await expect(tx).to.changeTokenBalances(ethers, token, [market, signers.seller], [-proceeds, proceeds]);
      expect(await market.withdrawable(signers.seller.address)).to.equal(0n);

      const fees = market.connect(signers.treasury).withdraw(signers.other.address);
      await expect(fees).to.emit(market, "Withdrawn").withArgs(signers.treasury.address, signers.other.address, feeOf(PRICE));
      await expect(fees).to.changeTokenBalances(
        ethers,
        token,
        [market, signers.treasury, signers.other],
        [-feeOf(PRICE), 0n, feeOf(PRICE)],
      );
    });

    it("rejects an empty balance, a second withdrawal and the zero recipient", async function () {
      const { market, datasetPurchase, signers } = await loadFixture(purchasedFixture);
      await expect(market.connect(signers.seller).withdraw(signers.seller.address))
        .to.be.revertedWithCustomError(market, "MarketNothingToWithdraw")
        .withArgs(signers.seller.address);
      await market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      await expect(market.connect(signers.seller).withdraw(ZeroAddress)).to.be.revertedWithCustomError(market, "MarketZeroAddress");
      await market.connect(signers.seller).withdraw(signers.seller.address);
      await expect(market.connect(signers.seller).withdraw(signers.seller.address))
        .to.be.revertedWithCustomError(market, "MarketNothingToWithdraw")
        .withArgs(signers.seller.address);
    });

    it("keeps the token balance equal to escrow plus withdrawable balances", async function () {
      const { market, token, datasetId, streamId, datasetPurchase, streamPurchase, signers } = await loadFixture(purchasedFixture);
      await market.connect(signers.buyer2).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY); // 3, stays pending
      await market.connect(signers.buyer2).purchase(streamId, STREAM_PRICE, BUYER_PUBLIC_KEY); // 4, refunded
      await market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      await market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY);
      await market.connect(signers.seller).withdraw(signers.seller.address);
      await time.increase(DELIVERY_WINDOW + 1n);
      await market.connect(signers.buyer2).refund(4n);
      const pending = PRICE;
      const owed = (await market.withdrawable(signers.seller.address)) + (await market.withdrawable(signers.treasury.address));
      expect(owed).to.equal(feeOf(PRICE) + feeOf(STREAM_PRICE));
      expect(await token.balanceOf(await market.getAddress())).to.equal(pending + owed);
    });
  });

  describe("re-entrancy through a hostile token", function () {
    async function reentrantMarketFixture() {
      const base = await deployMarketFixture();
      const { registry, devices, signers } = base;
      const token = await ethers.deployContract("ReentrantToken");
      const market = await ethers.deployContract("DataMarketplace", [
        await registry.getAddress(),
        await token.getAddress(),
        signers.admin.address,
        signers.treasury.address,
        FEE_BPS,
        MAX_FEE_BPS,
      ]);
      await market.connect(signers.seller).createListing(datasetParams(devices, [], { kind: Kind.Stream, period: PERIOD }));
      await token.mint(signers.buyer.address, 10n * PRICE);
      await token.connect(signers.buyer).approve(await market.getAddress(), ethers.MaxUint256);
      await market.connect(signers.buyer).purchase(1n, PRICE, BUYER_PUBLIC_KEY); // purchase 1: will be delivered
      await market.connect(signers.buyer).purchase(1n, PRICE, BUYER_PUBLIC_KEY); // purchase 2: will be refunded
      await market.connect(signers.seller).deliver(1n, ENCRYPTED_KEY);
      await time.increase(DELIVERY_WINDOW + 1n);
      return { ...base, token, market };
    }

    it("the hook really fires in the middle of a transfer and bubbles reverts", async function () {
      const { market, token, signers } = await loadFixture(reentrantMarketFixture);
      const tokenAddress = await token.getAddress();
      // An unguarded call goes through: the token becomes an "agent" of itself during the buyer's payment.
      await token.arm(await market.getAddress(), market.interface.encodeFunctionData("setAgent", [signers.agent.address, true]));
      await expect(market.connect(signers.buyer).purchase(1n, PRICE, BUYER_PUBLIC_KEY)).to.emit(market, "Purchased");
      expect(await market.isAgent(tokenAddress, signers.agent.address)).to.equal(true);
      // A reverting unguarded call makes the outer transaction revert with its error.
      await token.arm(await market.getAddress(), market.interface.encodeFunctionData("setAgent", [ZeroAddress, true]));
      await expect(market.connect(signers.buyer).refund(2n)).to.be.revertedWithCustomError(market, "MarketZeroAddress");
    });

    it("cannot re-enter purchase, refund, withdraw or deliver", async function () {
      const { market, token, signers } = await loadFixture(reentrantMarketFixture);
      const target = await market.getAddress();
      const attacks: [string, () => Promise<ContractTransactionResponse>][] = [
        [
          market.interface.encodeFunctionData("purchase", [1n, PRICE, BUYER_PUBLIC_KEY]),
          () => market.connect(signers.buyer).purchase(1n, PRICE, BUYER_PUBLIC_KEY),
        ],
        [market.interface.encodeFunctionData("refund", [2n]), () => market.connect(signers.buyer).refund(2n)],
        [
          market.interface.encodeFunctionData("withdraw", [signers.seller.address]),
          () => market.connect(signers.seller).withdraw(signers.seller.address),
        ],
        [market.interface.encodeFunctionData("deliver", [2n, ENCRYPTED_KEY]), () => market.connect(signers.buyer).refund(2n)],
      ];
      for (const [data, outer] of attacks) {
        await token.arm(target, data);
        await expect(outer()).to.be.revertedWithCustomError(market, "ReentrancyGuardReentrantCall");
      }
      // Nothing moved: the refund and the withdrawal are still available exactly once.
      await token.arm(ZeroAddress, "0x");
      expect((await market.getPurchase(2n)).status).to.equal(PurchaseStatus.Pending);
      await expect(market.connect(signers.buyer).refund(2n)).to.changeTokenBalances(
        ethers,
        token,
        [market, signers.buyer],
        [-PRICE, PRICE],
      );
      const proceeds = PRICE - feeOf(PRICE);
      await expect(market.connect(signers.seller).withdraw(signers.seller.address)).to.changeTokenBalances(
        ethers,
        token,
        [market, signers.seller],
        [-proceeds, proceeds],
      );
    });
  });
});

networkHelpers;
