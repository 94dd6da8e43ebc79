import { createContext, useContext } from "react";
import { parseDeploymentRecord, TriadError, type DeploymentRecord } from "@triad/sdk";

/**
 * The app's configuration, read at start from `config.json` next to index.html (so one static build serves any
 * chain and host). `npm run app` writes it from the deployment record; for another host, write it by hand:
 *
 *   { "chainId": 31337, "chainName": "Hardhat (local)", "rpcUrl": "http://127.0.0.1:8545",
 *     "gatewayUrl": "/gateway", "deployment": { …deployments/<chainId>.json… } }
 */
export interface AppConfig {
  chainId: number;
  /** Shown in the network check ("switch to …"). */
  chainName: string;
  /** JSON-RPC URL for reads (and for the wallet's `wallet_addEthereumChain`). */
  rpcUrl: string;
  /** The gateway's HTTP API (same origin path such as "/gateway", or a URL that sends CORS headers). */
  gatewayUrl?: string;
  /** The evidence store claims publish to (`/evidence` on the app server of `npm run app`). */
  evidenceUrl?: string;
  /** Failure-risk scores and alerts of the gateway's monitor (served by `npm run app` at "/monitor"). */
  monitorUrl?: string;
  /** Block explorer base URL ("https://sepolia.etherscan.io"), when the chain has one. */
  explorerUrl?: string;
  /**
   * Services' real origins → the same-origin paths the app server proxies them at ("http://127.0.0.1:40123" →
   * "/gateway"): URLs recorded on-chain or in manifests name the real origin, which a browser may not reach
   * (no CORS). See {@link fetchableUrl}.
   */
  proxied?: Record<string, string>;
  /** The deployment record (deployments/<chainId>.json). */
  deployment: DeploymentRecord;
}

/** Reads and checks `config.json`; one sentence when it is missing or wrong. */
export async function loadConfig(url = "config.json"): Promise<AppConfig> {
  let res: Response;
  try {
    res = await fetch(url, { cache: "no-store" });
  } catch (cause) {
    throw new TriadError(`could not load ${url}: the app server is not reachable`, "CONFIG_UNAVAILABLE", { url }, { cause });
  }
  if (!res.ok) {
    throw new TriadError(
      `${url} is missing (HTTP ${res.status}): start the app with npm run app, or put config.json next to index.html`,
      "CONFIG_MISSING",
      {
        url,
        status: res.status,
      },
    );
  }
  const raw = (await res.json().catch(() => undefined)) as Partial<AppConfig> | undefined;
  if (!raw || typeof raw.chainId !== "number" || typeof raw.rpcUrl !== "string") {
    throw new TriadError(`${url} needs a numeric "chainId" and an "rpcUrl"`, "CONFIG_INVALID", { url });
  }
  const deployment = parseDeploymentRecord(raw.deployment, raw.chainId, {
    source: `${url} "deployment"`,
    required: ["DeviceRegistry", "OracleCommittee", "InsurancePool", "ClaimsInsurance", "DataMarketplace"],
  });
  return {
    chainName: raw.chainId === 31337 ? "Hardhat (local)" : `chain ${raw.chainId}`,
    ...raw,
    deployment,
  } as AppConfig;
}

export const ConfigContext = createContext<AppConfig | undefined>(undefined);

/** The app's configuration (inside `<ConfigContext.Provider>`, which main.tsx sets up once it is loaded). */
export function useConfig(): AppConfig {
  const config = useContext(ConfigContext);
  if (!config) throw new TriadError("useConfig() outside <ConfigContext.Provider>", "NO_CONFIG");
  return config;
}

/**
 * The URL a browser should fetch for `url`: a URL on a proxied service's origin becomes the same-origin path
 * (`http://127.0.0.1:40123/evidence/0x…` → `/store/evidence/0x…`); anything else is returned as it is.
 */
export function fetchableUrl(config: AppConfig, url: string): string {
  for (const [origin, local] of Object.entries(config.proxied ?? {})) {
    const base = origin.replace(/\/+$/, "");
    if (url === base || url.startsWith(`${base}/`)) return `${local.replace(/\/+$/, "")}${url.slice(base.length)}`;
  }
  return url;
}

/** A gateway URL for `path` ("/v1/anchors"), or undefined when the app has no gateway configured. */
export function gatewayEndpoint(config: AppConfig, path: string): string | undefined {
  return config.gatewayUrl ? `${config.gatewayUrl.replace(/\/$/, "")}${path}` : undefined;
}

/** GETs JSON from the gateway; a refusal becomes one sentence with the gateway's own `error` text. */
export async function fetchGatewayJson<T>(config: AppConfig, path: string, init?: RequestInit): Promise<T> {
  const url = gatewayEndpoint(config, path);
  if (!url) throw new TriadError("this app has no gateway configured (gatewayUrl in config.json)", "NO_GATEWAY");
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (cause) {
    throw new TriadError(`the gateway at ${config.gatewayUrl} is not reachable`, "GATEWAY_UNREACHABLE", { url }, { cause });
  }
  const body = (await res.json().catch(() => undefined)) as (T & { error?: string }) | undefined;
  if (!res.ok) {
    const retryAfter = res.headers.get("retry-after");
    throw new TriadError(
      `the gateway answered ${res.status}: ${body?.error ?? res.statusText}${retryAfter ? ` (retry after ${retryAfter} s)` : ""}`,
      res.status === 404 ? "NOT_FOUND" : "GATEWAY_REFUSED",
      { url, status: res.status, retryAfter },
    );
  }
  return body as T;
}
