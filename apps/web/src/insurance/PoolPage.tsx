import "./pages.css";
import { useState } from "react";
import {
  cancelPoolWithdrawal,
  depositToPool,
  formatBps,
  formatDuration,
  formatTimestamp,
  redeemFromPool,
  requestPoolWithdrawal,
} from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useChainNow, useContracts } from "../lib/contracts.tsx";
import { TxButton } from "../lib/tx.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { readPool, sharesForAssets } from "./data.ts";
import { ErrorText, Loading } from "../lib/ui.tsx";
import { Field, INSURANCE_LINKS, NeedsAccount, SubNav, useParseTokens, useShares, useTokens } from "./shared.tsx";

/**
 * The insurance pool for LPs (`triad pool:show`, `pool:deposit`, `pool:request-withdrawal`, `pool:claim-withdrawal`,
 * `pool:cancel-withdrawal`): its capital, what is locked as coverage, utilisation, the share price and my position,
 * with the three steps of an ERC-7540 withdrawal.
 */
export default function PoolPage() {
  const { pool, token } = useContracts();
  const { account } = useWallet();
  const now = useChainNow();
  const tokens = useTokens();
  const shares = useShares();
  const parse = useParseTokens();
  const state = useAsync(() => readPool(pool, account), [pool, account], 10_000);
  const balance = useAsync(async () => (account ? token.balanceOf(account) : undefined), [token, account]);
  const [deposit, setDeposit] = useState("");
  const [withdraw, setWithdraw] = useState("");
  const reload = () => {
    state.reload();
    balance.reload();
  };

  const p = state.value;
  const position = p?.position;
  const request = position?.request;
  const parsed = (text: string, label: string): { value?: bigint; error?: string } => {
    if (text.trim() === "") return {};
    try {
      const value = parse(text, label);
      return value === 0n ? { error: `${label} must be more than 0` } : { value };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  const dep = parsed(deposit, "the deposit");
  const wd = parsed(withdraw, "the withdrawal");
  const claimable = request && request.claimable > 0n;

  return (
    <section aria-labelledby="pool-heading" data-testid="pool-page">
      <SubNav label="Insurance" links={INSURANCE_LINKS} current="/insurance/pool" />
      <h1 id="pool-heading">Insurance pool</h1>
      <p className="muted">
        LP capital backs the policies: premiums are earned over each policy's term, approved claims are paid from it. Withdrawals are
        requests that become claimable after the pool's cooldown.
      </p>
      <ErrorText error={state.error} testId="pool-error" />
      {!p && !state.error && <Loading what="Reading the pool" />}
      {p && (
        <dl className="facts" data-testid="pool-figures">
          <dt>LP capital</dt>
          <dd data-testid="pool-assets">{tokens(p.totalAssets)}</dd>
          <dt>Locked as coverage</dt>
          <dd data-testid="pool-locked">{tokens(p.locked)}</dd>
          <dt>Utilisation</dt>
          <dd data-testid="pool-utilisation">
            <meter min={0} max={10_000} value={p.utilisationBps} high={p.maxUtilisationBps} aria-label="utilisation" />{" "}
            {formatBps(p.utilisationBps)} of at most {formatBps(p.maxUtilisationBps)}
          </dd>
          <dt>Reserved for approved payouts</dt>
          <dd>{tokens(p.reservedPayouts)}</dd>
          <dt>Premium not yet earned</dt>
          <dd>{tokens(p.unearnedPremiums)}</dd>
          <dt>Share price</dt>
          <dd data-testid="pool-share-price">1 share = {tokens(p.pricePerShare)}</dd>
          <dt>Shares in all</dt>
          <dd>{shares(p.totalShares)}</dd>
          <dt>Withdrawal cooldown</dt>
          <dd>{formatDuration(p.withdrawalCooldown)}</dd>
        </dl>
      )}

      <h2>My position</h2>
      {!account && <NeedsAccount what="see your position, deposit or withdraw" />}
      {account && position && (
        <dl className="facts" data-testid="pool-position">
          <dt>My shares</dt>
          <dd data-testid="pool-my-shares">
            {shares(position.shares)}, worth {tokens(position.sharesValue)}
          </dd>
          <dt>Withdrawal request</dt>
          <dd data-testid="pool-request">
            {request!.shares === 0n
              ? "none"
              : request!.pending > 0n
                ? `${shares(request!.pending)} pending (worth at most ${tokens(request!.assetsAtRequest)}), claimable ${formatTimestamp(request!.claimableAt, now)}`
                : `${shares(request!.claimable)} claimable; ${tokens(position.maxWithdraw)} can be withdrawn now`}
          </dd>
          <dt>My token balance</dt>
          <dd>{balance.value === undefined ? "…" : tokens(balance.value)}</dd>
        </dl>
      )}

      {account && p && (
        <div className="grid">
          <form className="card" onSubmit={(e) => e.preventDefault()} aria-labelledby="deposit-heading">
            <h3 id="deposit-heading">Deposit</h3>
            <Field
              label="Amount to deposit (tokens)"
              hint={dep.error ?? (dep.value !== undefined ? `≈ ${tokens(dep.value)}` : "in whole tokens, e.g. 1000")}
            >
              {(id, hint) => (
                <input
                  id={id}
                  aria-describedby={hint}
                  inputMode="decimal"
                  value={deposit}
                  onChange={(e) => setDeposit(e.target.value)}
                  data-testid="pool-deposit-amount"
                />
              )}
            </Field>
            <TxButton
              label="Deposit"
              testId="pool-deposit"
              title={`Deposit ${dep.value !== undefined ? tokens(dep.value) : ""} into the pool`}
              description={
                <p>
                  You receive pool shares at the current price ({tokens(p.pricePerShare)} per share). Your capital backs policies: it earns
                  their premiums and pays approved claims, so its value can fall. Taking it out is a request that becomes claimable after{" "}
                  {formatDuration(p.withdrawalCooldown)}. An approval of the token is sent first when the allowance is short.
                </p>
              }
              disabled={dep.value === undefined || (balance.value !== undefined && dep.value > balance.value)}
              disabledReason={dep.value === undefined ? "enter an amount" : "more than your balance"}
              run={({ contracts }) => depositToPool(contracts.pool, contracts.token, dep.value!)}
              result={(r) => `Deposited ${tokens(dep.value!)} for ${shares(r.shares)}.`}
              onDone={() => {
                setDeposit("");
                reload();
              }}
            />
          </form>

          <form className="card" onSubmit={(e) => e.preventDefault()} aria-labelledby="withdraw-heading">
            <h3 id="withdraw-heading">Request a withdrawal</h3>
            <Field
              label="Amount to withdraw (tokens)"
              hint={wd.error ?? `your shares are worth ${tokens(position?.sharesValue ?? 0n)}; leave empty to request all of them`}
            >
              {(id, hint) => (
                <input
                  id={id}
                  aria-describedby={hint}
                  inputMode="decimal"
                  value={withdraw}
                  onChange={(e) => setWithdraw(e.target.value)}
                  data-testid="pool-withdraw-amount"
                />
              )}
            </Field>
            <TxButton
              label={withdraw.trim() === "" ? "Request all" : "Request withdrawal"}
              testId="pool-request-withdrawal"
              title="Request a withdrawal from the pool"
              description={
                <p>
                  Your shares go into the pool's escrow: they keep bearing losses and earning premiums, and become claimable after{" "}
                  {formatDuration(p.withdrawalCooldown)}, at the lower of their value now and then.
                  {request && request.shares > 0n && " Adding to your open request restarts its cooldown."}
                </p>
              }
              disabled={!position || position.shares === 0n || wd.error !== undefined}
              disabledReason={wd.error ?? "you hold no pool shares"}
              run={async ({ contracts, account: me }) => {
                const all = await contracts.pool.balanceOf(me);
                const wanted = wd.value === undefined ? all : await sharesForAssets(contracts.pool, wd.value);
                return requestPoolWithdrawal(contracts.pool, wanted > all ? all : wanted);
              }}
              result={(r) =>
                `Requested: ${shares(r.shares)} in escrow, worth ${tokens(r.assetsAtRequest)}, claimable ${formatTimestamp(r.claimableAt)}.`
              }
              onDone={() => {
                setWithdraw("");
                reload();
              }}
            />
          </form>

          <div className="card" aria-labelledby="claim-heading">
            <h3 id="claim-heading">Claim my withdrawal</h3>
            <p className="muted">
              {!request || request.shares === 0n
                ? "No request yet."
                : claimable
                  ? `${tokens(position!.maxWithdraw)} can be paid now${position!.maxWithdraw === 0n ? " (the pool's capital is locked as coverage until policies end or claims settle)" : ""}.`
                  : `Claimable ${formatTimestamp(request.claimableAt, now)}.`}
            </p>
            <TxButton
              label="Claim withdrawal"
              testId="pool-claim-withdrawal"
              title="Claim your withdrawal request"
              description={<p>Redeems the claimable shares of your request for tokens, at the lower of their value at request and now.</p>}
              disabled={!claimable || position!.maxWithdraw === 0n}
              disabledReason={
                !request || request.shares === 0n
                  ? "no request"
                  : !claimable
                    ? "its cooldown has not ended"
                    : "the pool's capital is locked"
              }
              run={({ contracts }) => redeemFromPool(contracts.pool)}
              result={(r) => `Withdrew ${tokens(r.assets)} for ${shares(r.shares)}.`}
              onDone={reload}
            />{" "}
            <TxButton
              label="Cancel request"
              className="secondary"
              testId="pool-cancel-withdrawal"
              title="Cancel your withdrawal request"
              description={<p>The request's shares come back to you.</p>}
              disabled={!request || request.shares === 0n}
              disabledReason="no request"
              run={({ contracts }) => cancelPoolWithdrawal(contracts.pool)}
              result={(r) => `Cancelled: ${shares(r.shares)} back.`}
              onDone={reload}
            />
          </div>
        </div>
      )}
    </section>
  );
}
