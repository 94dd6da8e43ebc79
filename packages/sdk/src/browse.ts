import { ZeroAddress, getAddress, type LogDescription, type Provider } from "ethers";
import type { ClaimsInsurance, DataMarketplace, DeviceRegistry, InsurancePool, OracleCommittee } from "@triad/contracts";
import { AI4I_SCHEMA } from "./ai4i.ts";
import { sensorSchemaId } from "./devices.ts";
import {
  ClaimStatus,
  DeviceStatus,
  ListingKind,
  ListingStatus,
  PurchaseStatus,
  enumName,
  type ClaimStatusName,
  type DeviceStatusName,
  type ListingKindName,
  type ListingStatusName,
  type PurchaseStatusName,
} from "./enums.ts";
import { claimReason, claimReasonCode } from "./claim-reasons.ts";
import { NotFoundError, TriadError } from "./errors.ts";
import { formatBps } from "./format.ts";

/**
 * Browsing a deployment: devices, anchored readings, listings, purchases, policies, claims and a pool position, read
 * from the contracts' events (which say what exists and who it belongs to) and their views (which say what it is
 * now). Events are read in pages of blocks ({@link queryPaged}: public nodes cap the range of one `eth_getLogs`), and
 * the views of many items are asked for at once, so a JSON-RPC provider sends them as batches rather than one
 * request per item. Nothing here signs or sends: the contracts may be connected to a bare provider.
 *
 * Browser-safe, for the CLI and for web apps alike; the CLI prints what these return.
 */

// ------------------------------------------------------------------ paged log queries

/** The blocks to read events from: the deployment's start block up to a block fixed once (so every query agrees). */
export interface ScanRange {
  fromBlock: number;
  toBlock: number;
  /** Blocks per `eth_getLogs` (default 10,000); halved automatically when a node refuses a range as too large. */
  pageSize?: number;
  /** Called after each page with the last block read, for progress output. */
  onProgress?: (scannedTo: number, range: { fromBlock: number; toBlock: number }) => void;
}

export const DEFAULT_LOG_PAGE = 10_000;

/** A node's refusal of a log query as too large (the wording differs by provider). */
function isRangeTooLarge(err: unknown): boolean {
  const text = `${(err as { message?: string })?.message ?? ""} ${JSON.stringify((err as { error?: unknown })?.error ?? "")}`;
  return /range|too many|limit|exceed|10000|block count|response size/i.test(text);
}

/**
 * Every result of `query(from, to)` over `range`, in pages of blocks, in block order. A page a node refuses as too
 * large is split in two and retried (down to one block), so the default page size works on capped public nodes too.
 */
export async function queryPaged<L>(query: (fromBlock: number, toBlock: number) => Promise<L[]>, range: ScanRange): Promise<L[]> {
  const out: L[] = [];
  let page = Math.max(1, range.pageSize ?? DEFAULT_LOG_PAGE);
  for (let from = range.fromBlock; from <= range.toBlock;) {
    const to = Math.min(range.toBlock, from + page - 1);
    try {
      out.push(...(await query(from, to)));
    } catch (err) {
      if (page > 1 && isRangeTooLarge(err)) {
        page = Math.ceil(page / 2);
        continue;
      }
      throw err;
    }
    range.onProgress?.(to, range);
    from = to + 1;
  }
  return out;
}

/** The range from `fromBlock` to the provider's latest block. */
export async function scanRange(
  provider: Provider,
  fromBlock: number,
  options: Omit<ScanRange, "fromBlock" | "toBlock"> = {},
): Promise<ScanRange> {
  return { fromBlock, toBlock: await provider.getBlockNumber(), ...options };
}

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];
const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const AI4I_SCHEMA_ID = sensorSchemaId(AI4I_SCHEMA).toLowerCase();

/** A sensor schema id by name when it is a known one, else its hash. */
export function sensorSchemaName(schemaId: string): string {
  return schemaId.toLowerCase() === AI4I_SCHEMA_ID ? AI4I_SCHEMA : schemaId;
}

// ------------------------------------------------------------------ devices and anchors

export interface DeviceSummary {
  device: string;
  owner: string;
  status: DeviceStatusName;
  adminHold: boolean;
  sensorSchema: string;
  metadataURI: string;
  registeredAt: bigint;
  /** The lowest seq the next anchored batch may start at (readings 1..nextSeq-1 are anchored or skipped). */
  nextSeq: bigint;
}

async function deviceSummaries(registry: DeviceRegistry, devices: readonly string[]): Promise<DeviceSummary[]> {
  const records = await Promise.all(devices.map((d) => registry.getDevice(d)));
  return devices.map((device, i) => {
    const d = records[i];
    return {
      device: getAddress(device),
      owner: d.owner,
      status: enumName(DeviceStatus, d.status),
      adminHold: d.adminHold,
      sensorSchema: sensorSchemaName(d.sensorSchema),
      metadataURI: d.metadataURI,
      registeredAt: d.registeredAt,
      nextSeq: d.nextSeq,
    };
  });
}

/**
 * The devices `owner` owns now (registered by it or transferred to it, and not transferred away), or every
 * registered device without `owner`; in registration order.
 */
export async function listDevices(registry: DeviceRegistry, range: ScanRange, filter: { owner?: string } = {}): Promise<DeviceSummary[]> {
  const owner = filter.owner === undefined ? undefined : getAddress(filter.owner);
  const registered = await queryPaged((a, b) => registry.queryFilter(registry.filters.DeviceRegistered(undefined, owner), a, b), range);
  const received = owner
    ? await queryPaged(
        (a, b) => registry.queryFilter(registry.filters.DeviceOwnershipTransferred(undefined, undefined, owner), a, b),
        range,
      )
    : [];
  const candidates = unique([...registered.map((e) => getAddress(e.args.device)), ...received.map((e) => getAddress(e.args.device))]);
  const summaries = await deviceSummaries(registry, candidates);
  return owner ? summaries.filter((d) => sameAddress(d.owner, owner)) : summaries;
}

export interface AnchorSummary {
  device: string;
  root: string;
  fromSeq: bigint;
  toSeq: bigint;
  /** Number of sequence numbers the batch spans (toSeq − fromSeq + 1). */
  readings: bigint;
  uri: string;
  /** The owner or gateway that anchored it. */
  by: string;
  blockNumber: number;
  /** Block time of the anchor: every reading in the batch existed by then. */
  anchoredAt: bigint;
}

/** The anchored batches of `device` (BatchAnchored events), oldest first; `roots` narrows them to those roots. */
export async function listAnchors(
  registry: DeviceRegistry,
  range: ScanRange,
  filter: { device: string | readonly string[]; roots?: readonly string[] },
): Promise<AnchorSummary[]> {
  const devices = (typeof filter.device === "string" ? [filter.device] : [...filter.device]).map((d) => getAddress(d));
  if (devices.length === 0) return [];
  const events = await queryPaged(
    (a, b) =>
      registry.queryFilter(
        // Topic arrays are ORs: every device (and root) in one query.
        registry.filters.BatchAnchored(devices as unknown as string, filter.roots as unknown as string | undefined),
        a,
        b,
      ),
    range,
  );
  const anchors = await Promise.all(events.map((e) => registry.anchorOf(e.args.device, e.args.root)));
  return events.map((e, i) => ({
    device: getAddress(e.args.device),
    root: e.args.root,
    fromSeq: e.args.fromSeq,
    toSeq: e.args.toSeq,
    readings: e.args.toSeq - e.args.fromSeq + 1n,
    uri: e.args.uri,
    by: e.args.by,
    blockNumber: e.blockNumber,
    anchoredAt: anchors[i].anchoredAt,
  }));
}

/** A gateway account an owner has authorised to anchor readings of all its devices (`setGateway`). */
export interface GatewayAuthorisation {
  owner: string;
  gateway: string;
  /** Block time of the `setGateway` that authorised it last (anchors from then on count). */
  since: bigint;
  blockNumber: number;
}

/**
 * The gateways each owner has authorised now (the last `GatewaySet` of each owner and gateway says `authorised`),
 * from the registry's events: one paged log query for `owner` (or for every owner without it), in authorisation order.
 */
export async function listGateways(
  registry: DeviceRegistry,
  range: ScanRange,
  filter: { owner?: string } = {},
): Promise<GatewayAuthorisation[]> {
  const owner = filter.owner === undefined ? undefined : getAddress(filter.owner);
  const events = await queryPaged((a, b) => registry.queryFilter(registry.filters.GatewaySet(owner), a, b), range);
  // Per owner and gateway, the event that started the current setting: a call that repeats the setting emits
  // GatewaySet too but changes nothing (the registry's authorisation history starts at the first of the run).
  const current = new Map<string, (typeof events)[number]>();
  for (const e of events) {
    const key = `${getAddress(e.args.owner)}/${getAddress(e.args.gateway)}`;
    if (current.get(key)?.args.authorised !== e.args.authorised) current.set(key, e);
  }
  const authorised = [...current.values()].filter((e) => e.args.authorised);
  authorised.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  const provider = registry.runner?.provider;
  if (!provider) throw new TriadError("listGateways needs the registry connected to a provider", "NO_PROVIDER");
  const times = new Map(
    await Promise.all(
      unique(authorised.map((e) => e.blockNumber)).map(async (n) => {
        const block = await provider.getBlock(n);
        if (!block) throw new TriadError(`block ${n} is not available from the node`, "BLOCK_NOT_FOUND", { block: n });
        return [n, BigInt(block.timestamp)] as const;
      }),
    ),
  );
  return authorised.map((e) => ({
    owner: getAddress(e.args.owner),
    gateway: getAddress(e.args.gateway),
    since: times.get(e.blockNumber)!,
    blockNumber: e.blockNumber,
  }));
}

// ------------------------------------------------------------------ listings and purchases

export interface ListingSummary {
  listingId: bigint;
  seller: string;
  kind: ListingKindName;
  status: ListingStatusName;
  /** Current price of one purchase (a stream: of one period), base units. */
  price: bigint;
  /** Subscription period in seconds (streams). */
  period: bigint;
  deliveryWindow: bigint;
  contentHash: string;
  termsHash: string;
  metadataURI: string;
  devices: string[];
}

export interface ListingFilter {
  kind?: ListingKindName;
  seller?: string;
  /** Listings that name this device. */
  device?: string;
  minPrice?: bigint;
  maxPrice?: bigint;
  /** Statuses to keep (default: Active only). */
  statuses?: readonly ListingStatusName[];
}

async function listingSummaries(market: DataMarketplace, ids: readonly bigint[]): Promise<ListingSummary[]> {
  const records = await Promise.all(ids.map((id) => market.getListing(id)));
  return ids.map((listingId, i) => {
    const l = records[i];
    return {
      listingId,
      seller: l.seller,
      kind: enumName(ListingKind, l.kind),
      status: enumName(ListingStatus, l.status),
      price: l.price,
      period: l.period,
      deliveryWindow: l.deliveryWindow,
      contentHash: l.contentHash,
      termsHash: l.termsHash,
      metadataURI: l.metadataURI,
      devices: [...l.devices],
    };
  });
}

/**
 * Listings matching `filter` (by default the Active ones), in id order: found by their ListingCreated events (kind
 * and seller are indexed, the devices are in the event), priced and statused by `getListing` now.
 */
export async function listListings(market: DataMarketplace, range: ScanRange, filter: ListingFilter = {}): Promise<ListingSummary[]> {
  const kind = filter.kind === undefined ? undefined : ListingKind.indexOf(filter.kind);
  const seller = filter.seller === undefined ? undefined : getAddress(filter.seller);
  const created = await queryPaged((a, b) => market.queryFilter(market.filters.ListingCreated(undefined, seller, kind), a, b), range);
  const device = filter.device;
  const ids = created
    .filter((e) => device === undefined || e.args.devices.some((d) => sameAddress(d, device)))
    .map((e) => e.args.listingId);
  const statuses = filter.statuses ?? ["Active"];
  return (await listingSummaries(market, ids)).filter(
    (l) =>
      statuses.includes(l.status) &&
      (filter.minPrice === undefined || l.price >= filter.minPrice) &&
      (filter.maxPrice === undefined || l.price <= filter.maxPrice),
  );
}

export interface ListingDetails extends ListingSummary {
  /** The anchored batches attached to the listing, with their seq ranges (buyers verify readings against them). */
  anchors: AnchorSummary[];
  /** The listing's devices now (owner, status). */
  deviceRecords: DeviceSummary[];
  purchases: { total: number; pending: number; delivered: number; refunded: number };
}

/** One listing with its devices, its anchors and how its purchases went. */
export async function getListingDetails(
  market: DataMarketplace,
  registry: DeviceRegistry,
  range: ScanRange,
  listingId: bigint,
): Promise<ListingDetails> {
  const [summary] = await listingSummaries(market, [listingId]);
  if (summary.seller === ZeroAddress) throw new NotFoundError(`listing ${listingId} does not exist`, { listing: String(listingId) });
  const [added, purchased] = await Promise.all([
    queryPaged((a, b) => market.queryFilter(market.filters.ListingAnchorAdded(listingId), a, b), range),
    queryPaged((a, b) => market.queryFilter(market.filters.Purchased(undefined, listingId), a, b), range),
  ]);
  const roots = unique(added.map((e) => e.args.root));
  const [anchors, deviceRecords, purchases] = await Promise.all([
    roots.length === 0 ? [] : listAnchors(registry, range, { device: summary.devices, roots }),
    deviceSummaries(registry, summary.devices),
    Promise.all(purchased.map((e) => market.getPurchase(e.args.purchaseId))),
  ]);
  const count = (s: PurchaseStatusName) => purchases.filter((p) => enumName(PurchaseStatus, p.status) === s).length;
  return {
    ...summary,
    // A root counts for the listing only for the device that added it (anchors are per device).
    anchors: anchors.filter((x) => added.some((e) => e.args.root === x.root && sameAddress(e.args.device, x.device))),
    deviceRecords,
    purchases: { total: purchases.length, pending: count("Pending"), delivered: count("Delivered"), refunded: count("Refunded") },
  };
}

export interface PurchaseSummary {
  purchaseId: bigint;
  listingId: bigint;
  buyer: string;
  seller: string;
  kind: ListingKindName;
  status: PurchaseStatusName;
  amount: bigint;
  feeBps: number;
  /** Last time the key can be delivered; afterwards an undelivered purchase can be refunded. */
  deliverBy: bigint;
}

/** Purchases made by `buyer`, or of the listings of `seller`, in id order. */
export async function listPurchases(
  market: DataMarketplace,
  range: ScanRange,
  filter: { buyer: string } | { seller: string },
): Promise<PurchaseSummary[]> {
  let events;
  if ("buyer" in filter) {
    events = await queryPaged(
      (a, b) => market.queryFilter(market.filters.Purchased(undefined, undefined, getAddress(filter.buyer)), a, b),
      range,
    );
  } else {
    const listings = await queryPaged(
      (a, b) => market.queryFilter(market.filters.ListingCreated(undefined, getAddress(filter.seller)), a, b),
      range,
    );
    const ids = listings.map((e) => e.args.listingId);
    events =
      ids.length === 0
        ? []
        : await queryPaged((a, b) => market.queryFilter(market.filters.Purchased(undefined, ids as unknown as bigint), a, b), range);
  }
  const ids = events.map((e) => e.args.purchaseId);
  const records = await Promise.all(ids.map((id) => market.getPurchase(id)));
  const listings = await listingSummaries(market, unique(records.map((p) => p.listingId)));
  const byId = new Map(listings.map((l) => [l.listingId, l]));
  return ids.map((purchaseId, i) => {
    const p = records[i];
    const listing = byId.get(p.listingId)!;
    return {
      purchaseId,
      listingId: p.listingId,
      buyer: p.buyer,
      seller: listing.seller,
      kind: listing.kind,
      status: enumName(PurchaseStatus, p.status),
      amount: p.amount,
      feeBps: Number(p.feeBps),
      deliverBy: p.deliverBy,
    };
  });
}

// ------------------------------------------------------------------ policies

export interface ProductTerms {
  productId: bigint;
  maxCoverage: bigint;
  deductible: bigint;
  claimDeposit: bigint;
  premiumRateBps: number;
  waitingPeriod: bigint;
  claimWindow: bigint;
  assessmentWindow: bigint;
  appealWindow: bigint;
  minDuration: bigint;
  maxDuration: bigint;
  sensorSchema: string;
  active: boolean;
}

/** A product's terms (throws NotFoundError for an unknown product). */
export async function getProductTerms(claims: ClaimsInsurance, productId: bigint): Promise<ProductTerms> {
  if (productId < 1n || productId > (await claims.productCount())) {
    throw new NotFoundError(`product ${productId} does not exist`, { product: String(productId) });
  }
  const p = await claims.getProduct(productId);
  return {
    productId,
    maxCoverage: p.maxCoverage,
    deductible: p.deductible,
    claimDeposit: p.claimDeposit,
    premiumRateBps: Number(p.premiumRateBps),
    waitingPeriod: p.waitingPeriod,
    claimWindow: p.claimWindow,
    assessmentWindow: p.assessmentWindow,
    appealWindow: p.appealWindow,
    minDuration: p.minDuration,
    maxDuration: p.maxDuration,
    sensorSchema: sensorSchemaName(p.sensorSchema),
    active: p.active,
  };
}

export interface PolicySummary {
  policyId: bigint;
  /** The policy token's holder now: claims are filed and paid to it. */
  holder: string;
  productId: bigint;
  device: string;
  start: bigint;
  end: bigint;
  /** Incidents are covered from here (start + the product's waiting period) until `end` (exclusive). */
  coveredFrom: bigint;
  coverage: bigint;
  paidOut: bigint;
  /** Coverage not paid out yet (what a claim may ask for at most). */
  remaining: bigint;
  premium: bigint;
  openClaimId: bigint;
  released: boolean;
  deductible: bigint;
  claimDeposit: bigint;
  /** Claims can be filed until this time (end + the product's claim window), for incidents before `end`. */
  claimPeriodEnd: bigint;
}

async function policySummaries(claims: ClaimsInsurance, ids: readonly bigint[]): Promise<PolicySummary[]> {
  const [records, holders] = await Promise.all([
    Promise.all(ids.map((id) => claims.getPolicy(id))),
    Promise.all(ids.map((id) => claims.ownerOf(id).catch(() => ZeroAddress))),
  ]);
  const products = new Map<bigint, ProductTerms>();
  for (const productId of unique(records.map((p) => p.productId))) products.set(productId, await getProductTerms(claims, productId));
  return ids.map((policyId, i) => {
    const p = records[i];
    const product = products.get(p.productId)!;
    return {
      policyId,
      holder: holders[i],
      productId: p.productId,
      device: p.device,
      start: p.start,
      end: p.end,
      coveredFrom: p.start + product.waitingPeriod,
      coverage: p.coverage,
      paidOut: p.paidOut,
      remaining: p.released ? 0n : p.coverage - p.paidOut,
      premium: p.premium,
      openClaimId: p.openClaimId,
      released: p.released,
      deductible: product.deductible,
      claimDeposit: product.claimDeposit,
      claimPeriodEnd: p.end + product.claimWindow,
    };
  });
}

/** One policy (throws NotFoundError for an unknown one). */
export async function getPolicySummary(claims: ClaimsInsurance, policyId: bigint): Promise<PolicySummary> {
  if (policyId < 1n || policyId > (await claims.policyCount())) {
    throw new NotFoundError(`policy ${policyId} does not exist`, { policy: String(policyId) });
  }
  return (await policySummaries(claims, [policyId]))[0];
}

/**
 * Policies whose token `holder` holds now (bought by it or transferred to it: ERC-721 Transfer events), or every
 * policy on `device`; in id order.
 */
export async function listPolicies(
  claims: ClaimsInsurance,
  range: ScanRange,
  filter: { holder: string } | { device: string },
): Promise<PolicySummary[]> {
  let ids: bigint[];
  if ("holder" in filter) {
    const received = await queryPaged(
      (a, b) => claims.queryFilter(claims.filters.Transfer(undefined, getAddress(filter.holder)), a, b),
      range,
    );
    ids = unique(received.map((e) => e.args.tokenId));
  } else {
    const bought = await queryPaged(
      (a, b) => claims.queryFilter(claims.filters.PolicyPurchased(undefined, undefined, getAddress(filter.device)), a, b),
      range,
    );
    ids = bought.map((e) => e.args.policyId);
  }
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const policies = await policySummaries(claims, ids);
  return "holder" in filter ? policies.filter((p) => sameAddress(p.holder, filter.holder)) : policies;
}

// ------------------------------------------------------------------ claims

export interface ClaimSummary {
  claimId: bigint;
  policyId: bigint;
  device: string;
  claimant: string;
  status: ClaimStatusName;
  amount: bigint;
  deposit: bigint;
  /** Approved payout before the deductible (0 until approved). */
  payout: bigint;
  /** The decision once decided (null before). */
  approved: boolean | null;
  scoreBps: number;
  incidentAt: bigint;
  filedAt: bigint;
  assessmentDeadline: bigint;
  appealDeadline: bigint;
  evidenceHash: string;
  modelHash: string;
  evidenceURI: string;
}

/** Statuses in which the claim carries a verdict (`approved` is meaningful); Appealed: the committee's, under appeal. */
const HAS_VERDICT: readonly ClaimStatusName[] = ["Approved", "Rejected", "Appealed", "Paid", "Closed"];
/** Statuses in which the claim is decided (by the committee or, finally, by the arbiter). */
const DECIDED: readonly ClaimStatusName[] = ["Approved", "Rejected", "Paid", "Closed"];

async function claimSummaries(claims: ClaimsInsurance, filed: readonly { claimId: bigint; device: string }[]): Promise<ClaimSummary[]> {
  const records = await Promise.all(filed.map((f) => claims.getClaim(f.claimId)));
  return filed.map(({ claimId, device }, i) => {
    const c = records[i];
    const status = enumName(ClaimStatus, c.status);
    return {
      claimId,
      policyId: c.policyId,
      device,
      claimant: c.claimant,
      status,
      amount: c.amount,
      deposit: c.deposit,
      payout: c.payout,
      approved: HAS_VERDICT.includes(status) ? c.approved : null,
      scoreBps: Number(c.scoreBps),
      incidentAt: c.incidentAt,
      filedAt: c.filedAt,
      assessmentDeadline: c.assessmentDeadline,
      appealDeadline: c.appealDeadline,
      evidenceHash: c.evidenceHash,
      modelHash: c.modelHash,
      evidenceURI: c.evidenceURI,
    };
  });
}

/**
 * Claims filed by `claimant` or on policies `holder` holds now (either when both are given), optionally of some
 * statuses; in id order. From ClaimFiled events (the claimant is not indexed: the events of the range are read once).
 */
export async function listClaims(
  claims: ClaimsInsurance,
  range: ScanRange,
  filter: { account?: string; policyIds?: readonly bigint[]; statuses?: readonly ClaimStatusName[] } = {},
): Promise<ClaimSummary[]> {
  const filed = await queryPaged((a, b) => claims.queryFilter(claims.filters.ClaimFiled(), a, b), range);
  const policies = new Set(filter.policyIds ?? []);
  const mine = filed.filter(
    (e) =>
      (filter.account === undefined && filter.policyIds === undefined) ||
      (filter.account !== undefined && sameAddress(e.args.claimant, filter.account)) ||
      policies.has(e.args.policyId),
  );
  const summaries = await claimSummaries(
    claims,
    mine.map((e) => ({ claimId: e.args.claimId, device: e.args.device })),
  );
  return filter.statuses ? summaries.filter((c) => filter.statuses!.includes(c.status)) : summaries;
}

export interface ClaimDetails extends ClaimSummary {
  holder: string;
  deductible: bigint;
  /**
   * What the holder gets at settlement, after the deductible: once decided, `payout − deductible` (0 when the payout
   * does not exceed it); before, what an approval in full would pay. Once settled, what was paid.
   */
  expectedPayout: bigint;
  /** Whether `expectedPayout` is what an approval in full would pay (no decision yet). */
  payoutIfApproved: boolean;
  /** Who decided: the oracle committee, the arbiter (after an appeal or escalation), or nobody yet. */
  decidedBy: "committee" | "arbiter" | null;
  /** The verdict's reason code (CLAIM_REASONS; 0 = approved), when the deployment's verdicts carry one. */
  reasonCode: number | null;
  /** Why it was decided so, in one sentence (null while undecided). */
  reason: string | null;
  /** Committee members whose signatures decided it (the final digest's). */
  signers: string[];
  /** The verdict digest that decided it (committee decisions). */
  digest: string | null;
  appealedBy: string | null;
  escalated: boolean;
  /** When the claim can be settled (the appeal deadline; null while undecided or with the arbiter). */
  settleFrom: bigint | null;
  settlement: { recipient: string; paid: bigint; depositRefunded: bigint } | null;
}

/**
 * Everything about one claim, from its record and the events of its life: the verdict, who decided and why, the
 * signers, the payout after the deductible, the deposit and the deadlines (throws NotFoundError for an unknown one).
 */
export async function getClaimDetails(
  claims: ClaimsInsurance,
  committee: OracleCommittee,
  range: ScanRange,
  claimId: bigint,
): Promise<ClaimDetails> {
  const record = await claims.getClaim(claimId);
  if (enumName(ClaimStatus, record.status) === "None")
    throw new NotFoundError(`claim ${claimId} does not exist`, { claim: String(claimId) });
  const [policy] = await policySummaries(claims, [record.policyId]);
  const [summary] = await claimSummaries(claims, [{ claimId, device: policy.device }]);
  return (await claimDetailsOf(claims, committee, range, [summary]))[0];
}

/** {@link listClaims} with each claim's details ({@link ClaimDetails}), read in a few queries whatever the count. */
export async function listClaimDetails(
  claims: ClaimsInsurance,
  committee: OracleCommittee,
  range: ScanRange,
  filter: Parameters<typeof listClaims>[2] = {},
): Promise<ClaimDetails[]> {
  return claimDetailsOf(claims, committee, range, await listClaims(claims, range, filter));
}

const CLAIM_LIFE_EVENTS = [
  "VerdictFinalised",
  "VerdictSigned",
  "ClaimAppealed",
  "ClaimEscalated",
  "ClaimResolved",
  "ClaimSettled",
] as const;
/** Claim ids per log query (topic lists are ORs; nodes cap their length). */
const IDS_PER_QUERY = 200;

/**
 * The details of many claims: the events of their lives in one paged log query per {@link IDS_PER_QUERY} claims
 * (event names and claim ids as topic ORs), their policies' views at once, the committee's members once.
 */
async function claimDetailsOf(
  claims: ClaimsInsurance,
  committee: OracleCommittee,
  range: ScanRange,
  summaries: readonly ClaimSummary[],
): Promise<ClaimDetails[]> {
  if (summaries.length === 0) return [];
  const provider = claims.runner?.provider;
  if (!provider) throw new TriadError("reading claims needs the claims contract connected to a provider", "NO_PROVIDER");
  const address = await claims.getAddress();
  const topics = CLAIM_LIFE_EVENTS.map((n) => claims.interface.getEvent(n).topicHash);
  const idTopics = summaries.map((c) => "0x" + c.claimId.toString(16).padStart(64, "0"));
  const logs = [];
  for (let i = 0; i < idTopics.length; i += IDS_PER_QUERY) {
    const ids = idTopics.slice(i, i + IDS_PER_QUERY);
    logs.push(
      ...(await queryPaged((fromBlock, toBlock) => provider.getLogs({ address, topics: [topics, ids], fromBlock, toBlock }), range)),
    );
  }
  const byClaim = new Map<bigint, LogDescription[]>();
  for (const log of logs) {
    const event = claims.interface.parseLog(log);
    if (!event) continue;
    const id = event.args.claimId as bigint;
    byClaim.set(id, [...(byClaim.get(id) ?? []), event]);
  }
  const policies = new Map((await policySummaries(claims, unique(summaries.map((c) => c.policyId)))).map((p) => [p.policyId, p]));
  let members: { address: string; slot: bigint }[] | undefined;
  const committeeSlots = async () => {
    if (!members) {
      const all = await committee.members();
      const slots = await Promise.all(all.map((m) => committee.memberSlot(m)));
      members = all.map((m, i) => ({ address: m, slot: BigInt(slots[i].slot), isMember: slots[i].isMember })).filter((m) => m.isMember);
    }
    return members;
  };
  const out: ClaimDetails[] = [];
  for (const summary of summaries) {
    const events = byClaim.get(summary.claimId) ?? [];
    const policy = policies.get(summary.policyId)!;
    const last = (name: (typeof CLAIM_LIFE_EVENTS)[number]) => events.filter((e) => e.name === name).pop();
    const finalised = last("VerdictFinalised");
    const appealed = last("ClaimAppealed");
    const escalated = last("ClaimEscalated");
    const resolved = last("ClaimResolved");
    const settled = last("ClaimSettled");
    let signers: string[] = [];
    if (finalised) {
      const digest = finalised.args.digest as string;
      const bitmap = events
        .filter((e) => e.name === "VerdictSigned" && e.args.digest === digest)
        .reduce((acc, e) => acc | BigInt(e.args.signers), 0n);
      signers = (await committeeSlots()).filter((m) => (bitmap >> m.slot) & 1n).map((m) => m.address);
    }
    const decided = DECIDED.includes(summary.status);
    const afterDeductible = (payout: bigint) => (payout > policy.deductible ? payout - policy.deductible : 0n);
    const decidedBy = resolved ? "arbiter" : finalised ? "committee" : null;
    out.push({
      ...summary,
      holder: policy.holder,
      deductible: policy.deductible,
      expectedPayout: settled ? (settled.args.paid as bigint) : afterDeductible(decided ? summary.payout : summary.amount),
      payoutIfApproved: !settled && !decided,
      decidedBy: decided ? decidedBy : null,
      reasonCode: decided ? reasonCodeOf(finalised) : null,
      reason: decided ? decisionReason(summary, decidedBy, reasonCodeOf(finalised), appealed !== undefined, escalated !== undefined) : null,
      signers,
      digest: finalised ? (finalised.args.digest as string) : null,
      appealedBy: appealed ? (appealed.args.by as string) : null,
      escalated: escalated !== undefined,
      settleFrom: decided && summary.status !== "Paid" && summary.status !== "Closed" ? summary.appealDeadline : null,
      settlement: settled
        ? {
            recipient: settled.args.recipient as string,
            paid: settled.args.paid as bigint,
            depositRefunded: settled.args.depositRefunded as bigint,
          }
        : null,
    });
  }
  return out;
}

/**
 * Why a decided claim was decided so, in one sentence: the arbiter's decision, or the verdict's reason code
 * ({@link CLAIM_REASONS}) with the model's score. A verdict of a deployment from before reason codes is explained from
 * what it records: its decision and its score (0 for evidence the committee could not use).
 */
function decisionReason(
  c: ClaimSummary,
  decidedBy: "committee" | "arbiter" | null,
  reasonCode: number | null,
  appealed: boolean,
  escalated: boolean,
): string {
  if (decidedBy === "arbiter") {
    const how = escalated ? "after no verdict came by the assessment deadline" : appealed ? "on appeal" : "";
    return `the arbiter ${c.approved ? "approved" : "rejected"} it ${how}`.trim();
  }
  const score = `score ${formatBps(c.scoreBps)}`;
  if (c.approved && c.payout < c.amount) return `the committee approved part of the amount claimed (${score})`;
  if (reasonCode !== null) return `${claimReason(reasonCode).sentence} (${score})`;
  if (c.approved) return `${claimReason(0).sentence} (${score})`;
  if (c.scoreBps === 0) {
    return "the committee could not use the evidence (unreachable, altered, not signed by the device, or outside the policy period): an audit of the claim names the exact reason";
  }
  return `${claimReason(claimReasonCode("NO_FAILURE_DETECTED")).sentence} (${score})`;
}

/** The verdict's reason code, when the deployment's verdicts carry one (the `reason` of VerdictFinalised). */
function reasonCodeOf(event: LogDescription | undefined): number | null {
  if (!event || !event.fragment.inputs.some((p) => p.name === "reason")) return null;
  return Number(event.args.reason);
}

// ------------------------------------------------------------------ the pool

export interface PoolPosition {
  account: string;
  /** Pool shares held (not in a withdrawal request), in share base units, and what they are worth now. */
  shares: bigint;
  sharesValue: bigint;
  /** Decimals of the pool's shares (the token's plus the pool's offset). */
  shareDecimals: number;
  request: { shares: bigint; value: bigint; assetsAtRequest: bigint; claimableAt: bigint; pending: bigint; claimable: bigint };
  /** What the account can withdraw now (its claimable request, within the pool's free capital). */
  maxWithdraw: bigint;
}

/** An LP's position: shares and their value in tokens, and its withdrawal request. */
export async function getPoolPosition(pool: InsurancePool, account: string): Promise<PoolPosition> {
  const who = getAddress(account);
  const [shares, shareDecimals, [requested, assetsAtRequest, claimableAt], pending, claimable, maxWithdraw] = await Promise.all([
    pool.balanceOf(who),
    pool.decimals(),
    pool.redeemRequest(who),
    pool.pendingRedeemRequest(0n, who),
    pool.claimableRedeemRequest(0n, who),
    pool.maxWithdraw(who),
  ]);
  const [sharesValue, requestValue] = await Promise.all([pool.convertToAssets(shares), pool.convertToAssets(requested)]);
  return {
    account: who,
    shares,
    sharesValue,
    shareDecimals: Number(shareDecimals),
    request: { shares: requested, value: requestValue, assetsAtRequest, claimableAt, pending, claimable },
    maxWithdraw,
  };
}
