/**
 * Measures whole-transaction gas (receipt gasUsed: intrinsic 21,000 + calldata + execution) of the insurance
 * contracts' main paths on the in-process Hardhat network, with the shared test fixture.
 *
 *   npx hardhat run scripts/gas-insurance.ts
 *
 * Verdicts are honest approvals (`payout = amount`) with scoreBps 9100; the holder already holds tUSD, so the
 * payout transfer writes a non-zero balance (the common case).
 */
import { ethers } from "hardhat";
import { Wallet, type ContractTransactionResponse } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { deployInsuranceFixture, type InsuranceFixture } from "../test/insurance/fixtures";
import { buyPolicy, fileClaim, registerDevices, signBy, verdictFor } from "../test/insurance/helpers";

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.gasUsed;
}

async function openClaims(fx: InsuranceFixture, productId: bigint, count: number, tag: string): Promise<bigint[]> {
  const devices = await registerDevices(fx, fx.holder, count, tag);
  const policies: bigint[] = [];
  for (const device of devices) policies.push(await buyPolicy(fx, { productId, device }));
  const ids: bigint[] = [];
  for (const policyId of policies) ids.push((await fileClaim(fx, policyId, { tag: `${tag}-${policyId}` })).claimId);
  return ids;
}

async function main() {
  const rows: [string, bigint | string][] = [];
  const fresh = async () => {
    const fx = await deployInsuranceFixture();
    await fx.token.mint(fx.holder.address, 1_000_000n * 10n ** 6n);
    await fx.pool.connect(fx.lp2).deposit(100_000n * 10n ** 6n, fx.lp2.address);
    return fx;
  };

  // buy policy, file claim (standard product)
  {
    const fx = await fresh();
    const [device] = await registerDevices(fx, fx.holder, 1, "buy");
    rows.push(["buyPolicy (first policy of the device, premium + lock + mint)", await gasOf(
      fx.claims.connect(fx.holder).buyPolicy(fx.productId, device, 5_000n * 10n ** 6n, 90n * 86_400n),
    )]);
    const policyId = await fx.claims.policyCount();
    const policy = await fx.claims.getPolicy(policyId);
    const incidentAt = policy.start + 86_400n + 3_600n;
    await time.increaseTo(incidentAt + 3_600n);
    rows.push(["fileClaim (deposit 50 tUSD, 24-char URI)", await gasOf(
      fx.claims.connect(fx.holder).fileClaim(policyId, 1_000n * 10n ** 6n, incidentAt, ethers.id("e"), "ipfs://evidence/abcdefgh"),
    )]);
  }

  for (const [label, parametric] of [["standard product: verdict recorded, appeal window opens", false], ["parametric product: verdict + payout + deposit refund", true]] as const) {
    // 1 signature, threshold 1
    {
      const fx = await fresh();
      await fx.committee.setThreshold(1);
      const [claimId] = await openClaims(fx, parametric ? fx.parametricProductId : fx.productId, 1, "one");
      const v = await verdictFor(fx, claimId, true);
      rows.push([`submitVerdict, 1 signature, finalising (${label})`, await gasOf(
        fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, 1), v)),
      )]);
    }
    // 3 signatures, threshold 3
    {
      const fx = await fresh();
      await fx.committee.setThreshold(3);
      const [claimId] = await openClaims(fx, parametric ? fx.parametricProductId : fx.productId, 1, "three");
      const v = await verdictFor(fx, claimId, true);
      rows.push([`submitVerdict, 3 signatures, finalising (${label})`, await gasOf(
        fx.claims.submitVerdict(v, await signBy(fx, fx.members, v)),
      )]);
    }
    // batches, threshold 1
    for (const n of [10, 20]) {
      const fx = await fresh();
      await fx.committee.setThreshold(1);
      const ids = await openClaims(fx, parametric ? fx.parametricProductId : fx.productId, n, `batch${n}`);
      const verdicts = await Promise.all(ids.map((id) => verdictFor(fx, id, true)));
      const sigs = await Promise.all(verdicts.map((v) => signBy(fx, fx.members.slice(0, 1), v)));
      const gas = await gasOf(fx.claims.submitVerdicts(verdicts, sigs));
      rows.push([`submitVerdicts, batch of ${n} x 1 signature, per claim (${label})`, gas / BigInt(n)]);
    }
  }

  // partial: 1 of 2 then second
  {
    const fx = await fresh();
    const [claimId] = await openClaims(fx, fx.productId, 1, "partial");
    const v = await verdictFor(fx, claimId, true);
    const [s0, s1] = await signBy(fx, fx.members.slice(0, 2), v);
    rows.push(["submitVerdict, 1 of 2 signatures (tally stored)", await gasOf(fx.claims.submitVerdict(v, [s0]))]);
    rows.push(["submitVerdict, 2nd of 2 signatures (finalising, standard)", await gasOf(fx.claims.submitVerdict(v, [s1]))]);
    const c = await fx.claims.getClaim(claimId);
    await time.increaseTo(c.appealDeadline);
    rows.push(["settle (after appeal window: payout + deposit refund)", await gasOf(fx.claims.settle(claimId))]);
  }

  const width = Math.max(...rows.map(([l]) => l.length));
  for (const [l, g] of rows) console.log(`${l.padEnd(width)}  ${g.toString().padStart(8)}`);
  void Wallet;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
