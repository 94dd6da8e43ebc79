import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import fc from "fast-check";
import { Wallet, ZeroAddress, ZeroHash, id } from "ethers";
import { ClaimStatus as ClaimStatusNames, enumValues, signVerdict, type Verdict } from "@triad/sdk";
import { DAY, STANDARD_PRODUCT, UNIT, deployInsuranceFixture } from "@triad/devkit/insurance";
import { buyPolicy, fileClaim, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";
import {
  BPS,
  FUZZ,
  MAX256,
  MAX64,
  balances,
  call,
  eventsOf,
  expectEverySucceeded,
  idFor,
  index,
  logOutcomes,
  mostly,
  pick,
  uint,
} from "./model.ts";

const { loadFixture, time } = networkHelpers;

/**
 * Property-based fuzzing of the InsurancePool and ClaimsInsurance entry points under random arguments: every call
 * must succeed as modelled or revert with a declared custom error (see ./model.ts).
 */

// ------------------------------------------------------------------ InsurancePool + ClaimsInsurance

type InsuranceOp =
  | { kind: "deposit"; caller: number; assets: bigint; receiver: number }
  | { kind: "withdraw" | "redeem"; caller: number; bps: bigint; receiver: number; owner: number; wait: boolean }
  | { kind: "requestRedeem"; caller: number; bps: bigint; controller: number; owner: number }
  | { kind: "cancelRedeemRequest"; caller: number; controller: number }
  | { kind: "buyPolicy"; caller: number; product: number; device: number; coverage: bigint; duration: bigint }
  | {
      kind: "fileClaim";
      caller: number;
      policy: number;
      amountBps: bigint;
      amount: bigint;
      incident: number;
      offset: bigint;
      /** 0 fresh evidence, 1 the zero hash, 2 the evidence of an earlier claim. */
      evidence: number;
      wait: boolean;
    }
  | {
      kind: "submitVerdict";
      claim: number;
      approved: boolean;
      payoutBps: bigint;
      payout: bigint;
      scoreBps: number;
      /** -1: the reason code rule (0 for an approval, else 1..255); otherwise any uint8. */
      reason: number;
      exactDeadline: boolean;
      deadline: bigint;
      exactEvidence: boolean;
      model: number;
      signers: number[];
    }
  | { kind: "appeal" | "settle" | "escalate"; caller: number; claim: number; wait: boolean }
  | { kind: "transfer"; amount: bigint }
  | { kind: "sweepSurplus"; caller: number }
  | { kind: "time"; seconds: number };

const insuranceOpArb: fc.Arbitrary<InsuranceOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("deposit" as const),
      caller: fc.nat({ max: 4 }),
      assets: mostly(fc.bigInt({ min: 0n, max: 20_000n * UNIT }), uint(MAX256), fc.constant(2n ** 112n)),
      receiver: fc.nat({ max: 4 }),
    }),
  },
  ...(["withdraw", "redeem"] as const).map((kind) => ({
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant(kind),
      caller: fc.nat({ max: 4 }),
      bps: mostly(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 10_001n, max: 20_000n }), uint(MAX256 / 10n ** 30n)),
      receiver: fc.nat({ max: 4 }),
      owner: mostly(fc.constant(-1), fc.nat({ max: 4 })),
      wait: fc.boolean(),
    }),
  })),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("requestRedeem" as const),
      caller: fc.nat({ max: 4 }),
      bps: mostly(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 10_001n, max: 20_000n })),
      controller: mostly(fc.constant(-1), fc.nat({ max: 4 })),
      owner: mostly(fc.constant(-1), fc.nat({ max: 4 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("cancelRedeemRequest" as const),
      caller: fc.nat({ max: 4 }),
      controller: mostly(fc.constant(-1), fc.nat({ max: 4 })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("buyPolicy" as const),
      caller: mostly(fc.constant(0), fc.nat({ max: 4 })),
      product: mostly(fc.constantFrom(1, 2), fc.constantFrom(0, 3)),
      device: mostly(fc.nat({ max: 3 }), fc.nat({ max: 5 })),
      coverage: mostly(fc.bigInt({ min: 1n, max: 10_000n * UNIT }), fc.constant(0n), uint(MAX256)),
      duration: mostly(fc.bigInt({ min: 30n * DAY, max: 365n * DAY }), uint(2n ** 32n - 1n)),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("fileClaim" as const),
      caller: mostly(fc.constant(0), fc.nat({ max: 4 })),
      policy: index,
      amountBps: fc.bigInt({ min: 0n, max: 12_000n }),
      amount: mostly(fc.constant(0n), uint(MAX256)),
      // 4: next to an earlier claim's incident on the same device (its window may overlap).
      incident: mostly(fc.constantFrom(0, 4), fc.constantFrom(1, 2, 3)),
      offset: fc.bigInt({ min: 0n, max: 10n * DAY }),
      evidence: mostly(fc.constant(0), fc.constantFrom(1, 2)),
      wait: fc.boolean(),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("submitVerdict" as const),
      claim: index,
      approved: fc.boolean(),
      payoutBps: mostly(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 10_001n, max: 20_000n })),
      payout: mostly(fc.constant(-1n), uint(MAX256)),
      scoreBps: mostly(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 10_001, max: 65_535 })),
      reason: mostly(fc.constant(-1), fc.integer({ min: 0, max: 255 })),
      exactDeadline: mostly(fc.constant(true), fc.constant(false)),
      deadline: uint(MAX64),
      exactEvidence: mostly(fc.constant(true), fc.constant(false)),
      model: mostly(fc.constant(0), fc.constantFrom(1, 2)),
      signers: mostly(fc.uniqueArray(fc.nat({ max: 2 }), { minLength: 1, maxLength: 3 }), fc.array(fc.nat({ max: 4 }), { maxLength: 4 })),
    }),
  },
  ...(["appeal", "settle", "escalate"] as const).map((kind) => ({
    weight: kind === "escalate" ? 1 : 3,
    arbitrary: fc.record({ kind: fc.constant(kind), caller: mostly(fc.constant(0), fc.nat({ max: 4 })), claim: index, wait: fc.boolean() }),
  })),
  // Tokens sent to the claims contract directly (audit I-6), and the admin's sweep of them (caller -1: the admin).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("transfer" as const), amount: fc.bigInt({ min: 1n, max: 500n * UNIT }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("sweepSurplus" as const), caller: mostly(fc.constant(-1), fc.nat({ max: 4 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 600, max: 3 * 86_400 }) }) },
);

const ClaimStatus = enumValues(ClaimStatusNames);

/**
 * The minutes a claim's incident window takes (docs/protocol.md §10.3): [incidentAt − before, incidentAt + after],
 * widened to whole minutes, as [first, last] minute numbers (unix time / 60).
 */
function windowMinutes(incidentAt: bigint, product: { incidentWindowBefore: bigint; incidentWindowAfter: bigint }): [bigint, bigint] {
  const start = incidentAt > product.incidentWindowBefore ? incidentAt - product.incidentWindowBefore : 0n;
  return [start / 60n, (incidentAt + product.incidentWindowAfter) / 60n];
}

/** The windows (in minutes) of the device's claims that hold their window: every claim that is not Closed. */
async function heldWindows(fx: InsuranceFuzz, device: string): Promise<{ claimId: bigint; minutes: [bigint, bigint] }[]> {
  const held = [];
  const count = await fx.claims.claimCount();
  for (let c = 1n; c <= count; c++) {
    const claim = await fx.claims.getClaim(c);
    if (claim.status === ClaimStatus.Closed) continue;
    const policy = await fx.claims.getPolicy(claim.policyId);
    if (policy.device !== device) continue;
    held.push({ claimId: c, minutes: windowMinutes(claim.incidentAt, await fx.claims.getProduct(policy.productId)) });
  }
  return held;
}

const overlaps = (a: [bigint, bigint], b: [bigint, bigint]) => a[0] <= b[1] && b[0] <= a[1];
const UNSETTLED = new Set<bigint>([
  ClaimStatus.Filed,
  ClaimStatus.Approved,
  ClaimStatus.Rejected,
  ClaimStatus.Appealed,
  ClaimStatus.Escalated,
]);

/**
 * The insurance fixture plus: three more devices of `holder`, one of `other`, funds and pool approvals for the
 * holder, a product that exists but is inactive (3), and something to decide from the start: policy 1 (standard
 * product, device 0) with claim 1 filed, policy 2 (parametric product, device 1) with claim 3 paid (its incident
 * window and evidence taken for good), and policy 3 (standard, device 2) with claim 2 approved for half its amount
 * (appealable, then settleable), and {@link STRAY} tokens sent to the claims
 * contract directly (so a sweep has something to take from the start), and redeem requests of LP1 and the holder (so
 * a cancellation has something to cancel). Callers by index: 0 holder,
 * 1 other, 2 lp1, 3 lp2, 4 stranger (no tokens, no approvals). Devices 0-3 are the holder's, 4 the other's, 5 is
 * not registered.
 */
async function insuranceFuzzFixture() {
  const fx = await deployInsuranceFixture();
  const holderDevices = await registerDevices(fx, fx.holder, 3, "fuzz-holder");
  const otherDevices = await registerDevices(fx, fx.other, 1, "fuzz-other");
  await fx.token.mint(fx.holder.address, 200_000n * UNIT);
  await fx.token.connect(fx.holder).approve(await fx.pool.getAddress(), ethers.MaxUint256);
  await fx.claims.connect(fx.insurer).createProduct({ ...STANDARD_PRODUCT, active: false });
  await buyPolicy(fx);
  await fileClaim(fx, 1n, { amount: 2_000n * UNIT });
  await buyPolicy(fx, { productId: fx.parametricProductId, device: holderDevices[0] });
  await buyPolicy(fx, { device: holderDevices[1] });
  await fileClaim(fx, 3n, { amount: 1_000n * UNIT, tag: "fuzz-decided" });
  const verdict = await verdictFor(fx, 2n, true, { payout: 500n * UNIT });
  await fx.claims.submitVerdict(verdict, await signBy(fx, fx.members.slice(0, 2), verdict));
  // Claim 3, paid at once (parametric): its window and its evidence are taken for good (C5).
  await fileClaim(fx, 2n, { amount: 1_000n * UNIT, tag: "fuzz-paid" });
  const paid = await verdictFor(fx, 3n, true, { payout: 500n * UNIT });
  await fx.claims.submitVerdict(paid, await signBy(fx, fx.members.slice(0, 2), paid));
  await fx.token.mint(await fx.claims.getAddress(), STRAY);
  // Something to cancel or claim from the start: redeem requests of LP1 (a tenth of its shares) and of the holder
  // (who deposits 1,000 tUSD first).
  await fx.pool.connect(fx.holder).deposit(1_000n * UNIT, fx.holder.address);
  for (const lp of [fx.lp1, fx.holder]) {
    await fx.pool.connect(lp).requestRedeem((await fx.pool.balanceOf(lp.address)) / 10n, lp.address, lp.address);
  }
  const stranger = (await ethers.getSigners())[9];
  const callers = [fx.holder, fx.other, fx.lp1, fx.lp2, stranger];
  const devices = [fx.device, ...holderDevices, ...otherDevices, new Wallet(id("triad/test/fuzz/insurance/unregistered")).address];
  const outsider = new Wallet(id("triad/test/fuzz/not-a-member"));
  return { ...fx, callers, devices, outsider, productCount: 4 };
}

type InsuranceFuzz = Awaited<ReturnType<typeof insuranceFuzzFixture>>;

/** Tokens the fuzz fixture sends to the claims contract directly. */
const STRAY = 10n * UNIT;

/**
 * A claim id: four times in five one whose status is in `statuses` (when there is one), so that the later steps of
 * the lifecycle are reached; otherwise {@link idFor} over all claims, including ids that do not exist.
 */
async function claimFor(fx: InsuranceFuzz, i: number, statuses: readonly bigint[]): Promise<bigint> {
  const count = await fx.claims.claimCount();
  const fitting: bigint[] = [];
  for (let c = 1n; c <= count; c++) if (statuses.includes((await fx.claims.getClaim(c)).status)) fitting.push(c);
  return i % 5 === 0 || fitting.length === 0 ? idFor(i, count) : pick(fitting, i);
}

/**
 * Pool (P) and claims (C) accounting that must hold after every call; `surplus` is what the model says was sent to
 * the claims contract directly and not yet swept.
 */
async function checkInsuranceInvariants(fx: InsuranceFuzz, surplus: bigint) {
  const { pool, claims, token } = fx;
  const [assets, reserved, unearned, locked, maxUtil, supply] = await Promise.all([
    pool.totalAssets(),
    pool.reservedPayouts(),
    pool.unearnedPremiums(),
    pool.lockedAssets(),
    pool.maxUtilisationBps(),
    pool.totalSupply(),
  ]);
  expect(locked * BPS, "P1 locked <= (assets + reserved) * maxUtilisation").to.be.lte((assets + reserved) * maxUtil);
  expect(reserved, "P1 reserved <= locked").to.be.lte(locked);
  expect(assets + reserved, "P2 ledger fits 112 bits").to.be.lt(2n ** 112n);
  expect(await token.balanceOf(await pool.getAddress()), "P3 pool balance == the books").to.equal(assets + reserved + unearned);
  // Escrowed shares of redeem requests are held by the pool itself.
  const holders = [...fx.callers, fx.admin, fx.treasury, { address: await pool.getAddress() }].map((s) => s.address);
  const shares = await Promise.all(holders.map((h) => pool.balanceOf(h)));
  expect(
    shares.reduce((a, b) => a + b, 0n),
    "P4 shares of known holders == totalSupply",
  ).to.equal(supply);

  let deposits = 0n;
  const claimCount = await claims.claimCount();
  for (let c = 1n; c <= claimCount; c++) {
    const claim = await claims.getClaim(c);
    if (UNSETTLED.has(claim.status)) deposits += claim.deposit;
  }
  const [held, balance] = await Promise.all([claims.depositsHeld(), token.balanceOf(await claims.getAddress())]);
  expect(held, "C1 depositsHeld == deposits of unsettled claims").to.equal(deposits);
  expect(balance, "C1 claims balance >= what it owes (the deposits held)").to.be.gte(held);
  expect(balance, "C1 claims balance == deposits held + unswept surplus").to.equal(held + surplus);
  let expectedLocked = 0n;
  const policyCount = await claims.policyCount();
  for (let p = 1n; p <= policyCount; p++) {
    const policy = await claims.getPolicy(p);
    expect(policy.paidOut, "C2 paidOut <= coverage").to.be.lte(policy.coverage);
    if (!policy.released) expectedLocked += policy.coverage - policy.paidOut;
  }
  expect(locked, "C3 locked == unreleased coverage - paidOut").to.equal(expectedLocked);

  // C5: evidence filed once; the windows of a device's open and paid claims share no minute; a committee decision's
  // reason code is 0 exactly for an approval.
  const hashes = new Set<string>();
  for (let c = 1n; c <= claimCount; c++) {
    const claim = await claims.getClaim(c);
    expect(hashes.has(claim.evidenceHash), "C5 evidence hash filed once").to.equal(false);
    hashes.add(claim.evidenceHash);
    expect(await claims.evidenceClaim(claim.evidenceHash), "C5 evidenceClaim").to.equal(c);
    if (claim.status === ClaimStatus.Approved) expect(claim.reason).to.equal(0n);
    if (claim.status === ClaimStatus.Rejected) expect(claim.reason).to.not.equal(0n);
  }
  for (const device of fx.devices) {
    const held = await heldWindows(fx, device);
    for (let i = 0; i < held.length; i++) {
      for (let j = i + 1; j < held.length; j++) {
        expect(overlaps(held[i].minutes, held[j].minutes), `C5 claims ${held[i].claimId} and ${held[j].claimId} overlap`).to.equal(false);
      }
    }
  }
}

// ------------------------------------------------------------------ property

describe("Entry points under random arguments (property-based)", function () {
  after(function () {
    logOutcomes(["pool.", "claims."]);
  });

  it("InsurancePool and ClaimsInsurance: deposit, requestRedeem, cancelRedeemRequest, withdraw, redeem, buyPolicy, fileClaim, submitVerdict, appeal, settle, escalate, sweepSurplus", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(insuranceOpArb, { minLength: 20, maxLength: 40 }), async (ops) => {
        const fx = await loadFixture(insuranceFuzzFixture);
        const { pool, claims, token, committee } = fx;
        const [poolAddress, claimsAddress] = [await pool.getAddress(), await claims.getAddress()];
        const poolDeclared = [pool.interface, token.interface];
        const claimsDeclared = [claims.interface, pool.interface, committee.interface, token.interface];
        const signerKeys = [...fx.members, fx.outsider];
        let surplus = STRAY;

        for (const op of ops) {
          if (op.kind === "time") {
            await time.increase(op.seconds);
            continue;
          }
          if (op.kind === "transfer") {
            await token.mint(claimsAddress, op.amount);
            surplus += op.amount;
            await checkInsuranceInvariants(fx, surplus);
            continue;
          }
          if (op.kind === "sweepSurplus") {
            const signer = op.caller < 0 ? fx.admin : pick(fx.callers, op.caller);
            const accounts = [claimsAddress, fx.treasury.address];
            const before = await balances(token, accounts);
            // A sweep with nothing to take succeeds too (it returns 0): counted apart, so that the check that every
            // entry point succeeded means a sweep that took something.
            const entry = surplus > 0n ? "claims.sweepSurplus" : "claims.sweepSurplus(nothing)";
            const outcome = await call(entry, claimsDeclared, () => claims.connect(signer).sweepSurplus());
            if (outcome.ok) {
              expect(signer.address, "only the admin sweeps").to.equal(fx.admin.address);
              const after = await balances(token, accounts);
              expect(
                after.map((a, i) => a - before[i]),
                "the sweep takes the surplus and nothing else",
              ).to.deep.equal([-surplus, surplus]);
              surplus = 0n;
            }
            await checkInsuranceInvariants(fx, surplus);
            continue;
          }
          const entry = `${["deposit", "withdraw", "redeem", "requestRedeem", "cancelRedeemRequest"].includes(op.kind) ? "pool" : "claims"}.${op.kind}`;
          const claimCount = await claims.claimCount();
          const policyCount = await claims.policyCount();
          switch (op.kind) {
            case "deposit": {
              const signer = pick(fx.callers, op.caller);
              const receiver = pick(fx.callers, op.receiver).address;
              const maxDeposit = await pool.maxDeposit(receiver);
              // previewDeposit of an amount beyond the 112-bit ledger is meaningless (and may overflow in the view).
              const shares = op.assets <= maxDeposit ? await pool.previewDeposit(op.assets) : 0n;
              const [sharesBefore, [tokensBefore, poolBefore]] = [
                await pool.balanceOf(receiver),
                await balances(token, [signer.address, poolAddress]),
              ];
              const outcome = await call(entry, poolDeclared, () => pool.connect(signer).deposit(op.assets, receiver));
              if (!outcome.ok) break;
              expect(op.assets, "deposit stays within maxDeposit").to.be.lte(maxDeposit);
              expect(await token.balanceOf(poolAddress)).to.equal(poolBefore + op.assets);
              // Premium is earned every second, so the price may have risen between the preview and the block.
              const minted = eventsOf(outcome.receipt, poolAddress, pool.interface).find((e) => e.name === "Deposit")!.args
                .shares as bigint;
              expect(minted, "no more shares than previewed").to.be.lte(shares);
              expect(await pool.balanceOf(receiver)).to.equal(sharesBefore + minted);
              expect(await token.balanceOf(signer.address)).to.equal(tokensBefore - op.assets);
              break;
            }
            case "withdraw":
            case "redeem": {
              // ERC-7540 claim of the controller's (`owner`'s) request.
              const signer = pick(fx.callers, op.caller);
              const owner = op.owner < 0 ? signer.address : pick(fx.callers, op.owner).address;
              const receiver = pick(fx.callers, op.receiver).address;
              const [requested, atRequest, claimableAt] = await pool.redeemRequest(owner);
              if (op.wait && claimableAt > BigInt(await time.latest())) await time.increaseTo(claimableAt);
              const max = op.kind === "withdraw" ? await pool.maxWithdraw(owner) : await pool.maxRedeem(owner);
              const amount = (max * op.bps) / BPS + (op.bps > 20_000n ? op.bps : 0n);
              const [[tokensBefore], supplyBefore] = [await balances(token, [receiver]), await pool.totalSupply()];
              const outcome = await call(entry, poolDeclared, () =>
                op.kind === "withdraw"
                  ? pool.connect(signer).withdraw(amount, receiver, owner)
                  : pool.connect(signer).redeem(amount, receiver, owner),
              );
              if (!outcome.ok) break;
              expect(amount, `${op.kind} stays within max${op.kind}`).to.be.lte(max);
              expect(
                signer.address === owner || (await pool.isOperator(owner, signer.address)),
                "only the controller or its operator",
              ).to.equal(true);
              const withdrawn = eventsOf(outcome.receipt, poolAddress, pool.interface).find((e) => e.name === "Withdraw");
              const [assets, shares] = withdrawn ? [withdrawn.args.assets as bigint, withdrawn.args.shares as bigint] : [0n, 0n];
              expect(op.kind === "withdraw" ? assets : shares, "the amount asked for").to.equal(amount);
              // Never more than the request's value at request, pro rata.
              if (shares > 0n) expect(assets * requested).to.be.lte(atRequest * shares);
              expect((await pool.redeemRequest(owner))[0]).to.equal(requested - shares);
              expect(await pool.totalSupply()).to.equal(supplyBefore - shares);
              expect(await token.balanceOf(receiver)).to.equal(tokensBefore + assets);
              break;
            }
            case "requestRedeem": {
              const signer = pick(fx.callers, op.caller);
              const owner = op.owner < 0 ? signer.address : pick(fx.callers, op.owner).address;
              const controller = op.controller < 0 ? owner : pick(fx.callers, op.controller).address;
              const balance = await pool.balanceOf(owner);
              const shares = (balance * op.bps) / BPS;
              const [requested] = await pool.redeemRequest(controller);
              const outcome = await call(entry, poolDeclared, () => pool.connect(signer).requestRedeem(shares, controller, owner));
              if (!outcome.ok) break;
              expect(shares, "request within the owner's shares").to.be.lte(balance);
              expect(await pool.balanceOf(owner)).to.equal(balance - shares);
              expect(await pool.pendingRedeemRequest(0n, controller)).to.equal(requested + shares);
              expect(await pool.maxRedeem(controller), "nothing claimable during the cooldown").to.equal(0n);
              break;
            }
            case "cancelRedeemRequest": {
              const signer = pick(fx.callers, op.caller);
              const controller = op.controller < 0 ? signer.address : pick(fx.callers, op.controller).address;
              const [requested] = await pool.redeemRequest(controller);
              const balance = await pool.balanceOf(controller);
              const outcome = await call(entry, poolDeclared, () => pool.connect(signer).cancelRedeemRequest(0n, controller));
              if (!outcome.ok) break;
              expect(await pool.balanceOf(controller)).to.equal(balance + requested);
              expect((await pool.redeemRequest(controller))[0]).to.equal(0n);
              break;
            }
            case "buyPolicy": {
              const signer = pick(fx.callers, op.caller);
              const productId = BigInt(op.product);
              const device = pick(fx.devices, op.device);
              const fee = await pool.protocolFeeBps();
              const locked = await pool.lockedAssets();
              const accounts = [signer.address, fx.treasury.address, poolAddress];
              const before = await balances(token, accounts);
              const outcome = await call(entry, claimsDeclared, () =>
                claims.connect(signer).buyPolicy(productId, device, op.coverage, op.duration),
              );
              if (!outcome.ok) break;
              const premium = await claims.quotePremium(productId, op.coverage, op.duration);
              const protocolFee = (premium * fee) / BPS;
              const after = await balances(token, accounts);
              expect(
                after.map((a, i) => a - before[i]),
                "premium split",
              ).to.deep.equal([-premium, protocolFee, premium - protocolFee]);
              expect(await pool.lockedAssets()).to.equal(locked + op.coverage);
              expect(await claims.ownerOf(policyCount + 1n)).to.equal(signer.address);
              break;
            }
            case "fileClaim": {
              const signer = pick(fx.callers, op.caller);
              const policyId = idFor(op.policy, policyCount);
              const policy = await claims.getPolicy(policyId);
              const product = await claims.getProduct(policy.productId);
              if (op.wait && policy.start !== 0n) {
                const coveredFrom = policy.start + product.waitingPeriod + 1n;
                if (BigInt(await time.latest()) < coveredFrom) await time.increaseTo(coveredFrom);
              }
              const now = BigInt(await time.latest());
              const held = policy.start === 0n ? [] : await heldWindows(fx, policy.device);
              const earlier = held.length === 0 ? undefined : await claims.getClaim(pick(held, op.policy).claimId);
              const incidents = [
                now - (op.offset % 3_600n),
                policy.start + product.waitingPeriod + op.offset,
                now + 1n + op.offset,
                op.offset * 1_000n,
                earlier ? earlier.incidentAt + (op.offset % 1_500n) - 750n : now - (op.offset % 3_600n),
              ];
              const incidentAt = incidents[op.incident] > MAX64 ? MAX64 : incidents[op.incident] < 0n ? 0n : incidents[op.incident];
              const amount = op.amount === 0n ? ((policy.coverage - policy.paidOut) * op.amountBps) / BPS : op.amount;
              const filedHashes = [];
              for (let c = 1n; c <= claimCount; c++) filedHashes.push((await claims.getClaim(c)).evidenceHash);
              const evidenceHash = [id(`fuzz evidence ${now}`), ZeroHash, filedHashes.length > 0 ? pick(filedHashes, op.policy) : ZeroHash][
                op.evidence
              ];
              const before = await balances(token, [signer.address, claimsAddress]);
              const outcome = await call(entry, claimsDeclared, () =>
                claims.connect(signer).fileClaim(policyId, amount, incidentAt, evidenceHash, "ipfs://fuzz"),
              );
              const window = windowMinutes(incidentAt, product);
              const taken = held.some((h) => overlaps(h.minutes, window));
              const used = filedHashes.indexOf(evidenceHash);
              if (!outcome.ok) {
                // C5: the contract's reasons agree with the model's.
                if (outcome.error.name === "ClaimsEvidenceAlreadyUsed") {
                  expect(used, "evidence refused as used: it was filed").to.be.at.least(0);
                  expect(outcome.error.args.toArray()).to.deep.equal([evidenceHash, BigInt(used + 1)]);
                }
                if (outcome.error.name === "ClaimsIncidentWindowTaken")
                  expect(taken, "window refused as taken: it overlaps").to.equal(true);
                break;
              }
              expect(used, "C5 fresh evidence").to.equal(-1);
              expect(taken, "C5 the window overlapped no open or paid claim of the device").to.equal(false);
              const claim = await claims.getClaim(claimCount + 1n);
              const after = await balances(token, [signer.address, claimsAddress]);
              expect(
                after.map((a, i) => a - before[i]),
                "deposit taken",
              ).to.deep.equal([-claim.deposit, claim.deposit]);
              expect([claim.status, claim.amount, claim.policyId, claim.deposit]).to.deep.equal([
                ClaimStatus.Filed,
                amount,
                policyId,
                product.claimDeposit,
              ]);
              expect(amount).to.be.greaterThan(0n);
              expect(amount).to.be.lte(policy.coverage - policy.paidOut);
              break;
            }
            case "submitVerdict": {
              const claimId = await claimFor(fx, op.claim, [ClaimStatus.Filed]);
              const claim = await claims.getClaim(claimId);
              const verdict: Verdict = {
                claimId,
                evidenceHash: op.exactEvidence ? claim.evidenceHash : id("fuzz: other evidence"),
                modelHash: [fx.modelHash, ZeroHash, id("fuzz: unknown model")][op.model],
                approved: op.approved,
                // payout -1: the payout rule's shape (a share of the amount for an approval, zero for a rejection).
                payout: op.payout >= 0n ? op.payout : op.approved ? (claim.amount * op.payoutBps) / BPS : 0n,
                scoreBps: op.scoreBps,
                reason: op.reason >= 0 ? op.reason : op.approved ? 0 : 1 + (op.scoreBps % 255),
                deadline: op.exactDeadline ? claim.assessmentDeadline : op.deadline,
              };
              const signatures = await Promise.all(
                op.signers.map((i) => (i === 4 ? Promise.resolve("0x" + "11".repeat(64)) : signVerdict(signerKeys[i], fx.domain, verdict))),
              );
              const outcome = await call(entry, claimsDeclared, () => claims.submitVerdict(verdict, signatures));
              if (!outcome.ok) break;
              const events = eventsOf(outcome.receipt, claimsAddress, claims.interface);
              expect(events.filter((e) => e.name === "VerdictSigned").length).to.equal(1);
              const decided = (await claims.getClaim(claimId)).status;
              if (events.some((e) => e.name === "VerdictFinalised")) {
                expect(verdict.payout).to.be.lte(op.approved ? claim.amount : 0n);
                expect(verdict.reason === 0, "approved ⇔ reason 0").to.equal(op.approved);
                expect((await claims.getClaim(claimId)).reason).to.equal(BigInt(verdict.reason));
                expect(decided).to.be.oneOf(
                  op.approved ? [ClaimStatus.Approved, ClaimStatus.Paid, ClaimStatus.Closed] : [ClaimStatus.Rejected, ClaimStatus.Closed],
                );
              } else {
                expect(decided).to.equal(ClaimStatus.Filed);
              }
              break;
            }
            case "appeal":
            case "settle":
            case "escalate": {
              const signer = pick(fx.callers, op.caller);
              const statuses = op.kind === "escalate" ? [ClaimStatus.Filed] : [ClaimStatus.Approved, ClaimStatus.Rejected];
              const claimId = await claimFor(fx, op.claim, statuses);
              const claim = await claims.getClaim(claimId);
              if (op.wait && op.kind === "settle" && claim.appealDeadline !== 0n) {
                if (BigInt(await time.latest()) < claim.appealDeadline) await time.increaseTo(claim.appealDeadline);
              }
              if (op.wait && op.kind === "escalate" && claim.assessmentDeadline !== 0n) {
                if (BigInt(await time.latest()) <= claim.assessmentDeadline) await time.increaseTo(claim.assessmentDeadline + 1n);
              }
              const holder = claim.policyId === 0n ? ZeroAddress : await claims.ownerOf(claim.policyId);
              const accounts = [holder, poolAddress, claimsAddress];
              const before = await balances(token, accounts);
              const outcome = await call(entry, claimsDeclared, () => claims.connect(signer)[op.kind](claimId));
              if (!outcome.ok) break;
              const status = (await claims.getClaim(claimId)).status;
              if (op.kind === "appeal") {
                expect(signer.address).to.equal(holder);
                expect(status).to.equal(ClaimStatus.Appealed);
              } else if (op.kind === "escalate") {
                expect(claim.status).to.equal(ClaimStatus.Filed);
                expect(status).to.equal(ClaimStatus.Escalated);
              } else {
                const deductible = (await claims.getProduct((await claims.getPolicy(claim.policyId)).productId)).deductible;
                const paid = claim.approved && claim.payout > deductible ? claim.payout - deductible : 0n;
                const refund = claim.approved ? claim.deposit : 0n;
                const forfeit = claim.approved ? 0n : claim.deposit;
                const after = await balances(token, accounts);
                expect(
                  after.map((a, i) => a - before[i]),
                  "settlement moves payout and deposit",
                ).to.deep.equal([paid + refund, forfeit - paid, -claim.deposit]);
                expect(status).to.equal(paid > 0n ? ClaimStatus.Paid : ClaimStatus.Closed);
              }
              break;
            }
          }
          await checkInsuranceInvariants(fx, surplus);
        }
      }),
      FUZZ,
    );
    expectEverySucceeded([
      "pool.deposit",
      "pool.requestRedeem",
      "pool.cancelRedeemRequest",
      "pool.withdraw",
      "pool.redeem",
      "claims.buyPolicy",
      "claims.fileClaim",
      "claims.submitVerdict",
      "claims.appeal",
      "claims.settle",
      "claims.escalate",
      "claims.sweepSurplus",
    ]);
  });
});

networkHelpers;
