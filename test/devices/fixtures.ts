import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Wallet, id } from "ethers";
import { ethers } from "hardhat";
import { AI4I_SCHEMA, deviceRegistryDomain, prepareRegistration, type DeviceMetadata, type Registration } from "../../sdk";

/** How long test bindings stay valid after the latest block. */
export const BINDING_TTL = 3600n;

/** A plausible `ai4i-2020/v1` metadata document; override fields to make distinct ones. */
export function deviceMetadata(overrides: Partial<DeviceMetadata> = {}): DeviceMetadata {
  return { schema: "triad.device/v1", sensorSchema: AI4I_SCHEMA, model: "mill-sensor-x1", firmware: "1.0.0", ...overrides };
}

/**
 * A fresh DeviceRegistry administered by `admin`, two device owners, a gateway account, an unprivileged `stranger`,
 * three device keys that hold no ether and are not Hardhat accounts (devices only sign), the EIP-712 domain, and
 * `registerDevice`, which has the device key sign a binding to `owner` with the SDK and submits it as `owner`.
 * The device keys are fixed so that failures reproduce.
 */
export async function deployRegistryFixture() {
  const [admin, ownerA, ownerB, gateway, stranger] = await ethers.getSigners();
  const registry = await ethers.deployContract("DeviceRegistry", [admin.address]);
  const { chainId } = await ethers.provider.getNetwork();
  const domain = deviceRegistryDomain(chainId, await registry.getAddress());
  const devices = [1, 2, 3].map((i) => new Wallet(id(`triad/test/device/${i}`)));

  async function registerDevice(
    device: Wallet,
    owner: HardhatEthersSigner,
    options: { metadata?: DeviceMetadata; metadataURI?: string; deadline?: bigint } = {},
  ): Promise<Registration> {
    const registration = await prepareRegistration({
      deviceKey: device,
      owner: owner.address,
      domain,
      metadata: options.metadata ?? deviceMetadata(),
      metadataURI: options.metadataURI ?? `ipfs://metadata/${device.address}`,
      nonce: await registry.nonces(device.address),
      deadline: options.deadline ?? BigInt(await time.latest()) + BINDING_TTL,
    });
    const { sensorSchema, metadataHash, metadataURI, deadline, signature } = registration;
    await (
      await registry.connect(owner).register(device.address, sensorSchema, metadataHash, metadataURI, deadline, signature)
    ).wait();
    return registration;
  }

  return {
    registry,
    admin,
    owners: [ownerA, ownerB] as const,
    gateway,
    stranger,
    devices,
    chainId,
    domain,
    registerDevice,
  };
}

/** {@link deployRegistryFixture} with `devices[0]` registered (Active) to `owners[0]`. */
export async function registeredDeviceFixture() {
  const fixture = await deployRegistryFixture();
  const device = fixture.devices[0];
  const registration = await fixture.registerDevice(device, fixture.owners[0]);
  return { ...fixture, device, owner: fixture.owners[0], registration };
}
