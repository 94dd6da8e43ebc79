import { TypedDataEncoder, getAddress, getBytes, id, keccak256, verifyTypedData, type Signer, type TypedDataDomain } from "ethers";
import { InvalidInputError } from "./errors.ts";
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

/**
 * The reading's EIP-712 digest: what the device signs and the leaf value of anchored Merkle trees. It is the hot path
 * of the gateway and the oracle (one per reading), so it encodes the one fixed struct directly instead of through
 * ethers' generic `TypedDataEncoder` (which rebuilds the encoder and re-hashes the domain on every call); a test
 * checks it against `TypedDataEncoder.hash` and the contract's `readingDigest`.
 */
export function readingDigest(domain: TypedDataDomain, reading: Reading): string {
  const values = reading.values;
  const data = new Uint8Array(32 * 5);
  data.set(READING_TYPEHASH, 0);
  data.set(getBytes(getAddress(reading.device)), 32 + 12);
  writeWord(data, 64, uintWord(reading.seq, 64, "seq"));
  writeWord(data, 96, uintWord(reading.timestamp, 64, "timestamp"));
  const packed = new Uint8Array(32 * values.length);
  for (let i = 0; i < values.length; i++) writeWord(packed, 32 * i, intWord(values[i], `values[${i}]`));
  data.set(getBytes(keccak256(packed)), 128);
  const digestInput = new Uint8Array(66);
  digestInput[0] = 0x19;
  digestInput[1] = 0x01;
  digestInput.set(domainSeparator(domain), 2);
  digestInput.set(getBytes(keccak256(data)), 34);
  return keccak256(digestInput);
}

const READING_TYPEHASH = getBytes(id("Reading(address device,uint64 seq,uint64 timestamp,int64[] values)"));
const TWO_256 = 1n << 256n;

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

function uintWord(value: bigint, bits: number, name: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value >= 1n << BigInt(bits)) {
    throw new InvalidInputError(`reading ${name} must be a uint${bits}, got ${String(value)}`, { field: name });
  }
  return value;
}

function intWord(value: bigint, name: string): bigint {
  if (typeof value !== "bigint" || value < -(2n ** 63n) || value >= 2n ** 63n) {
    throw new InvalidInputError(`reading ${name} must be an int64, got ${String(value)}`, { field: name });
  }
  return value < 0n ? TWO_256 + value : value; // two's complement in 256 bits, as abi.encode sign-extends
}

function writeWord(target: Uint8Array, offset: number, word: bigint): void {
  let w = word;
  for (let i = 31; i >= 0; i--) {
    target[offset + i] = Number(w & 0xffn);
    w >>= 8n;
  }
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
