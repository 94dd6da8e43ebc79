import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers, networkHelpers } from "./network.ts";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Wallet, id, type Signer } from "ethers";
import type { Logger } from "pino";
import pino from "pino";
import { registerDevice, type Ai4iRow } from "@triad/sdk";
import type { OracleConfig, TickResult } from "@triad/oracle";
import { createOracle } from "@triad/oracle";
import { loadModel, type LoadedModel } from "@triad/oracle/model";
import { deployInsuranceFixture } from "./insurance-fixtures.ts";
import { makeAnchoredBundle } from "./evidence-fixtures.ts";

const { time } = networkHelpers;

let modelPromise: Promise<LoadedModel> | undefined;

/** The shipped model, loaded once per test process (on the cpu backend: deterministic and always available). */
export function sharedModel(): Promise<LoadedModel> {
  modelPromise ??= loadModel(undefined, { backend: "cpu" });
  return modelPromise;
}

/** What test claims ask for (tUSD has 6 decimals); policies cover twice that. */
export const CLAIM_AMOUNT = 10n * 10n ** 6n;

/** The product's waiting period (incidents before policy start + this are not covered) plus margin. */
const COVERAGE_DELAY = 86_400 + 2 * 3600;

/**
 * The committees an oracle fixture can have. The committee requires a strict majority (audit I-4), so the only
 * committee in which one member decides alone is a committee of one.
 * - `1`: 1 of 1, member 0 alone (single-daemon tests: one signature finalises);
 * - `3`: 2 of 3, the insurance fixture's committee (committee tests: two daemons decide).
 */
export type OracleCommitteeSize = 1 | 3;

/**
 * The insurance suite (`deployInsuranceFixture`) with the shipped model approved (committee and both products), a
 * committee of `committeeSize` (1: member 0 alone, threshold 1; 3: threshold 2) whose member wallets and keys
 * (`members`, `memberKeys`: exactly the committee's) are funded and connected, device A (the insurance fixture's device) and
 * device B registered to `holder`, and policy `policyId` on device A of the parametric product (no deductible, paid
 * in the verdict's transaction) past its waiting period, so readings of the last hour lie inside the policy period.
 * `gateway` is an account the holder authorised as a gateway (it anchors test readings as a real gateway would);
 * `bundle` signs AI4I rows as anchored `triad.evidence/v2` evidence; `fileClaim` files a claim; `insureNewDevice` adds
 * a device with its policy.
 * `loadFixture` needs one named function without parameters per configuration (it passes the connection as the first
 * argument): {@link deployOracleFixture} (1 of 1) or {@link deployOracleCommitteeFixture} (2 of 3).
 */
export async function createOracleFixture(committeeSize: OracleCommitteeSize) {
  const model = await sharedModel();
  const base = await deployInsuranceFixture();
  const { claims, registry, committee, admin, insurer, holder, token, parametricProductId } = base;
  const committeeMembers = base.members.slice(0, committeeSize);
  if (!(await committee.isModelApproved(model.modelHash))) {
    await (await committee.connect(admin).approveModel(model.modelHash, "test", "file://oracle/model")).wait();
  }
  for (const product of [base.productId, parametricProductId]) {
    if (!(await claims.isProductModel(product, model.modelHash))) {
      await (await claims.connect(insurer).setProductModel(product, model.modelHash, true)).wait();
    }
  }
  if (committeeSize === 1) {
    // 2 of 3 → 1 of 1 in one step (1 of 3 is no majority).
    const others = base.members.slice(1).map((m) => m.address);
    await (await committee.connect(admin).reconfigure(others, [], 1)).wait();
  }
  const members = committeeMembers.map((m) => m.connect(ethers.provider));
  for (const m of members) await (await admin.sendTransaction({ to: m.address, value: 10n ** 20n })).wait();
  // Claim deposits for many claims (benchmark).
  await (await token.connect(admin).mint(holder.address, 10n ** 15n)).wait();

  const deviceA = base.deviceKey;
  const deviceB = new Wallet(id("triad/test/oracle/device/B"));
  // The holder's gateway: it anchors the holder's devices' readings (one fleet anchor per bundle).
  const gateway = new Wallet(id("triad/test/oracle/gateway"), ethers.provider);
  await (await admin.sendTransaction({ to: gateway.address, value: 10n ** 20n })).wait();
  await (await registry.connect(holder).setGateway(gateway.address, true)).wait();
  await registerDevice(registry.connect(holder), { deviceKey: deviceB });
  const policyId = await buyPolicy(deviceA.address);
  const policy = await claims.getPolicy(policyId);
  await time.increase(COVERAGE_DELAY);
  const { chainId } = await ethers.provider.getNetwork();
  const registryAddress = await registry.getAddress();
  const addresses = { claims: await claims.getAddress(), registry: registryAddress, committee: await committee.getAddress() };

  async function buyPolicy(device: string): Promise<bigint> {
    await (await claims.connect(holder).buyPolicy(parametricProductId, device, CLAIM_AMOUNT * 2n, 30 * 86400)).wait();
    return claims.policyCount();
  }

  /**
   * An anchored v2 bundle of `rows` signed by `device` (default A), the last reading at `incidentAt`, with the
   * readings just before and after the model's window, anchored now by `gateway` (or `anchorer`). The default
   * `incidentAt` leaves the reading after the window two minutes in the past.
   */
  async function bundle(
    rows: readonly Ai4iRow[],
    options: { device?: Wallet; incidentAt?: bigint; startSeq?: bigint; interval?: bigint; anchorer?: Signer } = {},
  ) {
    const incidentAt = options.incidentAt ?? BigInt(await time.latest()) - BigInt(model.metadata.window.afterSeconds) - 120n;
    const signed = await makeAnchoredBundle({
      deviceKey: options.device ?? deviceA,
      chainId,
      anchorer: registry.connect(options.anchorer ?? gateway),
      rows,
      incidentAt,
      window: model.metadata.window,
      startSeq: options.startSeq,
      interval: options.interval,
    });
    return { incidentAt, ...signed };
  }

  /** Files a claim on policy `policyId` and returns its id. */
  async function fileClaim(args: {
    hash: string;
    uri: string;
    incidentAt: bigint;
    amount?: bigint;
    policy?: bigint;
    from?: HardhatEthersSigner;
  }) {
    const tx = await claims
      .connect(args.from ?? holder)
      .fileClaim(args.policy ?? policyId, args.amount ?? CLAIM_AMOUNT, args.incidentAt, args.hash, args.uri);
    await tx.wait();
    return claims.claimCount();
  }

  /**
   * Insures new devices (a device has one policy at a time) and lets the waiting period pass, so the last hour of
   * readings lies inside the new policies' period. Returns the device keys and policy ids.
   */
  async function insureNewDevices(seeds: readonly string[]) {
    const out: { device: Wallet; policyId: bigint }[] = [];
    for (const seed of seeds) {
      const device = new Wallet(id(`triad/test/oracle/device/${seed}`));
      await registerDevice(registry.connect(holder), { deviceKey: device });
      out.push({ device, policyId: await buyPolicy(device.address) });
    }
    await time.increase(COVERAGE_DELAY);
    return out;
  }
  const insureNewDevice = async (seed: string) => (await insureNewDevices([seed]))[0];

  return {
    ...base,
    model,
    members,
    memberKeys: base.memberKeys.slice(0, committeeSize),
    deviceA,
    deviceB,
    gateway,
    policyId,
    policy,
    chainId,
    addresses,
    bundle,
    fileClaim,
    buyPolicy,
    insureNewDevice,
    insureNewDevices,
  };
}

/** The oracle fixture with a 1-of-1 committee (member 0 alone): one daemon's signature finalises. */
export function deployOracleFixture() {
  return createOracleFixture(1);
}

/** The oracle fixture with the 2-of-3 committee (three member wallets): two daemons' signatures decide. */
export function deployOracleCommitteeFixture() {
  return createOracleFixture(3);
}

export type OracleFixture = Awaited<ReturnType<typeof createOracleFixture>>;

/** A fresh temporary directory for checkpoints. */
export function tempDir(prefix = "triad-oracle-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Oracle settings for tests: no confirmations (automine), fast polling, local evidence only, short timeouts. */
export function testConfig(overrides: Partial<OracleConfig> = {}): Partial<OracleConfig> {
  return {
    confirmations: 0,
    pollIntervalMs: 50,
    metricsPort: undefined,
    checkpointFile: path.join(tempDir(), "checkpoint.json"),
    batchSize: 8,
    rpcRetries: 1,
    rpcRetryBaseMs: 10,
    verifyWorkers: 0,
    // Committee turns off: these tests tick members one at a time on an automining chain, where a backup's delay
    // would pass only with other traffic (packages/oracle/test/turns.test.ts turns them on).
    backupDelayBlocks: 0,
    ...overrides,
    evidence: {
      schemes: ["http"],
      hosts: ["127.0.0.1:*"], // the tests' evidence servers listen on free ports
      maxBytes: 64 * 1024,
      timeoutMs: 400,
      retries: 1,
      retryDelayMs: 20,
      ...(overrides.evidence ?? {}),
    },
  };
}

/**
 * An in-process oracle for committee member `member` on the in-process Hardhat chain. `onTick` sees every tick's
 * result (the poll loop's too), with its per-claim outcomes.
 */
export function oracleFor(
  f: OracleFixture,
  member: Signer,
  options: { config?: Partial<OracleConfig>; logger?: Logger; onTick?: (result: TickResult) => void } = {},
) {
  return createOracle({
    provider: ethers.provider,
    signer: member,
    addresses: f.addresses,
    model: f.model,
    config: testConfig(options.config),
    logger: options.logger ?? pino({ level: "silent" }),
    onTick: options.onTick,
  });
}
