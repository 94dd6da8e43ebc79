/**
 * `triad <command> [options]`: the user and operator CLI of a Triad deployment, against any JSON-RPC node (no
 * Hardhat project needed). This file only parses argv and dispatches: each command is a function `(ctx, args) =>
 * Promise<result>` in its group's module (devices, market, insurance, evidence, chain); the result is printed as
 * human lines or, with `--json`, as one JSON object.
 *
 * A failure is one `error: <sentence>` line on stderr, or with `--json` one object `{"error":{"code","message",
 * "details"}}` on stdout, and an exit code by class (lib/common.ts EXIT_CODES: 1 failed, 2 usage, 3 not found,
 * 4 refused, 5 network). `--verbose` adds the underlying error with its stack trace; nothing else ever prints one.
 */
import { readFileSync, realpathSync } from "node:fs";
import { inspect, parseArgs } from "node:util";
import { JsonRpcProvider, type JsonRpcApiProvider } from "ethers";
import { chainCommands } from "./chain.ts";
import { claimCheckCommands } from "./claim-check.ts";
import { deviceCommands } from "./devices.ts";
import { evidenceCommands } from "./evidence.ts";
import { insuranceCommands } from "./insurance.ts";
import {
  ACCOUNT_OPTION_NAMES,
  allOptions,
  camelCase,
  commandHelp,
  mainHelp,
  type CommandResult,
  type CommandSpec,
  type OptionSpec,
} from "./lib/command.ts";
import { fail, oneLine, toCliError, usage } from "./lib/common.ts";
import { createContext, type AccountChoice, type Context, type ProgressOutput } from "./lib/context.ts";
import { marketCommands } from "./market.ts";

/** Every command, in help order (evidence:build and claim:check next to the policy and claim commands they serve). */
export const COMMANDS: readonly CommandSpec[] = [
  ...deviceCommands,
  ...marketCommands,
  ...insuranceCommands.flatMap((c) =>
    c.name === "policy:buy" ? [c, ...evidenceCommands] : c.name === "claim:file" ? [...claimCheckCommands, c] : [c],
  ),
  ...chainCommands,
];

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

const SERVICES_HELP = `
Services (each with its own --help):
  device    The device agent: signs readings and publishes them over MQTT (triad device run|fleet|keygen)
  gateway   The gateway: MQTT ingest, verification, durable store, HTTP API (triad gateway run)
  ipfs      An IPFS node serving what --ipfs-dir published, to the oracles and buyers (triad ipfs serve)
`;

interface Writable {
  write(chunk: string): unknown;
  /** A terminal (progress output goes only there). */
  isTTY?: boolean;
}

export interface RunCliOptions {
  /**
   * The chain to talk to instead of `--rpc-url` (tests: `new ethers.BrowserProvider(connection.provider)` of the
   * in-process chain). The caller keeps it: runCli does not destroy it.
   */
  provider?: JsonRpcApiProvider;
  /** How messages name the chain (default: the RPC URL). */
  network?: string;
  stdout?: Writable;
  stderr?: Writable;
  /**
   * Where progress lines of slow steps go (default: stderr when it is a terminal and the output is not --json);
   * `null` turns them off.
   */
  progress?: ProgressOutput | null;
}

/** Runs one command line (without the program name); resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  // Known before parsing, so that even a command line that cannot be parsed fails in the form asked for.
  const json = argv.includes("--json");
  const verbose = argv.includes("--verbose");
  let own: JsonRpcProvider | undefined;
  let ctx: Context | undefined;
  let network: string | undefined;
  try {
    const [name, ...rest] = argv;
    if (name === undefined) usage("no command given (run triad --help for the list of commands)");
    if (name === "--help" || name === "-h" || name === "help") {
      const about = name === "help" && rest[0] !== undefined ? findCommand(rest[0]) : undefined;
      stdout.write(about ? commandHelp(about) : mainHelp(COMMANDS, version()) + SERVICES_HELP);
      return 0;
    }
    // The long-running parts have their own command lines (and their own --help): the device agent and the gateway.
    if (name === "device") return await (await import("@triad/device")).runDeviceCli([...rest]);
    if (name === "gateway") return await (await import("@triad/gateway")).runGatewayCli([...rest]);
    if (name === "ipfs") return await (await import("./ipfs-service.ts")).runIpfsCli([...rest], { stdout, env: process.env });
    if (name === "--version" || name === "-v") {
      stdout.write(`${version()}\n`);
      return 0;
    }
    const spec = findCommand(name);
    const line = parseCommandLine(spec, rest);
    if (line.help) {
      stdout.write(commandHelp(spec));
      return 0;
    }
    const rpcUrl = line.rpcUrl ?? (process.env.TRIAD_RPC_URL || DEFAULT_RPC_URL);
    network = options.network ?? (options.provider ? "(in-process)" : rpcUrl);
    const provider = options.provider ?? (own = await connect(rpcUrl));
    const progress = options.progress === null || json ? undefined : (options.progress ?? (stderr.isTTY ? stderr : undefined));
    ctx = createContext({ provider, network, account: line.account, progress });
    const result = await spec.run(ctx, line.args);
    stdout.write(render(result, line.json));
    return 0;
  } catch (err) {
    const explain = ctx ? await ctx.explainContext().catch(() => ({})) : {};
    const error = toCliError(err, { ...explain, network });
    if (json) stdout.write(`${jsonLine({ error: { code: error.code, message: oneLine(error.message), details: error.details } })}\n`);
    else stderr.write(`error: ${oneLine(error.message)}\n`);
    if (verbose) stderr.write(`${inspect(error.cause ?? error, { depth: 6 })}\n`);
    return error.exitCode;
  } finally {
    own?.destroy();
  }
}

function findCommand(name: string): CommandSpec {
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) usage(`unknown command "${name}" (run triad --help for the list of commands)`);
  return spec;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** One JSON line, bigint values as decimal strings. */
function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** The result as human lines, or one JSON line. */
function render(result: CommandResult, json: boolean): string {
  if (json) return `${jsonLine(result.data)}\n`;
  return result.lines.map((l) => `${l}\n`).join("");
}

// ------------------------------------------------------------------ argv

interface CommandLine {
  help: boolean;
  json: boolean;
  rpcUrl?: string;
  account: AccountChoice;
  /** The command's own options by camelCase name, defaults filled in; flags are booleans. */
  args: Record<string, string | boolean | undefined>;
}

/**
 * Parses the options of `spec` with node:util parseArgs (tokens, so that each mistake gets its own message). An
 * option's value may start with a dash (`--start-seq -1` reaches the command, which says what is wrong with it),
 * except another option of the command: `--from --json` means the value was forgotten.
 */
function parseCommandLine(spec: CommandSpec, argv: readonly string[]): CommandLine {
  const { own, account, connection } = allOptions(spec);
  const known = new Map<string, OptionSpec>([...own, ...account, ...connection].map((o) => [o.name, o]));
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries([...known.values()].map((o) => [o.name, { type: o.type ?? "string" }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const see = `(see triad ${spec.name} --help)`;
  if (tokens.some((t) => t.kind === "option" && t.name === "help" && known.has(t.name))) {
    return { help: true, json: false, account: {}, args: {} };
  }
  const values = new Map<string, string | boolean>();
  for (const t of tokens) {
    if (t.kind === "positional") usage(`unexpected argument "${t.value}": options are written --name <value> ${see}`);
    if (t.kind !== "option") continue;
    const o = known.get(t.name);
    if (!o || t.rawName !== `--${o.name}`) usage(`unknown option ${t.rawName} for ${spec.name} ${see}`);
    if (values.has(o.name)) usage(`--${o.name} is given twice`);
    if ((o.type ?? "string") === "boolean") {
      if (t.value !== undefined) usage(`--${o.name} takes no value`);
      values.set(o.name, true);
    } else {
      if (t.value === undefined) usage(`--${o.name} needs a value ${see}`);
      if (!t.inlineValue && t.value.startsWith("--") && known.has(t.value.slice(2).split("=")[0]))
        usage(`--${o.name} needs a value ${see}`);
      values.set(o.name, t.value);
    }
  }
  for (const o of spec.options) if (o.required && !values.has(o.name)) usage(`missing --${o.name} ${see}`);
  const accounts = ACCOUNT_OPTION_NAMES.filter((n) => values.has(n));
  if (accounts.length > 1)
    usage(`use only one of --from, --private-key and --keystore (got ${accounts.map((n) => `--${n}`).join(" and ")})`);

  const args: CommandLine["args"] = {};
  for (const o of spec.options) {
    const v = values.get(o.name);
    args[camelCase(o.name)] = o.type === "boolean" ? v === true : ((v as string | undefined) ?? o.default);
  }
  const str = (name: string) => values.get(name) as string | undefined;
  return {
    help: false,
    json: values.get("json") === true,
    rpcUrl: str("rpc-url"),
    account: { from: str("from"), privateKey: str("private-key"), keystore: str("keystore") },
    args,
  };
}

// ------------------------------------------------------------------ connection

/**
 * A JSON-RPC provider for `url`, its chain id asked once up front: an unreachable node is one clear error instead
 * of ethers' endless network detection.
 */
async function connect(url: string): Promise<JsonRpcProvider> {
  if (!/^https?:\/\/[^\s/]+/i.test(url)) fail(`--rpc-url must be an http:// or https:// URL, got "${url}"`);
  let chainId: bigint;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json()) as { result?: string; error?: { message?: string } };
    if (typeof body.result !== "string") throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    chainId = BigInt(body.result);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    fail(
      `cannot reach a JSON-RPC node at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message} (start one, e.g. npx hardhat node, or pass --rpc-url)`,
      "NETWORK_UNREACHABLE",
      { url },
    );
  }
  // cacheTimeout -1: a command reads state again after its own transactions and must see the new values.
  return new JsonRpcProvider(url, chainId, { staticNetwork: true, cacheTimeout: -1 });
}

// ------------------------------------------------------------------ program

/** The program: `.env` of the working directory, the command line, the exit code (after stdout and stderr drain). */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  try {
    (await import("dotenv")).config({ quiet: true });
  } catch {
    // No dotenv, or an unreadable .env: the environment alone configures the CLI.
  }
  const code = await runCli(argv);
  process.exitCode = code;
  // Exit once both streams have drained, even if an idle connection would keep the event loop alive.
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(import.meta.filename);
  } catch {
    return false;
  }
})();
if (invokedDirectly) await main();
