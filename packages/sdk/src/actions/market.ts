import { getBytes, type ContractTransactionReceipt, type Signer } from "ethers";
import type { DataMarketplace, IERC20 } from "@triad/contracts";
import { ListingKind, type ListingKindName } from "../enums.ts";
import { TriadError } from "../errors.ts";
import { findEvent } from "./events.ts";
import { encryptContentKey } from "../market.ts";

/**
 * Marketplace actions shared by the tasks, the demo and dApps. Each takes the contract connected to the acting
 * account and returns what the caller needs next with the mined receipt.
 */

export interface CreateListingParams {
  /** What is sold: "Dataset", "Stream" or "Model" (lower case accepted). */
  kind: ListingKindName | Lowercase<ListingKindName>;
  price: bigint;
  /** Subscription period in seconds (streams only). */
  period?: bigint;
  deliveryWindow: bigint;
  contentHash: string;
  termsHash: string;
  metadataURI: string;
  devices: string[];
  anchors?: string[];
}

export async function createListing(
  market: DataMarketplace,
  params: CreateListingParams,
): Promise<{ listingId: bigint; receipt: ContractTransactionReceipt }> {
  const tx = await market.createListing({
    kind: ListingKind.findIndex((k) => k.toLowerCase() === params.kind.toLowerCase()),
    price: params.price,
    period: params.period ?? 0n,
    deliveryWindow: params.deliveryWindow,
    contentHash: params.contentHash,
    termsHash: params.termsHash,
    metadataURI: params.metadataURI,
    devices: params.devices,
    anchors: params.anchors ?? [],
  });
  const receipt = (await tx.wait())!;
  const event = findEvent(market, receipt, "ListingCreated");
  return { listingId: event.args.listingId as bigint, receipt };
}

/**
 * Buys one licence (or one stream period) at the listing's current price, approving the token first when the
 * allowance is short. `maxPrice` defaults to the current price, so a price raise landing first makes it revert.
 */
export async function purchaseListing(
  market: DataMarketplace,
  token: IERC20,
  params: { listingId: bigint; buyerPublicKey: string; maxPrice?: bigint },
): Promise<{
  purchaseId: bigint;
  amount: bigint;
  deliverBy: bigint;
  receipt: ContractTransactionReceipt;
  approveReceipt?: ContractTransactionReceipt;
}> {
  const buyer = await (market.runner as Signer).getAddress();
  const listing = await market.getListing(params.listingId);
  const maxPrice = params.maxPrice ?? listing.price;
  let approveReceipt: ContractTransactionReceipt | undefined;
  const marketAddress = await market.getAddress();
  if ((await token.allowance(buyer, marketAddress)) < maxPrice) {
    approveReceipt = (await (await token.approve(marketAddress, maxPrice)).wait())!;
  }
  const receipt = (await (await market.purchase(params.listingId, maxPrice, params.buyerPublicKey)).wait())!;
  const event = findEvent(market, receipt, "Purchased");
  return {
    purchaseId: event.args.purchaseId as bigint,
    amount: event.args.amount as bigint,
    deliverBy: event.args.deliverBy as bigint,
    receipt,
    approveReceipt,
  };
}

/** The buyer's encryption public key, as recorded in the purchase's `Purchased` event. */
export async function buyerPublicKeyOf(market: DataMarketplace, purchaseId: bigint): Promise<string> {
  const [event] = await market.queryFilter(market.filters.Purchased(purchaseId));
  if (!event) throw new TriadError(`purchase ${purchaseId} not found`, "NOT_FOUND", { purchaseId: String(purchaseId) });
  return event.args.buyerPublicKey;
}

/** Encrypts the content key to the buyer's public key and delivers it (seller or an authorised agent). */
export async function deliverContentKey(
  market: DataMarketplace,
  params: { purchaseId: bigint; contentKey: Uint8Array },
): Promise<{ encryptedKey: string; sellerProceeds: bigint; fee: bigint; accessExpiry: bigint; receipt: ContractTransactionReceipt }> {
  const buyerPublicKey = await buyerPublicKeyOf(market, params.purchaseId);
  const encryptedKey = encryptContentKey(buyerPublicKey, params.contentKey);
  const receipt = (await (await market.deliver(params.purchaseId, encryptedKey)).wait())!;
  const event = findEvent(market, receipt, "KeyDelivered");
  return {
    encryptedKey,
    sellerProceeds: event.args.sellerProceeds as bigint,
    fee: event.args.fee as bigint,
    accessExpiry: event.args.accessExpiry as bigint,
    receipt,
  };
}

/** The encrypted content key delivered for a purchase, from its `KeyDelivered` event (undefined if not delivered). */
export async function deliveredKeyOf(market: DataMarketplace, purchaseId: bigint): Promise<Uint8Array | undefined> {
  const [event] = await market.queryFilter(market.filters.KeyDelivered(purchaseId));
  return event ? getBytes(event.args.encryptedKey) : undefined;
}
