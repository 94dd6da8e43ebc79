import { SigningKey, concat, getAddress, getBytes, hexlify, recoverAddress } from "ethers";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

/**
 * Recovers the address that signed a 32-byte digest, and signs digests. By default with ethers' pure-JavaScript
 * secp256k1 (about 1.5 ms a recovery), which runs anywhere. In Node, `@triad/sdk/node` installs libsecp256k1 through
 * the `secp256k1` package's native binding when it loads (prebuilt for linux-x64, macOS arm64 and Windows x64: about
 * 0.05 ms a recovery). Either way the result is the same address, and a malformed signature throws.
 *
 * The oracle verifies every reading of every evidence bundle and the gateway every reading it receives, so this is
 * their hottest path: around the native recovery it works on bytes (noble's keccak, no hex round trips) and
 * checksums addresses through {@link checksumAddress}'s memo.
 */
export interface NativeSecp256k1 {
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}

let native: NativeSecp256k1 | undefined;

/** Installs a native secp256k1 implementation (done by `@triad/sdk/node` when the binding loads). */
export function useNativeSecp256k1(binding: NativeSecp256k1 | undefined): void {
  native = binding;
}

/** Whether the native libsecp256k1 binding is in use (reported by the oracle at start). */
export function nativeRecovery(): boolean {
  return native !== undefined;
}

/** Most addresses {@link checksumAddress} (and signers {@link recoverSigner}) remember; past it the oldest is forgotten (a few MB at most). */
const CHECKSUM_MEMO_SIZE = 20_000;
const checksums = new Map<string, string>();

/**
 * ethers' `getAddress` with a memo: the EIP-55 checksummed form of `address` (lower case, upper case or checksummed),
 * throwing ethers' error for anything else (a mixed-case address with a wrong checksum included; failures are not
 * remembered). Checksumming costs a keccak256 of the address, and a gateway or an oracle checksums the same few
 * thousand device addresses for every reading, so a repeat is a map lookup.
 */
export function checksumAddress(address: string): string {
  let checksummed = checksums.get(address);
  if (checksummed === undefined) {
    checksummed = getAddress(address);
    if (checksums.size >= CHECKSUM_MEMO_SIZE) checksums.delete(checksums.keys().next().value!);
    checksums.set(address, checksummed);
  }
  return checksummed;
}

/**
 * Signers' addresses by uncompressed public key (hex): a device signs every reading with one key, so from its second
 * reading on the keccak256 that turns its public key into its address is a map lookup.
 */
const signers = new Map<string, string>();

/** `0x` hex of exactly `length` bytes, or undefined (the caller falls back to ethers for its exact error). */
function hexBytes(hex: string, length: number): Uint8Array | undefined {
  if (typeof hex !== "string" || hex.length !== 2 + 2 * length || hex[0] !== "0" || (hex[1] !== "x" && hex[1] !== "X")) return undefined;
  try {
    return hexToBytes(hex.slice(2));
  } catch {
    return undefined;
  }
}

export function recoverSigner(digest: string, signature: string): string {
  if (native) {
    const sig = hexBytes(signature, 65);
    const message = hexBytes(digest, 32);
    const v = sig ? sig[64] : -1;
    const recid = v >= 27 ? v - 27 : v;
    if (message && (recid === 0 || recid === 1)) {
      try {
        // The address is the last 20 bytes of keccak256 of the uncompressed public key without its 0x04 prefix.
        const publicKey = native.ecdsaRecover(sig!.subarray(0, 64), recid, message, false);
        const key = bytesToHex(publicKey);
        let signer = signers.get(key);
        if (signer === undefined) {
          signer = checksumAddress("0x" + bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12)));
          if (signers.size >= CHECKSUM_MEMO_SIZE) signers.delete(signers.keys().next().value!);
          signers.set(key, signer);
        }
        return signer;
      } catch {
        // Let ethers produce its exact error for the malformed signature below.
      }
    }
  }
  return recoverAddress(digest, signature);
}

/**
 * Signs a 32-byte digest with a private key and returns the 65-byte `r ‖ s ‖ v` signature (v = 27 + recovery id):
 * what ethers' `SigningKey.sign(digest).serialized` returns — both use RFC 6979 nonces and low `s`, so the bytes are
 * the same — through libsecp256k1 when the native binding loads (about 20× faster), else ethers. The oracle signs a
 * verdict digest per claim.
 */
export function signDigest(privateKey: string, digest: string): string {
  if (native) {
    const { signature, recid } = native.ecdsaSign(getBytes(digest), getBytes(privateKey));
    return hexlify(concat([signature, new Uint8Array([27 + recid])]));
  }
  return new SigningKey(privateKey).sign(digest).serialized;
}
