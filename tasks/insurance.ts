import { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { IERC20Metadata } from "../typechain-types";
import { readFileSync } from "node:fs";
import { CLAIM_STATUS, buyPolicy, depositToPool, evidenceHash, fileClaim, parseEvidence, publishEvidence, settleClaim, withdrawFromPool } from "../sdk";
import { action, deploymentFor, fail, formatAmount, output, parseAddress, parseAmount, parseUint, signerFor } from "./lib/common";

interface Common {
  from?: string;
  json: boolean;
}

/** The insurance contracts connected to the acting account, with the token's decimals. */
export async function insuranceAs(hre: HardhatRuntimeEnvironment, from: string | undefined) {
  const record = await deploymentFor(hre, ["InsurancePool", "ClaimsInsurance", "OracleCommittee"]);
  const signer = await signerFor(hre, from);
  const pool = await hre.ethers.getContractAt("InsurancePool", record.contracts.InsurancePool!, signer);
  const claims = await hre.ethers.getContractAt("ClaimsInsurance", record.contracts.ClaimsInsurance!, signer);
  const committee = await hre.ethers.getContractAt("OracleCommittee", record.contracts.OracleCommittee!, signer);
  const token = (await hre.ethers.getContractAt("IERC20Metadata", await pool.asset(), signer)) as unknown as IERC20Metadata;
  const decimals = Number(await token.decimals());
  return { record, signer, pool, claims, committee, token, decimals };
}

task("pool:deposit", "Deposits capital into the insurance pool (ERC-4626) and receives pool shares")
  .addParam("amount", "Amount in whole tokens, e.g. 1000 or 12.5")
  .addOptionalParam("from", "LP account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { amount: string }, hre) => {
      const { pool, token, decimals } = await insuranceAs(hre, args.from);
      const assets = parseAmount(args.amount, "amount", decimals);
      if (assets === 0n) fail("--amount must be more than 0");
      const { shares, receipt } = await depositToPool(pool, token, assets);
      output(args.json, { assets, shares, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Deposited ${formatAmount(assets, decimals)} tokens for ${shares} pool shares (gas ${receipt.gasUsed})`,
      ]);
    }),
  );

task("pool:withdraw", "Withdraws your unlocked capital from the insurance pool")
  .addParam("amount", "Amount in whole tokens")
  .addOptionalParam("from", "LP account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { amount: string }, hre) => {
      const { pool, decimals, signer } = await insuranceAs(hre, args.from);
      const assets = parseAmount(args.amount, "amount", decimals);
      if (assets === 0n) fail("--amount must be more than 0");
      const max = await pool.maxWithdraw(await signer.getAddress());
      if (assets > max) fail(`you can withdraw at most ${formatAmount(max, decimals)} tokens now: the rest is locked as coverage (see pool:show)`);
      const { receipt } = await withdrawFromPool(pool, assets);
      output(args.json, { assets, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Withdrew ${formatAmount(assets, decimals)} tokens (gas ${receipt.gasUsed})`,
      ]);
    }),
  );

task("pool:show", "Shows the pool's assets, locked coverage, utilisation, share price and your position")
  .addOptionalParam("from", "Account whose position to show (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common, hre) => {
      const { pool, decimals, signer } = await insuranceAs(hre, args.from);
      const me = await signer.getAddress();
      const [assets, locked, maxUtil, shares, maxWithdraw, supply] = await Promise.all([
        pool.totalAssets(),
        pool.lockedAssets(),
        pool.maxUtilisationBps(),
        pool.balanceOf(me),
        pool.maxWithdraw(me),
        pool.totalSupply(),
      ]);
      const pricePerShare = await pool.convertToAssets(10n ** BigInt(await pool.decimals()));
      const view = { totalAssets: assets, locked, maxUtilisationBps: Number(maxUtil), utilisationBps: assets === 0n ? 0 : Number((locked * 10_000n) / assets), totalShares: supply, pricePerShare, account: me, shares, maxWithdraw };
      const f = (v: bigint) => formatAmount(v, decimals);
      output(args.json, view, [
        `Pool: ${f(assets)} tokens, ${f(locked)} locked as coverage (${(view.utilisationBps / 100).toFixed(2)} % of max ${Number(maxUtil) / 100} %)`,
        `  one whole share = ${f(pricePerShare)} tokens`,
        `  ${me}: ${shares} shares, can withdraw ${f(maxWithdraw)} tokens now`,
      ]);
    }),
  );

task("policy:buy", "Buys a policy for a device you own (pays the premium; coverage is locked in the pool)")
  .addParam("device", "Device address (registered, Active, yours)")
  .addOptionalParam("product", "Product id (default: the latest product)")
  .addParam("coverage", "Coverage in whole tokens")
  .addParam("days", "Policy duration in days")
  .addOptionalParam("from", "Device owner account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { device: string; product?: string; coverage: string; days: string }, hre) => {
      const device = parseAddress(hre, args.device, "device");
      const { claims, token, decimals } = await insuranceAs(hre, args.from);
      const productId = args.product === undefined ? await claims.productCount() : parseUint(args.product, "product", { min: 1n });
      if (productId === 0n) fail("no product exists yet (the deployment creates one)");
      const coverage = parseAmount(args.coverage, "coverage", decimals);
      const days = parseUint(args.days, "days", { min: 1n, max: 3650n });
      const { policyId, premium, receipt } = await buyPolicy(claims, token, { productId, device, coverage, durationSeconds: days * 86_400n });
      output(args.json, { policyId, productId, device, coverage, premium, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Policy #${policyId} on ${device}: ${formatAmount(coverage, decimals)} tokens of cover for ${days} days`,
        `  premium ${formatAmount(premium, decimals)} tokens (gas ${receipt.gasUsed})`,
      ]);
    }),
  );

/** Where claim:file publishes evidence: TRIAD_EVIDENCE_STORE, else the local evidence server's default address. */
export const DEFAULT_EVIDENCE_STORE = "http://127.0.0.1:8787";

task("claim:file", "Publishes an evidence bundle to the evidence store and files a claim on your policy")
  .addParam("policy", "Policy id")
  .addParam("amount", "Amount claimed in whole tokens (at most the remaining coverage)")
  .addParam("evidence", "The triad.evidence/v1 bundle (from evidence:build); its incidentAt becomes the claim's")
  .addOptionalParam("store", "Evidence store URL (default: $TRIAD_EVIDENCE_STORE or http://127.0.0.1:8787)")
  .addOptionalParam("evidenceUri", "Use this URI instead of publishing (you host the exact bytes there)")
  .addOptionalParam("from", "Policy holder account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { policy: string; amount: string; evidence: string; store?: string; evidenceUri?: string }, hre) => {
      const policyId = parseUint(args.policy, "policy", { min: 1n });
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(args.evidence));
      } catch (err) {
        fail(`cannot read --evidence ${args.evidence}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const bundle = parseEvidence(bytes);
      const { claims, token, decimals } = await insuranceAs(hre, args.from);
      const amount = parseAmount(args.amount, "amount", decimals);
      if (amount === 0n) fail("--amount must be more than 0");
      const policy = await claims.getPolicy(policyId);
      if (policy.device === hre.ethers.ZeroAddress) fail(`policy ${policyId} does not exist`);
      if (policy.device.toLowerCase() !== bundle.device.toLowerCase()) {
        fail(`the evidence is from device ${bundle.device}, but policy ${policyId} insures ${policy.device}`);
      }
      const published = args.evidenceUri
        ? { hash: evidenceHash(bytes), uri: args.evidenceUri }
        : await publishEvidence(args.store ?? process.env.TRIAD_EVIDENCE_STORE ?? DEFAULT_EVIDENCE_STORE, bytes);
      const res = await fileClaim(claims, token, {
        policyId,
        amount,
        incidentAt: BigInt(bundle.incidentAt),
        evidenceHash: published.hash,
        evidenceURI: published.uri,
      });
      output(args.json, { claimId: res.claimId, policyId, amount, evidenceHash: published.hash, evidenceURI: published.uri, assessmentDeadline: res.assessmentDeadline, txHash: res.receipt.hash, gasUsed: res.receipt.gasUsed }, [
        `Claim #${res.claimId} filed on policy #${policyId} for ${formatAmount(amount, decimals)} tokens (gas ${res.receipt.gasUsed})`,
        `  evidence ${published.uri}`,
        `  the oracle committee must decide by ${new Date(Number(res.assessmentDeadline) * 1000).toISOString()}`,
      ]);
    }),
  );

task("claim:show", "Shows a claim: status, verdict, score, model hash, signers, payout and, once settled, what was paid")
  .addParam("claim", "Claim id")
  .addOptionalParam("from", "Account to read as (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { claim: string }, hre) => {
      const claimId = parseUint(args.claim, "claim", { min: 1n });
      const { claims, committee, decimals } = await insuranceAs(hre, args.from);
      const c = await claims.getClaim(claimId);
      if (c.status === 0n) fail(`claim ${claimId} does not exist`);
      const finalised = (await claims.queryFilter(claims.filters.VerdictFinalised(claimId)))[0];
      let signers: string[] = [];
      if (finalised) {
        const signed = await claims.queryFilter(claims.filters.VerdictSigned(claimId, finalised.args.digest));
        const bitmap = signed.reduce((acc, e) => acc | Number(e.args.signers), 0);
        const members = await committee.members();
        const slots = await Promise.all(members.map((m) => committee.memberSlot(m)));
        signers = members.filter((_, i) => slots[i].isMember && (bitmap >> Number(slots[i].slot)) & 1);
      }
      // What settlement actually moved: the holder gets payout − deductible, and the deposit back unless rejected.
      const settled = (await claims.queryFilter(claims.filters.ClaimSettled(claimId)))[0];
      const f = (v: bigint) => formatAmount(v, decimals);
      const status = CLAIM_STATUS[Number(c.status)];
      const decided = finalised !== undefined || ["Paid", "Closed"].includes(status);
      const view = {
        claimId,
        status,
        policyId: c.policyId,
        claimant: c.claimant,
        amount: c.amount,
        incidentAt: Number(c.incidentAt),
        assessmentDeadline: Number(c.assessmentDeadline),
        appealDeadline: Number(c.appealDeadline),
        approved: decided ? c.approved : null,
        payout: c.payout,
        scoreBps: Number(c.scoreBps),
        modelHash: c.modelHash,
        evidenceHash: c.evidenceHash,
        evidenceURI: c.evidenceURI,
        signers,
        settlement: settled ? { recipient: settled.args.recipient, paid: settled.args.paid, depositRefunded: settled.args.depositRefunded } : null,
      };
      const when = (t: number) => (t === 0 ? "-" : new Date(t * 1000).toISOString());
      output(args.json, view, [
        `Claim #${claimId} on policy #${c.policyId}: ${status}`,
        `  amount ${f(c.amount)} tokens, incident ${when(view.incidentAt)}, verdict due ${when(view.assessmentDeadline)}`,
        decided
          ? `  verdict ${c.approved ? "APPROVED" : "REJECTED"}, payout ${f(c.payout)} tokens, score ${(view.scoreBps / 100).toFixed(2)} %, appeal until ${when(view.appealDeadline)}`
          : "  no verdict yet",
        ...(settled ? [`  settled: paid ${f(settled.args.paid)} tokens to ${settled.args.recipient} (payout minus deductible), deposit refunded ${f(settled.args.depositRefunded)}`] : []),
        `  model ${c.modelHash}`,
        `  signed by ${signers.length > 0 ? signers.join(", ") : "-"}`,
        `  evidence ${c.evidenceURI} (${c.evidenceHash})`,
      ]);
    }),
  );

task("claim:appeal", "Appeals a rejection or a partial payout (policy holder) to the arbiter")
  .addParam("claim", "Claim id")
  .addOptionalParam("from", "Policy holder account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { claim: string }, hre) => {
      const claimId = parseUint(args.claim, "claim", { min: 1n });
      const { claims } = await insuranceAs(hre, args.from);
      const receipt = (await (await claims.appeal(claimId)).wait())!;
      output(args.json, { claimId, status: "Appealed", txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Claim #${claimId} appealed: the arbiter decides (gas ${receipt.gasUsed})`,
      ]);
    }),
  );

task("claim:settle", "Settles a decided claim after its appeal window: pays the holder, returns the deposit")
  .addParam("claim", "Claim id")
  .addOptionalParam("from", "Any account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { claim: string }, hre) => {
      const claimId = parseUint(args.claim, "claim", { min: 1n });
      const { claims, decimals } = await insuranceAs(hre, args.from);
      const res = await settleClaim(claims, claimId);
      output(args.json, { claimId, status: res.status, recipient: res.recipient, paid: res.paid, depositRefunded: res.depositRefunded, txHash: res.receipt.hash, gasUsed: res.receipt.gasUsed }, [
        `Claim #${claimId} settled: ${res.status}; paid ${formatAmount(res.paid, decimals)} tokens to ${res.recipient}, deposit refunded ${formatAmount(res.depositRefunded, decimals)} (gas ${res.receipt.gasUsed})`,
      ]);
    }),
  );
