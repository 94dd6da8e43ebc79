import { expect } from "chai";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { networkHelpers } from "@triad/devkit/network";
import { getBytes, keccak256 } from "ethers";
import {
  ListingKind as ListingKindNames,
  PurchaseStatus as PurchaseStatusNames,
  buyerPublicKeyOf,
  decryptFile,
  encryptionPublicKey,
  enumValues,
  formatTimestamp,
  registerDevice,
} from "@triad/sdk";
import {
  ai4iCsv,
  deployTriadForTasks,
  EXIT,
  expectOneError,
  expectSuccess,
  loadTaskFixture,
  runTask,
  tempDir,
  testKey,
  testWallet,
  useTaskEnvironment,
  withDeploymentsDir,
  writeTempFile,
} from "./fixtures.ts";

const { time } = networkHelpers;

const ListingKind = enumValues(ListingKindNames);
const PurchaseStatus = enumValues(PurchaseStatusNames);

/** Account indexes as `--from` takes them (account 0 is the admin and the treasury of TriadLocal). */
const SELLER = "1";
const BUYER = "2";
const PRICE_TOKENS = "12.5";
const PRICE = 12_500_000n; // TestToken has 6 decimals
const DELIVERY_HOURS = 1n;
const BUYER_KEY = testKey("market/buyer-encryption-key");
const DATASET = ai4iCsv(20);

/** The suite with a device registered to the seller and one registered to `stranger`. */
async function marketTasksFixture() {
  const base = await deployTriadForTasks();
  const { seller, stranger } = base.signers;
  const deviceKey = testWallet("market/device");
  const strangersKey = testWallet("market/strangers-device");
  await registerDevice(base.registry.connect(seller), { deviceKey });
  await registerDevice(base.registry.connect(stranger), { deviceKey: strangersKey });
  return { ...base, device: deviceKey.address, strangersDevice: strangersKey.address };
}

/** {@link marketTasksFixture} plus listing 1: the dataset file, listed by the seller with `market:list`. */
async function listedFixture() {
  const base = await marketTasksFixture();
  const file = writeTempFile("ai4i-sample.csv", DATASET);
  const listed = expectSuccess(
    await runTask("market:list", {
      kind: "dataset",
      price: PRICE_TOKENS,
      file,
      devices: base.device,
      deliveryHours: String(DELIVERY_HOURS),
      from: SELLER,
      json: true,
    }),
  ).json;
  return { ...base, file, listingId: BigInt(listed.listingId), encryptedFile: listed.encryptedFile, keyFile: listed.contentKeyFile };
}

/** {@link listedFixture} plus purchase 1 of listing 1 by the buyer with `market:buy` (pending). */
async function purchasedFixture() {
  const base = await listedFixture();
  const bought = expectSuccess(await runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: BUYER, json: true })).json;
  return { ...base, purchaseId: BigInt(bought.purchaseId), deliverBy: BigInt(bought.deliverBy) };
}

/** {@link purchasedFixture} with the content key delivered by the seller with `market:deliver`. */
async function deliveredFixture() {
  const base = await purchasedFixture();
  const delivered = expectSuccess(await runTask("market:deliver", { purchase: "1", keyFile: base.keyFile, from: SELLER, json: true })).json;
  return { ...base, proceeds: BigInt(delivered.sellerProceeds), fee: BigInt(delivered.fee) };
}

/** The files in the folder of `file` (to see what a failed `market:list` left behind). */
const siblings = (file: string) => readdirSync(path.dirname(file)).sort();

describe("market tasks", function () {
  useTaskEnvironment();

  describe("market:list", function () {
    it("encrypts the file with a fresh key (kept in a 0600 file) and lists its content hash at the parsed price", async function () {
      const { market, device, signers } = await loadTaskFixture(marketTasksFixture);
      const file = writeTempFile("data.csv", DATASET);

      const run = expectSuccess(
        await runTask("market:list", { kind: "dataset", price: PRICE_TOKENS, file, devices: device, from: SELLER }),
      );

      expect(run.stdout.split("\n")[0]).to.match(/^Listed dataset #1 at 12\.5 tUSD \(gas \d+\)$/);
      const listing = await market.getListing(1n);
      expect(listing.seller).to.equal(signers.seller.address);
      expect(listing.kind).to.equal(ListingKind.Dataset);
      expect(listing.price).to.equal(PRICE);
      expect(listing.period).to.equal(0n);
      expect(listing.deliveryWindow).to.equal(24n * 3600n);
      expect(listing.contentHash).to.equal(keccak256(Buffer.from(DATASET)));
      expect(listing.metadataURI).to.equal(`file://${file}.trd`);
      expect(listing.devices).to.deep.equal([device]);

      expect(statSync(`${file}.key`).mode & 0o777).to.equal(0o600);
      const contentKey = getBytes(readFileSync(`${file}.key`, "utf8").trim());
      const encrypted = readFileSync(`${file}.trd`);
      expect(encrypted.includes(Buffer.from(DATASET.slice(0, 40)))).to.equal(false);
      expect(Buffer.from(decryptFile(encrypted, contentKey)).toString("utf8")).to.equal(DATASET);
    });

    it("--json prints the listing id, content hash and the two files", async function () {
      const { device } = await loadTaskFixture(marketTasksFixture);
      const file = writeTempFile("data.csv", DATASET);
      const run = expectSuccess(
        await runTask("market:list", { kind: "model", price: "7", file, devices: device, from: SELLER, json: true }),
      );
      expect(run.json).to.include({
        listingId: "1",
        contentHash: keccak256(Buffer.from(DATASET)),
        encryptedFile: `${file}.trd`,
        contentKeyFile: `${file}.key`,
      });
      expect(run.json.gasUsed).to.match(/^\d+$/);
    });

    it("a stream needs --period-days, which becomes the on-chain period", async function () {
      const { market, device } = await loadTaskFixture(marketTasksFixture);
      const file = writeTempFile("stream-manifest.json", '{"every":"60s"}');
      const args = { kind: "stream", price: "5", file, devices: device, from: SELLER };

      expectOneError(await runTask("market:list", args), "--period-days is required for a stream");
      expect(await market.listingCount()).to.equal(0n);

      const run = expectSuccess(await runTask("market:list", { ...args, periodDays: "30", json: true }));
      const listing = await market.getListing(BigInt(run.json.listingId));
      expect([listing.kind, listing.period, listing.price]).to.deep.equal([ListingKind.Stream, 30n * 86_400n, 5_000_000n]);
    });

    it("refuses bad arguments in one line each, before writing any file or listing anything", async function () {
      const { market, device } = await loadTaskFixture(marketTasksFixture);
      const file = writeTempFile("data.csv", DATASET);
      const valid = { kind: "dataset", price: "5", file, devices: device, from: SELLER };
      const cases: [Record<string, string>, string][] = [
        [{ kind: "bogus" }, '--kind must be one of dataset, stream, model, got "bogus"'],
        [{ price: "-1" }, '--price must be an amount in whole tokens such as 100 or 12.5, got "-1"'],
        [{ price: "1.1234567" }, '--price has more than 6 decimals: "1.1234567"'],
        [{ price: "ten" }, '--price must be an amount in whole tokens such as 100 or 12.5, got "ten"'],
        [{ periodDays: "30" }, "--period-days is only for streams"],
        [{ kind: "stream", periodDays: "0" }, "--period-days must be at least 1, got 0"],
        [{ deliveryHours: "0" }, "--delivery-hours must be at least 1, got 0"],
        [{ deliveryHours: "721" }, "--delivery-hours must be at most 720, got 721"],
        [{ devices: "0xnope" }, '--devices must be a 0x-prefixed 20-byte address, got "0xnope"'],
        [{ devices: " , " }, "--devices needs at least one device address"],
        [{ anchors: "0x1234" }, '--anchors must be 32-byte hex roots, got "0x1234"'],
        [{ file: path.join(tempDir(), "absent.csv") }, "cannot read --file"],
      ];
      for (const [override, message] of cases) {
        expectOneError(await runTask("market:list", { ...valid, ...override }), message);
      }
      expect(siblings(file)).to.deep.equal(["data.csv"]);
      expect(await market.listingCount()).to.equal(0n);
    });

    it("a rejected run leaves the key and encrypted file of an earlier listing of the same file untouched", async function () {
      const { file, keyFile, encryptedFile, device } = await loadTaskFixture(listedFixture);
      const [key, encrypted] = [readFileSync(keyFile), readFileSync(encryptedFile)];
      for (const bad of [{ price: "-1" }, { price: "1.1234567" }, { deliveryHours: "0" }]) {
        const run = await runTask("market:list", { kind: "dataset", price: "5", file, devices: device, from: SELLER, ...bad });
        expectOneError(run, undefined, "any");
      }
      expect(readFileSync(keyFile).equals(key)).to.equal(true);
      expect(readFileSync(encryptedFile).equals(encrypted)).to.equal(true);
    });

    it("reports the contract's refusals (zero price, someone else's device) as the custom error", async function () {
      const { market, device, strangersDevice, signers } = await loadTaskFixture(marketTasksFixture);
      const file = writeTempFile("data.csv", DATASET);
      const args = { kind: "dataset", price: "5", file, devices: device, from: SELLER };
      expectOneError(await runTask("market:list", { ...args, price: "0.000000" }), "the price must be more than 0", EXIT.REFUSED);
      expectOneError(
        await runTask("market:list", { ...args, devices: strangersDevice }),
        `device ${strangersDevice} is owned by ${signers.stranger.address}, not by the seller you (${signers.seller.address})`,
        EXIT.REFUSED,
      );
      expect(await market.listingCount()).to.equal(0n);
      // Nothing is left behind: the key and encrypted file only take their names once the listing is mined.
      expect(siblings(file)).to.deep.equal(["data.csv"]);
    });

    it("refuses to replace an earlier listing's key unless --force is given", async function () {
      const { market, file, keyFile, device } = await loadTaskFixture(listedFixture);
      const key = readFileSync(keyFile);
      const args = { kind: "dataset", price: "5", file, devices: device, from: SELLER };
      expectOneError(await runTask("market:list", args), "already exists", EXIT.FAILED);
      expect(readFileSync(keyFile).equals(key)).to.equal(true);
      expect(await market.listingCount()).to.equal(1n);

      expectSuccess(await runTask("market:list", { ...args, force: true }));
      expect(await market.listingCount()).to.equal(2n);
      expect(readFileSync(keyFile).equals(key)).to.equal(false);
    });
  });

  describe("market:buy", function () {
    it("pays the price into escrow and records the buyer's encryption public key", async function () {
      const { market, token, signers } = await loadTaskFixture(listedFixture);
      const marketAddress = await market.getAddress();
      const [buyerBefore, escrowBefore] = [await token.balanceOf(signers.buyer.address), await token.balanceOf(marketAddress)];

      const run = expectSuccess(await runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: BUYER, json: true }));

      const purchase = await market.getPurchase(1n);
      expect(run.json).to.deep.include({
        purchaseId: "1",
        listingId: "1",
        amount: PRICE.toString(),
        deliverBy: purchase.deliverBy.toString(),
      });
      expect([purchase.buyer, purchase.status, purchase.amount]).to.deep.equal([signers.buyer.address, PurchaseStatus.Pending, PRICE]);
      expect(await token.balanceOf(signers.buyer.address)).to.equal(buyerBefore - PRICE);
      expect(await token.balanceOf(marketAddress)).to.equal(escrowBefore + PRICE);
      expect(await buyerPublicKeyOf(market, 1n)).to.equal(encryptionPublicKey(BUYER_KEY));
    });

    it("prints the escrowed amount in tokens and the delivery deadline", async function () {
      const { market } = await loadTaskFixture(listedFixture);
      const run = expectSuccess(await runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: BUYER }));
      const { deliverBy } = await market.getPurchase(1n);
      expect(run.stdout).to.match(/^Purchase #1 of listing #1: 12\.5 tUSD in escrow \(gas \d+\)\n/);
      expect(run.stdout).to.contain(`deliver by ${formatTimestamp(deliverBy)} (in 1 h), else market:refund --purchase 1 gives it all back`);
    });

    it("reports the contract's refusals: a second licence, a price above --max-price, an unknown listing", async function () {
      const { signers } = await loadTaskFixture(purchasedFixture);
      const buy = (args: Record<string, string>) => runTask("market:buy", { buyerKey: BUYER_KEY, ...args });
      expectOneError(
        await buy({ listing: "1", from: BUYER }),
        `you (${signers.buyer.address}) already holds, or awaits delivery of, a licence to listing 1`,
        EXIT.REFUSED,
      );
      expectOneError(
        await buy({ listing: "1", maxPrice: "12.499999", from: "3" }),
        "listing 1 costs 12.5 tUSD, above your limit of 12.499999 tUSD (--max-price)",
        EXIT.REFUSED,
      );
      expectOneError(await buy({ listing: "99", from: "3" }), "listing 99 does not exist", EXIT.NOT_FOUND);
      expectOneError(
        await buy({ listing: "1", from: SELLER }),
        "you are the seller of listing 1: buying your own listing would only move 12.5 tUSD through escrow",
        EXIT.REFUSED,
      );
    });

    it("refuses listing id 0, a malformed listing id, --buyer-key or --max-price", async function () {
      await loadTaskFixture(listedFixture);
      const buy = (args: Record<string, string>) => runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: BUYER, ...args });
      expectOneError(await buy({ listing: "0" }), "--listing must be at least 1, got 0");
      expectOneError(await buy({ listing: "#1" }), '--listing must be a whole number, got "#1"');
      expectOneError(await buy({ buyerKey: "0xabc" }), '--buyer-key must be a 32-byte hex private key (64 hex digits), got "0xabc"');
      expectOneError(await buy({ maxPrice: "1.0000001" }), '--max-price has more than 6 decimals: "1.0000001"');
    });
  });

  describe("market:deliver", function () {
    it("releases the escrow: the amount minus the fee to the seller, the fee to the treasury", async function () {
      const { market, keyFile, signers } = await loadTaskFixture(purchasedFixture);
      const feeBps = await market.feeBps();
      const fee = (PRICE * feeBps) / 10_000n;
      expect(fee).to.equal(312_500n); // 2.5 % of 12.5 tokens

      const run = expectSuccess(await runTask("market:deliver", { purchase: "1", keyFile, from: SELLER, json: true }));

      expect(run.json).to.include({ purchaseId: "1", fee: fee.toString(), sellerProceeds: (PRICE - fee).toString() });
      expect(await market.withdrawable(signers.seller.address)).to.equal(PRICE - fee);
      expect(await market.withdrawable(await market.treasury())).to.equal(fee);
      expect((await market.getPurchase(1n)).status).to.equal(PurchaseStatus.Delivered);
    });

    it("prints the released proceeds and the fee in tokens", async function () {
      const { keyFile } = await loadTaskFixture(purchasedFixture);
      const run = expectSuccess(await runTask("market:deliver", { purchase: "1", keyFile, from: SELLER }));
      expect(run.stdout).to.contain("released 12.1875 tUSD to the seller's balance (market:withdraw), fee 0.3125 tUSD");
    });

    it("refuses someone who is not the seller, a bad key file, and a delivery after the deadline", async function () {
      const { keyFile, signers } = await loadTaskFixture(purchasedFixture);
      expectOneError(
        await runTask("market:deliver", { purchase: "1", keyFile, from: signers.stranger.address }),
        `only the seller of purchase 1's listing, or an agent it authorised, can deliver it, not you (${signers.stranger.address})`,
        EXIT.REFUSED,
      );
      const garbage = writeTempFile("content.key", "not a key\n");
      expectOneError(
        await runTask("market:deliver", { purchase: "1", keyFile: garbage, from: SELLER }),
        "does not hold a 32-byte hex content key",
      );
      expectOneError(await runTask("market:deliver", { purchase: "0", keyFile, from: SELLER }), "--purchase must be at least 1, got 0");

      await time.increase(DELIVERY_HOURS * 3600n + 1n);
      const late = await runTask("market:deliver", { purchase: "1", keyFile, from: SELLER });
      expectOneError(
        late,
        /^the delivery deadline of purchase 1 passed \d{4}-\d\d-\d\dT[\d:]+Z \(1 s ago\): its buyer can take a refund now$/,
        EXIT.REFUSED,
      );
    });
  });

  describe("market:access", function () {
    it("decrypts the delivered file to the buyer: byte-identical to the original, verified against the content hash", async function () {
      const { file, encryptedFile, signers } = await loadTaskFixture(deliveredFixture);
      const out = path.join(tempDir(), "decrypted.csv");

      const run = expectSuccess(
        await runTask("market:access", { listing: "1", purchase: "1", buyerKey: BUYER_KEY, encryptedFile, out, from: BUYER, json: true }),
      );

      expect(run.json).to.include({
        listingId: "1",
        buyer: signers.buyer.address,
        hasAccess: true,
        listingStatus: "Active",
        verified: true,
        bytes: Buffer.byteLength(DATASET),
        out,
      });
      expect(readFileSync(out).equals(readFileSync(file))).to.equal(true);
    });

    it("prints the buyer's access and the verification in human output", async function () {
      const { encryptedFile, signers } = await loadTaskFixture(deliveredFixture);
      const run = expectSuccess(
        await runTask("market:access", { listing: "1", purchase: "1", buyerKey: BUYER_KEY, encryptedFile, from: BUYER }),
      );
      const lines = run.stdout.trimEnd().split("\n");
      expect(lines[0]).to.match(new RegExp(`^Listing #1 \\(Active\\): ${signers.buyer.address} HAS access at `));
      expect(lines[1]).to.equal(`  decrypted ${Buffer.byteLength(DATASET)} bytes; keccak256 matches the listing's content hash`);
    });

    it("before delivery: no access, and nothing to decrypt", async function () {
      const { encryptedFile, signers } = await loadTaskFixture(purchasedFixture);
      const run = expectSuccess(await runTask("market:access", { listing: "1", from: BUYER, json: true }));
      expect(run.json).to.include({ buyer: signers.buyer.address, hasAccess: false });
      const decrypting = await runTask("market:access", { listing: "1", purchase: "1", buyerKey: BUYER_KEY, encryptedFile, from: BUYER });
      expectOneError(decrypting, "purchase 1 is Pending: no key delivered yet");
    });

    it("refuses a wrong buyer key or an altered file in one line, writing nothing", async function () {
      const { encryptedFile } = await loadTaskFixture(deliveredFixture);
      const out = path.join(tempDir(), "decrypted.csv");
      const access = (args: Record<string, string>) =>
        runTask("market:access", { listing: "1", purchase: "1", buyerKey: BUYER_KEY, encryptedFile, out, from: BUYER, ...args });

      expectOneError(
        await access({ buyerKey: testKey("market/someone-else") }),
        "the delivered key does not decrypt with this private key",
      );
      const altered = readFileSync(encryptedFile);
      altered[altered.length - 20] ^= 0x01;
      const alteredFile = writeTempFile("altered.trd", altered);
      expectOneError(await access({ encryptedFile: alteredFile }), "wrong key or altered file");
      expect(existsSync(out)).to.equal(false);
    });

    it("refuses incomplete decryption arguments, listing 0, an unknown listing and a purchase of another listing", async function () {
      const { encryptedFile, device } = await loadTaskFixture(deliveredFixture);
      expectOneError(
        await runTask("market:access", { listing: "1", purchase: "1", from: BUYER }),
        "decryption needs --purchase, --buyer-key and --encrypted-file together",
      );
      expectOneError(await runTask("market:access", { listing: "0" }), "--listing must be at least 1, got 0");
      expectOneError(await runTask("market:access", { listing: "99" }), "listing 99 does not exist", EXIT.NOT_FOUND);

      const other = writeTempFile("other.csv", "other content");
      expectSuccess(await runTask("market:list", { kind: "dataset", price: "1", file: other, devices: device, from: SELLER }));
      const run = await runTask("market:access", { listing: "2", purchase: "1", buyerKey: BUYER_KEY, encryptedFile, from: BUYER });
      expectOneError(run, "purchase 1 is of listing 1, not 2");
    });
  });

  describe("market:withdraw", function () {
    it("the seller withdraws the proceeds; the treasury the fee, to another address", async function () {
      const { market, token, proceeds, fee, signers } = await loadTaskFixture(deliveredFixture);
      const marketAddress = await market.getAddress();
      expect(proceeds + fee).to.equal(PRICE);
      const before = {
        seller: await token.balanceOf(signers.seller.address),
        stranger: await token.balanceOf(signers.stranger.address),
        market: await token.balanceOf(marketAddress),
      };

      const run = expectSuccess(await runTask("market:withdraw", { from: SELLER, json: true }));
      expect(run.json).to.include({ account: signers.seller.address, to: signers.seller.address, amount: proceeds.toString() });
      expect(await token.balanceOf(signers.seller.address)).to.equal(before.seller + proceeds);
      expect(await market.withdrawable(signers.seller.address)).to.equal(0n);

      // Account 0 is TriadLocal's treasury.
      const treasuryRun = expectSuccess(await runTask("market:withdraw", { to: signers.stranger.address }));
      expect(treasuryRun.stdout).to.match(new RegExp(`^Withdrew 0\\.3125 tUSD to ${signers.stranger.address} \\(gas \\d+\\)\\n$`));
      expect(await token.balanceOf(signers.stranger.address)).to.equal(before.stranger + fee);
      expect(await token.balanceOf(marketAddress)).to.equal(before.market - PRICE);
    });

    it("reports an empty balance and a bad --to in one line", async function () {
      const { signers } = await loadTaskFixture(deliveredFixture);
      expectOneError(await runTask("market:withdraw", { from: BUYER }), `nothing to withdraw for ${signers.buyer.address}`, EXIT.REFUSED);
      expectOneError(
        await runTask("market:withdraw", { from: SELLER, to: "seller" }),
        '--to must be a 0x-prefixed 20-byte address, got "seller"',
      );
    });
  });

  describe("market:refund", function () {
    it("after the delivery deadline the buyer gets the whole payment back", async function () {
      const { market, token, deliverBy, signers } = await loadTaskFixture(purchasedFixture);
      const buyerBefore = await token.balanceOf(signers.buyer.address);
      await time.increaseTo(deliverBy + 1n);

      const run = expectSuccess(await runTask("market:refund", { purchase: "1", from: BUYER, json: true }));

      expect(run.json).to.include({ purchaseId: "1", amount: PRICE.toString() });
      expect(await token.balanceOf(signers.buyer.address)).to.equal(buyerBefore + PRICE);
      expect(await token.balanceOf(await market.getAddress())).to.equal(0n);
      expect((await market.getPurchase(1n)).status).to.equal(PurchaseStatus.Refunded);
      expectOneError(await runTask("market:refund", { purchase: "1", from: BUYER }), "purchase 1 was refunded already", EXIT.REFUSED);
      expectOneError(await runTask("market:refund", { purchase: "99", from: BUYER }), "purchase 99 does not exist", EXIT.NOT_FOUND);
    });

    it("before the deadline the contract refuses with MarketRefundNotAvailable, in one line", async function () {
      const { market, token, deliverBy, signers } = await loadTaskFixture(purchasedFixture);
      const buyerBefore = await token.balanceOf(signers.buyer.address);

      const run = await runTask("market:refund", { purchase: "1", from: BUYER });

      expectOneError(
        run,
        `purchase 1 can be refunded only if its key is not delivered by its deadline, ${formatTimestamp(deliverBy)} (in `,
        EXIT.REFUSED,
      );
      expect(await token.balanceOf(signers.buyer.address)).to.equal(buyerBefore);
      expect((await market.getPurchase(1n)).status).to.equal(PurchaseStatus.Pending);
    });

    it("only the buyer may take the refund", async function () {
      const { deliverBy, signers } = await loadTaskFixture(purchasedFixture);
      await time.increaseTo(deliverBy + 1n);
      expectOneError(
        await runTask("market:refund", { purchase: "1", from: "3" }),
        `only the buyer of purchase 1 can take its refund, not you (${signers.stranger.address})`,
        EXIT.REFUSED,
      );
      expectOneError(await runTask("market:refund", { purchase: "x" }), '--purchase must be a whole number, got "x"');
    });
  });

  describe("deployment record", function () {
    it("every market task reports a missing record in one line", async function () {
      const { encryptedFile, keyFile, file, device } = await loadTaskFixture(deliveredFixture);
      const calls: [string, Record<string, unknown>][] = [
        ["market:list", { kind: "dataset", price: "1", file, devices: device }],
        ["market:buy", { listing: "1", buyerKey: BUYER_KEY }],
        ["market:deliver", { purchase: "1", keyFile }],
        ["market:refund", { purchase: "1" }],
        ["market:withdraw", {}],
        ["market:access", { listing: "1", purchase: "1", buyerKey: BUYER_KEY, encryptedFile }],
      ];
      await withDeploymentsDir(tempDir(), async () => {
        for (const [task, args] of calls)
          expectOneError(await runTask(task, args), "no Triad deployment is recorded for chain 31337", EXIT.NETWORK);
      });
    });
  });
});
