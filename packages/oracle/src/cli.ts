/**
 * `npm run oracle -- <command>`: the operator CLI of the AI oracle.
 *
 *   run               the daemon (committee member)
 *   assess            assess an evidence bundle file and print the verdict (no chain writes)
 *   audit             recompute a decided claim's verdict and compare it with the chain's
 *   evidence-server   a local content-addressed evidence store over HTTP
 *
 * Configuration comes from ORACLE_* environment variables and `.env` (see packages/oracle/README.md). Output meant for
 * programs is one JSON document on the LAST line of stdout; logs go to stderr (to stdout for `run`).
 */
import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { FetchRequest, JsonRpcProvider, Wallet, WebSocketProvider, type Provider } from "ethers";
import pino, { type Logger } from "pino";
import { TriadError } from "@triad/sdk";
import { auditClaim, assessEvidence } from "./actions.ts";
import type { OracleModel } from "./model/assessment.ts";
import { checkChainId, createRpc, resolveAddresses, shortMessage } from "./chain.ts";
import { ConfigError, loadConfig, type OracleConfig } from "./config.ts";
import { configHelpText } from "./config-help.ts";
import { createOracle } from "./daemon.ts";
import { startEvidenceServer } from "./evidence-server.ts";
import { openConfiguredIpfs } from "./ipfs.ts";

const USAGE = `Usage: npm run oracle -- <command> [options]

Commands:
  run                         run the oracle daemon (needs ORACLE_RPC_URL and a signer)
  assess --evidence <file>    assess an evidence bundle and print the verdict as JSON (no chain writes)
  audit --claim <id>          recompute a decided claim's verdict and compare it with the on-chain one
  evidence-server             serve a content-addressed evidence store over HTTP

Run "npm run oracle -- <command> --help" for a command's options.
Configuration: ORACLE_* environment variables, or a .env file (./.env, or the one given with --dotenv <path>;
variables already in the environment win). See packages/oracle/README.md and .env.example.

Variables:
${configHelpText()}`;

const HELP: Record<string, string> = {
  run: `Usage: npm run oracle -- run [--dotenv <path>]

Runs the oracle daemon: reads ClaimFiled events from the checkpoint (behind ORACLE_CONFIRMATIONS blocks), checks
each claim's evidence, runs the model, signs the EIP-712 Verdict as a committee member and submits it. Serves
/healthz and /metrics on ORACLE_METRICS_HOST:ORACLE_METRICS_PORT. SIGINT/SIGTERM stop it gracefully (a second
signal exits at once; the checkpoint stays correct either way).

Required: ORACLE_RPC_URL, and ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE_FILE + ORACLE_KEYSTORE_PASSWORD.
Contract addresses: ORACLE_CLAIMS_ADDRESS, ORACLE_REGISTRY_ADDRESS, ORACLE_COMMITTEE_ADDRESS, or deployments/<chainId>.json.`,
  assess: `Usage: npm run oracle -- assess --evidence <file> [--claim <id>] [--dotenv <path>]

Assesses an evidence bundle (triad.evidence/v2; a v1 bundle, without anchors, is refused as NOT_ANCHORED) with the
local model and prints the result as JSON on the last line of stdout. Nothing is written to the chain.
Without ORACLE_RPC_URL, reading signatures, Merkle proofs and completeness are checked in the domain the bundle names
and the chain checks (evidence hash, policy device, device status, policy period, incidentAt, anchors) are listed
under "skippedChecks". With ORACLE_RPC_URL the deployment's domain, the device's status and the anchors (on-chain,
by an authorised gateway) are checked too; with --claim as well, every check runs (the product's gateway policy and
maxAnchorDelay, anchors before the filing) and the full Verdict and its EIP-712 digest are printed.

Options:
  --evidence <file>   the bundle file (required)
  --claim <id>        the claim it backs`,
  audit: `Usage: npm run oracle -- audit --claim <id> [--dotenv <path>]

Re-fetches the claim's evidence from its URI, re-runs the checks and the model, rebuilds the Verdict and compares
it with the verdict that decided the claim (VerdictFinalised / getClaim). Prints {"outcome", "match",
"differences": [...], "notes": [...]} as JSON on the last line of stdout. Exit codes:
  0  match: the recomputed verdict is the deciding one
  3  MISMATCH: they differ (see "differences")
  4  nothing to compare: the claim has no committee verdict (yet)
  5  unverifiable now: the evidence could not be fetched (unreachable, or outside ORACLE_EVIDENCE_* rules); not a mismatch
Needs ORACLE_RPC_URL.`,
  "evidence-server": `Usage: npm run oracle -- evidence-server [--port <n>] [--host <addr>] [--dir <path>] [--max-bytes <n>]
         [--token-file <path> | --open-uploads] [--quota <bytes/min>] [--max-total-bytes <n>]

Serves a content-addressed evidence store: PUT/POST /evidence (body = bundle, with Authorization: Bearer <token>)
answers {"hash","uri"}; GET /evidence/<0x keccak256> returns the exact bytes. A local stand-in for IPFS or object
storage. Uploads need the token (ORACLE_EVIDENCE_SERVER_TOKEN, or --token-file): 401 without, 403 with another;
without a token uploads are refused, unless --open-uploads (loopback addresses only: tests and demos). Uploads must
be evidence bundles (422 otherwise), within a per-client quota (429) and the store's bound (507).

Options:
  --port <n>              port (default 8787; 0 = any free port)
  --host <addr>           bind address (default 127.0.0.1)
  --dir <path>            persist bundles in this directory (default: in memory)
  --max-bytes <n>         largest accepted bundle (default 1048576)
  --token-file <path>     file holding the upload token (default: $ORACLE_EVIDENCE_SERVER_TOKEN)
  --open-uploads          accept uploads without a token (only with a loopback --host)
  --quota <n>             bytes one client may upload per minute (default 8388608)
  --max-total-bytes <n>   bound on the bytes stored, in memory or in --dir (default 268435456)`,
};

/** Exit codes of `audit` by outcome: a mismatch (3) is never confused with an audit that could not compare. */
export const AUDIT_EXIT_CODES = { match: 0, mismatch: 3, "no-verdict": 4, unverifiable: 5 } as const;

class UsageError extends TriadError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, "USAGE");
  }
}

function stderrLogger(config: Pick<OracleConfig, "logLevel">): Logger {
  return pino({ level: config.logLevel, base: { service: "triad-oracle" } }, pino.destination(2));
}

/** Loads the model module lazily (it pulls in TensorFlow.js, which `evidence-server` does not need). */
async function loadOracleModel(config: OracleConfig, logger: Logger): Promise<OracleModel> {
  const { loadModel } = await import("./model/index.ts");
  const model = await loadModel(config.modelDir, { backend: config.tfjsBackend });
  logger.info({ modelHash: model.modelHash, backend: model.backend, dir: config.modelDir ?? "packages/oracle/model" }, "model loaded");
  return model;
}

/** A provider for ORACLE_RPC_URL whose chain id is checked once (no retry storm when the node is down). */
async function connectProvider(config: OracleConfig): Promise<{ provider: Provider; chainId: bigint }> {
  const url = config.rpcUrl!;
  const rpc = createRpc({ retries: config.rpcRetries, baseMs: config.rpcRetryBaseMs, timeoutMs: config.rpcTimeoutMs });
  if (url.startsWith("ws")) {
    const provider = new WebSocketProvider(url);
    return { provider, chainId: await checkChainId(rpc, provider, config.chainId) };
  }
  const probe = new JsonRpcProvider(url, undefined, { staticNetwork: true });
  const chainId = await rpc.call("eth_chainId", async () => BigInt(await probe.send("eth_chainId", [])));
  probe.destroy();
  if (config.chainId !== undefined && chainId !== BigInt(config.chainId)) {
    throw new TriadError(`the RPC endpoint serves chain ${chainId}, ORACLE_CHAIN_ID says ${config.chainId}`, "CHAIN_MISMATCH");
  }
  // One hung request must not stall ethers for its 300 s default: each HTTP request ends after ORACLE_RPC_TIMEOUT_MS
  // (createRpc's own deadline fires at the same time and retries it).
  const request = new FetchRequest(url);
  request.timeout = config.rpcTimeoutMs;
  const provider = new JsonRpcProvider(request, chainId, {
    staticNetwork: true,
    batchMaxCount: 100,
    pollingInterval: Math.min(config.pollIntervalMs, 4000),
  });
  return { provider, chainId };
}

/**
 * The member's key from the configuration: the private key, or the keystore decrypted with its password (a wrong
 * password is a configuration error naming ORACLE_KEYSTORE_PASSWORD). Run before connecting, so a bad key is
 * reported even when the node is down.
 */
export async function loadSigner(config: Pick<OracleConfig, "signer">): Promise<Wallet> {
  const s = config.signer;
  if (!s) throw new ConfigError(["ORACLE_PRIVATE_KEY: is required (or ORACLE_KEYSTORE_FILE + ORACLE_KEYSTORE_PASSWORD)"]);
  if (s.kind === "privateKey") return new Wallet(s.privateKey);
  let json: string;
  try {
    json = readFileSync(s.file, "utf8");
  } catch (cause) {
    throw new ConfigError([
      `ORACLE_KEYSTORE_FILE: cannot read ${s.file} (${(cause as NodeJS.ErrnoException).code ?? shortMessage(cause)})`,
    ]);
  }
  let wallet;
  try {
    wallet = await Wallet.fromEncryptedJson(json, s.password);
  } catch (cause) {
    const message = shortMessage(cause);
    const field = /password/i.test(message) ? "ORACLE_KEYSTORE_PASSWORD" : "ORACLE_KEYSTORE_FILE";
    throw new ConfigError([`${field}: cannot decrypt the keystore ${s.file} (${message})`]);
  }
  return wallet instanceof Wallet ? wallet : new Wallet(wallet.privateKey);
}

/** Prints one JSON document as the last line of stdout. */
function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
}

function claimIdOf(raw: string | undefined): bigint | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--claim must be a claim id (a whole number), got "${raw}"`);
  return BigInt(raw);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE + "\n");
    return command ? 0 : 1;
  }
  if (!HELP[command]) throw new UsageError(`unknown command "${command}" (commands: run, assess, audit, evidence-server; see --help)`);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: {
        help: { type: "boolean", short: "h" },
        dotenv: { type: "string" },
        evidence: { type: "string" },
        claim: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        dir: { type: "string" },
        "max-bytes": { type: "string" },
        "token-file": { type: "string" },
        "open-uploads": { type: "boolean" },
        quota: { type: "string" },
        "max-total-bytes": { type: "string" },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (see npm run oracle -- ${command} --help)`);
  }
  if (values.help) {
    process.stdout.write(HELP[command] + "\n");
    return 0;
  }
  const envFile = values.dotenv as string | undefined;

  switch (command) {
    case "evidence-server": {
      const num = (name: string, fallback: number) => {
        const raw = values[name] as string | undefined;
        if (raw === undefined) return fallback;
        if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
        return Number(raw);
      };
      let token = process.env.ORACLE_EVIDENCE_SERVER_TOKEN?.trim() || undefined;
      if (values["token-file"]) {
        try {
          token = readFileSync(values["token-file"] as string, "utf8").trim();
        } catch (error) {
          throw new UsageError(`cannot read --token-file ${values["token-file"]}: ${(error as NodeJS.ErrnoException).code ?? error}`);
        }
      }
      if (token && values["open-uploads"]) throw new UsageError("--open-uploads and an upload token exclude each other");
      const server = await startEvidenceServer({
        port: num("port", 8787),
        host: (values.host as string | undefined) ?? "127.0.0.1",
        dir: values.dir ? path.resolve(values.dir as string) : undefined,
        maxBytes: num("max-bytes", 1024 * 1024),
        token,
        openUploads: values["open-uploads"] === true,
        quotaBytesPerMinute: num("quota", 8 * 1024 * 1024),
        maxTotalBytes: num("max-total-bytes", 256 * 1024 * 1024),
      });
      printJson({ url: server.url, evidence: `${server.url}/evidence` });
      await untilSignal();
      await server.close();
      return 0;
    }

    case "assess": {
      if (!values.evidence) throw new UsageError("assess needs --evidence <file> (see npm run oracle -- assess --help)");
      const config = loadConfig({}, { envFile });
      const logger = stderrLogger(config);
      const claimId = claimIdOf(values.claim as string | undefined);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(values.evidence as string));
      } catch (error) {
        throw new UsageError(
          `cannot read --evidence ${values.evidence}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      const model = await loadOracleModel(config, logger);
      let chain;
      if (config.rpcUrl) {
        const { provider, chainId } = await connectProvider(config);
        chain = { provider, addresses: resolveAddresses(config, chainId).addresses };
      }
      if (!config.rpcUrl || claimId === undefined) {
        logger.warn(
          { rpc: Boolean(config.rpcUrl), claim: claimId !== undefined },
          "not every chain check runs: see skippedChecks (set ORACLE_RPC_URL and --claim for all of them)",
        );
      }
      const result = await assessEvidence({ model, chain }, { bytes, claimId });
      (chain?.provider as JsonRpcProvider | undefined)?.destroy?.();
      printJson(result);
      return 0;
    }

    case "audit": {
      const claimId = claimIdOf(values.claim as string | undefined);
      if (claimId === undefined) throw new UsageError("audit needs --claim <id> (see npm run oracle -- audit --help)");
      const config = loadConfig({ rpc: true }, { envFile });
      const logger = stderrLogger(config);
      const { provider, chainId } = await connectProvider(config);
      const { addresses, startBlock } = resolveAddresses(config, chainId);
      const model = await loadOracleModel(config, logger);
      const ipfs = await openConfiguredIpfs(config, logger);
      const report = await auditClaim(
        { provider, addresses, model, evidence: config.evidence, fromBlock: config.startBlock ?? startBlock, ipfs },
        { claimId },
      ).finally(() => ipfs?.close());
      (provider as JsonRpcProvider).destroy?.();
      if (report.outcome === "mismatch") {
        logger.warn({ claimId: report.claimId, differences: report.differences, notes: report.notes }, "audit: MISMATCH");
      } else if (report.outcome !== "match") {
        logger.warn({ claimId: report.claimId, notes: report.notes }, `audit: nothing compared (${report.outcome})`);
      }
      printJson(report);
      return AUDIT_EXIT_CODES[report.outcome];
    }

    case "run": {
      const config = loadConfig({ rpc: true, signer: true }, { envFile });
      const logger = pino({ level: config.logLevel, base: { service: "triad-oracle" } });
      const key = await loadSigner(config);
      const { provider, chainId } = await connectProvider(config);
      const signer = key.connect(provider);
      const { addresses, startBlock } = resolveAddresses(config, chainId);
      const model = await loadOracleModel(config, logger);
      const ipfs = await openConfiguredIpfs(config, logger);
      const oracle = createOracle({
        provider,
        signer,
        addresses,
        model,
        logger,
        ipfs,
        config: { ...config, startBlock: config.startBlock ?? startBlock },
      });
      await oracle.start();
      const signal = await untilSignal(() => {
        logger.warn("second signal: exiting now (the checkpoint is still consistent)");
        process.exit(130);
      });
      logger.info({ signal }, "shutting down");
      await oracle.stop();
      await ipfs?.close();
      (provider as JsonRpcProvider).destroy?.();
      return 0;
    }
  }
  return 1;
}

function untilSignal(onSecond?: () => void): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    const handler = (signal: string) => {
      if (seen) return onSecond?.();
      seen = true;
      resolve(signal);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}

/**
 * Runs {@link main} with `argv` and exits the process with its code: 2 and one line per bad variable on a config
 * error, one `error:` line (no stack trace) on anything else. Used when this file is the entry point, and by the
 * `triad-oracle` launcher (bin/triad-oracle.js).
 */
export function runMain(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError) {
        for (const line of error.problems) process.stderr.write(`config error: ${line}\n`);
        process.exit(2);
      }
      if (error instanceof TriadError) {
        process.stderr.write(`error: ${error.message}\n`);
        process.exit(error instanceof UsageError ? 64 : 1);
      }
      process.stderr.write(`error: ${shortMessage(error)}\n`);
      if (process.env.ORACLE_LOG_LEVEL === "debug" || process.env.ORACLE_LOG_LEVEL === "trace") console.error(error);
      process.exit(1);
    },
  );
}

/** Whether this module is the process's entry point (`tsx packages/oracle/src/cli.ts …`), not imported. */
function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(import.meta.filename);
  } catch {
    return false;
  }
}

if (isEntryPoint()) runMain();
