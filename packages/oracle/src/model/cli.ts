/** What the model's command-line scripts (train, model:eval, model:hash) share: argument parsing and error exits. */
import { parseArgs } from "util";
import { InvalidInputError, TriadError } from "@triad/sdk";

type OptionSpec = Record<string, { type: "string" | "boolean"; default?: string | boolean }>;

/** Parses `--name value` options; an unknown option or a stray argument is an InvalidInputError naming it. */
export function parseCliOptions<T extends OptionSpec>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new InvalidInputError(`${(e as Error).message.split("\n")[0]} (usage: ${usage})`);
  }
}

/**
 * Runs a CLI entry point: a failure prints one line `error: …` on stderr (no stack trace) and exits with code 1.
 * Set TRIAD_DEBUG=1 to see the stack.
 */
export function runCli(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      const message = e instanceof TriadError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
      process.stderr.write(`error: ${message}\n`);
      if (process.env.TRIAD_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ""}\n`);
      process.exit(1);
    },
  );
}

/** Reads a text file for a CLI; a missing or unreadable file is one clear InvalidInputError. */
export async function readTextFile(file: string, what: string): Promise<string> {
  const { promises: fs } = await import("fs");
  try {
    return await fs.readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    throw new InvalidInputError(`cannot read ${what} ${file}: ${reason}`, { file });
  }
}
