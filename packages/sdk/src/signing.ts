import { TypedDataEncoder, verifyTypedData, type Signer, type TypedDataDomain } from "ethers";
import { recoverSigner } from "./recover.ts";
import {
  DEVICE_BINDING_TYPES,
  READING_TYPES,
  VERDICT_TYPES,
  type DeviceBinding,
  type Reading,
  type SignedReading,
  type Verdict,
} from "./eip712.ts";

/** Anything that can sign EIP-712 data: an ethers Wallet, a HardhatEthersSigner, a JsonRpcSigner. */
export type TypedDataSigner = Pick<Signer, "signTypedData">;

// ------------------------------------------------------------------ DeviceBinding

export function deviceBindingDigest(domain: TypedDataDomain, binding: DeviceBinding): string {
  return TypedDataEncoder.hash(domain, DEVICE_BINDING_TYPES, binding);
}

/** The device key signs that `owner` may register it with `metadataHash` (docs/protocol.md §3–4). */
export function signDeviceBinding(device: TypedDataSigner, domain: TypedDataDomain, binding: DeviceBinding): Promise<string> {
  return device.signTypedData(domain, DEVICE_BINDING_TYPES, binding);
}

export function recoverDeviceBinding(domain: TypedDataDomain, binding: DeviceBinding, signature: string): string {
  return verifyTypedData(domain, DEVICE_BINDING_TYPES, binding, signature);
}

// ------------------------------------------------------------------ Reading

/** The reading's EIP-712 digest: what the device signs and the leaf value of anchored Merkle trees. */
export function readingDigest(domain: TypedDataDomain, reading: Reading): string {
  return TypedDataEncoder.hash(domain, READING_TYPES, toReadingStruct(reading));
}

export async function signReading(device: TypedDataSigner, domain: TypedDataDomain, reading: Reading): Promise<SignedReading> {
  const signature = await device.signTypedData(domain, READING_TYPES, toReadingStruct(reading));
  return { ...reading, signature };
}

/** The address that signed `reading`; compare it with `reading.device`. Throws on a malformed signature. */
export function recoverReading(domain: TypedDataDomain, reading: SignedReading): string {
  return recoverSigner(readingDigest(domain, reading), reading.signature);
}

function toReadingStruct(r: Reading) {
  return { device: r.device, seq: r.seq, timestamp: r.timestamp, values: r.values };
}

// ------------------------------------------------------------------ Verdict

export function verdictDigest(domain: TypedDataDomain, verdict: Verdict): string {
  return TypedDataEncoder.hash(domain, VERDICT_TYPES, verdict);
}

/** A committee member signs a verdict; honest members running the same model on the same evidence sign the same digest. */
export function signVerdict(member: TypedDataSigner, domain: TypedDataDomain, verdict: Verdict): Promise<string> {
  return member.signTypedData(domain, VERDICT_TYPES, verdict);
}

export function recoverVerdict(domain: TypedDataDomain, verdict: Verdict, signature: string): string {
  return verifyTypedData(domain, VERDICT_TYPES, verdict, signature);
}
