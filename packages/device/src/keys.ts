/**
 * Device keys on disk: a key file (a hex private key, readable by its owner only) or an encrypted JSON keystore
 * (password from the environment). In production, keep the key in secure hardware instead (see the README).
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { Wallet, id } from "ethers";
import { TriadError } from "@triad/sdk";

export class KeyError extends TriadError {
  override readonly name = "KeyError";
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, "KEY_ERROR", details);
  }
}

/**
 * Reads a key file: one hex private key (with or without 0x; surrounding whitespace ignored). The file must not be
 * readable or writable by group or others (mode 0600 or 0400), like ssh's private keys.
 */
export function loadKeyFile(file: string): Wallet {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (cause) {
    throw new KeyError(`cannot read the key file ${file} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { file });
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new KeyError(
      `the key file ${file} has mode ${(mode & 0o777).toString(8).padStart(4, "0")}: it must be readable by its owner only (chmod 600 ${file})`,
      {
        file,
      },
    );
  }
  const text = readFileSync(file, "utf8").trim();
  const hex = text.startsWith("0x") ? text : `0x${text}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new KeyError(`the key file ${file} does not hold a 32-byte hex private key`, { file });
  try {
    return new Wallet(hex);
  } catch {
    throw new KeyError(`the key file ${file} does not hold a valid secp256k1 private key`, { file });
  }
}

/** Decrypts an encrypted JSON keystore (ethers / geth format). */
export async function loadKeystore(file: string, password: string): Promise<Wallet> {
  let json: string;
  try {
    json = readFileSync(file, "utf8");
  } catch (cause) {
    throw new KeyError(`cannot read the keystore ${file} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { file });
  }
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new Wallet(wallet.privateKey);
  } catch (cause) {
    throw new KeyError(`cannot decrypt the keystore ${file}: ${(cause as Error).message ?? String(cause)}`, { file });
  }
}

/** Generates a new device key and writes it to `file` with mode 0600 (never overwrites an existing file). */
export function generateKeyFile(file: string): Wallet {
  const wallet = Wallet.createRandom();
  try {
    writeFileSync(file, `${wallet.privateKey}\n`, { mode: 0o600, flag: "wx" });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new KeyError(code === "EEXIST" ? `${file} already exists: not overwritten` : `cannot write ${file} (${code ?? String(cause)})`, {
      file,
    });
  }
  return new Wallet(wallet.privateKey);
}

/** The key of device `index` of a simulated fleet, derived from `seed` (test and load use only: anyone knowing the seed has the keys). */
export function fleetKey(seed: string, index: number): Wallet {
  return new Wallet(id(`triad-fleet/v1:${seed}:${index}`));
}
