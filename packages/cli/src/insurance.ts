import { readFileSync } from "node:fs";
import { ZeroAddress, type ContractRunner } from "ethers";
import { ClaimsInsurance__factory, InsurancePool__factory, OracleCommittee__factory, TestToken__factory } from "@triad/contracts";
import {
  ClaimStatus,
  buyPolicy,
  cancelPoolWithdrawal,
  depositToPool,
  enumName,
  evidenceHash,
  fileClaim,
  parseEvidence,
  poolWithdrawalOf,
  publishEvidence,
  redeemFromPool,
  requestPoolWithdrawal,
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

/** When a request's cooldown ends, for people. */
const whenClaimable = (claimableAt: bigint) => new Date(Number(claimableAt) * 1000).toISOString();

export async function poolRequestWithdrawal(ctx: Context, args: { amount?: string; all?: boolean }): Promise<CommandResult> {
  const { pool, decimals } = await insuranceAs(ctx);
  const me = await (await ctx.signer()).getAddress();
  const balance = await pool.balanceOf(me);
  let shares: bigint;
  if (args.all) {
    if (args.amount !== undefined) fail("give either --amount or --all");
    shares = balance;
  } else {
    if (args.amount === undefined) fail("give --amount <tokens> or --all");
    const assets = parseAmount(args.amount, "amount", decimals);
    if (assets === 0n) fail("--amount must be more than 0");
    // Shares worth at least `assets` now (rounded up), within the balance.
    shares = await pool.convertToShares(assets);
    if ((await pool.convertToAssets(shares)) < assets) shares += 1n;
  }
  if (shares === 0n) fail("you hold no pool shares");
  if (shares > balance)
    fail(`you hold shares worth ${formatAmount(await pool.convertToAssets(balance), decimals)} tokens: request at most that (or --all)`);
  const res = await requestPoolWithdrawal(pool, shares);
  return {
    data: {
      shares: res.shares,
      assetsAtRequest: res.assetsAtRequest,
      claimableAt: res.claimableAt,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
    lines: [
      `Requested withdrawal: ${res.shares} shares in escrow, worth ${formatAmount(res.assetsAtRequest, decimals)} tokens now (gas ${res.receipt.gasUsed})`,
      `  claimable from ${whenClaimable(res.claimableAt)} with pool:claim-withdrawal, at the lower of this value and the value then`,
    ],
  };
}

export async function poolClaimWithdrawal(ctx: Context, args: { amount?: string }): Promise<CommandResult> {
  const { pool, decimals } = await insuranceAs(ctx);
  const request = await poolWithdrawalOf(pool);
  if (request.shares === 0n) fail("you have no withdrawal request: request one with pool:request-withdrawal");
  if (request.claimable === 0n) fail(`your request is claimable from ${whenClaimable(request.claimableAt)}`);
  if (args.amount === undefined) {
    // Everything claimable: redeem the shares (a withdrawal of the value could leave a few shares behind when the
    // price moves between the read and the block).
    if (request.maxWithdraw === 0n) fail("nothing can be paid now: the pool's capital is locked as coverage (see pool:show)");
    const { assets, shares, receipt } = await redeemFromPool(pool);
    return {
      data: { assets, shares, txHash: receipt.hash, gasUsed: receipt.gasUsed },
      lines: [`Withdrew ${formatAmount(assets, decimals)} tokens for ${shares} shares (gas ${receipt.gasUsed})`],
    };
  }
  const assets = parseAmount(args.amount, "amount", decimals);
  if (assets === 0n) fail("--amount must be more than 0");
  if (assets > request.maxWithdraw) {
    fail(
      `you can withdraw at most ${formatAmount(request.maxWithdraw, decimals)} tokens now: the rest is locked as coverage or above your request's value (see pool:show)`,
    );
  }
  const { receipt } = await withdrawFromPool(pool, assets);
  return {
    data: { assets, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Withdrew ${formatAmount(assets, decimals)} tokens (gas ${receipt.gasUsed})`],
  };
}

export async function poolCancelWithdrawal(ctx: Context): Promise<CommandResult> {
  const { pool } = await insuranceAs(ctx);
  const request = await poolWithdrawalOf(pool);
  if (request.shares === 0n) fail("you have no withdrawal request to cancel");
  const { shares, receipt } = await cancelPoolWithdrawal(pool);
  return {
    data: { shares, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Cancelled your withdrawal request: ${shares} shares back (gas ${receipt.gasUsed})`],
  };
}

export async function poolShow(ctx: Context): Promise<CommandResult> {
  const { pool, decimals } = await insuranceAs(ctx);
  const me = await (await ctx.signer()).getAddress();
  const [assets, reserved, unearned, locked, maxUtil, shares, supply, cooldown, request] = await Promise.all([
    pool.totalAssets(),
    pool.reservedPayouts(),
    pool.unearnedPremiums(),
    pool.lockedAssets(),
    pool.maxUtilisationBps(),
    pool.balanceOf(me),
    pool.totalSupply(),
    pool.withdrawalCooldown(),
    poolWithdrawalOf(pool, me),
  ]);
  const pricePerShare = await pool.convertToAssets(10n ** BigInt(await pool.decimals()));
  const capital = assets + reserved;
  const data = {
    totalAssets: assets,
    reservedPayouts: reserved,
    unearnedPremiums: unearned,
    locked,
    maxUtilisationBps: Number(maxUtil),
    utilisationBps: capital === 0n ? 0 : Number((locked * 10_000n) / capital),
    totalShares: supply,
    pricePerShare,
    withdrawalCooldown: Number(cooldown),
    account: me,
    shares,
    request: {
      shares: request.shares,
      assetsAtRequest: request.assetsAtRequest,
      claimableAt: request.claimableAt,
      pending: request.pending,
      claimable: request.claimable,
    },
    maxWithdraw: request.maxWithdraw,
  };
  const f = (v: bigint) => formatAmount(v, decimals);
  const requestLine =
    request.shares === 0n
      ? `  no withdrawal request (pool:request-withdrawal; cooldown ${Number(cooldown) / 3600} h)`
      : request.pending > 0n
        ? `  withdrawal request: ${request.pending} shares pending (worth at most ${f(request.assetsAtRequest)} tokens), claimable from ${whenClaimable(request.claimableAt)}`
        : `  withdrawal request: ${request.claimable} shares claimable, can withdraw ${f(request.maxWithdraw)} tokens now`;
  return {
    data,
    lines: [
      `Pool: ${f(assets)} tokens of LP equity, ${f(reserved)} reserved for approved payouts, ${f(unearned)} of premium not yet earned`,
      `  ${f(locked)} locked as coverage (${(data.utilisationBps / 100).toFixed(2)} % of max ${Number(maxUtil) / 100} %)`,
      `  one whole share = ${f(pricePerShare)} tokens`,
      `  ${me}: ${shares} shares`,
      requestLine,
    ],
  };
}

// ------------------------------------------------------------------ policies and claims

export async function policyBuy(
  ctx: Context,
  args: { device: string; product?: string; coverage: string; days: string },
): Promise<CommandResult> {
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
    settlement: settled
      ? { recipient: settled.args.recipient, paid: settled.args.paid, depositRefunded: settled.args.depositRefunded }
      : null,
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
      ...(settled
        ? [
            `  settled: paid ${f(settled.args.paid)} tokens to ${settled.args.recipient} (payout minus deductible), deposit refunded ${f(settled.args.depositRefunded)}`,
          ]
        : []),
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
    data: {
      claimId,
      status: res.status,
      recipient: res.recipient,
      paid: res.paid,
      depositRefunded: res.depositRefunded,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
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
    name: "pool:request-withdrawal",
    group: POOL,
    summary: "Requests a withdrawal (ERC-7540): your shares go into escrow, claimable after the pool's cooldown",
    account: "LP",
    options: [
      { name: "amount", value: "<tokens>", description: "Value to withdraw in whole tokens (the shares worth it now)" },
      { name: "all", type: "boolean", description: "Request all your shares" },
    ],
    run: poolRequestWithdrawal,
  },
  {
    name: "pool:claim-withdrawal",
    group: POOL,
    summary: "Claims your withdrawal request after its cooldown, at the lower of its value at request and now",
    account: "LP",
    options: [{ name: "amount", value: "<tokens>", description: "Amount in whole tokens (default: all that can be paid now)" }],
    run: poolClaimWithdrawal,
  },
  {
    name: "pool:cancel-withdrawal",
    group: POOL,
    summary: "Cancels your withdrawal request: its shares come back",
    account: "LP",
    options: [],
    run: poolCancelWithdrawal,
  },
  {
    name: "pool:show",
    group: POOL,
    summary: "Shows the pool's equity, reserves, unearned premium, locked coverage, share price and your position and request",
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
      {
        name: "evidence",
        value: "<file>",
        description: "The triad.evidence/v1 bundle (from evidence:build); its incidentAt becomes the claim's",
        required: true,
      },
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
