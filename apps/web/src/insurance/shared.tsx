import { useCallback, useId, type ReactNode } from "react";
import { explainContractError, formatTokens, formatUnitsExact, parseTokenAmount, type ScanRange } from "@triad/sdk";
import { useConfig } from "../lib/config.ts";
import { Link } from "../lib/router.ts";
import { deploymentScanRange, useChainInfo } from "../lib/contracts.tsx";
import { useWallet } from "../lib/wallet.tsx";

/**
 * Small pieces the insurance and marketplace pages share (W2's); the app-wide primitives (wallet, contracts,
 * transactions, charts, Address, Amount, ErrorText, Timeline) are in ../lib (see ../lib/README.md).
 */

/** Formats token base units with the deployment token's symbol and decimals: "1500 tUSD". */
export function useTokens(): (units: bigint) => string {
  const { token } = useChainInfo();
  return useCallback((units: bigint) => formatTokens(units, token), [token]);
}

/** Pool shares in whole shares ("12.5 shares"). */
export function useShares(): (shares: bigint) => string {
  const { shareDecimals } = useChainInfo();
  return useCallback((shares: bigint) => `${formatUnitsExact(shares, shareDecimals)} shares`, [shareDecimals]);
}

/** Parses an amount typed in whole tokens; throws an InvalidInputError naming `label`. */
export function useParseTokens(): (text: string, label: string) => bigint {
  const { token } = useChainInfo();
  return useCallback(
    (text: string, label: string) => parseTokenAmount(text, token.decimals, { label, symbol: token.symbol, max: 2n ** 128n - 1n }),
    [token],
  );
}

/** The event scan range of the deployment (start block to latest), for the SDK's browse functions. */
export function useScanRange(): () => Promise<ScanRange> {
  const config = useConfig();
  const { readProvider } = useWallet();
  return useCallback(() => deploymentScanRange(config, readProvider), [config, readProvider]);
}

/** A labelled form control: the label above, a hint below (tied with aria-describedby). */
export function Field(props: { label: string; hint?: ReactNode; children: (id: string, describedBy?: string) => ReactNode }) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, props.hint ? hintId : undefined)}
      {props.hint && (
        <small id={hintId} className="muted">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** "Connect a wallet to …" when no account is connected. */
export function NeedsAccount({ what }: { what: string }) {
  return (
    <p className="muted" data-testid="needs-account">
      Connect a wallet to {what}.
    </p>
  );
}

/** The sub-navigation of a section ("Insurance": my policies, pool, products, file a claim). */
export function SubNav({ label, links, current }: { label: string; links: readonly { to: string; label: string }[]; current: string }) {
  return (
    <nav aria-label={label} className="subnav">
      <ul>
        {links.map((l) => (
          <li key={l.to}>
            <Link
              to={l.to}
              aria-current={current === l.to ? "page" : undefined}
              data-testid={`subnav-${l.to.replace(/\//g, "-").slice(1)}`}
            >
              {l.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export const INSURANCE_LINKS = [
  { to: "/insurance", label: "My policies and claims" },
  { to: "/insurance/products", label: "Products" },
  { to: "/insurance/claims/new", label: "File a claim" },
  { to: "/insurance/pool", label: "Pool" },
] as const;

export const MARKET_LINKS = [
  { to: "/market", label: "Listings" },
  { to: "/market/purchases", label: "My purchases" },
  { to: "/market/sell", label: "Sell" },
] as const;

/**
 * Asks the contract whether it would accept a call (an `eth_call` as the acting account) before anything is sent,
 * as the CLI's `preflight` does: a refusal throws its sentence and costs nothing; an ERC-20 allowance shortfall does
 * not count (the SDK action approves what the step spends right before sending it).
 */
export async function preflight(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (explainContractError(err)?.details.error === "ERC20InsufficientAllowance") return;
    throw err;
  }
}
