/**
 * Oracle configuration: environment variables (optionally from a `.env` file via dotenv), prefixed `ORACLE_` (and the shared `TRIAD_DEPLOYMENTS_DIR`),
 * validated with zod at start. Every bad variable produces exactly one line naming it (a {@link ConfigError} holds
 * them), so an operator fixes them all in one go. `packages/oracle/README.md` documents each variable; `.env.example` lists them.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import path from "node:path";
import { isAddress } from "ethers";
import { z } from "zod";
import { InvalidInputError, TriadError, parsePrivateKey } from "@triad/sdk";
import { DEFAULT_EVIDENCE_DEADLINE_MS, isHostEntry } from "./evidence.ts";

export const TFJS_BACKENDS = ["auto", "tfjs-node", "wasm", "cpu"] as const;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export type SignerConfig = { kind: "privateKey"; privateKey: string } | { kind: "keystore"; file: string; password: string };

export interface EvidenceFetchRules {
  /** URI schemes that may be fetched, lower case without ":" (for example ["https"]). "ipfs" needs `ipfsGateway`. */
  schemes: string[];
  /**
   * Hosts that may be fetched: `host` (the scheme's default port only), `host:port`, `host:*` (any port of the host);
   * ["*"] allows any host and port.
   */
  hosts: string[];
  /** Largest evidence body accepted, enforced while streaming. */
  maxBytes: number;
  /** Deadline of one fetch attempt (connect + all of the body). */
  timeoutMs: number;
  /** One claim's evidence time: all attempts and backoff together (default 30000). */
  deadlineMs?: number;
  /** `host:port` endpoints never fetched, `*` or not (the daemon sets its own RPC and /metrics: `ownEndpoints`). */
  denied?: string[];
  /** Extra attempts after a transient failure (unreachable, timeout, HTTP 5xx/429) before the claim is rejected. */
  retries: number;
  /** Delay before the first retry; doubles per retry. */
  retryDelayMs: number;
  /** Base URL ipfs://<cid>/<path> URIs are fetched from (for example https://ipfs.io/ipfs/); unset: ipfs refused. */
  ipfsGateway?: string;
}

/**
 * The IPFS node ipfs:// evidence is fetched through (`openIpfs` of `@triad/sdk/node`, every block verified against its
 * CID): an in-process Helia node with a filesystem blockstore that dials `peers`, or an external Kubo node's RPC.
 * Unset: ipfs:// goes through `evidence.ipfsGateway` (a trustless gateway, verified the same way), if any.
 */
export type IpfsNodeConfig = { kind: "helia"; dir: string; peers: string[]; listen?: string[] } | { kind: "kubo"; apiUrl: string };

export interface OracleConfig {
  rpcUrl?: string;
  /** When set, the oracle refuses to start against an RPC endpoint of another chain. */
  chainId?: number;
  signer?: SignerConfig;
  /** Contract addresses; whatever is missing comes from `deployments/<chainId>.json`. */
  addresses: { claims?: string; registry?: string; committee?: string };
  deploymentsDir?: string;
  confirmations: number;
  pollIntervalMs: number;
  /** First block to scan when there is no checkpoint (default: the deployment record's startBlock, else 0). */
  startBlock?: number;
  /** Default: packages/oracle/.checkpoint-<chainId>-<signer>.json */
  checkpointFile?: string;
  evidence: EvidenceFetchRules;
  /** ORACLE_IPFS_DIR / ORACLE_IPFS_API: the IPFS node ipfs:// evidence comes from. */
  ipfs?: IpfsNodeConfig;
  /** Verdicts per transaction: 1 uses submitVerdict, more uses submitVerdicts. */
  batchSize: number;
  /**
   * Committee turns (docs/protocol.md §11): a backup member holds its verdict for a claim this many blocks after the
   * claim became ready to decide, then submits it only if the primaries have not decided it. 0: no turns.
   * Undefined (not set): {@link DEFAULT_BACKUP_DELAY_BLOCKS}, or no turns on a node that mines on demand (automine),
   * where a delay in blocks would pass only with other traffic.
   */
  backupDelayBlocks?: number;
  /** Evidence fetches in flight at once. */
  concurrency: number;
  /** Worker threads that verify bundles (0 = on the main thread; undefined = one per core, at most 4). */
  verifyWorkers?: number;
  /** Largest block range of one eth_getLogs query (one tick scans at most this many blocks). */
  logBlockRange: number;
  /** Port of /healthz and /metrics; 0 picks a free port; undefined: no HTTP server. */
  metricsPort?: number;
  metricsHost: string;
  /** /healthz answers 503 when the daemon lags the confirmed head by more blocks than this. */
  healthMaxLagBlocks: number;
  /** /healthz answers 503 when no tick succeeded for this long (stuck detection by time). */
  healthMaxTickAgeMs: number;
  /** The chain counts as unreachable for /healthz only after failing for this long (slow or flaky is not down). */
  healthRpcGraceMs: number;
  rpcRetries: number;
  rpcRetryBaseMs: number;
  /** Deadline of one RPC request; then it counts as a transient failure (retried). */
  rpcTimeoutMs: number;
  /** A sent, unmined verdict transaction is replaced (same nonce, bumped fees) or re-broadcast after this. */
  txReplaceAfterMs: number;
  /** Bump of maxFeePerGas and maxPriorityFeePerGas per replacement, in percent (at least 10: geth's rule). */
  txFeeBumpPercent: number;
  /** Cap of maxFeePerGas in gwei; at the cap a pending transaction is re-broadcast, not bumped. */
  txMaxFeeGwei: number;
  /** `stop()` resolves within this, whatever the chain does (pending waits are abandoned). */
  shutdownTimeoutMs: number;
  tfjsBackend: (typeof TFJS_BACKENDS)[number];
  modelDir?: string;
  logLevel: (typeof LOG_LEVELS)[number];
}

/** Invalid configuration: `problems` holds one line per bad variable. */
export class ConfigError extends TriadError {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid oracle configuration:\n  ${problems.join("\n  ")}`, "CONFIG_INVALID", { problems });
  }
}

/** What a command needs beyond the always-validated fields. */
export interface ConfigRequirements {
  rpc?: boolean;
  signer?: boolean;
}

// Empty values (`ORACLE_X=` in .env) count as unset.
const optional = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : typeof v === "string" ? v.trim() : v), schema.optional());

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, { message: "must be a whole number" })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `must be between ${min} and ${max}` });

const list = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim().toLowerCase())
    .filter((x) => x !== ""),
);

const address = z.string().refine((v) => isAddress(v), { message: "must be a 0x-prefixed 20-byte address" });

/**
 * The SDK's rules for a key (`parsePrivateKey`: 64 hex digits, optionally 0x-prefixed, a valid secp256k1 scalar),
 * normalised to 0x-prefixed. The problem line never echoes the value (see SECRET), not even the part the SDK's own
 * message shows.
 */
const privateKey = z.string().transform((v, ctx) => {
  try {
    return parsePrivateKey(v, "ORACLE_PRIVATE_KEY");
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: "must be 64 hex digits (optionally 0x-prefixed): a secp256k1 private key, from 1 to the curve order - 1",
    });
    return z.NEVER;
  }
});

const url = (schemes: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return schemes.includes(new URL(v).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${schemes.join(", ")}` },
  );

/** Comma-separated multiaddrs (case kept: peer ids are case-sensitive), each naming a peer id when `withPeerId`. */
const multiaddrList = (withPeerId: boolean) =>
  z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== ""),
    )
    .refine((l) => l.length > 0 && l.every((a) => /^(\/[^/\s]+)+$/.test(a) && (!withPeerId || /\/p2p\/[1-9A-Za-z]+$/.test(a))), {
      message: withPeerId
        ? "must be comma-separated multiaddrs ending in /p2p/<peer id>, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…"
        : "must be comma-separated multiaddrs, e.g. /ip4/127.0.0.1/tcp/4001",
    });

const ENV_SCHEMA = z.object({
  ORACLE_RPC_URL: optional(url(["http", "https", "ws", "wss"])),
  ORACLE_CHAIN_ID: optional(int(1)),
  ORACLE_PRIVATE_KEY: optional(privateKey),
  ORACLE_KEYSTORE_FILE: optional(z.string()),
  ORACLE_KEYSTORE_PASSWORD: optional(z.string()),
  ORACLE_CLAIMS_ADDRESS: optional(address),
  ORACLE_REGISTRY_ADDRESS: optional(address),
  ORACLE_COMMITTEE_ADDRESS: optional(address),
  TRIAD_DEPLOYMENTS_DIR: optional(z.string()),
  ORACLE_CONFIRMATIONS: optional(int(0, 1000)),
  ORACLE_POLL_INTERVAL_MS: optional(int(10, 3_600_000)),
  ORACLE_START_BLOCK: optional(int(0)),
  ORACLE_CHECKPOINT_FILE: optional(z.string()),
  ORACLE_EVIDENCE_SCHEMES: optional(
    list.refine((l) => l.length > 0 && l.every((s) => ["http", "https", "ipfs"].includes(s)), {
      message: "must be a comma-separated list of http, https, ipfs",
    }),
  ),
  ORACLE_EVIDENCE_HOSTS: optional(
    list
      .refine((l) => l.length > 0, { message: "must list at least one host (or *)" })
      .refine((l) => l.every(isHostEntry), { message: "entries must be host (default port only), host:port, host:* or *" }),
  ),
  ORACLE_EVIDENCE_MAX_BYTES: optional(int(64, 256 * 1024 * 1024)),
  ORACLE_EVIDENCE_TIMEOUT_MS: optional(int(50, 600_000)),
  ORACLE_EVIDENCE_DEADLINE_MS: optional(int(50, 3_600_000)),
  ORACLE_EVIDENCE_RETRIES: optional(int(0, 10)),
  ORACLE_EVIDENCE_RETRY_DELAY_MS: optional(int(0, 60_000)),
  ORACLE_IPFS_GATEWAY: optional(url(["http", "https"])),
  ORACLE_IPFS_DIR: optional(z.string()),
  ORACLE_IPFS_PEERS: optional(multiaddrList(true)),
  ORACLE_IPFS_LISTEN: optional(multiaddrList(false)),
  ORACLE_IPFS_API: optional(url(["http", "https"])),
  ORACLE_BATCH_SIZE: optional(int(1, 500)),
  ORACLE_BACKUP_DELAY_BLOCKS: optional(int(0, 100_000)),
  ORACLE_CONCURRENCY: optional(int(1, 1000)),
  ORACLE_VERIFY_WORKERS: optional(int(0, 16)),
  ORACLE_LOG_BLOCK_RANGE: optional(int(1, 1_000_000)),
  ORACLE_METRICS_PORT: optional(
    z.union([z.literal("off"), int(0, 65535)], { errorMap: () => ({ message: 'must be a port 0-65535 (0 = any free port) or "off"' }) }),
  ),
  ORACLE_METRICS_HOST: optional(z.string()),
  ORACLE_HEALTH_MAX_LAG_BLOCKS: optional(int(0)),
  ORACLE_HEALTH_MAX_TICK_AGE_MS: optional(int(1000, 86_400_000)),
  ORACLE_HEALTH_RPC_GRACE_MS: optional(int(0, 86_400_000)),
  ORACLE_RPC_RETRIES: optional(int(0, 20)),
  ORACLE_RPC_RETRY_BASE_MS: optional(int(1, 60_000)),
  ORACLE_RPC_TIMEOUT_MS: optional(int(100, 600_000)),
  ORACLE_TX_REPLACE_AFTER_MS: optional(int(100, 3_600_000)),
  ORACLE_TX_FEE_BUMP_PERCENT: optional(int(10, 1000)),
  ORACLE_TX_MAX_FEE_GWEI: optional(int(1, 1_000_000)),
  ORACLE_SHUTDOWN_TIMEOUT_MS: optional(int(100, 600_000)),
  ORACLE_TFJS_BACKEND: optional(z.enum(TFJS_BACKENDS, { errorMap: () => ({ message: `must be one of ${TFJS_BACKENDS.join(", ")}` }) })),
  ORACLE_MODEL_DIR: optional(z.string()),
  ORACLE_LOG_LEVEL: optional(z.enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(", ")}` }) })),
});

/** Every variable the oracle reads, in documentation order. */
export const CONFIG_VARIABLES = Object.keys(ENV_SCHEMA.shape) as (keyof typeof ENV_SCHEMA.shape)[];

/** Keys that must not be echoed back in error lines. */
const SECRET = new Set(["ORACLE_PRIVATE_KEY", "ORACLE_KEYSTORE_PASSWORD"]);

/**
 * Validates `env` (default `process.env`) and returns the configuration, or throws a {@link ConfigError} with one line
 * per bad variable. Relative paths resolve against `cwd`.
 */
export function parseConfig(
  env: Record<string, string | undefined> = process.env,
  requirements: ConfigRequirements = {},
  cwd = process.cwd(),
): OracleConfig {
  const parsed = ENV_SCHEMA.safeParse(env);
  const problems = new Map<string, string>();
  const problem = (key: string, message: string) => {
    if (!problems.has(key)) problems.set(key, `${key}: ${message}`);
  };
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]);
      const raw = env[key];
      const shown = SECRET.has(key) || raw === undefined ? "" : ` (got "${raw.length > 80 ? raw.slice(0, 77) + "..." : raw}")`;
      problem(key, issue.message + shown);
    }
  }
  const e = parsed.success ? parsed.data : ({} as Partial<z.infer<typeof ENV_SCHEMA>>);

  // Cross-field rules.
  if (env.ORACLE_PRIVATE_KEY?.trim() && env.ORACLE_KEYSTORE_FILE?.trim()) {
    problem("ORACLE_KEYSTORE_FILE", "set either ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE_FILE, not both");
  }
  const keystoreFile = e.ORACLE_KEYSTORE_FILE && path.resolve(cwd, e.ORACLE_KEYSTORE_FILE);
  if (keystoreFile && !problems.has("ORACLE_KEYSTORE_FILE")) {
    if (!existsSync(keystoreFile)) problem("ORACLE_KEYSTORE_FILE", `file ${keystoreFile} does not exist`);
    if (!e.ORACLE_KEYSTORE_PASSWORD) problem("ORACLE_KEYSTORE_PASSWORD", "is required with ORACLE_KEYSTORE_FILE");
  }
  if (requirements.rpc && !env.ORACLE_RPC_URL?.trim()) problem("ORACLE_RPC_URL", "is required (the JSON-RPC endpoint of the chain)");
  if (requirements.signer && !env.ORACLE_PRIVATE_KEY?.trim() && !env.ORACLE_KEYSTORE_FILE?.trim()) {
    problem("ORACLE_PRIVATE_KEY", "is required (or ORACLE_KEYSTORE_FILE + ORACLE_KEYSTORE_PASSWORD): the committee member's key");
  }
  // An IPFS node configured means ipfs:// evidence is wanted: it is allowed unless the schemes are set without it.
  const ipfsNode = Boolean(e.ORACLE_IPFS_DIR || e.ORACLE_IPFS_API);
  const schemes = e.ORACLE_EVIDENCE_SCHEMES ?? (ipfsNode ? ["https", "ipfs"] : ["https"]);
  if (schemes.includes("ipfs") && !ipfsNode && !e.ORACLE_IPFS_GATEWAY && !problems.has("ORACLE_EVIDENCE_SCHEMES")) {
    problem("ORACLE_IPFS_GATEWAY", "is required when ORACLE_EVIDENCE_SCHEMES includes ipfs");
  }
  if (e.ORACLE_IPFS_DIR && e.ORACLE_IPFS_API)
    problem("ORACLE_IPFS_API", "set either ORACLE_IPFS_DIR (Helia in-process) or ORACLE_IPFS_API (Kubo), not both");
  for (const key of ["ORACLE_IPFS_PEERS", "ORACLE_IPFS_LISTEN"] as const) {
    if (e[key] && !e.ORACLE_IPFS_DIR) problem(key, "needs ORACLE_IPFS_DIR (they configure the in-process Helia node)");
  }
  if (ipfsNode && e.ORACLE_EVIDENCE_SCHEMES && !schemes.includes("ipfs")) {
    problem("ORACLE_EVIDENCE_SCHEMES", `does not include ipfs, but ${e.ORACLE_IPFS_DIR ? "ORACLE_IPFS_DIR" : "ORACLE_IPFS_API"} is set`);
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()]);

  let signer: SignerConfig | undefined;
  if (e.ORACLE_PRIVATE_KEY) {
    signer = { kind: "privateKey", privateKey: e.ORACLE_PRIVATE_KEY };
  } else if (keystoreFile) {
    signer = { kind: "keystore", file: keystoreFile, password: e.ORACLE_KEYSTORE_PASSWORD! };
  }
  const metricsPort = e.ORACLE_METRICS_PORT === undefined ? 9464 : e.ORACLE_METRICS_PORT === "off" ? undefined : e.ORACLE_METRICS_PORT;
  return {
    rpcUrl: e.ORACLE_RPC_URL,
    chainId: e.ORACLE_CHAIN_ID,
    signer,
    addresses: { claims: e.ORACLE_CLAIMS_ADDRESS, registry: e.ORACLE_REGISTRY_ADDRESS, committee: e.ORACLE_COMMITTEE_ADDRESS },
    deploymentsDir: e.TRIAD_DEPLOYMENTS_DIR && path.resolve(cwd, e.TRIAD_DEPLOYMENTS_DIR),
    confirmations: e.ORACLE_CONFIRMATIONS ?? 2,
    pollIntervalMs: e.ORACLE_POLL_INTERVAL_MS ?? 2000,
    startBlock: e.ORACLE_START_BLOCK,
    checkpointFile: e.ORACLE_CHECKPOINT_FILE && path.resolve(cwd, e.ORACLE_CHECKPOINT_FILE),
    evidence: {
      schemes,
      hosts: e.ORACLE_EVIDENCE_HOSTS ?? ["*"],
      maxBytes: e.ORACLE_EVIDENCE_MAX_BYTES ?? 1024 * 1024,
      timeoutMs: e.ORACLE_EVIDENCE_TIMEOUT_MS ?? 10_000,
      deadlineMs: e.ORACLE_EVIDENCE_DEADLINE_MS ?? DEFAULT_EVIDENCE_DEADLINE_MS,
      retries: e.ORACLE_EVIDENCE_RETRIES ?? 2,
      retryDelayMs: e.ORACLE_EVIDENCE_RETRY_DELAY_MS ?? 500,
      ipfsGateway: e.ORACLE_IPFS_GATEWAY,
    },
    ipfs: e.ORACLE_IPFS_DIR
      ? { kind: "helia", dir: path.resolve(cwd, e.ORACLE_IPFS_DIR), peers: e.ORACLE_IPFS_PEERS ?? [], listen: e.ORACLE_IPFS_LISTEN }
      : e.ORACLE_IPFS_API
        ? { kind: "kubo", apiUrl: e.ORACLE_IPFS_API }
        : undefined,
    batchSize: e.ORACLE_BATCH_SIZE ?? 20,
    backupDelayBlocks: e.ORACLE_BACKUP_DELAY_BLOCKS,
    concurrency: e.ORACLE_CONCURRENCY ?? 16,
    verifyWorkers: e.ORACLE_VERIFY_WORKERS,
    logBlockRange: e.ORACLE_LOG_BLOCK_RANGE ?? 2000,
    metricsPort,
    metricsHost: e.ORACLE_METRICS_HOST ?? "127.0.0.1",
    healthMaxLagBlocks: e.ORACLE_HEALTH_MAX_LAG_BLOCKS ?? 50,
    healthMaxTickAgeMs: e.ORACLE_HEALTH_MAX_TICK_AGE_MS ?? Math.max(120_000, 20 * (e.ORACLE_POLL_INTERVAL_MS ?? 2000)),
    healthRpcGraceMs: e.ORACLE_HEALTH_RPC_GRACE_MS ?? 30_000,
    rpcRetries: e.ORACLE_RPC_RETRIES ?? 5,
    rpcRetryBaseMs: e.ORACLE_RPC_RETRY_BASE_MS ?? 250,
    rpcTimeoutMs: e.ORACLE_RPC_TIMEOUT_MS ?? 10_000,
    txReplaceAfterMs: e.ORACLE_TX_REPLACE_AFTER_MS ?? 30_000,
    txFeeBumpPercent: e.ORACLE_TX_FEE_BUMP_PERCENT ?? 25,
    txMaxFeeGwei: e.ORACLE_TX_MAX_FEE_GWEI ?? 1000,
    shutdownTimeoutMs: e.ORACLE_SHUTDOWN_TIMEOUT_MS ?? 15_000,
    tfjsBackend: e.ORACLE_TFJS_BACKEND ?? "auto",
    modelDir: e.ORACLE_MODEL_DIR && path.resolve(cwd, e.ORACLE_MODEL_DIR),
    logLevel: e.ORACLE_LOG_LEVEL ?? "info",
  };
}

/**
 * {@link parseConfig} over `process.env` after loading `envFile` (default `.env` in `cwd`) with dotenv; variables
 * already in the environment win over the file.
 */
export function loadConfig(requirements: ConfigRequirements = {}, options: { envFile?: string; cwd?: string } = {}): OracleConfig {
  const cwd = options.cwd ?? process.cwd();
  const envFile = options.envFile ?? path.join(cwd, ".env");
  const env: Record<string, string | undefined> = {};
  if (existsSync(envFile)) {
    Object.assign(env, parseDotenv(readFileSync(envFile)));
  }
  Object.assign(env, process.env);
  return parseConfig(env, requirements, cwd);
}

/** Defaults for a config built in code (tests, demo, benchmark); override what you need. */
/** ORACLE_BACKUP_DELAY_BLOCKS when not set (on a node that mines blocks by itself). */
export const DEFAULT_BACKUP_DELAY_BLOCKS = 3;

export function defaultConfig(overrides: Partial<OracleConfig> = {}): OracleConfig {
  const base = parseConfig({}, {});
  return {
    ...base,
    ...overrides,
    evidence: { ...base.evidence, ...(overrides.evidence ?? {}) },
    addresses: { ...base.addresses, ...(overrides.addresses ?? {}) },
  };
}
