import { id, keccak256, toUtf8Bytes, type Signer, type TypedDataDomain } from "ethers";
import { AI4I_SCHEMA, telemetryToValues, type Ai4iRow } from "./ai4i.ts";
import type { Reading, SignedReading } from "./eip712.ts";
import { signDeviceBinding, signReading, type TypedDataSigner } from "./signing.ts";

/** The on-chain sensor schema id: keccak256 of the schema string (for example "ai4i-2020/v1"). */
export function sensorSchemaId(schema: string = AI4I_SCHEMA): string {
  return id(schema);
}

/** The metadata document a device signs at registration (its hash is what the binding covers). */
export interface DeviceMetadata {
  schema: "triad.device/v1";
  sensorSchema: string;
  model: string;
  firmware: string;
}

/** keccak256 of the canonical JSON of the metadata (keys in the order of {@link DeviceMetadata}). */
export function metadataHash(metadata: DeviceMetadata): string {
  const canonical = JSON.stringify({
    schema: metadata.schema,
    sensorSchema: metadata.sensorSchema,
    model: metadata.model,
    firmware: metadata.firmware,
  });
  return keccak256(toUtf8Bytes(canonical));
}

/** A device's own key: anything that can sign EIP-712 data and tell its address (an ethers Wallet, an HSM signer). */
export type DeviceKey = TypedDataSigner & Pick<Signer, "getAddress">;

/** Everything `DeviceRegistry.register` needs, signed by the device key. */
export interface Registration {
  device: string;
  sensorSchema: string;
  metadataHash: string;
  metadataURI: string;
  deadline: bigint;
  signature: string;
}

/**
 * The device key signs a binding to `owner`; the result is passed as-is to `DeviceRegistry.register`
 * (called by `owner`). `nonce` is `registry.nonces(device)` (0 for a new device).
 */
export async function prepareRegistration(args: {
  deviceKey: DeviceKey;
  owner: string;
  domain: TypedDataDomain;
  metadata: DeviceMetadata;
  metadataURI: string;
  nonce?: bigint;
  deadline: bigint;
}): Promise<Registration> {
  const device = await args.deviceKey.getAddress();
  const hash = metadataHash(args.metadata);
  const signature = await signDeviceBinding(args.deviceKey, args.domain, {
    device,
    owner: args.owner,
    metadataHash: hash,
    nonce: args.nonce ?? 0n,
    deadline: args.deadline,
  });
  return {
    device,
    sensorSchema: sensorSchemaId(args.metadata.sensorSchema),
    metadataHash: hash,
    metadataURI: args.metadataURI,
    deadline: args.deadline,
    signature,
  };
}

/** Signs AI4I rows as consecutive readings of `device` (seq from `startSeq`, one per `intervalSeconds`). */
export async function signAi4iRows(args: {
  deviceKey: DeviceKey;
  domain: TypedDataDomain;
  rows: readonly Ai4iRow[];
  startSeq: bigint;
  startTimestamp: bigint;
  intervalSeconds?: bigint;
}): Promise<SignedReading[]> {
  const device = await args.deviceKey.getAddress();
  const step = args.intervalSeconds ?? 60n;
  const out: SignedReading[] = [];
  for (let i = 0; i < args.rows.length; i++) {
    const reading: Reading = {
      device,
      seq: args.startSeq + BigInt(i),
      timestamp: args.startTimestamp + step * BigInt(i),
      values: telemetryToValues(args.rows[i]),
    };
    out.push(await signReading(args.deviceKey, args.domain, reading));
  }
  return out;
}
