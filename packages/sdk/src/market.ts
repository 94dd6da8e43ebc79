import { gcm } from "@noble/ciphers/aes.js";
import { SigningKey, getBytes, hexlify, keccak256, type BytesLike, type TypedDataDomain } from "ethers";
import { ECIES_CONFIG, PublicKey, decrypt as eciesDecrypt, encrypt as eciesEncrypt } from "eciesjs";
import type { SignedReading } from "./eip712.ts";
import { InvalidInputError, TriadError } from "./errors.ts";
import {
  buildReadingTree,
  buildReadingTreeFast,
  readingProof,
  verifyReadingProof,
  type FastReadingTree,
  type ReadingTree,
} from "./merkle.ts";
import { readingDigest, recoverReading } from "./signing.ts";

/**
 * Data marketplace client side (docs/market.md): the content key, its delivery encrypted to the buyer's key, the
 * encrypted file format, the content hash and the verification of anchored readings.
 *
 * - Content key: 32 random bytes, the AES-256-GCM key of the listed file.
 * - Key delivery: `DataMarketplace.deliver(purchaseId, encryptedKey)` where `encryptedKey` is eciesjs's secp256k1
 *   ECIES with its default configuration: `ephemeral public key (65 bytes, uncompressed) || nonce (16) ||
 *   tag (16) || encrypted content key (32)` = 129 bytes; AES-256-GCM under HKDF-SHA256(ephemeral key || shared
 *   point), both uncompressed. Compatible with eciespy and the other ecies/* implementations.
 * - Encrypted file: `"TRD1" (4 bytes) || IV (12 bytes) || AES-256-GCM ciphertext (length of the plaintext) ||
 *   tag (16 bytes)`, key = the content key, additional authenticated data = the 4-byte header.
 * - Content hash (`Listing.contentHash`): keccak256 of the exact plaintext file bytes.
 */

/** Length of a content key in bytes (AES-256). */
export const CONTENT_KEY_BYTES = 32;

/** Length of a delivered key: 65 (ephemeral key) + 16 (nonce) + 16 (tag) + 32 (content key). */
export const ENCRYPTED_KEY_BYTES = 129;

/** First 4 bytes of an encrypted file ("TRD1"): names the format and is authenticated as AAD. */
export const ENCRYPTED_FILE_MAGIC: Uint8Array = new TextEncoder().encode("TRD1");

const FILE_IV_BYTES = 12;
const FILE_TAG_BYTES = 16;
const FILE_OVERHEAD = ENCRYPTED_FILE_MAGIC.length + FILE_IV_BYTES + FILE_TAG_BYTES;

// ------------------------------------------------------------------ keys

/** A fresh random content key. */
export function generateContentKey(): Uint8Array {
  return randomBytes(CONTENT_KEY_BYTES);
}

/** Cryptographically secure random bytes from WebCrypto (browsers and Node alike). */
function randomBytes(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  return data.length >= prefix.length && prefix.every((b, i) => data[i] === b);
}

/**
 * The secp256k1 public key (hex, 33 bytes compressed by default, or 65 uncompressed) that a buyer passes to
 * `purchase` for `privateKey`. Use a dedicated encryption key, not a wallet key: whoever holds it reads the content.
 */
export function encryptionPublicKey(privateKey: BytesLike, compressed = true): string {
  const secret = toBytes(privateKey, "private key");
  if (secret.length !== 32) {
    throw new InvalidInputError(`an encryption private key is 32 bytes, got ${secret.length}`, { length: secret.length });
  }
  try {
    return SigningKey.computePublicKey(secret, compressed);
  } catch (cause) {
    throw new InvalidInputError("the private key is not a valid secp256k1 key", {}, { cause });
  }
}

/**
 * Checks a buyer's public key the way the contract does (33 bytes starting 0x02/0x03, or 65 starting 0x04) and,
 * beyond the contract, that it is a point on the curve. Returns its bytes.
 */
export function parseEncryptionPublicKey(publicKey: BytesLike): Uint8Array {
  const bytes = toBytes(publicKey, "public key");
  const prefix = bytes[0];
  const shapeOk = (bytes.length === 33 && (prefix === 0x02 || prefix === 0x03)) || (bytes.length === 65 && prefix === 0x04);
  if (!shapeOk) {
    throw new InvalidInputError(
      `a buyer public key is 33 bytes starting 02/03 or 65 bytes starting 04, got ${bytes.length} bytes starting ${hexByte(prefix)}`,
      { length: bytes.length, prefix: hexByte(prefix) },
    );
  }
  try {
    new PublicKey(bytes);
  } catch (cause) {
    throw new InvalidInputError("the buyer public key is not a point on secp256k1", { publicKey: hexlify(bytes) }, { cause });
  }
  return bytes;
}

/** Encrypts `contentKey` to the buyer's public key: the `encryptedKey` argument of `DataMarketplace.deliver` (hex). */
export function encryptContentKey(buyerPublicKey: BytesLike, contentKey: Uint8Array): string {
  requireEciesDefaults();
  requireContentKey(contentKey);
  return hexlify(eciesEncrypt(parseEncryptionPublicKey(buyerPublicKey), contentKey));
}

/**
 * Decrypts a delivered key (from the `KeyDelivered` event) with the buyer's private key. Throws a `TriadError` with
 * code `DECRYPTION_FAILED` when the ciphertext was not made for this key or was altered.
 */
export function decryptContentKey(buyerPrivateKey: BytesLike, encryptedKey: BytesLike): Uint8Array {
  requireEciesDefaults();
  const secret = toBytes(buyerPrivateKey, "private key");
  const ciphertext = toBytes(encryptedKey, "encrypted key");
  if (ciphertext.length !== ENCRYPTED_KEY_BYTES) {
    throw new InvalidInputError(`a delivered key is ${ENCRYPTED_KEY_BYTES} bytes, got ${ciphertext.length}`, {
      length: ciphertext.length,
    });
  }
  let key: Uint8Array;
  try {
    key = new Uint8Array(eciesDecrypt(secret, ciphertext));
  } catch (cause) {
    throw new TriadError("the delivered key does not decrypt with this private key", "DECRYPTION_FAILED", {}, { cause });
  }
  requireContentKey(key);
  return key;
}

// ------------------------------------------------------------------ files

/**
 * Encrypts a file with the content key (format in the module comment). AES-256-GCM comes from @noble/ciphers
 * (audited, pure JavaScript), so the same code runs in browsers and in Node.
 */
export function encryptFile(plaintext: Uint8Array, contentKey: Uint8Array): Uint8Array {
  requireContentKey(contentKey);
  const iv = randomBytes(FILE_IV_BYTES);
  // gcm's output is ciphertext || tag, the layout of the file's tail.
  return concatBytes(ENCRYPTED_FILE_MAGIC, iv, gcm(contentKey, iv, ENCRYPTED_FILE_MAGIC).encrypt(plaintext));
}

/**
 * Decrypts a file made by {@link encryptFile}. Throws `InvalidInputError` when it is not in the format and a
 * `TriadError` with code `DECRYPTION_FAILED` when the key is wrong or the file was altered.
 */
export function decryptFile(encrypted: Uint8Array, contentKey: Uint8Array): Uint8Array {
  requireContentKey(contentKey);
  const data = encrypted;
  if (data.length < FILE_OVERHEAD || !startsWith(data, ENCRYPTED_FILE_MAGIC)) {
    throw new InvalidInputError(`not an encrypted Triad file: it must start with "TRD1" and be at least ${FILE_OVERHEAD} bytes`, {
      length: data.length,
    });
  }
  const ivEnd = ENCRYPTED_FILE_MAGIC.length + FILE_IV_BYTES;
  const iv = data.subarray(ENCRYPTED_FILE_MAGIC.length, ivEnd);
  try {
    return gcm(contentKey, iv, ENCRYPTED_FILE_MAGIC).decrypt(data.subarray(ivEnd));
  } catch (cause) {
    throw new TriadError("the file does not decrypt with this content key (wrong key or altered file)", "DECRYPTION_FAILED", {}, { cause });
  }
}

/** The listing's `contentHash` of a file: keccak256 of its exact plaintext bytes. */
export function contentHash(plaintext: Uint8Array): string {
  return keccak256(plaintext);
}

/** Whether `plaintext` is the content a listing committed to. */
export function verifyContentHash(plaintext: Uint8Array, expected: string): boolean {
  return contentHash(plaintext).toLowerCase() === expected.toLowerCase();
}

/**
 * Everything a buyer does after delivery: decrypts the delivered key, decrypts the file with it and checks the
 * result against the listing's content hash. Throws a `TriadError` with code `CONTENT_HASH_MISMATCH` when the
 * decrypted file is not the listed content (the seller delivered the wrong key or file).
 */
export function openPurchasedFile(params: {
  buyerPrivateKey: BytesLike;
  encryptedKey: BytesLike;
  encryptedFile: Uint8Array;
  contentHash: string;
}): Uint8Array {
  const key = decryptContentKey(params.buyerPrivateKey, params.encryptedKey);
  const plaintext = decryptFile(params.encryptedFile, key);
  const actual = contentHash(plaintext);
  if (actual.toLowerCase() !== params.contentHash.toLowerCase()) {
    throw new TriadError("the decrypted file does not match the listing's content hash", "CONTENT_HASH_MISMATCH", {
      expected: params.contentHash,
      actual,
    });
  }
  return plaintext;
}

// ------------------------------------------------------------------ anchored readings

/** What {@link verifyAnchoredReadings} needs of the DeviceRegistry (a TypeChain `DeviceRegistry` fits). */
export interface AnchorReader {
  /** The anchor of `root` in `device`'s namespace (anchors are keyed by device and root). */
  anchorOf(device: string, root: string): Promise<{ device: string; anchoredAt: bigint }>;
  verifyReading(device: string, root: string, digest: string, proof: string[]): Promise<boolean>;
}

/** What {@link verifyAnchoredReadings} needs of the DataMarketplace (a TypeChain `DataMarketplace` fits). */
export interface ListingAnchorReader {
  listingHasAnchor(listingId: bigint, root: string): Promise<boolean>;
}

/** A signed reading with its proof in an anchored batch. */
export interface AnchoredReading {
  reading: SignedReading;
  proof: string[];
}

/** A batch ready to anchor: its tree, root (the `anchorBatch` argument) and each reading with its proof. */
export interface PreparedBatch {
  tree: ReadingTree;
  root: string;
  entries: AnchoredReading[];
}

/** Builds the Merkle tree of a batch of signed readings (leaf = EIP-712 digest) and each reading's proof. */
export function prepareReadingBatch(domain: TypedDataDomain, readings: readonly SignedReading[]): PreparedBatch {
  const digests = readings.map((r) => readingDigest(domain, r));
  const tree = buildReadingTree(digests);
  return {
    tree,
    root: tree.root,
    entries: readings.map((reading, i) => ({ reading, proof: readingProof(tree, digests[i]) })),
  };
}

/** Largest number of readings one fleet anchor may hold (`count` is a uint32 in `DeviceRegistry.anchorFleet`). */
export const MAX_FLEET_READINGS = 2 ** 32 - 1;

/** A fleet batch ready to anchor with `DeviceRegistry.anchorFleet`: readings of many devices under one root. */
export interface PreparedFleetBatch {
  /** The tree's root and each reading's proof, in input order. */
  tree: FastReadingTree;
  /** The `anchorFleet` root. */
  root: string;
  /** The `anchorFleet` count: the number of readings (leaves). */
  count: number;
  /** `entries[i]` is `readings[i]` with its proof. */
  entries: AnchoredReading[];
}

/**
 * Builds the fleet tree of signed readings of any number of devices (docs/protocol.md, fleet anchoring): the same
 * StandardMerkleTree as {@link prepareReadingBatch} (leaf = the reading's EIP-712 digest, which names the device),
 * computed with {@link buildReadingTreeFast} so a gateway can build a tree of tens of thousands of readings every
 * interval. Refuses an empty batch and two readings with the same (device, seq): a device signs one reading per seq.
 * Signatures are not checked here (the gateway verified them at ingest).
 */
export function prepareFleetBatch(domain: TypedDataDomain, readings: readonly SignedReading[]): PreparedFleetBatch {
  if (readings.length === 0) throw new TriadError("nothing to anchor: no readings", "EMPTY_BATCH");
  if (readings.length > MAX_FLEET_READINGS) {
    throw new InvalidInputError(`a fleet anchor holds at most ${MAX_FLEET_READINGS} readings, got ${readings.length}`);
  }
  const seen = new Set<string>();
  for (const [index, r] of readings.entries()) {
    const key = `${r.device.toLowerCase()}/${r.seq}`;
    if (seen.has(key)) {
      throw new TriadError(`reading ${index} repeats seq ${r.seq} of device ${r.device}`, "DUPLICATE_READING", {
        index,
        device: r.device,
        seq: r.seq,
      });
    }
    seen.add(key);
  }
  const tree = buildReadingTreeFast(readings.map((r) => readingDigest(domain, r)));
  return {
    tree,
    root: tree.root,
    count: readings.length,
    entries: readings.map((reading, i) => ({ reading, proof: tree.proofs[i] })),
  };
}

export interface VerifyAnchoredReadingsParams {
  /** The registry's EIP-712 domain (`deviceRegistryDomain(chainId, registry)`). */
  domain: TypedDataDomain;
  /** The device whose anchor is checked: every reading must be this device's, and `root` anchored by it. */
  device: string;
  /** The anchored batch root the readings claim to belong to. */
  root: string;
  readings: readonly AnchoredReading[];
  /** When given, the root must also be attached to this listing. */
  listing?: { marketplace: ListingAnchorReader; listingId: bigint };
  /** Also ask the registry's `verifyReading` for every proof (one call each); default true. */
  onChainProofs?: boolean;
}

/** One problem found; `index` is the reading's position, `null` for a problem of the batch itself. */
export interface ReadingFailure {
  index: number | null;
  reason: string;
}

export interface ReadingVerification {
  /** True when there are no failures. */
  valid: boolean;
  /** The registry's anchor of the root by `params.device` (`device` zero and `anchoredAt` 0 when not anchored). */
  anchor: { device: string; anchoredAt: bigint };
  failures: ReadingFailure[];
}

/**
 * Verifies readings against an anchored Merkle root: the root is anchored in the registry by `params.device` (a
 * root anchored by another device does not count: anchors are keyed by device and root) and attached to the
 * listing, when given; every reading is that device's and signed by its key; its EIP-712 digest is a leaf of the
 * root (off-chain with `verifyReadingProof`, and on-chain with the registry's `verifyReading` unless
 * `onChainProofs` is false). Reports every failure rather than stopping at the first.
 */
export async function verifyAnchoredReadings(registry: AnchorReader, params: VerifyAnchoredReadingsParams): Promise<ReadingVerification> {
  if (params.readings.length === 0) throw new InvalidInputError("no readings to verify", { root: params.root });
  const failures: ReadingFailure[] = [];
  const { device, anchoredAt } = await registry.anchorOf(params.device, params.root);
  const anchor = { device, anchoredAt };
  if (anchoredAt === 0n) {
    failures.push({ index: null, reason: `root ${params.root} is not anchored in the registry by device ${params.device}` });
  }
  if (params.listing && !(await params.listing.marketplace.listingHasAnchor(params.listing.listingId, params.root))) {
    failures.push({ index: null, reason: `root ${params.root} is not attached to listing ${params.listing.listingId}` });
  }
  const onChain = params.onChainProofs ?? true;
  for (const [index, { reading, proof }] of params.readings.entries()) {
    const fail = (reason: string) => failures.push({ index, reason: `reading seq ${reading.seq}: ${reason}` });
    if (reading.device.toLowerCase() !== params.device.toLowerCase()) {
      fail(`device ${reading.device} is not the anchor's device ${params.device}`);
    }
    let signer: string | undefined;
    try {
      signer = recoverReading(params.domain, reading);
    } catch {
      signer = undefined;
    }
    if (signer?.toLowerCase() !== reading.device.toLowerCase()) fail("signature is not the device's");
    const digest = readingDigest(params.domain, reading);
    if (!verifyReadingProof(params.root, digest, proof)) {
      fail("Merkle proof does not lead to the root");
    } else if (onChain && anchoredAt !== 0n && !(await registry.verifyReading(params.device, params.root, digest, [...proof]))) {
      fail("the registry's verifyReading rejects the proof");
    }
  }
  return { valid: failures.length === 0, anchor, failures };
}

// ------------------------------------------------------------------ internal

/**
 * eciesjs reads a process-wide mutable config; the delivery format above is its default. Refuse to run if anything
 * changed it, rather than produce ciphertexts other implementations cannot read.
 */
function requireEciesDefaults(): void {
  const c = ECIES_CONFIG;
  if (
    c.ellipticCurve !== "secp256k1" ||
    c.isEphemeralKeyCompressed ||
    c.isHkdfKeyCompressed ||
    c.symmetricAlgorithm !== "aes-256-gcm" ||
    c.symmetricNonceLength !== 16
  ) {
    throw new TriadError("eciesjs ECIES_CONFIG was changed from its defaults; key delivery needs the defaults", "ECIES_CONFIG", {
      config: { ...c },
    });
  }
}

function requireContentKey(key: Uint8Array): void {
  if (key.length !== CONTENT_KEY_BYTES) {
    throw new InvalidInputError(`a content key is ${CONTENT_KEY_BYTES} bytes, got ${key.length}`, { length: key.length });
  }
}

function toBytes(value: BytesLike, what: string): Uint8Array {
  try {
    return getBytes(value);
  } catch (cause) {
    throw new InvalidInputError(`${what} is not hex or bytes`, {}, { cause });
  }
}

function hexByte(b: number | undefined): string {
  return b === undefined ? "none" : `0x${b.toString(16).padStart(2, "0")}`;
}
