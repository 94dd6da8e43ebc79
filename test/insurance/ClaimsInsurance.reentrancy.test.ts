import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { Wallet, id, type Interface } from "ethers";
import { deviceRegistryDomain, prepareRegistration } from "@triad/sdk";
import { DAY, DEVICE_METADATA, STANDARD_PRODUCT, UNIT, deployInsuranceFixture } from "@triad/devkit/insurance";

const { loadFixture, time } = networkHelpers;

const Attack = { None: 0, BuyPolicy: 1, FileClaim: 2, ReleaseCoverage: 3, Settle: 4, RejectToken: 5, Call: 6 };
const COVERAGE = 1_000n * UNIT;
const DURATION = 30n * DAY;

/**
 * Fixture + a MaliciousPolicyReceiver that owns a registered device, holds tUSD and has approved the claims
 * contract, and product 3: the standard terms without a waiting period, so a claim filed from inside the mint hook
 * would pass every check except the reentrancy guard.
 */
async function receiverFixture() {
  const fx = await deployInsuranceFixture();
  const receiver = await ethers.deployContract("MaliciousPolicyReceiver", [await fx.claims.getAddress()]);
  const receiverAddress = await receiver.getAddress();
  await fx.token.mint(receiverAddress, 10_000n * UNIT);
  await receiver.approveToken(await fx.token.getAddress());
  const deviceKey = new Wallet(id("triad.test.device.receiver"));
  const reg = await prepareRegistration({
    deviceKey,
    owner: receiverAddress,
    domain: deviceRegistryDomain(fx.chainId, await fx.registry.getAddress()),
    metadata: DEVICE_METADATA,
    metadataURI: "ipfs://device/receiver",
    deadline: 2n ** 40n,
  });
  await receiver.execute(
    await fx.registry.getAddress(),
    fx.registry.interface.encodeFunctionData("register", [
      reg.device,
      reg.sensorSchema,
      reg.metadataHash,
      reg.metadataURI,
      reg.deadline,
      reg.signature,
    ]),
  );
  await fx.claims.connect(fx.insurer).createProduct({ ...STANDARD_PRODUCT, waitingPeriod: 0n });
  return { ...fx, receiver, receiverDevice: reg.device, productId3: 3n };
}

describe("ClaimsInsurance: reentrancy through the policy token's ERC-721 receiver hook", () => {
  it("mints to a contract that accepts the token (safe mint)", async () => {
    const { claims, receiver, receiverDevice, productId3 } = await loadFixture(receiverFixture);
    await expect(receiver.buy(productId3, receiverDevice, COVERAGE, DURATION)).to.emit(claims, "PolicyPurchased");
    expect(await claims.ownerOf(1n)).to.equal(await receiver.getAddress());
    expect(await receiver.hookCalls()).to.equal(1n);
  });

  it("refuses to mint to a contract that does not accept the token, undoing the purchase", async () => {
    const { claims, pool, receiver, receiverDevice, productId3 } = await loadFixture(receiverFixture);
    await receiver.setAttack(Attack.RejectToken, false);
    await expect(receiver.buy(productId3, receiverDevice, COVERAGE, DURATION))
      .to.be.revertedWithCustomError(claims, "ERC721InvalidReceiver")
      .withArgs(await receiver.getAddress());
    expect(await claims.policyCount()).to.equal(0n);
    expect(await pool.lockedAssets()).to.equal(0n);
  });

  it("blocks a claim filed from inside the mint hook (the revert fails the purchase)", async () => {
    const { claims, pool, receiver, receiverDevice, productId3 } = await loadFixture(receiverFixture);
    await receiver.setAttack(Attack.FileClaim, false);
    await expect(receiver.buy(productId3, receiverDevice, COVERAGE, DURATION)).to.be.revertedWithCustomError(
      claims,
      "ReentrancyGuardReentrantCall",
    );
    expect(await claims.policyCount()).to.equal(0n);
    expect(await pool.lockedAssets()).to.equal(0n);
  });

  it("blocks the re-entrant claim even when the receiver swallows the failure; the same call succeeds outside the hook", async () => {
    const { claims, token, receiver, receiverDevice, productId3 } = await loadFixture(receiverFixture);
    const guardError = claims.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []);
    await receiver.setAttack(Attack.FileClaim, true);
    const premium = await claims.quotePremium(productId3, COVERAGE, DURATION);
    await expect(receiver.buy(productId3, receiverDevice, COVERAGE, DURATION)).to.changeTokenBalances(
      ethers,
      token,
      [receiver],
      [-premium],
    );
    expect(await receiver.lastRevertData()).to.equal(guardError);
    expect(await claims.claimCount()).to.equal(0n);
    // Outside the hook the very same call passes every check: only the guard stopped it.
    const now = BigInt(await time.latest()) + 1n;
    await time.setNextBlockTimestamp(now);
    await receiver.execute(
      await claims.getAddress(),
      claims.interface.encodeFunctionData("fileClaim", [1n, 1n, now, id("reentrant"), "reentrant"]),
    );
    expect(await claims.claimCount()).to.equal(1n);
  });

  for (const [name, attack] of [
    ["buyPolicy", Attack.BuyPolicy],
    ["releaseCoverage", Attack.ReleaseCoverage],
    ["settle", Attack.Settle],
  ] as const) {
    it(`blocks ${name} from inside the mint hook`, async () => {
      const { claims, pool, receiver, receiverDevice, productId3 } = await loadFixture(receiverFixture);
      await receiver.setAttack(attack, true);
      await receiver.buy(productId3, receiverDevice, COVERAGE, DURATION);
      expect(await receiver.lastRevertData()).to.equal(claims.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []));
      expect(await claims.policyCount()).to.equal(1n);
      expect(await pool.lockedAssets()).to.equal(COVERAGE);
    });
  }

  // The decision entry points: with roles granted to the receiver, only the reentrancy guard can refuse these calls
  // (outside a transaction in progress, each would fail on claim 1 not existing with ClaimsUnexpectedStatus or
  // ClaimsNoSignatures, or succeed for the empty batch), so the recorded revert data proves the guard fired.
  for (const name of ["appeal", "challenge", "escalate", "resolve", "submitVerdict", "submitVerdicts"] as const) {
    it(`blocks ${name} from inside the mint hook`, async () => {
      const fx = await loadFixture(receiverFixture);
      const { claims, receiver, receiverDevice, productId3 } = fx;
      const receiverAddress = await receiver.getAddress();
      await claims.grantRole(await claims.INSURER_ROLE(), receiverAddress);
      await claims.grantRole(await claims.ARBITER_ROLE(), receiverAddress);
      const verdict = {
        claimId: 1n,
        evidenceHash: id("e"),
        modelHash: fx.modelHash,
        approved: false,
        payout: 0n,
        scoreBps: 0n,
        reason: 1n,
        deadline: 0n,
      };
      const args: Record<typeof name, unknown[]> = {
        appeal: [1n],
        challenge: [1n],
        escalate: [1n],
        resolve: [1n, false, 0n],
        submitVerdict: [verdict, []],
        submitVerdicts: [[], []],
      };
      const iface: Interface = claims.interface;
      await receiver.setAttackCall(iface.encodeFunctionData(name, args[name]));
      await expect(receiver.buy(productId3, receiverDevice, COVERAGE, DURATION)).to.emit(claims, "PolicyPurchased");
      expect(await receiver.hookCalls()).to.equal(1n);
      expect(await receiver.lastRevertData()).to.equal(claims.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []));
    });
  }
});
