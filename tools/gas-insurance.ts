/**
 * Measures whole-transaction gas (receipt `gasUsed`: 21,000 intrinsic + calldata + execution) of the insurance
 * contracts' main paths on the in-process Hardhat network, using the shared test fixture.
 *
 *   npx hardhat run tools/gas-insurance.ts
 *
 * Verdicts are honest approvals (`payout = amount`, scoreBps 9100, 1,000 tUSD claims). Every recipient of a
 * payout already holds tUSD, so its balance slot goes from non-zero to non-zero. "1 signature" rows use a 1-member
 * committee (1 of 1: the threshold must be a strict majority, audit I-4), "3 signatures" rows 3 of 3; everything
 * else uses the fixture's 2-of-3.
 * Prints a Markdown table (copied into docs/insurance.md).
 */
import type { ContractTransactionResponse } from "ethers";
import {
  PARAMETRIC_PRODUCT,
  UNIT,
  buyPolicy,
  deployInsuranceFixture,
  ethers,
  fileClaim,
  networkHelpers,
  registerDevices,
  signBy,
  verdictFor,
  type InsuranceFixture,
} from "@triad/devkit";

const { time } = networkHelpers;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt.gasUsed;
}

type Kind = "standard" | "parametric" | "parametric, no deposit";

async function fresh(threshold: 1 | 2 | 3) {
  const fx = await deployInsuranceFixture();
  await fx.pool.connect(fx.lp2).deposit(100_000n * UNIT, fx.lp2.address);
  // Product 3: parametric cover without a claim deposit (no refund transfer on payout).
  await fx.claims.connect(fx.insurer).createProduct({ ...PARAMETRIC_PRODUCT, claimDeposit: 0n });
  await fx.claims.connect(fx.insurer).setProductModel(3n, fx.modelHash, true);
  if (threshold === 1) await fx.committee.reconfigure([fx.members[1].address, fx.members[2].address], [], 1);
  else if (threshold === 3) await fx.committee.setThreshold(3);
  return fx;
}

function productOf(fx: InsuranceFixture, kind: Kind): bigint {
  return kind === "standard" ? fx.productId : kind === "parametric" ? fx.parametricProductId : 3n;
}

async function openClaims(fx: InsuranceFixture, kind: Kind, count: number, tag: string): Promise<bigint[]> {
  const devices = await registerDevices(fx, fx.holder, count, tag);
  // Buy every policy first, then file: all claims are then filed within the same hours and none expires.
  const policies: bigint[] = [];
  for (const device of devices) policies.push(await buyPolicy(fx, { productId: productOf(fx, kind), device }));
  const ids: bigint[] = [];
  for (const policyId of policies) ids.push((await fileClaim(fx, policyId, { tag: `${tag}-${policyId}` })).claimId);
  return ids;
}

async function main() {
  const rows: [string, string, bigint][] = [];
  const add = (op: string, detail: string, gas: bigint) => rows.push([op, detail, gas]);

  {
    const fx = await fresh(2);
    const [device] = await registerDevices(fx, fx.holder, 1, "buy");
    add(
      "buyPolicy",
      "standard product, 5,000 tUSD for 90 days",
      await gasOf(fx.claims.connect(fx.holder).buyPolicy(fx.productId, device, 5_000n * UNIT, 90n * 86_400n)),
    );
    const policyId = await fx.claims.policyCount();
    const incidentAt = (await fx.claims.getPolicy(policyId)).start + 86_400n + 3_600n;
    await time.increaseTo(incidentAt + 3_600n);
    add(
      "fileClaim",
      "50 tUSD deposit, 24-byte evidence URI",
      await gasOf(fx.claims.connect(fx.holder).fileClaim(policyId, 1_000n * UNIT, incidentAt, ethers.id("e"), "ipfs://evidence/abcdefgh")),
    );
  }

  for (const kind of ["standard", "parametric", "parametric, no deposit"] as Kind[]) {
    for (const k of [1, 3] as const) {
      const fx = await fresh(k);
      const [claimId] = await openClaims(fx, kind, 1, `k${k}`);
      const v = await verdictFor(fx, claimId, true);
      add(
        `submitVerdict, ${k} signature${k > 1 ? "s" : ""}, finalising`,
        kind,
        await gasOf(fx.claims.submitVerdict(v, await signBy(fx, fx.members.slice(0, k), v))),
      );
    }
    for (const n of [10, 20]) {
      const fx = await fresh(1);
      const ids = await openClaims(fx, kind, n, `batch${n}`);
      const verdicts = await Promise.all(ids.map((id) => verdictFor(fx, id, true)));
      const sigs = await Promise.all(verdicts.map((v) => signBy(fx, fx.members.slice(0, 1), v)));
      const receipt = (await (await fx.claims.submitVerdicts(verdicts, sigs)).wait())!;
      const claimsAddress = await fx.claims.getAddress();
      const events = receipt.logs.filter((l) => l.address === claimsAddress).map((l) => fx.claims.interface.parseLog(l));
      const decided = events.filter((e) => e?.name === "VerdictFinalised").length;
      if (decided !== n) {
        const reasons = events.filter((e) => e?.name === "VerdictSkipped").map((e) => e!.args.reason as string);
        throw new Error(`batch of ${n} (${kind}): only ${decided} verdicts decided; skipped: ${reasons.join(", ")}`);
      }
      add(`submitVerdicts, batch of ${n} x 1 signature, per claim`, kind, receipt.gasUsed / BigInt(n));
    }
  }

  {
    const fx = await fresh(2);
    const [claimId, second] = await openClaims(fx, "standard", 2, "flow");
    const v = await verdictFor(fx, claimId, true);
    const [s0, s1] = await signBy(fx, fx.members.slice(0, 2), v);
    add("submitVerdict, 1st of 2 signatures", "tally stored", await gasOf(fx.claims.submitVerdict(v, [s0])));
    add("submitVerdict, 2nd of 2 signatures", "finalising, standard", await gasOf(fx.claims.submitVerdict(v, [s1])));
    await time.increaseTo((await fx.claims.getClaim(claimId)).appealDeadline);
    add("settle", "after the appeal window: payout + deposit refund", await gasOf(fx.claims.settle(claimId)));
    const r = await verdictFor(fx, second, false);
    await fx.claims.submitVerdict(r, await signBy(fx, fx.members.slice(0, 2), r));
    add("appeal", "holder appeals a rejection", await gasOf(fx.claims.connect(fx.holder).appeal(second)));
    add(
      "resolve",
      "arbiter approves: payout + deposit refund",
      await gasOf(fx.claims.connect(fx.arbiter).resolve(second, true, 1_000n * UNIT)),
    );
  }

  {
    const fx = await fresh(2);
    await fx.token.mint(fx.lp2.address, 1_000n * UNIT);
    add("pool deposit", "ERC-4626 deposit by a second LP", await gasOf(fx.pool.connect(fx.lp2).deposit(1_000n * UNIT, fx.lp2.address)));
    const shares = await fx.pool.convertToShares(1_000n * UNIT);
    add(
      "pool requestRedeem",
      "ERC-7540 withdrawal request: shares into escrow",
      await gasOf(fx.pool.connect(fx.lp1).requestRedeem(shares, fx.lp1.address, fx.lp1.address)),
    );
    await time.increase(await fx.pool.withdrawalCooldown());
    add(
      "pool withdraw",
      "claim of the request after the cooldown (ERC-7540 withdraw)",
      await gasOf(fx.pool.connect(fx.lp1).withdraw(await fx.pool.maxWithdraw(fx.lp1.address), fx.lp1.address, fx.lp1.address)),
    );
  }

  console.log("| operation | case | gasUsed |");
  console.log("|---|---|---:|");
  for (const [op, detail, gas] of rows) console.log(`| ${op} | ${detail} | ${gas.toLocaleString("en-US")} |`);
}

await main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
