/**
 * Using Triad from a dApp: TypeChain types for the contracts, the SDK for the protocol. This file is compiled by
 * `npm run lint` and run against a fresh deployment by e2e/dapp-example.test.ts, so the README's example
 * cannot rot.
 */
import type { Signer, Wallet } from "ethers";
import { ClaimsInsurance__factory, DeviceRegistry__factory, IERC20__factory } from "@triad/contracts";
import { buyPolicy, deviceRegistryDomain, loadDeployment, registerDevice, signReading, type SignedReading } from "@triad/sdk/node";

/** Registers a device the owner holds the key of, insures it for 30 days and signs a first reading. */
export async function insureNewDevice(owner: Signer, deviceKey: Wallet): Promise<{ policyId: bigint; reading: SignedReading }> {
  const { chainId } = await owner.provider!.getNetwork();
  const deployment = loadDeployment(chainId, { required: ["DeviceRegistry", "ClaimsInsurance"] });
  const registry = DeviceRegistry__factory.connect(deployment.contracts.DeviceRegistry!, owner);
  const claims = ClaimsInsurance__factory.connect(deployment.contracts.ClaimsInsurance!, owner);
  const token = IERC20__factory.connect(deployment.token!, owner);

  // The device's own key signs the EIP-712 DeviceBinding: nobody can register a key they do not hold.
  const { device } = await registerDevice(registry, { deviceKey, model: "cnc-mill", firmware: "2.1.0" });

  // Insure it with the deployment's default product: 1,000 tokens of cover (6 decimals) for 30 days.
  const productId = await claims.productCount();
  const { policyId } = await buyPolicy(claims, token, { productId, device, coverage: 1_000n * 10n ** 6n, durationSeconds: 30n * 86_400n });

  // The device signs each reading; the owner later anchors batches of them (anchorReadings) as Merkle roots.
  const domain = deviceRegistryDomain(chainId, await registry.getAddress());
  const reading = await signReading(deviceKey, domain, {
    device,
    seq: 1n,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
    values: [298_100n, 308_600n, 1_551n, 42_800n, 0n, 1n], // ai4i-2020/v1: mK, mK, rpm, mNm, min, variant
  });
  return { policyId, reading };
}
