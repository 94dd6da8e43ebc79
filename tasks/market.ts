import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { hexlify, id } from "ethers";
import type { IERC20Metadata } from "../typechain-types";
import {
  LISTING_KINDS,
  contentHash,
  createListing,
  deliverContentKey,
  deliveredKeyOf,
  encryptFile,
  encryptionPublicKey,
  generateContentKey,
  openPurchasedFile,
  purchaseListing,
  type ListingKindName,
} from "../sdk";
import {
  action,
  deploymentFor,
  fail,
  formatAmount,
  output,
  parseAddress,
  parseAmount,
  parsePrivateKey,
  parseUint,
  signerFor,
} from "./lib/common";

const LISTING_STATUS = ["None", "Active", "Paused", "Closed", "TakenDown"];
const PURCHASE_STATUS = ["None", "Pending", "Delivered", "Refunded"];

async function marketAs(hre: HardhatRuntimeEnvironment, from: string | undefined) {
  const record = await deploymentFor(hre, ["DataMarketplace"]);
  const signer = await signerFor(hre, from);
  const market = await hre.ethers.getContractAt("DataMarketplace", record.contracts.DataMarketplace!, signer);
  const token = (await hre.ethers.getContractAt("IERC20Metadata", await market.TOKEN(), signer)) as unknown as IERC20Metadata;
  const decimals = Number(await token.decimals());
  return { market, token, decimals, signer };
}

function readFileArg(file: string, name: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    fail(`cannot read --${name} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
}

interface Common {
  from?: string;
  json: boolean;
}

task("market:list", "Lists a dataset, stream or model: encrypts the file with a fresh content key and lists it")
  .addParam("kind", `What is sold: ${LISTING_KINDS.join(", ")}`)
  .addParam("price", "Price in whole tokens (per period for streams), e.g. 25 or 12.5")
  .addParam("file", "The plaintext file to sell (its keccak256 becomes the listing's content hash)")
  .addParam("devices", "Comma-separated addresses of your registered devices the data comes from")
  .addOptionalParam("anchors", "Comma-separated Merkle roots of anchored batches of those devices")
  .addOptionalParam("periodDays", "Subscription period in days (streams only)")
  .addOptionalParam("deliveryHours", "Hours you have to deliver the key after each purchase", "24")
  .addOptionalParam("terms", "Licence terms text (its keccak256 is recorded)", "CC BY 4.0")
  .addOptionalParam("metadataUri", "Where buyers find the description and the encrypted file")
  .addOptionalParam("from", "Seller account: index or address of a local account (default: the first)")
  .addFlag("force", "Overwrite an existing <file>.key / <file>.trd (the key of an earlier listing is then lost)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { force: boolean; kind: string; price: string; file: string; devices: string; anchors?: string; periodDays?: string; deliveryHours: string; terms: string; metadataUri?: string }, hre) => {
      if (!LISTING_KINDS.includes(args.kind as ListingKindName)) fail(`--kind must be one of ${LISTING_KINDS.join(", ")}, got "${args.kind}"`);
      const kind = args.kind as ListingKindName;
      if (kind === "stream" && args.periodDays === undefined) fail("--period-days is required for a stream");
      if (kind !== "stream" && args.periodDays !== undefined) fail("--period-days is only for streams");
      const devices = parseList(args.devices).map((d) => parseAddress(hre, d, "devices"));
      if (devices.length === 0) fail("--devices needs at least one device address");
      const anchors = parseList(args.anchors);
      for (const a of anchors) if (!/^0x[0-9a-fA-F]{64}$/.test(a)) fail(`--anchors must be 32-byte hex roots, got "${a}"`);
      const plaintext = readFileArg(args.file, "file");
      const { market, decimals } = await marketAs(hre, args.from);
      // Every argument is checked before the files are written: a rejected run must not replace the content key
      // of an earlier listing of the same file.
      const price = parseAmount(args.price, "price", decimals);
      const period = kind === "stream" ? parseUint(args.periodDays, "period-days", { min: 1n, max: 3650n }) * 86_400n : 0n;
      const deliveryWindow = parseUint(args.deliveryHours, "delivery-hours", { min: 1n, max: 720n }) * 3600n;

      const contentKey = generateContentKey();
      const encryptedPath = `${args.file}.trd`;
      const keyPath = `${args.file}.key`;
      if (!args.force && (existsSync(keyPath) || existsSync(encryptedPath))) {
        fail(`${keyPath} or ${encryptedPath} already exists (the key of an earlier listing?): move them away or pass --force`);
      }
      // The key and encrypted file are written under temporary names first and only take their real names once the
      // listing is mined, so a refused transaction never replaces an earlier listing's key.
      const tmp = `.tmp-${process.pid}`;
      writeFileSync(encryptedPath + tmp, encryptFile(plaintext, contentKey));
      writeFileSync(keyPath + tmp, `${hexlify(contentKey)}\n`, { mode: 0o600 });
      chmodSync(keyPath + tmp, 0o600);
      let listed: Awaited<ReturnType<typeof createListing>>;
      try {
        listed = await createListing(market, {
          kind,
          price,
          period,
          deliveryWindow,
          contentHash: contentHash(plaintext),
          termsHash: id(args.terms),
          metadataURI: args.metadataUri ?? `file://${encryptedPath}`,
          devices,
          anchors,
        });
      } catch (err) {
        rmSync(encryptedPath + tmp, { force: true });
        rmSync(keyPath + tmp, { force: true });
        throw err;
      }
      renameSync(encryptedPath + tmp, encryptedPath);
      renameSync(keyPath + tmp, keyPath);
      const { listingId, receipt } = listed;
      output(
        args.json,
        { listingId, contentHash: contentHash(plaintext), encryptedFile: encryptedPath, contentKeyFile: keyPath, txHash: receipt.hash, gasUsed: receipt.gasUsed },
        [
          `Listed ${kind} #${listingId} at ${args.price} tokens (gas ${receipt.gasUsed})`,
          `  encrypted file  ${encryptedPath} (publish it for buyers)`,
          `  content key     ${keyPath} (secret: you need it to deliver; keep it safe)`,
        ],
      );
    }),
  );

task("market:buy", "Buys a listing: pays into escrow and records your encryption public key for the delivery")
  .addParam("listing", "Listing id")
  .addParam("buyerKey", "Your encryption private key (hex); its public key is recorded, keep the private key to decrypt")
  .addOptionalParam("maxPrice", "Highest price you accept in whole tokens (default: the current price)")
  .addOptionalParam("from", "Buyer account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { listing: string; buyerKey: string; maxPrice?: string }, hre) => {
      const listingId = parseUint(args.listing, "listing", { min: 1n });
      const publicKey = encryptionPublicKey(parsePrivateKey(args.buyerKey, "buyer-key"));
      const { market, token, decimals } = await marketAs(hre, args.from);
      const maxPrice = args.maxPrice === undefined ? undefined : parseAmount(args.maxPrice, "max-price", decimals);
      const res = await purchaseListing(market, token, { listingId, buyerPublicKey: publicKey, maxPrice });
      output(args.json, { purchaseId: res.purchaseId, listingId, amount: res.amount, deliverBy: res.deliverBy, txHash: res.receipt.hash, gasUsed: res.receipt.gasUsed }, [
        `Purchase #${res.purchaseId} of listing #${listingId}: ${formatAmount(res.amount, decimals)} tokens in escrow (gas ${res.receipt.gasUsed})`,
        `  the seller must deliver by ${new Date(Number(res.deliverBy) * 1000).toISOString()}, else run market:refund`,
      ]);
    }),
  );

task("market:deliver", "Delivers the content key of a purchase, encrypted to the buyer's key; releases the escrow")
  .addParam("purchase", "Purchase id")
  .addParam("keyFile", "File holding the content key (hex), as written by market:list")
  .addOptionalParam("from", "Seller or agent account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { purchase: string; keyFile: string }, hre) => {
      const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
      const keyHex = readFileArg(args.keyFile, "key-file").toString("utf8").trim();
      if (!/^0x[0-9a-fA-F]{64}$/.test(keyHex)) fail(`--key-file ${args.keyFile} does not hold a 32-byte hex content key`);
      const { market, decimals } = await marketAs(hre, args.from);
      const res = await deliverContentKey(market, { purchaseId, contentKey: Buffer.from(keyHex.slice(2), "hex") });
      output(args.json, { purchaseId, sellerProceeds: res.sellerProceeds, fee: res.fee, accessExpiry: res.accessExpiry, txHash: res.receipt.hash, gasUsed: res.receipt.gasUsed }, [
        `Delivered the key of purchase #${purchaseId} (gas ${res.receipt.gasUsed})`,
        `  released ${formatAmount(res.sellerProceeds, decimals)} tokens to the seller's balance, fee ${formatAmount(res.fee, decimals)}`,
      ]);
    }),
  );

task("market:refund", "Takes a full refund of a purchase not delivered by its deadline (or of a taken-down listing)")
  .addParam("purchase", "Purchase id")
  .addOptionalParam("from", "Buyer account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { purchase: string }, hre) => {
      const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
      const { market, decimals } = await marketAs(hre, args.from);
      const p = await market.getPurchase(purchaseId);
      const receipt = (await (await market.refund(purchaseId)).wait())!;
      output(args.json, { purchaseId, amount: p.amount, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Refunded ${formatAmount(p.amount, decimals)} tokens for purchase #${purchaseId} (gas ${receipt.gasUsed})`,
      ]);
    }),
  );

task("market:withdraw", "Withdraws your marketplace balance (seller proceeds or treasury fees)")
  .addOptionalParam("to", "Recipient address (default: yourself)")
  .addOptionalParam("from", "Account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { to?: string }, hre) => {
      const { market, decimals, signer } = await marketAs(hre, args.from);
      const me = await signer.getAddress();
      const to = args.to === undefined ? me : parseAddress(hre, args.to, "to");
      const amount = await market.withdrawable(me);
      if (amount === 0n) fail(`nothing to withdraw for ${me}`);
      const receipt = (await (await market.withdraw(to)).wait())!;
      output(args.json, { account: me, to, amount, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Withdrew ${formatAmount(amount, decimals)} tokens to ${to} (gas ${receipt.gasUsed})`,
      ]);
    }),
  );

task("market:access", "Shows a buyer's access to a listing; with --purchase, --buyer-key and --encrypted-file also decrypts and verifies the content")
  .addParam("listing", "Listing id")
  .addOptionalParam("buyer", "Buyer address (default: the --from account)")
  .addOptionalParam("at", "Unix time to ask about (default: the latest block's time)")
  .addOptionalParam("purchase", "Purchase id whose delivered key to use for decryption")
  .addOptionalParam("buyerKey", "The buyer's encryption private key (hex)")
  .addOptionalParam("encryptedFile", "The listing's encrypted file")
  .addOptionalParam("out", "Where to write the decrypted, verified file")
  .addOptionalParam("from", "Account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { listing: string; buyer?: string; at?: string; purchase?: string; buyerKey?: string; encryptedFile?: string; out?: string }, hre) => {
      const listingId = parseUint(args.listing, "listing", { min: 1n });
      const { market, signer } = await marketAs(hre, args.from);
      const buyer = args.buyer === undefined ? await signer.getAddress() : parseAddress(hre, args.buyer, "buyer");
      const at = args.at === undefined ? BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp) : parseUint(args.at, "at");
      const listing = await market.getListing(listingId);
      if (listing.seller === hre.ethers.ZeroAddress) fail(`listing ${listingId} does not exist`);
      const access = await market.accessOf(listingId, buyer);
      const has = await market.hasAccess(listingId, buyer, at);
      const view: Record<string, unknown> = {
        listingId,
        buyer,
        at,
        hasAccess: has,
        listingStatus: LISTING_STATUS[Number(listing.status)],
        since: access.since,
        expiry: access.expiry,
      };
      const lines = [
        `Listing #${listingId} (${LISTING_STATUS[Number(listing.status)]}): ${buyer} ${has ? "HAS" : "has NO"} access at ${new Date(Number(at) * 1000).toISOString()}`,
      ];
      const decrypting = [args.purchase, args.buyerKey, args.encryptedFile].filter((v) => v !== undefined).length;
      if (decrypting > 0 && decrypting < 3) fail("decryption needs --purchase, --buyer-key and --encrypted-file together");
      if (decrypting === 3) {
        const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
        const p = await market.getPurchase(purchaseId);
        if (p.listingId !== listingId) fail(`purchase ${purchaseId} is of listing ${p.listingId}, not ${listingId}`);
        const encryptedKey = await deliveredKeyOf(market, purchaseId);
        if (!encryptedKey) fail(`purchase ${purchaseId} is ${PURCHASE_STATUS[Number(p.status)]}: no key delivered yet`);
        const plaintext = openPurchasedFile({
          buyerPrivateKey: parsePrivateKey(args.buyerKey, "buyer-key"),
          encryptedKey,
          encryptedFile: readFileArg(args.encryptedFile!, "encrypted-file"),
          contentHash: listing.contentHash,
        });
        if (args.out) writeFileSync(args.out, plaintext);
        view.verified = true;
        view.bytes = plaintext.length;
        if (args.out) view.out = args.out;
        lines.push(`  decrypted ${plaintext.length} bytes; keccak256 matches the listing's content hash${args.out ? `; written to ${args.out}` : ""}`);
      }
      output(args.json, view, lines);
    }),
  );
