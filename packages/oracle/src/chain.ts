/**
 * Chain access of the oracle: contract handles (TypeChain types of the FIXED interfaces, so any conforming
 * implementation works), address resolution, and one choke point for RPC requests that counts them, retries
 * transient failures with exponential backoff and records errors in the metrics.
 */
import { getAddress, isError, type ContractRunner, type Provider } from "ethers";
import { loadDeployment } from "@triad/sdk/node";
import { TriadError } from "@triad/sdk";
import { IClaimsInsurance__factory, IDeviceRegistry__factory, IOracleCommittee__factory } from "@triad/contracts";
import type { IClaimsInsurance, IDeviceRegistry, IOracleCommittee } from "@triad/contracts";
import type { OracleConfig } from "./config.ts";
import type { OracleMetrics } from "./metrics.ts";

export interface OracleAddresses {
  claims: string;
  registry: string;
  committee: string;
}

export interface OracleContracts {
  claims: IClaimsInsurance;
  registry: IDeviceRegistry;
  committee: IOracleCommittee;
}

export function connectContracts(addresses: OracleAddresses, runner: ContractRunner): OracleContracts {
  return {
    claims: IClaimsInsurance__factory.connect(addresses.claims, runner),
    registry: IDeviceRegistry__factory.connect(addresses.registry, runner),
    committee: IOracleCommittee__factory.connect(addresses.committee, runner),
  };
}

/**
 * The configured addresses, completed from `deployments/<chainId>.json` for whatever is not configured. Returns the
 * record's start block too (the default first block to scan).
 */
export function resolveAddresses(
  config: Pick<OracleConfig, "addresses" | "deploymentsDir">,
  chainId: bigint,
): { addresses: OracleAddresses; startBlock?: number } {
  const { claims, registry, committee } = config.addresses;
  if (claims && registry && committee) {
    return { addresses: { claims: getAddress(claims), registry: getAddress(registry), committee: getAddress(committee) } };
  }
  const record = loadDeployment(chainId, {
    dir: config.deploymentsDir,
    required: [
      ...(claims ? [] : (["ClaimsInsurance"] as const)),
      ...(registry ? [] : (["DeviceRegistry"] as const)),
      ...(committee ? [] : (["OracleCommittee"] as const)),
    ],
  });
  return {
    addresses: {
      claims: getAddress(claims ?? record.contracts.ClaimsInsurance!),
      registry: getAddress(registry ?? record.contracts.DeviceRegistry!),
      committee: getAddress(committee ?? record.contracts.OracleCommittee!),
    },
    startBlock: record.startBlock,
  };
}

/** The RPC endpoint kept failing after all retries. */
export class RpcUnavailableError extends TriadError {
  override readonly name = "RpcUnavailableError";
  constructor(method: string, attempts: number, cause: unknown) {
    super(`RPC ${method} failed after ${attempts} attempt(s): ${shortMessage(cause)}`, "RPC_UNAVAILABLE", { method, attempts }, { cause });
  }
}

/** Errors that retrying cannot fix: reverts, bad arguments, undecodable results (wrong address), a rejected key. */
const PERMANENT = [
  "CALL_EXCEPTION",
  "INVALID_ARGUMENT",
  "BAD_DATA",
  "INSUFFICIENT_FUNDS",
  "ACTION_REJECTED",
  "UNSUPPORTED_OPERATION",
  "NOT_IMPLEMENTED",
] as const;

export function isPermanentRpcError(error: unknown): boolean {
  return PERMANENT.some((code) => isError(error, code));
}

export function shortMessage(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string };
  return (e?.shortMessage ?? e?.message ?? String(error)).split("\n")[0];
}

export interface RpcOptions {
  retries: number;
  baseMs: number;
  metrics?: OracleMetrics;
  /** Aborting stops further retries (shutdown). */
  signal?: AbortSignal;
  onRetry?: (method: string, attempt: number, error: unknown) => void;
}

/**
 * Runs RPC requests: each call is counted (`count()`, and the rpc_requests_total metric), transient failures are
 * retried `retries` times with exponential backoff (base × 2^attempt, ±20 % jitter), permanent ones thrown at once.
 */
export function createRpc(options: RpcOptions) {
  let requests = 0;
  async function call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      requests++;
      options.metrics?.rpcRequests.inc({ method });
      try {
        return await fn();
      } catch (error) {
        options.metrics?.rpcErrors.inc({ method });
        if (isPermanentRpcError(error)) throw error;
        if (attempt >= options.retries || options.signal?.aborted) throw new RpcUnavailableError(method, attempt + 1, error);
        options.onRetry?.(method, attempt + 1, error);
        const delay = options.baseMs * 2 ** attempt * (0.8 + 0.4 * Math.random());
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
  return { call, count: () => requests };
}

export type Rpc = ReturnType<typeof createRpc>;

/** The chain id, checked against the configured one. */
export async function checkChainId(rpc: Rpc, provider: Provider, expected?: number): Promise<bigint> {
  const { chainId } = await rpc.call("eth_chainId", () => provider.getNetwork());
  if (expected !== undefined && chainId !== BigInt(expected)) {
    throw new TriadError(`the RPC endpoint serves chain ${chainId}, ORACLE_CHAIN_ID says ${expected}`, "CHAIN_MISMATCH", {
      chainId: Number(chainId),
      expected,
    });
  }
  return chainId;
}
