import { expect } from "chai";
import { Signature, Wallet, id, recoverAddress } from "ethers";
import { nativeRecovery, recoverSigner, signDigest } from "../src/node.ts";

describe("SDK recoverSigner (native libsecp256k1 with an ethers fallback)", function () {
  it("recovers the same address as ethers for many keys and digests", function () {
    for (let i = 0; i < 25; i++) {
      const wallet = new Wallet(id(`recover-test-key-${i}`));
      const digest = id(`digest-${i}`);
      const signature = wallet.signingKey.sign(digest).serialized;
      expect(recoverSigner(digest, signature)).to.equal(wallet.address);
      expect(recoverSigner(digest, signature)).to.equal(recoverAddress(digest, signature));
    }
  });

  it("accepts v as 27/28 and as 0/1, and a wrong digest recovers another address", function () {
    const wallet = new Wallet(id("recover-v"));
    const digest = id("v");
    const sig = wallet.signingKey.sign(digest);
    const raw = Signature.from(sig).serialized;
    const v01 = raw.slice(0, 130) + (sig.v - 27).toString(16).padStart(2, "0");
    expect(recoverSigner(digest, raw)).to.equal(wallet.address);
    expect(recoverSigner(digest, v01)).to.equal(wallet.address);
    expect(recoverSigner(id("other"), raw)).to.not.equal(wallet.address);
  });

  it("signDigest gives ethers' signature, byte for byte, and it recovers to the key's address", function () {
    for (let i = 0; i < 25; i++) {
      const wallet = new Wallet(id(`sign-test-key-${i}`));
      const digest = id(`sign-digest-${i}`);
      const signature = signDigest(wallet.privateKey, digest);
      expect(signature).to.equal(wallet.signingKey.sign(digest).serialized);
      expect(recoverAddress(digest, signature)).to.equal(wallet.address);
    }
  });

  it("throws on a malformed signature", function () {
    expect(() => recoverSigner(id("x"), "0x1234")).to.throw();
    expect(() => recoverSigner(id("x"), "0x" + "00".repeat(65))).to.throw();
  });

  it("uses the native binding on this platform (linux-x64 prebuild)", function () {
    // The figure in docs/figures.md assumes it; on platforms without a prebuild the fallback is still correct.
    if (process.platform === "linux" && process.arch === "x64") expect(nativeRecovery()).to.equal(true);
  });
});
