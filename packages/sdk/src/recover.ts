import { SigningKey, concat, getAddress, getBytes, hexlify, keccak256, recoverAddress } from "ethers";

/**
 * Recovers the address that signed a 32-byte digest, and signs digests. By default with ethers' pure-JavaScript
 * secp256k1 (about 1.5 ms a recovery), which runs anywhere. In Node, `@triad/sdk/node` installs libsecp256k1 through
 * the `secp256k1` package's native binding when it loads (prebuilt for linux-x64, macOS arm64 and Windows x64: about
 * 0.05 ms a recovery). Either way the result is the same address, and a malformed signature throws.
 *
 * The oracle verifies every reading of every evidence bundle, so this is its hottest path.
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

export function recoverSigner(digest: string, signature: string): string {
  if (native) {
    const sig = getBytes(signature);
    const v = sig.length === 65 ? sig[64] : -1;
    const recid = v >= 27 ? v - 27 : v;
    if (recid === 0 || recid === 1) {
      try {
        // The address is the last 20 bytes of keccak256 of the uncompressed public key without its 0x04 prefix.
        const publicKey = native.ecdsaRecover(sig.subarray(0, 64), recid, getBytes(digest), false);
        return getAddress("0x" + keccak256(publicKey.subarray(1)).slice(26));
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
