import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import type { ContractRunner } from "ethers";
import {
  ClaimsInsurance__factory,
  DataMarketplace__factory,
  DeviceRegistry__factory,
  InsurancePool__factory,
  OracleCommittee__factory,
  TestToken__factory,
  type ClaimsInsurance,
  type DataMarketplace,
  type DeviceRegistry,
  type InsurancePool,
  type OracleCommittee,
  type TestToken,
} from "@triad/contracts";
import { TriadError, type ExplainContext, type ScanRange, type TokenInfo } from "@triad/sdk";
import { useConfig, type AppConfig } from "./config.ts";
import { useWallet } from "./wallet.tsx";

/** The deployment's contracts, connected to one runner (the read provider, or a signer inside a transaction). */
export interface TriadContracts {
  registry: DeviceRegistry;
  committee: OracleCommittee;
  pool: InsurancePool;
  claims: ClaimsInsurance;
  market: DataMarketplace;
  /** The deployment's ERC-20 (premiums, capital, payouts, prices); typed as the TestToken, used as an ERC-20. */
  token: TestToken;
}

/** Connects the deployment's contracts (config.json's record) to `runner`. */
export function connectContracts(config: AppConfig, runner: ContractRunner): TriadContracts {
  const c = config.deployment.contracts;
  const tokenAddress = config.deployment.token ?? c.TestToken;
  if (!tokenAddress) throw new TriadError("the deployment record names no token", "NO_TOKEN");
  return {
    registry: DeviceRegistry__factory.connect(c.DeviceRegistry!, runner),
    committee: OracleCommittee__factory.connect(c.OracleCommittee!, runner),
    pool: InsurancePool__factory.connect(c.InsurancePool!, runner),
    claims: ClaimsInsurance__factory.connect(c.ClaimsInsurance!, runner),
    market: DataMarketplace__factory.connect(c.DataMarketplace!, runner),
    token: TestToken__factory.connect(tokenAddress, runner),
  };
}

/** Read-only contracts on the read provider (for writes, use the contracts TxButton's `run` receives). */
export function useContracts(): TriadContracts {
  const config = useConfig();
  const { readProvider } = useWallet();
  return useMemo(() => connectContracts(config, readProvider), [config, readProvider]);
}

/** What the chain's figures need, read once at start: the token and the pool share's decimals. */
export interface ChainInfo {
  token: TokenInfo & { address: string };
  shareDecimals: number;
}

const ChainInfoContext = createContext<ChainInfo | undefined>(undefined);

/**
 * Reads the token's symbol and decimals and the pool share's decimals once, then renders its children; until then
 * (or when the chain does not answer) it says so in one sentence.
 */
export function ChainInfoProvider({ children }: { children: ReactNode }) {
  const { token, pool } = useContracts();
  const [info, setInfo] = useState<ChainInfo>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    (async () => {
      const [symbol, decimals, shareDecimals, address] = await Promise.all([
        token.symbol().catch(() => "tokens"),
        token.decimals(),
        pool.decimals(),
        token.getAddress(),
      ]);
      if (live) setInfo({ token: { address, symbol, decimals: Number(decimals) }, shareDecimals: Number(shareDecimals) });
    })().catch((err) => live && setError(`the chain does not answer: ${(err as Error).message?.split("(")[0] ?? String(err)}`));
    return () => {
      live = false;
    };
  }, [token, pool]);
  if (error)
    return (
      <p role="alert" className="error" data-testid="chain-error">
        {error}
      </p>
    );
  if (!info)
    return (
      <p aria-busy="true" className="muted">
        Reading the chain…
      </p>
    );
  return <ChainInfoContext.Provider value={info}>{children}</ChainInfoContext.Provider>;
}

/** The token and share decimals (inside `<ChainInfoProvider>`). */
export function useChainInfo(): ChainInfo {
  const info = useContext(ChainInfoContext);
  if (!info) throw new TriadError("useChainInfo() outside <ChainInfoProvider>", "NO_CHAIN_INFO");
  return info;
}

/** What the SDK's error sentences need: token, share decimals and the acting account ("you"). */
export function useExplainContext(): ExplainContext {
  const { token, shareDecimals } = useChainInfo();
  const { account } = useWallet();
  return useMemo(() => ({ token, shareDecimals, account }), [token, shareDecimals, account]);
}

/**
 * The chain's time (the latest block's timestamp, unix seconds), refreshed every `intervalMs`: a local chain may be
 * ahead of the wall clock, and windows (waiting period, appeal) are measured in chain time.
 */
export function useChainNow(intervalMs = 5000): bigint | undefined {
  const { readProvider } = useWallet();
  const [now, setNow] = useState<bigint>();
  useEffect(() => {
    let live = true;
    const read = () =>
      readProvider
        .getBlock("latest")
        .then((b) => live && b && setNow(BigInt(b.timestamp)))
        .catch(() => undefined);
    void read();
    const timer = setInterval(read, intervalMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [readProvider, intervalMs]);
  return now;
}

/** The blocks event scans read: the deployment's start block to the latest. */
export async function deploymentScanRange(config: AppConfig, provider: { getBlockNumber(): Promise<number> }): Promise<ScanRange> {
  const toBlock = await provider.getBlockNumber();
  return { fromBlock: Math.min(config.deployment.startBlock ?? 0, toBlock), toBlock };
}
