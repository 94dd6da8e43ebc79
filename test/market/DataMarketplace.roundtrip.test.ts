import { expect } from "chai";
import { expectTriadErrorSync } from "@triad/sdk/testing";
import { networkHelpers } from "@triad/devkit/network";
import { Wallet, type ContractTransactionResponse } from "ethers";
import {
  contentHash,
  encryptContentKey,
  encryptFile,
  encryptionPublicKey,
  generateContentKey,
  openPurchasedFile,
  parseAi4iCsv,
  telemetryToValues,
  verifyAnchoredReadings,
} from "@triad/sdk";
import {
  AI4I_ROWS,
  BUYER_PUBLIC_KEY,
  CONTENT_HASH,
  DATASET_FILE,
  DELIVERY_WINDOW,
  Kind,
  PERIOD,
  PRICE,
  PurchaseStatus,
  STREAM_PRICE,
  datasetParams,
  deployMarketFixture,
  feeOf,
  listedFixture,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** DataMarketplace: the end-to-end round trip with real AI4I data, and the gas budgets. */
describe("DataMarketplace", function () {
  describe("round trip with AI4I data", function () {
    it("buy -> deliver encrypted key -> decrypt key -> decrypt file -> content hash -> anchored readings", async function () {
      const { market, registry, domain, batch, devices, signers } = await loadFixture(deployMarketFixture);
      // Seller: encrypts the AI4I training file, lists it with its hash and the anchored batch, runs a delivery agent.
      const contentKey = generateContentKey();
      const encryptedFile = encryptFile(DATASET_FILE, contentKey);
      await market.connect(signers.seller).createListing(datasetParams(devices, [batch.root], { contentHash: contentHash(DATASET_FILE) }));
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
      // The SDK returns plain Uint8Array bytes (browser-compatible); compare them as a Buffer.
      expect(Buffer.from(plaintext).equals(DATASET_FILE)).to.equal(true);
      const rows = parseAi4iCsv(new TextDecoder().decode(plaintext), "purchased.csv");
      expect(rows.length).to.equal(8_000);
      expect(rows).to.deep.equal(AI4I_ROWS);

      // The anchored readings are the dataset's first rows, signed by device 1 and attached to the listing.
      batch.entries.forEach(({ reading }, i) => expect(reading.values).to.deep.equal(telemetryToValues(rows[i])));
      const anchor = await registry.anchorOf(devices.device1, batch.root);
      const result = await verifyAnchoredReadings(registry, {
        domain,
        device: devices.device1,
        root: batch.root,
        readings: batch.entries,
        listing: { marketplace: market, listingId: 1n },
      });
      expect(result).to.deep.equal({ valid: true, anchor: { device: devices.device1, anchoredAt: anchor.anchoredAt }, failures: [] });
      expect(await market.hasAccess(1n, signers.buyer.address, await time.latest())).to.equal(true);
    });

    it("flags altered readings and batches not attached to the listing", async function () {
      const { market, registry, domain, batch, otherBatch, datasetId, devices } = await loadFixture(listedFixture);
      const altered = batch.entries.map((e, i) =>
        i === 3 ? { ...e, reading: { ...e.reading, values: [e.reading.values[0] + 1n, ...e.reading.values.slice(1)] } } : e,
      );
      const bad = await verifyAnchoredReadings(registry, {
        domain,
        device: devices.device1,
        root: batch.root,
        readings: altered,
        listing: { marketplace: market, listingId: datasetId },
      });
      expect(bad.valid).to.equal(false);
      expect(bad.failures.map((f) => f.index)).to.deep.equal([3, 3]);
      expect(bad.failures[0].reason).to.contain("signature");
      expect(bad.failures[1].reason).to.contain("Merkle proof");

      const foreign = await verifyAnchoredReadings(registry, {
        domain,
        device: devices.device3,
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
      expectTriadErrorSync(
        () => openPurchasedFile({ buyerPrivateKey: buyerKey.privateKey, encryptedKey: wrongKey, encryptedFile, contentHash: CONTENT_HASH }),
        { code: "DECRYPTION_FAILED" },
      );
    });
  });

  describe("gas", function () {
    it("stays within the budgets recorded in docs/market.md", async function () {
      const { market, token, devices, batch, signers } = await loadFixture(deployMarketFixture);
      const gasOf = async (tx: Promise<ContractTransactionResponse>) => (await (await tx)!.wait())!.gasUsed;
      const encryptedKey = encryptContentKey(BUYER_PUBLIC_KEY, generateContentKey());
      // Warm the treasury's balance slot and the seller's, as on a live market.
      await market
        .connect(signers.seller)
        .createListing(datasetParams(devices, [], { kind: Kind.Stream, price: STREAM_PRICE, period: PERIOD, devices: [devices.device1] }));
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
        refund: 62_000n,
        withdraw: 70_000n,
      };
      for (const key of Object.keys(gas) as (keyof typeof gas)[]) {
        expect(gas[key], key).to.be.lessThanOrEqual(budget[key]);
      }
    });
  });
});

networkHelpers;
