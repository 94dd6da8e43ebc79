import { networkHelpers } from "@triad/devkit/network";
import { expect } from "chai";
import { id } from "ethers";
import { Status, UINT64_MAX, registeredDeviceFixture, updateBinding } from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** Regression tests of the audit findings (issue 12) that concern the DeviceRegistry. */
describe("DeviceRegistry audit findings", function () {
  it("M-1 anchor front-running: another device anchoring the same root first blocks nobody and owns nothing", async function () {
    const { registry, owners, owner, device, devices, registerDevice } = await loadFixture(registeredDeviceFixture);
    const attacker = owners[1];
    const attackerDevice = devices[1];
    await registerDevice(attackerDevice, attacker);
    const root = id("victim's pending root");
    // The attacker copies the victim's root from the mempool and lands first.
    await registry.connect(attacker).anchorBatch(attackerDevice.address, root, 0n, 9n, "ipfs://copy");
    // The victim's anchor still goes through, and each device's anchor is its own.
    await expect(registry.connect(owner).anchorBatch(device.address, root, 0n, 9n, "ipfs://genuine"))
      .to.emit(registry, "BatchAnchored")
      .withArgs(device.address, root, 0n, 9n, "ipfs://genuine", owner.address);
    const victims = await registry.anchorOf(device.address, root);
    expect(victims.device).to.equal(device.address);
    expect(victims.anchoredAt).to.equal(BigInt(await time.latest()));
    expect((await registry.anchorOf(attackerDevice.address, root)).device).to.equal(attackerDevice.address);
    // A root never anchored for a device is not that device's, whoever anchored it.
    expect((await registry.anchorOf(devices[2].address, root)).anchoredAt).to.equal(0n);
    // The same device cannot anchor the same root twice.
    await expect(registry.connect(owner).anchorBatch(device.address, root, 10n, 19n, "ipfs://again"))
      .to.be.revertedWithCustomError(registry, "AnchorAlreadyExists")
      .withArgs(device.address, root);
  });

  it("M-2 device owner vs policy holder: statusAt answers the status at a past time, whatever happened since", async function () {
    const { registry, owner, device, admin } = await loadFixture(registeredDeviceFixture);
    const registeredAt = BigInt(await time.latest());
    expect(await registry.statusAt(device.address, registeredAt - 1n)).to.equal(Status.None);
    expect(await registry.statusAt(device.address, registeredAt)).to.equal(Status.Active);
    await time.increase(100);
    const incidentAt = BigInt(await time.latest());
    await registry.connect(owner).suspend(device.address);
    const suspendedAt = BigInt(await time.latest());
    await time.increase(100);
    await registry.connect(owner).resume(device.address);
    const resumedAt = BigInt(await time.latest());
    await time.increase(100);
    await registry.connect(admin).revoke(device.address);
    const revokedAt = BigInt(await time.latest());
    expect(await registry.statusAt(device.address, incidentAt)).to.equal(Status.Active);
    expect(await registry.statusAt(device.address, suspendedAt)).to.equal(Status.Suspended);
    expect(await registry.statusAt(device.address, resumedAt - 1n)).to.equal(Status.Suspended);
    expect(await registry.statusAt(device.address, resumedAt)).to.equal(Status.Active);
    expect(await registry.statusAt(device.address, revokedAt)).to.equal(Status.Revoked);
    expect(await registry.statusAt(device.address, revokedAt + 10_000n)).to.equal(Status.Revoked);
    expect(await registry.statusAt(id("unknown").slice(0, 42), revokedAt)).to.equal(Status.None);
  });

  it("L-5 sequence exhaustion: one batch cannot advance a device's sequence by more than MAX_SEQ_ADVANCE", async function () {
    const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
    const max = await registry.MAX_SEQ_ADVANCE();
    await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 0n, UINT64_MAX - 1n, "ipfs://a"))
      .to.be.revertedWithCustomError(registry, "AnchorSeqAdvanceTooLarge")
      .withArgs(device.address, 0n, UINT64_MAX - 1n, 0n, max);
    // A far start with a short batch is refused too: the advance counts from nextSeq.
    await expect(registry.connect(owner).anchorBatch(device.address, id("a"), max, max, "ipfs://a"))
      .to.be.revertedWithCustomError(registry, "AnchorSeqAdvanceTooLarge")
      .withArgs(device.address, max, max, 0n, max);
    // The largest allowed advance goes through.
    await registry.connect(owner).anchorBatch(device.address, id("a"), max - 1n, max - 1n, "ipfs://a");
    expect((await registry.getDevice(device.address)).nextSeq).to.equal(max);
  });

  it("L-6 admin hold: an admin can put a hold on a device its owner suspended, and the owner cannot then resume it", async function () {
    const { registry, owner, device, admin } = await loadFixture(registeredDeviceFixture);
    await registry.connect(owner).suspend(device.address);
    await expect(registry.connect(admin).suspend(device.address))
      .to.emit(registry, "DeviceAdminHoldSet")
      .withArgs(device.address, true, admin.address);
    expect((await registry.getDevice(device.address)).adminHold).to.equal(true);
    await expect(registry.connect(owner).resume(device.address))
      .to.be.revertedWithCustomError(registry, "DeviceAdminHold")
      .withArgs(device.address);
    await expect(registry.connect(admin).resume(device.address)).to.emit(registry, "DeviceStatusChanged");
    expect((await registry.getDevice(device.address)).adminHold).to.equal(false);
    // A second admin suspension of an already held device is refused (nothing would change).
    await registry.connect(admin).suspend(device.address);
    await expect(registry.connect(admin).suspend(device.address))
      .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
      .withArgs(device.address, Status.Suspended, Status.Suspended);
  });

  it("L-6 admin hold: the owner cannot update the metadata of a device under an admin hold", async function () {
    const { registry, owner, device, admin, domain } = await loadFixture(registeredDeviceFixture);
    await registry.connect(admin).suspend(device.address);
    const { binding, uri, signature } = await updateBinding(device, owner.address, domain, await registry.nonces(device.address));
    await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
      .to.be.revertedWithCustomError(registry, "DeviceAdminHold")
      .withArgs(device.address);
    await registry.connect(admin).resume(device.address);
    await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature)).to.emit(
      registry,
      "DeviceMetadataUpdated",
    );
  });
});
