import { expect } from "chai";
import { networkHelpers } from "@triad/devkit/network";
import fc from "fast-check";
import { Wallet, ZeroAddress, ZeroHash, id } from "ethers";
import { ListingKind } from "@triad/sdk";
import {
  BUYER_PUBLIC_KEY,
  BUYER_PUBLIC_KEY_UNCOMPRESSED,
  Kind,
  ListingStatus,
  MAX_DELIVERY_WINDOW,
  PERIOD,
  PurchaseStatus,
  listedFixture,
} from "../market/fixtures.ts";
import { BPS, FUZZ, MAX128, MAX256, balances, call, expectEverySucceeded, idFor, index, logOutcomes, mostly, pick, uint } from "./model.ts";

const { loadFixture, time } = networkHelpers;

/**
 * Property-based fuzzing of the DataMarketplace entry points under random arguments: every call must succeed as
 * modelled or revert with a declared custom error (see ./model.ts).
 */

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
  | { kind: "transfer"; amount: bigint }
  | { kind: "sweepSurplus"; caller: number }
  | { kind: "time"; seconds: number };

const priceArb = mostly(fc.bigInt({ min: 1n, max: 200_000_000n }), fc.constant(0n), uint(MAX128));

const marketOpArb: fc.Arbitrary<MarketOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("createListing" as const),
      caller: mostly(fc.constant(0), fc.nat({ max: 6 })),
      listingKind: fc.nat({ max: ListingKind.length - 1 }),
      price: priceArb,
      period: mostly(fc.constant(-1n), fc.constant(0n), uint(2n ** 32n - 1n)),
      deliveryWindow: mostly(fc.bigInt({ min: 1n, max: MAX_DELIVERY_WINDOW }), fc.constant(0n), uint(2n ** 32n - 1n)),
      zeroHash: mostly(fc.constant(0), fc.constantFrom(1, 2)),
      devices: mostly(
        fc.array(fc.nat({ max: 1 }), { minLength: 1, maxLength: 2 }),
        fc.array(fc.nat({ max: 3 }), { maxLength: 3 }),
        fc.array(fc.nat({ max: 1 }), { minLength: 17, maxLength: 17 }),
      ),
      anchors: mostly(
        fc.array(fc.constant(0), { maxLength: 1 }),
        fc.array(fc.nat({ max: 2 }), { maxLength: 3 }),
        fc.constant(Array(33).fill(0)),
      ),
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
    arbitrary: fc.record({
      kind: fc.constant("refund" as const),
      caller: mostly(fc.constantFrom(1, 2), fc.nat({ max: 6 })),
      purchase: index,
      wait: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("withdraw" as const),
      caller: mostly(fc.constantFrom(0, 4, 6), fc.nat({ max: 6 })),
      to: mostly(fc.nat({ max: 6 }), fc.constant(7)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("setPrice" as const),
      caller: mostly(fc.constant(0), fc.nat({ max: 6 })),
      listing: index,
      price: priceArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("takeDown" as const), caller: mostly(fc.constant(5), fc.nat({ max: 6 })), listing: index }),
  },
  // Tokens sent to the marketplace directly (audit I-6), and the sweep of them (mostly by the admin, caller 5).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("transfer" as const), amount: fc.bigInt({ min: 1n, max: 20_000_000n }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("sweepSurplus" as const), caller: mostly(fc.constant(5), fc.nat({ max: 6 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 1, max: 3 * 86_400 }) }) },
);

const ENCRYPTED_KEY = "0x" + "5e".repeat(97);

/** Tokens the fuzz fixture sends to the marketplace directly. */
const STRAY = 3_000_000n;

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
  // Tokens sent directly from the start, so that a sweep has something to take.
  await fx.token.connect(admin).mint(await fx.market.getAddress(), STRAY);
  return { ...fx, callers, deviceChoices, anchorChoices, publicKeys };
}

// ------------------------------------------------------------------ property

describe("Entry points under random arguments (property-based)", function () {
  after(function () {
    logOutcomes(["market."]);
  });

  it("DataMarketplace: createListing, purchase, deliver, refund, withdraw, setPrice, sweepSurplus keep balance == escrow + withdrawable + surplus", async function () {
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
        /** Tokens sent to the marketplace directly and not yet swept. */
        let surplus = STRAY;

        for (const op of ops) {
          if (op.kind === "time") {
            await time.increase(op.seconds);
            continue;
          }
          if (op.kind === "transfer") {
            await token.connect(fx.signers.admin).mint(marketAddress, op.amount);
            surplus += op.amount;
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
              const period = op.period >= 0n ? op.period : BigInt(op.listingKind) === Kind.Stream ? PERIOD : 0n;
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
              if (!outcome.ok) break;
              const newId = listingCount + 1n;
              expect(await market.listingCount()).to.equal(newId);
              const listing = await market.getListing(newId);
              expect([
                listing.seller,
                listing.kind,
                listing.status,
                listing.price,
                listing.period,
                listing.deliveryWindow,
                [...listing.devices],
              ]).to.deep.equal([caller, BigInt(op.listingKind), ListingStatus.Active, op.price, period, op.deliveryWindow, params.devices]);
              // Only the rules of createListing could have let it through.
              expect(op.price).to.not.equal(0n);
              expect(BigInt(op.listingKind) === Kind.Stream).to.equal(period !== 0n);
              expect(op.deliveryWindow >= 1n && op.deliveryWindow <= MAX_DELIVERY_WINDOW).to.equal(true);
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
              if (!outcome.ok) break;
              const after = await balances(token, [caller, marketAddress]);
              expect([after[0] - before[0], after[1] - before[1]], "purchase moves the price into escrow").to.deep.equal([-price, price]);
              const p = await market.getPurchase(purchaseCount + 1n);
              expect([p.buyer, p.status, p.amount, p.feeBps, p.listingId]).to.deep.equal([
                caller,
                PurchaseStatus.Pending,
                price,
                fee,
                listingId,
              ]);
              expect(price).to.be.lte(maxPrice);
              escrow.set(purchaseCount + 1n, price);
              break;
            }
            case "deliver": {
              const p = await market.getPurchase(purchaseId);
              const seller = (await market.getListing(p.listingId)).seller;
              const before = await Promise.all([
                market.withdrawable(seller),
                market.withdrawable(treasury),
                token.balanceOf(marketAddress),
              ]);
              const outcome = await call(entry, declared, () =>
                market.connect(signer).deliver(purchaseId, op.emptyKey ? "0x" : ENCRYPTED_KEY),
              );
              if (!outcome.ok) break;
              const fee = (p.amount * p.feeBps) / BPS;
              const after = await Promise.all([market.withdrawable(seller), market.withdrawable(treasury), token.balanceOf(marketAddress)]);
              const expectedDelta = seller === treasury ? [p.amount, p.amount, 0n] : [p.amount - fee, fee, 0n];
              expect(
                after.map((a, i) => a - before[i]),
                "deliver releases escrow to balances",
              ).to.deep.equal(expectedDelta);
              expect((await market.getPurchase(purchaseId)).status).to.equal(PurchaseStatus.Delivered);
              expect(escrow.delete(purchaseId), "delivered purchase was pending").to.equal(true);
              break;
            }
            case "refund": {
              const p = await market.getPurchase(purchaseId);
              if (op.wait && p.deliverBy !== 0n && BigInt(await time.latest()) <= p.deliverBy) await time.increaseTo(p.deliverBy + 1n);
              const before = await balances(token, [caller, marketAddress]);
              const outcome = await call(entry, declared, () => market.connect(signer).refund(purchaseId));
              if (!outcome.ok) break;
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
              if (!outcome.ok) break;
              const after = await balances(token, [to, marketAddress]);
              expect(owed).to.be.greaterThan(0n);
              expect([after[0] - before[0], after[1] - before[1]], "withdraw pays the whole balance").to.deep.equal([owed, -owed]);
              expect(await market.withdrawable(caller)).to.equal(0n);
              break;
            }
            case "setPrice": {
              const outcome = await call(entry, declared, () => market.connect(signer).setPrice(listingId, op.price));
              if (!outcome.ok) break;
              expect((await market.getListing(listingId)).price).to.equal(op.price);
              break;
            }
            case "sweepSurplus": {
              const before = await balances(token, [marketAddress, treasury]);
              // A sweep with nothing to take succeeds too (it returns 0): counted apart, so that the check that every
              // entry point succeeded means a sweep that took something.
              const sweepEntry = surplus > 0n ? entry : `${entry}(nothing)`;
              const outcome = await call(sweepEntry, declared, () => market.connect(signer).sweepSurplus());
              if (!outcome.ok) break;
              expect(caller, "only the admin sweeps").to.equal(fx.signers.admin.address);
              const after = await balances(token, [marketAddress, treasury]);
              expect([after[0] - before[0], after[1] - before[1]], "the sweep takes the surplus and nothing else").to.deep.equal([
                -surplus,
                surplus,
              ]);
              surplus = 0n;
              break;
            }
            case "takeDown": {
              const outcome = await call(entry, declared, () => market.connect(signer).takeDown(listingId, "fuzz"));
              if (!outcome.ok) break;
              expect((await market.getListing(listingId)).status).to.equal(ListingStatus.TakenDown);
              break;
            }
          }
          // The escrow invariant, after every call that succeeded or failed: the marketplace owes the escrow plus every
          // withdrawable balance, holds at least that, and holds exactly that plus the unswept surplus.
          const owedAll = await Promise.all(accounts.map((a) => market.withdrawable(a)));
          const held = [...escrow.values()].reduce((a, b) => a + b, 0n);
          const [owed, balance] = await Promise.all([market.owed(), token.balanceOf(marketAddress)]);
          expect(owed, "owed == escrow + withdrawable").to.equal(held + owedAll.reduce((a, b) => a + b, 0n));
          expect(balance, "balance >= owed").to.be.gte(owed);
          expect(balance, "balance == owed + surplus").to.equal(owed + surplus);
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
    expectEverySucceeded(
      ["createListing", "purchase", "deliver", "refund", "withdraw", "setPrice", "sweepSurplus"].map((e) => `market.${e}`),
    );
  });
});

networkHelpers;
