import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Wallet, id } from "ethers";
import { ethers } from "hardhat";
import type { Logger } from "pino";
import pino from "pino";
import { registerDevice, type Ai4iRow } from "../../sdk";
import type { OracleModel } from "../../oracle/src/assess";
import type { OracleConfig } from "../../oracle/src/config";
import { createOracle } from "../../oracle/src/daemon";
import { loadModel } from "../../oracle/src/model";
import { deployInsuranceFixture } from "../insurance/fixtures";
import { makeBundle } from "./helpers";

let modelPromise: Promise<OracleModel> | undefined;

/** The shipped model, loaded once per test process (on the cpu backend: deterministic and always available). */
export function sharedModel(): Promise<OracleModel> {
  modelPromise ??= loadModel(undefined, { backend: "cpu" }) as Promise<OracleModel>;
  return modelPromise;
}

/** Coverage amount the test policies are bought with, and the amount test claims ask for. */
export const CLAIM_AMOUNT = 5_000_000n;

/**
 * The insurance suite with the shipped model approved (committee and product), device A registered to and insured
 * by `holder` (policy 1 runs from the fixture's time), device B registered but not insured, and two hours passed so
 * readings of the last hour lie inside the policy period. `fileClaim` stores a bundle on the evidence server (or
 * uses the URI given) and files a claim on the policy.
 */
export async function deployOracleFixture() {
  const model = await sharedModel();
  const base = await deployInsuranceFixture();
  const { claims, registry, committee, admin, insurer, holder, members, productId } = base;
  if (!(await committee.isModelApproved(model.modelHash))) {
    await (await committee.connect(admin).approveModel(model.modelHash, "test", "file://oracle/model")).wait();
  }
  if (!(await claims.isProductModel(productId, model.modelHash))) {
    await (await claims.connect(insurer).setProductModel(productId, model.modelHash, true)).wait();
  }
  await (await committee.connect(admin).setThreshold(1)).wait();

  const deviceA = new Wallet(id("triad/test/oracle/device/A"));
  const deviceB = new Wallet(id("triad/test/oracle/device/B"));
  await registerDevice(registry.connect(holder), { deviceKey: deviceA });
  await registerDevice(registry.connect(holder), { deviceKey: deviceB });
  await (await claims.connect(holder).buyPolicy(productId, deviceA.address, CLAIM_AMOUNT * 4n, 30 * 86400)).wait();
  const policyId = await claims.policyCount();
  const policy = await claims.getPolicy(policyId);
  await time.increase(2 * 3600);
  const { chainId } = await ethers.provider.getNetwork();
  const registryAddress = await registry.getAddress();
  const addresses = { claims: await claims.getAddress(), registry: registryAddress, committee: await committee.getAddress() };

  /** A bundle of `rows` signed by `device` (default A), the last reading at `incidentAt` (default 10 minutes ago). */
  async function bundle(rows: readonly Ai4iRow[], options: { device?: Wallet; incidentAt?: bigint; startSeq?: bigint } = {}) {
    const incidentAt = options.incidentAt ?? BigInt(await time.latest()) - 600n;
    return { incidentAt, ...(await makeBundle({ deviceKey: options.device ?? deviceA, chainId, registry: registryAddress, rows, incidentAt, startSeq: options.startSeq })) };
  }

  /** Files a claim on policy `policyId` and returns its id. */
  async function fileClaim(args: { hash: string; uri: string; incidentAt: bigint; amount?: bigint; policy?: bigint; from?: HardhatEthersSigner }) {
    const tx = await claims
      .connect(args.from ?? holder)
      .fileClaim(args.policy ?? policyId, args.amount ?? CLAIM_AMOUNT, args.incidentAt, args.hash, args.uri);
    await tx.wait();
    return claims.claimCount();
  }

  /**
   * Insures a new device (a device has one policy at a time) and lets two hours pass, so the last hour of readings
   * lies inside the new policy's period. Returns the device key and the policy id.
   */
  async function insureNewDevice(seed: string) {
    const device = new Wallet(id(`triad/test/oracle/device/${seed}`));
    await registerDevice(registry.connect(holder), { deviceKey: device });
    await (await claims.connect(holder).buyPolicy(productId, device.address, CLAIM_AMOUNT * 4n, 30 * 86400)).wait();
    const newPolicyId = await claims.policyCount();
    await time.increase(2 * 3600);
    return { device, policyId: newPolicyId };
  }

  return { ...base, model, members, deviceA, deviceB, policyId, policy, chainId, addresses, bundle, fileClaim, insureNewDevice };
}

export type OracleFixture = Awaited<ReturnType<typeof deployOracleFixture>>;

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
    ...overrides,
    evidence: { schemes: ["http"], hosts: ["127.0.0.1"], maxBytes: 64 * 1024, timeoutMs: 400, retries: 1, retryDelayMs: 20, ...(overrides.evidence ?? {}) },
  };
}

/** An in-process oracle for committee member `member` on the in-process Hardhat chain. */
export function oracleFor(f: OracleFixture, member: HardhatEthersSigner, options: { config?: Partial<OracleConfig>; logger?: Logger } = {}) {
  return createOracle({
    provider: ethers.provider,
    signer: member,
    addresses: f.addresses,
    model: f.model,
    config: testConfig(options.config),
    logger: options.logger ?? pino({ level: "silent" }),
  });
}
