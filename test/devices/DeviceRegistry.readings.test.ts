import { networkHelpers } from "@triad/devkit/network";
import { expect } from "chai";
import { MaxUint256, ZeroHash, id } from "ethers";
import {
  buildReadingTree,
  deviceBindingDigest,
  metadataHash,
  readingDigest,
  readingProof,
  recoverReading,
  signAi4iRows,
  signReading,
  verifyReadingProof,
  type DeviceBinding,
  type Reading,
} from "@triad/sdk";
import {
  AI4I_ROWS,
  INT64_MAX,
  INT64_MIN,
  Status,
  UINT64_MAX,
  deployRegistryFixture,
  deviceMetadata,
  registeredDeviceFixture,
  signedBatchFixture,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** DeviceRegistry: anchored reading batches, reading verification, and digests that match the SDK. */
describe("DeviceRegistry", function () {
  describe("anchorBatch", function () {
    it("records the anchor with device and block time, advances nextSeq and emits BatchAnchored", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      const root = id("batch-0");
      await expect(registry.connect(owner).anchorBatch(device.address, root, 0n, 99n, "ipfs://batch-0"))
        .to.emit(registry, "BatchAnchored")
        .withArgs(device.address, root, 0n, 99n, "ipfs://batch-0", owner.address);
      const anchor = await registry.anchorOf(device.address, root);
      expect(anchor.device).to.equal(device.address);
      expect(anchor.anchoredAt).to.equal(BigInt(await time.latest()));
      expect((await registry.getDevice(device.address)).nextSeq).to.equal(100n);
    });

    it("allows single-reading batches and gaps between batches", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).anchorBatch(device.address, id("a"), 5n, 5n, "ipfs://a");
      expect((await registry.getDevice(device.address)).nextSeq).to.equal(6n);
      await expect(registry.connect(owner).anchorBatch(device.address, id("b"), 1_000n, 1_009n, "ipfs://b"))
        .to.emit(registry, "BatchAnchored")
        .withArgs(device.address, id("b"), 1_000n, 1_009n, "ipfs://b", owner.address);
      expect((await registry.getDevice(device.address)).nextSeq).to.equal(1_010n);
    });

    it("reverts with AnchorInvalidRange for an overlapping batch", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).anchorBatch(device.address, id("a"), 0n, 9n, "ipfs://a");
      await expect(registry.connect(owner).anchorBatch(device.address, id("b"), 9n, 15n, "ipfs://b"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, 9n, 15n, 10n);
      await registry.connect(owner).anchorBatch(device.address, id("b"), 10n, 15n, "ipfs://b");
    });

    it("reverts with AnchorInvalidRange for a batch behind what is anchored", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).anchorBatch(device.address, id("a"), 10n, 19n, "ipfs://a");
      await expect(registry.connect(owner).anchorBatch(device.address, id("b"), 0n, 5n, "ipfs://b"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, 0n, 5n, 20n);
      expect((await registry.getDevice(device.address)).nextSeq).to.equal(20n);
    });

    it("reverts with AnchorInvalidRange for a reversed range", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 5n, 4n, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, 5n, 4n, 0n);
    });

    it("reverts with AnchorInvalidRange for toSeq == 2**64-1, and walks forward MAX_SEQ_ADVANCE at a time", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 0n, UINT64_MAX, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, 0n, UINT64_MAX, 0n);
      // Reaching the end of the sequence space takes 2^32 batches of MAX_SEQ_ADVANCE each (L-5).
      const max = await registry.MAX_SEQ_ADVANCE();
      let next = 0n;
      for (const to of [max - 1n, 2n * max - 1n]) {
        await registry.connect(owner).anchorBatch(device.address, id(`walk-${to}`), next, to, "ipfs://walk");
        next = to + 1n;
      }
      expect((await registry.getDevice(device.address)).nextSeq).to.equal(2n * max);
      await expect(registry.connect(owner).anchorBatch(device.address, id("b"), UINT64_MAX, UINT64_MAX, "ipfs://b"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, UINT64_MAX, UINT64_MAX, 2n * max);
    });

    it("reverts with AnchorZeroRoot for the zero root", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).anchorBatch(device.address, ZeroHash, 0n, 0n, "ipfs://a")).to.be.revertedWithCustomError(
        registry,
        "AnchorZeroRoot",
      );
    });

    it("reverts with AnchorAlreadyExists for a root the same device already anchored; another device may anchor it", async function () {
      const { registry, owners, owner, device, devices, registerDevice } = await loadFixture(registeredDeviceFixture);
      await registerDevice(devices[1], owners[1]);
      await registry.connect(owner).anchorBatch(device.address, id("a"), 0n, 9n, "ipfs://a");
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 10n, 19n, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "AnchorAlreadyExists")
        .withArgs(device.address, id("a"));
      await expect(registry.connect(owners[1]).anchorBatch(devices[1].address, id("a"), 0n, 9n, "ipfs://a")).to.emit(
        registry,
        "BatchAnchored",
      );
      expect((await registry.anchorOf(device.address, id("a"))).device).to.equal(device.address);
      expect((await registry.anchorOf(devices[1].address, id("a"))).device).to.equal(devices[1].address);
    });

    it("reverts with DeviceNotActive for a suspended device, and anchors again once resumed", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 0n, 0n, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "DeviceNotActive")
        .withArgs(device.address, Status.Suspended);
      await registry.connect(owner).resume(device.address);
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 0n, 0n, "ipfs://a")).to.emit(registry, "BatchAnchored");
    });

    it("reverts with DeviceUnauthorized for a stranger and for an admin", async function () {
      const { registry, admin, stranger, device } = await loadFixture(registeredDeviceFixture);
      for (const caller of [stranger, admin]) {
        await expect(registry.connect(caller).anchorBatch(device.address, id("a"), 0n, 0n, "ipfs://a"))
          .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
          .withArgs(device.address, caller.address);
      }
    });
  });

  describe("verifyReading", function () {
    it("is true for every reading of an anchored batch of signed readings", async function () {
      const { registry, owner, device, domain, readings, digests, tree } = await loadFixture(signedBatchFixture);
      await registry.connect(owner).anchorBatch(device.address, tree.root, 0n, 6n, "ipfs://batch");
      for (const [i, reading] of readings.entries()) {
        expect(recoverReading(domain, reading)).to.equal(device.address);
        expect(await registry.readingDigest(reading.device, reading.seq, reading.timestamp, reading.values)).to.equal(digests[i]);
        const proof = readingProof(tree, digests[i]);
        expect(verifyReadingProof(tree.root, digests[i], proof)).to.equal(true);
        expect(await registry.verifyReading(device.address, tree.root, digests[i], proof)).to.equal(true);
      }
    });

    it("is false for a reading outside the batch", async function () {
      const { registry, owner, device, domain, digests, tree } = await loadFixture(signedBatchFixture);
      await registry.connect(owner).anchorBatch(device.address, tree.root, 0n, 6n, "ipfs://batch");
      const [outsider] = await signAi4iRows({
        deviceKey: device,
        domain,
        rows: AI4I_ROWS.slice(7, 8),
        startSeq: 7n,
        startTimestamp: 1_700_000_420n,
      });
      const outsiderDigest = readingDigest(domain, outsider);
      expect(digests).to.not.include(outsiderDigest);
      for (const member of digests) {
        expect(await registry.verifyReading(device.address, tree.root, outsiderDigest, readingProof(tree, member))).to.equal(false);
      }
    });

    it("is false for a member with a wrong or truncated proof", async function () {
      const { registry, owner, device, digests, tree } = await loadFixture(signedBatchFixture);
      await registry.connect(owner).anchorBatch(device.address, tree.root, 0n, 6n, "ipfs://batch");
      const proofOfFirst = readingProof(tree, digests[0]);
      expect(await registry.verifyReading(device.address, tree.root, digests[0], proofOfFirst)).to.equal(true);
      expect(await registry.verifyReading(device.address, tree.root, digests[1], proofOfFirst)).to.equal(false);
      expect(await registry.verifyReading(device.address, tree.root, digests[0], proofOfFirst.slice(1))).to.equal(false);
      expect(await registry.verifyReading(device.address, tree.root, digests[0], [])).to.equal(false);
    });

    it("is false for a root that is not anchored, though the proof is valid", async function () {
      const { registry, device, digests, tree } = await loadFixture(signedBatchFixture);
      const proof = readingProof(tree, digests[3]);
      expect(verifyReadingProof(tree.root, digests[3], proof)).to.equal(true);
      expect(await registry.verifyReading(device.address, tree.root, digests[3], proof)).to.equal(false);
    });

    it("verifies a one-reading batch with an empty proof", async function () {
      const { registry, owner, device, digests } = await loadFixture(signedBatchFixture);
      const tree = buildReadingTree([digests[0]]);
      const proof = readingProof(tree, digests[0]);
      expect(proof).to.deep.equal([]);
      await registry.connect(owner).anchorBatch(device.address, tree.root, 0n, 0n, "ipfs://one");
      expect(await registry.verifyReading(device.address, tree.root, digests[0], proof)).to.equal(true);
      expect(await registry.verifyReading(device.address, tree.root, digests[1], proof)).to.equal(false);
    });
  });

  describe("digests match the SDK", function () {
    it("readingDigest equals the SDK digest, and SDK-signed readings recover to the device, for negative and extreme int64 values", async function () {
      const { registry, device, domain } = await loadFixture(registeredDeviceFixture);
      const valueSets: bigint[][] = [
        [],
        [0n],
        [-1n],
        [INT64_MIN],
        [INT64_MAX],
        [INT64_MIN, INT64_MAX, -1n, 0n, 1n],
        [298100n, 308600n, 1551n, 42800n, 0n, 1n],
        [-273150n, -42n, -(2n ** 32n), 2n ** 32n, INT64_MIN + 1n, INT64_MAX - 1n],
      ];
      const distinct = new Set<string>();
      for (const [i, values] of valueSets.entries()) {
        const reading: Reading = { device: device.address, seq: BigInt(i), timestamp: 1_700_000_000n, values };
        const signed = await signReading(device, domain, reading);
        expect(recoverReading(domain, signed)).to.equal(device.address);
        const digest = readingDigest(domain, reading);
        expect(await registry.readingDigest(reading.device, reading.seq, reading.timestamp, values)).to.equal(digest);
        distinct.add(digest);
      }
      expect(distinct.size).to.equal(valueSets.length);
    });

    it("readingDigest matches at the uint64 extremes of seq and timestamp", async function () {
      const { registry, device, domain } = await loadFixture(registeredDeviceFixture);
      const reading: Reading = { device: device.address, seq: UINT64_MAX, timestamp: UINT64_MAX, values: [INT64_MIN] };
      expect(await registry.readingDigest(reading.device, reading.seq, reading.timestamp, reading.values)).to.equal(
        readingDigest(domain, reading),
      );
    });

    it("bindingDigest equals the SDK digest the device signs", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const bindings: DeviceBinding[] = [
        { device: devices[0].address, owner: owners[0].address, metadataHash: metadataHash(deviceMetadata()), nonce: 0n, deadline: 1n },
        { device: devices[1].address, owner: owners[1].address, metadataHash: ZeroHash, nonce: 7n, deadline: MaxUint256 },
      ];
      for (const b of bindings) {
        expect(await registry.bindingDigest(b.device, b.owner, b.metadataHash, b.nonce, b.deadline)).to.equal(
          deviceBindingDigest(domain, b),
        );
      }
    });
  });
});

networkHelpers;
