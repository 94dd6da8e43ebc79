import { networkHelpers } from "@triad/devkit/network";
import { expect } from "chai";
import { MaxUint256, ZeroAddress, ZeroHash, id } from "ethers";
import { Status, deployRegistryFixture, registeredDeviceFixture, updateBinding } from "./fixtures.ts";

const { loadFixture } = networkHelpers;

/** DeviceRegistry: a registered device's life: status changes, ownership transfer and gateways. */
describe("DeviceRegistry", function () {
  describe("status", function () {
    it("owner suspends (no admin hold) and resumes, emitting DeviceStatusChanged", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).suspend(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Active, Status.Suspended, owner.address);
      const suspended = await registry.getDevice(device.address);
      expect(suspended.status).to.equal(Status.Suspended);
      expect(suspended.adminHold).to.equal(false);

      await expect(registry.connect(owner).resume(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Suspended, Status.Active, owner.address);
      expect((await registry.getDevice(device.address)).status).to.equal(Status.Active);
    });

    it("an admin suspension holds: the owner cannot resume (DeviceAdminHold), an admin can", async function () {
      const { registry, admin, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(admin).suspend(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Active, Status.Suspended, admin.address);
      expect((await registry.getDevice(device.address)).adminHold).to.equal(true);

      await expect(registry.connect(owner).resume(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceAdminHold")
        .withArgs(device.address);

      await expect(registry.connect(admin).resume(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Suspended, Status.Active, admin.address);
      const resumed = await registry.getDevice(device.address);
      expect(resumed.status).to.equal(Status.Active);
      expect(resumed.adminHold).to.equal(false);

      // With the hold lifted the owner is back in control.
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(owner).resume(device.address)).to.emit(registry, "DeviceStatusChanged");
    });

    it("resuming a revoked device reports the transition, even when an admin hold is left over", async function () {
      const { registry, admin, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(admin).suspend(device.address);
      await registry.connect(owner).revoke(device.address);
      await expect(registry.connect(owner).resume(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
        .withArgs(device.address, Status.Revoked, Status.Active);
    });

    it("an admin may resume an owner's suspension", async function () {
      const { registry, admin, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(admin).resume(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Suspended, Status.Active, admin.address);
    });

    it("a second suspension by an admin of an owner-suspended device puts an admin hold on it (L-6), a third reverts", async function () {
      const { registry, admin, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(admin).suspend(device.address))
        .to.emit(registry, "DeviceAdminHoldSet")
        .withArgs(device.address, true, admin.address);
      expect((await registry.getDevice(device.address)).adminHold).to.equal(true);
      await expect(registry.connect(admin).suspend(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
        .withArgs(device.address, Status.Suspended, Status.Suspended);
      await expect(registry.connect(owner).resume(device.address)).to.be.revertedWithCustomError(registry, "DeviceAdminHold");
      await expect(registry.connect(admin).resume(device.address)).to.emit(registry, "DeviceStatusChanged");
    });

    it("any DEVICE_ADMIN_ROLE holder acts as admin, and loses that power with the role", async function () {
      const { registry, admin, stranger, device } = await loadFixture(registeredDeviceFixture);
      const role = await registry.DEVICE_ADMIN_ROLE();
      await registry.connect(admin).grantRole(role, stranger.address);
      await expect(registry.connect(stranger).suspend(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Active, Status.Suspended, stranger.address);
      await registry.connect(admin).revokeRole(role, stranger.address);
      await expect(registry.connect(stranger).resume(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, stranger.address);
    });

    it("reverts with DeviceInvalidStatusTransition for suspend of a Suspended and resume of an Active device", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).resume(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
        .withArgs(device.address, Status.Active, Status.Active);
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(owner).suspend(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
        .withArgs(device.address, Status.Suspended, Status.Suspended);
    });

    it("the owner revokes an Active device", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).revoke(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Active, Status.Revoked, owner.address);
      expect(await registry.ownerAndStatus(device.address)).to.deep.equal([owner.address, Status.Revoked]);
    });

    it("an admin revokes a Suspended device", async function () {
      const { registry, admin, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(admin).revoke(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Suspended, Status.Revoked, admin.address);
    });

    it("revocation is final: no resume, suspend, revoke, anchor or re-registration", async function () {
      const { registry, admin, owner, device, registerDevice } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).revoke(device.address);
      for (const who of [owner, admin]) {
        await expect(registry.connect(who).resume(device.address))
          .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
          .withArgs(device.address, Status.Revoked, Status.Active);
        await expect(registry.connect(who).suspend(device.address))
          .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
          .withArgs(device.address, Status.Revoked, Status.Suspended);
        await expect(registry.connect(who).revoke(device.address))
          .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
          .withArgs(device.address, Status.Revoked, Status.Revoked);
      }
      await expect(registry.connect(owner).anchorBatch(device.address, id("root"), 0n, 0n, "ipfs://b"))
        .to.be.revertedWithCustomError(registry, "DeviceNotActive")
        .withArgs(device.address, Status.Revoked);
      await expect(registerDevice(device, owner))
        .to.be.revertedWithCustomError(registry, "DeviceAlreadyRegistered")
        .withArgs(device.address);
    });

    it("reverts with DeviceUnauthorized for strangers, gateways and other owners", async function () {
      const { registry, owners, gateway, stranger, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).setGateway(gateway.address, true);
      for (const caller of [stranger, gateway, owners[1]]) {
        for (const action of ["suspend", "resume", "revoke"] as const) {
          await expect(registry.connect(caller)[action](device.address))
            .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
            .withArgs(device.address, caller.address);
        }
      }
    });
  });

  describe("unregistered devices", function () {
    it("every device function reverts with DeviceNotRegistered", async function () {
      const { registry, admin, owners, devices } = await loadFixture(deployRegistryFixture);
      const device = devices[0].address;
      const [owner] = owners;
      // Thunks, so that each transaction is sent only after the previous one was refused.
      const calls = [
        () => registry.connect(owner).updateMetadata(device, ZeroHash, "ipfs://m", MaxUint256, "0x"),
        () => registry.connect(admin).suspend(device),
        () => registry.connect(admin).resume(device),
        () => registry.connect(admin).revoke(device),
        () => registry.connect(owner).proposeOwner(device, owners[1].address),
        () => registry.connect(owner).acceptOwnership(device),
        () => registry.connect(owner).anchorBatch(device, id("root"), 0n, 0n, "ipfs://b"),
      ];
      for (const call of calls) {
        await expect(call()).to.be.revertedWithCustomError(registry, "DeviceNotRegistered").withArgs(device);
      }
    });

    it("views return zero values", async function () {
      const { registry, devices } = await loadFixture(deployRegistryFixture);
      const device = devices[0].address;
      expect(await registry.ownerAndStatus(device)).to.deep.equal([ZeroAddress, Status.None]);
      const stored = await registry.getDevice(device);
      expect(stored.owner).to.equal(ZeroAddress);
      expect(stored.status).to.equal(Status.None);
      expect(stored.registeredAt).to.equal(0n);
      expect(await registry.nonces(device)).to.equal(0n);
      expect(await registry.pendingOwner(device)).to.equal(ZeroAddress);
      const anchor = await registry.anchorOf(device, id("root"));
      expect(anchor.device).to.equal(ZeroAddress);
      expect(anchor.anchoredAt).to.equal(0n);
    });
  });

  describe("ownership transfer", function () {
    it("proposeOwner records the pending owner and emits DeviceOwnershipTransferStarted", async function () {
      const { registry, owners, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).proposeOwner(device.address, owners[1].address))
        .to.emit(registry, "DeviceOwnershipTransferStarted")
        .withArgs(device.address, owner.address, owners[1].address);
      expect(await registry.pendingOwner(device.address)).to.equal(owners[1].address);
      expect((await registry.getDevice(device.address)).owner).to.equal(owner.address);
    });

    it("acceptOwnership moves the device and emits DeviceOwnershipTransferred", async function () {
      const { registry, owners, owner, device } = await loadFixture(registeredDeviceFixture);
      const newOwner = owners[1];
      await registry.connect(owner).proposeOwner(device.address, newOwner.address);
      await expect(registry.connect(newOwner).acceptOwnership(device.address))
        .to.emit(registry, "DeviceOwnershipTransferred")
        .withArgs(device.address, owner.address, newOwner.address);
      expect(await registry.ownerAndStatus(device.address)).to.deep.equal([newOwner.address, Status.Active]);
      expect(await registry.pendingOwner(device.address)).to.equal(ZeroAddress);
      await expect(registry.connect(newOwner).acceptOwnership(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceNotPendingOwner")
        .withArgs(device.address, newOwner.address, ZeroAddress);
    });

    it("reverts with DeviceNotPendingOwner for anyone but the proposed owner", async function () {
      const { registry, owners, owner, stranger, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).proposeOwner(device.address, owners[1].address);
      for (const caller of [stranger, owner]) {
        await expect(registry.connect(caller).acceptOwnership(device.address))
          .to.be.revertedWithCustomError(registry, "DeviceNotPendingOwner")
          .withArgs(device.address, caller.address, owners[1].address);
      }
    });

    it("reverts with DeviceNotPendingOwner when nothing is pending", async function () {
      const { registry, owners, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owners[1]).acceptOwnership(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceNotPendingOwner")
        .withArgs(device.address, owners[1].address, ZeroAddress);
    });

    it("proposing the zero address cancels a pending proposal", async function () {
      const { registry, owners, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).proposeOwner(device.address, owners[1].address);
      await expect(registry.connect(owner).proposeOwner(device.address, ZeroAddress))
        .to.emit(registry, "DeviceOwnershipTransferStarted")
        .withArgs(device.address, owner.address, ZeroAddress);
      expect(await registry.pendingOwner(device.address)).to.equal(ZeroAddress);
      await expect(registry.connect(owners[1]).acceptOwnership(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceNotPendingOwner")
        .withArgs(device.address, owners[1].address, ZeroAddress);
    });

    it("reverts with DeviceUnauthorized when a non-owner (even the pending owner) proposes", async function () {
      const { registry, owners, owner, stranger, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).proposeOwner(device.address, owners[1].address);
      for (const caller of [stranger, owners[1]]) {
        await expect(registry.connect(caller).proposeOwner(device.address, caller.address))
          .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
          .withArgs(device.address, caller.address);
      }
    });

    it("the old owner and its gateway lose their rights; the new owner gains them", async function () {
      const { registry, owners, owner, gateway, device, domain } = await loadFixture(registeredDeviceFixture);
      const newOwner = owners[1];
      await registry.connect(owner).setGateway(gateway.address, true);
      await registry.connect(owner).proposeOwner(device.address, newOwner.address);
      await registry.connect(newOwner).acceptOwnership(device.address);

      for (const caller of [owner, gateway]) {
        await expect(registry.connect(caller).anchorBatch(device.address, id("old"), 0n, 0n, "ipfs://b"))
          .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
          .withArgs(device.address, caller.address);
      }
      await expect(registry.connect(owner).suspend(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, owner.address);
      await expect(registry.connect(owner).proposeOwner(device.address, owner.address))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, owner.address);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, owner.address);

      await expect(registry.connect(newOwner).anchorBatch(device.address, id("new"), 0n, 3n, "ipfs://b"))
        .to.emit(registry, "BatchAnchored")
        .withArgs(device.address, id("new"), 0n, 3n, "ipfs://b", newOwner.address);
      await expect(registry.connect(newOwner).suspend(device.address))
        .to.emit(registry, "DeviceStatusChanged")
        .withArgs(device.address, Status.Active, Status.Suspended, newOwner.address);
      const forNewOwner = await updateBinding(device, newOwner.address, domain, 1n);
      await expect(
        registry
          .connect(newOwner)
          .updateMetadata(
            device.address,
            forNewOwner.binding.metadataHash,
            forNewOwner.uri,
            forNewOwner.binding.deadline,
            forNewOwner.signature,
          ),
      ).to.emit(registry, "DeviceMetadataUpdated");
    });
  });

  describe("gateways", function () {
    it("setGateway records the authorisation and emits GatewaySet", async function () {
      const { registry, owner, gateway } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).setGateway(gateway.address, true))
        .to.emit(registry, "GatewaySet")
        .withArgs(owner.address, gateway.address, true);
      expect(await registry.isGateway(owner.address, gateway.address)).to.equal(true);
      await expect(registry.connect(owner).setGateway(gateway.address, false))
        .to.emit(registry, "GatewaySet")
        .withArgs(owner.address, gateway.address, false);
      expect(await registry.isGateway(owner.address, gateway.address)).to.equal(false);
    });

    it("reverts with DeviceZeroAddress for the zero gateway", async function () {
      const { registry, owner } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).setGateway(ZeroAddress, true)).to.be.revertedWithCustomError(registry, "DeviceZeroAddress");
    });

    it("an authorised gateway anchors for the owner's device", async function () {
      const { registry, owner, gateway, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).setGateway(gateway.address, true);
      await expect(registry.connect(gateway).anchorBatch(device.address, id("gw"), 0n, 9n, "ipfs://gw"))
        .to.emit(registry, "BatchAnchored")
        .withArgs(device.address, id("gw"), 0n, 9n, "ipfs://gw", gateway.address);
    });

    it("a de-authorised gateway cannot anchor", async function () {
      const { registry, owner, gateway, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).setGateway(gateway.address, true);
      await registry.connect(owner).setGateway(gateway.address, false);
      await expect(registry.connect(gateway).anchorBatch(device.address, id("gw"), 0n, 9n, "ipfs://gw"))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, gateway.address);
    });

    it("a gateway of another owner cannot anchor", async function () {
      const { registry, owners, gateway, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owners[1]).setGateway(gateway.address, true);
      await expect(registry.connect(gateway).anchorBatch(device.address, id("gw"), 0n, 9n, "ipfs://gw"))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, gateway.address);
    });
  });
});

networkHelpers;
