import type { ContractTransactionReceipt, Signer } from "ethers";
import type { ClaimsInsurance, IERC20, InsurancePool } from "@triad/contracts";
import { ClaimStatus, enumName } from "../enums.ts";
import { TriadError } from "../errors.ts";
import { findEvent } from "./events.ts";

/**
 * Insurance actions shared by the tasks, the demo and dApps. Each takes the contract connected to the acting
 * account, approves exactly what the step spends when the allowance is short, and returns the ids the caller needs
 * next with the mined receipt.
 */

async function ensureAllowance(
  token: IERC20,
  owner: string,
  spender: string,
  amount: bigint,
): Promise<ContractTransactionReceipt | undefined> {
  if (amount === 0n || (await token.allowance(owner, spender)) >= amount) return undefined;
  return (await (await token.approve(spender, amount)).wait())!;
}

async function runnerAddress(contract: { runner: unknown }): Promise<string> {
  const signer = contract.runner as Signer | null;
  if (!signer || typeof signer.getAddress !== "function") {
    throw new TriadError("this action needs the contract connected to a signer", "NO_SIGNER");
  }
  return signer.getAddress();
}

/** Deposits `assets` into the pool (ERC-4626) for the caller; returns the shares minted. */
export async function depositToPool(pool: InsurancePool, token: IERC20, assets: bigint) {
  const me = await runnerAddress(pool);
  const approveReceipt = await ensureAllowance(token, me, await pool.getAddress(), assets);
  const shares = await pool.previewDeposit(assets);
  const receipt = (await (await pool.deposit(assets, me)).wait())!;
  return { shares, receipt, approveReceipt };
}

/**
 * Requests redemption of `shares` of the caller's pool shares (ERC-7540): they move into the pool's escrow, keep
 * bearing losses and earning, and become claimable after the pool's withdrawal cooldown, at the lower of their
 * value now and at claim. Adding to an open request restarts its cooldown.
 */
export async function requestPoolWithdrawal(pool: InsurancePool, shares: bigint) {
  const me = await runnerAddress(pool);
  const balance = await pool.balanceOf(me);
  if (shares === 0n || shares > balance) {
    throw new TriadError(`can request between 1 and ${balance} shares (your balance)`, "WITHDRAW_TOO_MUCH", {
      requested: String(shares),
      max: String(balance),
    });
  }
  const receipt = (await (await pool.requestRedeem(shares, me, me)).wait())!;
  const [requested, assetsAtRequest, claimableAt] = await pool.redeemRequest(me);
  return { shares: requested, assetsAtRequest, claimableAt, receipt };
}

/** The caller's (or `account`'s) withdrawal request: shares, value at request, when claimable, and what it pays now. */
export async function poolWithdrawalOf(pool: InsurancePool, account?: string) {
  const who = account ?? (await runnerAddress(pool));
  const [[shares, assetsAtRequest, claimableAt], pending, claimable, maxWithdraw] = await Promise.all([
    pool.redeemRequest(who),
    pool.pendingRedeemRequest(0n, who),
    pool.claimableRedeemRequest(0n, who),
    pool.maxWithdraw(who),
  ]);
  return { shares, assetsAtRequest, claimableAt, pending, claimable, maxWithdraw };
}

/**
 * Claims `assets` from the caller's claimable withdrawal request (ERC-7540 `withdraw`); refuses up front when more
 * than `maxWithdraw` (nothing before the cooldown ends; after it, the request's value within the pool's free capital).
 */
export async function withdrawFromPool(pool: InsurancePool, assets: bigint) {
  const me = await runnerAddress(pool);
  const max = await pool.maxWithdraw(me);
  if (assets > max) {
    const [shares, , claimableAt] = await pool.redeemRequest(me);
    const why =
      shares === 0n
        ? "you have no withdrawal request (request one first)"
        : max === 0n && claimableAt > 0n
          ? `your request is claimable from ${new Date(Number(claimableAt) * 1000).toISOString()} (or the pool's capital is locked as coverage)`
          : "the rest of your request is locked as coverage or above its value";
    throw new TriadError(`can withdraw at most ${max} base units now: ${why}`, "WITHDRAW_TOO_MUCH", {
      requested: String(assets),
      max: String(max),
    });
  }
  const receipt = (await (await pool.withdraw(assets, me, me)).wait())!;
  return { receipt };
}

/**
 * Claims `shares` of the caller's claimable withdrawal request (ERC-7540 `redeem`; default: all that can be paid
 * now, `maxRedeem`); returns the assets paid.
 */
export async function redeemFromPool(pool: InsurancePool, shares?: bigint) {
  const me = await runnerAddress(pool);
  const max = await pool.maxRedeem(me);
  const amount = shares ?? max;
  if (amount === 0n || amount > max) {
    throw new TriadError(
      `can redeem at most ${max} shares of your request now (none before its cooldown ends, or while the pool's capital is locked)`,
      "WITHDRAW_TOO_MUCH",
      {
        requested: String(amount),
        max: String(max),
      },
    );
  }
  const receipt = (await (await pool.redeem(amount, me, me)).wait())!;
  const event = findEvent(pool, receipt, "Withdraw");
  return { shares: amount, assets: event.args.assets as bigint, receipt };
}

/** Cancels the caller's withdrawal request: its shares come back. */
export async function cancelPoolWithdrawal(pool: InsurancePool) {
  const me = await runnerAddress(pool);
  const [shares] = await pool.redeemRequest(me);
  if (shares === 0n) throw new TriadError("you have no withdrawal request to cancel", "NO_REQUEST");
  const receipt = (await (await pool.cancelRedeemRequest(0n, me)).wait())!;
  return { shares, receipt };
}

/** Buys a policy for `device` (the caller must own it); pays the quoted premium. */
export async function buyPolicy(
  claims: ClaimsInsurance,
  token: IERC20,
  params: { productId: bigint; device: string; coverage: bigint; durationSeconds: bigint },
) {
  const me = await runnerAddress(claims);
  const premium = await claims.quotePremium(params.productId, params.coverage, params.durationSeconds);
  const approveReceipt = await ensureAllowance(token, me, await claims.getAddress(), premium);
  const receipt = (await (await claims.buyPolicy(params.productId, params.device, params.coverage, params.durationSeconds)).wait())!;
  const event = findEvent(claims, receipt, "PolicyPurchased");
  return { policyId: event.args.policyId as bigint, premium, receipt, approveReceipt };
}

/** Files a claim on a policy the caller holds; pays the product's claim deposit. */
export async function fileClaim(
  claims: ClaimsInsurance,
  token: IERC20,
  params: { policyId: bigint; amount: bigint; incidentAt: bigint; evidenceHash: string; evidenceURI: string },
) {
  const me = await runnerAddress(claims);
  const policy = await claims.getPolicy(params.policyId);
  const product = await claims.getProduct(policy.productId);
  const approveReceipt = await ensureAllowance(token, me, await claims.getAddress(), product.claimDeposit);
  const receipt = (await (
    await claims.fileClaim(params.policyId, params.amount, params.incidentAt, params.evidenceHash, params.evidenceURI)
  ).wait())!;
  const event = findEvent(claims, receipt, "ClaimFiled");
  return { claimId: event.args.claimId as bigint, assessmentDeadline: event.args.assessmentDeadline as bigint, receipt, approveReceipt };
}

/** Settles a decided claim after its appeal window (anyone may); returns what was paid and refunded. */
export async function settleClaim(claims: ClaimsInsurance, claimId: bigint) {
  const receipt = (await (await claims.settle(claimId)).wait())!;
  const event = findEvent(claims, receipt, "ClaimSettled");
  return {
    recipient: event.args.recipient as string,
    status: enumName(ClaimStatus, event.args.status),
    paid: event.args.paid as bigint,
    depositRefunded: event.args.depositRefunded as bigint,
    receipt,
  };
}
