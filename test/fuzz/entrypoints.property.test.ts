import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import {
  ErrorFragment,
  Wallet,
  ZeroAddress,
  ZeroHash,
  id,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type ErrorDescription,
  type Interface,
  type LogDescription,
} from "ethers";
import { signVerdict, type Verdict } from "../../sdk";
import { registeredDeviceFixture } from "../devices/fixtures";
import { BUYER_PUBLIC_KEY, BUYER_PUBLIC_KEY_UNCOMPRESSED, listedFixture } from "../market/fixtures";
import { DAY, STANDARD_PRODUCT, UNIT, deployInsuranceFixture } from "../insurance/fixtures";
import { buyPolicy, fileClaim, registerDevices, signBy, verdictFor } from "../insurance/helpers";

/**
 * Property-based fuzzing of the contracts' entry points: random arguments from random callers, in random order.
 * Every call must either
 *   - succeed, and then move exactly the tokens and state it should (checked against a model or a balance delta),
 *     keeping each contract's accounting invariant, or
 *   - revert with a custom error DECLARED in the ABI of the called contract or of a collaborator it calls (the
 *     ERC-20; for ClaimsInsurance also the pool and the committee), decoded from the revert data.
 * A revert without data, with `Error(string)`, with a `Panic` (overflow, bounds, enum) or with an unknown selector
 * fails the property. Arguments stay within their ABI types (an out-of-range enum or integer is refused by the ABI
 * decoder or by ethers before any contract code runs).
 *
 * Complements test/insurance/Insurance.property.test.ts, which drives well-formed lifecycles (valid claims, honest
 * verdicts) and checks the insurance money invariants; here the arguments themselves are random.
 */

const PANIC_SELECTOR = "0x4e487b71";
const ERROR_STRING_SELECTOR = "0x08c379a0";
const MAX64 = 2n ** 64n - 1n;
const MAX128 = 2n ** 128n - 1n;
const MAX256 = 2n ** 256n - 1n;
const BPS = 10_000n;
const FUZZ = { numRuns: 20, endOnFailure: true, seed: Number(process.env.FUZZ_SEED ?? 20_261_122) } as const;

// ------------------------------------------------------------------ outcome checking

type Outcome = { ok: true; receipt: ContractTransactionReceipt } | { ok: false; error: ErrorDescription };

/** Entry point -> outcome ("ok" or error name) -> count, over the whole file. */
const outcomes = new Map<string, Map<string, number>>();

function record(entry: string, outcome: string) {
  const m = outcomes.get(entry) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  outcomes.set(entry, m);
}

/** The revert data carried by an ethers / Hardhat error, if any. */
function revertData(e: unknown): string | undefined {
  const candidates = [
    (e as { data?: unknown }).data,
    (e as { error?: { data?: unknown } }).error?.data,
    (e as { info?: { error?: { data?: unknown } } }).info?.error?.data,
  ];
  for (const c of candidates) {
    if (typeof c === "string") return c;
    const nested = (c as { data?: unknown } | undefined)?.data;
    if (typeof nested === "string") return nested;
  }
  return undefined;
}

/** The error the revert data encodes, if one of `declared` declares it (its own fragments, not ethers' built-ins). */
function decodeDeclared(data: string, declared: readonly Interface[]): ErrorDescription | undefined {
  const selector = data.slice(0, 10).toLowerCase();
  for (const iface of declared) {
    const fragment = iface.fragments.find((f): f is ErrorFragment => ErrorFragment.isFragment(f) && f.selector === selector);
    if (fragment) return iface.parseError(data) ?? undefined;
  }
  return undefined;
}

/**
 * Sends a transaction and classifies it. A revert must be a custom error that one of `declared` declares; anything
 * else fails the test with the entry point's name.
 */
async function call(entry: string, declared: readonly Interface[], send: () => Promise<ContractTransactionResponse>): Promise<Outcome> {
  let tx: ContractTransactionResponse;
  try {
    tx = await send();
  } catch (e) {
    const data = revertData(e);
    const message = (e as Error).message;
    expect(data, `${entry}: reverted without revert data (${message})`).to.match(/^0x[0-9a-fA-F]{8}/);
    const selector = data!.slice(0, 10).toLowerCase();
    expect(selector, `${entry}: panic (${message})`).to.not.equal(PANIC_SELECTOR);
    expect(selector, `${entry}: string revert (${message})`).to.not.equal(ERROR_STRING_SELECTOR);
    const error = decodeDeclared(data!, declared);
    expect(error, `${entry}: undeclared error ${selector} (${message})`).to.not.equal(undefined);
    record(entry, error!.name);
    return { ok: false, error: error! };
  }
  const receipt = (await tx.wait())!;
  record(entry, "ok");
  return { ok: true, receipt };
}

/** The logs of `receipt` emitted by `address`, decoded with `iface`. */
function eventsOf(receipt: ContractTransactionReceipt, address: string, iface: Interface): LogDescription[] {
  return receipt.logs
    .filter((l) => l.address.toLowerCase() === address.toLowerCase())
    .map((l) => iface.parseLog(l))
    .filter((l): l is LogDescription => l !== null);
}

function expectEvent(events: LogDescription[], name: string, args: unknown[]) {
  const found = events.filter((e) => e.name === name);
  expect(found.length, `event ${name}`).to.equal(1);
  expect(found[0].args.toArray(), `event ${name} args`).to.deep.equal(args);
}

/** Every listed entry point must have succeeded at least once: generators that never reach success test nothing. */
function expectEverySucceeded(entries: readonly string[]) {
  for (const entry of entries) expect(outcomes.get(entry)?.get("ok") ?? 0, `${entry} never succeeded`).to.be.greaterThan(0);
}

const pick = <T,>(list: readonly T[], i: number): T => list[i % list.length];

/** An id among `1..count` four times in five, else one that does not exist (0 or count + 1). */
const idFor = (i: number, count: bigint): bigint =>
  count === 0n || i % 5 === 0 ? (i % 10 === 0 ? 0n : count + 1n) : 1n + (BigInt(i) % count);

/** A weighted choice between a mostly-valid and an arbitrary value. */
function mostly<T>(valid: fc.Arbitrary<T>, ...others: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 6 * others.length, arbitrary: valid }, ...others.map((arbitrary) => ({ weight: 1, arbitrary })));
}

const index = fc.nat({ max: 1_000 });
const uint = (max: bigint) => fc.bigInt({ min: 0n, max });

// ------------------------------------------------------------------ DeviceRegistry

const DeviceStatus = { None: 0n, Active: 1n, Suspended: 2n, Revoked: 3n } as const;

type RegistryOp =
  | { kind: "anchorBatch"; caller: number; device: number; root: number; fromDelta: number; length: number; from: number; to: number; uri: string }
  | { kind: "suspend" | "resume" | "revoke" | "acceptOwnership"; caller: number; device: number }
  | { kind: "proposeOwner"; caller: number; device: number; newOwner: number }
  | { kind: "setGateway"; caller: number; gateway: number; authorised: boolean };

/** Extreme seqs; index 0 means "relative to nextSeq". */
const SEQ_EXTREMES = [undefined, 0n, MAX64 - 1n, MAX64] as const;

/** Callers 0 admin, 1 and 2 owners, 3 gateway, 4 stranger; devices 0-2 registered, 3 not. */
const registryCaller = mostly(fc.nat({ max: 2 }), fc.nat({ max: 4 }));
const registryDevice = mostly(fc.nat({ max: 2 }), fc.constant(3));

const registryOpArb: fc.Arbitrary<RegistryOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("anchorBatch" as const),
      caller: registryCaller,
      device: registryDevice,
      root: fc.nat({ max: 12 }),
      fromDelta: fc.integer({ min: -2, max: 3 }),
      length: fc.integer({ min: -1, max: 5 }),
      from: mostly(fc.constant(0), fc.integer({ min: 1, max: 3 })),
      to: mostly(fc.constant(0), fc.integer({ min: 1, max: 3 })),
      uri: fc.string({ maxLength: 12 }),
    }),
  },
  ...(["suspend", "resume", "revoke", "acceptOwnership"] as const).map((kind) => ({
    weight: kind === "revoke" ? 1 : 3,
    arbitrary: fc.record({ kind: fc.constant(kind), caller: registryCaller, device: registryDevice }),
  })),
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("proposeOwner" as const), caller: registryCaller, device: registryDevice, newOwner: mostly(fc.nat({ max: 2 }), index) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("setGateway" as const), caller: index, gateway: index, authorised: fc.boolean() }) },
);

interface DeviceModel {
  owner: string;
  status: bigint;
  adminHold: boolean;
  nextSeq: bigint;
  pending: string;
}

/** Three registered devices (two of `owners[0]`, one of `owners[1]`) and the accounts that call them. */
async function registryFuzzFixture() {
  const fx = await registeredDeviceFixture();
  await fx.registerDevice(fx.devices[1], fx.owners[0]);
  await fx.registerDevice(fx.devices[2], fx.owners[1]);
  const callers = [fx.admin, fx.owners[0], fx.owners[1], fx.gateway, fx.stranger];
  const unregistered = new Wallet(id("triad/test/fuzz/unregistered")).address;
  return { ...fx, callers, deviceAddresses: [...fx.devices.map((d) => d.address), unregistered] };
}

/** The error (name and arguments) the registry must revert with, or null when the call must succeed. */
function expectedRegistryError(
  op: RegistryOp,
  caller: string,
  isAdmin: boolean,
  device: string,
  d: DeviceModel | undefined,
  args: { root?: string; from?: bigint; to?: bigint; newOwner?: string; gateway?: string },
  gateways: Set<string>,
  anchors: Set<string>,
): [string, unknown[]] | null {
  if (op.kind === "setGateway") return args.gateway === ZeroAddress ? ["DeviceZeroAddress", []] : null;
  if (!d) return ["DeviceNotRegistered", [device]];
  const byOwner = caller === d.owner;
  const transition = (next: bigint): [string, unknown[]] | null => {
    const allowed = (d.status === DeviceStatus.Active && next !== DeviceStatus.Active) || (d.status === DeviceStatus.Suspended && next !== DeviceStatus.Suspended);
    return allowed ? null : ["DeviceInvalidStatusTransition", [device, d.status, next]];
  };
  switch (op.kind) {
    case "anchorBatch": {
      if (!byOwner && !gateways.has(`${d.owner}/${caller}`)) return ["DeviceUnauthorized", [device, caller]];
      if (d.status !== DeviceStatus.Active) return ["DeviceNotActive", [device, d.status]];
      if (args.root === ZeroHash) return ["AnchorZeroRoot", []];
      if (anchors.has(args.root!)) return ["AnchorAlreadyExists", [args.root]];
      if (args.from! < d.nextSeq || args.to! < args.from! || args.to === MAX64) {
        return ["AnchorInvalidRange", [device, args.from, args.to, d.nextSeq]];
      }
      return null;
    }
    case "suspend":
      if (!byOwner && !isAdmin) return ["DeviceUnauthorized", [device, caller]];
      return transition(DeviceStatus.Suspended);
    case "resume":
      if (!byOwner && !isAdmin) return ["DeviceUnauthorized", [device, caller]];
      if (d.status !== DeviceStatus.Suspended) return ["DeviceInvalidStatusTransition", [device, d.status, DeviceStatus.Active]];
      if (d.adminHold && !isAdmin) return ["DeviceAdminHold", [device]];
      return null;
    case "revoke":
      if (!byOwner && !isAdmin) return ["DeviceUnauthorized", [device, caller]];
      return transition(DeviceStatus.Revoked);
    case "proposeOwner":
      return byOwner ? null : ["DeviceUnauthorized", [device, caller]];
    case "acceptOwnership":
      return caller === d.pending && d.pending !== ZeroAddress ? null : ["DeviceNotPendingOwner", [device, caller, d.pending]];
  }
}

// ------------------------------------------------------------------ DataMarketplace

type MarketOp =
  | {
      kind: "createListing";
      caller: number;
      listingKind: number;
      price: bigint;
      period: bigint;
      deliveryWindow: bigint;
      zeroHash: number;
      devices: number[];
      anchors: number[];
    }
  | { kind: "purchase"; caller: number; listing: number; maxPrice: bigint; capAtPrice: boolean; key: number }
  | { kind: "deliver"; caller: number; purchase: number; emptyKey: boolean }
  | { kind: "refund"; caller: number; purchase: number; wait: boolean }
  | { kind: "withdraw"; caller: number; to: number }
  | { kind: "setPrice"; caller: number; listing: number; price: bigint }
  | { kind: "takeDown"; caller: number; listing: number }
  | { kind: "time"; seconds: number };

const DELIVERY_MAX = 30n * 86_400n;
const priceArb = mostly(fc.bigInt({ min: 1n, max: 200_000_000n }), fc.constant(0n), uint(MAX128));

const marketOpArb: fc.Arbitrary<MarketOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("createListing" as const),
      caller: mostly(fc.constant(0), fc.nat({ max: 6 })),
      listingKind: fc.nat({ max: 2 }),
      price: priceArb,
      period: mostly(fc.constant(-1n), fc.constant(0n), uint(2n ** 32n - 1n)),
      deliveryWindow: mostly(fc.bigInt({ min: 1n, max: DELIVERY_MAX }), fc.constant(0n), uint(2n ** 32n - 1n)),
      zeroHash: mostly(fc.constant(0), fc.constantFrom(1, 2)),
      devices: mostly(
        fc.array(fc.nat({ max: 1 }), { minLength: 1, maxLength: 2 }),
        fc.array(fc.nat({ max: 3 }), { maxLength: 3 }),
        fc.array(fc.nat({ max: 1 }), { minLength: 17, maxLength: 17 }),
      ),
      anchors: mostly(fc.array(fc.constant(0), { maxLength: 1 }), fc.array(fc.nat({ max: 2 }), { maxLength: 3 }), fc.constant(Array(33).fill(0))),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("purchase" as const),
      caller: mostly(fc.constantFrom(1, 2), fc.nat({ max: 6 })),
      listing: index,
      maxPrice: uint(MAX256),
      capAtPrice: mostly(fc.constant(true), fc.constant(false)),
      key: mostly(fc.constantFrom(0, 1), fc.nat({ max: 5 })),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("deliver" as const),
      caller: mostly(fc.constantFrom(0, 3), fc.nat({ max: 6 })),
      purchase: index,
      emptyKey: mostly(fc.constant(false), fc.constant(true)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("refund" as const), caller: mostly(fc.constantFrom(1, 2), fc.nat({ max: 6 })), purchase: index, wait: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("withdraw" as const), caller: mostly(fc.constantFrom(0, 4, 6), fc.nat({ max: 6 })), to: mostly(fc.nat({ max: 6 }), fc.constant(7)) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("setPrice" as const), caller: mostly(fc.constant(0), fc.nat({ max: 6 })), listing: index, price: priceArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("takeDown" as const), caller: mostly(fc.constant(5), fc.nat({ max: 6 })), listing: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 1, max: 3 * 86_400 }) }) },
);

const PurchaseStatus = { None: 0n, Pending: 1n, Delivered: 2n, Refunded: 3n } as const;
const ENCRYPTED_KEY = "0x" + "5e".repeat(97);

async function marketFuzzFixture() {
  const fx = await listedFixture();
  const { seller, buyer, buyer2, agent, other, admin, treasury } = fx.signers;
  await fx.market.connect(seller).setAgent(agent.address, true);
  // Callers by index: 0 seller, 1 buyer, 2 buyer2, 3 agent, 4 other (owns device 3), 5 admin, 6 treasury.
  const callers = [seller, buyer, buyer2, agent, other, admin, treasury];
  const unregistered = new Wallet(id("triad/test/fuzz/market/unregistered")).address;
  const deviceChoices = [fx.devices.device1, fx.devices.device2, fx.devices.device3, unregistered];
  const anchorChoices = [fx.batch.root, fx.otherBatch.root, id("triad/test/fuzz/never-anchored")];
  const publicKeys = [
    BUYER_PUBLIC_KEY,
    BUYER_PUBLIC_KEY_UNCOMPRESSED,
    "0x",
    "0x04" + BUYER_PUBLIC_KEY.slice(4), // 33 bytes with the uncompressed prefix
    "0x02" + BUYER_PUBLIC_KEY_UNCOMPRESSED.slice(4), // 65 bytes with a compressed prefix
    BUYER_PUBLIC_KEY + "00", // 34 bytes
  ];
  return { ...fx, callers, deviceChoices, anchorChoices, publicKeys };
}

// ------------------------------------------------------------------ InsurancePool + ClaimsInsurance

type InsuranceOp =
  | { kind: "deposit"; caller: number; assets: bigint; receiver: number }
  | { kind: "withdraw" | "redeem"; caller: number; bps: bigint; receiver: number; owner: number }
  | { kind: "buyPolicy"; caller: number; product: number; device: number; coverage: bigint; duration: bigint }
  | { kind: "fileClaim"; caller: number; policy: number; amountBps: bigint; amount: bigint; incident: number; offset: bigint; zeroEvidence: boolean; wait: boolean }
  | {
      kind: "submitVerdict";
      claim: number;
      approved: boolean;
      payoutBps: bigint;
      payout: bigint;
      scoreBps: number;
      exactDeadline: boolean;
      deadline: bigint;
      exactEvidence: boolean;
      model: number;
      signers: number[];
    }
  | { kind: "appeal" | "settle" | "escalate"; caller: number; claim: number; wait: boolean }
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
    }),
  })),
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
      incident: mostly(fc.constant(0), fc.constantFrom(1, 2, 3)),
      offset: fc.bigInt({ min: 0n, max: 10n * DAY }),
      zeroEvidence: mostly(fc.constant(false), fc.constant(true)),
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
      exactDeadline: mostly(fc.constant(true), fc.constant(false)),
      deadline: uint(MAX64),
      exactEvidence: mostly(fc.constant(true), fc.constant(false)),
      model: mostly(fc.constant(0), fc.constantFrom(1, 2)),
      signers: mostly(
        fc.uniqueArray(fc.nat({ max: 2 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat({ max: 4 }), { maxLength: 4 }),
      ),
    }),
  },
  ...(["appeal", "settle", "escalate"] as const).map((kind) => ({
    weight: kind === "escalate" ? 1 : 3,
    arbitrary: fc.record({ kind: fc.constant(kind), caller: mostly(fc.constant(0), fc.nat({ max: 4 })), claim: index, wait: fc.boolean() }),
  })),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 600, max: 3 * 86_400 }) }) },
);

const ClaimStatus = { None: 0n, Filed: 1n, Approved: 2n, Rejected: 3n, Appealed: 4n, Escalated: 5n, Paid: 6n, Closed: 7n } as const;
const UNSETTLED = new Set<bigint>([ClaimStatus.Filed, ClaimStatus.Approved, ClaimStatus.Rejected, ClaimStatus.Appealed, ClaimStatus.Escalated]);

/**
 * The insurance fixture plus: three more devices of `holder`, one of `other`, funds and pool approvals for the
 * holder, a product that exists but is inactive (3), and something to decide from the start: policy 1 (standard
 * product, device 0) with claim 1 filed, policy 2 (parametric product, device 1), and policy 3 (standard, device 2)
 * with claim 2 approved for half its amount (appealable, then settleable). Callers by index: 0 holder,
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
  const stranger = (await ethers.getSigners())[9];
  const callers = [fx.holder, fx.other, fx.lp1, fx.lp2, stranger];
  const devices = [fx.device, ...holderDevices, ...otherDevices, new Wallet(id("triad/test/fuzz/insurance/unregistered")).address];
  const outsider = new Wallet(id("triad/test/fuzz/not-a-member"));
  return { ...fx, callers, devices, outsider, productCount: 4 };
}

type InsuranceFuzz = Awaited<ReturnType<typeof insuranceFuzzFixture>>;

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

/** Token balances of `accounts`, to compare before and after a call. */
async function balances(token: { balanceOf(a: string): Promise<bigint> }, accounts: readonly string[]): Promise<bigint[]> {
  return Promise.all(accounts.map((a) => token.balanceOf(a)));
}

/** Pool (P) and claims (C) accounting that must hold after every call. */
async function checkInsuranceInvariants(fx: InsuranceFuzz) {
  const { pool, claims, token } = fx;
  const [assets, locked, maxUtil, supply] = await Promise.all([pool.totalAssets(), pool.lockedAssets(), pool.maxUtilisationBps(), pool.totalSupply()]);
  expect(locked * BPS, "P1 locked <= assets * maxUtilisation").to.be.lte(assets * maxUtil);
  expect(assets, "P2 ledger fits 112 bits").to.be.lt(2n ** 112n);
  expect(await token.balanceOf(await pool.getAddress()), "P3 pool balance == totalAssets").to.equal(assets);
  const holders = [...fx.callers, fx.admin, fx.treasury].map((s) => s.address);
  const shares = await Promise.all(holders.map((h) => pool.balanceOf(h)));
  expect(shares.reduce((a, b) => a + b, 0n), "P4 shares of known holders == totalSupply").to.equal(supply);

  let deposits = 0n;
  const claimCount = await claims.claimCount();
  for (let c = 1n; c <= claimCount; c++) {
    const claim = await claims.getClaim(c);
    if (UNSETTLED.has(claim.status)) deposits += claim.deposit;
  }
  expect(await token.balanceOf(await claims.getAddress()), "C1 claims balance == deposits of unsettled claims").to.equal(deposits);
  let expectedLocked = 0n;
  const policyCount = await claims.policyCount();
  for (let p = 1n; p <= policyCount; p++) {
    const policy = await claims.getPolicy(p);
    expect(policy.paidOut, "C2 paidOut <= coverage").to.be.lte(policy.coverage);
    if (!policy.released) expectedLocked += policy.coverage - policy.paidOut;
  }
  expect(locked, "C3 locked == unreleased coverage - paidOut").to.equal(expectedLocked);
}

// ------------------------------------------------------------------ properties

describe("Entry points under random arguments (property-based)", function () {
  after(function () {
    if (process.env.FUZZ_STATS) {
      for (const [entry, m] of outcomes) console.log(entry.padEnd(34), Object.fromEntries(m));
    }
  });

  it("DeviceRegistry: anchorBatch, suspend, resume, revoke, proposeOwner, acceptOwnership, setGateway follow the model exactly", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(registryOpArb, { minLength: 20, maxLength: 40 }), async (ops) => {
        const fx = await loadFixture(registryFuzzFixture);
        const { registry } = fx;
        const registryAddress = await registry.getAddress();
        const declared = [registry.interface];
        const models = new Map<string, DeviceModel>();
        for (const device of fx.deviceAddresses) {
          const d = await registry.getDevice(device);
          if (d.status !== DeviceStatus.None) {
            models.set(device, { owner: d.owner, status: d.status, adminHold: d.adminHold, nextSeq: d.nextSeq, pending: ZeroAddress });
          }
        }
        const gateways = new Set<string>();
        const anchors = new Set<string>();
        const roots = [ZeroHash, ...Array.from({ length: 12 }, (_, i) => id(`triad/test/fuzz/root/${i}`))];
        const accounts = [...fx.callers.map((c) => c.address), ZeroAddress];

        for (const op of ops) {
          let signer = pick(fx.callers, op.caller);
          let caller = signer.address;
          let isAdmin = caller === fx.admin.address;
          if (op.kind === "setGateway") {
            const gateway = pick(accounts, op.gateway);
            const expected = expectedRegistryError(op, caller, isAdmin, "", undefined, { gateway }, gateways, anchors);
            const outcome = await call("registry.setGateway", declared, () => registry.connect(signer).setGateway(gateway, op.authorised));
            if (expected) {
              expect(outcome.ok ? "ok" : [outcome.error.name, outcome.error.args.toArray()]).to.deep.equal(expected);
              continue;
            }
            expect(outcome.ok, "setGateway must succeed").to.equal(true);
            if (op.authorised) gateways.add(`${caller}/${gateway}`);
            else gateways.delete(`${caller}/${gateway}`);
            expect(await registry.isGateway(caller, gateway)).to.equal(op.authorised);
            continue;
          }

          const device = pick(fx.deviceAddresses, op.device);
          const d = models.get(device);
          // A third of the acceptances come from the pending owner itself, when it is one of the callers.
          const pendingSigner = fx.callers.find((c) => c.address === d?.pending);
          if (op.kind === "acceptOwnership" && op.caller % 3 === 0 && pendingSigner) {
            [signer, caller, isAdmin] = [pendingSigner, pendingSigner.address, pendingSigner.address === fx.admin.address];
          }
          const args: { root?: string; from?: bigint; to?: bigint; newOwner?: string } = {};
          let send: () => Promise<ContractTransactionResponse>;
          switch (op.kind) {
            case "anchorBatch": {
              const next = d?.nextSeq ?? 0n;
              const relative = next + BigInt(op.fromDelta);
              args.from = SEQ_EXTREMES[op.from] ?? (relative < 0n ? 0n : relative > MAX64 ? MAX64 : relative);
              const to = SEQ_EXTREMES[op.to] ?? args.from + BigInt(op.length);
              args.to = to < 0n ? 0n : to > MAX64 ? MAX64 : to;
              args.root = roots[op.root];
              send = () => registry.connect(signer).anchorBatch(device, args.root!, args.from!, args.to!, op.uri);
              break;
            }
            case "proposeOwner":
              args.newOwner = pick(accounts, op.newOwner);
              send = () => registry.connect(signer).proposeOwner(device, args.newOwner!);
              break;
            default:
              send = () => registry.connect(signer)[op.kind](device);
          }
          const expected = expectedRegistryError(op, caller, isAdmin, device, d, args, gateways, anchors);
          const outcome = await call(`registry.${op.kind}`, declared, send);
          if (expected) {
            expect(outcome.ok ? "ok" : [outcome.error.name, outcome.error.args.toArray()], `${op.kind} outcome`).to.deep.equal(expected);
            continue;
          }
          expect(outcome.ok ? "ok" : [outcome.error.name, outcome.error.args.toArray()], `${op.kind} must succeed`).to.equal("ok");
          if (!outcome.ok || !d) throw new Error("unreachable");
          const events = eventsOf(outcome.receipt, registryAddress, registry.interface);
          const status = (from: bigint, to: bigint) => expectEvent(events, "DeviceStatusChanged", [device, from, to, caller]);
          switch (op.kind) {
            case "anchorBatch": {
              expectEvent(events, "BatchAnchored", [device, args.root, args.from, args.to, op.uri, caller]);
              d.nextSeq = args.to! + 1n;
              anchors.add(args.root!);
              const block = await ethers.provider.getBlock(outcome.receipt.blockNumber);
              expect(await registry.anchorOf(args.root!)).to.deep.equal([device, BigInt(block!.timestamp)]);
              break;
            }
            case "suspend":
              status(d.status, DeviceStatus.Suspended);
              d.status = DeviceStatus.Suspended;
              d.adminHold = caller !== d.owner;
              break;
            case "resume":
              status(d.status, DeviceStatus.Active);
              d.status = DeviceStatus.Active;
              d.adminHold = false;
              break;
            case "revoke":
              status(d.status, DeviceStatus.Revoked);
              d.status = DeviceStatus.Revoked;
              break;
            case "proposeOwner":
              expectEvent(events, "DeviceOwnershipTransferStarted", [device, caller, args.newOwner]);
              d.pending = args.newOwner!;
              break;
            case "acceptOwnership":
              expectEvent(events, "DeviceOwnershipTransferred", [device, d.owner, caller]);
              d.owner = caller;
              d.pending = ZeroAddress;
              break;
          }
          const onChain = await registry.getDevice(device);
          expect([onChain.owner, onChain.status, onChain.adminHold, onChain.nextSeq, await registry.pendingOwner(device)]).to.deep.equal([
            d.owner,
            d.status,
            d.adminHold,
            d.nextSeq,
            d.pending,
          ]);
        }
      }),
      FUZZ,
    );
    expectEverySucceeded(["anchorBatch", "suspend", "resume", "revoke", "proposeOwner", "acceptOwnership", "setGateway"].map((e) => `registry.${e}`));
  });

  it("DataMarketplace: createListing, purchase, deliver, refund, withdraw, setPrice keep balance == escrow + withdrawable", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(marketOpArb, { minLength: 15, maxLength: 30 }), async (ops) => {
        const fx = await loadFixture(marketFuzzFixture);
        const { market, token } = fx;
        const marketAddress = await market.getAddress();
        const declared = [market.interface, token.interface];
        const accounts = fx.callers.map((c) => c.address);
        const treasury = fx.signers.treasury.address;
        /** Pending purchase id -> amount held in escrow. */
        const escrow = new Map<bigint, bigint>();

        for (const op of ops) {
          if (op.kind === "time") {
            await time.increase(op.seconds);
            continue;
          }
          const signer = pick(fx.callers, op.caller);
          const caller = signer.address;
          const listingCount = await market.listingCount();
          const purchaseCount = await market.purchaseCount();
          // Ids 0 .. count + 1: both ends do not exist.
          const listingId = "listing" in op ? idFor(op.listing, listingCount) : 0n;
          const purchaseId = "purchase" in op ? idFor(op.purchase, purchaseCount) : 0n;
          const entry = `market.${op.kind}`;
          switch (op.kind) {
            case "createListing": {
              // period -1: the valid one for the kind (30 days for a stream, none otherwise).
              const period = op.period >= 0n ? op.period : op.listingKind === 1 ? 30n * 86_400n : 0n;
              const params = {
                kind: op.listingKind,
                price: op.price,
                period,
                deliveryWindow: op.deliveryWindow,
                contentHash: op.zeroHash === 1 ? ZeroHash : id(`content ${op.price}`),
                termsHash: op.zeroHash === 2 ? ZeroHash : id("terms"),
                metadataURI: "ipfs://fuzz",
                devices: op.devices.map((i) => fx.deviceChoices[i]),
                anchors: op.anchors.map((i) => fx.anchorChoices[i]),
              };
              const outcome = await call(entry, declared, () => market.connect(signer).createListing(params));
              if (!outcome.ok) continue;
              const newId = listingCount + 1n;
              expect(await market.listingCount()).to.equal(newId);
              const listing = await market.getListing(newId);
              expect([listing.seller, listing.kind, listing.status, listing.price, listing.period, listing.deliveryWindow, [...listing.devices]]).to.deep.equal([
                caller,
                BigInt(op.listingKind),
                1n,
                op.price,
                period,
                op.deliveryWindow,
                params.devices,
              ]);
              // Only the rules of createListing could have let it through.
              expect(op.price).to.not.equal(0n);
              expect(op.listingKind === 1).to.equal(period !== 0n);
              expect(op.deliveryWindow >= 1n && op.deliveryWindow <= DELIVERY_MAX).to.equal(true);
              for (const root of params.anchors) expect(await market.listingHasAnchor(newId, root)).to.equal(true);
              break;
            }
            case "purchase": {
              const price = (await market.getListing(listingId)).price;
              const maxPrice = op.capAtPrice ? price : op.maxPrice;
              const fee = await market.feeBps();
              const before = await balances(token, [caller, marketAddress]);
              const outcome = await call(entry, declared, () =>
                market.connect(signer).purchase(listingId, maxPrice, pick(fx.publicKeys, op.key)),
              );
              if (!outcome.ok) continue;
              const after = await balances(token, [caller, marketAddress]);
              expect([after[0] - before[0], after[1] - before[1]], "purchase moves the price into escrow").to.deep.equal([-price, price]);
              const p = await market.getPurchase(purchaseCount + 1n);
              expect([p.buyer, p.status, p.amount, p.feeBps, p.listingId]).to.deep.equal([caller, PurchaseStatus.Pending, price, fee, listingId]);
              expect(price).to.be.lte(maxPrice);
              escrow.set(purchaseCount + 1n, price);
              break;
            }
            case "deliver": {
              const p = await market.getPurchase(purchaseId);
              const seller = (await market.getListing(p.listingId)).seller;
              const before = await Promise.all([market.withdrawable(seller), market.withdrawable(treasury), token.balanceOf(marketAddress)]);
              const outcome = await call(entry, declared, () => market.connect(signer).deliver(purchaseId, op.emptyKey ? "0x" : ENCRYPTED_KEY));
              if (!outcome.ok) continue;
              const fee = (p.amount * p.feeBps) / BPS;
              const after = await Promise.all([market.withdrawable(seller), market.withdrawable(treasury), token.balanceOf(marketAddress)]);
              const expectedDelta = seller === treasury ? [p.amount, p.amount, 0n] : [p.amount - fee, fee, 0n];
              expect(after.map((a, i) => a - before[i]), "deliver releases escrow to balances").to.deep.equal(expectedDelta);
              expect((await market.getPurchase(purchaseId)).status).to.equal(PurchaseStatus.Delivered);
              expect(escrow.delete(purchaseId), "delivered purchase was pending").to.equal(true);
              break;
            }
            case "refund": {
              const p = await market.getPurchase(purchaseId);
              if (op.wait && p.deliverBy !== 0n && BigInt(await time.latest()) <= p.deliverBy) await time.increaseTo(p.deliverBy + 1n);
              const before = await balances(token, [caller, marketAddress]);
              const outcome = await call(entry, declared, () => market.connect(signer).refund(purchaseId));
              if (!outcome.ok) continue;
              const after = await balances(token, [caller, marketAddress]);
              expect(p.buyer).to.equal(caller);
              expect([after[0] - before[0], after[1] - before[1]], "refund returns the amount").to.deep.equal([p.amount, -p.amount]);
              expect((await market.getPurchase(purchaseId)).status).to.equal(PurchaseStatus.Refunded);
              expect(escrow.delete(purchaseId), "refunded purchase was pending").to.equal(true);
              break;
            }
            case "withdraw": {
              const to = op.to < accounts.length ? accounts[op.to] : ZeroAddress;
              const owed = await market.withdrawable(caller);
              const before = await balances(token, [to, marketAddress]);
              const outcome = await call(entry, declared, () => market.connect(signer).withdraw(to));
              if (!outcome.ok) continue;
              const after = await balances(token, [to, marketAddress]);
              expect(owed).to.be.greaterThan(0n);
              expect([after[0] - before[0], after[1] - before[1]], "withdraw pays the whole balance").to.deep.equal([owed, -owed]);
              expect(await market.withdrawable(caller)).to.equal(0n);
              break;
            }
            case "setPrice": {
              const outcome = await call(entry, declared, () => market.connect(signer).setPrice(listingId, op.price));
              if (!outcome.ok) continue;
              expect((await market.getListing(listingId)).price).to.equal(op.price);
              break;
            }
            case "takeDown": {
              const outcome = await call(entry, declared, () => market.connect(signer).takeDown(listingId, "fuzz"));
              if (!outcome.ok) continue;
              expect((await market.getListing(listingId)).status).to.equal(4n);
              break;
            }
          }
          // The escrow invariant, after every call that succeeded or failed.
          const owedAll = await Promise.all(accounts.map((a) => market.withdrawable(a)));
          const held = [...escrow.values()].reduce((a, b) => a + b, 0n);
          expect(await token.balanceOf(marketAddress), "balance == escrow + withdrawable").to.equal(held + owedAll.reduce((a, b) => a + b, 0n));
        }
        // The escrow model matches the chain: every pending purchase and nothing else.
        const count = await market.purchaseCount();
        for (let p = 1n; p <= count; p++) {
          const purchase = await market.getPurchase(p);
          expect(purchase.status === PurchaseStatus.Pending ? purchase.amount : undefined).to.equal(escrow.get(p));
        }
      }),
      FUZZ,
    );
    expectEverySucceeded(["createListing", "purchase", "deliver", "refund", "withdraw", "setPrice"].map((e) => `market.${e}`));
  });

  it("InsurancePool and ClaimsInsurance: deposit, withdraw, redeem, buyPolicy, fileClaim, submitVerdict, appeal, settle, escalate", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(insuranceOpArb, { minLength: 20, maxLength: 40 }), async (ops) => {
        const fx = await loadFixture(insuranceFuzzFixture);
        const { pool, claims, token, committee } = fx;
        const [poolAddress, claimsAddress] = [await pool.getAddress(), await claims.getAddress()];
        const poolDeclared = [pool.interface, token.interface];
        const claimsDeclared = [claims.interface, pool.interface, committee.interface, token.interface];
        const signerKeys = [...fx.members, fx.outsider];

        for (const op of ops) {
          if (op.kind === "time") {
            await time.increase(op.seconds);
            continue;
          }
          const entry = `${["deposit", "withdraw", "redeem"].includes(op.kind) ? "pool" : "claims"}.${op.kind}`;
          const claimCount = await claims.claimCount();
          const policyCount = await claims.policyCount();
          switch (op.kind) {
            case "deposit": {
              const signer = pick(fx.callers, op.caller);
              const receiver = pick(fx.callers, op.receiver).address;
              const maxDeposit = await pool.maxDeposit(receiver);
              // previewDeposit of an amount beyond the 112-bit ledger is meaningless (and may overflow in the view).
              const shares = op.assets <= maxDeposit ? await pool.previewDeposit(op.assets) : 0n;
              const [assetsBefore, sharesBefore, [tokensBefore]] = [await pool.totalAssets(), await pool.balanceOf(receiver), await balances(token, [signer.address])];
              const outcome = await call(entry, poolDeclared, () => pool.connect(signer).deposit(op.assets, receiver));
              if (!outcome.ok) break;
              expect(op.assets, "deposit stays within maxDeposit").to.be.lte(maxDeposit);
              expect(await pool.totalAssets()).to.equal(assetsBefore + op.assets);
              expect(await pool.balanceOf(receiver)).to.equal(sharesBefore + shares);
              expect(await token.balanceOf(signer.address)).to.equal(tokensBefore - op.assets);
              break;
            }
            case "withdraw":
            case "redeem": {
              const signer = pick(fx.callers, op.caller);
              const owner = op.owner < 0 ? signer.address : pick(fx.callers, op.owner).address;
              const receiver = pick(fx.callers, op.receiver).address;
              const max = op.kind === "withdraw" ? await pool.maxWithdraw(owner) : await pool.maxRedeem(owner);
              const amount = (max * op.bps) / BPS + (op.bps > 20_000n ? op.bps : 0n);
              const assets = op.kind === "withdraw" ? amount : await pool.previewRedeem(amount);
              const shares = op.kind === "withdraw" ? await pool.previewWithdraw(amount) : amount;
              const [assetsBefore, sharesBefore, [tokensBefore]] = [await pool.totalAssets(), await pool.balanceOf(owner), await balances(token, [receiver])];
              const outcome = await call(entry, poolDeclared, () =>
                op.kind === "withdraw" ? pool.connect(signer).withdraw(amount, receiver, owner) : pool.connect(signer).redeem(amount, receiver, owner),
              );
              if (!outcome.ok) break;
              expect(amount, `${op.kind} stays within max${op.kind}`).to.be.lte(max);
              expect(await pool.totalAssets()).to.equal(assetsBefore - assets);
              expect(await pool.balanceOf(owner)).to.equal(sharesBefore - shares);
              expect(await token.balanceOf(receiver)).to.equal(tokensBefore + assets);
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
              const outcome = await call(entry, claimsDeclared, () => claims.connect(signer).buyPolicy(productId, device, op.coverage, op.duration));
              if (!outcome.ok) break;
              const premium = await claims.quotePremium(productId, op.coverage, op.duration);
              const protocolFee = (premium * fee) / BPS;
              const after = await balances(token, accounts);
              expect(after.map((a, i) => a - before[i]), "premium split").to.deep.equal([-premium, protocolFee, premium - protocolFee]);
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
              const incidents = [now - (op.offset % 3_600n), policy.start + product.waitingPeriod + op.offset, now + 1n + op.offset, op.offset * 1_000n];
              const incidentAt = incidents[op.incident] > MAX64 ? MAX64 : incidents[op.incident] < 0n ? 0n : incidents[op.incident];
              const amount = op.amount === 0n ? ((policy.coverage - policy.paidOut) * op.amountBps) / BPS : op.amount;
              const evidenceHash = op.zeroEvidence ? ZeroHash : id(`fuzz evidence ${now}`);
              const before = await balances(token, [signer.address, claimsAddress]);
              const outcome = await call(entry, claimsDeclared, () =>
                claims.connect(signer).fileClaim(policyId, amount, incidentAt, evidenceHash, "ipfs://fuzz"),
              );
              if (!outcome.ok) break;
              const claim = await claims.getClaim(claimCount + 1n);
              const after = await balances(token, [signer.address, claimsAddress]);
              expect(after.map((a, i) => a - before[i]), "deposit taken").to.deep.equal([-claim.deposit, claim.deposit]);
              expect([claim.status, claim.amount, claim.policyId, claim.deposit]).to.deep.equal([ClaimStatus.Filed, amount, policyId, product.claimDeposit]);
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
                expect(decided).to.be.oneOf(op.approved ? [ClaimStatus.Approved, ClaimStatus.Paid, ClaimStatus.Closed] : [ClaimStatus.Rejected, ClaimStatus.Closed]);
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
                expect(after.map((a, i) => a - before[i]), "settlement moves payout and deposit").to.deep.equal([paid + refund, forfeit - paid, -claim.deposit]);
                expect(status).to.equal(paid > 0n ? ClaimStatus.Paid : ClaimStatus.Closed);
              }
              break;
            }
          }
          await checkInsuranceInvariants(fx);
        }
      }),
      FUZZ,
    );
    expectEverySucceeded(
      ["pool.deposit", "pool.withdraw", "pool.redeem", "claims.buyPolicy", "claims.fileClaim", "claims.submitVerdict", "claims.appeal", "claims.settle", "claims.escalate"],
    );
  });
});
