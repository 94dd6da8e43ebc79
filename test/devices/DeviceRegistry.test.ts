import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { MaxUint256, TypedDataEncoder, Wallet, ZeroAddress, ZeroHash, id } from "ethers";
import { ethers } from "hardhat";
import {
  DEVICE_BINDING_TYPES,
  READING_TYPES,
  buildReadingTree,
  deviceBindingDigest,
  deviceRegistryDomain,
  metadataHash,
  parseAi4iCsv,
  prepareRegistration,
  readingDigest,
  readingProof,
  recoverDeviceBinding,
  recoverReading,
  sensorSchemaId,
  signAi4iRows,
  signDeviceBinding,
  signReading,
  verifyReadingProof,
  type DeviceBinding,
  type Reading,
} from "../../sdk";
import { BINDING_TTL, deployRegistryFixture, deviceMetadata, registeredDeviceFixture } from "./fixtures";

/** IDeviceRegistry.DeviceStatus as the ABI returns it. */
const Status = { None: 0n, Active: 1n, Suspended: 2n, Revoked: 3n } as const;
const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const CSV_FILE = path.resolve(__dirname, "../../data/ai4i2020/ai4i2020-train.csv");
const AI4I_ROWS = parseAi4iCsv(readFileSync(CSV_FILE, "utf8"), CSV_FILE).slice(0, 16);

/** A binding for an update after registration: metadata v2 signed by the device with nonce 1. */
async function updateBinding(device: Wallet, owner: string, domain: ReturnType<typeof deviceRegistryDomain>, nonce: bigint) {
  const meta = deviceMetadata({ firmware: `2.0.${nonce}` });
  const binding: DeviceBinding = {
    device: device.address,
    owner,
    metadataHash: metadataHash(meta),
    nonce,
    deadline: BigInt(await time.latest()) + BINDING_TTL,
  };
  return { binding, uri: `ipfs://metadata/v${nonce}`, signature: await signDeviceBinding(device, domain, binding) };
}

/** `registeredDeviceFixture` plus a batch of 7 real AI4I readings (seq 0..6) signed by the device, not yet anchored. */
async function signedBatchFixture() {
  const fixture = await registeredDeviceFixture();
  const readings = await signAi4iRows({
    deviceKey: fixture.device,
    domain: fixture.domain,
    rows: AI4I_ROWS.slice(0, 7),
    startSeq: 0n,
    startTimestamp: 1_700_000_000n,
  });
  const digests = readings.map((r) => readingDigest(fixture.domain, r));
  const tree = buildReadingTree(digests);
  return { ...fixture, readings, digests, tree };
}

/** Two registries on the same chain: a binding for one must not work on the other. */
async function twoRegistriesFixture() {
  const fixture = await deployRegistryFixture();
  const otherRegistry = await ethers.deployContract("DeviceRegistry", [fixture.admin.address]);
  const otherDomain = deviceRegistryDomain(fixture.chainId, await otherRegistry.getAddress());
  return { ...fixture, otherRegistry, otherDomain };
}

describe("DeviceRegistry", function () {
  describe("deployment", function () {
    it("grants DEFAULT_ADMIN_ROLE and DEVICE_ADMIN_ROLE to the admin only", async function () {
      const { registry, admin, stranger } = await loadFixture(deployRegistryFixture);
      const deviceAdminRole = await registry.DEVICE_ADMIN_ROLE();
      expect(deviceAdminRole).to.equal(id("DEVICE_ADMIN_ROLE"));
      expect(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await registry.hasRole(deviceAdminRole, admin.address)).to.equal(true);
      expect(await registry.hasRole(deviceAdminRole, stranger.address)).to.equal(false);
    });

    it("reverts with DeviceZeroAddress for a zero admin", async function () {
      const factory = await ethers.getContractFactory("DeviceRegistry");
      await expect(factory.deploy(ZeroAddress)).to.be.revertedWithCustomError(factory, "DeviceZeroAddress");
    });

    it("uses the EIP-712 domain and type hashes of the SDK", async function () {
      const { registry, domain } = await loadFixture(deployRegistryFixture);
      const [, name, version, chainId, verifyingContract] = await registry.eip712Domain();
      expect({ name, version, chainId, verifyingContract }).to.deep.equal(domain);
      expect(await registry.DEVICE_BINDING_TYPEHASH()).to.equal(
        id(TypedDataEncoder.from(DEVICE_BINDING_TYPES).encodeType("DeviceBinding")),
      );
      expect(await registry.READING_TYPEHASH()).to.equal(id(TypedDataEncoder.from(READING_TYPES).encodeType("Reading")));
    });
  });

  describe("register", function () {
    it("registers the device to the caller and emits DeviceRegistered", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const [owner] = owners;
      const device = devices[0];
      const meta = deviceMetadata();
      const reg = await prepareRegistration({
        deviceKey: device,
        owner: owner.address,
        domain,
        metadata: meta,
        metadataURI: "ipfs://device-0",
        deadline: BigInt(await time.latest()) + BINDING_TTL,
      });

      await expect(
        registry.connect(owner).register(device.address, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature),
      )
        .to.emit(registry, "DeviceRegistered")
        .withArgs(device.address, owner.address, sensorSchemaId("ai4i-2020/v1"), metadataHash(meta), "ipfs://device-0");

      const stored = await registry.getDevice(device.address);
      expect(stored.owner).to.equal(owner.address);
      expect(stored.status).to.equal(Status.Active);
      expect(stored.adminHold).to.equal(false);
      expect(stored.nextSeq).to.equal(0n);
      expect(stored.registeredAt).to.equal(BigInt(await time.latest()));
      expect(stored.sensorSchema).to.equal(sensorSchemaId("ai4i-2020/v1"));
      expect(stored.metadataHash).to.equal(metadataHash(meta));
      expect(stored.metadataURI).to.equal("ipfs://device-0");
      expect(await registry.ownerAndStatus(device.address)).to.deep.equal([owner.address, Status.Active]);
      expect(await registry.nonces(device.address)).to.equal(1n);
    });

    it("accepts a binding in the block whose timestamp equals its deadline", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const deadline = BigInt(await time.latest()) + 100n;
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owners[0].address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline,
      });
      await time.setNextBlockTimestamp(deadline);
      await expect(
        registry.connect(owners[0]).register(reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, deadline, reg.signature),
      ).to.emit(registry, "DeviceRegistered");
    });

    it("reverts with DeviceBindingExpired(deadline, now) after the deadline", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const deadline = BigInt(await time.latest()) + 100n;
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owners[0].address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline,
      });
      await time.setNextBlockTimestamp(deadline + 1n);
      await expect(
        registry.connect(owners[0]).register(reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, deadline, reg.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceBindingExpired")
        .withArgs(deadline, deadline + 1n);
    });

    it("reverts with DeviceZeroAddress for the zero device", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owners[0].address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline: MaxUint256,
      });
      await expect(
        registry.connect(owners[0]).register(ZeroAddress, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature),
      ).to.be.revertedWithCustomError(registry, "DeviceZeroAddress");
    });

    it("reverts with DeviceAlreadyRegistered even with a fresh, valid binding", async function () {
      const { registry, owners, device, domain } = await loadFixture(registeredDeviceFixture);
      const otherOwner = owners[1];
      // The binding is correct for the device's current nonce, so only the registration check can refuse it.
      const reg = await prepareRegistration({
        deviceKey: device,
        owner: otherOwner.address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://again",
        nonce: await registry.nonces(device.address),
        deadline: MaxUint256,
      });
      await expect(
        registry.connect(otherOwner).register(reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceAlreadyRegistered")
        .withArgs(device.address);
    });

    it("reverts with DeviceInvalidSignature(device, signer) when another key signed the binding", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const [owner] = owners;
      const [device, impostor] = devices;
      const binding: DeviceBinding = {
        device: device.address,
        owner: owner.address,
        metadataHash: metadataHash(deviceMetadata()),
        nonce: 0n,
        deadline: MaxUint256,
      };
      const signature = await signDeviceBinding(impostor, domain, binding);
      await expect(
        registry.connect(owner).register(device.address, sensorSchemaId(), binding.metadataHash, "ipfs://d", binding.deadline, signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(device.address, impostor.address);
    });

    it("reverts with DeviceInvalidSignature(device, 0) for a malformed signature", async function () {
      const { registry, owners, devices } = await loadFixture(deployRegistryFixture);
      const device = devices[0];
      await expect(
        registry.connect(owners[0]).register(device.address, sensorSchemaId(), ZeroHash, "ipfs://d", MaxUint256, "0x1234"),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(device.address, ZeroAddress);
    });

    it("refuses squatting: a binding the device signed for another owner cannot be used by the caller", async function () {
      const { registry, owners, stranger, devices, domain } = await loadFixture(deployRegistryFixture);
      const device = devices[0];
      const reg = await prepareRegistration({
        deviceKey: device,
        owner: owners[0].address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline: MaxUint256,
      });
      // The contract hashes the binding with the caller as owner, so the signature recovers to an unrelated key.
      const recovered = recoverDeviceBinding(
        domain,
        { device: device.address, owner: stranger.address, metadataHash: reg.metadataHash, nonce: 0n, deadline: reg.deadline },
        reg.signature,
      );
      expect(recovered).to.not.equal(device.address);
      await expect(
        registry.connect(stranger).register(reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(device.address, recovered);
      expect((await registry.getDevice(device.address)).status).to.equal(Status.None);
    });

    it("refuses a key the caller does not hold: a binding signed by the caller's own key for the device address", async function () {
      const { registry, stranger, devices, domain } = await loadFixture(deployRegistryFixture);
      const attackerKey = new Wallet(id("attacker"));
      const binding: DeviceBinding = {
        device: devices[0].address,
        owner: stranger.address,
        metadataHash: metadataHash(deviceMetadata()),
        nonce: 0n,
        deadline: MaxUint256,
      };
      const signature = await signDeviceBinding(attackerKey, domain, binding);
      await expect(
        registry.connect(stranger).register(binding.device, sensorSchemaId(), binding.metadataHash, "ipfs://d", binding.deadline, signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(binding.device, attackerKey.address);
    });

    it("refuses metadata other than what the device signed", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owners[0].address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline: MaxUint256,
      });
      const forged = metadataHash(deviceMetadata({ firmware: "evil" }));
      const recovered = recoverDeviceBinding(
        domain,
        { device: reg.device, owner: owners[0].address, metadataHash: forged, nonce: 0n, deadline: reg.deadline },
        reg.signature,
      );
      await expect(
        registry.connect(owners[0]).register(reg.device, reg.sensorSchema, forged, reg.metadataURI, reg.deadline, reg.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(reg.device, recovered);
    });

    it("refuses a binding signed with a nonce other than the device's current one", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owners[0].address,
        domain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        nonce: 1n,
        deadline: MaxUint256,
      });
      const recovered = recoverDeviceBinding(
        domain,
        { device: reg.device, owner: owners[0].address, metadataHash: reg.metadataHash, nonce: 0n, deadline: reg.deadline },
        reg.signature,
      );
      await expect(
        registry.connect(owners[0]).register(reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(reg.device, recovered);
    });

    it("refuses a binding signed for another chain id", async function () {
      const { registry, owners, devices, domain } = await loadFixture(deployRegistryFixture);
      const foreignDomain = { ...domain, chainId: 1n };
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owners[0].address,
        domain: foreignDomain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline: MaxUint256,
      });
      const recovered = recoverDeviceBinding(
        domain,
        { device: reg.device, owner: owners[0].address, metadataHash: reg.metadataHash, nonce: 0n, deadline: reg.deadline },
        reg.signature,
      );
      expect(recovered).to.not.equal(reg.device);
      await expect(
        registry.connect(owners[0]).register(reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(reg.device, recovered);
    });

    it("refuses a binding signed for another registry, which that registry accepts", async function () {
      const { registry, otherRegistry, otherDomain, domain, owners, devices } = await loadFixture(twoRegistriesFixture);
      const [owner] = owners;
      const reg = await prepareRegistration({
        deviceKey: devices[0],
        owner: owner.address,
        domain: otherDomain,
        metadata: deviceMetadata(),
        metadataURI: "ipfs://d",
        deadline: MaxUint256,
      });
      const args = [reg.device, reg.sensorSchema, reg.metadataHash, reg.metadataURI, reg.deadline, reg.signature] as const;
      const recovered = recoverDeviceBinding(
        domain,
        { device: reg.device, owner: owner.address, metadataHash: reg.metadataHash, nonce: 0n, deadline: reg.deadline },
        reg.signature,
      );
      await expect(registry.connect(owner).register(...args))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(reg.device, recovered);
      await expect(otherRegistry.connect(owner).register(...args)).to.emit(otherRegistry, "DeviceRegistered");
    });
  });

  describe("updateMetadata", function () {
    it("lets the owner replace the metadata with a new device binding, increments the nonce and emits DeviceMetadataUpdated", async function () {
      const { registry, owner, device, domain } = await loadFixture(registeredDeviceFixture);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.emit(registry, "DeviceMetadataUpdated")
        .withArgs(device.address, binding.metadataHash, uri);
      const stored = await registry.getDevice(device.address);
      expect(stored.metadataHash).to.equal(binding.metadataHash);
      expect(stored.metadataURI).to.equal(uri);
      expect(await registry.nonces(device.address)).to.equal(2n);
    });

    it("refuses to replay a used update binding", async function () {
      const { registry, owner, device, domain } = await loadFixture(registeredDeviceFixture);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature);
      const recovered = recoverDeviceBinding(domain, { ...binding, nonce: 2n }, signature);
      await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(device.address, recovered);
    });

    it("refuses to roll the metadata back with the registration binding", async function () {
      const { registry, owner, device, domain, registration } = await loadFixture(registeredDeviceFixture);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature);
      const oldBinding: DeviceBinding = {
        device: device.address,
        owner: owner.address,
        metadataHash: registration.metadataHash,
        nonce: 2n,
        deadline: registration.deadline,
      };
      await expect(
        registry
          .connect(owner)
          .updateMetadata(device.address, registration.metadataHash, registration.metadataURI, registration.deadline, registration.signature),
      )
        .to.be.revertedWithCustomError(registry, "DeviceInvalidSignature")
        .withArgs(device.address, recoverDeviceBinding(domain, oldBinding, registration.signature));
      expect((await registry.getDevice(device.address)).metadataHash).to.equal(binding.metadataHash);
    });

    it("reverts with DeviceUnauthorized for a non-owner, even one the device signed for", async function () {
      const { registry, stranger, device, domain } = await loadFixture(registeredDeviceFixture);
      const { binding, uri, signature } = await updateBinding(device, stranger.address, domain, 1n);
      await expect(registry.connect(stranger).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.be.revertedWithCustomError(registry, "DeviceUnauthorized")
        .withArgs(device.address, stranger.address);
    });

    it("reverts with DeviceNotActive for a revoked device", async function () {
      const { registry, owner, device, domain } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).revoke(device.address);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.be.revertedWithCustomError(registry, "DeviceNotActive")
        .withArgs(device.address, Status.Revoked);
    });

    it("allows an update while the device is suspended (only revocation is final)", async function () {
      const { registry, admin, owner, device, domain } = await loadFixture(registeredDeviceFixture);
      await registry.connect(admin).suspend(device.address);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.emit(registry, "DeviceMetadataUpdated")
        .withArgs(device.address, binding.metadataHash, uri);
    });

    it("reverts with DeviceBindingExpired(deadline, now) after the deadline", async function () {
      const { registry, owner, device, domain } = await loadFixture(registeredDeviceFixture);
      const { binding, uri, signature } = await updateBinding(device, owner.address, domain, 1n);
      await time.setNextBlockTimestamp(binding.deadline + 5n);
      await expect(registry.connect(owner).updateMetadata(device.address, binding.metadataHash, uri, binding.deadline, signature))
        .to.be.revertedWithCustomError(registry, "DeviceBindingExpired")
        .withArgs(binding.deadline, binding.deadline + 5n);
    });
  });

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

    it("a second suspension by an admin of an owner-suspended device reverts and sets no hold", async function () {
      const { registry, admin, owner, device } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).suspend(device.address);
      await expect(registry.connect(admin).suspend(device.address))
        .to.be.revertedWithCustomError(registry, "DeviceInvalidStatusTransition")
        .withArgs(device.address, Status.Suspended, Status.Suspended);
      expect((await registry.getDevice(device.address)).adminHold).to.equal(false);
      await expect(registry.connect(owner).resume(device.address)).to.emit(registry, "DeviceStatusChanged");
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
      const anchor = await registry.anchorOf(id("root"));
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
          .updateMetadata(device.address, forNewOwner.binding.metadataHash, forNewOwner.uri, forNewOwner.binding.deadline, forNewOwner.signature),
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
      await expect(registry.connect(owner).setGateway(ZeroAddress, true)).to.be.revertedWithCustomError(
        registry,
        "DeviceZeroAddress",
      );
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

  describe("anchorBatch", function () {
    it("records the anchor with device and block time, advances nextSeq and emits BatchAnchored", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      const root = id("batch-0");
      await expect(registry.connect(owner).anchorBatch(device.address, root, 0n, 99n, "ipfs://batch-0"))
        .to.emit(registry, "BatchAnchored")
        .withArgs(device.address, root, 0n, 99n, "ipfs://batch-0", owner.address);
      const anchor = await registry.anchorOf(root);
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

    it("reverts with AnchorInvalidRange for toSeq == 2**64-1, and accepts 2**64-2 as the last seq", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 0n, UINT64_MAX, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, 0n, UINT64_MAX, 0n);
      await registry.connect(owner).anchorBatch(device.address, id("a"), 0n, UINT64_MAX - 1n, "ipfs://a");
      expect((await registry.getDevice(device.address)).nextSeq).to.equal(UINT64_MAX);
      await expect(registry.connect(owner).anchorBatch(device.address, id("b"), UINT64_MAX, UINT64_MAX, "ipfs://b"))
        .to.be.revertedWithCustomError(registry, "AnchorInvalidRange")
        .withArgs(device.address, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    });

    it("reverts with AnchorZeroRoot for the zero root", async function () {
      const { registry, owner, device } = await loadFixture(registeredDeviceFixture);
      await expect(registry.connect(owner).anchorBatch(device.address, ZeroHash, 0n, 0n, "ipfs://a")).to.be.revertedWithCustomError(
        registry,
        "AnchorZeroRoot",
      );
    });

    it("reverts with AnchorAlreadyExists for a root already anchored, by any device", async function () {
      const { registry, owners, owner, device, devices, registerDevice } = await loadFixture(registeredDeviceFixture);
      await registerDevice(devices[1], owners[1]);
      await registry.connect(owner).anchorBatch(device.address, id("a"), 0n, 9n, "ipfs://a");
      await expect(registry.connect(owner).anchorBatch(device.address, id("a"), 10n, 19n, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "AnchorAlreadyExists")
        .withArgs(id("a"));
      await expect(registry.connect(owners[1]).anchorBatch(devices[1].address, id("a"), 0n, 9n, "ipfs://a"))
        .to.be.revertedWithCustomError(registry, "AnchorAlreadyExists")
        .withArgs(id("a"));
      expect((await registry.anchorOf(id("a"))).device).to.equal(device.address);
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
        expect(await registry.verifyReading(tree.root, digests[i], proof)).to.equal(true);
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
        expect(await registry.verifyReading(tree.root, outsiderDigest, readingProof(tree, member))).to.equal(false);
      }
    });

    it("is false for a member with a wrong or truncated proof", async function () {
      const { registry, owner, device, digests, tree } = await loadFixture(signedBatchFixture);
      await registry.connect(owner).anchorBatch(device.address, tree.root, 0n, 6n, "ipfs://batch");
      const proofOfFirst = readingProof(tree, digests[0]);
      expect(await registry.verifyReading(tree.root, digests[0], proofOfFirst)).to.equal(true);
      expect(await registry.verifyReading(tree.root, digests[1], proofOfFirst)).to.equal(false);
      expect(await registry.verifyReading(tree.root, digests[0], proofOfFirst.slice(1))).to.equal(false);
      expect(await registry.verifyReading(tree.root, digests[0], [])).to.equal(false);
    });

    it("is false for a root that is not anchored, though the proof is valid", async function () {
      const { registry, digests, tree } = await loadFixture(signedBatchFixture);
      const proof = readingProof(tree, digests[3]);
      expect(verifyReadingProof(tree.root, digests[3], proof)).to.equal(true);
      expect(await registry.verifyReading(tree.root, digests[3], proof)).to.equal(false);
    });

    it("verifies a one-reading batch with an empty proof", async function () {
      const { registry, owner, device, digests } = await loadFixture(signedBatchFixture);
      const tree = buildReadingTree([digests[0]]);
      const proof = readingProof(tree, digests[0]);
      expect(proof).to.deep.equal([]);
      await registry.connect(owner).anchorBatch(device.address, tree.root, 0n, 0n, "ipfs://one");
      expect(await registry.verifyReading(tree.root, digests[0], proof)).to.equal(true);
      expect(await registry.verifyReading(tree.root, digests[1], proof)).to.equal(false);
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
        expect(await registry.bindingDigest(b.device, b.owner, b.metadataHash, b.nonce, b.deadline)).to.equal(deviceBindingDigest(domain, b));
      }
    });
  });
});
