import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { ZeroAddress, hexlify, id } from "ethers";
import { DataMarketplace__factory, DeviceRegistry__factory, TestToken__factory } from "@triad/contracts";
import {
  ListingKind,
  formatBps,
  formatDuration,
  formatTimestamp,
  formatTokens,
  getListingDetails,
  listListings,
  listPurchases,
  type ListingKindName,
  type ListingStatusName,
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
import { YES_OPTION, type CommandResult, type CommandSpec } from "./lib/command.ts";
import {
  fail,
  fileError,
  notFound,
  parseAddress,
  parseAmount,
  parseList,
  parsePrivateKey,
  parseUint,
  refuse,
  uintMax,
} from "./lib/common.ts";
import type { Context } from "./lib/context.ts";
import {
  IPFS_PUBLISH_OPTIONS,
  IPFS_READ_OPTIONS,
  describeIpfsSource,
  ipfsSource,
  publishToIpfs,
  readFromIpfs,
  type IpfsArgs,
  type IpfsSource,
} from "./lib/ipfs.ts";
import { preflight } from "./insurance.ts";

/**
 * The data marketplace: market:list, market:listings, market:show, market:buy, market:purchases, market:deliver,
 * market:refund, market:withdraw, market:access.
 */

/** What --kind takes: the contract's listing kinds, lower case. */
export const LISTING_KINDS = ListingKind.map((k) => k.toLowerCase() as Lowercase<(typeof ListingKind)[number]>);
type Kind = (typeof LISTING_KINDS)[number];

/**
 * The DataMarketplace connected to the acting account, and its payment token with its decimals. The token is bound
 * with TestToken's ABI for its ERC-20 surface (decimals, balanceOf, allowance, approve), which every ERC-20 answers.
 */
async function marketAs(ctx: Context, as: "signer" | "reader" = "signer") {
  const record = await ctx.deployment(["DataMarketplace", "DeviceRegistry"]);
  const runner = as === "signer" ? await ctx.signer() : await ctx.reader();
  const market = DataMarketplace__factory.connect(record.contracts.DataMarketplace!, runner);
  const registry = DeviceRegistry__factory.connect(record.contracts.DeviceRegistry!, runner);
  const tokenInfo = await ctx.token();
  const token = TestToken__factory.connect(tokenInfo.address, runner);
  const tokens = (units: bigint) => formatTokens(units, tokenInfo);
  return { record, market, registry, token, tokenInfo, decimals: tokenInfo.decimals, tokens };
}

/** Below this price a listing looks like a mistake (a buyer pays next to nothing for the data). */
const SENSIBLE_MINIMUM_TOKENS = 1n;

function readFileArg(file: string, name: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    fail(`cannot read --${name} ${file}: ${fileError(err)}`, "FILE_ERROR");
  }
}

// ------------------------------------------------------------------ commands

export interface MarketListArgs extends Pick<IpfsArgs, "ipfsDir" | "ipfsApi"> {
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
  yes?: boolean;
  /** Publish the encrypted file to IPFS; the listing's metadataURI becomes its ipfs:// URI (unless --metadata-uri). */
  publish?: boolean;
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
  // --ipfs-dir or --ipfs-api alone also means: publish there.
  const ipfs = args.publish || args.ipfsDir !== undefined || args.ipfsApi !== undefined ? ipfsSource(ctx, args, "publish") : undefined;
  const { market, decimals, tokenInfo, tokens } = await marketAs(ctx);
  // Every argument is checked before the files are written: a rejected run must not replace the content key
  // of an earlier listing of the same file.
  const price = parseAmount(args.price, "price", decimals, { max: uintMax(128), maxLabel: "the largest price", symbol: tokenInfo.symbol });
  const period = kind === "stream" ? parseUint(args.periodDays, "period-days", { min: 1n, max: 3650n }) * 86_400n : 0n;
  const deliveryWindow = parseUint(args.deliveryHours ?? "24", "delivery-hours", { min: 1n, max: 720n }) * 3600n;
  const encryptedPath = `${args.file}.trd`;
  const keyPath = `${args.file}.key`;
  if (!args.force && (existsSync(keyPath) || existsSync(encryptedPath))) {
    fail(`${keyPath} or ${encryptedPath} already exists (the key of an earlier listing?): move them away or pass --force`, "FILE_EXISTS");
  }
  const contentKey = generateContentKey();
  const encrypted = encryptFile(plaintext, contentKey);
  // Published by CID: the URI is known before the listing, and buyers check what they fetch against it.
  const published = ipfs ? await ipfsOf(ctx, ipfs, encrypted) : undefined;
  const params = {
    kind: ListingKind.findIndex((k) => k.toLowerCase() === kind),
    price,
    period,
    deliveryWindow,
    contentHash: contentHash(plaintext),
    termsHash: id(args.terms ?? "CC BY 4.0"),
    metadataURI: args.metadataUri ?? published?.uri ?? `file://${args.file}.trd`,
    devices,
    anchors,
  };
  // The contract's checks (your devices, their anchors, the price) before any file is written.
  await preflight(ctx, () => market.createListing.staticCall(params));
  if (price < SENSIBLE_MINIMUM_TOKENS * 10n ** BigInt(decimals)) {
    if (!args.yes)
      fail(
        `--price ${args.price} is less than ${tokens(SENSIBLE_MINIMUM_TOKENS * 10n ** BigInt(decimals))}: pass --yes if you mean it`,
        "NEEDS_CONFIRMATION",
      );
  }

  if (published) await published.publish();
  // The key and encrypted file are written under temporary names first and only take their real names once the
  // listing is mined, so a refused transaction never replaces an earlier listing's key.
  const tmp = `.tmp-${process.pid}`;
  writeFileSync(encryptedPath + tmp, encrypted);
  writeFileSync(keyPath + tmp, `${hexlify(contentKey)}\n`, { mode: 0o600 });
  chmodSync(keyPath + tmp, 0o600);
  let listed: Awaited<ReturnType<typeof createListing>>;
  try {
    listed = await ctx.step("Listing", () => createListing(market, { ...params, kind }));
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
      metadataURI: params.metadataURI,
      ...(published ? { encryptedFileURI: published.uri } : {}),
      txHash: receipt.hash,
      gasUsed: receipt.gasUsed,
    },
    lines: [
      `Listed ${kind} #${listingId} at ${tokens(price)}${kind === "stream" ? ` per ${formatDuration(period)}` : ""} (gas ${receipt.gasUsed})`,
      published
        ? `  encrypted file  ${encryptedPath}, published to ${describeIpfsSource(ipfs!)} as ${published.uri}${"dir" in ipfs! ? " (keep that node served for buyers)" : ""}`
        : `  encrypted file  ${encryptedPath} (publish it for buyers)`,
      `  content key     ${keyPath} (secret: you need it to deliver; keep it safe)`,
    ],
  };
}

/**
 * The ipfs:// URI of `encrypted` (its CID computed locally, so the listing can name it before anything is sent) and
 * how to publish it, which is done once the contract's checks have passed.
 */
async function ipfsOf(ctx: Context, source: IpfsSource, encrypted: Uint8Array): Promise<{ uri: string; publish: () => Promise<void> }> {
  const { ipfsCidOf } = await import("@triad/sdk/node");
  const cid = await ipfsCidOf(encrypted);
  return {
    uri: `ipfs://${cid}`,
    publish: async () => {
      const added = await publishToIpfs(ctx, source, encrypted, "the encrypted file");
      if (added !== cid)
        fail(`${describeIpfsSource(source)} stored the encrypted file as ${added}, not ${cid}: its import settings differ`, "FAILED");
    },
  };
}

export async function marketBuy(ctx: Context, args: { listing: string; buyerKey: string; maxPrice?: string }): Promise<CommandResult> {
  const listingId = parseUint(args.listing, "listing", { min: 1n });
  const publicKey = encryptionPublicKey(parsePrivateKey(args.buyerKey, "buyer-key"));
  const { market, token, decimals, tokenInfo, tokens } = await marketAs(ctx);
  const maxPrice =
    args.maxPrice === undefined
      ? undefined
      : parseAmount(args.maxPrice, "max-price", decimals, { max: uintMax(128), maxLabel: "the largest price", symbol: tokenInfo.symbol });
  const listing = await market.getListing(listingId);
  if (listing.seller === ZeroAddress) notFound("listing", listingId);
  const me = await ctx.account();
  if (listing.seller === me) {
    refuse(
      `you are the seller of listing ${listingId}: buying your own listing would only move ${tokens(listing.price)} through escrow and pay the fee to the treasury`,
      { listing: String(listingId) },
    );
  }
  await preflight(ctx, () => market.purchase.staticCall(listingId, maxPrice ?? listing.price, publicKey));
  const balance = await token.balanceOf(me);
  if (balance < listing.price) refuse(`you hold ${tokens(balance)}: listing ${listingId} costs ${tokens(listing.price)}`);
  const res = await ctx.step(`Buying listing ${listingId}`, () =>
    purchaseListing(market, token, { listingId, buyerPublicKey: publicKey, maxPrice }),
  );
  const now = await ctx.latestTimestamp();
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
      `Purchase #${res.purchaseId} of listing #${listingId}: ${tokens(res.amount)} in escrow (gas ${res.receipt.gasUsed})`,
      `  the seller must deliver by ${formatTimestamp(res.deliverBy, now)}, else market:refund --purchase ${res.purchaseId} gives it all back`,
    ],
  };
}

export async function marketDeliver(ctx: Context, args: { purchase: string; keyFile: string }): Promise<CommandResult> {
  const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
  const keyHex = readFileArg(args.keyFile, "key-file").toString("utf8").trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(keyHex)) fail(`--key-file ${args.keyFile} does not hold a 32-byte hex content key`);
  const { market, tokens } = await marketAs(ctx);
  // A placeholder key of the right shape: the contract's checks (status, seller or agent, deadline) come first.
  await preflight(ctx, () => market.deliver.staticCall(purchaseId, "0x01"));
  const res = await ctx.step(`Delivering the key of purchase ${purchaseId}`, () =>
    deliverContentKey(market, { purchaseId, contentKey: Buffer.from(keyHex.slice(2), "hex") }),
  );
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
      `  released ${tokens(res.sellerProceeds)} to the seller's balance (market:withdraw), fee ${tokens(res.fee)}`,
    ],
  };
}

export async function marketRefund(ctx: Context, args: { purchase: string }): Promise<CommandResult> {
  const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
  const { market, tokens } = await marketAs(ctx);
  const p = await market.getPurchase(purchaseId);
  await preflight(ctx, () => market.refund.staticCall(purchaseId));
  const receipt = await ctx.step(`Refunding purchase ${purchaseId}`, async () => (await (await market.refund(purchaseId)).wait())!);
  return {
    data: { purchaseId, amount: p.amount, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Refunded ${tokens(p.amount)} for purchase #${purchaseId} (gas ${receipt.gasUsed})`],
  };
}

export async function marketWithdraw(ctx: Context, args: { to?: string }): Promise<CommandResult> {
  const { market, tokens } = await marketAs(ctx);
  const me = await ctx.account();
  const to = args.to === undefined ? me : parseAddress(args.to, "to");
  const amount = await market.withdrawable(me);
  if (amount === 0n) refuse(`nothing to withdraw for ${me}: proceeds reach your balance when you deliver a purchase's key`);
  const receipt = await ctx.step("Withdrawing", async () => (await (await market.withdraw(to)).wait())!);
  return {
    data: { account: me, to, amount, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Withdrew ${tokens(amount)} to ${to} (gas ${receipt.gasUsed})`],
  };
}

export interface MarketAccessArgs extends IpfsArgs {
  listing: string;
  buyer?: string;
  at?: string;
  purchase?: string;
  buyerKey?: string;
  encryptedFile?: string;
  out?: string;
  force?: boolean;
}

export async function marketAccess(ctx: Context, args: MarketAccessArgs): Promise<CommandResult> {
  const listingId = parseUint(args.listing, "listing", { min: 1n });
  const { market } = await marketAs(ctx);
  const buyer = args.buyer === undefined ? await ctx.account() : parseAddress(args.buyer, "buyer");
  const at = args.at === undefined ? await ctx.latestTimestamp() : parseUint(args.at, "at");
  if (args.out !== undefined && existsSync(args.out) && !args.force) {
    fail(`${args.out} already exists: move it away, choose another --out or pass --force`, "FILE_EXISTS", { file: args.out });
  }
  const listing = await market.getListing(listingId);
  if (listing.seller === ZeroAddress) notFound("listing", listingId);
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
  const lines = [`Listing #${listingId} (${data.listingStatus}): ${buyer} ${has ? "HAS" : "has NO"} access at ${formatTimestamp(at)}`];
  const decrypting = [args.purchase, args.buyerKey, args.encryptedFile].filter((v) => v !== undefined).length;
  if (decrypting > 0 && decrypting < 3) fail("decryption needs --purchase, --buyer-key and --encrypted-file together");
  if (decrypting === 3) {
    const purchaseId = parseUint(args.purchase, "purchase", { min: 1n });
    const p = await market.getPurchase(purchaseId);
    if (p.buyer === ZeroAddress) notFound("purchase", purchaseId);
    if (p.listingId !== listingId) fail(`purchase ${purchaseId} is of listing ${p.listingId}, not ${listingId}`);
    const encryptedKey = await deliveredKeyOf(market, purchaseId);
    if (!encryptedKey) fail(`purchase ${purchaseId} is ${enumName(PurchaseStatus, p.status)}: no key delivered yet`);
    // An ipfs:// URI (the listing's, as market:show prints it) is fetched by CID and checked against it.
    const fromIpfs = /^ipfs:\/\//i.test(args.encryptedFile!);
    const encryptedFile = fromIpfs
      ? await readFromIpfs(ctx, ipfsSource(ctx, args, "read"), args.encryptedFile!)
      : readFileArg(args.encryptedFile!, "encrypted-file");
    if (fromIpfs) data.encryptedFileURI = args.encryptedFile;
    const plaintext = openPurchasedFile({
      buyerPrivateKey: parsePrivateKey(args.buyerKey, "buyer-key"),
      encryptedKey,
      encryptedFile,
      contentHash: listing.contentHash,
    });
    if (args.out) {
      try {
        writeFileSync(args.out, plaintext);
      } catch (err) {
        fail(`cannot write --out ${args.out}: ${fileError(err)}`, "FILE_ERROR");
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

// ------------------------------------------------------------------ browsing

export interface MarketListingsArgs {
  kind?: string;
  device?: string;
  seller?: string;
  minPrice?: string;
  maxPrice?: string;
  all?: boolean;
}

/** market:listings: the Active listings (all with --all), filtered by kind, device, seller and price. */
export async function marketListings(ctx: Context, args: MarketListingsArgs): Promise<CommandResult> {
  if (args.kind !== undefined && !LISTING_KINDS.includes(args.kind as Kind))
    fail(`--kind must be one of ${LISTING_KINDS.join(", ")}, got "${args.kind}"`);
  const device = args.device === undefined ? undefined : parseAddress(args.device, "device");
  const seller = args.seller === undefined ? undefined : parseAddress(args.seller, "seller");
  const { record, market, decimals, tokenInfo, tokens } = await marketAs(ctx, "reader");
  const price = (v: string | undefined, name: string) =>
    v === undefined
      ? undefined
      : parseAmount(v, name, decimals, { max: uintMax(128), maxLabel: "the largest price", symbol: tokenInfo.symbol });
  const minPrice = price(args.minPrice, "min-price");
  const maxPrice = price(args.maxPrice, "max-price");
  const kind = args.kind === undefined ? undefined : (ListingKind.find((k) => k.toLowerCase() === args.kind) as ListingKindName);
  const statuses: ListingStatusName[] = args.all ? ["Active", "Paused", "Closed", "TakenDown"] : ["Active"];
  const range = await ctx.scanRange(record, "listings");
  const listings = await ctx.step("Reading the marketplace's listings", () =>
    listListings(market, range, { kind, device, seller, minPrice, maxPrice, statuses }),
  );
  const filters = [
    kind && `kind ${kind.toLowerCase()}`,
    device && `device ${device}`,
    seller && `seller ${seller}`,
    minPrice !== undefined && `price ≥ ${tokens(minPrice)}`,
    maxPrice !== undefined && `price ≤ ${tokens(maxPrice)}`,
  ].filter(Boolean);
  const what = `${args.all ? "" : "active "}listing`;
  return {
    data: { listings },
    lines:
      listings.length === 0
        ? [`No ${what}s${filters.length ? ` with ${filters.join(", ")}` : ""}`]
        : [
            `${listings.length} ${what}${listings.length === 1 ? "" : "s"}${filters.length ? ` with ${filters.join(", ")}` : ""}:`,
            ...listings.map(
              (l) =>
                `  #${l.listingId}  ${l.kind.toLowerCase().padEnd(7)} ${tokens(l.price)}${l.kind === "Stream" ? ` per ${formatDuration(l.period)}` : ""}  ${l.devices.length} device${l.devices.length === 1 ? "" : "s"}  seller ${l.seller}${args.all ? `  ${l.status}` : ""}  ${l.metadataURI}`,
            ),
            "  (market:show --listing <id> for its devices and anchors; market:buy --listing <id> buys it)",
          ],
  };
}

/** market:show: one listing with its devices, its anchored batches and how its purchases went. */
export async function marketShow(ctx: Context, args: { listing: string }): Promise<CommandResult> {
  const listingId = parseUint(args.listing, "listing", { min: 1n });
  const { record, market, registry, tokens } = await marketAs(ctx, "reader");
  const range = await ctx.scanRange(record, "the listing's events");
  const l = await ctx.step(`Reading listing ${listingId}`, () => getListingDetails(market, registry, range, listingId));
  const now = await ctx.latestTimestamp();
  return {
    data: { ...l, anchors: l.anchors.map((a) => ({ ...a, anchoredAt: Number(a.anchoredAt) })) },
    lines: [
      `Listing #${l.listingId}: ${l.kind.toLowerCase()}, ${l.status}, ${tokens(l.price)}${l.kind === "Stream" ? ` per ${formatDuration(l.period)}` : ""}`,
      `  seller ${l.seller}; delivers the key within ${formatDuration(l.deliveryWindow)} of a purchase, else the buyer can take a refund`,
      `  content hash ${l.contentHash}, terms hash ${l.termsHash}`,
      `  description and encrypted file: ${l.metadataURI}`,
      `  purchases: ${l.purchases.total} (${l.purchases.pending} pending, ${l.purchases.delivered} delivered, ${l.purchases.refunded} refunded)`,
      `  devices:`,
      ...l.deviceRecords.map((d) => `    ${d.device}  ${d.status}, ${d.sensorSchema}, owner ${d.owner}`),
      l.anchors.length === 0 ? "  anchors: none attached" : "  anchors (buyers verify each reading against them):",
      ...l.anchors.map(
        (a) =>
          `    ${a.root}  device ${a.device}, seq ${a.fromSeq}..${a.toSeq} (${a.readings}), anchored ${formatTimestamp(a.anchoredAt, now)}`,
      ),
    ],
  };
}

/** market:purchases: your purchases as a buyer (default) or the purchases of your listings (--as-seller). */
export async function marketPurchases(ctx: Context, args: { asSeller?: boolean; account?: string }): Promise<CommandResult> {
  const { record, market, tokens } = await marketAs(ctx, "reader");
  const account = args.account !== undefined ? parseAddress(args.account, "account") : await ctx.account();
  const range = await ctx.scanRange(record, "purchases");
  const filter = args.asSeller ? { seller: account } : { buyer: account };
  const purchases = await ctx.step("Reading the marketplace's purchases", () => listPurchases(market, range, filter));
  const now = await ctx.latestTimestamp();
  const whose = args.asSeller ? `of listings sold by ${account}` : `made by ${account}`;
  return {
    data: { ...filter, purchases },
    lines:
      purchases.length === 0
        ? [`No purchases ${whose}`]
        : [
            `${purchases.length} purchase${purchases.length === 1 ? "" : "s"} ${whose}:`,
            ...purchases.map(
              (p) =>
                `  #${p.purchaseId}  listing #${p.listingId} (${p.kind.toLowerCase()})  ${tokens(p.amount)}  ${p.status}${p.status === "Pending" ? ` — ${p.deliverBy > now ? "delivery due" : "undelivered, refundable since"} ${formatTimestamp(p.deliverBy, now)}` : ""}  ${args.asSeller ? `buyer ${p.buyer}` : `fee ${formatBps(p.feeBps)}`}`,
            ),
          ],
  };
}

// ------------------------------------------------------------------ command line

const GROUP = "Data marketplace";
const LISTING = { name: "listing", value: "<id>", description: "Listing id", required: true } as const;
const PURCHASE = { name: "purchase", value: "<id>", description: "Purchase id", required: true } as const;

export const marketCommands: CommandSpec[] = [
  {
    name: "market:listings",
    group: GROUP,
    summary: "Lists the listings on sale (all with --all), by kind, device, seller and price",
    options: [
      { name: "kind", value: "<kind>", description: `Only this kind: ${LISTING_KINDS.join(", ")}` },
      { name: "device", value: "<address>", description: "Only listings with data of this device" },
      { name: "seller", value: "<address>", description: "Only this seller's listings" },
      { name: "min-price", value: "<tokens>", description: "Only listings at this price or more" },
      { name: "max-price", value: "<tokens>", description: "Only listings at this price or less" },
      { name: "all", type: "boolean", description: "Also paused, closed and taken-down listings" },
    ],
    run: marketListings,
  },
  {
    name: "market:show",
    group: GROUP,
    summary: "Shows a listing: price, seller, delivery window, its devices, its anchored batches and its purchases",
    options: [LISTING],
    run: marketShow,
  },
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
        description:
          "Where buyers find the description and the encrypted file (default: its ipfs:// URI with --publish, else file://<file>.trd)",
      },
      {
        name: "force",
        type: "boolean",
        description: "Overwrite an existing <file>.key / <file>.trd (the key of an earlier listing is then lost)",
      },
      { ...YES_OPTION, description: "List even at a price below 1 token" },
      {
        name: "publish",
        type: "boolean",
        description:
          "Publish the encrypted file to IPFS; the listing points buyers to its ipfs:// URI unless --metadata-uri (needs --ipfs-dir or --ipfs-api)",
      },
      ...IPFS_PUBLISH_OPTIONS,
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
    name: "market:purchases",
    group: GROUP,
    summary: "Lists your purchases (or, with --as-seller, the purchases of your listings): status, amount, delivery deadline",
    account: "Buyer (or seller) whose purchases to list",
    options: [
      { name: "as-seller", type: "boolean", description: "List the purchases of your listings instead" },
      { name: "account", value: "<address>", description: "List this account's purchases instead of yours" },
    ],
    run: marketPurchases,
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
      {
        name: "encrypted-file",
        value: "<file|ipfs://cid>",
        description: "The listing's encrypted file, or its ipfs:// URI (fetched and checked against the CID; see --ipfs-*)",
      },
      { name: "out", value: "<file>", description: "Where to write the decrypted, verified file (never over a file without --force)" },
      { name: "force", type: "boolean", description: "Overwrite --out if it exists" },
      ...IPFS_READ_OPTIONS,
    ],
    run: marketAccess,
  },
];
