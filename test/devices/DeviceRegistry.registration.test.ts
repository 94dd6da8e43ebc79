import { ethers, networkHelpers } from "@triad/devkit/network";
import { expect } from "chai";
import { MaxUint256, TypedDataEncoder, Wallet, ZeroAddress, ZeroHash, id } from "ethers";
import {
  AI4I_SCHEMA,
  DEVICE_BINDING_TYPES,
  READING_TYPES,
  ROLES,
  metadataHash,
  prepareRegistration,
  recoverDeviceBinding,
  sensorSchemaId,
  signDeviceBinding,
  type DeviceBinding,
} from "@triad/sdk";
import {
  BINDING_TTL,
  Status,
  deployRegistryFixture,
  deviceMetadata,
  registeredDeviceFixture,
  twoRegistriesFixture,
  updateBinding,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

/** DeviceRegistry: deployment, registration of a device by its signed binding, and metadata updates. */
describe("DeviceRegistry", function () {
  describe("deployment", function () {
    it("grants DEFAULT_ADMIN_ROLE and DEVICE_ADMIN_ROLE to the admin only", async function () {
      const { registry, admin, stranger } = await loadFixture(deployRegistryFixture);
      const deviceAdminRole = await registry.DEVICE_ADMIN_ROLE();
      expect(deviceAdminRole).to.equal(ROLES.DEVICE_ADMIN_ROLE);
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
        .withArgs(device.address, owner.address, sensorSchemaId(AI4I_SCHEMA), metadataHash(meta), "ipfs://device-0");

      const stored = await registry.getDevice(device.address);
      expect(stored.owner).to.equal(owner.address);
      expect(stored.status).to.equal(Status.Active);
      expect(stored.adminHold).to.equal(false);
      expect(stored.nextSeq).to.equal(0n);
      expect(stored.registeredAt).to.equal(BigInt(await time.latest()));
      expect(stored.sensorSchema).to.equal(sensorSchemaId(AI4I_SCHEMA));
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
      await expect(registry.connect(owners[0]).register(device.address, sensorSchemaId(), ZeroHash, "ipfs://d", MaxUint256, "0x1234"))
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
        registry
          .connect(stranger)
          .register(binding.device, sensorSchemaId(), binding.metadataHash, "ipfs://d", binding.deadline, signature),
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
      await expect(registry.connect(owners[0]).register(reg.device, reg.sensorSchema, forged, reg.metadataURI, reg.deadline, reg.signature))
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
          .updateMetadata(
            device.address,
            registration.metadataHash,
            registration.metadataURI,
            registration.deadline,
            registration.signature,
          ),
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

    it("allows an update while the device is suspended by its owner (only revocation and an admin hold block it)", async function () {
      const { registry, owner, device, domain } = await loadFixture(registeredDeviceFixture);
      await registry.connect(owner).suspend(device.address);
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
});

networkHelpers;
