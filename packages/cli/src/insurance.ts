import { readFileSync } from "node:fs";
import type { ContractRunner } from "ethers";
import { ClaimsInsurance__factory, InsurancePool__factory, OracleCommittee__factory, TestToken__factory } from "@triad/contracts";
import {
  ClaimStatus,
  EVIDENCE_SCHEMA_V2,
  buyPolicy,
  cancelPoolWithdrawal,
  depositToPool,
  evidenceHash,
  fileClaim,
  formatBps,
  formatDuration,
  formatTimestamp,
  formatTokens,
  formatUnitsExact,
  getClaimDetails,
  getPolicySummary,
  getPoolPosition,
  getProductTerms,
  listClaimDetails,
  listPolicies,
  parseEvidence,
  poolWithdrawalOf,
  publishEvidence,
  redeemFromPool,
  requestPoolWithdrawal,
  settleClaim,
  withdrawFromPool,
  type ClaimDetails,
  type ClaimStatusName,
  type PolicySummary,
  type TokenInfo,
} from "@triad/sdk";
import { YES_OPTION, type CommandResult, type CommandSpec } from "./lib/command.ts";
import { fail, fileError, notFound, parseAddress, parseAmount, parseUint, refuse, toCliError, uintMax } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** The insurance pool, policies and claims: pool:*, policy:*, claim:*. */

/**
 * The insurance contracts connected to the acting account (or, for reads, to the reader), with the token (symbol and
 * decimals). The token is bound with TestToken's ABI for its ERC-20 surface, which every ERC-20 answers.
 */
export async function insuranceAs(ctx: Context, as: "signer" | "reader" = "signer") {
  const record = await ctx.deployment(["InsurancePool", "ClaimsInsurance", "OracleCommittee"]);
  const runner: ContractRunner = as === "signer" ? await ctx.signer() : await ctx.reader();
  const pool = InsurancePool__factory.connect(record.contracts.InsurancePool!, runner);
  const claims = ClaimsInsurance__factory.connect(record.contracts.ClaimsInsurance!, runner);
  const committee = OracleCommittee__factory.connect(record.contracts.OracleCommittee!, runner);
  const tokenInfo = await ctx.token();
  const token = TestToken__factory.connect(tokenInfo.address, runner);
  const tokens = (units: bigint) => formatTokens(units, tokenInfo);
  return { record, runner, pool, claims, committee, token, tokenInfo, decimals: tokenInfo.decimals, tokens };
}

/**
 * Asks the contract whether it would accept a call (eth_call from the acting account) before anything is sent, so
 * that a refusal costs nothing and no approval is left behind. An ERC-20 allowance shortfall does not count: the
 * command approves what the step spends right before sending it.
 */
export async function preflight(ctx: Context, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    const error = toCliError(err, await ctx.explainContext());
    if (error.code === "CONTRACT_REFUSED" && error.details.error === "ERC20InsufficientAllowance") return;
    throw error;
  }
}

/** Refuses up front when the acting account holds less of the token than a step spends (nothing is sent). */
async function requireBalance(
  ctx: Context,
  token: { balanceOf(a: string): Promise<bigint> },
  needed: bigint,
  what: string,
  info: TokenInfo,
) {
  const me = await ctx.account();
  const balance = await token.balanceOf(me);
  if (balance < needed) {
    refuse(`you hold ${formatTokens(balance, info)}: ${what} needs ${formatTokens(needed, info)}`, { account: me, balance, needed });
  }
}

/** A guard rail: a value that is allowed but looks like a mistake needs --yes. */
function confirm(yes: boolean | undefined, message: string): void {
  if (!yes) fail(`${message}: pass --yes if you mean it`, "NEEDS_CONFIRMATION");
}

// ------------------------------------------------------------------ pool

export async function poolDeposit(ctx: Context, args: { amount: string }): Promise<CommandResult> {
  const { pool, token, tokenInfo, decimals, tokens } = await insuranceAs(ctx);
  const assets = parseAmount(args.amount, "amount", decimals, { max: uintMax(256), symbol: tokenInfo.symbol });
  if (assets === 0n) fail("--amount must be more than 0");
  await requireBalance(ctx, token, assets, "this deposit", tokenInfo);
  const { shares, receipt } = await ctx.step(`Depositing ${tokens(assets)} into the pool`, () => depositToPool(pool, token, assets));
  const shareDecimals = Number(await pool.decimals());
  return {
    data: { assets, shares, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Deposited ${tokens(assets)} for ${formatUnitsExact(shares, shareDecimals)} pool shares (gas ${receipt.gasUsed})`],
  };
}

export async function poolRequestWithdrawal(ctx: Context, args: { amount?: string; all?: boolean }): Promise<CommandResult> {
  const { pool, decimals, tokens, tokenInfo } = await insuranceAs(ctx);
  const me = await ctx.account();
  const balance = await pool.balanceOf(me);
  let shares: bigint;
  if (args.all) {
    if (args.amount !== undefined) fail("give either --amount or --all");
    shares = balance;
  } else {
    if (args.amount === undefined) fail("give --amount <tokens> or --all");
    const assets = parseAmount(args.amount, "amount", decimals, { max: uintMax(256), symbol: tokenInfo.symbol });
    if (assets === 0n) fail("--amount must be more than 0");
    // Shares worth at least `assets` now (rounded up), within the balance.
    shares = await pool.convertToShares(assets);
    if ((await pool.convertToAssets(shares)) < assets) shares += 1n;
  }
  if (balance === 0n) refuse("you hold no pool shares (pool:deposit buys some; shares already in a request are not counted)");
  if (shares > balance) refuse(`your shares are worth ${tokens(await pool.convertToAssets(balance))}: request at most that (or --all)`);
  const res = await ctx.step("Requesting the withdrawal", () => requestPoolWithdrawal(pool, shares));
  const shareDecimals = Number(await pool.decimals());
  return {
    data: {
      shares: res.shares,
      assetsAtRequest: res.assetsAtRequest,
      claimableAt: res.claimableAt,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
    lines: [
      `Requested withdrawal: ${formatUnitsExact(res.shares, shareDecimals)} shares in escrow, worth ${tokens(res.assetsAtRequest)} now (gas ${res.receipt.gasUsed})`,
      `  claimable from ${formatTimestamp(res.claimableAt, await ctx.latestTimestamp())} with pool:claim-withdrawal, at the lower of this value and the value then`,
    ],
  };
}

export async function poolClaimWithdrawal(ctx: Context, args: { amount?: string }): Promise<CommandResult> {
  const { pool, decimals, tokens, tokenInfo } = await insuranceAs(ctx);
  const request = await poolWithdrawalOf(pool);
  if (request.shares === 0n) refuse("you have no withdrawal request: request one with pool:request-withdrawal");
  if (request.claimable === 0n) {
    refuse(
      `your request is claimable from ${formatTimestamp(request.claimableAt, await ctx.latestTimestamp())}, after the pool's cooldown`,
    );
  }
  const value =
    (await pool.convertToAssets(request.claimable)) < request.assetsAtRequest
      ? await pool.convertToAssets(request.claimable)
      : request.assetsAtRequest;
  const locked = `only ${tokens(request.maxWithdraw)} of your request's ${tokens(value)} can be paid now: the rest of the pool's capital backs policies until they end or claims settle (see pool:show)`;
  if (args.amount === undefined) {
    // Everything claimable: redeem the shares (a withdrawal of the value could leave a few shares behind when the
    // price moves between the read and the block).
    if (request.maxWithdraw === 0n) refuse(locked);
    const { assets, shares, receipt } = await ctx.step("Claiming the withdrawal", () => redeemFromPool(pool));
    const shareDecimals = Number(await pool.decimals());
    return {
      data: { assets, shares, txHash: receipt.hash, gasUsed: receipt.gasUsed },
      lines: [`Withdrew ${tokens(assets)} for ${formatUnitsExact(shares, shareDecimals)} shares (gas ${receipt.gasUsed})`],
    };
  }
  const assets = parseAmount(args.amount, "amount", decimals, { max: uintMax(256), symbol: tokenInfo.symbol });
  if (assets === 0n) fail("--amount must be more than 0");
  if (assets > value) refuse(`your request is worth ${tokens(value)}: you cannot withdraw ${tokens(assets)}`);
  if (assets > request.maxWithdraw) refuse(locked);
  const { receipt } = await ctx.step("Claiming the withdrawal", () => withdrawFromPool(pool, assets));
  return {
    data: { assets, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Withdrew ${tokens(assets)} (gas ${receipt.gasUsed})`],
  };
}

export async function poolCancelWithdrawal(ctx: Context): Promise<CommandResult> {
  const { pool } = await insuranceAs(ctx);
  const request = await poolWithdrawalOf(pool);
  if (request.shares === 0n) refuse("you have no withdrawal request to cancel");
  const { shares, receipt } = await ctx.step("Cancelling the withdrawal request", () => cancelPoolWithdrawal(pool));
  return {
    data: { shares, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [
      `Cancelled your withdrawal request: ${formatUnitsExact(shares, Number(await pool.decimals()))} shares back (gas ${receipt.gasUsed})`,
    ],
  };
}

export async function poolShow(ctx: Context, args: { account?: string }): Promise<CommandResult> {
  const { pool, tokens } = await insuranceAs(ctx, "reader");
  const account = args.account !== undefined ? parseAddress(args.account, "account") : await ctx.account();
  const [assets, reserved, unearned, locked, maxUtil, supply, cooldown, position, now] = await Promise.all([
    pool.totalAssets(),
    pool.reservedPayouts(),
    pool.unearnedPremiums(),
    pool.lockedAssets(),
    pool.maxUtilisationBps(),
    pool.totalSupply(),
    pool.withdrawalCooldown(),
    getPoolPosition(pool, account),
    ctx.latestTimestamp(),
  ]);
  const sd = position.shareDecimals;
  const pricePerShare = await pool.convertToAssets(10n ** BigInt(sd));
  const capital = assets + reserved;
  const request = position.request;
  const data = {
    totalAssets: assets,
    reservedPayouts: reserved,
    unearnedPremiums: unearned,
    locked,
    maxUtilisationBps: Number(maxUtil),
    utilisationBps: capital === 0n ? 0 : Number((locked * 10_000n) / capital),
    totalShares: supply,
    shareDecimals: sd,
    pricePerShare,
    withdrawalCooldown: Number(cooldown),
    account,
    shares: position.shares,
    sharesValue: position.sharesValue,
    request: {
      shares: request.shares,
      value: request.value,
      assetsAtRequest: request.assetsAtRequest,
      claimableAt: request.claimableAt,
      pending: request.pending,
      claimable: request.claimable,
    },
    maxWithdraw: position.maxWithdraw,
  };
  const sh = (v: bigint) => formatUnitsExact(v, sd);
  const requestLine =
    request.shares === 0n
      ? `  no withdrawal request (pool:request-withdrawal; cooldown ${formatDuration(cooldown)})`
      : request.pending > 0n
        ? `  withdrawal request: ${sh(request.pending)} shares pending (worth at most ${tokens(request.assetsAtRequest)}), claimable from ${formatTimestamp(request.claimableAt, now)}`
        : `  withdrawal request: ${sh(request.claimable)} shares claimable, ${tokens(position.maxWithdraw)} can be withdrawn now`;
  return {
    data,
    lines: [
      `Pool: ${tokens(assets)} of LP equity, ${tokens(reserved)} reserved for approved payouts, ${tokens(unearned)} of premium not yet earned`,
      `  ${tokens(locked)} locked as coverage (${formatBps(data.utilisationBps)} of the maximum ${formatBps(maxUtil)})`,
      `  one share = ${tokens(pricePerShare)}; ${sh(supply)} shares in all`,
      `  ${account}: ${sh(position.shares)} shares, worth ${tokens(position.sharesValue)}`,
      requestLine,
    ],
  };
}

// ------------------------------------------------------------------ policies

/** Below this much cover a policy looks like a mistake (it still blocks other cover of the device until it ends). */
const SENSIBLE_MINIMUM_TOKENS = 1n;

export async function policyBuy(
  ctx: Context,
  args: { device: string; product?: string; coverage: string; days: string; yes?: boolean },
): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const { claims, token, tokenInfo, decimals, tokens } = await insuranceAs(ctx);
  const productId = args.product === undefined ? await claims.productCount() : parseUint(args.product, "product", { min: 1n });
  if (productId === 0n) fail("no product exists yet (the deployment creates one)", "NOT_FOUND");
  const coverage = parseAmount(args.coverage, "coverage", decimals, {
    max: uintMax(128),
    maxLabel: "the largest coverage",
    symbol: tokenInfo.symbol,
  });
  const days = parseUint(args.days, "days", { min: 1n, max: 3650n });
  const duration = days * 86_400n;
  const product = await getProductTerms(claims, productId);
  // The contract's own checks first (device, product, coverage, duration), as one sentence, before anything is sent.
  await preflight(ctx, () => claims.buyPolicy.staticCall(productId, device, coverage, duration));
  const premium = await claims.quotePremium(productId, coverage, duration);
  const maxPayout = coverage - product.deductible;
  if (coverage < SENSIBLE_MINIMUM_TOKENS * 10n ** BigInt(decimals) || maxPayout < product.deductible) {
    confirm(
      args.yes,
      `a policy of ${tokens(coverage)} cover pays at most ${tokens(maxPayout)} per claim after the product's ${tokens(product.deductible)} deductible, and while it runs (${days} days) the device can hold no other policy`,
    );
  }
  await requireBalance(ctx, token, premium, `the premium of ${tokens(premium)}`, tokenInfo);
  const { policyId, receipt } = await ctx.step("Buying the policy", () =>
    buyPolicy(claims, token, { productId, device, coverage, durationSeconds: duration }),
  );
  const policy = await getPolicySummary(claims, policyId);
  const now = await ctx.latestTimestamp();
  return {
    data: {
      policyId,
      productId,
      device,
      coverage,
      premium,
      start: policy.start,
      end: policy.end,
      txHash: receipt.hash,
      gasUsed: receipt.gasUsed,
    },
    lines: [
      `Policy #${policyId} on ${device}: ${tokens(coverage)} of cover for ${days} days`,
      `  premium ${tokens(premium)}; incidents covered from ${formatTimestamp(policy.coveredFrom, now)} (after the ${formatDuration(product.waitingPeriod)} waiting period) until ${formatTimestamp(policy.end, now)}`,
      `  each payout is the approved amount minus the ${tokens(product.deductible)} deductible; filing a claim costs a ${tokens(product.claimDeposit)} deposit, lost if it ends rejected (gas ${receipt.gasUsed})`,
    ],
  };
}

function policyLines(p: PolicySummary, tokens: (v: bigint) => string, now: bigint): string[] {
  const state = p.released
    ? "ended, coverage released"
    : now >= p.end
      ? `ended ${formatTimestamp(p.end, now)}; claims for earlier incidents until ${formatTimestamp(p.claimPeriodEnd, now)}`
      : `covers incidents from ${formatTimestamp(p.coveredFrom, now)} until ${formatTimestamp(p.end, now)}`;
  return [
    `Policy #${p.policyId} on device ${p.device} (product ${p.productId}), held by ${p.holder}`,
    `  ${tokens(p.coverage)} of cover, ${tokens(p.paidOut)} paid out, ${tokens(p.remaining)} left; premium ${tokens(p.premium)}`,
    `  ${state}`,
    `  deductible ${tokens(p.deductible)} per payout, claim deposit ${tokens(p.claimDeposit)}${p.openClaimId > 0n ? `; claim #${p.openClaimId} in progress` : ""}`,
  ];
}

export async function policyShow(ctx: Context, args: { policy: string }): Promise<CommandResult> {
  const policyId = parseUint(args.policy, "policy", { min: 1n });
  const { claims, tokens } = await insuranceAs(ctx, "reader");
  const policy = await getPolicySummary(claims, policyId);
  return { data: { ...policy }, lines: policyLines(policy, tokens, await ctx.latestTimestamp()) };
}

export async function policyList(ctx: Context, args: { holder?: string; device?: string }): Promise<CommandResult> {
  if (args.holder !== undefined && args.device !== undefined) fail("give either --holder or --device");
  const { claims, record, tokens } = await insuranceAs(ctx, "reader");
  const filter =
    args.device !== undefined
      ? { device: parseAddress(args.device, "device") }
      : { holder: args.holder !== undefined ? parseAddress(args.holder, "holder") : await ctx.account() };
  const range = await ctx.scanRange(record, "policies");
  const policies = await ctx.step("Reading the policies' events", () => listPolicies(claims, range, filter));
  const now = await ctx.latestTimestamp();
  const whose = "device" in filter ? `on device ${filter.device}` : `held by ${filter.holder}`;
  return {
    data: { ...filter, policies },
    lines:
      policies.length === 0
        ? [`No policies ${whose} (policy:buy buys one)`]
        : [
            `${policies.length} polic${policies.length === 1 ? "y" : "ies"} ${whose}:`,
            ...policies.map(
              (p) =>
                `  #${p.policyId}  device ${p.device}  ${tokens(p.remaining)} of ${tokens(p.coverage)} left  ${p.released || now >= p.end ? `ended ${formatTimestamp(p.end, now)}` : `until ${formatTimestamp(p.end, now)}`}${p.openClaimId > 0n ? `  claim #${p.openClaimId} open` : ""}`,
            ),
          ],
  };
}

// ------------------------------------------------------------------ claims

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
  const store = args.store ?? (ctx.env.TRIAD_EVIDENCE_STORE || DEFAULT_EVIDENCE_STORE);
  if (args.evidenceUri === undefined && !/^https?:\/\/[^\s/]+/i.test(store)) {
    fail(`${args.store !== undefined ? "--store" : "TRIAD_EVIDENCE_STORE"} must be an http:// or https:// URL, got "${store}"`);
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(args.evidence));
  } catch (err) {
    fail(`cannot read --evidence ${args.evidence}: ${fileError(err)}`, "FILE_ERROR");
  }
  const bundle = parseEvidence(bytes);
  const { claims, token, tokenInfo, decimals, tokens } = await insuranceAs(ctx);
  if (bundle.schema !== EVIDENCE_SCHEMA_V2) {
    const deposit = (await getPolicySummary(claims, policyId)).claimDeposit;
    refuse(
      `${args.evidence} is a ${bundle.schema} bundle (signed readings without anchors): the committee refuses it as NOT_ANCHORED, and the ${tokens(deposit)} deposit would be lost — build a ${EVIDENCE_SCHEMA_V2} bundle with evidence:build`,
      { schema: bundle.schema },
    );
  }
  const amount = parseAmount(args.amount, "amount", decimals, {
    max: uintMax(128),
    maxLabel: "the largest claim",
    symbol: tokenInfo.symbol,
  });
  if (amount === 0n) fail("--amount must be more than 0");
  const policy = await getPolicySummary(claims, policyId);
  if (policy.device.toLowerCase() !== bundle.device.toLowerCase()) {
    fail(`the evidence is from device ${bundle.device}, but policy ${policyId} insures ${policy.device}`);
  }
  const hash = evidenceHash(bytes);
  if (args.evidenceUri !== undefined && /^ipfs:\/\//i.test(args.evidenceUri)) await checkIpfsUri(args.evidenceUri, bytes, args.evidence);
  // The contract's checks (holder, open claim, amount, incident inside the cover and the claim window, device
  // status at the incident) before the evidence is published or anything is sent.
  await preflight(ctx, () =>
    claims.fileClaim.staticCall(policyId, amount, BigInt(bundle.incidentAt), hash, args.evidenceUri ?? "preflight"),
  );
  if (amount <= policy.deductible) {
    refuse(
      `a claim of ${tokens(amount)} is within the ${tokens(policy.deductible)} deductible of policy ${policyId}: even approved it would pay nothing, and a rejection would cost the ${tokens(policy.claimDeposit)} deposit`,
      { deductible: policy.deductible },
    );
  }
  await requireBalance(ctx, token, policy.claimDeposit, `the claim deposit of ${tokens(policy.claimDeposit)}`, tokenInfo);
  // The store is the oracle's evidence server (`npm run oracle -- evidence-server`) or anything speaking its protocol.
  const published = args.evidenceUri
    ? { hash, uri: args.evidenceUri }
    : await ctx.step(`Publishing the evidence to ${store}`, () =>
        // A store that is not run with --open-uploads wants its upload token (TRIAD_EVIDENCE_TOKEN).
        publishEvidence(store, bytes, undefined, ctx.env.TRIAD_EVIDENCE_TOKEN || undefined),
      );
  const res = await ctx.step("Filing the claim", () =>
    fileClaim(claims, token, {
      policyId,
      amount,
      incidentAt: BigInt(bundle.incidentAt),
      evidenceHash: published.hash,
      evidenceURI: published.uri,
    }),
  );
  const now = await ctx.latestTimestamp();
  return {
    data: {
      claimId: res.claimId,
      policyId,
      amount,
      deposit: policy.claimDeposit,
      expectedPayout: amount - policy.deductible,
      evidenceHash: published.hash,
      evidenceURI: published.uri,
      assessmentDeadline: res.assessmentDeadline,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
    },
    lines: [
      `Claim #${res.claimId} filed on policy #${policyId} for ${tokens(amount)} (gas ${res.receipt.gasUsed})`,
      `  if approved it pays ${tokens(amount - policy.deductible)} (after the ${tokens(policy.deductible)} deductible); the ${tokens(policy.claimDeposit)} deposit comes back unless it ends rejected`,
      `  evidence ${published.uri}`,
      `  the oracle committee must decide by ${formatTimestamp(res.assessmentDeadline, now)} (claim:show --claim ${res.claimId})`,
    ],
  };
}

/**
 * An ipfs:// evidence URI must name the bundle's own bytes (its CIDv1 as evidence:build --publish makes it), else the
 * committee would fetch other content and reject the claim: refused before anything is sent.
 */
async function checkIpfsUri(uri: string, bytes: Uint8Array, file: string): Promise<void> {
  const { ipfsCidOf, parseIpfsUri } = await import("@triad/sdk/node");
  const { cid, path } = parseIpfsUri(uri);
  if (path !== "") return; // A file inside a directory: its CID is the directory's, nothing to recompute here.
  const own = await ipfsCidOf(bytes);
  if (cid !== own) {
    fail(
      `--evidence-uri ${uri} names other content than ${file} (whose CID is ${own}): the committee would fetch that and reject the claim — publish the bundle with evidence:build --publish`,
      "INVALID_INPUT",
      { cid, expected: own },
    );
  }
}

/** How often claim:show --wait asks, and for how long at most (wall clock). */
const WAIT_POLL_MS = 1_000;
const WAIT_LIMIT_MS = 10 * 60_000;

export async function claimShow(ctx: Context, args: { claim: string; wait?: boolean }): Promise<CommandResult> {
  const claimId = parseUint(args.claim, "claim", { min: 1n });
  const { claims, committee, record, tokens } = await insuranceAs(ctx, "reader");
  if (args.wait) {
    // Until the committee decides (or the claim leaves Filed otherwise, or its assessment deadline passes).
    await ctx.step(`Waiting for the committee's verdict on claim ${claimId}`, async () => {
      const started = Date.now();
      for (;;) {
        const c = await claims.getClaim(claimId);
        if (c.status === 0n) notFound("claim", claimId);
        if (ClaimStatus[Number(c.status)] !== "Filed" || (await ctx.latestTimestamp()) > c.assessmentDeadline) return;
        if (Date.now() - started > WAIT_LIMIT_MS) {
          fail(
            `claim ${claimId} still has no verdict after ${WAIT_LIMIT_MS / 60_000} min: are the committee's oracle daemons running?`,
            "FAILED",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      }
    });
  }
  const range = await ctx.scanRange(record, "the claim's events");
  const c = await ctx.step(`Reading claim ${claimId}`, () => getClaimDetails(claims, committee, range, claimId));
  const now = await ctx.latestTimestamp();
  const when = (t: bigint) => formatTimestamp(t, now);
  const lines = [
    `Claim #${claimId} on policy #${c.policyId} (device ${c.device}): ${c.status}`,
    `  claimed ${tokens(c.amount)} for an incident at ${when(c.incidentAt)}, filed ${when(c.filedAt)} by ${c.claimant}`,
  ];
  if (c.status === "Filed") lines.push(`  no verdict yet: the committee must decide by ${when(c.assessmentDeadline)}`);
  else if (c.status === "Escalated") lines.push("  no verdict came by the assessment deadline: the arbiter decides");
  else if (c.status === "Appealed")
    lines.push(`  ${c.approved ? "approved" : "rejected"} by the committee, appealed by ${c.appealedBy}: the arbiter decides`);
  else {
    lines.push(`  ${c.approved ? "APPROVED" : "REJECTED"} by the ${c.decidedBy ?? "committee"}: ${c.reason}`);
    if (c.decidedBy === "committee")
      lines.push(`  model ${c.modelHash}, score ${formatBps(c.scoreBps)}, signed by ${c.signers.length > 0 ? c.signers.join(", ") : "-"}`);
  }
  if (c.settlement) {
    lines.push(
      `  settled: ${tokens(c.settlement.paid)} paid to ${c.settlement.recipient} (payout minus the ${tokens(c.deductible)} deductible), deposit ${c.settlement.depositRefunded > 0n ? `of ${tokens(c.settlement.depositRefunded)} refunded` : `of ${tokens(c.deposit)} lost (the claim ended rejected: it went to the pool)`}`,
    );
  } else {
    lines.push(
      c.payoutIfApproved
        ? `  pays ${tokens(c.expectedPayout)} if approved in full (${tokens(c.amount)} minus the ${tokens(c.deductible)} deductible)`
        : `  pays ${tokens(c.expectedPayout)} at settlement (${tokens(c.payout)} approved minus the ${tokens(c.deductible)} deductible)`,
      `  deposit ${tokens(c.deposit)}: refunded at settlement unless the claim ends rejected, then it goes to the pool`,
    );
    if (c.settleFrom !== null) {
      lines.push(
        `  appeal window ${c.settleFrom > now ? "open until" : "closed at"} ${when(c.settleFrom)}; claim:settle pays it out ${c.settleFrom > now ? "after that" : "now"}`,
      );
    }
  }
  lines.push(`  evidence ${c.evidenceURI} (${c.evidenceHash})`);
  return {
    data: {
      ...c,
      incidentAt: Number(c.incidentAt),
      filedAt: Number(c.filedAt),
      assessmentDeadline: Number(c.assessmentDeadline),
      appealDeadline: Number(c.appealDeadline),
    },
    lines,
  };
}

/** What `--status` takes: the claim statuses other than None, any case. */
const CLAIM_STATUSES = ClaimStatus.filter((s) => s !== "None");

export async function claimList(ctx: Context, args: { status?: string; all?: boolean; account?: string }): Promise<CommandResult> {
  if (args.all && args.account !== undefined) fail("give either --account or --all");
  const statuses = args.status === undefined ? undefined : parseStatuses(args.status);
  const { claims, committee, record, tokens } = await insuranceAs(ctx, "reader");
  const account = args.all ? undefined : args.account !== undefined ? parseAddress(args.account, "account") : await ctx.account();
  const range = await ctx.scanRange(record, "claims");
  const list = await ctx.step("Reading the claims' events", async () => {
    const policies = account === undefined ? undefined : (await listPolicies(claims, range, { holder: account })).map((p) => p.policyId);
    return listClaimDetails(claims, committee, range, { account, policyIds: policies, statuses });
  });
  const now = await ctx.latestTimestamp();
  const whose = account === undefined ? "" : ` of ${account}`;
  const verdict = (c: ClaimDetails) =>
    c.status === "Filed"
      ? `no verdict yet, due ${formatTimestamp(c.assessmentDeadline, now)}`
      : c.status === "Escalated" || c.status === "Appealed"
        ? "with the arbiter"
        : `${c.approved ? "APPROVED" : "REJECTED"} by the ${c.decidedBy ?? "committee"}${c.decidedBy === "committee" ? ` (score ${formatBps(c.scoreBps)}, ${c.signers.length} signers)` : ""}`;
  const money = (c: ClaimDetails) => {
    if (c.settlement) {
      return `paid ${tokens(c.settlement.paid)}, deposit ${c.settlement.depositRefunded > 0n ? "refunded" : `of ${tokens(c.deposit)} lost`}`;
    }
    const payout = c.payoutIfApproved ? `pays ${tokens(c.expectedPayout)} if approved` : `pays ${tokens(c.expectedPayout)} at settlement`;
    const settle = c.settleFrom !== null ? `, settle from ${formatTimestamp(c.settleFrom, now)}` : "";
    return `${payout} (after the ${tokens(c.deductible)} deductible); deposit ${tokens(c.deposit)} at stake${settle}`;
  };
  return {
    data: { account: account ?? null, statuses: statuses ?? null, claims: list },
    lines:
      list.length === 0
        ? [`No claims${whose}${statuses ? ` with status ${statuses.join(" or ")}` : ""}`]
        : [
            `${list.length} claim${list.length === 1 ? "" : "s"}${whose}${statuses ? ` (${statuses.join(", ")})` : ""}:`,
            ...list.flatMap((c) => [
              `  #${c.claimId}  ${c.status}  policy #${c.policyId}  ${tokens(c.amount)} claimed  ${verdict(c)}`,
              `      ${c.reason ? `${c.reason}; ` : ""}${money(c)}`,
            ]),
            "  (claim:show --claim <id> for the signers, the model, the evidence and every deadline)",
          ],
  };
}

function parseStatuses(text: string): ClaimStatusName[] {
  return text.split(",").map((s) => {
    const status = CLAIM_STATUSES.find((x) => x.toLowerCase() === s.trim().toLowerCase());
    if (!status) fail(`--status must be one or more of ${CLAIM_STATUSES.join(", ")} (comma-separated), got "${s.trim()}"`);
    return status;
  });
}

export async function claimAppeal(ctx: Context, args: { claim: string }): Promise<CommandResult> {
  const claimId = parseUint(args.claim, "claim", { min: 1n });
  const { claims } = await insuranceAs(ctx);
  await preflight(ctx, () => claims.appeal.staticCall(claimId));
  const receipt = await ctx.step(`Appealing claim ${claimId}`, async () => (await (await claims.appeal(claimId)).wait())!);
  return {
    data: { claimId, status: "Appealed" satisfies ClaimStatusName, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Claim #${claimId} appealed: the arbiter decides (gas ${receipt.gasUsed})`],
  };
}

export async function claimSettle(ctx: Context, args: { claim: string }): Promise<CommandResult> {
  const claimId = parseUint(args.claim, "claim", { min: 1n });
  const { claims, tokens } = await insuranceAs(ctx);
  await preflight(ctx, () => claims.settle.staticCall(claimId));
  const res = await ctx.step(`Settling claim ${claimId}`, () => settleClaim(claims, claimId));
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
      `Claim #${claimId} settled: ${res.status}; paid ${tokens(res.paid)} to ${res.recipient}, deposit refunded ${tokens(res.depositRefunded)} (gas ${res.receipt.gasUsed})`,
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
    summary: "Shows the pool's equity, reserves, unearned premium, locked coverage, share price, and your shares in tokens and request",
    account: "Account whose position to show",
    options: [{ name: "account", value: "<address>", description: "Show this account's position instead of yours" }],
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
      {
        name: "coverage",
        value: "<tokens>",
        description: "Coverage in whole tokens (more than twice the deductible, else --yes)",
        required: true,
      },
      { name: "days", value: "<n>", description: "Policy duration in days", required: true },
      YES_OPTION,
    ],
    run: policyBuy,
  },
  {
    name: "policy:list",
    group: CLAIMS,
    summary: "Lists the policies you hold (or --holder's, or those of a --device): cover left, term, open claim",
    account: "Holder whose policies to list",
    options: [
      { name: "holder", value: "<address>", description: "List this holder's policies instead of yours" },
      { name: "device", value: "<address>", description: "List every policy of this device" },
    ],
    run: policyList,
  },
  {
    name: "policy:show",
    group: CLAIMS,
    summary: "Shows a policy: device, holder, cover left, premium, covered period, deductible, claim deposit, open claim",
    options: [{ name: "policy", value: "<id>", description: "Policy id", required: true }],
    run: policyShow,
  },
  {
    name: "claim:file",
    group: CLAIMS,
    summary: "Publishes an evidence bundle to the evidence store and files a claim on your policy",
    account: "Policy holder",
    options: [
      { name: "policy", value: "<id>", description: "Policy id", required: true },
      {
        name: "amount",
        value: "<tokens>",
        description: "Amount claimed in whole tokens (above the deductible, at most the remaining coverage)",
        required: true,
      },
      {
        name: "evidence",
        value: "<file>",
        description: "The triad.evidence/v2 bundle (from evidence:build; claim:check first); its incidentAt becomes the claim's",
        required: true,
      },
      {
        name: "store",
        value: "<url>",
        description:
          "Evidence store URL (default: $TRIAD_EVIDENCE_STORE or http://127.0.0.1:8787; its upload token, if it has one, in $TRIAD_EVIDENCE_TOKEN)",
      },
      {
        name: "evidence-uri",
        value: "<uri>",
        description:
          "Use this URI instead of publishing (you host the exact bytes there); an ipfs://<cid> must be the bundle's CID (evidence:build --publish prints it)",
      },
    ],
    run: claimFile,
  },
  {
    name: "claim:list",
    group: CLAIMS,
    summary: "Lists your claims (filed by you or on policies you hold; --all for everyone's), by status, with their verdicts",
    account: "Account whose claims to list",
    options: [
      {
        name: "status",
        value: "<status>",
        description: `Only claims with these statuses, comma-separated: ${ClaimStatus.filter((s) => s !== "None").join(", ")}`,
      },
      { name: "account", value: "<address>", description: "List this account's claims instead of yours" },
      { name: "all", type: "boolean", description: "List every claim" },
    ],
    run: claimList,
  },
  {
    name: "claim:show",
    group: CLAIMS,
    summary:
      "Shows a claim: status, verdict and why, signers, payout after the deductible, deposit (lost on rejection), deadlines, settlement",
    options: [
      CLAIM,
      {
        name: "wait",
        type: "boolean",
        description: "First wait until the committee decides (or the assessment deadline passes; at most 10 min)",
      },
    ],
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
