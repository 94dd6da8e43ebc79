import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { ZeroAddress, hexlify, id } from "ethers";
import { DataMarketplace__factory, TestToken__factory } from "@triad/contracts";
import {
  ListingKind,
  ListingStatus,
  PurchaseStatus,
  contentHash,
  createListing,
  deliverContentKey,
  deliveredKeyOf,
  encryptFile,
  encryptionPublicKey,
  enumName,
  generateContentKey,
  openPurchasedFile,
  purchaseListing,
} from "@triad/sdk";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, fileError, formatAmount, parseAddress, parseAmount, parseList, parsePrivateKey, parseUint } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** The data marketplace: market:list, market:buy, market:deliver, market:refund, market:withdraw, market:access. */

/** What --kind takes: the contract's listing kinds, lower case. */
export const LISTING_KINDS = ListingKind.map((k) => k.toLowerCase() as Lowercase<(typeof ListingKind)[number]>);
type Kind = (typeof LISTING_KINDS)[number];

/**
 * The DataMarketplace connected to the acting account, and its payment token with its decimals. The token is bound
 * with TestToken's ABI for its ERC-20 surface (decimals, balanceOf, allowance, approve), which every ERC-20 answers.
 */
async function marketAs(ctx: Context) {
  const record = await ctx.deployment(["DataMarketplace"]);
  const signer = await ctx.signer();
  const market = DataMarketplace__factory.connect(record.contracts.DataMarketplace!, signer);
  const token = TestToken__factory.connect(await market.TOKEN(), signer);
  const decimals = Number(await token.decimals());
  return { market, token, decimals, signer };
}

function readFileArg(file: string, name: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    fail(`cannot read --${name} ${file}: ${fileError(err)}`);
  }
}

// ------------------------------------------------------------------ commands

export interface MarketListArgs {
  kind: string;
  price: string;
  file: string;
  devices: string;
  anchors?: string;
  periodDays?: string;
  deliveryHours?: string;
  terms?: string;
  metadataUri?: string;
  force?: boolean;
}

export async function marketList(ctx: Context, args: MarketListArgs): Promise<CommandResult> {
  if (!LISTING_KINDS.includes(args.kind as Kind)) fail(`--kind must be one of ${LISTING_KINDS.join(", ")}, got "${args.kind}"`);
  const kind = args.kind as Kind;
  if (kind === "stream" && args.periodDays === undefined) fail("--period-days is required for a stream");
  if (kind !== "stream" && args.periodDays !== undefined) fail("--period-days is only for streams");
  const devices = parseList(args.devices).map((d) => parseAddress(d, "devices"));
  if (devices.length === 0) fail("--devices needs at least one device address");
  const anchors = parseList(args.anchors);
  for (const a of anchors) if (!/^0x[0-9a-fA-F]{64}$/.test(a)) fail(`--anchors must be 32-byte hex roots, got "${a}"`);
  const plaintext = readFileArg(args.file, "file");
  const { market, decimals } = await marketAs(ctx);
  // Every argument is checked before the files are written: a rejected run must not replace the content key
  // of an earlier listing of the same file.
  const price = parseAmount(args.price, "price", decimals);
  const period = kind === "stream" ? parseUint(args.periodDays, "period-days", { min: 1n, max: 3650n }) * 86_400n : 0n;
  const deliveryWindow = parseUint(args.deliveryHours ?? "24", "delivery-hours", { min: 1n, max: 720n }) * 3600n;

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
      termsHash: id(args.terms ?? "CC BY 4.0"),
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
  return {
    data: {
      listingId,
      contentHash: contentHash(plaintext),
      encryptedFile: encryptedPath,
      contentKeyFile: keyPath,
      txHash: receipt.hash,
      gasUsed: receipt.gasUsed,
    },
    lines: [
      `Listed ${kind} #${listingId} at ${args.price} tokens (gas ${receipt.gasUsed})`,
      `  encrypted file  ${encryptedPath} (publish it for buyers)`,
      `  content key     ${keyPath} (secret: you need it to deliver; keep it safe)`,
    ],
  };
}

export async function marketBuy(ctx: Context, args: { listing: string; buyerKey: string; maxPrice?: string }): Promise<CommandResult> {
  const listingId = parseUint(args.listing, "listing", { min: 1n });
  const publicKey = encryptionPublicKey(parsePrivateKey(args.buyerKey, "buyer-key"));
  const { market, token, decimals } = await marketAs(ctx);
  const maxPrice = args.maxPrice === undefined ? undefined : parseAmount(args.maxPrice, "max-price", decimals);
  const res = await purchaseListing(market, token, { listingId, buyerPublicKey: publicKey, maxPrice });
  return {
    data: {
      purchaseId: res.purchaseId,
      listingId,
      amount: res.amount,
      deliverBy: res.deliverBy,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
    lines: [
      `Purchase #${res.purchaseId} of listing #${listingId}: ${formatAmount(res.amount, decimals)} tokens in escrow (gas ${res.receipt.gasUsed})`,
      `  the seller must deliver by ${new Date(Number(res.deliverBy) * 1000).toISOString()}, else run market:refund`,
    ],
  };
}

export async function marketDeliver(ctx: Context, args: { purchase: string; keyFile: string }): Promise<CommandResult> {
  const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
  const keyHex = readFileArg(args.keyFile, "key-file").toString("utf8").trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(keyHex)) fail(`--key-file ${args.keyFile} does not hold a 32-byte hex content key`);
  const { market, decimals } = await marketAs(ctx);
  const res = await deliverContentKey(market, { purchaseId, contentKey: Buffer.from(keyHex.slice(2), "hex") });
  return {
    data: {
      purchaseId,
      sellerProceeds: res.sellerProceeds,
      fee: res.fee,
      accessExpiry: res.accessExpiry,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
    lines: [
      `Delivered the key of purchase #${purchaseId} (gas ${res.receipt.gasUsed})`,
      `  released ${formatAmount(res.sellerProceeds, decimals)} tokens to the seller's balance, fee ${formatAmount(res.fee, decimals)}`,
    ],
  };
}

export async function marketRefund(ctx: Context, args: { purchase: string }): Promise<CommandResult> {
  const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
  const { market, decimals } = await marketAs(ctx);
  const p = await market.getPurchase(purchaseId);
  const receipt = (await (await market.refund(purchaseId)).wait())!;
  return {
    data: { purchaseId, amount: p.amount, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Refunded ${formatAmount(p.amount, decimals)} tokens for purchase #${purchaseId} (gas ${receipt.gasUsed})`],
  };
}

export async function marketWithdraw(ctx: Context, args: { to?: string }): Promise<CommandResult> {
  const { market, decimals, signer } = await marketAs(ctx);
  const me = await signer.getAddress();
  const to = args.to === undefined ? me : parseAddress(args.to, "to");
  const amount = await market.withdrawable(me);
  if (amount === 0n) fail(`nothing to withdraw for ${me}`);
  const receipt = (await (await market.withdraw(to)).wait())!;
  return {
    data: { account: me, to, amount, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Withdrew ${formatAmount(amount, decimals)} tokens to ${to} (gas ${receipt.gasUsed})`],
  };
}

export interface MarketAccessArgs {
  listing: string;
  buyer?: string;
  at?: string;
  purchase?: string;
  buyerKey?: string;
  encryptedFile?: string;
  out?: string;
}

export async function marketAccess(ctx: Context, args: MarketAccessArgs): Promise<CommandResult> {
  const listingId = parseUint(args.listing, "listing", { min: 1n });
  const { market, signer } = await marketAs(ctx);
  const buyer = args.buyer === undefined ? await signer.getAddress() : parseAddress(args.buyer, "buyer");
  const at = args.at === undefined ? await ctx.latestTimestamp() : parseUint(args.at, "at");
  const listing = await market.getListing(listingId);
  if (listing.seller === ZeroAddress) fail(`listing ${listingId} does not exist`);
  const access = await market.accessOf(listingId, buyer);
  const has = await market.hasAccess(listingId, buyer, at);
  const data: Record<string, unknown> = {
    listingId,
    buyer,
    at,
    hasAccess: has,
    listingStatus: enumName(ListingStatus, listing.status),
    since: access.since,
    expiry: access.expiry,
  };
  const lines = [
    `Listing #${listingId} (${data.listingStatus}): ${buyer} ${has ? "HAS" : "has NO"} access at ${new Date(Number(at) * 1000).toISOString()}`,
  ];
  const decrypting = [args.purchase, args.buyerKey, args.encryptedFile].filter((v) => v !== undefined).length;
  if (decrypting > 0 && decrypting < 3) fail("decryption needs --purchase, --buyer-key and --encrypted-file together");
  if (decrypting === 3) {
    const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
    const p = await market.getPurchase(purchaseId);
    if (p.listingId !== listingId) fail(`purchase ${purchaseId} is of listing ${p.listingId}, not ${listingId}`);
    const encryptedKey = await deliveredKeyOf(market, purchaseId);
    if (!encryptedKey) fail(`purchase ${purchaseId} is ${enumName(PurchaseStatus, p.status)}: no key delivered yet`);
    const plaintext = openPurchasedFile({
      buyerPrivateKey: parsePrivateKey(args.buyerKey, "buyer-key"),
      encryptedKey,
      encryptedFile: readFileArg(args.encryptedFile!, "encrypted-file"),
      contentHash: listing.contentHash,
    });
    if (args.out) {
      try {
        writeFileSync(args.out, plaintext);
      } catch (err) {
        fail(`cannot write --out ${args.out}: ${fileError(err)}`);
      }
    }
    data.verified = true;
    data.bytes = plaintext.length;
    if (args.out) data.out = args.out;
    lines.push(
      `  decrypted ${plaintext.length} bytes; keccak256 matches the listing's content hash${args.out ? `; written to ${args.out}` : ""}`,
    );
  }
  return { data, lines };
}

// ------------------------------------------------------------------ command line

const GROUP = "Data marketplace";
const LISTING = { name: "listing", value: "<id>", description: "Listing id", required: true } as const;
const PURCHASE = { name: "purchase", value: "<id>", description: "Purchase id", required: true } as const;

export const marketCommands: CommandSpec[] = [
  {
    name: "market:list",
    group: GROUP,
    summary: "Lists a dataset, stream or model: encrypts the file with a fresh content key and lists it",
    account: "Seller",
    options: [
      { name: "kind", value: "<kind>", description: `What is sold: ${LISTING_KINDS.join(", ")}`, required: true },
      { name: "price", value: "<tokens>", description: "Price in whole tokens (per period for streams), e.g. 25 or 12.5", required: true },
      {
        name: "file",
        value: "<file>",
        description: "The plaintext file to sell (its keccak256 becomes the listing's content hash)",
        required: true,
      },
      {
        name: "devices",
        value: "<addresses>",
        description: "Comma-separated addresses of your registered devices the data comes from",
        required: true,
      },
      { name: "anchors", value: "<roots>", description: "Comma-separated Merkle roots of anchored batches of those devices" },
      { name: "period-days", value: "<days>", description: "Subscription period in days (streams only)" },
      { name: "delivery-hours", value: "<hours>", description: "Hours you have to deliver the key after each purchase", default: "24" },
      { name: "terms", value: "<text>", description: "Licence terms text (its keccak256 is recorded)", default: "CC BY 4.0" },
      {
        name: "metadata-uri",
        value: "<uri>",
        description: "Where buyers find the description and the encrypted file (default: file://<file>.trd)",
      },
      {
        name: "force",
        type: "boolean",
        description: "Overwrite an existing <file>.key / <file>.trd (the key of an earlier listing is then lost)",
      },
    ],
    run: marketList,
  },
  {
    name: "market:buy",
    group: GROUP,
    summary: "Buys a listing: pays into escrow and records your encryption public key for the delivery",
    account: "Buyer",
    options: [
      LISTING,
      {
        name: "buyer-key",
        value: "<hex>",
        description: "Your encryption private key (hex); its public key is recorded, keep the private key to decrypt",
        required: true,
      },
      { name: "max-price", value: "<tokens>", description: "Highest price you accept in whole tokens (default: the current price)" },
    ],
    run: marketBuy,
  },
  {
    name: "market:deliver",
    group: GROUP,
    summary: "Delivers the content key of a purchase, encrypted to the buyer's key; releases the escrow",
    account: "Seller or agent",
    options: [
      PURCHASE,
      { name: "key-file", value: "<file>", description: "File holding the content key (hex), as written by market:list", required: true },
    ],
    run: marketDeliver,
  },
  {
    name: "market:refund",
    group: GROUP,
    summary: "Takes a full refund of a purchase not delivered by its deadline (or of a taken-down listing)",
    account: "Buyer",
    options: [PURCHASE],
    run: marketRefund,
  },
  {
    name: "market:withdraw",
    group: GROUP,
    summary: "Withdraws your marketplace balance (seller proceeds or treasury fees)",
    account: "Account whose balance to withdraw",
    options: [{ name: "to", value: "<address>", description: "Recipient address (default: yourself)" }],
    run: marketWithdraw,
  },
  {
    name: "market:access",
    group: GROUP,
    summary:
      "Shows a buyer's access to a listing; with --purchase, --buyer-key and --encrypted-file also decrypts and verifies the content",
    account: "Account (the default buyer)",
    options: [
      LISTING,
      { name: "buyer", value: "<address>", description: "Buyer address (default: the acting account)" },
      { name: "at", value: "<unix-time>", description: "Unix time to ask about (default: the latest block's time)" },
      { name: "purchase", value: "<id>", description: "Purchase id whose delivered key to use for decryption" },
      { name: "buyer-key", value: "<hex>", description: "The buyer's encryption private key (hex)" },
      { name: "encrypted-file", value: "<file>", description: "The listing's encrypted file" },
      { name: "out", value: "<file>", description: "Where to write the decrypted, verified file" },
    ],
    run: marketAccess,
  },
];
