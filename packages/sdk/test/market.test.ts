import { expect } from "chai";
import { createDecipheriv, hkdfSync } from "node:crypto";
import { SigningKey, Wallet, getBytes, hexlify, id, keccak256, toUtf8Bytes } from "ethers";
import { ECIES_CONFIG, decrypt as eciesDecrypt } from "eciesjs";
import {
  CONTENT_KEY_BYTES,
  ENCRYPTED_FILE_MAGIC,
  ENCRYPTED_KEY_BYTES,
  InvalidInputError,
  buildReadingTree,
  contentHash,
  decryptContentKey,
  decryptFile,
  deviceRegistryDomain,
  encryptContentKey,
  encryptFile,
  encryptionPublicKey,
  openPurchasedFile,
  parseAi4iCsv,
  parseEncryptionPublicKey,
  prepareReadingBatch,
  readingDigest,
  signAi4iRows,
  verifyAnchoredReadings,
  verifyContentHash,
  verifyReadingProof,
  type AnchorReader,
} from "../src/index.ts";
import { expectTriadErrorSync } from "../src/testing.ts";

const BUYER_KEY = id("triad/test/sdk-market/buyer");
const OTHER_KEY = id("triad/test/sdk-market/other");
const CONTENT_KEY = getBytes(id("triad/test/sdk-market/content-key"));
const FILE = Buffer.from(
  "UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF\n" +
    "1,M14860,M,298.1,308.6,1551,42.8,0,0,0,0,0,0,0\n" +
    "3,L47182,L,298.1,308.5,1498,49.4,5,0,0,0,0,0,0\n",
);

describe("sdk/market", function () {
  describe("encryption keys", function () {
    it("derives the buyer's compressed or uncompressed secp256k1 public key", function () {
      const compressed = encryptionPublicKey(BUYER_KEY);
      const uncompressed = encryptionPublicKey(BUYER_KEY, false);
      expect(compressed).to.equal(new SigningKey(BUYER_KEY).compressedPublicKey);
      expect(uncompressed).to.equal(new SigningKey(BUYER_KEY).publicKey);
      expect(getBytes(compressed).length).to.equal(33);
      expect(["0x02", "0x03"]).to.include(compressed.slice(0, 4));
      expect(getBytes(uncompressed).length).to.equal(65);
      expect(uncompressed.slice(0, 4)).to.equal("0x04");
    });

    it("refuses private keys that are not 32 bytes, zero, or not hex", function () {
      expect(expectTriadErrorSync(() => encryptionPublicKey("0x" + "11".repeat(31)))).to.be.instanceOf(InvalidInputError);
      expect(expectTriadErrorSync(() => encryptionPublicKey("0x" + "00".repeat(32)))).to.be.instanceOf(InvalidInputError);
      expect(expectTriadErrorSync(() => encryptionPublicKey("not hex"))).to.be.instanceOf(InvalidInputError);
    });

    it("checks public keys like the contract (length and prefix) and also that they lie on the curve", function () {
      expect(hexlify(parseEncryptionPublicKey(encryptionPublicKey(BUYER_KEY)))).to.equal(encryptionPublicKey(BUYER_KEY));
      expect(parseEncryptionPublicKey(encryptionPublicKey(BUYER_KEY, false)).length).to.equal(65);
      const badShape = expectTriadErrorSync(() => parseEncryptionPublicKey("0x04" + encryptionPublicKey(BUYER_KEY).slice(4)));
      expect(badShape).to.be.instanceOf(InvalidInputError);
      expect((badShape as InvalidInputError).details).to.deep.equal({ length: 33, prefix: "0x04" });
      expect(expectTriadErrorSync(() => parseEncryptionPublicKey("0x"))).to.be.instanceOf(InvalidInputError);
      const offCurve = expectTriadErrorSync(() => parseEncryptionPublicKey("0x04" + "11".repeat(64)));
      expect(offCurve).to.be.instanceOf(InvalidInputError);
      expect(offCurve.message).to.contain("not a point on secp256k1");
    });
  });

  describe("content key delivery (ECIES)", function () {
    it("round-trips through compressed and uncompressed buyer keys, 129 bytes, fresh each time", function () {
      for (const compressed of [true, false]) {
        const encrypted = encryptContentKey(encryptionPublicKey(BUYER_KEY, compressed), CONTENT_KEY);
        expect(getBytes(encrypted).length).to.equal(ENCRYPTED_KEY_BYTES);
        expect(decryptContentKey(BUYER_KEY, encrypted)).to.deep.equal(CONTENT_KEY);
      }
      const pub = encryptionPublicKey(BUYER_KEY);
      expect(encryptContentKey(pub, CONTENT_KEY)).to.not.equal(encryptContentKey(pub, CONTENT_KEY));
    });

    it("follows the documented format: ephemeral key 65 || nonce 16 || tag 16 || key 32, HKDF-SHA256, AES-256-GCM", function () {
      const ct = getBytes(encryptContentKey(encryptionPublicKey(BUYER_KEY), CONTENT_KEY));
      const ephemeral = ct.subarray(0, 65);
      expect(ephemeral[0]).to.equal(0x04);
      const sharedPoint = getBytes(new SigningKey(BUYER_KEY).computeSharedSecret(ephemeral));
      const aesKey = Buffer.from(hkdfSync("sha256", Buffer.concat([ephemeral, sharedPoint]), Buffer.alloc(0), Buffer.alloc(0), 32));
      const decipher = createDecipheriv("aes-256-gcm", aesKey, ct.subarray(65, 81));
      decipher.setAuthTag(ct.subarray(81, 97));
      const key = Buffer.concat([decipher.update(ct.subarray(97)), decipher.final()]);
      expect(new Uint8Array(key)).to.deep.equal(CONTENT_KEY);
      // And plain eciesjs reads it, as other ecies/* implementations do.
      expect(new Uint8Array(eciesDecrypt(getBytes(BUYER_KEY), ct))).to.deep.equal(CONTENT_KEY);
    });

    it("fails with DECRYPTION_FAILED for another private key or an altered ciphertext", function () {
      const encrypted = getBytes(encryptContentKey(encryptionPublicKey(BUYER_KEY), CONTENT_KEY));
      expectTriadErrorSync(() => decryptContentKey(OTHER_KEY, encrypted), { code: "DECRYPTION_FAILED" });
      const altered = Uint8Array.from(encrypted);
      altered[100] ^= 0x01;
      expectTriadErrorSync(() => decryptContentKey(BUYER_KEY, altered), { code: "DECRYPTION_FAILED" });
    });

    it("refuses content keys and delivered keys of the wrong length", function () {
      const pub = encryptionPublicKey(BUYER_KEY);
      expect(expectTriadErrorSync(() => encryptContentKey(pub, new Uint8Array(16)))).to.be.instanceOf(InvalidInputError);
      expect(expectTriadErrorSync(() => decryptContentKey(BUYER_KEY, "0x" + "ab".repeat(128)))).to.be.instanceOf(InvalidInputError);
      expect(CONTENT_KEY_BYTES).to.equal(32);
    });

    it("refuses to run when something changed eciesjs's global config", function () {
      const pub = encryptionPublicKey(BUYER_KEY);
      ECIES_CONFIG.isEphemeralKeyCompressed = true;
      try {
        expectTriadErrorSync(() => encryptContentKey(pub, CONTENT_KEY), { code: "ECIES_CONFIG" });
      } finally {
        ECIES_CONFIG.isEphemeralKeyCompressed = false;
      }
      expect(decryptContentKey(BUYER_KEY, encryptContentKey(pub, CONTENT_KEY))).to.deep.equal(CONTENT_KEY);
    });
  });

  describe("encrypted files (AES-256-GCM)", function () {
    it('round-trips, with the documented layout "TRD1" || IV 12 || ciphertext || tag 16', function () {
      const encrypted = Buffer.from(encryptFile(FILE, CONTENT_KEY));
      expect(encrypted.length).to.equal(FILE.length + 32);
      expect(encrypted.subarray(0, 4).toString("ascii")).to.equal("TRD1");
      expect(Buffer.from(decryptFile(encrypted, CONTENT_KEY)).equals(FILE)).to.equal(true);
      expect(Buffer.from(encryptFile(FILE, CONTENT_KEY)).equals(encrypted)).to.equal(false); // fresh IV
      // Independent decryption by the documented format.
      const decipher = createDecipheriv("aes-256-gcm", CONTENT_KEY, encrypted.subarray(4, 16));
      decipher.setAAD(ENCRYPTED_FILE_MAGIC);
      decipher.setAuthTag(encrypted.subarray(encrypted.length - 16));
      const plain = Buffer.concat([decipher.update(encrypted.subarray(16, encrypted.length - 16)), decipher.final()]);
      expect(plain.equals(FILE)).to.equal(true);
    });

    it("handles an empty file", function () {
      const encrypted = encryptFile(new Uint8Array(0), CONTENT_KEY);
      expect(encrypted.length).to.equal(32);
      expect(decryptFile(encrypted, CONTENT_KEY).length).to.equal(0);
    });

    it("fails with DECRYPTION_FAILED for a wrong key or an altered body, and InvalidInputError for a non-file", function () {
      const encrypted = encryptFile(FILE, CONTENT_KEY);
      expectTriadErrorSync(() => decryptFile(encrypted, getBytes(id("wrong key"))), { code: "DECRYPTION_FAILED" });
      const altered = Buffer.from(encrypted);
      altered[20] ^= 0x01;
      expectTriadErrorSync(() => decryptFile(altered, CONTENT_KEY), { code: "DECRYPTION_FAILED" });
      const badMagic = Buffer.from(encrypted);
      badMagic[0] = 0x58;
      expect(expectTriadErrorSync(() => decryptFile(badMagic, CONTENT_KEY))).to.be.instanceOf(InvalidInputError);
      expect(expectTriadErrorSync(() => decryptFile(encrypted.subarray(0, 31), CONTENT_KEY))).to.be.instanceOf(InvalidInputError);
    });
  });

  describe("content hash", function () {
    it("is keccak256 of the exact plaintext bytes", function () {
      expect(contentHash(FILE)).to.equal(keccak256(FILE));
      expect(verifyContentHash(FILE, keccak256(FILE).toUpperCase().replace("0X", "0x"))).to.equal(true);
      const oneByteMore = Buffer.concat([FILE, Buffer.from("\n")]);
      expect(verifyContentHash(oneByteMore, keccak256(FILE))).to.equal(false);
    });

    it("openPurchasedFile decrypts key and file and insists on the content hash", function () {
      const encryptedKey = encryptContentKey(encryptionPublicKey(BUYER_KEY), CONTENT_KEY);
      const encryptedFile = encryptFile(FILE, CONTENT_KEY);
      const opened = openPurchasedFile({ buyerPrivateKey: BUYER_KEY, encryptedKey, encryptedFile, contentHash: keccak256(FILE) });
      expect(Buffer.from(opened).equals(FILE)).to.equal(true);
      expect(parseAi4iCsv(Buffer.from(opened).toString("utf8"))).to.have.length(2);
      const e = expectTriadErrorSync(
        () => openPurchasedFile({ buyerPrivateKey: BUYER_KEY, encryptedKey, encryptedFile, contentHash: keccak256(toUtf8Bytes("other")) }),
        { code: "CONTENT_HASH_MISMATCH" },
      );
      expect(e.details).to.deep.equal({ expected: keccak256(toUtf8Bytes("other")), actual: keccak256(FILE) });
    });
  });

  describe("anchored readings", function () {
    const domain = deviceRegistryDomain(31337n, "0x00000000000000000000000000000000000000aa");
    const deviceKey = new Wallet(id("triad/test/sdk-market/device"));
    const rows = parseAi4iCsv(FILE.toString("utf8"));

    async function signedBatch() {
      const readings = await signAi4iRows({ deviceKey, domain, rows, startSeq: 7n, startTimestamp: 1_700_000_000n });
      return prepareReadingBatch(domain, readings);
    }

    /**
     * An in-memory registry: `anchors` maps root -> the devices that anchored it (anchors are keyed by device and
     * root); `onChain` decides what verifyReading answers for an anchored (device, root).
     */
    function fakeRegistry(anchors: Record<string, string | string[]>, onChain: (root: string, digest: string, proof: string[]) => boolean) {
      const calls: string[] = [];
      const anchored = (device: string, root: string) =>
        ([] as string[]).concat(anchors[root] ?? []).some((d) => d.toLowerCase() === device.toLowerCase());
      const registry: AnchorReader = {
        anchorOf: async (device, root) => ({
          device: anchored(device, root) ? device : "0x0000000000000000000000000000000000000000",
          anchoredAt: anchored(device, root) ? 1_700_000_500n : 0n,
        }),
        verifyReading: async (device, root, digest, proof) => {
          calls.push(digest);
          return anchored(device, root) && onChain(root, digest, proof);
        },
      };
      return { registry, calls };
    }

    it("prepareReadingBatch builds the reading tree and a valid proof per reading", async function () {
      const batch = await signedBatch();
      const digests = batch.entries.map((e) => readingDigest(domain, e.reading));
      expect(batch.root).to.equal(buildReadingTree(digests).root);
      batch.entries.forEach((e, i) => expect(verifyReadingProof(batch.root, digests[i], e.proof)).to.equal(true));
    });

    it("accepts signed readings of the anchored device, asking the registry about each proof", async function () {
      const batch = await signedBatch();
      const { registry, calls } = fakeRegistry({ [batch.root]: deviceKey.address }, (root, digest, proof) =>
        verifyReadingProof(root, digest, proof),
      );
      const result = await verifyAnchoredReadings(registry, {
        domain,
        device: deviceKey.address,
        root: batch.root,
        readings: batch.entries,
      });
      expect(result).to.deep.equal({ valid: true, anchor: { device: deviceKey.address, anchoredAt: 1_700_000_500n }, failures: [] });
      expect(calls).to.have.length(batch.entries.length);
      const offChainOnly = fakeRegistry({ [batch.root]: deviceKey.address }, () => true);
      await verifyAnchoredReadings(offChainOnly.registry, {
        domain,
        device: deviceKey.address,
        root: batch.root,
        readings: batch.entries,
        onChainProofs: false,
      });
      expect(offChainOnly.calls).to.have.length(0);
    });

    it("reports an unanchored root, a foreign device, a bad signature and a registry refusal", async function () {
      const batch = await signedBatch();
      const unanchored = await verifyAnchoredReadings(fakeRegistry({}, () => true).registry, {
        domain,
        device: deviceKey.address,
        root: batch.root,
        readings: batch.entries,
      });
      expect(unanchored.failures).to.deep.equal([
        { index: null, reason: `root ${batch.root} is not anchored in the registry by device ${deviceKey.address}` },
      ]);

      const foreignDevice = Wallet.createRandom().address;
      const foreign = await verifyAnchoredReadings(fakeRegistry({ [batch.root]: foreignDevice }, () => true).registry, {
        domain,
        device: foreignDevice,
        root: batch.root,
        readings: batch.entries,
      });
      expect(foreign.failures.map((f) => f.index)).to.deep.equal([0, 1]);
      expect(foreign.failures[0].reason).to.contain("is not the anchor's device");

      const forged = batch.entries.map((e, i) => (i === 1 ? { ...e, reading: { ...e.reading, signature: "0x1234" } } : e));
      const badSig = await verifyAnchoredReadings(fakeRegistry({ [batch.root]: deviceKey.address }, () => true).registry, {
        domain,
        device: deviceKey.address,
        root: batch.root,
        readings: forged,
      });
      expect(badSig.failures).to.deep.equal([{ index: 1, reason: "reading seq 8: signature is not the device's" }]);

      const refused = await verifyAnchoredReadings(fakeRegistry({ [batch.root]: deviceKey.address }, () => false).registry, {
        domain,
        device: deviceKey.address,
        root: batch.root,
        readings: batch.entries.slice(0, 1),
      });
      expect(refused.failures).to.deep.equal([{ index: 0, reason: "reading seq 7: the registry's verifyReading rejects the proof" }]);
    });

    it("M-1 anchor front-running: another device anchoring the device's root first neither counts nor blocks", async function () {
      const batch = await signedBatch();
      const attacker = Wallet.createRandom().address;
      // Only the attacker's copy is anchored: the genuine device's readings are not vouched for by it.
      const copyOnly = await verifyAnchoredReadings(fakeRegistry({ [batch.root]: attacker }, () => true).registry, {
        domain,
        device: deviceKey.address,
        root: batch.root,
        readings: batch.entries,
      });
      expect(copyOnly.failures).to.deep.equal([
        { index: null, reason: `root ${batch.root} is not anchored in the registry by device ${deviceKey.address}` },
      ]);
      // Both anchored it: the genuine device's readings verify against its own anchor.
      const both = await verifyAnchoredReadings(
        fakeRegistry({ [batch.root]: [attacker, deviceKey.address] }, verifyReadingProof).registry,
        {
          domain,
          device: deviceKey.address,
          root: batch.root,
          readings: batch.entries,
        },
      );
      expect(both).to.deep.equal({ valid: true, anchor: { device: deviceKey.address, anchoredAt: 1_700_000_500n }, failures: [] });
    });

    it("refuses an empty list of readings", async function () {
      const { registry } = fakeRegistry({}, () => true);
      let caught: unknown;
      try {
        await verifyAnchoredReadings(registry, { domain, device: deviceKey.address, root: id("root"), readings: [] });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(InvalidInputError);
    });
  });
});
