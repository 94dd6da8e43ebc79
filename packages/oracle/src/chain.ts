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

/** One RPC request got no answer within `rpcTimeoutMs` (a transient failure: it is retried). */
export class RpcTimeoutError extends TriadError {
  override readonly name = "RpcTimeoutError";
  constructor(method: string, timeoutMs: number) {
    super(`RPC ${method} got no answer within ${timeoutMs} ms`, "RPC_TIMEOUT", { method, timeoutMs });
  }
}

/**
 * What an RPC error means, whatever node said it:
 *  - `transient`: the node or the path to it failed (HTTP 5xx, reset connection, rate limit, "header not found", an
 *    eth_call that failed without revert data); retrying the same request may succeed;
 *  - `timeout`: no answer in time (transient too);
 *  - `reverted`: the EVM reverted (with revert data, a reason, or a mined receipt with status 0): retrying cannot help;
 *  - `nonce`: the nonce is used ("nonce too low", "already known": see {@link isAlreadyKnownError}) or ahead of the
 *    account ("nonce too high"): re-read the nonce from the node;
 *  - `underpriced`: the fees are too low (for the pool, the base fee, or to replace the transaction of that nonce);
 *  - `funds`: the sender cannot pay gas × price + value;
 *  - `permanent`: anything else that retrying cannot fix (bad arguments, undecodable results, a rejected key).
 */
export type RpcErrorClass = "transient" | "timeout" | "reverted" | "nonce" | "underpriced" | "funds" | "permanent";

/**
 * Node wordings by class (matched case-insensitively anywhere in the error's messages, its cause's and the JSON-RPC
 * error's). Collected from the nodes' sources and answers: Hardhat (EDR), geth, Nethermind (AcceptTxResult names),
 * Erigon, reth, anvil; first match wins, so the specific classes come before the generic ones.
 */
export const RPC_ERROR_WORDINGS: readonly { class: Exclude<RpcErrorClass, "permanent">; pattern: RegExp; nodes: string }[] = [
  // Out of gas money.
  { class: "funds", pattern: /insufficient funds/i, nodes: 'geth, erigon, reth, anvil ("insufficient funds for gas * price + value")' },
  {
    class: "funds",
    pattern: /doesn't have enough funds|not enough funds/i,
    nodes: 'hardhat ("Sender doesn\'t have enough funds to send tx")',
  },
  { class: "funds", pattern: /insufficientfunds|insufficient (sender )?balance|balance is \d+ less than/i, nodes: "nethermind, erigon" },
  { class: "funds", pattern: /upfront cost exceeds account balance/i, nodes: "besu" },
  // Nonce used or ahead.
  { class: "nonce", pattern: /nonce too (low|high)|nonce is too low|nonce has max value/i, nodes: "geth, erigon, reth, anvil, hardhat" },
  { class: "nonce", pattern: /\b(oldnonce|noncegap|ownnoncealreadyused)\b/i, nodes: "nethermind" },
  {
    class: "nonce",
    pattern: /already known|known transaction|alreadyknown|already imported|already exists|existing tx with same hash/i,
    nodes:
      'geth, erigon, reth ("already known"), hardhat ("Known transaction"), anvil ("transaction already imported"), nethermind (AlreadyKnown)',
  },
  // Fees too low.
  {
    class: "underpriced",
    pattern: /underpriced|could not replace existing tx|fee_too_low|feetoolow|fee too low|gas price too low/i,
    nodes: 'geth, erigon, reth, anvil, hardhat ("Replacement transaction underpriced"), nethermind (FeeTooLow)',
  },
  {
    class: "underpriced",
    pattern: /less than (the )?block base fee|too low for the next block|maxfeepergas too low|below chain minimum/i,
    nodes: "geth, reth, hardhat, nethermind",
  },
  // The EVM reverted (the revert data, when the node gives it, is checked separately).
  {
    class: "reverted",
    pattern: /reverted with (reason string|custom error|panic code)|reverted without a reason|vm exception while processing/i,
    nodes: "hardhat",
  },
  { class: "reverted", pattern: /execution reverted: \S/i, nodes: "geth, erigon, reth, anvil, nethermind (with a reason)" },
  // The node or the way to it.
  { class: "timeout", pattern: /timed? ?out|timeout|deadline exceeded/i, nodes: "any (client or proxy)" },
  {
    class: "transient",
    pattern: /header not found|missing trie node|unknown block|block not found|not synced|syncing/i,
    nodes: "geth, erigon, reth (a load-balanced node behind)",
  },
  {
    class: "transient",
    pattern: /rate limit|too many requests|\b429\b|limit exceeded|capacity exceeded|txpool is full|pool is full/i,
    nodes: "providers, geth, nethermind",
  },
  {
    class: "transient",
    pattern: /(status|response|http|code)\W{0,3}50[0-4]\b|bad gateway|service unavailable|gateway time-?out|internal server error/i,
    nodes: "HTTP 5xx (proxies, providers)",
  },
  {
    class: "transient",
    pattern:
      /econnreset|econnrefused|epipe|socket hang up|network error|fetch failed|connection (reset|refused|closed)|other side closed|eai_again/i,
    nodes: "the connection",
  },
];

/** The error's own messages and those of what it wraps (ethers' `info.error`, `error`, `cause`), lower-cased. */
function errorTexts(error: unknown, depth = 0): string[] {
  if (error === null || error === undefined || depth > 4) return [];
  if (typeof error === "string") return [error];
  if (typeof error !== "object") return [String(error)];
  const e = error as {
    message?: unknown;
    shortMessage?: unknown;
    info?: { error?: unknown };
    error?: unknown;
    cause?: unknown;
    body?: unknown;
  };
  const own = [e.shortMessage, e.message, typeof e.body === "string" ? e.body : undefined].filter(
    (m): m is string => typeof m === "string",
  );
  return [...own, ...errorTexts(e.info?.error, depth + 1), ...errorTexts(e.error, depth + 1), ...errorTexts(e.cause, depth + 1)];
}

/** Revert data the node attached (ethers' `data`/`revert`, a JSON-RPC error's `data`), if any beyond "0x". */
function revertData(error: unknown, depth = 0): string | undefined {
  if (error === null || typeof error !== "object" || depth > 4) return undefined;
  const e = error as { data?: unknown; info?: { error?: unknown }; error?: unknown; cause?: unknown };
  const data = typeof e.data === "string" ? e.data : (e.data as { data?: unknown } | undefined)?.data;
  if (typeof data === "string" && /^0x[0-9a-f]{8,}$/i.test(data)) return data;
  return revertData(e.info?.error, depth + 1) ?? revertData(e.error, depth + 1) ?? revertData(e.cause, depth + 1);
}

/** Ethers error codes that say enough on their own. */
const BY_ETHERS_CODE: Partial<Record<string, RpcErrorClass>> = {
  INSUFFICIENT_FUNDS: "funds",
  NONCE_EXPIRED: "nonce",
  REPLACEMENT_UNDERPRICED: "underpriced",
  TIMEOUT: "timeout",
  INVALID_ARGUMENT: "permanent",
  BAD_DATA: "permanent",
  ACTION_REJECTED: "permanent",
  UNSUPPORTED_OPERATION: "permanent",
  NOT_IMPLEMENTED: "permanent",
  MISSING_ARGUMENT: "permanent",
  UNEXPECTED_ARGUMENT: "permanent",
  NUMERIC_FAULT: "permanent",
};

/** Classifies an RPC (or ethers) error by what it means; see {@link RpcErrorClass} and {@link RPC_ERROR_WORDINGS}. */
export function classifyRpcError(error: unknown): RpcErrorClass {
  if (error instanceof RpcTimeoutError) return "timeout";
  if (error instanceof RpcUnavailableError) return "transient";
  const code = (error as { code?: unknown } | null)?.code;
  const byCode = typeof code === "string" ? BY_ETHERS_CODE[code] : undefined;
  if (byCode) return byCode;
  // A mined transaction that reverted (ethers: CALL_EXCEPTION with the receipt), or a call with revert data.
  if (isError(error, "CALL_EXCEPTION") && (error.receipt || error.data || error.reason || error.revert)) return "reverted";
  if (revertData(error)) return "reverted";
  const texts = errorTexts(error).join("\n");
  for (const w of RPC_ERROR_WORDINGS) if (w.pattern.test(texts)) return w.class;
  // An eth_call that failed without revert data ("execution reverted" alone, or nothing) is what a flaky or
  // overloaded node answers as often as a real revert: retried (a real revert without data fails the tick, which is
  // retried; none of our contracts reverts without data).
  if (isError(error, "CALL_EXCEPTION")) return "transient";
  if (isError(error, "NETWORK_ERROR") || isError(error, "SERVER_ERROR") || isError(error, "UNKNOWN_ERROR")) return "transient";
  if (/execution reverted/i.test(texts)) return "transient";
  // Node.js system errors (ECONNRESET...) and fetch's TypeError without a known wording.
  const sys = typeof code === "string" && /^E[A-Z]+$/.test(code);
  if (sys || error instanceof TypeError) return "transient";
  return "permanent";
}

/** Whether the node says it already has this very transaction (a send that changes nothing, not a failure). */
export function isAlreadyKnownError(error: unknown): boolean {
  return /already known|known transaction|alreadyknown|already imported|existing tx with same hash/i.test(errorTexts(error).join("\n"));
}

/** Errors that retrying cannot fix: reverts, bad arguments, undecodable results (wrong address), a rejected key. */
export function isPermanentRpcError(error: unknown): boolean {
  const kind = classifyRpcError(error);
  return kind === "reverted" || kind === "permanent";
}

export function shortMessage(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string };
  return (e?.shortMessage ?? e?.message ?? String(error)).split("\n")[0];
}

export interface RpcOptions {
  retries: number;
  baseMs: number;
  /** Deadline of one request (each attempt); then it counts as a transient failure. Default: none. */
  timeoutMs?: number;
  metrics?: OracleMetrics;
  /** Aborting stops further retries (shutdown). */
  signal?: AbortSignal;
  onRetry?: (method: string, attempt: number, error: unknown) => void;
  /** The node answered a request (a result, or an answer that is not a transport failure: a revert, say). */
  onAnswer?: () => void;
}

/** Per-call overrides (a send is not retried blindly: the transaction manager decides what a failure means). */
export interface RpcCallOptions {
  retries?: number;
  timeoutMs?: number;
}

/** `promise`, or an {@link RpcTimeoutError} after `timeoutMs` (the request itself is left to end on its own). */
function withTimeout<T>(method: string, promise: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (!timeoutMs) return promise;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RpcTimeoutError(method, timeoutMs)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Runs RPC requests: each call is counted (`count()`, and the rpc_requests_total metric) and bounded by
 * `timeoutMs`; transient failures and timeouts ({@link classifyRpcError}) are retried `retries` times with
 * exponential backoff (base × 2^attempt, ±20 % jitter), anything else is thrown at once.
 */
export function createRpc(options: RpcOptions) {
  let requests = 0;
  async function call<T>(method: string, fn: () => Promise<T>, callOptions: RpcCallOptions = {}): Promise<T> {
    const retries = callOptions.retries ?? options.retries;
    const timeoutMs = callOptions.timeoutMs ?? options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      requests++;
      options.metrics?.rpcRequests.inc({ method });
      try {
        const result = await withTimeout(method, fn(), timeoutMs);
        options.onAnswer?.();
        return result;
      } catch (error) {
        options.metrics?.rpcErrors.inc({ method });
        const kind = classifyRpcError(error);
        if (kind === "timeout") options.metrics?.rpcTimeouts.inc({ method });
        if (kind !== "transient" && kind !== "timeout") {
          options.onAnswer?.();
          throw error;
        }
        if (attempt >= retries || options.signal?.aborted) throw new RpcUnavailableError(method, attempt + 1, error);
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
