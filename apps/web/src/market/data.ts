import { getAddress, getBytes, id, type TypedDataDomain } from "ethers";
import type { DataMarketplace, DeviceRegistry } from "@triad/contracts";
import {
  AI4I_SCHEMA,
  TriadError,
  buildReadingDataset,
  buildStreamManifest,
  buyerPublicKeyOf,
  contentHash,
  deliveredKeyOf,
  encryptFile,
  generateContentKey,
  listPurchases,
  openPurchasedFile,
  parseReadingDataset,
  parseStreamManifest,
  prepareReadingBatch,
  verifyAnchoredReadings,
  type ListingKindName,
  type PurchaseSummary,
  type ReadingFailure,
  type ScanRange,
  type SignedReading,
  type StreamManifest,
} from "@triad/sdk";

/**
 * The marketplace pages' work beyond the SDK's browse functions (listListings, getListingDetails, listPurchases are
 * used as they are): a purchase's state for its buyer, opening a delivered purchase in the browser (decrypt the
 * delivered key with the buyer's key, decrypt the file, check the content hash, then every reading against the
 * listing's anchored roots), and a seller's preparation of a listing (readings from the gateway, the dataset file,
 * its encryption and publication). The same SDK calls as `triad market:*` (packages/cli/src/market.ts).
 */

// ------------------------------------------------------------------ purchases

export interface MyPurchase extends PurchaseSummary {
  /** The public key the purchase recorded (the buyer's encryption key). */
  buyerPublicKey: string;
  /** The delivered content key, encrypted to the buyer's key (undefined while pending). */
  encryptedKey?: Uint8Array;
}

/** The purchases `buyer` made, newest first, with the key each recorded and the delivered key when there is one. */
export async function myPurchases(market: DataMarketplace, range: ScanRange, buyer: string): Promise<MyPurchase[]> {
  const purchases = await listPurchases(market, range, { buyer });
  const out = await Promise.all(
    purchases.map(async (p) => ({
      ...p,
      buyerPublicKey: await buyerPublicKeyOf(market, p.purchaseId),
      encryptedKey: p.status === "Delivered" ? await deliveredKeyOf(market, p.purchaseId) : undefined,
    })),
  );
  return out.reverse();
}

/** The purchases of `seller`'s listings still waiting for their key, oldest first. */
export async function pendingDeliveries(market: DataMarketplace, range: ScanRange, seller: string): Promise<PurchaseSummary[]> {
  return (await listPurchases(market, range, { seller })).filter((p) => p.status === "Pending");
}

/** A verified batch of a dataset: its root, device and readings, and what failed (nothing when valid). */
export interface VerifiedBatch {
  root: string;
  device: string;
  readings: SignedReading[];
  anchoredAt: bigint;
  valid: boolean;
  failures: ReadingFailure[];
}

export type OpenedPurchase =
  | { kind: "Dataset"; plaintext: Uint8Array; batches: VerifiedBatch[]; readings: number; valid: boolean }
  | { kind: "Stream"; plaintext: Uint8Array; manifest: StreamManifest }
  | { kind: "Model"; plaintext: Uint8Array };

/**
 * Opens a delivered purchase in the browser: decrypts the delivered key with the buyer's private key, the file with
 * it, and checks the plaintext against the listing's content hash (`openPurchasedFile`); then a dataset's every
 * reading — the device's signature, the Merkle proof off-chain and with the registry's `verifyReading`, the root
 * anchored by the device and attached to the listing (`verifyAnchoredReadings`); a stream's manifest is parsed.
 */
export async function openPurchase(params: {
  market: DataMarketplace;
  registry: DeviceRegistry;
  domain: TypedDataDomain;
  listingId: bigint;
  kind: ListingKindName;
  contentHash: string;
  buyerPrivateKey: string;
  encryptedKey: Uint8Array;
  encryptedFile: Uint8Array;
}): Promise<OpenedPurchase> {
  const plaintext = openPurchasedFile({
    buyerPrivateKey: params.buyerPrivateKey,
    encryptedKey: params.encryptedKey,
    encryptedFile: params.encryptedFile,
    contentHash: params.contentHash,
  });
  if (params.kind === "Stream") return { kind: "Stream", plaintext, manifest: parseStreamManifest(plaintext) };
  if (params.kind === "Model") return { kind: "Model", plaintext };
  const { batches } = parseReadingDataset(plaintext);
  const verified: VerifiedBatch[] = [];
  for (const batch of batches) {
    if (batch.readings.length === 0) continue;
    const device = getAddress(batch.readings[0].reading.device);
    const check = await verifyAnchoredReadings(params.registry, {
      domain: params.domain,
      device,
      root: batch.root,
      readings: batch.readings,
      listing: { marketplace: params.market, listingId: params.listingId },
      onChainProofs: true,
    });
    verified.push({
      root: batch.root,
      device,
      readings: batch.readings.map((r) => r.reading),
      anchoredAt: check.anchor.anchoredAt,
      valid: check.valid,
      failures: check.failures,
    });
  }
  return {
    kind: "Dataset",
    plaintext,
    batches: verified,
    readings: verified.reduce((n, b) => n + b.readings.length, 0),
    valid: verified.length > 0 && verified.every((b) => b.valid),
  };
}

// ------------------------------------------------------------------ selling

/** A reading as the gateway's HTTP API serves it (integers as decimal strings). */
interface GatewayReading {
  device: string;
  seq: string;
  timestamp: string;
  values: string[];
  signature: string;
}

/**
 * The newest `count` (at most 1,000) signed readings of `device` stored at the gateway, in seq order
 * (`GET /v1/devices/{device}` for the last seq, then `/readings?after=`).
 */
export async function fetchDeviceReadings(gatewayUrl: string, device: string, count: number): Promise<SignedReading[]> {
  const base = gatewayUrl.replace(/\/+$/, "");
  const d = getAddress(device);
  const get = async (path: string) => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`);
    } catch (cause) {
      throw new TriadError(`cannot reach the gateway at ${base}: ${(cause as Error).message}`, "NETWORK_UNREACHABLE", {}, { cause });
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 404) throw new TriadError(`the gateway holds no readings of ${d} yet`, "NOT_FOUND");
    if (!res.ok) throw new TriadError(`the gateway answered HTTP ${res.status}: ${String(body.error ?? "")}`.trim(), "GATEWAY_REFUSED");
    return body;
  };
  const summary = await get(`/v1/devices/${d}`);
  const lastSeq = BigInt(String(summary.lastSeq));
  const limit = Math.max(1, Math.min(1000, count));
  const after = lastSeq >= BigInt(limit) ? lastSeq - BigInt(limit) : undefined;
  const page = await get(`/v1/devices/${d}/readings?limit=${limit}${after === undefined ? "" : `&after=${after}`}`);
  return (page.readings as GatewayReading[]).map((r) => ({
    device: getAddress(r.device),
    seq: BigInt(r.seq),
    timestamp: BigInt(r.timestamp),
    values: r.values.map((v) => BigInt(v)),
    signature: r.signature,
  }));
}

/** A listing's file made in the browser: plaintext, its hash, the fresh content key and the encrypted file. */
export interface PreparedListingFile {
  kind: "dataset" | "stream";
  plaintext: Uint8Array;
  contentHash: string;
  contentKey: Uint8Array;
  encrypted: Uint8Array;
  /** Dataset: the batch root to anchor (by the device's owner) and attach to the listing. */
  root?: string;
  readings?: number;
}

/** The `triad.dataset/v1` file of readings of one device as one batch (root = what `anchorBatch` records). */
export function prepareDatasetFile(params: {
  chainId: number;
  registry: string;
  domain: TypedDataDomain;
  readings: readonly SignedReading[];
}): PreparedListingFile {
  if (params.readings.length === 0) throw new TriadError("no readings to list", "EMPTY_BATCH");
  const batch = prepareReadingBatch(params.domain, params.readings);
  const plaintext = new TextEncoder().encode(
    JSON.stringify(
      buildReadingDataset({
        chainId: params.chainId,
        registry: getAddress(params.registry),
        sensorSchema: AI4I_SCHEMA,
        batches: [{ root: batch.root, entries: batch.entries }],
      }),
    ),
  );
  const contentKey = generateContentKey();
  return {
    kind: "dataset",
    plaintext,
    contentHash: contentHash(plaintext),
    contentKey,
    encrypted: encryptFile(plaintext, contentKey),
    root: batch.root,
    readings: params.readings.length,
  };
}

/** The stream manifest (`triad.stream/v1`) of a Stream listing: the gateway's absolute URL and the devices. */
export function prepareStreamFile(params: { gatewayUrl: string; devices: readonly string[] }): PreparedListingFile {
  const gateway = new URL(params.gatewayUrl, globalThis.location?.href).toString().replace(/\/+$/, "");
  const plaintext = buildStreamManifest({ gateway, devices: params.devices.map((d) => getAddress(d)), sensorSchema: AI4I_SCHEMA });
  const contentKey = generateContentKey();
  return { kind: "stream", plaintext, contentHash: contentHash(plaintext), contentKey, encrypted: encryptFile(plaintext, contentKey) };
}

/** The listing's `termsHash` of a licence text. */
export function termsHash(terms: string): string {
  return id(terms);
}

/** The bytes of a hex content key (as stored). */
export function contentKeyBytes(hex: string): Uint8Array {
  return getBytes(hex);
}
