import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { Signature, Wallet, id, keccak256, toUtf8Bytes } from "ethers";
import { ModelStatus, SECP256K1_N, enumValue } from "@triad/sdk";
import { MEMBER_KEYS, MODEL_HASH } from "@triad/devkit/insurance";

const { loadFixture } = networkHelpers;

const DIGEST = keccak256(toUtf8Bytes("some EIP-712 digest"));
const OTHER_MODEL = keccak256(toUtf8Bytes("another model"));

/** Raw ECDSA signature of a digest (what `signTypedData` produces for an EIP-712 digest). */
function signDigest(wallet: Wallet, digest: string): string {
  return wallet.signingKey.sign(digest).serialized;
}

async function deployCommitteeFixture() {
  const [admin, manager, outsider] = await ethers.getSigners();
  const members = MEMBER_KEYS.map((k) => new Wallet(k));
  const committee = await ethers.deployContract("OracleCommittee", [admin.address, members.map((m) => m.address), 2]);
  await committee.grantRole(await committee.COMMITTEE_MANAGER_ROLE(), manager.address);
  await committee.approveModel(MODEL_HASH, "1.0.0", "ipfs://model/v1");
  const stranger = new Wallet(id("triad.test.stranger"));
  return { committee, admin, manager, outsider, members, stranger };
}

describe("OracleCommittee", () => {
  describe("construction", () => {
    it("seats the initial members in slots 0.. with the threshold and config version 1", async () => {
      const { committee, members } = await loadFixture(deployCommitteeFixture);
      expect(await committee.memberCount()).to.equal(3n);
      expect(await committee.threshold()).to.equal(2n);
      expect(await committee.configVersion()).to.equal(1n);
      expect(await committee.members()).to.deep.equal(members.map((m) => m.address));
      for (let i = 0; i < 3; i++) {
        expect(await committee.memberSlot(members[i].address)).to.deep.equal([true, BigInt(i)]);
      }
    });

    it("refuses a zero admin, an invalid threshold, zero or duplicate members", async () => {
      const [admin] = await ethers.getSigners();
      const m = MEMBER_KEYS.map((k) => new Wallet(k).address);
      const factory = await ethers.getContractFactory("OracleCommittee");
      await expect(factory.deploy(ethers.ZeroAddress, m, 2)).to.be.revertedWithCustomError(factory, "CommitteeZeroAddress");
      await expect(factory.deploy(admin.address, m, 0))
        .to.be.revertedWithCustomError(factory, "CommitteeInvalidThreshold")
        .withArgs(0n, 3n);
      await expect(factory.deploy(admin.address, m, 4))
        .to.be.revertedWithCustomError(factory, "CommitteeInvalidThreshold")
        .withArgs(4n, 3n);
      await expect(factory.deploy(admin.address, [], 1))
        .to.be.revertedWithCustomError(factory, "CommitteeInvalidThreshold")
        .withArgs(1n, 0n);
      await expect(factory.deploy(admin.address, [m[0], ethers.ZeroAddress], 1)).to.be.revertedWithCustomError(
        factory,
        "CommitteeZeroAddress",
      );
      await expect(factory.deploy(admin.address, [m[0], m[0]], 1))
        .to.be.revertedWithCustomError(factory, "CommitteeAlreadyMember")
        .withArgs(m[0]);
    });
  });

  describe("membership", () => {
    it("adds a member in the lowest free slot and bumps the version", async () => {
      const { committee, manager, stranger } = await loadFixture(deployCommitteeFixture);
      // 2 of 4 would not be a majority (I-4): raise the threshold first, then add.
      await committee.connect(manager).setThreshold(3); // version 2
      await expect(committee.connect(manager).addMember(stranger.address))
        .to.emit(committee, "MemberAdded")
        .withArgs(stranger.address, 3n, 3n);
      expect(await committee.memberCount()).to.equal(4n);
      expect(await committee.threshold()).to.equal(3n);
      expect(await committee.configVersion()).to.equal(3n);
    });

    it("keeps slots stable on removal and reuses the freed slot", async () => {
      const { committee, manager, members, stranger } = await loadFixture(deployCommitteeFixture);
      await expect(committee.connect(manager).removeMember(members[1].address))
        .to.emit(committee, "MemberRemoved")
        .withArgs(members[1].address, 1n, 2n);
      expect(await committee.memberSlot(members[1].address)).to.deep.equal([false, 0n]);
      expect(await committee.memberSlot(members[2].address)).to.deep.equal([true, 2n]);
      expect(await committee.members()).to.deep.equal([members[0].address, members[2].address]);
      await expect(committee.connect(manager).addMember(stranger.address))
        .to.emit(committee, "MemberAdded")
        .withArgs(stranger.address, 1n, 3n);
      expect(await committee.members()).to.deep.equal([members[0].address, stranger.address, members[2].address]);
    });

    it("refuses a removal that would leave fewer members than the threshold", async () => {
      const { committee, manager, members } = await loadFixture(deployCommitteeFixture);
      await committee.connect(manager).removeMember(members[0].address); // 2 members, threshold 2
      await expect(committee.connect(manager).removeMember(members[1].address))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidThreshold")
        .withArgs(2n, 1n);
    });

    it("pairs a removal with a threshold change in one reconfiguration (one version bump)", async () => {
      const { committee, manager, members, stranger } = await loadFixture(deployCommitteeFixture);
      // 2 of 3 → remove two, add one, threshold 1: a 1-of-2 committee is no majority (I-4), 1 of 1 is.
      const tx = committee
        .connect(manager)
        .reconfigure([members[0].address, members[1].address, members[2].address], [stranger.address], 1);
      await expect(tx).to.emit(committee, "MemberRemoved").withArgs(members[0].address, 0n, 2n);
      await expect(tx).to.emit(committee, "MemberRemoved").withArgs(members[1].address, 1n, 2n);
      await expect(tx).to.emit(committee, "MemberRemoved").withArgs(members[2].address, 2n, 2n);
      await expect(tx).to.emit(committee, "MemberAdded").withArgs(stranger.address, 0n, 2n);
      await expect(tx).to.emit(committee, "ThresholdChanged").withArgs(1n, 2n);
      expect(await committee.configVersion()).to.equal(2n);
      expect(await committee.members()).to.deep.equal([stranger.address]);
    });

    it("refuses unknown removals, duplicate, zero additions", async () => {
      const { committee, manager, members, stranger } = await loadFixture(deployCommitteeFixture);
      await expect(committee.connect(manager).removeMember(stranger.address))
        .to.be.revertedWithCustomError(committee, "CommitteeNotMember")
        .withArgs(stranger.address);
      await expect(committee.connect(manager).addMember(members[0].address))
        .to.be.revertedWithCustomError(committee, "CommitteeAlreadyMember")
        .withArgs(members[0].address);
      await expect(committee.connect(manager).addMember(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        committee,
        "CommitteeZeroAddress",
      );
    });

    it("holds at most 32 members", async () => {
      const { committee, manager } = await loadFixture(deployCommitteeFixture);
      const extra = Array.from({ length: 29 }, (_, i) => new Wallet(id(`extra.${i}`)).address);
      await committee.connect(manager).reconfigure([], extra, 17); // a majority of 32
      expect(await committee.memberCount()).to.equal(32n);
      await expect(committee.connect(manager).addMember(new Wallet(id("one.too.many")).address)).to.be.revertedWithCustomError(
        committee,
        "CommitteeFull",
      );
    });

    it("validates the threshold on every change", async () => {
      const { committee, manager } = await loadFixture(deployCommitteeFixture);
      await expect(committee.connect(manager).setThreshold(3)).to.emit(committee, "ThresholdChanged").withArgs(3n, 2n);
      await expect(committee.connect(manager).setThreshold(0))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidThreshold")
        .withArgs(0n, 3n);
      await expect(committee.connect(manager).setThreshold(4))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidThreshold")
        .withArgs(4n, 3n);
      // Setting the same value still bumps the version and says so.
      await expect(committee.connect(manager).setThreshold(3)).to.emit(committee, "ThresholdChanged").withArgs(3n, 3n);
    });

    it("I-4 split committee: refuses every configuration whose threshold is not a strict majority, so one member signing conflicting verdicts cannot decide", async () => {
      const { committee, manager, members, stranger } = await loadFixture(deployCommitteeFixture);
      const [admin] = await ethers.getSigners();
      const factory = await ethers.getContractFactory("OracleCommittee");
      const accounts = [...members, stranger, new Wallet(id("triad.test.fifth"))].map((m) => m.address);
      // Construction: accepted exactly when 2k > n (1 of 1 is a majority); 1 of 2 and 2 of 4 are refused.
      for (let n = 1; n <= 5; n++) {
        for (let k = 1; k <= n; k++) {
          const deployed = factory.deploy(admin.address, accounts.slice(0, n), k);
          if (2 * k > n) await expect(deployed).not.to.revert(ethers);
          else await expect(deployed).to.be.revertedWithCustomError(factory, "CommitteeInvalidThreshold").withArgs(BigInt(k), BigInt(n));
        }
      }
      // Every change of the 2-of-3 committee that would leave k ≤ n/2 is refused.
      await expect(committee.connect(manager).setThreshold(1))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidThreshold")
        .withArgs(1n, 3n);
      await expect(committee.connect(manager).addMember(stranger.address)) // 2 of 4
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidThreshold")
        .withArgs(2n, 4n);
      await expect(committee.connect(manager).reconfigure([members[0].address], [], 1)) // 1 of 2
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidThreshold")
        .withArgs(1n, 2n);
      expect(await committee.configVersion()).to.equal(1n);

      // The audit's scenario: a split committee of four. Under 2 of 4 (refused above), member 0 signing both verdicts
      // would decide either way with one honest member each. The add must come with a majority threshold: 3 of 4.
      await committee.connect(manager).reconfigure([], [stranger.address], 3);
      const approve = keccak256(toUtf8Bytes("verdict: approve"));
      const reject = keccak256(toUtf8Bytes("verdict: reject"));
      const [approveBits, k] = await committee.verify(approve, [signDigest(members[0], approve), signDigest(members[1], approve)]);
      const [rejectBits] = await committee.verify(reject, [signDigest(members[0], reject), signDigest(members[2], reject)]);
      const popcount = (bits: bigint) => bits.toString(2).replaceAll("0", "").length;
      expect(k).to.equal(3n);
      expect(popcount(approveBits)).to.be.below(Number(k));
      expect(popcount(rejectBits)).to.be.below(Number(k));
      // Two deciding sets always share an honest member: |A| + |B| ≥ 2k > n, and one equivocator is not enough.
      expect(2 * Number(k) - Number(await committee.memberCount())).to.be.at.least(1);
    });

    it("restricts configuration to the committee manager role", async () => {
      const { committee, outsider, stranger } = await loadFixture(deployCommitteeFixture);
      const role = await committee.COMMITTEE_MANAGER_ROLE();
      for (const call of [
        () => committee.connect(outsider).addMember(stranger.address),
        () => committee.connect(outsider).removeMember(stranger.address),
        () => committee.connect(outsider).setThreshold(1),
        () => committee.connect(outsider).reconfigure([], [], 1),
        () => committee.connect(outsider).approveModel(OTHER_MODEL, "1", "u"),
        () => committee.connect(outsider).retireModel(MODEL_HASH),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(committee, "AccessControlUnauthorizedAccount").withArgs(outsider.address, role);
      }
    });
  });

  describe("models", () => {
    it("approves, reports and retires a model for good", async () => {
      const { committee, manager } = await loadFixture(deployCommitteeFixture);
      await expect(committee.connect(manager).approveModel(OTHER_MODEL, "2.0.0", "ipfs://m2"))
        .to.emit(committee, "ModelApproved")
        .withArgs(OTHER_MODEL, "2.0.0", "ipfs://m2");
      expect(await committee.isModelApproved(OTHER_MODEL)).to.equal(true);
      expect(await committee.getModel(OTHER_MODEL)).to.deep.equal([enumValue(ModelStatus, "Approved"), "2.0.0", "ipfs://m2"]);
      await expect(committee.connect(manager).retireModel(OTHER_MODEL)).to.emit(committee, "ModelRetired").withArgs(OTHER_MODEL);
      expect(await committee.isModelApproved(OTHER_MODEL)).to.equal(false);
      expect((await committee.getModel(OTHER_MODEL)).status).to.equal(enumValue(ModelStatus, "Retired"));
      await expect(committee.connect(manager).approveModel(OTHER_MODEL, "2.0.1", "ipfs://m2b"))
        .to.be.revertedWithCustomError(committee, "CommitteeModelExists")
        .withArgs(OTHER_MODEL);
      await expect(committee.connect(manager).retireModel(OTHER_MODEL))
        .to.be.revertedWithCustomError(committee, "CommitteeModelNotApproved")
        .withArgs(OTHER_MODEL);
    });

    it("refuses the zero hash and re-approval", async () => {
      const { committee, manager } = await loadFixture(deployCommitteeFixture);
      await expect(committee.connect(manager).approveModel(ethers.ZeroHash, "1", "u")).to.be.revertedWithCustomError(
        committee,
        "CommitteeZeroModel",
      );
      await expect(committee.connect(manager).approveModel(MODEL_HASH, "1", "u"))
        .to.be.revertedWithCustomError(committee, "CommitteeModelExists")
        .withArgs(MODEL_HASH);
    });
  });

  describe("verify", () => {
    it("returns the bitmap of distinct signing members with threshold and version", async () => {
      const { committee, members } = await loadFixture(deployCommitteeFixture);
      const sigs = [signDigest(members[2], DIGEST), signDigest(members[0], DIGEST)];
      expect(await committee.verify(DIGEST, sigs)).to.deep.equal([0b101n, 2n, 1n]);
      expect(await committee.verify(DIGEST, [])).to.deep.equal([0n, 2n, 1n]);
    });

    it("refuses a non-member, naming the index and the recovered address", async () => {
      const { committee, members, stranger } = await loadFixture(deployCommitteeFixture);
      await expect(committee.verify(DIGEST, [signDigest(members[0], DIGEST), signDigest(stranger, DIGEST)]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(1n, stranger.address);
    });

    it("refuses a signature over another digest as a non-member signer", async () => {
      const { committee, members } = await loadFixture(deployCommitteeFixture);
      const sig = signDigest(members[0], keccak256(toUtf8Bytes("something else")));
      const recovered = ethers.recoverAddress(DIGEST, sig);
      await expect(committee.verify(DIGEST, [sig]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(0n, recovered);
    });

    it("refuses a duplicate signer within one call", async () => {
      const { committee, members } = await loadFixture(deployCommitteeFixture);
      const sig = signDigest(members[1], DIGEST);
      await expect(committee.verify(DIGEST, [sig, sig]))
        .to.be.revertedWithCustomError(committee, "CommitteeDuplicateSigner")
        .withArgs(members[1].address);
    });

    it("refuses malformed and malleable (high-s) signatures as invalid with a zero signer", async () => {
      const { committee, members } = await loadFixture(deployCommitteeFixture);
      const good = Signature.from(signDigest(members[0], DIGEST));
      // The same signature with s' = n - s and the other v recovers to the same key; OZ ECDSA refuses it.
      const highS = ethers.concat([good.r, ethers.toBeHex(SECP256K1_N - BigInt(good.s), 32), good.v === 27 ? "0x1c" : "0x1b"]);
      await expect(committee.verify(DIGEST, [highS]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(0n, ethers.ZeroAddress);
      await expect(committee.verify(DIGEST, [good.compactSerialized]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(0n, ethers.ZeroAddress);
      await expect(committee.verify(DIGEST, ["0x" + "00".repeat(65)]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(0n, ethers.ZeroAddress);
    });

    it("counts only current members after a change", async () => {
      const { committee, manager, members } = await loadFixture(deployCommitteeFixture);
      await committee.connect(manager).removeMember(members[0].address);
      await expect(committee.verify(DIGEST, [signDigest(members[0], DIGEST)]))
        .to.be.revertedWithCustomError(committee, "CommitteeInvalidSigner")
        .withArgs(0n, members[0].address);
      expect(await committee.verify(DIGEST, [signDigest(members[2], DIGEST)])).to.deep.equal([0b100n, 2n, 2n]);
    });

    it("verifyWithModel checks the model first", async () => {
      const { committee, manager, members } = await loadFixture(deployCommitteeFixture);
      const sigs = [signDigest(members[0], DIGEST)];
      expect(await committee.verifyWithModel(DIGEST, MODEL_HASH, sigs)).to.deep.equal([1n, 2n, 1n]);
      await expect(committee.verifyWithModel(DIGEST, OTHER_MODEL, sigs))
        .to.be.revertedWithCustomError(committee, "CommitteeModelNotApproved")
        .withArgs(OTHER_MODEL);
      await committee.connect(manager).retireModel(MODEL_HASH);
      await expect(committee.verifyWithModel(DIGEST, MODEL_HASH, sigs))
        .to.be.revertedWithCustomError(committee, "CommitteeModelNotApproved")
        .withArgs(MODEL_HASH);
    });
  });
});
