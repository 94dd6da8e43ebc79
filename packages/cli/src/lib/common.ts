import { getAddress, isAddress } from "ethers";
import {
  InvalidInputError,
  TriadError,
  explainContractError,
  formatUnitsExact,
  parsePrivateKey as parseKey,
  parseTokenAmount,
  type ExplainContext,
} from "@triad/sdk";

/**
 * Shared plumbing of the `triad` commands: the failures a command can end with (each a stable `code` and an exit code
 * by class), argument parsers that fail with one clear line, amounts, and turning any error (a contract's custom
 * error, a provider's failure) into one sentence.
 */

/**
 * The stable codes of `--json` errors (`{"error":{"code","message","details"}}`), each in one exit-code class:
 *   1 failed (a bad value, a file, a guard rail, a gateway that has not anchored the evidence yet), 2 usage, 3 not
 *   found, 4 refused (by the contract, or by the CLI checking the contract's rule before sending; claim:check: the
 *   committee would reject the claim), 5 the network (unreachable, or no Triad deployment on it).
 */
export const EXIT_CODES = {
  INVALID_INPUT: 1,
  FILE_ERROR: 1,
  FILE_EXISTS: 1,
  NEEDS_CONFIRMATION: 1,
  INSUFFICIENT_FUNDS: 1,
  NOT_READY: 1,
  FAILED: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  CONTRACT_REFUSED: 4,
  REFUSED: 4,
  CLAIM_WOULD_BE_REJECTED: 4,
  NETWORK_UNREACHABLE: 5,
  NO_DEPLOYMENT: 5,
  STALE_DEPLOYMENT: 5,
  NOT_A_LOCAL_CHAIN: 5,
} as const;

export type ErrorCode = keyof typeof EXIT_CODES;

/** A command failed: one `error: …` line (or one JSON object), a stable code, the exit code of its class. */
export class CliError extends TriadError {
  override readonly name: string = "CliError";
  declare readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = "INVALID_INPUT", details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, code, details, options);
  }
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** The command line itself is wrong (unknown command or option, a required option missing): exit code 2. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, "USAGE");
  }
}

/** Stops the command with one clear line (by default a bad value: INVALID_INPUT, exit code 1). */
export function fail(message: string, code: ErrorCode = "INVALID_INPUT", details: Record<string, unknown> = {}): never {
  throw new CliError(message, code, details);
}

/** Stops the command with one clear line about the command line (exit code 2). */
export function usage(message: string): never {
  throw new UsageError(message);
}

/** "claim 99 does not exist": the one wording for a thing that is not there (exit code 3). */
export function notFound(kind: string, id: string | bigint, details: Record<string, unknown> = {}): never {
  throw new CliError(`${kind} ${id} does not exist`, "NOT_FOUND", { [kind]: String(id), ...details });
}

/** The contract's rule, checked before sending: the transaction would be refused (exit code 4). */
export function refuse(message: string, details: Record<string, unknown> = {}): never {
  throw new CliError(message, "REFUSED", details);
}

/**
 * Escapes line breaks, so that a message stays one line even when it quotes an argument (or a library message)
 * that contains some.
 */
export function oneLine(message: string): string {
  return message.replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

// ------------------------------------------------------------------ any error as one sentence

/** Codes of the SDK's and oracle's TriadErrors, in the CLI's classes (others keep their message, code FAILED). */
const SDK_CODES: Record<string, ErrorCode> = {
  NOT_FOUND: "NOT_FOUND",
  CONTRACT_REFUSED: "CONTRACT_REFUSED",
  INVALID_INPUT: "INVALID_INPUT",
  EVIDENCE_INVALID: "INVALID_INPUT",
  DEPLOYMENT_NOT_FOUND: "NO_DEPLOYMENT",
  WITHDRAW_TOO_MUCH: "REFUSED",
  NO_REQUEST: "REFUSED",
  EVIDENCE_STORE_UNREACHABLE: "NETWORK_UNREACHABLE",
  EVIDENCE_STORE_REFUSED: "FAILED",
  IPFS_NOT_FOUND: "NOT_FOUND",
  IPFS_UNAVAILABLE: "NETWORK_UNREACHABLE",
};

/** ethers error codes of a provider that failed to answer (not a refusal). */
const NETWORK_CODES = new Set(["NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"]);
const SOCKET_CODES = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN|socket hang up|fetch failed/i;

/**
 * Any error as a {@link CliError}: ours as they are; the SDK's by their code; a revert as its contract error's
 * sentence (amounts in tokens with `explain.token`, times relative to `explain.now`); a node that stopped answering
 * as NETWORK_UNREACHABLE; anything else as its short message (code FAILED).
 */
export function toCliError(err: unknown, explain: ExplainContext & { network?: string } = {}): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof TriadError) {
    return new CliError(
      err.message,
      SDK_CODES[err.code] ?? "FAILED",
      { ...err.details, ...(SDK_CODES[err.code] ? {} : { sdkCode: err.code }) },
      { cause: err },
    );
  }
  const contract = explainContractError(err, explain);
  if (contract) return new CliError(contract.message, contract.code as ErrorCode, contract.details, { cause: err });
  const e = err as { code?: string; shortMessage?: string; message?: string; value?: unknown; info?: unknown; cause?: { code?: string } };
  const where = explain.network ? ` at ${explain.network}` : "";
  if (e?.code === "INSUFFICIENT_FUNDS" || /doesn't have enough funds|insufficient funds/i.test(e?.message ?? "")) {
    return new CliError(`the acting account has not enough ETH to pay for gas${where}`, "INSUFFICIENT_FUNDS", {}, { cause: err });
  }
  if (e?.code === "BAD_DATA" && e.value === "0x") {
    return new CliError(
      `a contract of the deployment answered nothing${where}: the deployment record does not match this chain (deploy again, or check TRIAD_DEPLOYMENTS_DIR and --rpc-url)`,
      "STALE_DEPLOYMENT",
      {},
      { cause: err },
    );
  }
  const text = `${e?.message ?? ""} ${e?.cause?.code ?? ""}`;
  if (NETWORK_CODES.has(e?.code ?? "") || SOCKET_CODES.test(text)) {
    return new CliError(
      `lost the connection to the node${where}: ${e?.shortMessage ?? e?.message ?? String(err)}`,
      "NETWORK_UNREACHABLE",
      {},
      {
        cause: err,
      },
    );
  }
  return new CliError(e?.shortMessage ?? e?.message ?? String(err), "FAILED", {}, { cause: err });
}

/** One line for an error (see {@link toCliError}). */
export function describeError(err: unknown, explain: ExplainContext = {}): string {
  return toCliError(err, explain).message;
}

// ------------------------------------------------------------------ argument parsing

export function parseAddress(value: string | undefined, name: string): string {
  if (!value || !isAddress(value)) fail(`--${name} must be a 0x-prefixed 20-byte address, got "${value ?? ""}"`);
  return getAddress(value);
}

/** A private key from `--<name>`. */
export function parsePrivateKey(value: string | undefined, name: string): string {
  return checkPrivateKey(value, `--${name}`);
}

/**
 * A private key from the option or variable `label` (`--device-key`, `TRIAD_PRIVATE_KEY`): the SDK's parsePrivateKey,
 * which names `label` and never echoes the key, refusing as a CliError. Checked here rather than left to the signing
 * library, whose own refusal does not say which argument it is about.
 */
export function checkPrivateKey(value: string | undefined, label: string): string {
  try {
    return parseKey(value, label);
  } catch (err) {
    if (err instanceof InvalidInputError) fail(err.message);
    throw err;
  }
}

export function parseUint(value: string | undefined, name: string, { min = 0n, max }: { min?: bigint; max?: bigint } = {}): bigint {
  if (value === undefined || !/^\d+$/.test(value.trim())) fail(`--${name} must be a whole number, got "${value ?? ""}"`);
  const n = BigInt(value.trim());
  if (n < min) fail(`--${name} must be at least ${min}, got ${n}`);
  if (max !== undefined && n > max) fail(`--${name} must be at most ${max}, got ${n}`);
  return n;
}

/**
 * Whole tokens ("100", "12.5", "1e3") → base units of a token with `decimals`, exactly. `max` (base units) is the
 * largest value the contract field holds, named in the error by `maxLabel` ("the largest price") with `symbol`.
 */
export function parseAmount(
  value: string | undefined,
  name: string,
  decimals: number,
  limit: { max?: bigint; maxLabel?: string; symbol?: string } = {},
): bigint {
  try {
    return parseTokenAmount(value, decimals, { label: `--${name}`, ...limit });
  } catch (err) {
    if (err instanceof InvalidInputError) fail(err.message);
    throw err;
  }
}

/** Base units as whole tokens, exactly ("12.5"); {@link formatTokens} of the SDK adds the symbol. */
export function formatAmount(units: bigint, decimals: number): string {
  return formatUnitsExact(units, decimals);
}

/** The largest value of a `uint<bits>` field (prices, coverage and claim amounts are uint128 in the contracts). */
export const uintMax = (bits: number): bigint => 2n ** BigInt(bits) - 1n;

/** A comma-separated list, blanks trimmed, empty items dropped. */
export function parseList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Why a file could not be read or written: its error code (ENOENT, …) or message. */
export function fileError(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
