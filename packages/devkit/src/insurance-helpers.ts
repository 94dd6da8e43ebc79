import { ethers, networkHelpers } from "./network.ts";
import { keccak256, toUtf8Bytes, type Wallet } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { signVerdict, type Verdict } from "@triad/sdk";
import { DAY, UNIT, registerDevice, type InsuranceFixture } from "./insurance-fixtures.ts";

const { time } = networkHelpers;

export const DEFAULT_COVERAGE = 5_000n * UNIT;
export const DEFAULT_DURATION = 90n * DAY;

/** Buys a policy (default: product 1, the fixture's device, 5,000 tUSD for 90 days) and returns its id. */
export async function buyPolicy(
  fx: InsuranceFixture,
  opts: { buyer?: HardhatEthersSigner; productId?: bigint; device?: string; coverage?: bigint; duration?: bigint } = {},
): Promise<bigint> {
  const buyer = opts.buyer ?? fx.holder;
  await fx.claims
    .connect(buyer)
    .buyPolicy(
      opts.productId ?? fx.productId,
      opts.device ?? fx.device,
      opts.coverage ?? DEFAULT_COVERAGE,
      opts.duration ?? DEFAULT_DURATION,
    );
  return fx.claims.policyCount();
}

/** Evidence bundle bytes stand-in and its hash. */
export function evidence(tag: string): { evidenceHash: string; evidenceURI: string } {
  return { evidenceHash: keccak256(toUtf8Bytes(`evidence:${tag}`)), evidenceURI: `ipfs://evidence/${tag}` };
}

/**
 * Files a claim on `policyId`. By default the incident is one hour after the waiting period ends and the claim is
 * filed one hour after the incident (time is moved forward as needed), and the evidence is the claim's own (an
 * evidence hash is filed at most once: the default tag names the policy and the claim id to come).
 */
export async function fileClaim(
  fx: InsuranceFixture,
  policyId: bigint,
  opts: { amount?: bigint; incidentAt?: bigint; from?: HardhatEthersSigner; tag?: string } = {},
): Promise<{ claimId: bigint; evidenceHash: string; evidenceURI: string; incidentAt: bigint }> {
  const policy = await fx.claims.getPolicy(policyId);
  const product = await fx.claims.getProduct(policy.productId);
  const incidentAt = opts.incidentAt ?? policy.start + product.waitingPeriod + 3_600n;
  const now = BigInt(await time.latest());
  if (now < incidentAt + 3_600n) await time.increaseTo(incidentAt + 3_600n);
  const { evidenceHash, evidenceURI } = evidence(opts.tag ?? `policy-${policyId}-claim-${(await fx.claims.claimCount()) + 1n}`);
  await fx.claims.connect(opts.from ?? fx.holder).fileClaim(policyId, opts.amount ?? 1_000n * UNIT, incidentAt, evidenceHash, evidenceURI);
  return { claimId: await fx.claims.claimCount(), evidenceHash, evidenceURI, incidentAt };
}

/**
 * The verdict honest members sign for `claimId` (docs/protocol.md §10.5 payout rule: `approved ? amount : 0`), built from the
 * claim as stored on-chain; `overrides` replace fields to build bad verdicts.
 */
export async function verdictFor(
  fx: InsuranceFixture,
  claimId: bigint,
  approved: boolean,
  overrides: Partial<Verdict> = {},
): Promise<Verdict> {
  const c = await fx.claims.getClaim(claimId);
  return {
    claimId,
    evidenceHash: c.evidenceHash,
    modelHash: fx.modelHash,
    approved,
    payout: approved ? c.amount : 0n,
    scoreBps: approved ? 9_100 : 1_200,
    reason: approved ? 0 : 1, // 1 = NO_FAILURE_DETECTED (CLAIM_REASONS)
    deadline: c.assessmentDeadline,
    ...overrides,
  };
}

/** Signatures of `signers` over `verdict` in the fixture's claims domain (SDK `signVerdict`). */
export function signBy(fx: InsuranceFixture, signers: readonly Wallet[], verdict: Verdict): Promise<string[]> {
  return Promise.all(signers.map((s) => signVerdict(s, fx.domain, verdict)));
}

/** The verdict's digest as the contract computes it. */
export function digestOf(fx: InsuranceFixture, verdict: Verdict): Promise<string> {
  return fx.claims.verdictDigest(verdict);
}

/** Registers `count` extra devices to `owner` with deterministic keys derived from `tag`. */
export async function registerDevices(fx: InsuranceFixture, owner: HardhatEthersSigner, count: number, tag: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = new ethers.Wallet(ethers.id(`triad.test.device.${tag}.${i}`));
    out.push(await registerDevice(fx.registry, owner, key));
  }
  return out;
}
