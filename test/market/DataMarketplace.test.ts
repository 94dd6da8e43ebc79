import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, ZeroAddress, ZeroHash, id, type ContractTransactionResponse } from "ethers";
import {
  TriadError,
  contentHash,
  encryptContentKey,
  encryptFile,
  encryptionPublicKey,
  generateContentKey,
  openPurchasedFile,
  parseAi4iCsv,
  prepareReadingBatch,
  signAi4iRows,
  telemetryToValues,
  verifyAnchoredReadings,
} from "../../sdk";
import {
  AI4I_ROWS,
  BATCH_ROWS,
  BATCH_START,
  BUYER_PUBLIC_KEY,
  BUYER_PUBLIC_KEY_UNCOMPRESSED,
  CONTENT_HASH,
  DATASET_FILE,
  DELIVERY_WINDOW,
  FEE_BPS,
  Kind,
  ListingStatus,
  MAX_FEE_BPS,
  MAX_UINT64,
  METADATA_URI,
  PERIOD,
  PRICE,
  PurchaseStatus,
  STREAM_PRICE,
  TERMS_HASH,
  datasetParams,
  deployMarketFixture,
  listedFixture,
  purchasedFixture,
} from "./fixtures";

const BPS = 10_000n;
const MAX_DELIVERY_WINDOW = 30n * 86_400n;
/** A stand-in for a delivered key: the contract only records bytes (the SDK round trip uses real ECIES). */
const ENCRYPTED_KEY = "0x" + "ab".repeat(129);
const feeOf = (amount: bigint, bps: bigint = FEE_BPS) => (amount * bps) / BPS;

async function nextTimestamp(offset = 10n): Promise<bigint> {
  const t = BigInt(await time.latest()) + offset;
  await time.setNextBlockTimestamp(t);
  return t;
}

describe("DataMarketplace", function () {
  describe("deployment", function () {
    it("stores registry, token, treasury, fee and cap, grants the admin roles and emits the initial settings", async function () {
      const { market, registry, token, signers } = await loadFixture(deployMarketFixture);
      expect(await market.REGISTRY()).to.equal(await registry.getAddress());
      expect(await market.TOKEN()).to.equal(await token.getAddress());
      expect(await market.treasury()).to.equal(signers.treasury.address);
      expect(await market.feeBps()).to.equal(FEE_BPS);
      expect(await market.MAX_FEE_BPS()).to.equal(MAX_FEE_BPS);
      for (const role of [ZeroHash, await market.MARKET_ADMIN_ROLE(), await market.FEE_MANAGER_ROLE()]) {
        expect(await market.hasRole(role, signers.admin.address)).to.equal(true);
      }
      const deployment = market.deploymentTransaction()!;
      await expect(deployment).to.emit(market, "TreasuryChanged").withArgs(ZeroAddress, signers.treasury.address);
      await expect(deployment).to.emit(market, "FeeChanged").withArgs(0n, FEE_BPS, signers.admin.address);
    });

    it("rejects a zero registry, token, admin or treasury", async function () {
      const { registry, token, signers } = await loadFixture(deployMarketFixture);
      const factory = await ethers.getContractFactory("DataMarketplace");
      const [r, t, a, tr] = [await registry.getAddress(), await token.getAddress(), signers.admin.address, signers.treasury.address];
      for (const args of [
        [ZeroAddress, t, a, tr],
        [r, ZeroAddress, a, tr],
        [r, t, ZeroAddress, tr],
        [r, t, a, ZeroAddress],
      ]) {
        await expect(factory.deploy(args[0], args[1], args[2], args[3], FEE_BPS, MAX_FEE_BPS)).to.be.revertedWithCustomError(
          factory,
          "MarketZeroAddress",
        );
      }
    });

    it("rejects a fee cap above 100 % and an initial fee above the cap; accepts a 100 % cap", async function () {
      const { registry, token, signers } = await loadFixture(deployMarketFixture);
      const factory = await ethers.getContractFactory("DataMarketplace");
      const args = [await registry.getAddress(), await token.getAddress(), signers.admin.address, signers.treasury.address] as const;
      await expect(factory.deploy(...args, 0n, 10_001n))
        .to.be.revertedWithCustomError(factory, "MarketFeeCapTooHigh")
        .withArgs(10_001n, BPS);
      await expect(factory.deploy(...args, 501n, 500n)).to.be.revertedWithCustomError(factory, "MarketFeeTooHigh").withArgs(501n, 500n);
      const full = await factory.deploy(...args, 10_000n, 10_000n);
      expect(await full.MAX_FEE_BPS()).to.equal(10_000n);
    });
  });

  describe("createListing", function () {
    it("stores the listing, attaches anchors and emits ListingCreated and ListingAnchorAdded", async function () {
      const { market, devices, batch, signers } = await loadFixture(deployMarketFixture);
      const params = datasetParams(devices, [batch.root]);
      expect(await market.connect(signers.seller).createListing.staticCall(params)).to.equal(1n);
      await expect(market.connect(signers.seller).createListing(params))
        .to.emit(market, "ListingCreated")
        .withArgs(1n, signers.seller.address, Kind.Dataset, PRICE, 0n, DELIVERY_WINDOW, CONTENT_HASH, TERMS_HASH, METADATA_URI, [
          devices.device1,
          devices.device2,
        ])
        .and.to.emit(market, "ListingAnchorAdded")
        .withArgs(1n, batch.root, devices.device1);

      const listing = await market.getListing(1n);
      expect(listing.seller).to.equal(signers.seller.address);
      expect(listing.kind).to.equal(Kind.Dataset);
      expect(listing.status).to.equal(ListingStatus.Active);
      expect(listing.period).to.equal(0n);
      expect(listing.deliveryWindow).to.equal(DELIVERY_WINDOW);
      expect(listing.price).to.equal(PRICE);
      expect(listing.contentHash).to.equal(CONTENT_HASH);
      expect(listing.termsHash).to.equal(TERMS_HASH);
      expect(listing.metadataURI).to.equal(METADATA_URI);
      expect(listing.devices).to.deep.equal([devices.device1, devices.device2]);
      expect(await market.listingHasAnchor(1n, batch.root)).to.equal(true);
      expect(await market.listingCount()).to.equal(1n);
    });

    it("creates streams with a period and models without one, numbering listings from 1", async function () {
      const { market, devices, signers } = await loadFixture(deployMarketFixture);
      await expect(
        market.connect(signers.seller).createListing(datasetParams(devices, [], { kind: Kind.Stream, period: PERIOD })),
      )
        .to.emit(market, "ListingCreated")
        .withArgs(1n, signers.seller.address, Kind.Stream, PRICE, PERIOD, DELIVERY_WINDOW, CONTENT_HASH, TERMS_HASH, METADATA_URI, [
          devices.device1,
          devices.device2,
        ]);
      await expect(market.connect(signers.seller).createListing(datasetParams(devices, [], { kind: Kind.Model })))
        .to.emit(market, "ListingCreated")
        .withArgs(2n, signers.seller.address, Kind.Model, PRICE, 0n, DELIVERY_WINDOW, CONTENT_HASH, TERMS_HASH, METADATA_URI, [
          devices.device1,
          devices.device2,
        ]);
      expect((await market.getListing(2n)).kind).to.equal(Kind.Model);
      expect(await market.listingCount()).to.equal(2n);
    });

    it("accepts the longest delivery window and a suspended device", async function () {
      const { market, registry, devices, signers } = await loadFixture(deployMarketFixture);
      await registry.connect(signers.seller).suspend(devices.device2);
      await expect(
        market.connect(signers.seller).createListing(datasetParams(devices, [], { deliveryWindow: MAX_DELIVERY_WINDOW })),
      ).to.emit(market, "ListingCreated");
    });

    it("rejects invalid terms with the exact error", async function () {
      const { market, devices, signers } = await loadFixture(deployMarketFixture);
      const seller = market.connect(signers.seller);
      await expect(seller.createListing(datasetParams(devices, [], { price: 0n }))).to.be.revertedWithCustomError(market, "MarketZeroPrice");
      await expect(seller.createListing(datasetParams(devices, [], { kind: Kind.Stream, period: 0n })))
        .to.be.revertedWithCustomError(market, "MarketInvalidPeriod")
        .withArgs(Kind.Stream, 0n);
      await expect(seller.createListing(datasetParams(devices, [], { period: 60n })))
        .to.be.revertedWithCustomError(market, "MarketInvalidPeriod")
        .withArgs(Kind.Dataset, 60n);
      await expect(seller.createListing(datasetParams(devices, [], { kind: Kind.Model, period: 60n })))
        .to.be.revertedWithCustomError(market, "MarketInvalidPeriod")
        .withArgs(Kind.Model, 60n);
      await expect(seller.createListing(datasetParams(devices, [], { deliveryWindow: 0n })))
        .to.be.revertedWithCustomError(market, "MarketInvalidDeliveryWindow")
        .withArgs(0n, MAX_DELIVERY_WINDOW);
      await expect(seller.createListing(datasetParams(devices, [], { deliveryWindow: MAX_DELIVERY_WINDOW + 1n })))
        .to.be.revertedWithCustomError(market, "MarketInvalidDeliveryWindow")
        .withArgs(MAX_DELIVERY_WINDOW + 1n, MAX_DELIVERY_WINDOW);
      await expect(seller.createListing(datasetParams(devices, [], { contentHash: ZeroHash }))).to.be.revertedWithCustomError(
        market,
        "MarketZeroHash",
      );
      await expect(seller.createListing(datasetParams(devices, [], { termsHash: ZeroHash }))).to.be.revertedWithCustomError(
        market,
        "MarketZeroHash",
      );
    });

    it("rejects missing, too many, duplicate, foreign, unregistered and revoked devices", async function () {
      const { market, registry, devices, signers } = await loadFixture(deployMarketFixture);
      const seller = market.connect(signers.seller);
      const strangers = (n: number) => Array.from({ length: n }, (_, i) => ethers.getAddress(id(`stranger-${i}`).slice(0, 42)));
      await expect(seller.createListing(datasetParams(devices, [], { devices: [] }))).to.be.revertedWithCustomError(
        market,
        "MarketNoDevices",
      );
      await expect(seller.createListing(datasetParams(devices, [], { devices: strangers(17) })))
        .to.be.revertedWithCustomError(market, "MarketTooManyDevices")
        .withArgs(17n, 16n);
      // 16 passes the count check and fails on the first device instead.
      const sixteen = strangers(16);
      await expect(seller.createListing(datasetParams(devices, [], { devices: sixteen })))
        .to.be.revertedWithCustomError(market, "MarketDeviceNotOwned")
        .withArgs(sixteen[0], signers.seller.address, ZeroAddress);
      await expect(seller.createListing(datasetParams(devices, [], { devices: [devices.device1, devices.device2, devices.device1] })))
        .to.be.revertedWithCustomError(market, "MarketDuplicateDevice")
        .withArgs(devices.device1);
      await expect(seller.createListing(datasetParams(devices, [], { devices: [devices.device1, devices.device3] })))
        .to.be.revertedWithCustomError(market, "MarketDeviceNotOwned")
        .withArgs(devices.device3, signers.seller.address, signers.other.address);
      await registry.connect(signers.seller).revoke(devices.device2);
      await expect(seller.createListing(datasetParams(devices, [])))
        .to.be.revertedWithCustomError(market, "MarketDeviceRevoked")
        .withArgs(devices.device2);
    });

    it("rejects anchors that are not anchored, belong to another device, repeat, or are too many", async function () {
      const { market, devices, batch, otherBatch, signers } = await loadFixture(deployMarketFixture);
      const seller = market.connect(signers.seller);
      const unknownRoot = id("never anchored");
      await expect(seller.createListing(datasetParams(devices, [unknownRoot])))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(unknownRoot, ZeroAddress);
      await expect(seller.createListing(datasetParams(devices, [otherBatch.root])))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(otherBatch.root, devices.device3);
      await expect(seller.createListing(datasetParams(devices, [batch.root], { devices: [devices.device2] })))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(batch.root, devices.device1);
      await expect(seller.createListing(datasetParams(devices, [batch.root, batch.root])))
        .to.be.revertedWithCustomError(market, "MarketAnchorAlreadyAdded")
        .withArgs(1n, batch.root);
      await expect(seller.createListing(datasetParams(devices, Array(33).fill(batch.root))))
        .to.be.revertedWithCustomError(market, "MarketTooManyAnchors")
        .withArgs(33n, 32n);
    });
  });

  describe("listing management", function () {
    it("lets the seller change the price (also while paused), with an event", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.seller).setPrice(datasetId, 2n * PRICE))
        .to.emit(market, "ListingPriceChanged")
        .withArgs(datasetId, PRICE, 2n * PRICE);
      expect((await market.getListing(datasetId)).price).to.equal(2n * PRICE);
      await market.connect(signers.seller).pauseListing(datasetId);
      await expect(market.connect(signers.seller).setPrice(datasetId, 3n * PRICE))
        .to.emit(market, "ListingPriceChanged")
        .withArgs(datasetId, 2n * PRICE, 3n * PRICE);
    });

    it("rejects price changes by others, to zero, on unknown or closed listings", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.other).setPrice(datasetId, 1n))
        .to.be.revertedWithCustomError(market, "MarketNotSeller")
        .withArgs(datasetId, signers.other.address);
      await expect(market.connect(signers.seller).setPrice(datasetId, 0n)).to.be.revertedWithCustomError(market, "MarketZeroPrice");
      await expect(market.connect(signers.seller).setPrice(99n, 1n))
        .to.be.revertedWithCustomError(market, "MarketListingNotFound")
        .withArgs(99n);
      await market.connect(signers.seller).closeListing(datasetId);
      await expect(market.connect(signers.seller).setPrice(datasetId, 1n))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(datasetId, ListingStatus.Closed);
    });

    it("pauses, unpauses and closes with ListingStatusChanged; pause blocks purchases until unpaused", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      const seller = market.connect(signers.seller);
      await expect(seller.pauseListing(datasetId))
        .to.emit(market, "ListingStatusChanged")
        .withArgs(datasetId, ListingStatus.Active, ListingStatus.Paused, signers.seller.address);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(datasetId, ListingStatus.Paused);
      await expect(seller.unpauseListing(datasetId))
        .to.emit(market, "ListingStatusChanged")
        .withArgs(datasetId, ListingStatus.Paused, ListingStatus.Active, signers.seller.address);
      await expect(market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY)).to.emit(market, "Purchased");
      await expect(seller.closeListing(datasetId))
        .to.emit(market, "ListingStatusChanged")
        .withArgs(datasetId, ListingStatus.Active, ListingStatus.Closed, signers.seller.address);
      await expect(market.connect(signers.buyer2).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(datasetId, ListingStatus.Closed);
    });

    it("rejects invalid status transitions and non-sellers", async function () {
      const { market, datasetId, streamId, signers } = await loadFixture(listedFixture);
      const seller = market.connect(signers.seller);
      await expect(seller.unpauseListing(datasetId))
        .to.be.revertedWithCustomError(market, "MarketInvalidStatusTransition")
        .withArgs(datasetId, ListingStatus.Active, ListingStatus.Active);
      await seller.pauseListing(datasetId);
      await expect(seller.pauseListing(datasetId))
        .to.be.revertedWithCustomError(market, "MarketInvalidStatusTransition")
        .withArgs(datasetId, ListingStatus.Paused, ListingStatus.Paused);
      await expect(seller.closeListing(datasetId)).to.emit(market, "ListingStatusChanged");
      for (const [call, requested] of [
        [seller.closeListing, ListingStatus.Closed],
        [seller.pauseListing, ListingStatus.Paused],
        [seller.unpauseListing, ListingStatus.Active],
      ] as const) {
        await expect(call(datasetId))
          .to.be.revertedWithCustomError(market, "MarketInvalidStatusTransition")
          .withArgs(datasetId, ListingStatus.Closed, requested);
      }
      for (const call of [market.connect(signers.other).pauseListing, market.connect(signers.other).closeListing]) {
        await expect(call(streamId)).to.be.revertedWithCustomError(market, "MarketNotSeller").withArgs(streamId, signers.other.address);
      }
    });

    it("attaches more anchored batches (also while paused) and rejects bad ones", async function () {
      const { market, registry, domain, keys, devices, batch, otherBatch, streamId, signers } = await loadFixture(listedFixture);
      const next = await signAi4iRows({
        deviceKey: keys[0],
        domain,
        rows: AI4I_ROWS.slice(100, 104),
        startSeq: BigInt(BATCH_ROWS) + 1n,
        startTimestamp: BATCH_START + 10_000n,
      });
      const nextBatch = prepareReadingBatch(domain, next);
      await registry.connect(signers.seller).anchorBatch(devices.device1, nextBatch.root, 33n, 36n, "ipfs://batch-2");
      const seller = market.connect(signers.seller);
      await seller.pauseListing(streamId);
      await expect(seller.addAnchors(streamId, [batch.root, nextBatch.root]))
        .to.emit(market, "ListingAnchorAdded")
        .withArgs(streamId, batch.root, devices.device1)
        .and.to.emit(market, "ListingAnchorAdded")
        .withArgs(streamId, nextBatch.root, devices.device1);
      expect(await market.listingHasAnchor(streamId, nextBatch.root)).to.equal(true);
      await expect(seller.addAnchors(streamId, [batch.root]))
        .to.be.revertedWithCustomError(market, "MarketAnchorAlreadyAdded")
        .withArgs(streamId, batch.root);
      await expect(seller.addAnchors(streamId, [otherBatch.root]))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(otherBatch.root, devices.device3);
      await expect(market.connect(signers.other).addAnchors(streamId, []))
        .to.be.revertedWithCustomError(market, "MarketNotSeller")
        .withArgs(streamId, signers.other.address);
      await seller.closeListing(streamId);
      await expect(seller.addAnchors(streamId, []))
        .to.be.revertedWithCustomError(market, "MarketListingNotActive")
        .withArgs(streamId, ListingStatus.Closed);
    });

    it("lets a seller authorise and de-authorise agents", async function () {
      const { market, signers } = await loadFixture(listedFixture);
      await expect(market.connect(signers.seller).setAgent(signers.agent.address, true))
        .to.emit(market, "AgentSet")
        .withArgs(signers.seller.address, signers.agent.address, true);
      expect(await market.isAgent(signers.seller.address, signers.agent.address)).to.equal(true);
      await expect(market.connect(signers.seller).setAgent(signers.agent.address, false))
        .to.emit(market, "AgentSet")
        .withArgs(signers.seller.address, signers.agent.address, false);
      expect(await market.isAgent(signers.seller.address, signers.agent.address)).to.equal(false);
      await expect(market.connect(signers.seller).setAgent(ZeroAddress, true)).to.be.revertedWithCustomError(market, "MarketZeroAddress");
    });
  });

  describe("purchase", function () {
    it("escrows the price, records the purchase and emits Purchased with the buyer's key", async function () {
      const { market, token, datasetId, signers } = await loadFixture(listedFixture);
      expect(await market.connect(signers.buyer).purchase.staticCall(datasetId, PRICE, BUYER_PUBLIC_KEY)).to.equal(1n);
      const t = await nextTimestamp();
      const tx = market.connect(signers.buyer).purchase(datasetId, PRICE, BUYER_PUBLIC_KEY);
      await expect(tx)
        .to.emit(market, "Purchased")
        .withArgs(1n, datasetId, signers.buyer.address, PRICE, FEE_BPS, t + DELIVERY_WINDOW, BUYER_PUBLIC_KEY);
      await expect(tx).to.changeTokenBalances(token, [signers.buyer, market], [-PRICE, PRICE]);

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

  describe("deliver", function () {
    it("records the encrypted key, releases the escrow to withdrawable balances (no push) and grants access", async function () {
      const { market, token, datasetId, datasetPurchase, signers } = await loadFixture(purchasedFixture);
      const fee = feeOf(PRICE);
      const t = await nextTimestamp();
      const tx = market.connect(signers.seller).deliver(datasetPurchase, ENCRYPTED_KEY);
      await expect(tx)
        .to.emit(market, "KeyDelivered")
        .withArgs(datasetPurchase, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, PRICE - fee, fee, MAX_UINT64);
      await expect(tx).to.changeTokenBalances(token, [market, signers.seller, signers.treasury], [0n, 0n, 0n]);
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
        .withArgs(datasetPurchase, datasetId, signers.buyer.address, signers.agent.address, ENCRYPTED_KEY, PRICE - feeOf(PRICE), feeOf(PRICE), MAX_UINT64);
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
        .withArgs(datasetPurchase, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, PRICE - feeOf(PRICE), feeOf(PRICE), MAX_UINT64);
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
      await expect(tx).to.changeTokenBalances(token, [market, signers.buyer, signers.seller, signers.treasury], [-PRICE, PRICE, 0n, 0n]);
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
      await expect(tx).to.changeTokenBalances(token, [market, signers.seller], [-proceeds, proceeds]);
      expect(await market.withdrawable(signers.seller.address)).to.equal(0n);

      const fees = market.connect(signers.treasury).withdraw(signers.other.address);
      await expect(fees).to.emit(market, "Withdrawn").withArgs(signers.treasury.address, signers.other.address, feeOf(PRICE));
      await expect(fees).to.changeTokenBalances(token, [market, signers.treasury, signers.other], [-feeOf(PRICE), 0n, feeOf(PRICE)]);
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
      const owed =
        (await market.withdrawable(signers.seller.address)) + (await market.withdrawable(signers.treasury.address));
      expect(owed).to.equal(feeOf(PRICE) + feeOf(STREAM_PRICE));
      expect(await token.balanceOf(await market.getAddress())).to.equal(pending + owed);
    });
  });

  describe("stream subscriptions", function () {
    it("grants one period from delivery, and expiry really ends access", async function () {
      const { market, streamId, streamPurchase, signers } = await loadFixture(purchasedFixture);
      const t = await nextTimestamp();
      await expect(market.connect(signers.seller).deliver(streamPurchase, ENCRYPTED_KEY))
        .to.emit(market, "KeyDelivered")
        .withArgs(streamPurchase, streamId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, STREAM_PRICE - feeOf(STREAM_PRICE), feeOf(STREAM_PRICE), t + PERIOD);
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
        .withArgs(3n, streamId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, STREAM_PRICE - feeOf(STREAM_PRICE), feeOf(STREAM_PRICE), t + 2n * PERIOD);
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
        .withArgs(datasetPurchase, datasetId, signers.buyer.address, signers.seller.address, ENCRYPTED_KEY, PRICE - feeOf(PRICE), feeOf(PRICE), MAX_UINT64);
      await time.increase(DELIVERY_WINDOW + 1n);
      await expect(market.connect(signers.buyer).refund(streamPurchase)).to.changeTokenBalances(
        token,
        [market, signers.buyer],
        [-STREAM_PRICE, STREAM_PRICE],
      );
      // New buyers pay the new price.
      await expect(market.connect(signers.buyer2).purchase(datasetId, 2n * PRICE, BUYER_PUBLIC_KEY)).to.changeTokenBalances(
        token,
        [signers.buyer2, market],
        [-2n * PRICE, 2n * PRICE],
      );
      expect((await market.getPurchase(3n)).amount).to.equal(2n * PRICE);
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
        [market.interface.encodeFunctionData("purchase", [1n, PRICE, BUYER_PUBLIC_KEY]), () => market.connect(signers.buyer).purchase(1n, PRICE, BUYER_PUBLIC_KEY)],
        [market.interface.encodeFunctionData("refund", [2n]), () => market.connect(signers.buyer).refund(2n)],
        [market.interface.encodeFunctionData("withdraw", [signers.seller.address]), () => market.connect(signers.seller).withdraw(signers.seller.address)],
        [market.interface.encodeFunctionData("deliver", [2n, ENCRYPTED_KEY]), () => market.connect(signers.buyer).refund(2n)],
      ];
      for (const [data, outer] of attacks) {
        await token.arm(target, data);
        await expect(outer()).to.be.revertedWithCustomError(market, "ReentrancyGuardReentrantCall");
      }
      // Nothing moved: the refund and the withdrawal are still available exactly once.
      await token.arm(ZeroAddress, "0x");
      expect((await market.getPurchase(2n)).status).to.equal(PurchaseStatus.Pending);
      await expect(market.connect(signers.buyer).refund(2n)).to.changeTokenBalances(token, [market, signers.buyer], [-PRICE, PRICE]);
      const proceeds = PRICE - feeOf(PRICE);
      await expect(market.connect(signers.seller).withdraw(signers.seller.address)).to.changeTokenBalances(
        token,
        [market, signers.seller],
        [-proceeds, proceeds],
      );
    });
  });

  describe("round trip with AI4I data", function () {
    it("buy -> deliver encrypted key -> decrypt key -> decrypt file -> content hash -> anchored readings", async function () {
      const { market, registry, domain, batch, devices, signers } = await loadFixture(deployMarketFixture);
      // Seller: encrypts the AI4I training file, lists it with its hash and the anchored batch, runs a delivery agent.
      const contentKey = generateContentKey();
      const encryptedFile = encryptFile(DATASET_FILE, contentKey);
      await market
        .connect(signers.seller)
        .createListing(datasetParams(devices, [batch.root], { contentHash: contentHash(DATASET_FILE) }));
      await market.connect(signers.seller).setAgent(signers.agent.address, true);

      // Buyer: a dedicated encryption key; the public half goes with the purchase.
      const buyerKey = Wallet.createRandom();
      await market.connect(signers.buyer).purchase(1n, PRICE, encryptionPublicKey(buyerKey.privateKey));

      // Agent: reads the buyer's key from the Purchased event and delivers the content key encrypted to it.
      const [purchased] = await market.queryFilter(market.filters.Purchased(undefined, 1n));
      await market.connect(signers.agent).deliver(purchased.args.purchaseId, encryptContentKey(purchased.args.buyerPublicKey, contentKey));

      // Buyer: reads the delivered key from the KeyDelivered event, opens the file and checks the content hash.
      const [delivered] = await market.queryFilter(market.filters.KeyDelivered(purchased.args.purchaseId));
      const listing = await market.getListing(1n);
      const plaintext = openPurchasedFile({
        buyerPrivateKey: buyerKey.privateKey,
        encryptedKey: delivered.args.encryptedKey,
        encryptedFile,
        contentHash: listing.contentHash,
      });
      expect(plaintext.equals(DATASET_FILE)).to.equal(true);
      const rows = parseAi4iCsv(plaintext.toString("utf8"), "purchased.csv");
      expect(rows.length).to.equal(8_000);
      expect(rows).to.deep.equal(AI4I_ROWS);

      // The anchored readings are the dataset's first rows, signed by device 1 and attached to the listing.
      batch.entries.forEach(({ reading }, i) => expect(reading.values).to.deep.equal(telemetryToValues(rows[i])));
      const anchor = await registry.anchorOf(batch.root);
      const result = await verifyAnchoredReadings(registry, {
        domain,
        root: batch.root,
        readings: batch.entries,
        listing: { marketplace: market, listingId: 1n },
      });
      expect(result).to.deep.equal({ valid: true, anchor: { device: devices.device1, anchoredAt: anchor.anchoredAt }, failures: [] });
      expect(await market.hasAccess(1n, signers.buyer.address, await time.latest())).to.equal(true);
    });

    it("flags altered readings and batches not attached to the listing", async function () {
      const { market, registry, domain, batch, otherBatch, datasetId } = await loadFixture(listedFixture);
      const altered = batch.entries.map((e, i) =>
        i === 3 ? { ...e, reading: { ...e.reading, values: [e.reading.values[0] + 1n, ...e.reading.values.slice(1)] } } : e,
      );
      const bad = await verifyAnchoredReadings(registry, { domain, root: batch.root, readings: altered, listing: { marketplace: market, listingId: datasetId } });
      expect(bad.valid).to.equal(false);
      expect(bad.failures.map((f) => f.index)).to.deep.equal([3, 3]);
      expect(bad.failures[0].reason).to.contain("signature");
      expect(bad.failures[1].reason).to.contain("Merkle proof");

      const foreign = await verifyAnchoredReadings(registry, {
        domain,
        root: otherBatch.root,
        readings: otherBatch.entries,
        listing: { marketplace: market, listingId: datasetId },
      });
      expect(foreign.failures).to.deep.equal([{ index: null, reason: `root ${otherBatch.root} is not attached to listing ${datasetId}` }]);
    });

    it("a wrong key still releases the escrow on-chain, but the buyer detects it off-chain", async function () {
      const { market, datasetId, signers } = await loadFixture(listedFixture);
      const buyerKey = Wallet.createRandom();
      const encryptedFile = encryptFile(DATASET_FILE, generateContentKey());
      await market.connect(signers.buyer).purchase(datasetId, PRICE, encryptionPublicKey(buyerKey.privateKey));
      const wrongKey = encryptContentKey(encryptionPublicKey(buyerKey.privateKey), generateContentKey());
      await market.connect(signers.seller).deliver(1n, wrongKey);
      expect((await market.getPurchase(1n)).status).to.equal(PurchaseStatus.Delivered);
      expect(await market.withdrawable(signers.seller.address)).to.equal(PRICE - feeOf(PRICE));
      let caught: unknown;
      try {
        openPurchasedFile({ buyerPrivateKey: buyerKey.privateKey, encryptedKey: wrongKey, encryptedFile, contentHash: CONTENT_HASH });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(TriadError);
      expect((caught as TriadError).code).to.equal("DECRYPTION_FAILED");
    });
  });

  describe("gas", function () {
    it("stays within the budgets recorded in docs/market.md", async function () {
      const { market, token, devices, batch, signers } = await loadFixture(deployMarketFixture);
      const gasOf = async (tx: Promise<ContractTransactionResponse>) => (await (await tx)!.wait())!.gasUsed;
      const encryptedKey = encryptContentKey(BUYER_PUBLIC_KEY, generateContentKey());
      // Warm the treasury's balance slot and the seller's, as on a live market.
      await market.connect(signers.seller).createListing(datasetParams(devices, [], { kind: Kind.Stream, price: STREAM_PRICE, period: PERIOD, devices: [devices.device1] }));
      await market.connect(signers.buyer2).purchase(1n, STREAM_PRICE, BUYER_PUBLIC_KEY);
      await market.connect(signers.seller).deliver(1n, encryptedKey);

      const gas = {
        listDataset: await gasOf(market.connect(signers.seller).createListing(datasetParams(devices, [batch.root]))),
        buyDataset: await gasOf(market.connect(signers.buyer).purchase(2n, PRICE, BUYER_PUBLIC_KEY)),
        buyStream: await gasOf(market.connect(signers.buyer).purchase(1n, STREAM_PRICE, BUYER_PUBLIC_KEY)),
        deliverDataset: await gasOf(market.connect(signers.seller).deliver(2n, encryptedKey)),
        deliverStream: await gasOf(market.connect(signers.seller).deliver(3n, encryptedKey)),
        refund: 0n,
        withdraw: await gasOf(market.connect(signers.seller).withdraw(signers.seller.address)),
      };
      await market.connect(signers.buyer).purchase(1n, STREAM_PRICE, BUYER_PUBLIC_KEY);
      await time.increase(DELIVERY_WINDOW + 1n);
      gas.refund = await gasOf(market.connect(signers.buyer).refund(4n));
      expect(await token.balanceOf(await market.getAddress())).to.equal(await market.withdrawable(signers.treasury.address));
      if (process.env.MARKET_GAS === "1") console.table(Object.fromEntries(Object.entries(gas).map(([k, v]) => [k, Number(v)])));

      const budget: Record<keyof typeof gas, bigint> = {
        listDataset: 340_000n,
        buyDataset: 155_000n,
        buyStream: 125_000n,
        deliverDataset: 66_000n,
        deliverStream: 85_000n,
        refund: 57_000n,
        withdraw: 65_000n,
      };
      for (const key of Object.keys(gas) as (keyof typeof gas)[]) {
        expect(gas[key], key).to.be.lessThanOrEqual(budget[key]);
      }
    });
  });
});
