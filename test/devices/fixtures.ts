import { readFileSync } from "node:fs";
import path from "node:path";
import { ethers, networkHelpers } from "@triad/devkit/network";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Wallet, id } from "ethers";
import {
  AI4I_SCHEMA,
  DeviceStatus,
  buildReadingTree,
  deviceRegistryDomain,
  enumValues,
  metadataHash,
  parseAi4iCsv,
  prepareRegistration,
  readingDigest,
  signAi4iRows,
  signDeviceBinding,
  type DeviceBinding,
  type DeviceMetadata,
  type Registration,
} from "@triad/sdk";

const { time } = networkHelpers;

/** How long test bindings stay valid after the latest block. */
export const BINDING_TTL = 3600n;

/** A plausible `ai4i-2020/v1` metadata document; override fields to make distinct ones. */
export function deviceMetadata(overrides: Partial<DeviceMetadata> = {}): DeviceMetadata {
  return { schema: "triad.device/v1", sensorSchema: AI4I_SCHEMA, model: "mill-sensor-x1", firmware: "1.0.0", ...overrides };
}

/**
 * A fresh DeviceRegistry administered by `admin`, two device owners, a gateway account, an unprivileged `stranger`,
 * three device keys that hold no ether and are not Hardhat accounts (devices only sign), the EIP-712 domain, and
 * `registerDevice`, which has the device key sign a binding to `owner` with the SDK and submits it as `owner`.
 * The device keys are fixed so that failures reproduce.
 */
export async function deployRegistryFixture() {
  const [admin, ownerA, ownerB, gateway, stranger] = await ethers.getSigners();
  const registry = await ethers.deployContract("DeviceRegistry", [admin.address]);
  const { chainId } = await ethers.provider.getNetwork();
  const domain = deviceRegistryDomain(chainId, await registry.getAddress());
  const devices = [1, 2, 3].map((i) => new Wallet(id(`triad/test/device/${i}`)));

  async function registerDevice(
    device: Wallet,
    owner: HardhatEthersSigner,
    options: { metadata?: DeviceMetadata; metadataURI?: string; deadline?: bigint } = {},
  ): Promise<Registration> {
    const registration = await prepareRegistration({
      deviceKey: device,
      owner: owner.address,
      domain,
      metadata: options.metadata ?? deviceMetadata(),
      metadataURI: options.metadataURI ?? `ipfs://metadata/${device.address}`,
      nonce: await registry.nonces(device.address),
      deadline: options.deadline ?? BigInt(await time.latest()) + BINDING_TTL,
    });
    const { sensorSchema, metadataHash, metadataURI, deadline, signature } = registration;
    await (await registry.connect(owner).register(device.address, sensorSchema, metadataHash, metadataURI, deadline, signature)).wait();
    return registration;
  }

  return {
    registry,
    admin,
    owners: [ownerA, ownerB] as const,
    gateway,
    stranger,
    devices,
    chainId,
    domain,
    registerDevice,
  };
}

/** {@link deployRegistryFixture} with `devices[0]` registered (Active) to `owners[0]`. */
export async function registeredDeviceFixture() {
  const fixture = await deployRegistryFixture();
  const device = fixture.devices[0];
  const registration = await fixture.registerDevice(device, fixture.owners[0]);
  return { ...fixture, device, owner: fixture.owners[0], registration };
}

/** IDeviceRegistry.DeviceStatus by name, as the ABI returns it. */
export const Status = enumValues(DeviceStatus);
export const UINT64_MAX = 2n ** 64n - 1n;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** The first 16 rows of the AI4I training file (real readings for the signed batches). */
const CSV_FILE = path.resolve(import.meta.dirname, "../../data/ai4i2020/ai4i2020-train.csv");
export const AI4I_ROWS = parseAi4iCsv(readFileSync(CSV_FILE, "utf8"), CSV_FILE).slice(0, 16);

/** A binding for an update after registration: metadata v2 signed by the device with nonce 1. */
export async function updateBinding(device: Wallet, owner: string, domain: ReturnType<typeof deviceRegistryDomain>, nonce: bigint) {
  const meta = deviceMetadata({ firmware: `2.0.${nonce}` });
  const binding: DeviceBinding = {
    device: device.address,
    owner,
    metadataHash: metadataHash(meta),
    nonce,
    deadline: BigInt(await time.latest()) + BINDING_TTL,
  };
  return { binding, uri: `ipfs://metadata/v${nonce}`, signature: await signDeviceBinding(device, domain, binding) };
}

/** `registeredDeviceFixture` plus a batch of 7 real AI4I readings (seq 0..6) signed by the device, not yet anchored. */
export async function signedBatchFixture() {
  const fixture = await registeredDeviceFixture();
  const readings = await signAi4iRows({
    deviceKey: fixture.device,
    domain: fixture.domain,
    rows: AI4I_ROWS.slice(0, 7),
    startSeq: 0n,
    startTimestamp: 1_700_000_000n,
  });
  const digests = readings.map((r) => readingDigest(fixture.domain, r));
  const tree = buildReadingTree(digests);
  return { ...fixture, readings, digests, tree };
}

/** Two registries on the same chain: a binding for one must not work on the other. */
export async function twoRegistriesFixture() {
  const fixture = await deployRegistryFixture();
  const otherRegistry = await ethers.deployContract("DeviceRegistry", [fixture.admin.address]);
  const otherDomain = deviceRegistryDomain(fixture.chainId, await otherRegistry.getAddress());
  return { ...fixture, otherRegistry, otherDomain };
}
