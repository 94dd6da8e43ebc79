import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { Wallet, id, keccak256, toUtf8Bytes } from "ethers";
import fc from "fast-check";
import { ClaimStatus, claimReasonCode, claimsDomain, enumValues, recoverVerdict, signVerdict, verdictDigest } from "@triad/sdk";
import { PARAMETRIC_PRODUCT, STANDARD_PRODUCT, UNIT, deployInsuranceFixture } from "@triad/devkit/insurance";
import { buyPolicy, digestOf, fileClaim, registerDevices, signBy, verdictFor } from "@triad/devkit/insurance";

const { loadFixture, time } = networkHelpers;

const Status = enumValues(ClaimStatus);
const CLAIM_AMOUNT = 1_000n * UNIT;
const OTHER_MODEL = keccak256(toUtf8Bytes("another model"));

/** Fixture + a 1,000 tUSD claim filed on a standard-product policy (claim 1). */
async function standardClaimFixture() {
  const fx = await deployInsuranceFixture();
  const policyId = await buyPolicy(fx);
  const filed = await fileClaim(fx, policyId, { amount: CLAIM_AMOUNT });
  return { ...fx, policyId, ...filed };
}

/** Fixture + a 1,000 tUSD claim filed on a parametric-product policy (claim 1). */
async function parametricClaimFixture() {
  const fx = await deployInsuranceFixture();
  const policyId = await buyPolicy(fx, { productId: fx.parametricProductId });
  const filed = await fileClaim(fx, policyId, { amount: CLAIM_AMOUNT });
  return { ...fx, policyId, ...filed };
}

/** Fixture + three claims filed on three standard policies (claims 1..3), for batches. */
async function threeClaimsFixture() {
  const fx = await deployInsuranceFixture();
  const devices = [fx.device, ...(await registerDevices(fx, fx.holder, 2, "batch"))];
  const ids: bigint[] = [];
  for (const device of devices) {
    const policyId = await buyPolicy(fx, { device });
    ids.push((await fileClaim(fx, policyId, { amount: CLAIM_AMOUNT, tag: `batch-${policyId}` })).claimId);
  }
  return { ...fx, claimIds: ids };
}

describe("ClaimsInsurance: verdicts", () => {
  describe("k-of-n (threshold 2 of 3)", () => {
    it("accumulates signatures arriving in two calls and decides at the threshold", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { claims, members, claimId, modelHash } = fx;
      const v = await verdictFor(fx, claimId, true);
      const digest = await digestOf(fx, v);
      const [s0, s1] = await signBy(fx, members.slice(0, 2), v);

      await expect(claims.submitVerdict(v, [s0]))
        .to.emit(claims, "VerdictSigned")
        .withArgs(claimId, digest, 0b001n, 1n)
        .and.not.to.emit(claims, "VerdictFinalised");
      expect(await claims.hasSigned(digest, members[0].address)).to.equal(true);
      expect(await claims.hasSigned(digest, members[1].address)).to.equal(false);
      expect((await claims.getClaim(claimId)).status).to.equal(Status.Filed);

      const tx = claims.connect(fx.other).submitVerdict(v, [s1]); // anyone may relay signatures
      await expect(tx).to.emit(claims, "VerdictSigned").withArgs(claimId, digest, 0b011n, 2n);
      await expect(tx).to.emit(claims, "VerdictFinalised").withArgs(claimId, true, CLAIM_AMOUNT, 9_100n, 0n, modelHash, digest);
      const decidedAt = BigInt(await time.latest());
      const c = await claims.getClaim(claimId);
      expect(c.status).to.equal(Status.Approved);
      expect(c.approved).to.equal(true);
      expect(c.payout).to.equal(CLAIM_AMOUNT);
      expect(c.scoreBps).to.equal(9_100n);
      expect(c.reason).to.equal(0n);
      expect(c.modelHash).to.equal(modelHash);
      expect(c.appealDeadline).to.equal(decidedAt + BigInt(STANDARD_PRODUCT.appealWindow));
    });

    it("decides with two signatures in one call, without storing a tally", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const v = await verdictFor(fx, fx.claimId, false);
      const digest = await digestOf(fx, v);
      await expect(fx.claims.submitVerdict(v, await signBy(fx, [fx.members[2], fx.members[0]], v)))
        .to.emit(fx.claims, "VerdictFinalised")
        .withArgs(fx.claimId, false, 0n, 1_200n, 1n, fx.modelHash, digest);
      expect((await fx.claims.getClaim(fx.claimId)).status).to.equal(Status.Rejected);
      expect(await fx.claims.hasSigned(digest, fx.members[0].address)).to.equal(false);
    });

    it("counts signatures per digest: disagreeing members do not add up", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const approve = await verdictFor(fx, fx.claimId, true);
      const reject = await verdictFor(fx, fx.claimId, false);
      await fx.claims.submitVerdict(approve, await signBy(fx, [fx.members[0]], approve));
      await expect(fx.claims.submitVerdict(reject, await signBy(fx, [fx.members[1]], reject)))
        .to.emit(fx.claims, "VerdictSigned")
        .withArgs(fx.claimId, await digestOf(fx, reject), 0b010n, 1n);
      await expect(fx.claims.submitVerdict(approve, await signBy(fx, [fx.members[2]], approve)))
        .to.emit(fx.claims, "VerdictSigned")
        .withArgs(fx.claimId, await digestOf(fx, approve), 0b101n, 2n);
      expect((await fx.claims.getClaim(fx.claimId)).status).to.equal(Status.Approved);
    });

    it("refuses a duplicate signer within a call (committee) and against the tally (claims)", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { claims, committee, members, claimId } = fx;
      const v = await verdictFor(fx, claimId, true);
      const digest = await digestOf(fx, v);
      const [s0, s1] = await signBy(fx, members.slice(0, 2), v);
      await expect(claims.submitVerdict(v, [s0, s0]))
        .to.be.revertedWithCustomError(committee, "CommitteeDuplicateSigner")
        .withArgs(members[0].address);
      await claims.submitVerdict(v, [s0]);
      await expect(claims.submitVerdict(v, [s0]))
        .to.be.revertedWithCustomError(claims, "ClaimsDuplicateSigner")
        .withArgs(claimId, digest, 0b001n);
      await expect(claims.submitVerdict(v, [s1, s0]))
        .to.be.revertedWithCustomError(claims, "ClaimsDuplicateSigner")
        .withArgs(claimId, digest, 0b001n);
    });

    it("refuses a non-member signer", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const stranger = new Wallet(id("stranger"));
      const v = await verdictFor(fx, fx.claimId, true);
      await expect(fx.claims.submitVerdict(v, await signBy(fx, [fx.members[0], stranger], v)))
        .to.be.revertedWithCustomError(fx.committee, "CommitteeInvalidSigner")
        .withArgs(1n, stranger.address);
    });

    it("discards tallies of an older configuration and refuses a removed member", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { claims, committee, members, claimId, admin } = fx;
      const v = await verdictFor(fx, claimId, true);
      const digest = await digestOf(fx, v);
      const [s0, s1, s2] = await signBy(fx, members, v);
      await claims.submitVerdict(v, [s0]);
      await committee.connect(admin).removeMember(members[0].address); // 2 members left, threshold 2
      expect(await claims.hasSigned(digest, members[0].address)).to.equal(false);
      // Member 0's earlier signature no longer counts: member 1 alone is 1 of 2.
      await expect(claims.submitVerdict(v, [s1]))
        .to.emit(claims, "VerdictSigned")
        .withArgs(claimId, digest, 0b010n, 1n);
      await expect(claims.submitVerdict(v, [s0]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(0n, members[0].address);
      await expect(claims.submitVerdict(v, [s2])).to.emit(claims, "VerdictFinalised");
    });

    it("discards tallies when a member is added too (every change bumps the version)", async () => {
      const fx = await loadFixture(standardClaimFixture);
      // 2 of 2 first, so that adding a member keeps a majority (2 of 3; 2 of 4 is refused, audit I-4).
      await fx.committee.connect(fx.admin).removeMember(fx.members[2].address);
      const v = await verdictFor(fx, fx.claimId, true);
      const digest = await digestOf(fx, v);
      const [s0, s1] = await signBy(fx, fx.members.slice(0, 2), v);
      await fx.claims.submitVerdict(v, [s0]);
      await fx.committee.connect(fx.admin).addMember(new Wallet(id("newcomer")).address);
      await expect(fx.claims.submitVerdict(v, [s1]))
        .to.emit(fx.claims, "VerdictSigned")
        .withArgs(fx.claimId, digest, 0b010n, 1n);
      // ...and member 0 can sign again under the new configuration.
      await expect(fx.claims.submitVerdict(v, [s0])).to.emit(fx.claims, "VerdictFinalised");
    });

    it("refuses signatures made for another chain or another contract", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const v = await verdictFor(fx, fx.claimId, true);
      for (const domain of [claimsDomain(1n, await fx.claims.getAddress()), claimsDomain(fx.chainId, await fx.pool.getAddress())]) {
        const sig = await signVerdict(fx.members[0], domain, v);
        const recovered = recoverVerdict(fx.domain, v, sig); // what the contract recovers in its own domain
        expect(recovered).to.not.equal(fx.members[0].address);
        await expect(fx.claims.submitVerdict(v, [sig]))
          .to.be.revertedWithCustomError(fx.committee, "CommitteeInvalidSigner")
          .withArgs(0n, recovered);
      }
    });
  });

  describe("verdict checks", () => {
    it("refuses a model not approved by the committee, retired, or not allowed for the product", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { claims, committee, insurer, admin, members, claimId, productId, modelHash } = fx;
      // Allowed for the product but unknown to the committee.
      await claims.connect(insurer).setProductModel(productId, OTHER_MODEL, true);
      let v = await verdictFor(fx, claimId, true, { modelHash: OTHER_MODEL });
      await expect(claims.submitVerdict(v, await signBy(fx, members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(committee, "CommitteeModelNotApproved")
        .withArgs(OTHER_MODEL);
      // Approved by the committee but not allowed for the product.
      await claims.connect(insurer).setProductModel(productId, OTHER_MODEL, false);
      await committee.connect(admin).approveModel(OTHER_MODEL, "2", "u");
      await expect(claims.submitVerdict(v, await signBy(fx, members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(claims, "ClaimsModelNotAllowed")
        .withArgs(productId, OTHER_MODEL);
      // Retired after the claim was filed.
      await committee.connect(admin).retireModel(modelHash);
      v = await verdictFor(fx, claimId, true);
      await expect(claims.submitVerdict(v, await signBy(fx, members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(committee, "CommitteeModelNotApproved")
        .withArgs(modelHash);
    });

    it("refuses a wrong evidence hash", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const wrong = keccak256(toUtf8Bytes("other bundle"));
      const v = await verdictFor(fx, fx.claimId, true, { evidenceHash: wrong });
      await expect(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsEvidenceMismatch")
        .withArgs(fx.claimId, wrong, fx.evidenceHash);
    });

    it("refuses a deadline other than the claim's, and any verdict after it", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { assessmentDeadline } = await fx.claims.getClaim(fx.claimId);
      let v = await verdictFor(fx, fx.claimId, true, { deadline: assessmentDeadline + 1n });
      await expect(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsDeadlineMismatch")
        .withArgs(fx.claimId, assessmentDeadline + 1n, assessmentDeadline);
      v = await verdictFor(fx, fx.claimId, true);
      const sigs = await signBy(fx, fx.members.slice(0, 2), v);
      await time.setNextBlockTimestamp(assessmentDeadline + 1n);
      await expect(fx.claims.submitVerdict(v, sigs))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsVerdictExpired")
        .withArgs(fx.claimId, assessmentDeadline, assessmentDeadline + 1n);
    });

    it("accepts a verdict at the deadline itself", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { assessmentDeadline } = await fx.claims.getClaim(fx.claimId);
      const v = await verdictFor(fx, fx.claimId, true);
      const sigs = await signBy(fx, fx.members.slice(0, 2), v);
      await time.setNextBlockTimestamp(assessmentDeadline);
      await expect(fx.claims.submitVerdict(v, sigs)).to.emit(fx.claims, "VerdictFinalised");
    });

    it("refuses a reason code that contradicts the decision: 0 exactly for an approval", async () => {
      const fx = await loadFixture(standardClaimFixture);
      for (const [approved, reason] of [
        [true, 1],
        [true, 255],
        [false, 0],
      ] as const) {
        const v = await verdictFor(fx, fx.claimId, approved, { reason });
        await expect(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
          .to.be.revertedWithCustomError(fx.claims, "ClaimsInvalidReason")
          .withArgs(fx.claimId, approved, reason);
      }
      expect((await fx.claims.getClaim(fx.claimId)).status).to.equal(Status.Filed);
    });

    it("signs the reason code: stored with the claim, in VerdictFinalised, and kept after the arbiter's decision", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const { claims, members, claimId, modelHash } = fx;
      const notAnchored = claimReasonCode("NOT_ANCHORED");
      const v = await verdictFor(fx, claimId, false, { reason: notAnchored });
      // Members that reject for different reasons sign different digests, which do not add up.
      const otherReason = await verdictFor(fx, claimId, false, { reason: claimReasonCode("INCOMPLETE_WINDOW") });
      expect(await digestOf(fx, otherReason)).to.not.equal(await digestOf(fx, v));
      await claims.submitVerdict(otherReason, await signBy(fx, [members[0]], otherReason));
      const tx = claims.submitVerdict(v, await signBy(fx, [members[1]], v));
      await expect(tx)
        .to.emit(claims, "VerdictSigned")
        .withArgs(claimId, await digestOf(fx, v), 0b010n, 1n);
      await expect(tx).to.not.emit(claims, "VerdictFinalised");
      const decide = claims.submitVerdict(v, await signBy(fx, [members[2]], v));
      await expect(decide)
        .to.emit(claims, "VerdictFinalised")
        .withArgs(claimId, false, 0n, 1_200n, BigInt(notAnchored), modelHash, await digestOf(fx, v));
      expect((await claims.getClaim(claimId)).reason).to.equal(BigInt(notAnchored));
      // The holder appeals and the arbiter approves: the committee's reason stays on record.
      await claims.connect(fx.holder).appeal(claimId);
      await claims.connect(fx.arbiter).resolve(claimId, true, CLAIM_AMOUNT);
      const c = await claims.getClaim(claimId);
      expect([c.status, c.approved, c.reason]).to.deep.equal([Status.Paid, true, BigInt(notAnchored)]);
    });

    it("hashes the reason into the digest exactly as the SDK does (VerdictHashing = VERDICT_TYPES)", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const base = await verdictFor(fx, fx.claimId, false);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.boolean(), async (reason, approved) => {
          const v = { ...base, approved, reason };
          expect(await fx.claims.verdictDigest(v)).to.equal(verdictDigest(fx.domain, v));
        }),
        { numRuns: 25 },
      );
    });

    it("refuses a payout above the claim amount, or any payout on a rejection", async () => {
      const fx = await loadFixture(standardClaimFixture);
      let v = await verdictFor(fx, fx.claimId, true, { payout: CLAIM_AMOUNT + 1n });
      await expect(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsPayoutTooHigh")
        .withArgs(fx.claimId, CLAIM_AMOUNT + 1n, CLAIM_AMOUNT);
      v = await verdictFor(fx, fx.claimId, false, { payout: 1n });
      await expect(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsPayoutTooHigh")
        .withArgs(fx.claimId, 1n, 0n);
    });

    it("accepts a partial approval (payout below the amount)", async () => {
      const fx = await loadFixture(standardClaimFixture);
      const v = await verdictFor(fx, fx.claimId, true, { payout: 400n * UNIT });
      await fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v));
      const c = await fx.claims.getClaim(fx.claimId);
      expect([c.status, c.payout]).to.deep.equal([Status.Approved, 400n * UNIT]);
    });

    it("refuses a score above 10000 bps, an empty signature list, unknown and decided claims", async () => {
      const fx = await loadFixture(standardClaimFixture);
      let v = await verdictFor(fx, fx.claimId, true, { scoreBps: 10_001 });
      await expect(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsInvalidScore")
        .withArgs(fx.claimId, 10_001n);
      v = await verdictFor(fx, fx.claimId, true);
      await expect(fx.claims.submitVerdict(v, [])).to.be.revertedWithCustomError(fx.claims, "ClaimsNoSignatures").withArgs(fx.claimId);
      const unknown = { ...v, claimId: 99n };
      await expect(fx.claims.submitVerdict(unknown, await signBy(fx, fx.members.slice(0, 2), unknown)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsUnexpectedStatus")
        .withArgs(99n, Status.None);
      const sigs = await signBy(fx, fx.members.slice(0, 2), v);
      await fx.claims.submitVerdict(v, sigs);
      // Replaying the deciding verdict (a restarted oracle) is refused: no double decision, no double payout.
      await expect(fx.claims.submitVerdict(v, [sigs[0]]))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsUnexpectedStatus")
        .withArgs(fx.claimId, Status.Approved);
    });
  });

  describe("parametric product (zero appeal window)", () => {
    it("pays the holder in the transaction that finalises an approval, and refunds the deposit", async () => {
      const fx = await loadFixture(parametricClaimFixture);
      const { claims, pool, token, holder, claimId, policyId } = fx;
      const deposit = BigInt(PARAMETRIC_PRODUCT.claimDeposit);
      const lockedBefore = await pool.lockedAssets();
      const v = await verdictFor(fx, claimId, true);
      const tx = claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v));
      await expect(tx).to.emit(claims, "VerdictFinalised");
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Paid, CLAIM_AMOUNT, deposit);
      await expect(tx).to.emit(pool, "ClaimPaid").withArgs(claimId, holder.address, CLAIM_AMOUNT);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims], [CLAIM_AMOUNT + deposit, -CLAIM_AMOUNT, -deposit]);
      expect((await claims.getClaim(claimId)).status).to.equal(Status.Paid);
      const policy = await claims.getPolicy(policyId);
      expect([policy.paidOut, policy.openClaimId]).to.deep.equal([CLAIM_AMOUNT, 0n]);
      expect(await pool.lockedAssets()).to.equal(lockedBefore - CLAIM_AMOUNT);
    });

    it("closes a rejection at once and sends the deposit to the pool", async () => {
      const fx = await loadFixture(parametricClaimFixture);
      const { claims, pool, token, holder, claimId } = fx;
      const deposit = BigInt(PARAMETRIC_PRODUCT.claimDeposit);
      const v = await verdictFor(fx, claimId, false);
      const tx = claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v));
      await expect(tx).to.emit(claims, "ClaimSettled").withArgs(claimId, holder.address, Status.Closed, 0n, 0n);
      await expect(tx).to.emit(pool, "DepositForfeited").withArgs(claimId, deposit);
      await expect(tx).to.changeTokenBalances(ethers, token, [holder, pool, claims], [0n, deposit, -deposit]);
      await expect(claims.connect(holder).appeal(claimId))
        .to.be.revertedWithCustomError(claims, "ClaimsUnexpectedStatus")
        .withArgs(claimId, Status.Closed);
    });

    it("pays the current holder of the policy token", async () => {
      const fx = await loadFixture(parametricClaimFixture);
      const { claims, token, holder, other, claimId, policyId } = fx;
      await claims.connect(holder).transferFrom(holder.address, other.address, policyId);
      const v = await verdictFor(fx, claimId, true);
      await expect(claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 2), v))).to.changeTokenBalances(
        ethers,
        token,
        [holder, other],
        [0n, CLAIM_AMOUNT + BigInt(PARAMETRIC_PRODUCT.claimDeposit)],
      );
    });
  });

  describe("submitVerdicts (batch)", () => {
    it("decides good entries and skips bad ones with the revert data as reason", async () => {
      const fx = await loadFixture(threeClaimsFixture);
      const { claims, committee, members, claimIds } = fx;
      const stranger = new Wallet(id("stranger"));
      const good = await verdictFor(fx, claimIds[0], true);
      const wrongEvidence = await verdictFor(fx, claimIds[1], true, { evidenceHash: ethers.ZeroHash });
      const nonMember = await verdictFor(fx, claimIds[2], false);
      const sigs = [
        await signBy(fx, members.slice(0, 2), good),
        await signBy(fx, members.slice(0, 2), wrongEvidence),
        await signBy(fx, [stranger], nonMember),
      ];
      const expected1 = claims.interface.encodeErrorResult("ClaimsEvidenceMismatch", [
        claimIds[1],
        ethers.ZeroHash,
        (await claims.getClaim(claimIds[1])).evidenceHash,
      ]);
      const expected2 = committee.interface.encodeErrorResult("CommitteeInvalidSigner", [0n, stranger.address]);
      const tx = claims.submitVerdicts([good, wrongEvidence, nonMember], sigs);
      await expect(tx)
        .to.emit(claims, "VerdictFinalised")
        .withArgs(claimIds[0], true, CLAIM_AMOUNT, 9_100n, 0n, fx.modelHash, await digestOf(fx, good));
      await expect(tx).to.emit(claims, "VerdictSkipped").withArgs(claimIds[1], 1n, expected1);
      await expect(tx).to.emit(claims, "VerdictSkipped").withArgs(claimIds[2], 2n, expected2);
      expect((await claims.getClaim(claimIds[0])).status).to.equal(Status.Approved);
      expect((await claims.getClaim(claimIds[1])).status).to.equal(Status.Filed);
      expect((await claims.getClaim(claimIds[2])).status).to.equal(Status.Filed);
    });

    it("accumulates signatures across entries of one batch", async () => {
      const fx = await loadFixture(threeClaimsFixture);
      const v = await verdictFor(fx, fx.claimIds[0], true);
      const [s0, s1] = await signBy(fx, fx.members.slice(0, 2), v);
      const tx = fx.claims.submitVerdicts([v, v], [[s0], [s1]]);
      await expect(tx).to.emit(fx.claims, "VerdictFinalised");
      await expect(tx).not.to.emit(fx.claims, "VerdictSkipped");
    });

    it("refuses arrays of different lengths, and outside calls to the batch entry point", async () => {
      const fx = await loadFixture(threeClaimsFixture);
      const v = await verdictFor(fx, fx.claimIds[0], true);
      await expect(fx.claims.submitVerdicts([v, v], [[]]))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsLengthMismatch")
        .withArgs(2n, 1n);
      await expect(fx.claims.connect(fx.other).submitVerdictInBatch(v, await signBy(fx, fx.members, v)))
        .to.be.revertedWithCustomError(fx.claims, "ClaimsOnlySelf")
        .withArgs(fx.other.address);
    });
  });
});
