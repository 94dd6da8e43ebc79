import { expect } from "chai";
import { Signature, Wallet, getAddress, id, recoverAddress } from "ethers";
import { checksumAddress, deviceRegistryDomain, nativeRecovery, readingDigest, recoverSigner, signDigest } from "../src/node.ts";

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

  it("a key's repeat recoveries (remembered signer) stay exact, and other keys are not confused with it", function () {
    const wallets = Array.from({ length: 5 }, (_, i) => new Wallet(id(`recover-memo-${i}`)));
    for (let round = 0; round < 3; round++)
      for (const [i, wallet] of wallets.entries()) {
        const digest = id(`memo-${round}-${i}`);
        expect(recoverSigner(digest, signDigest(wallet.privateKey, digest))).to.equal(wallet.address);
        expect(recoverSigner(digest, signDigest(wallets[(i + 1) % 5].privateKey, digest))).to.equal(wallets[(i + 1) % 5].address);
      }
  });

  it("checksumAddress is ethers' getAddress, remembered; a bad checksum throws every time (failures are not remembered)", function () {
    const address = new Wallet(id("checksum")).address;
    for (const form of [address, address.toLowerCase(), "0x" + address.slice(2).toUpperCase()]) {
      expect(checksumAddress(form)).to.equal(getAddress(form));
      expect(checksumAddress(form)).to.equal(address);
    }
    // One letter's case flipped: still mixed case, so ethers checks the checksum, and it no longer matches.
    const at = [...address].findIndex((c, k) => k >= 2 && /[a-f]/.test(c));
    const broken = address.slice(0, at) + address[at].toUpperCase() + address.slice(at + 1);
    expect(/[a-f]/.test(broken.slice(2)) && /[A-F]/.test(broken.slice(2)), "a mixed-case address").to.equal(true);
    expect(() => getAddress(broken)).to.throw();
    expect(() => checksumAddress(broken)).to.throw();
    expect(() => checksumAddress(broken)).to.throw();
    expect(() => checksumAddress("0x1234")).to.throw();
    // readingDigest remembers address bytes the same way: a bad checksum is refused on every call
    const domain = deviceRegistryDomain(1n, address);
    const reading = { device: address, seq: 1n, timestamp: 2n, values: [3n] };
    expect(readingDigest(domain, { ...reading, device: address.toLowerCase() })).to.equal(readingDigest(domain, reading));
    expect(() => readingDigest(domain, { ...reading, device: broken })).to.throw();
    expect(() => readingDigest(domain, { ...reading, device: broken })).to.throw();
  });

  it("uses the native binding on this platform (linux-x64 prebuild)", function () {
    // The figure in docs/figures.md assumes it; on platforms without a prebuild the fallback is still correct.
    if (process.platform === "linux" && process.arch === "x64") expect(nativeRecovery()).to.equal(true);
  });
});
