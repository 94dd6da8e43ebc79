import { readFileSync } from "node:fs";
import path from "node:path";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { Wallet, id, keccak256, type Typed, type TypedDataDomain } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  ListingKind,
  ListingStatus as ListingStatusNames,
  PurchaseStatus as PurchaseStatusNames,
  deviceRegistryDomain,
  encryptionPublicKey,
  enumValues,
  parseAi4iCsv,
  prepareReadingBatch,
  registerDevice as registerDeviceAction,
  signAi4iRows,
  type PreparedBatch,
} from "@triad/sdk";
import type { DataMarketplace, DeviceRegistry } from "@triad/contracts";

const { time } = networkHelpers;

/** The AI4I training file: the dataset the tests sell, byte for byte. */
export const DATASET_FILE = readFileSync(path.join(import.meta.dirname, "..", "..", "data", "ai4i2020", "ai4i2020-train.csv"));
export const AI4I_ROWS = parseAi4iCsv(DATASET_FILE.toString("utf8"), "ai4i2020-train.csv");

/** The marketplace's enums by name, as the ABI takes and returns them (the SDK's lists, in the contract's order). */
export const Kind = enumValues(ListingKind);
export const ListingStatus = enumValues(ListingStatusNames);
export const PurchaseStatus = enumValues(PurchaseStatusNames);

export const FEE_BPS = 250n;
export const MAX_FEE_BPS = 1_000n;
export const PRICE = 50_000_000n; // 50 tUSD (6 decimals)
export const STREAM_PRICE = 5_000_000n;
export const PERIOD = 30n * 86_400n;
export const DELIVERY_WINDOW = 86_400n;
export const BUYER_FUNDS = 1_000_000_000n;
export const MAX_UINT64 = 2n ** 64n - 1n;
export const CONTENT_HASH = keccak256(DATASET_FILE);
export const TERMS_HASH = id("triad licence terms v1: research use, no redistribution");
export const METADATA_URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
/** How many AI4I rows the fixture's anchored batch holds. */
export const BATCH_ROWS = 32;
export const BATCH_START = 1_700_000_000n;
export const BPS = 10_000n;
export const MAX_DELIVERY_WINDOW = 30n * 86_400n;
/** A stand-in for a delivered key: the contract only records bytes (the SDK round trip uses real ECIES). */
export const ENCRYPTED_KEY = "0x" + "ab".repeat(129);
/** The marketplace fee on `amount` at `bps` (rounded down, in the seller's favour). */
export const feeOf = (amount: bigint, bps: bigint = FEE_BPS) => (amount * bps) / BPS;

/** Sets the next block's timestamp `offset` seconds after the latest block's, and returns it. */
export async function nextTimestamp(offset = 10n): Promise<bigint> {
  const t = BigInt(await time.latest()) + offset;
  await time.setNextBlockTimestamp(t);
  return t;
}

/** Deterministic device and encryption keys, so failures are reproducible. */
const deviceKey = (n: number) => new Wallet(id(`triad/test/market/device-${n}`));
export const BUYER_ENC_KEY = id("triad/test/market/buyer-encryption-key");
export const BUYER_PUBLIC_KEY = encryptionPublicKey(BUYER_ENC_KEY);
export const BUYER_PUBLIC_KEY_UNCOMPRESSED = encryptionPublicKey(BUYER_ENC_KEY, false);

/** Registers `key`'s device to `owner` through the SDK action (the device signs the binding). */
async function registerDevice(registry: DeviceRegistry, key: Wallet, owner: HardhatEthersSigner): Promise<string> {
  const { device } = await registerDeviceAction(registry.connect(owner), {
    deviceKey: key,
    model: "ai4i-mill-sim",
    metadataURI: `ipfs://triad-devices/${key.address}`,
  });
  return device;
}

async function anchorRows(
  registry: DeviceRegistry,
  domain: TypedDataDomain,
  key: Wallet,
  owner: HardhatEthersSigner,
  rows: typeof AI4I_ROWS,
  startSeq: bigint,
): Promise<PreparedBatch> {
  const readings = await signAi4iRows({ deviceKey: key, domain, rows, startSeq, startTimestamp: BATCH_START });
  const batch = prepareReadingBatch(domain, readings);
  await registry.connect(owner).anchorBatch(key.address, batch.root, startSeq, startSeq + BigInt(rows.length) - 1n, "ipfs://batch");
  return batch;
}

/**
 * DeviceRegistry + TestToken + DataMarketplace (fee 2.5 %, cap 10 %). The seller owns devices 1 and 2 (device 1 has
 * an anchored batch of the first AI4I rows); `other` owns device 3 (with its own batch). Both buyers hold funds
 * and have approved the marketplace.
 */
export async function deployMarketFixture() {
  const [admin, seller, buyer, buyer2, agent, treasury, other] = await ethers.getSigners();
  const registry = await ethers.deployContract("DeviceRegistry", [admin.address]);
  const token = await ethers.deployContract("TestToken", [admin.address]);
  const market = await ethers.deployContract("DataMarketplace", [
    await registry.getAddress(),
    await token.getAddress(),
    admin.address,
    treasury.address,
    FEE_BPS,
    MAX_FEE_BPS,
  ]);
  const { chainId } = await ethers.provider.getNetwork();
  const domain = deviceRegistryDomain(chainId, await registry.getAddress());

  const keys = [deviceKey(1), deviceKey(2), deviceKey(3)];
  const device1 = await registerDevice(registry, keys[0], seller);
  const device2 = await registerDevice(registry, keys[1], seller);
  const device3 = await registerDevice(registry, keys[2], other);
  const batch = await anchorRows(registry, domain, keys[0], seller, AI4I_ROWS.slice(0, BATCH_ROWS), 1n);
  const otherBatch = await anchorRows(registry, domain, keys[2], other, AI4I_ROWS.slice(BATCH_ROWS, BATCH_ROWS + 4), 1n);

  for (const b of [buyer, buyer2]) {
    await token.connect(admin).mint(b.address, BUYER_FUNDS);
    await token.connect(b).approve(await market.getAddress(), ethers.MaxUint256);
  }
  return {
    registry,
    token,
    market,
    domain,
    keys,
    devices: { device1, device2, device3 },
    batch,
    otherBatch,
    signers: { admin, seller, buyer, buyer2, agent, treasury, other },
  };
}

/**
 * `createListing`'s parameter struct (TypeChain's `IDataMarketplace.ListingParamsStruct` of the DataMarketplace
 * bindings, which the `@triad/contracts` entry does not re-export under that name).
 */
export type ListingParams = Exclude<Parameters<DataMarketplace["createListing"]>[0], Typed>;

/** A dataset listing's parameters (devices 1 and 2, the device-1 batch); override any field. */
export function datasetParams(
  devices: { device1: string; device2: string },
  anchors: string[],
  overrides: Partial<ListingParams> = {},
): ListingParams {
  return {
    kind: Kind.Dataset,
    price: PRICE,
    period: 0n,
    deliveryWindow: DELIVERY_WINDOW,
    contentHash: CONTENT_HASH,
    termsHash: TERMS_HASH,
    metadataURI: METADATA_URI,
    devices: [devices.device1, devices.device2],
    anchors,
    ...overrides,
  };
}

/** {@link deployMarketFixture} plus listing 1 (Dataset, devices 1+2, batch attached) and 2 (Stream, device 1). */
export async function listedFixture() {
  const base = await deployMarketFixture();
  const { market, devices, batch, signers } = base;
  await market.connect(signers.seller).createListing(datasetParams(devices, [batch.root]));
  await market.connect(signers.seller).createListing(
    datasetParams(devices, [], {
      kind: Kind.Stream,
      price: STREAM_PRICE,
      period: PERIOD,
      devices: [devices.device1],
      contentHash: id("stream manifest: ai4i-2020/v1 every 60 s"),
    }),
  );
  return { ...base, datasetId: 1n, streamId: 2n };
}

/** {@link listedFixture} plus purchase 1 (buyer, dataset) and purchase 2 (buyer, stream), both pending. */
export async function purchasedFixture() {
  const base = await listedFixture();
  const { market, signers } = base;
  await market.connect(signers.buyer).purchase(base.datasetId, PRICE, BUYER_PUBLIC_KEY);
  await market.connect(signers.buyer).purchase(base.streamId, STREAM_PRICE, BUYER_PUBLIC_KEY);
  const dataset = await market.getPurchase(1n);
  return { ...base, datasetPurchase: 1n, streamPurchase: 2n, datasetDeliverBy: dataset.deliverBy };
}
