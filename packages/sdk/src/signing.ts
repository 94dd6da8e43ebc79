import { TypedDataEncoder, getBytes, id, verifyTypedData, type Signer, type TypedDataDomain } from "ethers";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { InvalidInputError } from "./errors.ts";
import { checksumAddress, recoverSigner } from "./recover.ts";
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

/**
 * The reading's EIP-712 digest: what the device signs and the leaf value of anchored Merkle trees. It is the hot path
 * of the gateway and the oracle (one per reading), so it encodes the one fixed struct directly on bytes — noble's
 * keccak, integers written with a DataView, the device's address bytes and the domain separator remembered — instead
 * of through ethers' generic `TypedDataEncoder` (which rebuilds the encoder and re-hashes the domain on every call); a
 * test checks it against `TypedDataEncoder.hash` and the contract's `readingDigest`.
 */
export function readingDigest(domain: TypedDataDomain, reading: Reading): string {
  const data = new Uint8Array(32 * 5);
  const dataView = new DataView(data.buffer);
  data.set(READING_TYPEHASH, 0);
  data.set(addressBytes(reading.device), 32 + 12);
  dataView.setBigUint64(64 + 24, uint64(reading.seq, "seq"));
  dataView.setBigUint64(96 + 24, uint64(reading.timestamp, "timestamp"));
  const values = reading.values;
  const packed = new Uint8Array(32 * values.length);
  const packedView = new DataView(packed.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = int64(values[i], `values[${i}]`);
    if (v < 0n) packed.fill(0xff, 32 * i, 32 * i + 24); // abi.encode sign-extends an int64 to 256 bits
    packedView.setBigInt64(32 * i + 24, v);
  }
  data.set(keccak_256(packed), 128);
  const digestInput = new Uint8Array(66);
  digestInput[0] = 0x19;
  digestInput[1] = 0x01;
  digestInput.set(domainSeparator(domain), 2);
  digestInput.set(keccak_256(data), 34);
  return "0x" + bytesToHex(keccak_256(digestInput));
}

const READING_TYPEHASH = getBytes(id("Reading(address device,uint64 seq,uint64 timestamp,int64[] values)"));
const UINT64_LIMIT = 1n << 64n;
const INT64_MIN = -(1n << 63n);
const INT64_LIMIT = 1n << 63n;

/** Domain separators by domain: a deployment has one registry domain, so this stays tiny. */
const domainSeparators = new Map<string, Uint8Array>();

function domainSeparator(domain: TypedDataDomain): Uint8Array {
  const key = `${domain.name}|${domain.version}|${domain.chainId}|${domain.verifyingContract}|${domain.salt ?? ""}`;
  let separator = domainSeparators.get(key);
  if (!separator) {
    separator = getBytes(TypedDataEncoder.hashDomain(domain));
    if (domainSeparators.size >= 64) domainSeparators.clear();
    domainSeparators.set(key, separator);
  }
  return separator;
}

/** The 20 bytes of a device address (validated by {@link checksumAddress}, whose memo makes a repeat cheap). */
const addressBytesMemo = new Map<string, Uint8Array>();

function addressBytes(address: string): Uint8Array {
  let bytes = addressBytesMemo.get(address);
  if (!bytes) {
    bytes = getBytes(checksumAddress(address));
    if (addressBytesMemo.size >= 20_000) addressBytesMemo.delete(addressBytesMemo.keys().next().value!);
    addressBytesMemo.set(address, bytes);
  }
  return bytes;
}

function uint64(value: bigint, name: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value >= UINT64_LIMIT) {
    throw new InvalidInputError(`reading ${name} must be a uint64, got ${String(value)}`, { field: name });
  }
  return value;
}

function int64(value: bigint, name: string): bigint {
  if (typeof value !== "bigint" || value < INT64_MIN || value >= INT64_LIMIT) {
    throw new InvalidInputError(`reading ${name} must be an int64, got ${String(value)}`, { field: name });
  }
  return value;
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
