import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Signer } from "ethers";
import { TriadError, loadDeployment, type ContractName, type DeploymentRecord } from "../../sdk";

/**
 * Shared plumbing of the task CLI: argument validation with one clear error line, the `--from` account, the
 * deployment record of the active chain, and output as human lines or one JSON object (`--json`).
 */

export const PLUGIN = "triad";

/** Stops the task with one clear line. */
export function fail(message: string): never {
  throw new HardhatPluginError(PLUGIN, message);
}

/**
 * Runs a task body. Any failure becomes one line on stderr (`error: …`) and exit code 1: Hardhat itself would print
 * a stack trace on servers without a display, which is not what a user of the CLI should have to read.
 * `DEBUG=1` prints the underlying error too.
 */
export function action<A>(body: (args: A, hre: HardhatRuntimeEnvironment) => Promise<void>) {
  return async (args: A, hre: HardhatRuntimeEnvironment) => {
    try {
      await body(args, hre);
    } catch (err) {
      const message = err instanceof HardhatPluginError ? err.message : describeError(err, hre);
      console.error(`error: ${oneLine(message)}`);
      if (process.env.DEBUG) console.error(err);
      process.exitCode = 1;
    }
  };
}

/**
 * Escapes line breaks, so that a message stays one line even when it quotes an argument (or a library message)
 * that contains some.
 */
function oneLine(message: string): string {
  return message.replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}

/** One line for an error: a Triad error's message, a contract's custom error with its arguments, or the message. */
export function describeError(err: unknown, hre?: HardhatRuntimeEnvironment): string {
  if (err instanceof TriadError) return err.message;
  const e = err as { revert?: { name: string; args: unknown[] }; shortMessage?: string; message?: string; data?: string };
  if (e?.revert?.name) return `reverted: ${e.revert.name}(${e.revert.args.map(String).join(", ")})`;
  const custom = /reverted with custom error '([^']+)'/.exec(e?.message ?? "");
  if (custom) return `reverted: ${custom[1].replace(/"/g, "")}`;
  if (e?.data && hre) {
    const decoded = decodeCustomError(e.data, hre);
    if (decoded) return `reverted: ${decoded}`;
  }
  return e?.shortMessage ?? e?.message ?? String(err);
}

function decodeCustomError(data: string, hre: HardhatRuntimeEnvironment): string | undefined {
  for (const name of ["DeviceRegistry", "ClaimsInsurance", "InsurancePool", "OracleCommittee", "DataMarketplace"]) {
    try {
      const iface = hre.artifacts.readArtifactSync(name).abi;
      const parsed = new hre.ethers.Interface(iface).parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
    } catch {
      // Not this contract's error (or the artifact is absent): try the next.
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ argument parsing

export function parseAddress(hre: HardhatRuntimeEnvironment, value: string | undefined, name: string): string {
  if (!value || !hre.ethers.isAddress(value)) fail(`--${name} must be a 0x-prefixed 20-byte address, got "${value ?? ""}"`);
  return hre.ethers.getAddress(value);
}

/** Order of the secp256k1 group: a private key is a number in [1, N). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function parsePrivateKey(value: string | undefined, name: string): string {
  const v = value?.trim() ?? "";
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(v)) fail(`--${name} must be a 32-byte hex private key (64 hex digits), got "${mask(v)}"`);
  const key = v.startsWith("0x") ? v : `0x${v}`;
  // Checked here: the signing library's own refusal does not say which argument it is about.
  const n = BigInt(key);
  if (n === 0n || n >= SECP256K1_N) fail(`--${name} must be a secp256k1 private key: a number from 1 to the curve order - 1`);
  return key;
}

function mask(v: string): string {
  return v.length > 10 ? `${v.slice(0, 6)}…(${v.length} chars)` : v;
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

// ------------------------------------------------------------------ accounts and deployment

/**
 * The signer a task acts as: the active network's first account, unless `--from` names another local account by
 * index (0, 1, …) or address.
 */
export async function signerFor(hre: HardhatRuntimeEnvironment, from: string | undefined): Promise<Signer> {
  const signers = await hre.ethers.getSigners();
  if (signers.length === 0) fail(`network ${hre.network.name} has no accounts configured`);
  if (from === undefined || from === "") return signers[0];
  if (/^\d+$/.test(from)) {
    const i = Number(from);
    if (i >= signers.length) fail(`--from ${from}: network ${hre.network.name} has ${signers.length} accounts (0..${signers.length - 1})`);
    return signers[i];
  }
  const addr = parseAddress(hre, from, "from");
  const match = signers.find((s) => s.address === addr);
  if (!match) fail(`--from ${addr} is not one of the accounts of network ${hre.network.name}`);
  return match;
}

/** The deployment record of the active chain, with the contracts the task needs. */
export async function deploymentFor(hre: HardhatRuntimeEnvironment, required: readonly ContractName[]): Promise<DeploymentRecord> {
  const { chainId } = await hre.ethers.provider.getNetwork();
  try {
    return loadDeployment(chainId, { required });
  } catch (err) {
    fail(`${describeError(err)} — network ${hre.network.name}`);
  }
}

// ------------------------------------------------------------------ output

/** Prints one JSON object (with `--json`) or the human lines. bigint values are printed as decimal strings. */
export function output(json: boolean, object: Record<string, unknown>, human: readonly string[]): void {
  if (json) {
    console.log(JSON.stringify(object, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
  } else {
    for (const line of human) console.log(line);
  }
}
