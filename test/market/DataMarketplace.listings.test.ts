import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ZeroAddress, ZeroHash, id } from "ethers";
import { prepareReadingBatch, signAi4iRows } from "@triad/sdk";
import {
  AI4I_ROWS,
  BATCH_ROWS,
  BATCH_START,
  BPS,
  BUYER_PUBLIC_KEY,
  CONTENT_HASH,
  DELIVERY_WINDOW,
  FEE_BPS,
  Kind,
  ListingStatus,
  MAX_DELIVERY_WINDOW,
  MAX_FEE_BPS,
  METADATA_URI,
  PERIOD,
  PRICE,
  TERMS_HASH,
  datasetParams,
  deployMarketFixture,
  listedFixture,
} from "./fixtures.ts";

const { loadFixture } = networkHelpers;

/** DataMarketplace: deployment, listing creation and the seller's management of a listing. */
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
      await expect(factory.deploy(...args, 501n, 500n))
        .to.be.revertedWithCustomError(factory, "MarketFeeTooHigh")
        .withArgs(501n, 500n);
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
      await expect(market.connect(signers.seller).createListing(datasetParams(devices, [], { kind: Kind.Stream, period: PERIOD })))
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
      await expect(seller.createListing(datasetParams(devices, [], { price: 0n }))).to.be.revertedWithCustomError(
        market,
        "MarketZeroPrice",
      );
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

    it("M-1 anchor front-running: a root another device anchored first can still be anchored and listed by its own device", async function () {
      const { market, registry, devices, domain, keys, signers } = await loadFixture(deployMarketFixture);
      const rows = AI4I_ROWS.slice(0, 2);
      const readings = await signAi4iRows({ deviceKey: keys[1], domain, rows, startSeq: 0n, startTimestamp: 1_700_000_000n });
      const victim = prepareReadingBatch(domain, readings);
      // The owner of device 3 copies device 2's pending root and anchors it first.
      await registry.connect(signers.other).anchorBatch(devices.device3, victim.root, 100n, 101n, "ipfs://copy");
      await registry.connect(signers.seller).anchorBatch(devices.device2, victim.root, 0n, 1n, "ipfs://genuine");
      await expect(market.connect(signers.seller).createListing(datasetParams(devices, [victim.root], { devices: [devices.device2] })))
        .to.emit(market, "ListingAnchorAdded")
        .withArgs(1n, victim.root, devices.device2);
      // Its copy sits in device 3's own namespace: a listing of device 3 names device 3, whose key signed none of it.
      await expect(market.connect(signers.other).createListing(datasetParams(devices, [victim.root], { devices: [devices.device3] })))
        .to.emit(market, "ListingAnchorAdded")
        .withArgs(2n, victim.root, devices.device3);
      expect((await registry.anchorOf(devices.device2, victim.root)).device).to.equal(devices.device2);
    });

    it("rejects anchors that are not anchored, belong to another device, repeat, or are too many", async function () {
      const { market, devices, batch, otherBatch, signers } = await loadFixture(deployMarketFixture);
      const seller = market.connect(signers.seller);
      const unknownRoot = id("never anchored");
      await expect(seller.createListing(datasetParams(devices, [unknownRoot])))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(1n, unknownRoot);
      await expect(seller.createListing(datasetParams(devices, [otherBatch.root])))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(1n, otherBatch.root);
      await expect(seller.createListing(datasetParams(devices, [batch.root], { devices: [devices.device2] })))
        .to.be.revertedWithCustomError(market, "MarketAnchorNotForListing")
        .withArgs(1n, batch.root);
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
        .withArgs(streamId, otherBatch.root);
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
});

networkHelpers;
