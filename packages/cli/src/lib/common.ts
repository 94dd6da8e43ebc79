import { Interface, getAddress, isAddress, type ErrorFragment, type InterfaceAbi } from "ethers";
import {
  ClaimsInsurance__factory,
  DataMarketplace__factory,
  DeviceRegistry__factory,
  InsurancePool__factory,
  OracleCommittee__factory,
  TestToken__factory,
} from "@triad/contracts";
import { InvalidInputError, TriadError, parsePrivateKey as parseKey } from "@triad/sdk";

/**
 * Shared plumbing of the `triad` commands: the two kinds of failure (a refused run, exit code 1; a command line that
 * cannot be parsed, exit code 2), argument parsers that fail with one clear line, amounts, and turning any error
 * (a contract's custom error included) into one line.
 */

/** A command refused to run or failed: one `error: …` line, exit code 1. */
export class CliError extends Error {
  override readonly name: string = "CliError";
  readonly exitCode: number = 1;
}

/** The command line itself is wrong (unknown command or option, a required option missing): exit code 2. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  override readonly exitCode = 2;
}

/** Stops the command with one clear line (exit code 1). */
export function fail(message: string): never {
  throw new CliError(message);
}

/** Stops the command with one clear line about the command line (exit code 2). */
export function usage(message: string): never {
  throw new UsageError(message);
}

/**
 * Escapes line breaks, so that a message stays one line even when it quotes an argument (or a library message)
 * that contains some.
 */
export function oneLine(message: string): string {
  return message.replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

// ------------------------------------------------------------------ errors of the contracts

/** The ABIs whose custom errors a revert may carry: every contract the CLI talks to (and the ERC-20 errors). */
const ABIS: readonly InterfaceAbi[] = [
  DeviceRegistry__factory.abi,
  DataMarketplace__factory.abi,
  InsurancePool__factory.abi,
  ClaimsInsurance__factory.abi,
  OracleCommittee__factory.abi,
  TestToken__factory.abi,
];

let errorsInterface: Interface | undefined;

/** One Interface holding the custom errors of all the contracts (each signature once). */
export function contractErrors(): Interface {
  if (!errorsInterface) {
    const seen = new Set<string>();
    const fragments: ErrorFragment[] = [];
    for (const abi of ABIS) {
      for (const fragment of new Interface(abi).fragments) {
        if (fragment.type !== "error") continue;
        const signature = fragment.format("sighash");
        if (seen.has(signature)) continue;
        seen.add(signature);
        fragments.push(fragment as ErrorFragment);
      }
    }
    errorsInterface = new Interface(fragments);
  }
  return errorsInterface;
}

/** `Name(arg, …)` of revert data that is one of the contracts' custom errors, else undefined. */
export function decodeCustomError(data: string): string | undefined {
  try {
    const parsed = contractErrors().parseError(data);
    if (parsed) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
  } catch {
    // Not revert data of a known error.
  }
  return undefined;
}

/** One line for an error: a Triad error's message, a contract's custom error with its arguments, or the message. */
export function describeError(err: unknown): string {
  if (err instanceof CliError || err instanceof TriadError) return err.message;
  const e = err as { revert?: { name: string; args: unknown[] }; shortMessage?: string; message?: string; data?: unknown };
  if (e?.revert?.name) return `reverted: ${e.revert.name}(${e.revert.args.map(String).join(", ")})`;
  if (typeof e?.data === "string" && /^0x[0-9a-fA-F]{8}/.test(e.data)) {
    const decoded = decodeCustomError(e.data);
    if (decoded) return `reverted: ${decoded}`;
  }
  const custom = /reverted with custom error '([^']+)'/.exec(e?.message ?? "");
  if (custom) return `reverted: ${custom[1].replace(/"/g, "")}`;
  return e?.shortMessage ?? e?.message ?? String(err);
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

/** Whole tokens with decimals allowed ("12.5") → base units of a token with `decimals`. */
export function parseAmount(value: string | undefined, name: string, decimals: number): bigint {
  const v = value?.trim() ?? "";
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v);
  if (!m) fail(`--${name} must be an amount in whole tokens such as 100 or 12.5, got "${v}"`);
  const frac = m[2] ?? "";
  if (frac.length > decimals) fail(`--${name} has more than ${decimals} decimals: "${v}"`);
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, "0") || "0");
}

export function formatAmount(units: bigint, decimals: number): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const int = abs / 10n ** BigInt(decimals);
  const frac = (abs % 10n ** BigInt(decimals)).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${int}${frac ? `.${frac}` : ""}`;
}

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
