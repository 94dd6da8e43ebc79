import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import fc from "fast-check";
import type { ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ClaimStatus, enumValues } from "@triad/sdk";
import { DAY, MAX_UTILISATION_BPS, STANDARD_PRODUCT, UNIT, deployInsuranceFixture, type InsuranceFixture } from "@triad/devkit/insurance";
import { evidence, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";

const { loadFixture, time } = networkHelpers;

/**
 * Property: any sequence of LP deposits, withdrawal requests, claims and cancellations (two LPs and a
 * flash-loan-sized actor depositing up to 10,000,000), policy sales, claims, verdicts (partial or deciding),
 * appeals, escalations, arbiter decisions, settlements, releases, policy-token transfers and time jumps keeps
 *   (P1) locked * 10000 <= capital * maxUtilisation, capital = totalAssets + reserved   (pool invariant)
 *   (P2) token.balanceOf(pool) == totalAssets + reservedPayouts + unearnedPremiums     (the books, to the unit)
 *   (P3) token.balanceOf(claims) == deposits of unsettled claims       (claims accounting)
 *   (P4) paidOut <= coverage for every policy, paidOut == sum of its settled payouts (no payout above coverage)
 *   (P5) locked == sum of (coverage - paidOut) over unreleased policies
 *   (P6) every claim is settled at most once, pays at most its amount, and only a Paid claim pays
 *   (P7) no revert is a panic (arithmetic, bounds): failures are the contracts' own errors
 *   (P8) reservedPayouts == sum over claims of what each would pay if settled as decided: Approved (appeal window
 *        open) and Appealed-after-approval claims `payout - deductible`, Escalated claims `amount - deductible`
 *   (P9) nothing is paid twice (issue 14): no two Paid claims of one device have overlapping incident windows; more
 *        strictly, the windows (in whole minutes) of a device's claims that are not Closed never overlap, and an
 *        evidence hash backs one claim. Filings aim at earlier incidents of the device and reuse earlier evidence,
 *        and must be refused then (ClaimsIncidentWindowTaken, ClaimsEvidenceAlreadyUsed)
 *   (E1) economics, for every LP account i, at every step:
 *          out_i + value_i <= in_i + entitled_i + steps
 *        where in_i / out_i are the tokens it deposited / received from the pool, value_i what it could still get
 *        (its shares at the current price plus its request at the lower of its request value and its current value),
 *        entitled_i = sum over steps of (its shares, escrowed included, / total supply before the step) x (the
 *        step's gains: premium and forfeits earned in it, computed by the test as EXACTLY LINEAR over
 *        [purchase, end] and [forfeit, forfeit + cooldown], each end rounded up to a whole UTC day as the pool
 *        documents; reserves released without being paid (a claim reduced
 *        or rejected on appeal); and what an exiting LP left behind, its burnt shares' value before the claim minus
 *        what it was paid). Losses are not subtracted, so the bound is looser than "minus losses", but it rules
 *        out any gain that was not earned over time or given up by someone else: a purchase, a deposit or an exit
 *        moves nobody's bound. `steps` allows one base unit of rounding per operation.
 * and a claim above maxWithdraw / maxRedeem always reverts. Every operation sent as a transaction must succeed at least once
 * over the run: a generator that never reaches success would check the invariants on nothing.
 */

const PANIC = "0x4e487b71";
const Status = enumValues(ClaimStatus);
const UNSETTLED = new Set([Status.Filed, Status.Approved, Status.Rejected, Status.Appealed, Status.Escalated]);

type Op =
  | { kind: "deposit"; lp: number; amount: bigint }
  | { kind: "request"; lp: number; bps: number }
  | { kind: "claim"; lp: number; bps: number; wait: boolean; byAssets: boolean }
  | { kind: "cancel"; lp: number }
  | { kind: "buy"; device: number; parametric: boolean; coverage: bigint; days: number }
  | { kind: "file"; policy: number; bps: number; near: number; reuse: boolean }
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
  request: true,
  claim: true,
  cancel: true,
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
      lp: fc.nat({ max: 2 }),
      amount: fc.integer({ min: 1, max: 50_000 }).map((n) => BigInt(n) * UNIT),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("request" as const), lp: fc.nat({ max: 2 }), bps: fc.integer({ min: 1, max: 12_000 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("claim" as const),
      lp: fc.nat({ max: 2 }),
      bps: fc.integer({ min: 1, max: 12_000 }),
      wait: fc.boolean(),
      byAssets: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), lp: fc.nat({ max: 2 }) }) },
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
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("file" as const),
      policy: index,
      bps: fc.integer({ min: 1, max: 10_000 }),
      // -1: now; otherwise this many seconds from the incident of one of the device's claims (before or after it).
      near: fc.oneof({ weight: 1, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: -1_200, max: 1_200 }) }),
      reuse: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
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

/** The flash-loan-sized actor deposits this much times its generated amount (up to 10,000,000 tUSD). */
const FLASH_FACTOR = 200n;

async function propertyFixture() {
  const fx = await deployInsuranceFixture();
  const devices = [fx.device, ...(await registerDevices(fx, fx.holder, 4, "property"))];
  await fx.token.mint(fx.holder.address, 1_000_000n * UNIT);
  await fx.token.mint(fx.other.address, 1_000_000n * UNIT);
  const flash = (await ethers.getSigners())[9];
  await fx.token.connect(flash).approve(await fx.pool.getAddress(), ethers.MaxUint256);
  const lps = [fx.lp1, fx.lp2, flash];
  // lp1's fixture deposit counts as put in.
  const lpIn = new Map([[fx.lp1.address, await fx.pool.totalAssets()]]);
  return { ...fx, devices, lps, lpIn };
}

type PropertyFixture = Awaited<ReturnType<typeof propertyFixture>>;

/** What the pool books to earn: amount, from, to (exactly linear in the test's model). */
interface Earning {
  amount: bigint;
  from: bigint;
  to: bigint;
}

/** The pool's documented earning end (docs/protocol.md §12.2): `end` rounded up to a whole UTC day. */
const dayEnd = (end: bigint) => ((end + DAY - 1n) / DAY) * DAY;

/** Earned by `t` under exactly linear earning. */
function earnedBy(items: readonly Earning[], t: bigint): bigint {
  let sum = 0n;
  for (const e of items) sum += t >= e.to ? e.amount : t <= e.from ? 0n : (e.amount * (t - e.from)) / (e.to - e.from) + 1n;
  return sum;
}

interface Model {
  /** Successful transactions per operation kind (reported when PROPERTY_STATS is set). */
  succeeded: Map<string, number>;
  policies: bigint[];
  claims: bigint[];
  /** Every claim filed, in order, with what makes it unique (P9). */
  filed: { claimId: bigint; device: string; incidentAt: bigint; evidenceHash: string }[];
  settled: Map<bigint, { count: number; paid: bigint }>;
  paidByPolicy: Map<bigint, bigint>;
  /** Premiums and forfeits booked by the pool (E1). */
  earnings: Earning[];
  /** Per LP: tokens put in, taken out, and entitled to (E1). */
  lpIn: Map<string, bigint>;
  lpOut: Map<string, bigint>;
  entitled: Map<string, bigint>;
  steps: bigint;
  /** Reserve per claim as last reported by PayoutReserved, and the step's released-unpaid gains. */
  reserves: Map<bigint, bigint>;
  stepGain: bigint;
  /** The step's exits: what each left behind, shared by the shares that remain after the burn. */
  leftBehind: { by: string; gain: bigint; burnt: bigint }[];
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
        (data &&
          (fx.claims.interface.parseError(data) ?? fx.pool.interface.parseError(data) ?? fx.committee.interface.parseError(data))?.name) ??
        (e as Error).message.slice(0, 60);
      const key = `${currentKind} x ${name}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    return null;
  }
  const receipt = (await tx.wait())!;
  model.succeeded.set(currentKind, (model.succeeded.get(currentKind) ?? 0) + 1);
  const block = (await receipt.getBlock()).timestamp;
  for (const log of receipt.logs) {
    if (log.address === (await fx.pool.getAddress())) {
      const parsed = fx.pool.interface.parseLog(log);
      if (parsed?.name === "PremiumCollected") {
        const policy = await fx.claims.getPolicy(parsed.args.policyId as bigint);
        model.earnings.push({ amount: parsed.args.net as bigint, from: policy.start, to: dayEnd(policy.end) });
      } else if (parsed?.name === "DepositForfeited") {
        const cooldown = BigInt(await fx.pool.withdrawalCooldown());
        model.earnings.push({ amount: parsed.args.amount as bigint, from: BigInt(block), to: dayEnd(BigInt(block) + cooldown) });
      } else if (parsed?.name === "Deposit") {
        const who = parsed.args.owner as string;
        model.lpIn.set(who, (model.lpIn.get(who) ?? 0n) + (parsed.args.assets as bigint));
      } else if (parsed?.name === "Withdraw") {
        const who = parsed.args.owner as string;
        const assets = parsed.args.assets as bigint;
        model.lpOut.set(who, (model.lpOut.get(who) ?? 0n) + assets);
        const shares = parsed.args.shares as bigint;
        const burnt = await fx.pool.convertToAssets(shares, { blockTag: receipt.blockNumber - 1 });
        if (burnt > assets) model.leftBehind.push({ by: who, gain: burnt - assets, burnt: shares });
      } else if (parsed?.name === "PayoutReserved") {
        const claimId = parsed.args.claimId as bigint;
        const before = model.reserves.get(claimId) ?? 0n;
        const after = parsed.args.amount as bigint;
        model.reserves.set(claimId, after);
        // A release: a gain unless the same transaction pays it (ClaimPaid, subtracted below).
        if (before > after) model.stepGain += before - after;
      } else if (parsed?.name === "ClaimPaid") {
        model.stepGain -= parsed.args.amount as bigint;
      }
      continue;
    }
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

/**
 * The minutes of an incident window (docs/protocol.md §10.3): both fixture products reserve the standard product's
 * [t − incidentWindowBefore, t + incidentWindowAfter], widened to whole minutes.
 */
const WINDOW_BEFORE = BigInt(STANDARD_PRODUCT.incidentWindowBefore);
const WINDOW_AFTER = BigInt(STANDARD_PRODUCT.incidentWindowAfter);
const windowMinutes = (incidentAt: bigint): [bigint, bigint] => [(incidentAt - WINDOW_BEFORE) / 60n, (incidentAt + WINDOW_AFTER) / 60n];
const overlaps = (a: [bigint, bigint], b: [bigint, bigint]) => a[0] <= b[1] && b[0] <= a[1];

/** A claim of `device` that still holds its window (not Closed) and overlaps the window at `incidentAt`, if any. */
async function heldWindowOverlapping(fx: InsuranceFixture, model: Model, device: string, incidentAt: bigint) {
  for (const f of model.filed) {
    if (f.device !== device || (await fx.claims.getClaim(f.claimId)).status === Status.Closed) continue;
    if (overlaps(windowMinutes(f.incidentAt), windowMinutes(incidentAt))) return f.claimId;
  }
  return undefined;
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

async function run(fx: PropertyFixture, model: Model, op: Op) {
  currentKind = op.kind;
  const { claims, pool } = fx;
  const pick = <T>(list: T[], i: number) => (list.length === 0 ? undefined : list[i % list.length]);
  switch (op.kind) {
    case "deposit": {
      const lp = fx.lps[op.lp];
      const amount = op.lp === 2 ? op.amount * FLASH_FACTOR : op.amount;
      await fx.token.mint(lp.address, amount);
      await attempt(fx, model, () => pool.connect(lp).deposit(amount, lp.address));
      return;
    }
    case "request": {
      const lp = fx.lps[op.lp];
      const balance = await pool.balanceOf(lp.address);
      const shares = (balance * BigInt(op.bps)) / 10_000n;
      if (shares === 0n) return;
      if (shares > balance) {
        await expect(pool.connect(lp).requestRedeem(shares, lp.address, lp.address)).to.be.revertedWithCustomError(
          pool,
          "ERC20InsufficientBalance",
        );
        return;
      }
      await attempt(fx, model, () => pool.connect(lp).requestRedeem(shares, lp.address, lp.address));
      return;
    }
    case "claim": {
      const lp = fx.lps[op.lp];
      if (op.wait) await advanceTo((await pool.redeemRequest(lp.address)).claimableAt);
      const max = op.byAssets ? await pool.maxWithdraw(lp.address) : await pool.maxRedeem(lp.address);
      const amount = (max * BigInt(op.bps)) / 10_000n;
      if (amount === 0n) return;
      const send = () =>
        op.byAssets ? pool.connect(lp).withdraw(amount, lp.address, lp.address) : pool.connect(lp).redeem(amount, lp.address, lp.address);
      if (amount > max) {
        await expect(send()).to.be.revertedWithCustomError(pool, op.byAssets ? "ERC4626ExceededMaxWithdraw" : "ERC4626ExceededMaxRedeem");
        return;
      }
      await attempt(fx, model, send);
      return;
    }
    case "cancel": {
      // The chosen LP, or else one that has a request (so that cancelling is reached).
      const candidates = [fx.lps[op.lp], ...fx.lps];
      let lp = candidates[0];
      for (const c of candidates) {
        if ((await pool.redeemRequest(c.address))[0] > 0n) {
          lp = c;
          break;
        }
      }
      await attempt(fx, model, () => pool.connect(lp).cancelRedeemRequest(0n, lp.address));
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
      // The device's latest claim that still holds its window (open or Paid), else its latest claim.
      const ofDevice = model.filed.filter((f) => f.device === p.device);
      const holding = [];
      for (const f of ofDevice) if ((await claims.getClaim(f.claimId)).status !== Status.Closed) holding.push(f);
      const latest = holding.at(-1) ?? ofDevice.at(-1);
      const atNow = now - 1n < p.end ? now - 1n : p.end - 1n;
      const near = latest && op.near !== -1 ? latest.incidentAt + BigInt(op.near) : undefined;
      const incidentAt = near !== undefined && near > p.start + DAY && near <= atNow ? near : atNow;
      const amount = ((p.coverage - p.paidOut) * BigInt(op.bps)) / 10_000n;
      const fresh = evidence(`property-${policyId}-${now}`);
      const reused = op.reuse && model.filed.length > 0 ? model.filed[op.policy % model.filed.length] : undefined;
      const evidenceHash = reused?.evidenceHash ?? fresh.evidenceHash;
      const from = await holderOf(fx, policyId);
      const overlapping = await heldWindowOverlapping(fx, model, p.device, incidentAt);
      const receipt = await attempt(fx, model, () =>
        claims.connect(from).fileClaim(policyId, amount, incidentAt, evidenceHash, fresh.evidenceURI),
      );
      if (reused || overlapping !== undefined) expect(receipt, "P9 reused evidence or a taken window is refused").to.equal(null);
      if (!receipt) return;
      const claimId = await claims.claimCount();
      model.claims.push(claimId);
      model.filed.push({ claimId, device: p.device, incidentAt, evidenceHash });
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

/** Shares of each LP, escrowed included, and the total supply, at the latest block. */
async function holdings(fx: PropertyFixture) {
  const shares = new Map<string, bigint>();
  for (const lp of fx.lps) {
    const [requested] = await fx.pool.redeemRequest(lp.address);
    shares.set(lp.address, (await fx.pool.balanceOf(lp.address)) + requested);
  }
  return { shares, supply: await fx.pool.totalSupply(), at: BigInt(await time.latest()) };
}

/** E1 bookkeeping: credits each LP with its share (held before the step) of what the step earned. */
function creditEarnings(model: Model, before: Awaited<ReturnType<typeof holdings>>, now: bigint) {
  model.steps += 1n;
  // A payment above the released reserve is a loss: not subtracted (the bound ignores losses).
  const released = model.stepGain > 0n ? model.stepGain : 0n;
  model.stepGain = 0n;
  const earned = earnedBy(model.earnings, now) - earnedBy(model.earnings, before.at) + released;
  // Rounded up: the bound is an upper bound.
  const credit = (lp: string, shares: bigint, gain: bigint, supply: bigint) => {
    if (gain > 0n && supply > 0n) model.entitled.set(lp, (model.entitled.get(lp) ?? 0n) + (shares * gain + supply - 1n) / supply);
  };
  for (const [lp, shares] of before.shares) credit(lp, shares, earned, before.supply);
  // What an exit left behind is shared by the shares that remain after its burn (the exiting LP's own remaining
  // request included).
  for (const exit of model.leftBehind) {
    for (const [lp, shares] of before.shares)
      credit(lp, lp === exit.by ? shares - exit.burnt : shares, exit.gain, before.supply - exit.burnt);
  }
  model.leftBehind = [];
}

async function checkEconomics(fx: PropertyFixture, model: Model) {
  const { pool } = fx;
  // Views run in the pending block, whose timestamp follows the wall clock past the latest block: what is earned
  // meanwhile (plus 5 s for the calls below) is credited here, not carried into the next step.
  const now = await holdings(fx);
  const pending = BigInt((await ethers.provider.send("eth_getBlockByNumber", ["pending", false])).timestamp) + 5n;
  const drift = earnedBy(model.earnings, pending) - earnedBy(model.earnings, now.at);
  for (const lp of fx.lps) {
    const [requested, atRequest] = await pool.redeemRequest(lp.address);
    const requestValue = requested === 0n ? 0n : [await pool.convertToAssets(requested), atRequest].reduce((a, b) => (a < b ? a : b));
    const value = (await pool.convertToAssets(await pool.balanceOf(lp.address))) + requestValue;
    const got = (model.lpOut.get(lp.address) ?? 0n) + value;
    const driftShare = now.supply === 0n ? 0n : (now.shares.get(lp.address)! * drift + now.supply - 1n) / now.supply;
    const bound = (model.lpIn.get(lp.address) ?? 0n) + (model.entitled.get(lp.address) ?? 0n) + driftShare + model.steps;
    expect(got, `E1 ${lp.address}: out + value <= in + entitled + steps`).to.be.lte(bound);
  }
}

async function checkInvariants(fx: PropertyFixture, model: Model) {
  const { claims, pool, token } = fx;
  const assets = await pool.totalAssets();
  const reserved = await pool.reservedPayouts();
  const locked = await pool.lockedAssets();
  expect(locked * 10_000n, "P1 utilisation").to.be.lte((assets + reserved) * MAX_UTILISATION_BPS);
  expect(reserved, "P1 reserved <= locked").to.be.lte(locked);
  const books = assets + reserved + (await pool.unearnedPremiums());
  expect(await token.balanceOf(await pool.getAddress()), "P2 pool balance == books").to.equal(books);
  await checkEconomics(fx, model);

  let heldDeposits = 0n;
  let expectedReserved = 0n;
  const DEDUCTIBLE = (await claims.getProduct(fx.productId)).deductible;
  for (const claimId of model.claims) {
    const c = await claims.getClaim(claimId);
    if (UNSETTLED.has(c.status)) heldDeposits += c.deposit;
    // Parametric claims (product 2, no deductible, zero appeal window) never stay Approved or Appealed.
    const due = (x: bigint) => (x > DEDUCTIBLE ? x - DEDUCTIBLE : 0n);
    const deductible = (await claims.getPolicy(c.policyId)).productId === fx.productId;
    if ((c.status === Status.Approved || c.status === Status.Appealed) && c.approved)
      expectedReserved += deductible ? due(c.payout) : c.payout;
    if (c.status === Status.Escalated) expectedReserved += deductible ? due(c.amount) : c.amount;
    const settled = model.settled.get(claimId);
    expect(settled?.count ?? 0, "P6 settled once").to.be.lte(1);
    if (settled) {
      expect(settled.paid, "P6 paid <= amount").to.be.lte(c.amount);
      if (settled.paid > 0n) expect(c.status, "P6 paid => Paid").to.equal(Status.Paid);
    }
  }
  expect(await token.balanceOf(await claims.getAddress()), "P3 claims balance").to.equal(heldDeposits);

  // P9: per device, the windows of claims not Closed (open, or Paid for good) are disjoint; evidence backs one claim.
  const held = [];
  for (const f of model.filed) if ((await claims.getClaim(f.claimId)).status !== Status.Closed) held.push(f);
  for (let i = 0; i < held.length; i++) {
    for (let j = i + 1; j < held.length; j++) {
      const [a, b] = [held[i], held[j]];
      if (a.device === b.device) {
        expect(overlaps(windowMinutes(a.incidentAt), windowMinutes(b.incidentAt)), `P9 claims ${a.claimId}, ${b.claimId} overlap`).to.equal(
          false,
        );
      }
    }
  }
  expect(new Set(model.filed.map((f) => f.evidenceHash)).size, "P9 evidence filed once").to.equal(model.filed.length);
  expect(reserved, "P8 reserved payouts").to.equal(expectedReserved);

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
        const model: Model = {
          succeeded: new Map(),
          policies: [],
          claims: [],
          filed: [],
          settled: new Map(),
          paidByPolicy: new Map(),
          earnings: [],
          lpIn: new Map(fx.lpIn),
          lpOut: new Map(),
          entitled: new Map(),
          steps: 0n,
          reserves: new Map(),
          stepGain: 0n,
          leftBehind: [],
        };
        for (const op of ops) {
          const before = await holdings(fx);
          await run(fx, model, op);
          creditEarnings(model, before, BigInt(await time.latest()));
          await checkInvariants(fx, model);
        }
        for (const [k, n] of model.succeeded) stats.set(k, (stats.get(k) ?? 0) + n);
      }),
      { numRuns: 50, seed: 20_261_121, endOnFailure: true },
    );
    if (process.env.PROPERTY_STATS) console.log(Object.fromEntries(stats), Object.fromEntries(failures));
    expectEverySucceeded(Object.keys(SENT_KINDS));
  });
});
