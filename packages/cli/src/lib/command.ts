import { EXIT_CODES } from "./common.ts";
import type { Context } from "./context.ts";

/**
 * How a command is described: its options (kebab-case on the command line, camelCase in the args object its
 * function receives), help text, and whether it acts as an account. The dispatcher (src/cli.ts) parses argv against
 * this, builds the {@link Context} and calls `run`; the command returns its {@link CommandResult} and never prints.
 */

export interface OptionSpec {
  /** kebab-case, without the dashes: `device-key`. */
  name: string;
  /** A flag (no value) or an option with a value. */
  type?: "string" | "boolean";
  /** What the value looks like in help: `<hex>`, `<file>`. */
  value?: string;
  description: string;
  required?: boolean;
  /** Filled in when the option is absent. */
  default?: string;
}

/** What a command produced: one JSON object (`--json`) and the human lines. bigint values print as decimal strings. */
export interface CommandResult {
  data: Record<string, unknown>;
  lines: string[];
}

export interface CommandSpec {
  /** `device:register`. */
  name: string;
  /** Group heading in `triad --help`. */
  group: string;
  summary: string;
  options: OptionSpec[];
  /**
   * The account the command acts (or reads) as, for the help of `--from` / `--private-key` / `--keystore`
   * (e.g. "the device owner"); absent when the command uses no account.
   */
  account?: string;
  /** The command itself: args by camelCase option name (flags are booleans, absent options undefined). */
  // Commands declare their own, narrower argument types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  run: (ctx: Context, args: any) => Promise<CommandResult>;
}

/** `device-key` → `deviceKey`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Options every command takes. */
export const JSON_OPTION: OptionSpec = { name: "json", type: "boolean", description: "Print one JSON object instead of human output" };
export const HELP_OPTION: OptionSpec = { name: "help", type: "boolean", description: "Show this help" };
export const VERBOSE_OPTION: OptionSpec = {
  name: "verbose",
  type: "boolean",
  description: "On failure, also print the underlying error with its stack trace (for bug reports)",
};
/** The guard rail of commands whose values look like a mistake (tiny amounts): go ahead anyway. */
export const YES_OPTION: OptionSpec = { name: "yes", type: "boolean", description: "Go ahead even when a value looks like a mistake" };
export const RPC_OPTION: OptionSpec = {
  name: "rpc-url",
  value: "<url>",
  description: "JSON-RPC endpoint of the chain (default: $TRIAD_RPC_URL, else http://127.0.0.1:8545)",
};

/** The three ways to name the acting account; `role` says whose account it is. */
export function accountOptions(role: string): OptionSpec[] {
  return [
    {
      name: "from",
      value: "<index|address>",
      description: `${role}: an account the node manages (eth_accounts), by index (0, 1, …) or address (default: $TRIAD_PRIVATE_KEY if set, else the node's first account)`,
    },
    {
      name: "private-key",
      value: "<hex>",
      description: `${role}: use this private key (prefer $TRIAD_PRIVATE_KEY: a command line is visible to other users)`,
    },
    {
      name: "keystore",
      value: "<file>",
      description: `${role}: use this encrypted JSON keystore; its password comes from $TRIAD_KEYSTORE_PASSWORD`,
    },
  ];
}

export const ACCOUNT_OPTION_NAMES = ["from", "private-key", "keystore"] as const;

/** Every option a command accepts on the command line, in help order. */
export function allOptions(spec: CommandSpec): { own: OptionSpec[]; account: OptionSpec[]; connection: OptionSpec[] } {
  return {
    own: [...spec.options, JSON_OPTION],
    account: spec.account ? accountOptions(spec.account) : [],
    connection: [RPC_OPTION, VERBOSE_OPTION, HELP_OPTION],
  };
}

function optionLabel(o: OptionSpec): string {
  return o.type === "boolean" ? `--${o.name}` : `--${o.name} ${o.value ?? "<value>"}`;
}

/** Two columns; `width` aligns several tables of one help text. */
function table(rows: [string, string][], width = Math.max(...rows.map(([l]) => l.length))): string[] {
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`);
}

/** `triad <command> --help`. */
export function commandHelp(spec: CommandSpec): string {
  const { own, account, connection } = allOptions(spec);
  const required = spec.options.filter((o) => o.required).map(optionLabel);
  const describe = (o: OptionSpec): [string, string] => [
    optionLabel(o),
    `${o.description}${o.required ? " (required)" : ""}${o.default !== undefined ? ` (default: ${o.default})` : ""}`,
  ];
  const width = Math.max(...[...own, ...account, ...connection].map((o) => optionLabel(o).length));
  const lines = [
    `Usage: triad ${spec.name}${required.length ? ` ${required.join(" ")}` : ""} [options]`,
    "",
    spec.summary,
    "",
    "Options:",
    ...table(own.map(describe), width),
  ];
  if (account.length > 0) {
    lines.push("", "Account (at most one of these):", ...table(account.map(describe), width));
  }
  lines.push("", "Connection:", ...table(connection.map(describe), width));
  return lines.join("\n") + "\n";
}

/** What each exit code means, and the error codes in its class (from {@link EXIT_CODES}, so the help cannot drift). */
export const EXIT_CLASSES: readonly [number, string][] = [
  [0, "success"],
  [1, "failed: a bad value, a file, a guard rail (pass --yes or --force if you mean it), evidence not anchored yet"],
  [2, "usage: the command line cannot be parsed"],
  [3, "not found: the claim, policy, listing, purchase, product or device does not exist"],
  [
    4,
    "refused: the contract refuses it (or would: the CLI checks some of its rules before sending), or the committee would reject the claim (claim:check)",
  ],
  [5, "network: no node at the RPC URL, or no Triad deployment on its chain"],
];

function exitCodeHelp(): string[] {
  return EXIT_CLASSES.flatMap(([exit, meaning]) => {
    const codes = Object.entries(EXIT_CODES)
      .filter(([, e]) => e === exit)
      .map(([code]) => code);
    return [`  ${exit}  ${meaning}`, ...(codes.length ? [`       ${codes.join(", ")}`] : [])];
  });
}

/** `triad --help`. */
export function mainHelp(specs: readonly CommandSpec[], version: string): string {
  const lines = [
    `triad ${version}: devices, readings, the data marketplace, the insurance pool, policies and claims of a Triad deployment`,
    "",
    "Usage: triad <command> [options]",
    "       triad <command> --help      every option of a command",
    "",
  ];
  const groups = [...new Set(specs.map((s) => s.group))];
  const rows = specs.map((s): [string, string] => [s.name, s.summary]);
  const width = Math.max(...rows.map(([l]) => l.length));
  for (const group of groups) {
    lines.push(`${group}:`);
    for (const s of specs.filter((x) => x.group === group)) lines.push(`  ${s.name.padEnd(width)}  ${s.summary}`);
    lines.push("");
  }
  const W = 24;
  lines.push(
    "Options of every command:",
    ...table(
      [
        ["--rpc-url <url>", "JSON-RPC endpoint (default: $TRIAD_RPC_URL, else http://127.0.0.1:8545)"],
        ["--json", 'print one JSON object instead of human output (an error too: {"error":{code,message,details}})'],
        ["--verbose", "on failure, also print the underlying error and its stack trace"],
        ["--help", "the command's options"],
      ],
      W,
    ),
    "",
    "Acting account (commands that send transactions or read as an account), at most one of:",
    ...table(
      [
        ["--from <index|address>", "an account the node manages (eth_accounts): local nodes such as `npx hardhat node`"],
        ["--private-key <hex>", "a private key (or $TRIAD_PRIVATE_KEY, used when none of these options is given)"],
        ["--keystore <file>", "an encrypted JSON keystore, password in $TRIAD_KEYSTORE_PASSWORD"],
      ],
      W,
    ),
    "  (default: $TRIAD_PRIVATE_KEY if set, else the node's first account)",
    "",
    "Environment:",
    ...table(
      [
        ["TRIAD_RPC_URL", "default --rpc-url"],
        ["TRIAD_PRIVATE_KEY", "default acting account (hex private key)"],
        ["TRIAD_KEYSTORE_PASSWORD", "password of the --keystore file"],
        ["TRIAD_DEPLOYMENTS_DIR", "folder of the deployment records <chainId>.json (default: ./deployments)"],
        ["TRIAD_EVIDENCE_STORE", "evidence store of claim:file (default: http://127.0.0.1:8787)"],
      ],
      W,
    ),
    "",
    "Amounts are whole tokens (12.5, 1e3); token amounts print with the token's symbol, times as UTC dates with how far",
    "they are from the chain's time. A failure prints one `error: …` line on stderr (with --json: one JSON object",
    '{"error":{"code","message","details"}} on stdout), never a stack trace unless --verbose.',
    "",
    "Exit codes (and the codes of --json errors):",
    ...exitCodeHelp(),
    "",
    "Variables may also come from a .env file in the working directory.",
  );
  return lines.join("\n") + "\n";
}
