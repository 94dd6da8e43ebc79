import { readFileSync } from "node:fs";
import { ZeroAddress, type ContractRunner } from "ethers";
import { ClaimsInsurance__factory, InsurancePool__factory, OracleCommittee__factory, TestToken__factory } from "@triad/contracts";
import {
  ClaimStatus,
  buyPolicy,
  depositToPool,
  enumName,
  evidenceHash,
  fileClaim,
  parseEvidence,
  publishEvidence,
  settleClaim,
  withdrawFromPool,
  type ClaimStatusName,
} from "@triad/sdk";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, fileError, formatAmount, parseAddress, parseAmount, parseUint } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** The insurance pool, policies and claims: pool:*, policy:buy, claim:*. */

/**
 * The insurance contracts connected to the acting account (or, for reads, to the reader), with the token's
 * decimals. The token is bound with TestToken's ABI for its ERC-20 surface, which every ERC-20 answers.
 */
export async function insuranceAs(ctx: Context, as: "signer" | "reader" = "signer") {
  const record = await ctx.deployment(["InsurancePool", "ClaimsInsurance", "OracleCommittee"]);
  const runner: ContractRunner = as === "signer" ? await ctx.signer() : await ctx.reader();
  const pool = InsurancePool__factory.connect(record.contracts.InsurancePool!, runner);
  const claims = ClaimsInsurance__factory.connect(record.contracts.ClaimsInsurance!, runner);
  const committee = OracleCommittee__factory.connect(record.contracts.OracleCommittee!, runner);
  const token = TestToken__factory.connect(await pool.asset(), runner);
  const decimals = Number(await token.decimals());
  return { record, runner, pool, claims, committee, token, decimals };
}

// ------------------------------------------------------------------ pool

export async function poolDeposit(ctx: Context, args: { amount: string }): Promise<CommandResult> {
  const { pool, token, decimals } = await insuranceAs(ctx);
  const assets = parseAmount(args.amount, "amount", decimals);
  if (assets === 0n) fail("--amount must be more than 0");
  const { shares, receipt } = await depositToPool(pool, token, assets);
  return {
    data: { assets, shares, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Deposited ${formatAmount(assets, decimals)} tokens for ${shares} pool shares (gas ${receipt.gasUsed})`],
  };
}

export async function poolWithdraw(ctx: Context, args: { amount: string }): Promise<CommandResult> {
  const { pool, decimals } = await insuranceAs(ctx);
  const assets = parseAmount(args.amount, "amount", decimals);
  if (assets === 0n) fail("--amount must be more than 0");
  const max = await pool.maxWithdraw(await (await ctx.signer()).getAddress());
  if (assets > max) fail(`you can withdraw at most ${formatAmount(max, decimals)} tokens now: the rest is locked as coverage (see pool:show)`);
  const { receipt } = await withdrawFromPool(pool, assets);
  return {
    data: { assets, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Withdrew ${formatAmount(assets, decimals)} tokens (gas ${receipt.gasUsed})`],
  };
}

export async function poolShow(ctx: Context): Promise<CommandResult> {
  const { pool, decimals } = await insuranceAs(ctx);
  const me = await (await ctx.signer()).getAddress();
  const [assets, locked, maxUtil, shares, maxWithdraw, supply] = await Promise.all([
    pool.totalAssets(),
    pool.lockedAssets(),
    pool.maxUtilisationBps(),
    pool.balanceOf(me),
    pool.maxWithdraw(me),
    pool.totalSupply(),
  ]);
  const pricePerShare = await pool.convertToAssets(10n ** BigInt(await pool.decimals()));
  const data = {
    totalAssets: assets,
    locked,
    maxUtilisationBps: Number(maxUtil),
    utilisationBps: assets === 0n ? 0 : Number((locked * 10_000n) / assets),
    totalShares: supply,
    pricePerShare,
    account: me,
    shares,
    maxWithdraw,
  };
  const f = (v: bigint) => formatAmount(v, decimals);
  return {
    data,
    lines: [
      `Pool: ${f(assets)} tokens, ${f(locked)} locked as coverage (${(data.utilisationBps / 100).toFixed(2)} % of max ${Number(maxUtil) / 100} %)`,
      `  one whole share = ${f(pricePerShare)} tokens`,
      `  ${me}: ${shares} shares, can withdraw ${f(maxWithdraw)} tokens now`,
    ],
  };
}

// ------------------------------------------------------------------ policies and claims

export async function policyBuy(ctx: Context, args: { device: string; product?: string; coverage: string; days: string }): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const { claims, token, decimals } = await insuranceAs(ctx);
  const productId = args.product === undefined ? await claims.productCount() : parseUint(args.product, "product", { min: 1n });
  if (productId === 0n) fail("no product exists yet (the deployment creates one)");
  const coverage = parseAmount(args.coverage, "coverage", decimals);
  const days = parseUint(args.days, "days", { min: 1n, max: 3650n });
  const { policyId, premium, receipt } = await buyPolicy(claims, token, { productId, device, coverage, durationSeconds: days * 86_400n });
  return {
    data: { policyId, productId, device, coverage, premium, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [
      `Policy #${policyId} on ${device}: ${formatAmount(coverage, decimals)} tokens of cover for ${days} days`,
      `  premium ${formatAmount(premium, decimals)} tokens (gas ${receipt.gasUsed})`,
    ],
  };
}

/** Where claim:file publishes evidence: TRIAD_EVIDENCE_STORE, else the local evidence server's default address. */
export const DEFAULT_EVIDENCE_STORE = "http://127.0.0.1:8787";

export interface ClaimFileArgs {
  policy: string;
  amount: string;
  evidence: string;
  store?: string;
  evidenceUri?: string;
}

export async function claimFile(ctx: Context, args: ClaimFileArgs): Promise<CommandResult> {
  const policyId = parseUint(args.policy, "policy", { min: 1n });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(args.evidence));
  } catch (err) {
    fail(`cannot read --evidence ${args.evidence}: ${fileError(err)}`);
  }
  const bundle = parseEvidence(bytes);
  const { claims, token, decimals } = await insuranceAs(ctx);
  const amount = parseAmount(args.amount, "amount", decimals);
  if (amount === 0n) fail("--amount must be more than 0");
  const policy = await claims.getPolicy(policyId);
  if (policy.device === ZeroAddress) fail(`policy ${policyId} does not exist`);
  if (policy.device.toLowerCase() !== bundle.device.toLowerCase()) {
    fail(`the evidence is from device ${bundle.device}, but policy ${policyId} insures ${policy.device}`);
  }
  // The store is the oracle's evidence server (`npm run oracle -- evidence-server`) or anything speaking its protocol.
  const published = args.evidenceUri
    ? { hash: evidenceHash(bytes), uri: args.evidenceUri }
    : await publishEvidence(args.store ?? (ctx.env.TRIAD_EVIDENCE_STORE || DEFAULT_EVIDENCE_STORE), bytes);
  const res = await fileClaim(claims, token, {
    policyId,
    amount,
    incidentAt: BigInt(bundle.incidentAt),
    evidenceHash: published.hash,
    evidenceURI: published.uri,
  });
  return {
    data: {
      claimId: res.claimId,
      policyId,
      amount,
      evidenceHash: published.hash,
      evidenceURI: published.uri,
      assessmentDeadline: res.assessmentDeadline,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
    lines: [
      `Claim #${res.claimId} filed on policy #${policyId} for ${formatAmount(amount, decimals)} tokens (gas ${res.receipt.gasUsed})`,
      `  evidence ${published.uri}`,
      `  the oracle committee must decide by ${new Date(Number(res.assessmentDeadline) * 1000).toISOString()}`,
    ],
  };
}

export async function claimShow(ctx: Context, args: { claim: string }): Promise<CommandResult> {
  const claimId = parseUint(args.claim, "claim", { min: 1n });
  const { claims, committee, decimals } = await insuranceAs(ctx, "reader");
  const c = await claims.getClaim(claimId);
  const status = enumName(ClaimStatus, c.status);
  if (status === "None") fail(`claim ${claimId} does not exist`);
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
  const decided = finalised !== undefined || ["Paid", "Closed"].includes(status);
  const data = {
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
  return {
    data,
    lines: [
      `Claim #${claimId} on policy #${c.policyId}: ${status}`,
      `  amount ${f(c.amount)} tokens, incident ${when(data.incidentAt)}, verdict due ${when(data.assessmentDeadline)}`,
      decided
        ? `  verdict ${c.approved ? "APPROVED" : "REJECTED"}, payout ${f(c.payout)} tokens, score ${(data.scoreBps / 100).toFixed(2)} %, appeal until ${when(data.appealDeadline)}`
        : "  no verdict yet",
      ...(settled ? [`  settled: paid ${f(settled.args.paid)} tokens to ${settled.args.recipient} (payout minus deductible), deposit refunded ${f(settled.args.depositRefunded)}`] : []),
      `  model ${c.modelHash}`,
      `  signed by ${signers.length > 0 ? signers.join(", ") : "-"}`,
      `  evidence ${c.evidenceURI} (${c.evidenceHash})`,
    ],
  };
}

export async function claimAppeal(ctx: Context, args: { claim: string }): Promise<CommandResult> {
  const claimId = parseUint(args.claim, "claim", { min: 1n });
  const { claims } = await insuranceAs(ctx);
  const receipt = (await (await claims.appeal(claimId)).wait())!;
  return {
    data: { claimId, status: "Appealed" satisfies ClaimStatusName, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Claim #${claimId} appealed: the arbiter decides (gas ${receipt.gasUsed})`],
  };
}

export async function claimSettle(ctx: Context, args: { claim: string }): Promise<CommandResult> {
  const claimId = parseUint(args.claim, "claim", { min: 1n });
  const { claims, decimals } = await insuranceAs(ctx);
  const res = await settleClaim(claims, claimId);
  return {
    data: { claimId, status: res.status, recipient: res.recipient, paid: res.paid, depositRefunded: res.depositRefunded, txHash: res.receipt.hash, gasUsed: res.receipt.gasUsed },
    lines: [
      `Claim #${claimId} settled: ${res.status}; paid ${formatAmount(res.paid, decimals)} tokens to ${res.recipient}, deposit refunded ${formatAmount(res.depositRefunded, decimals)} (gas ${res.receipt.gasUsed})`,
    ],
  };
}

// ------------------------------------------------------------------ command line

const POOL = "Insurance pool";
const CLAIMS = "Policies and claims";
const CLAIM = { name: "claim", value: "<id>", description: "Claim id", required: true } as const;

export const insuranceCommands: CommandSpec[] = [
  {
    name: "pool:deposit",
    group: POOL,
    summary: "Deposits capital into the insurance pool (ERC-4626) and receives pool shares",
    account: "LP",
    options: [{ name: "amount", value: "<tokens>", description: "Amount in whole tokens, e.g. 1000 or 12.5", required: true }],
    run: poolDeposit,
  },
  {
    name: "pool:withdraw",
    group: POOL,
    summary: "Withdraws your unlocked capital from the insurance pool",
    account: "LP",
    options: [{ name: "amount", value: "<tokens>", description: "Amount in whole tokens", required: true }],
    run: poolWithdraw,
  },
  {
    name: "pool:show",
    group: POOL,
    summary: "Shows the pool's assets, locked coverage, utilisation, share price and your position",
    account: "Account whose position to show",
    options: [],
    run: poolShow,
  },
  {
    name: "policy:buy",
    group: CLAIMS,
    summary: "Buys a policy for a device you own (pays the premium; coverage is locked in the pool)",
    account: "Device owner",
    options: [
      { name: "device", value: "<address>", description: "Device address (registered, Active, yours)", required: true },
      { name: "product", value: "<id>", description: "Product id (default: the latest product)" },
      { name: "coverage", value: "<tokens>", description: "Coverage in whole tokens", required: true },
      { name: "days", value: "<n>", description: "Policy duration in days", required: true },
    ],
    run: policyBuy,
  },
  {
    name: "claim:file",
    group: CLAIMS,
    summary: "Publishes an evidence bundle to the evidence store and files a claim on your policy",
    account: "Policy holder",
    options: [
      { name: "policy", value: "<id>", description: "Policy id", required: true },
      { name: "amount", value: "<tokens>", description: "Amount claimed in whole tokens (at most the remaining coverage)", required: true },
      { name: "evidence", value: "<file>", description: "The triad.evidence/v1 bundle (from evidence:build); its incidentAt becomes the claim's", required: true },
      { name: "store", value: "<url>", description: "Evidence store URL (default: $TRIAD_EVIDENCE_STORE or http://127.0.0.1:8787)" },
      { name: "evidence-uri", value: "<uri>", description: "Use this URI instead of publishing (you host the exact bytes there)" },
    ],
    run: claimFile,
  },
  {
    name: "claim:show",
    group: CLAIMS,
    summary: "Shows a claim: status, verdict, score, model hash, signers, payout and, once settled, what was paid",
    account: "Account to read as",
    options: [CLAIM],
    run: claimShow,
  },
  {
    name: "claim:appeal",
    group: CLAIMS,
    summary: "Appeals a rejection or a partial payout (policy holder) to the arbiter",
    account: "Policy holder",
    options: [CLAIM],
    run: claimAppeal,
  },
  {
    name: "claim:settle",
    group: CLAIMS,
    summary: "Settles a decided claim after its appeal window: pays the holder, returns the deposit",
    account: "Any account",
    options: [CLAIM],
    run: claimSettle,
  },
];
