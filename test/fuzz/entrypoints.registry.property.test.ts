import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import fc from "fast-check";
import { Wallet, ZeroAddress, ZeroHash, id, type ContractTransactionResponse } from "ethers";
import { DeviceStatus as DeviceStatusNames, enumValues } from "@triad/sdk";
import { registeredDeviceFixture } from "../devices/fixtures.ts";
import { FUZZ, MAX64, call, eventsOf, expectEvent, expectEverySucceeded, index, logOutcomes, mostly, pick } from "./model.ts";

const { loadFixture } = networkHelpers;

/**
 * Property-based fuzzing of the DeviceRegistry entry points under random arguments: every call must succeed as
 * modelled or revert with a declared custom error (see ./model.ts).
 */

// ------------------------------------------------------------------ DeviceRegistry

const DeviceStatus = enumValues(DeviceStatusNames);

type RegistryOp =
  | {
      kind: "anchorBatch";
      caller: number;
      device: number;
      root: number;
      fromDelta: number;
      length: number;
      from: number;
      to: number;
      uri: string;
    }
  | { kind: "suspend" | "resume" | "revoke" | "acceptOwnership"; caller: number; device: number }
  | { kind: "proposeOwner"; caller: number; device: number; newOwner: number }
  | { kind: "setGateway"; caller: number; gateway: number; authorised: boolean }
  | { kind: "anchorFleet"; caller: number; root: number; count: number; uri: string };

/** The largest `count` of a fleet anchor (uint32). */
const MAX32 = 2 ** 32 - 1;

/** Extreme seqs; index 0 means "relative to nextSeq". */
/** DeviceRegistry.MAX_SEQ_ADVANCE (L-5). */
const MAX_SEQ_ADVANCE = 2n ** 32n;
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
    arbitrary: fc.record({
      kind: fc.constant("proposeOwner" as const),
      caller: registryCaller,
      device: registryDevice,
      newOwner: mostly(fc.nat({ max: 2 }), index),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("setGateway" as const), caller: index, gateway: index, authorised: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("anchorFleet" as const),
      caller: registryCaller,
      root: fc.nat({ max: 12 }),
      count: mostly(fc.integer({ min: 1, max: 20_000 }), fc.constant(0), fc.constant(MAX32)),
      uri: fc.string({ maxLength: 12 }),
    }),
  },
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
  if (op.kind === "anchorFleet") {
    // Anyone may anchor a fleet root, in its own namespace (caller, root).
    if (args.root === ZeroHash) return ["AnchorZeroRoot", []];
    if (op.count === 0) return ["FleetAnchorEmpty", []];
    if (anchors.has(`fleet/${caller}/${args.root}`)) return ["FleetAnchorAlreadyExists", [caller, args.root]];
    return null;
  }
  if (!d) return ["DeviceNotRegistered", [device]];
  const byOwner = caller === d.owner;
  const transition = (next: bigint): [string, unknown[]] | null => {
    const allowed =
      (d.status === DeviceStatus.Active && next !== DeviceStatus.Active) ||
      (d.status === DeviceStatus.Suspended && next !== DeviceStatus.Suspended);
    return allowed ? null : ["DeviceInvalidStatusTransition", [device, d.status, next]];
  };
  switch (op.kind) {
    case "anchorBatch": {
      if (!byOwner && !gateways.has(`${d.owner}/${caller}`)) return ["DeviceUnauthorized", [device, caller]];
      if (d.status !== DeviceStatus.Active) return ["DeviceNotActive", [device, d.status]];
      if (args.root === ZeroHash) return ["AnchorZeroRoot", []];
      // Anchors are keyed by (device, root) (M-1): another device's anchor of the same root does not block.
      if (anchors.has(`${device}/${args.root}`)) return ["AnchorAlreadyExists", [device, args.root]];
      if (args.from! < d.nextSeq || args.to! < args.from! || args.to === MAX64) {
        return ["AnchorInvalidRange", [device, args.from, args.to, d.nextSeq]];
      }
      if (args.to! - d.nextSeq >= MAX_SEQ_ADVANCE) {
        return ["AnchorSeqAdvanceTooLarge", [device, args.from, args.to, d.nextSeq, MAX_SEQ_ADVANCE]];
      }
      return null;
    }
    case "suspend":
      if (!byOwner && !isAdmin) return ["DeviceUnauthorized", [device, caller]];
      // An admin puts a hold on a device its owner suspended (L-6).
      if (!byOwner && d.status === DeviceStatus.Suspended && !d.adminHold) return null;
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

// ------------------------------------------------------------------ property

describe("Entry points under random arguments (property-based)", function () {
  after(function () {
    logOutcomes(["registry."]);
  });

  it("DeviceRegistry: anchorBatch, anchorFleet, suspend, resume, revoke, proposeOwner, acceptOwnership, setGateway follow the model exactly", async function () {
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
            if (!outcome.ok) throw new Error("unreachable");
            if (op.authorised) gateways.add(`${caller}/${gateway}`);
            else gateways.delete(`${caller}/${gateway}`);
            expect(await registry.isGateway(caller, gateway)).to.equal(op.authorised);
            // The authorisation history ends with the current authorisation.
            const at = BigInt((await ethers.provider.getBlock(outcome.receipt.blockNumber))!.timestamp);
            expect(await registry.gatewayAuthorisedAt(caller, gateway, at)).to.equal(op.authorised);
            continue;
          }
          if (op.kind === "anchorFleet") {
            const root = roots[op.root];
            const expected = expectedRegistryError(op, caller, isAdmin, "", undefined, { root }, gateways, anchors);
            const outcome = await call("registry.anchorFleet", declared, () =>
              registry.connect(signer).anchorFleet(root, op.count, op.uri),
            );
            if (expected) {
              expect(outcome.ok ? "ok" : [outcome.error.name, outcome.error.args.toArray()], "anchorFleet outcome").to.deep.equal(expected);
              continue;
            }
            expect(outcome.ok ? "ok" : [outcome.error.name, outcome.error.args.toArray()], "anchorFleet must succeed").to.equal("ok");
            if (!outcome.ok) throw new Error("unreachable");
            expectEvent(eventsOf(outcome.receipt, registryAddress, registry.interface), "FleetAnchored", [
              caller,
              root,
              BigInt(op.count),
              op.uri,
            ]);
            anchors.add(`fleet/${caller}/${root}`);
            const block = await ethers.provider.getBlock(outcome.receipt.blockNumber);
            expect(await registry.fleetAnchorOf(caller, root)).to.deep.equal([BigInt(block!.timestamp), BigInt(op.count)]);
            // A fleet anchor leaves every device's sequence alone.
            for (const [device, model] of models) expect((await registry.getDevice(device)).nextSeq).to.equal(model.nextSeq);
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
              anchors.add(`${device}/${args.root}`);
              const block = await ethers.provider.getBlock(outcome.receipt.blockNumber);
              expect(await registry.anchorOf(device, args.root!)).to.deep.equal([device, BigInt(block!.timestamp)]);
              break;
            }
            case "suspend":
              if (caller !== d.owner && d.status === DeviceStatus.Suspended) {
                expectEvent(events, "DeviceAdminHoldSet", [device, true, caller]);
                d.adminHold = true;
                break;
              }
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
          // The status and owner histories end with the current status (M-2) and owner.
          const at = BigInt((await ethers.provider.getBlock(outcome.receipt.blockNumber))!.timestamp);
          expect(await registry.statusAt(device, at)).to.equal(d.status);
          expect(await registry.ownerAt(device, at)).to.equal(d.owner);
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
    expectEverySucceeded(
      ["anchorBatch", "anchorFleet", "suspend", "resume", "revoke", "proposeOwner", "acceptOwnership", "setGateway"].map(
        (e) => `registry.${e}`,
      ),
    );
  });
});

networkHelpers;
