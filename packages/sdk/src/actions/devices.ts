import type { ContractTransactionReceipt, Signer, TypedDataDomain } from "ethers";
import type { DeviceRegistry } from "@triad/contracts";
import { AI4I_SCHEMA } from "../ai4i.ts";
import { prepareRegistration, type DeviceKey, type DeviceMetadata } from "../devices.ts";
import { deviceRegistryDomain, type SignedReading } from "../eip712.ts";
import { TriadError } from "../errors.ts";
import { prepareFleetBatch, type PreparedFleetBatch } from "../market.ts";
import { buildReadingTree, type ReadingTree } from "../merkle.ts";
import { readingDigest } from "../signing.ts";

/**
 * Device actions shared by the tasks, the demo and dApps: each takes the contract it acts on and its parameters,
 * and returns what a caller needs next together with the mined receipt (for gas figures).
 */

export interface RegisterDeviceParams {
  /** The device's own key: it signs the binding. */
  deviceKey: DeviceKey;
  metadataURI?: string;
  sensorSchema?: string;
  model?: string;
  firmware?: string;
  /** Seconds the binding stays valid (default one hour). */
  validForSeconds?: number;
}

export interface RegisterDeviceResult {
  device: string;
  metadata: DeviceMetadata;
  receipt: ContractTransactionReceipt;
}

/** Registers `deviceKey`'s address to the registry's runner (the owner), with a fresh device-signed binding. */
export async function registerDevice(registry: DeviceRegistry, params: RegisterDeviceParams): Promise<RegisterDeviceResult> {
  const owner = registry.runner as Signer | null;
  if (!owner || typeof owner.getAddress !== "function") {
    throw new TriadError("registerDevice needs the registry connected to the owner's signer", "NO_SIGNER");
  }
  const [ownerAddress, network, registryAddress, latest] = await Promise.all([
    owner.getAddress(),
    owner.provider!.getNetwork(),
    registry.getAddress(),
    owner.provider!.getBlock("latest"),
  ]);
  const device = await params.deviceKey.getAddress();
  const metadata: DeviceMetadata = {
    schema: "triad.device/v1",
    sensorSchema: params.sensorSchema ?? AI4I_SCHEMA,
    model: params.model ?? "generic-ai4i-machine",
    firmware: params.firmware ?? "1.0.0",
  };
  const registration = await prepareRegistration({
    deviceKey: params.deviceKey,
    owner: ownerAddress,
    domain: deviceRegistryDomain(network.chainId, registryAddress),
    metadata,
    metadataURI: params.metadataURI ?? `triad://devices/${device}`,
    nonce: await registry.nonces(device),
    deadline: BigInt(latest!.timestamp) + BigInt(params.validForSeconds ?? 3600),
  });
  const tx = await registry.register(
    registration.device,
    registration.sensorSchema,
    registration.metadataHash,
    registration.metadataURI,
    registration.deadline,
    registration.signature,
  );
  return { device, metadata, receipt: (await tx.wait())! };
}

export interface AnchorResult {
  root: string;
  tree: ReadingTree;
  fromSeq: bigint;
  toSeq: bigint;
  receipt: ContractTransactionReceipt;
}

/**
 * Anchors signed readings of one device as one batch (caller: the owner or one of its gateways).
 * The readings must be of one device with strictly increasing `seq`.
 */
export async function anchorReadings(
  registry: DeviceRegistry,
  params: { domain: TypedDataDomain; readings: readonly SignedReading[]; uri: string },
): Promise<AnchorResult> {
  const { readings } = params;
  if (readings.length === 0) throw new TriadError("nothing to anchor: no readings", "EMPTY_BATCH");
  const device = readings[0].device;
  for (let i = 1; i < readings.length; i++) {
    if (readings[i].device !== device) {
      throw new TriadError(`reading ${i} is of device ${readings[i].device}, not ${device}`, "MIXED_DEVICES");
    }
    if (readings[i].seq <= readings[i - 1].seq) {
      throw new TriadError(`reading seq must increase: ${readings[i - 1].seq} then ${readings[i].seq}`, "SEQ_ORDER");
    }
  }
  const tree = buildReadingTree(readings.map((r) => readingDigest(params.domain, r)));
  const fromSeq = readings[0].seq;
  const toSeq = readings[readings.length - 1].seq;
  const tx = await registry.anchorBatch(device, tree.root, fromSeq, toSeq, params.uri);
  return { root: tree.root, tree, fromSeq, toSeq, receipt: (await tx.wait())! };
}

export interface AnchorFleetParams {
  /** Signed readings of any number of devices (each (device, seq) at most once). */
  readings: readonly SignedReading[];
  /**
   * Where the readings (and their proofs) can be fetched, emitted in `FleetAnchored`; a function receives the root,
   * for URIs that name it (`triad-gw://<gateway>/anchors/<root>`).
   */
  uri: string | ((root: string) => string);
  /** The registry's EIP-712 domain; read from the registry and its provider when omitted. */
  domain?: TypedDataDomain;
}

export interface AnchorFleetResult extends PreparedFleetBatch {
  /** The anchoring account (the registry's runner): the namespace of the root. */
  gateway: string;
  /** The URI emitted. */
  uri: string;
  receipt: ContractTransactionReceipt;
}

/**
 * Anchors signed readings of many devices as one fleet root in the caller's namespace (`anchorFleet`): one
 * transaction and one storage slot whatever the number of readings. The caller is usually a gateway the devices'
 * owners authorised; the registry counts a reading only if that was so when the anchor was mined
 * (`verifyFleetReading`). Returns the tree, each reading with its proof, and the receipt.
 */
export async function anchorFleet(registry: DeviceRegistry, params: AnchorFleetParams): Promise<AnchorFleetResult> {
  const runner = registry.runner as Signer | null;
  if (!runner || typeof runner.getAddress !== "function") {
    throw new TriadError("anchorFleet needs the registry connected to the gateway's signer", "NO_SIGNER");
  }
  const domain = params.domain ?? deviceRegistryDomain((await runner.provider!.getNetwork()).chainId, await registry.getAddress());
  const batch = prepareFleetBatch(domain, params.readings);
  const gateway = await runner.getAddress();
  const uri = typeof params.uri === "function" ? params.uri(batch.root) : params.uri;
  const tx = await registry.anchorFleet(batch.root, batch.count, uri);
  return { ...batch, gateway, uri, receipt: (await tx.wait())! };
}
