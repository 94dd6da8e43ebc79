import { expect } from "chai";
import { networkHelpers } from "@triad/devkit/network";
import fc from "fast-check";
import type { ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ClaimStatus, enumValues } from "@triad/sdk";
import { DAY, MAX_UTILISATION_BPS, UNIT, deployInsuranceFixture, type InsuranceFixture } from "@triad/devkit/insurance";
import { evidence, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";

const { loadFixture, time } = networkHelpers;

/**
 * Property: any sequence of LP deposits and withdrawals, policy sales, claims, verdicts (partial or deciding),
 * appeals, escalations, arbiter decisions, settlements, releases, policy-token transfers and time jumps keeps
 *   (P1) locked * 10000 <= totalAssets * maxUtilisation               (pool invariant)
 *   (P2) token.balanceOf(pool) == totalAssets                          (pool accounting)
 *   (P3) token.balanceOf(claims) == deposits of unsettled claims       (claims accounting)
 *   (P4) paidOut <= coverage for every policy, paidOut == sum of its settled payouts (no payout above coverage)
 *   (P5) locked == sum of (coverage - paidOut) over unreleased policies
 *   (P6) every claim is settled at most once, pays at most its amount, and only a Paid claim pays
 *   (P7) no revert is a panic (arithmetic, bounds): failures are the contracts' own errors
 * and a withdrawal above maxWithdraw always reverts. Every operation sent as a transaction must succeed at least once
 * over the run: a generator that never reaches success would check the invariants on nothing.
 */

const PANIC = "0x4e487b71";
const Status = enumValues(ClaimStatus);
const UNSETTLED = new Set([Status.Filed, Status.Approved, Status.Rejected, Status.Appealed, Status.Escalated]);

type Op =
  | { kind: "deposit"; lp: number; amount: bigint }
  | { kind: "withdraw"; lp: number; bps: number }
  | { kind: "buy"; device: number; parametric: boolean; coverage: bigint; days: number }
  | { kind: "file"; policy: number; bps: number }
  | { kind: "verdict"; claim: number; approved: boolean; bps: number; from: number; count: number }
  | { kind: "appeal"; claim: number }
  | { kind: "escalate"; claim: number; wait: boolean }
  | { kind: "resolve"; claim: number; approved: boolean; bps: number }
  | { kind: "settle"; claim: number; wait: boolean }
  | { kind: "release"; policy: number; wait: boolean }
  | { kind: "transfer"; policy: number }
  | { kind: "time"; seconds: number };

/** The operations sent as transactions (all but "time"), each of which must succeed at least once over the run. */
const SENT_KINDS: Record<Exclude<Op["kind"], "time">, true> = {
  deposit: true,
  withdraw: true,
  buy: true,
  file: true,
  verdict: true,
  appeal: true,
  escalate: true,
  resolve: true,
  settle: true,
  release: true,
  transfer: true,
};

const index = fc.nat({ max: 1_000 });
const bps = fc.integer({ min: 0, max: 10_000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("deposit" as const),
      lp: fc.nat({ max: 1 }),
      amount: fc.integer({ min: 1, max: 50_000 }).map((n) => BigInt(n) * UNIT),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("withdraw" as const), lp: fc.nat({ max: 1 }), bps: fc.integer({ min: 1, max: 12_000 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("buy" as const),
      device: fc.nat({ max: 4 }),
      parametric: fc.boolean(),
      coverage: fc.integer({ min: 1, max: 10_000 }).map((n) => BigInt(n) * UNIT),
      days: fc.integer({ min: 30, max: 120 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("file" as const), policy: index, bps: fc.integer({ min: 1, max: 10_000 }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("verdict" as const),
      claim: index,
      approved: fc.boolean(),
      bps,
      from: fc.nat({ max: 2 }),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("appeal" as const), claim: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("escalate" as const), claim: index, wait: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("resolve" as const), claim: index, approved: fc.boolean(), bps }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("settle" as const), claim: index, wait: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), policy: index, wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("transfer" as const), policy: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 3_600, max: 40 * 86_400 }) }) },
);

async function propertyFixture() {
  const fx = await deployInsuranceFixture();
  const devices = [fx.device, ...(await registerDevices(fx, fx.holder, 4, "property"))];
  await fx.token.mint(fx.holder.address, 1_000_000n * UNIT);
  await fx.token.mint(fx.other.address, 1_000_000n * UNIT);
  return { ...fx, devices };
}

interface Model {
  /** Successful transactions per operation kind (reported when PROPERTY_STATS is set). */
  succeeded: Map<string, number>;
  policies: bigint[];
  claims: bigint[];
  settled: Map<bigint, { count: number; paid: bigint }>;
  paidByPolicy: Map<bigint, bigint>;
}

/** Sends `send()`; returns its receipt, or null when it reverted with a non-panic error. */
async function attempt(fx: InsuranceFixture, model: Model, send: () => Promise<ContractTransactionResponse>) {
  let tx: ContractTransactionResponse;
  try {
    tx = await send();
  } catch (e) {
    const data: string | undefined = (e as { data?: string }).data;
    expect(data?.startsWith(PANIC) ?? false, `panic: ${(e as Error).message}`).to.equal(false);
    if (process.env.PROPERTY_STATS) {
      const name =
        (data && (fx.claims.interface.parseError(data) ?? fx.pool.interface.parseError(data) ?? fx.committee.interface.parseError(data))?.name) ??
        (e as Error).message.slice(0, 60);
      const key = `${currentKind} x ${name}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    return null;
  }
  const receipt = (await tx.wait())!;
  model.succeeded.set(currentKind, (model.succeeded.get(currentKind) ?? 0) + 1);
  for (const log of receipt.logs) {
    if (log.address !== (await fx.claims.getAddress())) continue;
    const parsed = fx.claims.interface.parseLog(log);
    if (parsed?.name !== "ClaimSettled") continue;
    const claimId = parsed.args.claimId as bigint;
    const paid = parsed.args.paid as bigint;
    const entry = model.settled.get(claimId) ?? { count: 0, paid: 0n };
    model.settled.set(claimId, { count: entry.count + 1, paid: entry.paid + paid });
    const policyId = (await fx.claims.getClaim(claimId)).policyId;
    model.paidByPolicy.set(policyId, (model.paidByPolicy.get(policyId) ?? 0n) + paid);
  }
  return receipt;
}

/** The `i`-th claim (modulo) among those whose status is in `statuses`, else among all claims. */
async function pickClaim(fx: InsuranceFixture, model: Model, i: number, statuses: bigint[]): Promise<bigint | undefined> {
  const candidates: bigint[] = [];
  for (const id of model.claims) if (statuses.includes((await fx.claims.getClaim(id)).status)) candidates.push(id);
  const list = candidates.length > 0 ? candidates : model.claims;
  return list.length === 0 ? undefined : list[i % list.length];
}

/** The `i`-th policy (modulo) among those that are not released and have no open claim, else among all. */
async function pickPolicy(fx: InsuranceFixture, model: Model, i: number): Promise<bigint | undefined> {
  const candidates: bigint[] = [];
  for (const id of model.policies) {
    const p = await fx.claims.getPolicy(id);
    if (!p.released && p.openClaimId === 0n) candidates.push(id);
  }
  const list = candidates.length > 0 ? candidates : model.policies;
  return list.length === 0 ? undefined : list[i % list.length];
}

async function advanceTo(timestamp: bigint) {
  if (BigInt(await time.latest()) < timestamp) await time.increaseTo(timestamp);
}

async function holderOf(fx: InsuranceFixture, policyId: bigint): Promise<HardhatEthersSigner> {
  const owner = await fx.claims.ownerOf(policyId);
  return owner === fx.holder.address ? fx.holder : fx.other;
}

let currentKind = "";
/** Successful transactions per operation kind over the whole run (all runs of the property). */
const stats = new Map<string, number>();
const failures = new Map<string, number>();

/** Every operation kind sent as a transaction must have succeeded at least once (as the fuzz suite's expectEverySucceeded). */
function expectEverySucceeded(kinds: readonly string[]) {
  for (const kind of kinds) expect(stats.get(kind) ?? 0, `${kind} never succeeded`).to.be.greaterThan(0);
}

async function run(fx: Awaited<ReturnType<typeof propertyFixture>>, model: Model, op: Op) {
  currentKind = op.kind;
  const { claims, pool } = fx;
  const pick = <T,>(list: T[], i: number) => (list.length === 0 ? undefined : list[i % list.length]);
  switch (op.kind) {
    case "deposit": {
      const lp = [fx.lp1, fx.lp2][op.lp];
      await fx.token.mint(lp.address, op.amount);
      await attempt(fx, model, () => pool.connect(lp).deposit(op.amount, lp.address));
      return;
    }
    case "withdraw": {
      const lp = [fx.lp1, fx.lp2][op.lp];
      const max = await pool.maxWithdraw(lp.address);
      const amount = (max * BigInt(op.bps)) / 10_000n;
      if (amount === 0n) return;
      if (amount > max) {
        await expect(pool.connect(lp).withdraw(amount, lp.address, lp.address)).to.be.revertedWithCustomError(
          pool,
          "ERC4626ExceededMaxWithdraw",
        );
        return;
      }
      await attempt(fx, model, () => pool.connect(lp).withdraw(amount, lp.address, lp.address));
      return;
    }
    case "buy": {
      const productId = op.parametric ? fx.parametricProductId : fx.productId;
      const receipt = await attempt(fx, model, () =>
        claims.connect(fx.holder).buyPolicy(productId, fx.devices[op.device], op.coverage, BigInt(op.days) * DAY),
      );
      if (receipt) model.policies.push(await claims.policyCount());
      return;
    }
    case "file": {
      const policyId = await pickPolicy(fx, model, op.policy);
      if (policyId === undefined) return;
      const p = await claims.getPolicy(policyId);
      // Time passes until the policy covers incidents (the waiting period of both products is one day).
      await advanceTo(p.start + DAY + 1n);
      const now = BigInt(await time.latest()) + 1n;
      const incidentAt = now - 1n < p.end ? now - 1n : p.end;
      const amount = ((p.coverage - p.paidOut) * BigInt(op.bps)) / 10_000n;
      const { evidenceHash, evidenceURI } = evidence(`property-${policyId}-${now}`);
      const from = await holderOf(fx, policyId);
      const receipt = await attempt(fx, model, () =>
        claims.connect(from).fileClaim(policyId, amount, incidentAt, evidenceHash, evidenceURI),
      );
      if (receipt) model.claims.push(await claims.claimCount());
      return;
    }
    case "verdict": {
      const claimId = await pickClaim(fx, model, op.claim, [Status.Filed]);
      if (claimId === undefined) return;
      const c = await claims.getClaim(claimId);
      const payout = op.approved ? (c.amount * BigInt(op.bps)) / 10_000n : 0n;
      const v = await verdictFor(fx, claimId, op.approved, { payout });
      const signers = [0, 1, 2].map((i) => fx.members[(op.from + i) % 3]).slice(0, op.count);
      const sigs = await signBy(fx, signers, v);
      await attempt(fx, model, () => claims.submitVerdict(v, sigs));
      return;
    }
    case "appeal": {
      const claimId = await pickClaim(fx, model, op.claim, [Status.Approved, Status.Rejected]);
      if (claimId === undefined) return;
      const from = await holderOf(fx, (await claims.getClaim(claimId)).policyId);
      await attempt(fx, model, () => claims.connect(from).appeal(claimId));
      return;
    }
    case "escalate": {
      const claimId = await pickClaim(fx, model, op.claim, [Status.Filed]);
      if (claimId === undefined) return;
      if (op.wait) await advanceTo((await claims.getClaim(claimId)).assessmentDeadline + 1n);
      await attempt(fx, model, () => claims.escalate(claimId));
      return;
    }
    case "resolve": {
      const claimId = await pickClaim(fx, model, op.claim, [Status.Appealed, Status.Escalated]);
      if (claimId === undefined) return;
      const c = await claims.getClaim(claimId);
      const payout = op.approved ? (c.amount * BigInt(op.bps)) / 10_000n : 0n;
      await attempt(fx, model, () => claims.connect(fx.arbiter).resolve(claimId, op.approved, payout));
      return;
    }
    case "settle": {
      const claimId = await pickClaim(fx, model, op.claim, [Status.Approved, Status.Rejected]);
      if (claimId === undefined) return;
      if (op.wait) await advanceTo((await claims.getClaim(claimId)).appealDeadline);
      await attempt(fx, model, () => claims.settle(claimId));
      return;
    }
    case "release": {
      const policyId = pick(model.policies, op.policy);
      if (policyId === undefined) return;
      if (op.wait) await advanceTo((await claims.getPolicy(policyId)).end + 7n * DAY + 1n);
      await attempt(fx, model, () => claims.releaseCoverage(policyId));
      return;
    }
    case "transfer": {
      const policyId = pick(model.policies, op.policy);
      if (policyId === undefined) return;
      const from = await holderOf(fx, policyId);
      const to = from === fx.holder ? fx.other : fx.holder;
      await attempt(fx, model, () => claims.connect(from).transferFrom(from.address, to.address, policyId));
      return;
    }
    case "time":
      await time.increase(op.seconds);
      return;
  }
}

async function checkInvariants(fx: Awaited<ReturnType<typeof propertyFixture>>, model: Model) {
  const { claims, pool, token } = fx;
  const assets = await pool.totalAssets();
  const locked = await pool.lockedAssets();
  expect(locked * 10_000n, "P1 utilisation").to.be.lte(assets * MAX_UTILISATION_BPS);
  expect(await token.balanceOf(await pool.getAddress()), "P2 pool balance").to.equal(assets);

  let heldDeposits = 0n;
  for (const claimId of model.claims) {
    const c = await claims.getClaim(claimId);
    if (UNSETTLED.has(c.status)) heldDeposits += c.deposit;
    const settled = model.settled.get(claimId);
    expect(settled?.count ?? 0, "P6 settled once").to.be.lte(1);
    if (settled) {
      expect(settled.paid, "P6 paid <= amount").to.be.lte(c.amount);
      if (settled.paid > 0n) expect(c.status, "P6 paid => Paid").to.equal(Status.Paid);
    }
  }
  expect(await token.balanceOf(await claims.getAddress()), "P3 claims balance").to.equal(heldDeposits);

  let expectedLocked = 0n;
  for (const policyId of model.policies) {
    const p = await claims.getPolicy(policyId);
    expect(p.paidOut, "P4 paidOut <= coverage").to.be.lte(p.coverage);
    expect(p.paidOut, "P4 paidOut == settled payouts").to.equal(model.paidByPolicy.get(policyId) ?? 0n);
    if (!p.released) expectedLocked += p.coverage - p.paidOut;
  }
  expect(locked, "P5 locked").to.equal(expectedLocked);
}

describe("Insurance: property-based lifecycle", () => {
  it("keeps the money invariants under random sequences of operations", async function () {
    this.timeout(600_000);
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 40, size: "max" }), async (ops) => {
        const fx = await loadFixture(propertyFixture);
        const model: Model = { succeeded: new Map(), policies: [], claims: [], settled: new Map(), paidByPolicy: new Map() };
        for (const op of ops) {
          await run(fx, model, op);
          await checkInvariants(fx, model);
        }
        for (const [k, n] of model.succeeded) stats.set(k, (stats.get(k) ?? 0) + n);
      }),
      { numRuns: 30, seed: 20_261_121, endOnFailure: true },
    );
    if (process.env.PROPERTY_STATS) console.log(Object.fromEntries(stats), Object.fromEntries(failures));
    expectEverySucceeded(Object.keys(SENT_KINDS));
  });
});
