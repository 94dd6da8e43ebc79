import { ethers, networkHelpers } from "@triad/devkit/network";
import { expect } from "chai";
import { ZeroAddress, ZeroHash, getBytes, id, type ContractTransactionReceipt, type TypedDataDomain } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { DeviceRegistry } from "@triad/contracts";
import {
  TriadError,
  anchorFleet,
  buildReadingTree,
  buildReadingTreeFast,
  prepareFleetBatch,
  readingDigest,
  signAi4iRows,
  verifyReadingProof,
  type Reading,
  type SignedReading,
} from "@triad/sdk";
import { AI4I_ROWS, Status, UINT64_MAX, deployRegistryFixture } from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** A URI of the shape the gateway emits: `triad-gw://<gateway>/anchors/<root>` (128 bytes). */
const gatewayUri = (gateway: string, root: string) => `triad-gw://${gateway.toLowerCase()}/anchors/${root}`;

/**
 * Three devices (0 and 1 of `owners[0]`, 2 of `owners[1]`), `owners[0]` has authorised `gateway`, `owners[1]` has
 * authorised nobody; `readingsOf(d, fromSeq, n)` signs `n` real AI4I readings of device `d` with the SDK, and
 * `mixed` interleaves five readings of each device (seq 0..4), as a gateway's interval would.
 */
async function fleetFixture() {
  const fixture = await deployRegistryFixture();
  const { devices, owners, gateway, registry, domain, registerDevice } = fixture;
  await registerDevice(devices[0], owners[0]);
  await registerDevice(devices[1], owners[0]);
  await registerDevice(devices[2], owners[1]);
  await (await registry.connect(owners[0]).setGateway(gateway.address, true)).wait();
  const readingsOf = (device: number, fromSeq: bigint, n: number) =>
    signAi4iRows({
      deviceKey: devices[device],
      domain,
      rows: AI4I_ROWS.slice(Number(fromSeq) % 8, (Number(fromSeq) % 8) + n),
      startSeq: fromSeq,
      startTimestamp: 1_700_000_000n + fromSeq * 60n,
    });
  const perDevice = await Promise.all([0, 1, 2].map((d) => readingsOf(d, 0n, 5)));
  const mixed = perDevice[0].flatMap((_, i) => perDevice.map((readings) => readings[i]));
  return { ...fixture, readingsOf, mixed };
}

/** The registry's verdict on one reading of a fleet anchor. */
function verify(registry: DeviceRegistry, gateway: string, root: string, { reading, proof }: { reading: Reading; proof: string[] }) {
  return registry.verifyFleetReading(gateway, root, reading.device, reading.seq, reading.timestamp, reading.values, proof);
}

/** Anchors `readings` as `anchorer` with the SDK action. */
function anchorAs(registry: DeviceRegistry, anchorer: HardhatEthersSigner, domain: TypedDataDomain, readings: readonly SignedReading[]) {
  return anchorFleet(registry.connect(anchorer), { domain, readings, uri: (root) => gatewayUri(anchorer.address, root) });
}

async function blockTime(receipt: ContractTransactionReceipt): Promise<bigint> {
  return BigInt((await ethers.provider.getBlock(receipt.blockNumber))!.timestamp);
}

/**
 * Gas spent executing a transaction: `gasUsed` minus the intrinsic 21,000 and the calldata bytes (4 per zero byte, 16
 * otherwise). A root or count with more zero bytes is a few units cheaper to send; what the contract does is not.
 */
function executionGas(receipt: ContractTransactionReceipt, data: string): bigint {
  const calldata = getBytes(data).reduce((sum, byte) => sum + (byte === 0 ? 4n : 16n), 0n);
  return receipt.gasUsed - 21_000n - calldata;
}

/** DeviceRegistry: fleet anchors (one root per gateway and interval), their verification against the owner and
 * gateway-authorisation histories, and the SDK's fleet action. */
describe("DeviceRegistry fleet anchoring", function () {
  describe("anchorFleet", function () {
    it("records (anchoredAt, count) under (gateway, root), emits FleetAnchored and leaves every nextSeq alone", async function () {
      const { registry, gateway, devices } = await loadFixture(fleetFixture);
      const root = id("fleet-0");
      const uri = gatewayUri(gateway.address, root);
      await expect(registry.connect(gateway).anchorFleet(root, 3_000n, uri))
        .to.emit(registry, "FleetAnchored")
        .withArgs(gateway.address, root, 3_000n, uri);
      expect(await registry.fleetAnchorOf(gateway.address, root)).to.deep.equal([BigInt(await time.latest()), 3_000n]);
      expect(await registry.fleetAnchorOf(devices[0].address, root)).to.deep.equal([0n, 0n]);
      for (const device of devices) expect((await registry.getDevice(device.address)).nextSeq).to.equal(0n);
      // The per-device namespace is separate: the fleet root is not an anchor of any device.
      expect((await registry.anchorOf(devices[0].address, root)).anchoredAt).to.equal(0n);
    });

    it("reverts with FleetAnchorAlreadyExists(gateway, root) when the gateway anchors a root again", async function () {
      const { registry, gateway } = await loadFixture(fleetFixture);
      const root = id("fleet-0");
      await (await registry.connect(gateway).anchorFleet(root, 1n, "triad-gw://a")).wait();
      const first = await registry.fleetAnchorOf(gateway.address, root);
      await expect(registry.connect(gateway).anchorFleet(root, 2n, "triad-gw://b"))
        .to.be.revertedWithCustomError(registry, "FleetAnchorAlreadyExists")
        .withArgs(gateway.address, root);
      expect(await registry.fleetAnchorOf(gateway.address, root)).to.deep.equal(first);
    });

    it("lets another account anchor the same root in its own namespace, so nobody can take a gateway's root", async function () {
      const { registry, gateway, stranger } = await loadFixture(fleetFixture);
      const root = id("fleet-0");
      await (await registry.connect(stranger).anchorFleet(root, 7n, "triad-gw://first")).wait();
      const strangerAt = BigInt(await time.latest());
      await expect(registry.connect(gateway).anchorFleet(root, 9n, "triad-gw://second"))
        .to.emit(registry, "FleetAnchored")
        .withArgs(gateway.address, root, 9n, "triad-gw://second");
      expect(await registry.fleetAnchorOf(stranger.address, root)).to.deep.equal([strangerAt, 7n]);
      expect(await registry.fleetAnchorOf(gateway.address, root)).to.deep.equal([BigInt(await time.latest()), 9n]);
    });

    it("reverts with AnchorZeroRoot for the zero root and FleetAnchorEmpty for a count of zero", async function () {
      const { registry, gateway } = await loadFixture(fleetFixture);
      await expect(registry.connect(gateway).anchorFleet(ZeroHash, 1n, "triad-gw://a")).to.be.revertedWithCustomError(
        registry,
        "AnchorZeroRoot",
      );
      await expect(registry.connect(gateway).anchorFleet(id("fleet-0"), 0n, "triad-gw://a")).to.be.revertedWithCustomError(
        registry,
        "FleetAnchorEmpty",
      );
      expect(await registry.fleetAnchorOf(gateway.address, id("fleet-0"))).to.deep.equal([0n, 0n]);
    });

    it("costs the same execution gas for a tree of 1 reading and one of 10,000, and every size verifies", async function () {
      const { registry, gateway, devices, domain } = await loadFixture(fleetFixture);
      const asGateway = registry.connect(gateway);
      // 10,000 readings of the two devices whose owner authorised the gateway; only their digests enter the tree.
      const readings: Reading[] = Array.from({ length: 10_000 }, (_, i) => ({
        device: devices[i % 2].address,
        seq: BigInt(i >> 1),
        timestamp: 1_700_000_000n + BigInt(i >> 1),
        values: [BigInt(i), -BigInt(i), 2_980n],
      }));
      const sizes = [1, 10_000];
      const gas: bigint[] = [];
      for (const size of sizes) {
        const tree = buildReadingTreeFast(readings.slice(0, size).map((r) => readingDigest(domain, r)));
        const tx = await asGateway.anchorFleet(tree.root, BigInt(size), gatewayUri(gateway.address, tree.root));
        gas.push(executionGas((await tx.wait())!, tx.data));
        for (const i of [0, size >> 1, size - 1]) {
          const entry = { reading: readings[i], proof: tree.proofs[i] };
          expect(await verify(registry, gateway.address, tree.root, entry), `reading ${i} of ${size}`).to.equal(true);
        }
      }
      expect(gas[1], `execution gas of 10,000 vs 1 reading(s)`).to.equal(gas[0]);
    });
  });

  describe("verifyFleetReading", function () {
    it("is true for every reading of a tree mixing devices of two owners who authorised the gateway", async function () {
      const { registry, gateway, owners, domain, mixed } = await loadFixture(fleetFixture);
      await (await registry.connect(owners[1]).setGateway(gateway.address, true)).wait();
      const anchored = await anchorAs(registry, gateway, domain, mixed);
      expect(anchored.count).to.equal(15);
      expect(anchored.gateway).to.equal(gateway.address);
      expect(anchored.uri).to.equal(gatewayUri(gateway.address, anchored.root));
      // The fast fleet tree is the StandardMerkleTree of the digests (the leaf rule of verifyReading).
      const digests = mixed.map((r) => readingDigest(domain, r));
      expect(anchored.root).to.equal(buildReadingTree(digests).root);
      expect(await registry.fleetAnchorOf(gateway.address, anchored.root)).to.deep.equal([await blockTime(anchored.receipt), 15n]);
      for (const [i, entry] of anchored.entries.entries()) {
        expect(entry.reading).to.equal(mixed[i]);
        expect(verifyReadingProof(anchored.root, digests[i], entry.proof)).to.equal(true);
        expect(await verify(registry, gateway.address, anchored.root, entry), `reading ${i}`).to.equal(true);
      }
    });

    it("is false for a wrong device, seq, timestamp or values, another reading's proof, and a root not anchored", async function () {
      const { registry, gateway, devices, domain, mixed } = await loadFixture(fleetFixture);
      const ownDevices = mixed.filter((r) => r.device !== devices[2].address);
      const { root, entries } = await anchorAs(registry, gateway, domain, ownDevices);
      const [entry, other] = entries;
      const { reading, proof } = entry;
      expect(await verify(registry, gateway.address, root, entry)).to.equal(true);
      const wrong = async (changes: Partial<SignedReading>, p = proof) =>
        verify(registry, gateway.address, root, { reading: { ...reading, ...changes }, proof: p });
      expect(await wrong({ device: other.reading.device }), "wrong device").to.equal(false);
      expect(await wrong({ seq: reading.seq + 1n }), "wrong seq").to.equal(false);
      expect(await wrong({ timestamp: reading.timestamp + 1n }), "wrong timestamp").to.equal(false);
      expect(await wrong({ values: [...reading.values.slice(0, -1), reading.values.at(-1)! + 1n] }), "wrong values").to.equal(false);
      expect(await wrong({}, other.proof), "another reading's proof").to.equal(false);
      expect(await wrong({}, proof.slice(1)), "truncated proof").to.equal(false);
      const unanchored = prepareFleetBatch(domain, ownDevices.slice(1));
      expect(await verify(registry, gateway.address, unanchored.root, unanchored.entries[0]), "root not anchored").to.equal(false);
    });

    it("is false for readings of devices whose owner never authorised the anchoring account", async function () {
      const { registry, gateway, stranger, devices, domain, mixed } = await loadFixture(fleetFixture);
      const anchored = await anchorAs(registry, gateway, domain, mixed);
      for (const entry of anchored.entries) {
        // owners[0] authorised the gateway for devices 0 and 1; owners[1] (device 2) authorised nobody.
        const expected = entry.reading.device !== devices[2].address;
        expect(await verify(registry, gateway.address, anchored.root, entry), `${entry.reading.device}`).to.equal(expected);
      }
      // The same tree anchored by a stranger: a valid proof under the stranger's own anchor, but nobody vouched for it.
      const copied = await anchorAs(registry, stranger, domain, mixed);
      expect(copied.root).to.equal(anchored.root);
      for (const entry of copied.entries) expect(await verify(registry, stranger.address, copied.root, entry)).to.equal(false);
    });

    it("is false for an anchor made before the owner authorised the gateway; anchors made after count", async function () {
      const { registry, gateway, owners, readingsOf, domain } = await loadFixture(fleetFixture);
      const early = await anchorAs(registry, gateway, domain, await readingsOf(2, 0n, 3));
      await (await registry.connect(owners[1]).setGateway(gateway.address, true)).wait();
      for (const entry of early.entries) expect(await verify(registry, gateway.address, early.root, entry)).to.equal(false);
      const late = await anchorAs(registry, gateway, domain, await readingsOf(2, 3n, 3));
      for (const entry of late.entries) expect(await verify(registry, gateway.address, late.root, entry)).to.equal(true);
    });

    it("is true when the owner itself anchored its devices' readings, false for other owners' devices", async function () {
      const { registry, owners, devices, domain, mixed } = await loadFixture(fleetFixture);
      const anchored = await anchorAs(registry, owners[0], domain, mixed);
      for (const entry of anchored.entries) {
        const expected = entry.reading.device !== devices[2].address;
        expect(await verify(registry, owners[0].address, anchored.root, entry)).to.equal(expected);
      }
    });

    it("keeps verifying an anchor after the owner revokes the gateway; anchors after the revocation do not count", async function () {
      const { registry, gateway, owners, readingsOf, domain } = await loadFixture(fleetFixture);
      const before = await anchorAs(registry, gateway, domain, await readingsOf(0, 0n, 4));
      await (await registry.connect(owners[0]).setGateway(gateway.address, false)).wait();
      expect(await registry.isGateway(owners[0].address, gateway.address)).to.equal(false);
      for (const entry of before.entries) expect(await verify(registry, gateway.address, before.root, entry)).to.equal(true);
      const after = await anchorAs(registry, gateway, domain, await readingsOf(0, 4n, 4));
      for (const entry of after.entries) expect(await verify(registry, gateway.address, after.root, entry)).to.equal(false);
    });

    it("after an ownership transfer: the old anchor still counts; later ones only once the new owner authorised the gateway", async function () {
      const { registry, gateway, owners, devices, readingsOf, domain } = await loadFixture(fleetFixture);
      const device = devices[0].address;
      const [oldOwner, newOwner] = owners;
      const before = await anchorAs(registry, gateway, domain, await readingsOf(0, 0n, 3));
      await (await registry.connect(oldOwner).proposeOwner(device, newOwner.address)).wait();
      const accepted = await (await registry.connect(newOwner).acceptOwnership(device)).wait();
      const transferredAt = await blockTime(accepted!);
      expect(await registry.ownerAt(device, transferredAt - 1n)).to.equal(oldOwner.address);
      expect(await registry.ownerAt(device, transferredAt)).to.equal(newOwner.address);

      for (const entry of before.entries) expect(await verify(registry, gateway.address, before.root, entry)).to.equal(true);
      // The old owner still authorises the gateway, but no longer owns the device.
      const afterTransfer = await anchorAs(registry, gateway, domain, await readingsOf(0, 3n, 3));
      for (const entry of afterTransfer.entries) {
        expect(await verify(registry, gateway.address, afterTransfer.root, entry)).to.equal(false);
      }
      await (await registry.connect(newOwner).setGateway(gateway.address, true)).wait();
      for (const entry of afterTransfer.entries) {
        expect(await verify(registry, gateway.address, afterTransfer.root, entry)).to.equal(false);
      }
      const authorised = await anchorAs(registry, gateway, domain, await readingsOf(0, 6n, 3));
      for (const entry of authorised.entries) expect(await verify(registry, gateway.address, authorised.root, entry)).to.equal(true);
      // The old owner's own anchors of the device stop counting at the transfer as well.
      const byOldOwner = await anchorAs(registry, oldOwner, domain, await readingsOf(0, 9n, 2));
      for (const entry of byOldOwner.entries) expect(await verify(registry, oldOwner.address, byOldOwner.root, entry)).to.equal(false);
    });

    it("counts a device's readings only if it was Active at the anchor, like anchorBatch", async function () {
      const { registry, gateway, owners, devices, readingsOf, domain } = await loadFixture(fleetFixture);
      const active = await anchorAs(registry, gateway, domain, await readingsOf(0, 0n, 2));
      await (await registry.connect(owners[0]).suspend(devices[0].address)).wait();
      // Suspended after the anchor: the anchor keeps counting.
      for (const entry of active.entries) expect(await verify(registry, gateway.address, active.root, entry)).to.equal(true);
      const whileSuspended = await anchorAs(registry, gateway, domain, [...(await readingsOf(0, 2n, 2)), ...(await readingsOf(1, 0n, 2))]);
      await (await registry.connect(owners[0]).resume(devices[0].address)).wait();
      expect(await registry.statusAt(devices[0].address, BigInt(await time.latest()))).to.equal(Status.Active);
      for (const entry of whileSuspended.entries) {
        const expected = entry.reading.device === devices[1].address;
        expect(await verify(registry, gateway.address, whileSuspended.root, entry), entry.reading.device).to.equal(expected);
      }
    });
  });

  describe("ownerAt and gatewayAuthorisedAt", function () {
    it("answer the state at the end of each second: a change at t counts from t on", async function () {
      const { registry, owners, gateway, devices, registerDevice } = await loadFixture(deployRegistryFixture);
      const [ownerA, ownerB] = owners;
      const device = devices[0];
      const t0 = BigInt(await time.latest()) + 100n;

      await time.setNextBlockTimestamp(t0);
      await registerDevice(device, ownerA);
      await time.setNextBlockTimestamp(t0 + 10n);
      await (await registry.connect(ownerA).setGateway(gateway.address, true)).wait();
      await (await registry.connect(ownerA).proposeOwner(device.address, ownerB.address)).wait();
      // Repeating the setting is reported but changes no history.
      await time.setNextBlockTimestamp(t0 + 15n);
      await expect(registry.connect(ownerA).setGateway(gateway.address, true))
        .to.emit(registry, "GatewaySet")
        .withArgs(ownerA.address, gateway.address, true);
      await time.setNextBlockTimestamp(t0 + 20n);
      await (await registry.connect(ownerB).acceptOwnership(device.address)).wait();
      await time.setNextBlockTimestamp(t0 + 30n);
      await (await registry.connect(ownerA).setGateway(gateway.address, false)).wait();

      const ownerAt = (t: bigint) => registry.ownerAt(device.address, t);
      expect(await ownerAt(0n)).to.equal(ZeroAddress);
      expect(await ownerAt(t0 - 1n)).to.equal(ZeroAddress);
      expect(await ownerAt(t0)).to.equal(ownerA.address);
      expect(await ownerAt(t0 + 19n)).to.equal(ownerA.address);
      expect(await ownerAt(t0 + 20n)).to.equal(ownerB.address);
      expect(await ownerAt(UINT64_MAX)).to.equal(ownerB.address);

      const authorisedAt = (t: bigint) => registry.gatewayAuthorisedAt(ownerA.address, gateway.address, t);
      expect(await authorisedAt(t0 + 9n)).to.equal(false);
      expect(await authorisedAt(t0 + 10n)).to.equal(true);
      expect(await authorisedAt(t0 + 29n)).to.equal(true);
      expect(await authorisedAt(t0 + 30n)).to.equal(false);
      expect(await authorisedAt(UINT64_MAX)).to.equal(false);
      expect(await registry.gatewayAuthorisedAt(ownerB.address, gateway.address, t0 + 25n)).to.equal(false);
      expect(await registry.isGateway(ownerA.address, gateway.address)).to.equal(false);
    });

    it("judge an anchor made in the same second as a change by the state at the end of that second", async function () {
      const { registry, gateway, owners, readingsOf, domain } = await loadFixture(fleetFixture);
      const prepared = prepareFleetBatch(domain, await readingsOf(2, 0n, 2));
      // The anchor and a later authorisation in one block: the history keeps the block's final state.
      await networkHelpers.mine(1);
      await ethers.provider.send("evm_setAutomine", [false]);
      let receipts: (ContractTransactionReceipt | null)[];
      try {
        const anchorTx = await registry.connect(gateway).anchorFleet(prepared.root, prepared.count, "triad-gw://same-block");
        const authoriseTx = await registry.connect(owners[1]).setGateway(gateway.address, true);
        await networkHelpers.mine(1);
        receipts = await Promise.all([anchorTx.wait(), authoriseTx.wait()]);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      const [anchored, authorised] = receipts.map((r) => r!);
      expect(anchored.blockNumber).to.equal(authorised.blockNumber);
      expect(anchored.index, "the anchor comes first in the block").to.be.lessThan(authorised.index);
      const { anchoredAt } = await registry.fleetAnchorOf(gateway.address, prepared.root);
      expect(anchoredAt).to.equal(BigInt(await time.latest()));
      expect(await registry.gatewayAuthorisedAt(owners[1].address, gateway.address, anchoredAt)).to.equal(true);
      expect(await verify(registry, gateway.address, prepared.root, prepared.entries[0])).to.equal(true);
    });
  });

  describe("SDK: prepareFleetBatch and anchorFleet", function () {
    it("refuse an empty batch, a repeated (device, seq) and a registry without a signer, each with a code", async function () {
      const { registry, domain, mixed } = await loadFixture(fleetFixture);
      expect(() => prepareFleetBatch(domain, []))
        .to.throw(TriadError, "nothing to anchor: no readings")
        .with.property("code", "EMPTY_BATCH");
      const repeated = { ...mixed[0], values: [1n] };
      expect(() => prepareFleetBatch(domain, [...mixed, repeated]))
        .to.throw(TriadError, `reading 15 repeats seq 0 of device ${mixed[0].device}`)
        .with.property("code", "DUPLICATE_READING");
      const readOnly = registry.connect(ethers.provider) as unknown as DeviceRegistry;
      const refused = await anchorFleet(readOnly, { domain, readings: mixed, uri: "triad-gw://x" }).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(TriadError).with.property("code", "NO_SIGNER");
    });

    it("anchorFleet reads the domain from the registry when none is given", async function () {
      const { registry, gateway, domain, mixed } = await loadFixture(fleetFixture);
      const readings = mixed.filter((_, i) => i % 3 !== 2);
      const anchored = await anchorFleet(registry.connect(gateway), { readings, uri: "triad-gw://no-domain" });
      expect(anchored.root).to.equal(prepareFleetBatch(domain, readings).root);
      expect(anchored.uri).to.equal("triad-gw://no-domain");
      const [event] = await registry.queryFilter(registry.filters.FleetAnchored(gateway.address, anchored.root));
      const { args } = event;
      expect([args.gateway, args.root, args.count, args.uri]).to.deep.equal([
        gateway.address,
        anchored.root,
        BigInt(readings.length),
        "triad-gw://no-domain",
      ]);
      for (const entry of anchored.entries) expect(await verify(registry, gateway.address, anchored.root, entry)).to.equal(true);
    });
  });
});
