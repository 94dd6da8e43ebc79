import { ethers } from "./network.ts";
import { Wallet, id, keccak256, toUtf8Bytes, type TypedDataDomain } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AI4I_SCHEMA,
  GatewayPolicy,
  claimsDomain,
  enumValue,
  registerDevice as registerDeviceAction,
  sensorSchemaId,
  type DeviceMetadata,
} from "@triad/sdk";
import type { IClaimsInsurance } from "@triad/contracts";
import type { DeviceRegistry } from "@triad/contracts";

/** One whole unit of the 6-decimal TestToken. */
export const UNIT = 10n ** 6n;
export const DAY = 24n * 60n * 60n;

/** The model hash the fixture's committee approves (stands in for keccak256(model.json ‖ weights)). */
export const MODEL_HASH = keccak256(toUtf8Bytes("triad test model v1"));

/** Deterministic committee member keys, so oracle and e2e tests can run daemons with known keys. */
export const MEMBER_KEYS: readonly string[] = [0, 1, 2].map((i) => id(`triad.test.committee.member.${i}`));

/** Deterministic device key of the fixture's registered device. */
export const DEVICE_KEY = id("triad.test.device.0");

/** Pool parameters of the fixture. */
export const MAX_UTILISATION_BPS = 8_000n;
export const PROTOCOL_FEE_BPS = 1_000n;
export const LP_DEPOSIT = 100_000n * UNIT;
/** Withdrawal cooldown of the fixture's pool: the standard product's assessment (3 days) + appeal (2 days) windows. */
export const WITHDRAWAL_COOLDOWN = 5n * DAY;
export const HOLDER_FUNDS = 10_000n * UNIT;

/**
 * The fixture's standard product: 2-day appeal window; readings must be anchored within an hour, by any gateway the
 * device's owner authorised; a claim's incident window is [incidentAt − 600 s, incidentAt + 900 s] (the shipped
 * model's window, docs/protocol.md §8.3).
 */
export const STANDARD_PRODUCT: IClaimsInsurance.ProductStruct = {
  maxCoverage: 10_000n * UNIT,
  deductible: 100n * UNIT,
  claimDeposit: 50n * UNIT,
  premiumRateBps: 500,
  waitingPeriod: DAY,
  claimWindow: 7n * DAY,
  assessmentWindow: 3n * DAY,
  appealWindow: 2n * DAY,
  minDuration: 30n * DAY,
  maxDuration: 365n * DAY,
  maxAnchorDelay: 3_600n,
  incidentWindowBefore: 600n,
  incidentWindowAfter: 900n,
  sensorSchema: sensorSchemaId(AI4I_SCHEMA),
  gatewayPolicy: enumValue(GatewayPolicy, "AnyAuthorised"),
  active: true,
};

/** Parametric cover: zero appeal window (pays in the verdict's transaction), no deductible. */
export const PARAMETRIC_PRODUCT: IClaimsInsurance.ProductStruct = {
  ...STANDARD_PRODUCT,
  deductible: 0n,
  appealWindow: 0n,
};

export const DEVICE_METADATA: DeviceMetadata = {
  schema: "triad.device/v1",
  sensorSchema: AI4I_SCHEMA,
  model: "AI4I test rig",
  firmware: "1.0.0",
};

/** Registers the device with key `deviceKey` to `owner` (the SDK action: the device signs the binding). */
export async function registerDevice(
  registry: DeviceRegistry,
  owner: HardhatEthersSigner,
  deviceKey: Wallet,
  metadata: DeviceMetadata = DEVICE_METADATA,
): Promise<string> {
  const { device } = await registerDeviceAction(registry.connect(owner), {
    deviceKey,
    sensorSchema: metadata.sensorSchema,
    model: metadata.model,
    firmware: metadata.firmware,
    metadataURI: `ipfs://device/${deviceKey.address}`,
  });
  return device;
}

/**
 * The whole insurance deployment: DeviceRegistry, TestToken, OracleCommittee (3 members, threshold 2, MODEL_HASH
 * approved), InsurancePool (80% max utilisation, 10% protocol fee, 5-day withdrawal cooldown, LP1 deposited 100,000 tUSD), ClaimsInsurance
 * (roles granted, product 1 = STANDARD_PRODUCT, product 2 = PARAMETRIC_PRODUCT, MODEL_HASH allowed for both), and
 * one Active ai4i-2020/v1 device registered to `holder`, who holds 10,000 tUSD and has approved the claims contract.
 */
export async function deployInsuranceFixture() {
  const [admin, insurer, arbiter, guardian, treasury, lp1, lp2, holder, other] = await ethers.getSigners();
  const { chainId } = await ethers.provider.getNetwork();

  const members = MEMBER_KEYS.map((k) => new Wallet(k));
  const memberAddresses = members.map((m) => m.address);

  const token = await ethers.deployContract("TestToken", [admin.address]);
  const registry = await ethers.deployContract("DeviceRegistry", [admin.address]);
  const committee = await ethers.deployContract("OracleCommittee", [admin.address, memberAddresses, 2]);
  await committee.approveModel(MODEL_HASH, "1.0.0", "ipfs://triad/model/v1");
  const pool = await ethers.deployContract("InsurancePool", [
    await token.getAddress(),
    admin.address,
    treasury.address,
    MAX_UTILISATION_BPS,
    PROTOCOL_FEE_BPS,
    WITHDRAWAL_COOLDOWN,
  ]);
  const claims = await ethers.deployContract("ClaimsInsurance", [
    admin.address,
    await pool.getAddress(),
    await committee.getAddress(),
    await registry.getAddress(),
  ]);
  await pool.grantRole(await pool.CLAIMS_ROLE(), await claims.getAddress());
  await claims.grantRole(await claims.INSURER_ROLE(), insurer.address);
  await claims.grantRole(await claims.ARBITER_ROLE(), arbiter.address);
  await claims.grantRole(await claims.GUARDIAN_ROLE(), guardian.address);

  for (const lp of [lp1, lp2]) {
    await token.mint(lp.address, LP_DEPOSIT);
    await token.connect(lp).approve(await pool.getAddress(), ethers.MaxUint256);
  }
  await pool.connect(lp1).deposit(LP_DEPOSIT, lp1.address);

  for (const account of [holder, other]) {
    await token.mint(account.address, HOLDER_FUNDS);
    await token.connect(account).approve(await claims.getAddress(), ethers.MaxUint256);
  }

  const deviceKey = new Wallet(DEVICE_KEY);
  const device = await registerDevice(registry, holder, deviceKey);

  await claims.connect(insurer).createProduct(STANDARD_PRODUCT);
  await claims.connect(insurer).createProduct(PARAMETRIC_PRODUCT);
  const productId = 1n;
  const parametricProductId = 2n;
  await claims.connect(insurer).setProductModel(productId, MODEL_HASH, true);
  await claims.connect(insurer).setProductModel(parametricProductId, MODEL_HASH, true);

  const domain: TypedDataDomain = claimsDomain(chainId, await claims.getAddress());

  return {
    // signers
    admin,
    insurer,
    arbiter,
    guardian,
    treasury,
    lp1,
    lp2,
    holder,
    other,
    // committee member wallets and their private keys (slots 0, 1, 2)
    members,
    memberKeys: MEMBER_KEYS,
    // device
    deviceKey,
    device,
    // contracts
    token,
    registry,
    committee,
    pool,
    claims,
    // configuration
    chainId,
    domain,
    modelHash: MODEL_HASH,
    productId,
    parametricProductId,
  };
}

export type InsuranceFixture = Awaited<ReturnType<typeof deployInsuranceFixture>>;
