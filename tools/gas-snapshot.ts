/**
 * The gas snapshot gate: measures the gas (whole-transaction `gasUsed` from receipts) of the suite's main operations
 * on Hardhat's in-process chain and compares it with the committed gas-snapshot.json at the repository root.
 *
 *   npx hardhat run tools/gas-snapshot.ts                         compare; exit 1 when a figure moved more than 2 %
 *   GAS_SNAPSHOT_UPDATE=1 npx hardhat run tools/gas-snapshot.ts   rewrite gas-snapshot.json with the new figures
 *
 * `hardhat run` passes no arguments to the script, so settings come from the environment: GAS_SNAPSHOT_UPDATE=1
 * (or `--update` when the script is started another way that forwards arguments), GAS_SNAPSHOT_TOLERANCE in percent
 * (2), GAS_SNAPSHOT_FILE (gas-snapshot.json at the repository root).
 *
 * The figures are the benchmark's (tools/lib/bench-gas.ts: the Ignition deployment plus a parametric product, every
 * operation sent through the SDK actions users call, steady-state balances), plus what the benchmark leaves out:
 * appeal, resolve, escalate and coverage release, pool deposit / withdrawal request / redeem / withdraw / cancel, and the marketplace's refund and
 * seller withdrawal. Timestamps and signatures differ from run to run, so calldata (and its gas) varies by a few
 * units: the tolerance absorbs that; a real change of code or storage layout moves figures by far more.
 * A figure present on one side only (an operation added or removed) fails the comparison too: rerun with
 * GAS_SNAPSHOT_UPDATE=1 and commit the file, so reviewers see the change.
 * Exit codes: 0 within tolerance (or updated), 1 a figure moved or is missing, 2 no snapshot to compare with.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { id, type ContractTransactionReceipt } from "ethers";
import {
  buildVerdict,
  claimReasonCode,
  claimsDomain,
  createListing,
  depositToPool,
  encryptionPublicKey,
  fileClaim,
  purchaseListing,
  signVerdict,
  withdrawFromPool,
  type Verdict,
} from "@triad/sdk/node";
import { ethers, networkHelpers } from "@triad/devkit";
import { measureGas } from "./lib/bench-gas.ts";
import { UNIT, benchDeviceKey, insureDevices, setCommittee, setupBenchSuite, type BenchSuite } from "./lib/bench-suite.ts";

const { time } = networkHelpers;

const SNAPSHOT_FILE = path.resolve(process.env.GAS_SNAPSHOT_FILE ?? path.join(import.meta.dirname, "..", "gas-snapshot.json"));
const UPDATE = process.env.GAS_SNAPSHOT_UPDATE === "1" || process.argv.includes("--update");
const TOLERANCE_PERCENT = Number(process.env.GAS_SNAPSHOT_TOLERANCE ?? 2);
const CLAIM_AMOUNT = 1_000n * UNIT;
const COVERAGE = 5_000n * UNIT;
/** 24 bytes, like the benchmark's claims. */
const EVIDENCE_URI = "ipfs://evidence/abcdefgh";

/** Operation name → gasUsed. Names are stable keys of gas-snapshot.json. */
type Figures = Record<string, number>;

interface Snapshot {
  $comment: string;
  gas: Figures;
}

const gasOf = (receipt: ContractTransactionReceipt | null): number => Number(receipt!.gasUsed);
const mined = async (tx: Promise<{ wait(): Promise<ContractTransactionReceipt | null> }>) => (await (await tx).wait())!;

/** The benchmark's figures (tools/lib/bench-gas.ts), under snapshot names. */
async function benchmarkFigures(s: BenchSuite): Promise<Figures> {
  const { gas, detail } = await measureGas(s, (message) => console.log(`  ${message}`));
  return {
    "devices.registerDevice": gas.registerDevice,
    ...Object.fromEntries(Object.entries(detail.anchorBySize).map(([size, g]) => [`devices.anchorBatch.size${size}`, g])),
    ...Object.fromEntries(Object.entries(detail.anchorFleetBySize).map(([size, g]) => [`devices.anchorFleet.size${size}`, g])),
    "market.createListing": gas.createListing,
    "market.purchase": gas.purchase,
    "market.deliver": gas.deliverKey,
    "market.createListing.first": detail.firstSale.createListing,
    "market.purchase.first": detail.firstSale.purchase,
    "market.deliver.first": detail.firstSale.deliverKey,
    "insurance.buyPolicy": gas.buyPolicy,
    "insurance.fileClaim": gas.fileClaim,
    "insurance.fileClaim.firstDeposit": detail.fileClaimFirstDeposit,
    "insurance.submitVerdict.1sig.parametricPaid": gas.submitVerdict1,
    "insurance.submitVerdict.3sig.parametricPaid": gas.submitVerdict3,
    "insurance.submitVerdict.1sig.standard": detail.submitVerdict1Standard,
    "insurance.submitVerdict.2sig.standard": detail.submitVerdict2Standard,
    "insurance.submitVerdicts.batch20.perClaim.parametricPaid": gas.batchVerdictPerClaim20,
    "insurance.submitVerdicts.batch20.perClaim.standard": detail.batchVerdictPerClaim20Standard,
    "insurance.settle": gas.settle,
  };
}

/** What the benchmark does not measure, on the same deployment after it. */
async function extraFigures(s: BenchSuite): Promise<Figures> {
  const { triad, holder, buyer, deployer, members } = s;
  const figures: Figures = {};
  const signers = await ethers.getSigners();
  const lp = signers[3]; // the benchmark's LP (bench-suite.ts): its share balance is already non-zero

  // ---------------------------------------------------------------- marketplace: refund, seller withdrawal
  const market = triad.market.connect(holder);
  const listing = await createListing(market, {
    kind: "dataset",
    price: 25n * UNIT,
    deliveryWindow: 3_600n,
    contentHash: id("triad/gas-snapshot/dataset"),
    termsHash: id("triad/bench/terms"),
    metadataURI: "triad://market/datasets/gas-snapshot",
    devices: [benchDeviceKey("gas", 0).address], // registered to the holder by measureGas
  });
  const bought = await purchaseListing(triad.market.connect(buyer), triad.token.connect(buyer), {
    listingId: listing.listingId,
    buyerPublicKey: encryptionPublicKey(id("triad/bench/buyer-encryption-key")),
  });
  await time.increaseTo(bought.deliverBy + 1n);
  figures["market.refund"] = gasOf(await mined(triad.market.connect(buyer).refund(bought.purchaseId)));
  if ((await triad.market.withdrawable(holder.address)) === 0n) throw new Error("market: the seller has no proceeds to withdraw");
  figures["market.withdraw"] = gasOf(await mined(market.withdraw(holder.address)));
  console.log("  extra: marketplace refund and seller withdrawal");

  // ---------------------------------------------------------------- pool (ERC-4626)
  const pool = triad.pool.connect(lp);
  // A deposit first catches the pool's premium earning up to now, day bucket by day bucket; how many day boundaries lie
  // behind depends on the time of day the run happens at. Another account's deposit just before brings the earning up
  // to date, so the figure measured is the same whenever the snapshot runs.
  await depositToPool(triad.pool.connect(buyer), triad.token.connect(buyer), UNIT);
  const deposited = await depositToPool(pool, triad.token.connect(lp), 1_000n * UNIT);
  figures["pool.deposit"] = gasOf(deposited.receipt);
  // ERC-7540: request (escrow), then claim after the cooldown by redeem (shares) and by withdraw (assets).
  figures["pool.requestRedeem"] = gasOf(await mined(pool.requestRedeem(deposited.shares, lp.address, lp.address)));
  await time.increase(await pool.withdrawalCooldown());
  figures["pool.redeem"] = gasOf(await mined(pool.redeem(deposited.shares / 2n, lp.address, lp.address)));
  figures["pool.withdraw"] = gasOf((await withdrawFromPool(pool, 100n * UNIT)).receipt);
  figures["pool.cancelRedeemRequest"] = gasOf(await mined(pool.cancelRedeemRequest(0n, lp.address)));
  console.log("  extra: pool deposit, requestRedeem, redeem, withdraw, cancelRedeemRequest");

  // ---------------------------------------------------------------- insurance: appeal, resolve, escalate, release
  await setCommittee(s, 2);
  const claims = triad.claims.connect(holder);
  const [appealed, escalated, expiring] = await insureDevices(s, {
    count: 3,
    tag: "gas-snapshot",
    productId: s.standardProductId,
    coverage: COVERAGE,
  });
  const domain = claimsDomain(triad.chainId, s.addresses.claims);
  const file = async (policyId: bigint) => {
    const evidenceHash = id(`triad/gas-snapshot/evidence/${policyId}`);
    const incidentAt = BigInt(await time.latest()) - 600n;
    const filed = await fileClaim(claims, triad.token.connect(holder), {
      policyId,
      amount: CLAIM_AMOUNT,
      incidentAt,
      evidenceHash,
      evidenceURI: EVIDENCE_URI,
    });
    return { ...filed, evidenceHash };
  };
  const rejected = await file(appealed.policyId);
  const verdict: Verdict = buildVerdict(
    {
      claimId: rejected.claimId,
      amount: CLAIM_AMOUNT,
      evidenceHash: rejected.evidenceHash,
      assessmentDeadline: rejected.assessmentDeadline,
    },
    { approved: false, scoreBps: 1_200, reasonCode: claimReasonCode("NO_FAILURE_DETECTED") },
    triad.modelHash,
  );
  const signatures = await Promise.all(members.slice(0, 2).map((m) => signVerdict(m, domain, verdict)));
  await mined(triad.claims.connect(deployer).submitVerdict(verdict, signatures));
  figures["insurance.appeal"] = gasOf(await mined(claims.appeal(rejected.claimId)));
  // The deployer holds ARBITER_ROLE on the local deployment (ignition/modules/Triad.ts).
  figures["insurance.resolve.approvePaid"] = gasOf(
    await mined(triad.claims.connect(deployer).resolve(rejected.claimId, true, CLAIM_AMOUNT)),
  );

  const late = await file(escalated.policyId);
  await time.increaseTo(late.assessmentDeadline + 1n);
  figures["insurance.escalate"] = gasOf(await mined(triad.claims.connect(deployer).escalate(late.claimId)));

  const policy = await triad.claims.getPolicy(expiring.policyId);
  const product = await triad.claims.getProduct(policy.productId);
  await time.increaseTo(policy.end + product.claimWindow + 1n);
  figures["insurance.releaseCoverage"] = gasOf(await mined(triad.claims.connect(deployer).releaseCoverage(expiring.policyId)));
  console.log("  extra: appeal, resolve, escalate, releaseCoverage");
  return figures;
}

function readSnapshot(): Snapshot | undefined {
  if (!existsSync(SNAPSHOT_FILE)) return undefined;
  return JSON.parse(readFileSync(SNAPSHOT_FILE, "utf8")) as Snapshot;
}

function writeSnapshot(figures: Figures) {
  const snapshot: Snapshot = {
    $comment:
      "Gas used (whole transaction) of the main operations on the in-process chain, from tools/gas-snapshot.ts. " +
      "Regenerate with GAS_SNAPSHOT_UPDATE=1 npx hardhat run tools/gas-snapshot.ts and review the change.",
    gas: figures,
  };
  writeFileSync(SNAPSHOT_FILE, `${JSON.stringify(snapshot, null, 2)}\n`);
}

/**
 * Prints old, new and change of every figure; returns the names outside the tolerance or on one side only (flagged
 * FAIL unless `updating`).
 */
function compare(old: Figures, current: Figures, updating: boolean): string[] {
  const names = [...new Set([...Object.keys(old), ...Object.keys(current)])];
  const failed: string[] = [];
  const n = (x: number | undefined) => (x === undefined ? "-" : x.toLocaleString("en-US"));
  const rows = names.map((name) => {
    const before = old[name];
    const after = current[name];
    let change = "";
    let flag = "";
    if (before === undefined || after === undefined) {
      change = before === undefined ? "new" : "missing";
      flag = "FAIL";
    } else {
      const percent = before === 0 ? (after === 0 ? 0 : Infinity) : (100 * (after - before)) / before;
      change = `${after - before >= 0 ? "+" : ""}${(after - before).toLocaleString("en-US")} (${percent >= 0 ? "+" : ""}${percent.toFixed(2)} %)`;
      if (Math.abs(percent) > TOLERANCE_PERCENT) flag = "FAIL";
    }
    if (flag) failed.push(name);
    if (updating) flag = "";
    return [name, n(before), n(after), change, flag];
  });
  const header = ["operation", "snapshot", "now", "change", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(
    widths
      .map((w) => "-".repeat(w))
      .join("  ")
      .trimEnd(),
  );
  for (const row of rows) console.log(line(row));
  return failed;
}

async function main() {
  if (!Number.isFinite(TOLERANCE_PERCENT) || TOLERANCE_PERCENT < 0) {
    throw new Error(`GAS_SNAPSHOT_TOLERANCE must be a non-negative number of percent, got "${process.env.GAS_SNAPSHOT_TOLERANCE}"`);
  }
  const old = readSnapshot();
  if (!old && !UPDATE) {
    console.error(`no snapshot at ${SNAPSHOT_FILE}: create it with GAS_SNAPSHOT_UPDATE=1 npx hardhat run tools/gas-snapshot.ts`);
    process.exitCode = 2;
    return;
  }

  console.log("Measuring gas on the in-process chain (Ignition deployment, SDK actions)");
  const suite = await setupBenchSuite();
  const figures = { ...(await benchmarkFigures(suite)), ...(await extraFigures(suite)) };

  console.log();
  const failed = compare(old?.gas ?? {}, figures, UPDATE);
  if (UPDATE) {
    writeSnapshot(figures);
    console.log(`\nwrote ${path.relative(process.cwd(), SNAPSHOT_FILE)} (${Object.keys(figures).length} figures)`);
  } else if (failed.length > 0) {
    console.error(`\n${failed.length} figure(s) moved by more than ${TOLERANCE_PERCENT} % or are new/missing: ${failed.join(", ")}`);
    console.error("If the change is intended, rerun with GAS_SNAPSHOT_UPDATE=1 and commit gas-snapshot.json.");
    process.exitCode = 1;
  } else {
    console.log(`\nall ${Object.keys(figures).length} figures within ${TOLERANCE_PERCENT} % of the snapshot`);
  }
}

await main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
