/**
 * Gateway configuration: `TRIAD_GATEWAY_*` environment variables (and the shared `TRIAD_DEPLOYMENTS_DIR`), each of
 * which a command-line flag of `triad-gateway run` overrides (`--mqtt-url` sets `TRIAD_GATEWAY_MQTT_URL`, …; see
 * {@link CONFIG_OPTIONS}). Validated with zod at start: every bad field produces exactly one line naming it (a
 * {@link ConfigError} holds them), so an operator fixes them all in one go.
 */
import path from "node:path";
import { readFileSync, statSync } from "node:fs";
import { isAddress } from "ethers";
import { z } from "zod";
import { AI4I_SCHEMA, TriadError } from "@triad/sdk";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** An inclusive [min, max] range of one reading value (in the schema's integer units). */
export type ValueRange = readonly [bigint, bigint];

/**
 * Value ranges of `ai4i-2020/v1` (docs/protocol.md §5: air temperature mK, process temperature mK, rpm, torque mNm,
 * tool wear min, variant 0..2). Physically plausible bounds of a milling machine, much wider than the data set's
 * (air 295–304 K, process 305–314 K, 1168–2886 rpm, 3.8–76.6 Nm, 0–253 min) so drifting simulated machines pass and
 * garbage does not.
 */
export const AI4I_VALUE_RANGES: readonly ValueRange[] = [
  [200_000n, 400_000n], // air temperature, mK
  [200_000n, 450_000n], // process temperature, mK
  [0n, 10_000n], // rotational speed, rpm
  [0n, 500_000n], // torque, mNm
  [0n, 10_000n], // tool wear, min
  [0n, 2n], // product variant L, M, H
];

export type DatabaseConfig = { kind: "sqlite"; file: string; url: string } | { kind: "postgres"; url: string };

export type MqttConfig =
  | { mode: "embedded"; host: string; port: number }
  | {
      mode: "external";
      url: string;
      /** MQTT protocol version towards the broker (5 needed for shared subscriptions). */
      protocolVersion: 4 | 5;
      /** Shared-subscription group (`$share/<group>/…`), or undefined for a plain subscription. */
      shareGroup?: string;
      /** Client id of the persistent session (the same across restarts, so the broker keeps unacknowledged readings). */
      clientId: string;
      username?: string;
      password?: string;
    };

/**
 * The AI monitor (packages/gateway/src/monitor.ts). The defaults equal `DEFAULT_ALERT_THRESHOLDS` of
 * `@triad/oracle/monitor` (a test checks it; importing it here would load TensorFlow.js for every gateway).
 */
export interface MonitorConfig {
  thresholds: { raiseAtBps: number; raiseAfter: number; clearAtBps: number; clearAfter: number };
  /** Most readings waiting to be scored; further readings are dropped (counted) while it is full. */
  queueLimit: number;
  /** Where every alert is POSTed (JSON), with a timeout per attempt and `retries` further attempts. */
  webhook?: { url: string; timeoutMs: number; retries: number };
}

export const MONITOR_DEFAULTS = { raiseAtBps: 5000, raiseAfter: 1, clearAtBps: 1500, clearAfter: 5, queueLimit: 10_000 } as const;

export interface GatewayConfig {
  rpcUrl: string;
  /** When set, the gateway refuses to start against an RPC endpoint of another chain. */
  chainId?: number;
  /** DeviceRegistry address; undefined: from the deployment record of the RPC's chain. */
  registry?: string;
  deploymentsDir?: string;
  mqtt: MqttConfig;
  database: DatabaseConfig;
  httpHost: string;
  /** 0 picks a free port. */
  httpPort: number;
  /** Largest |reading timestamp − gateway clock|, seconds. */
  maxClockSkewSeconds: number;
  /** Interval of the registry event poll. */
  registryPollMs: number;
  /** /healthz reports unhealthy when the registry cache is older than this (its bounded staleness). */
  registryMaxStalenessMs: number;
  /** Largest eth_getLogs block range of one registry poll. */
  logBlockRange: number;
  /** Value ranges per sensor schema id string (e.g. "ai4i-2020/v1"). */
  valueRanges: Record<string, readonly ValueRange[]>;
  logLevel: (typeof LOG_LEVELS)[number];
  /** The AI monitor (`--monitor`); undefined when it is off. */
  monitor?: MonitorConfig;
  /** DataMarketplace address of live streams; undefined: the deployment record's, if any (else streams answer 503). */
  marketplace?: string;
  /** Limits of live marketplace streams (./streams.ts). */
  streams: StreamLimits;
  /** Fleet anchoring; undefined: off (no key configured, or interval 0). */
  anchoring?: AnchoringConfig;
}

export interface AnchoringConfig {
  /** The anchoring account's private key (never logged). */
  privateKey: string;
  intervalMs: number;
  maxReadings: number;
  confirmations: number;
  /** Base URL recorded with each root (`<publicUrl>/v1/anchors/<root>`); undefined: the HTTP API's own URL. */
  publicUrl?: string;
}

/** Limits of live marketplace streams (docs/protocol.md §13.4). */
export interface StreamLimits {
  /** Most open streams at once; more are refused with 503 STREAMS_FULL. */
  maxSubscribers: number;
  /** Longest time between two access re-checks of an open stream, ms (≤ 30 s). */
  recheckMs: number;
  /** Most bytes buffered for one subscriber; a slower consumer is disconnected (reason `slow`). */
  maxBufferedBytes: number;
  /** Lifetime of a subscription challenge, seconds. */
  challengeTtlSeconds: number;
}

/** Invalid configuration: `problems` holds one line per bad field. */
export class ConfigError extends TriadError {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid gateway configuration:\n  ${problems.join("\n  ")}`, "CONFIG_INVALID", { problems });
  }
}

const optional = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : typeof v === "string" ? v.trim() : v), schema.optional());

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, { message: "must be a whole number" })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `must be between ${min} and ${max}` });

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

const database = z.string().transform((v, ctx): DatabaseConfig => {
  if (v.startsWith("sqlite:")) {
    const file = v.slice("sqlite:".length).replace(/^\/\/(?=\/)/, ""); // sqlite:file.db, sqlite:/abs/file.db, sqlite:///abs/file.db
    if (file === "" || file === ":memory:") {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: "sqlite: needs a file (an in-memory database would lose acknowledged readings)",
      });
      return z.NEVER;
    }
    return { kind: "sqlite", file, url: v };
  }
  if (/^postgres(ql)?:\/\//.test(v)) {
    let database = "";
    let host = "";
    try {
      const u = new URL(v);
      host = u.hostname || (u.searchParams.get("host") ?? ""); // ?host=/var/run/postgresql: a Unix socket
      database = decodeURIComponent(u.pathname.replace(/^\//, ""));
    } catch {
      // reported below
    }
    if (host === "" || database === "" || database.includes("/")) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: "must be postgres://user:password@host[:port]/database (host and database required)",
      });
      return z.NEVER;
    }
    return { kind: "postgres", url: v };
  }
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be sqlite:<file> or postgres://user:password@host/db" });
  return z.NEVER;
});

const DECIMAL = /^-?\d{1,19}$/;
const valueRanges = z.string().transform((v, ctx) => {
  const fail = (message: string) => {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    return z.NEVER;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return fail('must be JSON: {"<schema>": [["min","max"], …]}');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return fail('must be a JSON object {"<schema>": [["min","max"], …]}');
  const out: Record<string, ValueRange[]> = {};
  for (const [schema, ranges] of Object.entries(parsed)) {
    if (!Array.isArray(ranges) || ranges.length === 0) return fail(`"${schema}" must be a non-empty array of [min, max] pairs`);
    const list: ValueRange[] = [];
    for (const r of ranges as unknown[]) {
      if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => (typeof x === "string" && DECIMAL.test(x)) || Number.isSafeInteger(x))) {
        return fail(`"${schema}": every range must be [min, max] of integers (decimal strings or safe integers)`);
      }
      const [min, max] = [BigInt(r[0] as string | number), BigInt(r[1] as string | number)];
      if (min > max) return fail(`"${schema}": range [${min}, ${max}] has min > max`);
      list.push([min, max]);
    }
    out[schema] = list;
  }
  return out;
});

const ENV_SCHEMA = z.object({
  TRIAD_GATEWAY_RPC_URL: optional(url(["http", "https", "ws", "wss"])),
  TRIAD_GATEWAY_CHAIN_ID: optional(int(1)),
  TRIAD_GATEWAY_REGISTRY_ADDRESS: optional(z.string().refine((v) => isAddress(v), { message: "must be a 0x-prefixed 20-byte address" })),
  TRIAD_DEPLOYMENTS_DIR: optional(z.string()),
  TRIAD_GATEWAY_MQTT_URL: optional(url(["mqtt", "mqtts", "tcp", "tls", "ws", "wss"])),
  TRIAD_GATEWAY_MQTT_HOST: optional(z.string()),
  TRIAD_GATEWAY_MQTT_PORT: optional(int(0, 65535)),
  TRIAD_GATEWAY_MQTT_PROTOCOL: optional(z.enum(["4", "5"], { errorMap: () => ({ message: "must be 4 (MQTT 3.1.1) or 5" }) })),
  TRIAD_GATEWAY_MQTT_SHARE_GROUP: optional(
    z.string().regex(/^(off|[A-Za-z0-9_-]{1,64})$/, { message: 'must be a group name (letters, digits, _ -) or "off"' }),
  ),
  TRIAD_GATEWAY_MQTT_CLIENT_ID: optional(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be 1-64 letters, digits, _ or -" })),
  TRIAD_GATEWAY_MQTT_USERNAME: optional(z.string()),
  TRIAD_GATEWAY_MQTT_PASSWORD: optional(z.string()),
  TRIAD_GATEWAY_DATABASE_URL: optional(database),
  TRIAD_GATEWAY_HTTP_HOST: optional(z.string()),
  TRIAD_GATEWAY_HTTP_PORT: optional(int(0, 65535)),
  TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: optional(int(1, 7 * 24 * 3600)),
  TRIAD_GATEWAY_REGISTRY_POLL_MS: optional(int(10, 3_600_000)),
  TRIAD_GATEWAY_REGISTRY_MAX_STALENESS_MS: optional(int(100, 24 * 3_600_000)),
  TRIAD_GATEWAY_LOG_BLOCK_RANGE: optional(int(1, 1_000_000)),
  TRIAD_GATEWAY_VALUE_RANGES: optional(valueRanges),
  TRIAD_GATEWAY_PRIVATE_KEY: optional(z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, { message: "must be a 32-byte hex private key" })),
  TRIAD_GATEWAY_KEY_FILE: optional(z.string()),
  TRIAD_GATEWAY_ANCHOR_INTERVAL_S: optional(int(0, 86_400)),
  TRIAD_GATEWAY_ANCHOR_MAX_READINGS: optional(int(1, 4_000_000)),
  TRIAD_GATEWAY_ANCHOR_CONFIRMATIONS: optional(int(1, 64)),
  TRIAD_GATEWAY_PUBLIC_URL: optional(url(["http", "https"])),
  TRIAD_GATEWAY_MONITOR: optional(z.enum(["true", "false"], { errorMap: () => ({ message: "must be true or false" }) })),
  TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS: optional(int(1, 10_000)),
  TRIAD_GATEWAY_MONITOR_RAISE_AFTER: optional(int(1, 10_000)),
  TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS: optional(int(1, 10_000)),
  TRIAD_GATEWAY_MONITOR_CLEAR_AFTER: optional(int(1, 10_000)),
  TRIAD_GATEWAY_MONITOR_QUEUE: optional(int(1, 1_000_000)),
  TRIAD_GATEWAY_ALERT_WEBHOOK: optional(url(["http", "https"])),
  TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS: optional(int(100, 60_000)),
  TRIAD_GATEWAY_ALERT_WEBHOOK_RETRIES: optional(int(0, 10)),
  TRIAD_GATEWAY_LOG_LEVEL: optional(z.enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(", ")}` }) })),
  TRIAD_GATEWAY_MARKETPLACE: optional(z.string().refine((v) => isAddress(v), { message: "must be a 0x-prefixed 20-byte address" })),
  TRIAD_GATEWAY_STREAM_MAX_SUBSCRIBERS: optional(int(1, 100_000)),
  TRIAD_GATEWAY_STREAM_RECHECK_MS: optional(int(100, 30_000)),
  TRIAD_GATEWAY_STREAM_MAX_BUFFER_BYTES: optional(int(4096, 64 * 1024 * 1024)),
  TRIAD_GATEWAY_STREAM_CHALLENGE_TTL_S: optional(int(1, 600)),
});

export type ConfigVariable = keyof typeof ENV_SCHEMA.shape;

/** Every variable, its command-line flag, default and meaning (the --help text and the README table). */
export const CONFIG_OPTIONS: Record<ConfigVariable, { flag: string; default: string; meaning: string; boolean?: true }> = {
  TRIAD_GATEWAY_RPC_URL: { flag: "--rpc-url", default: "— (required)", meaning: "JSON-RPC endpoint of the chain: http, https, ws, wss" },
  TRIAD_GATEWAY_CHAIN_ID: {
    flag: "--chain-id",
    default: "the RPC's",
    meaning: "expected chain id; refuses to start against another chain",
  },
  TRIAD_GATEWAY_REGISTRY_ADDRESS: {
    flag: "--registry",
    default: "deployment record",
    meaning: "DeviceRegistry address (its EIP-712 domain signs the readings)",
  },
  TRIAD_DEPLOYMENTS_DIR: {
    flag: "--deployments-dir",
    default: "deployments/",
    meaning: "where <chainId>.json deployment records are read",
  },
  TRIAD_GATEWAY_MQTT_URL: {
    flag: "--mqtt-url",
    default: "— (embedded broker)",
    meaning: "external broker (mqtt, mqtts, ws, wss): subscribe there instead of embedding aedes",
  },
  TRIAD_GATEWAY_MQTT_HOST: { flag: "--mqtt-host", default: "127.0.0.1", meaning: "bind address of the embedded broker" },
  TRIAD_GATEWAY_MQTT_PORT: { flag: "--mqtt-port", default: "1883", meaning: "port of the embedded broker (0 = any free port)" },
  TRIAD_GATEWAY_MQTT_PROTOCOL: {
    flag: "--mqtt-protocol",
    default: "5",
    meaning: "MQTT version towards an external broker: 5, or 4 (3.1.1, no shared subscriptions)",
  },
  TRIAD_GATEWAY_MQTT_SHARE_GROUP: {
    flag: "--mqtt-share-group",
    default: "triad-gateway",
    meaning: 'shared-subscription group of an external broker; "off" = plain subscription',
  },
  TRIAD_GATEWAY_MQTT_CLIENT_ID: {
    flag: "--mqtt-client-id",
    default: "triad-gateway-<chainId>",
    meaning: "client id of the persistent session at an external broker (unique per gateway instance)",
  },
  TRIAD_GATEWAY_MQTT_USERNAME: { flag: "--mqtt-username", default: "—", meaning: "user name at an external broker" },
  TRIAD_GATEWAY_MQTT_PASSWORD: {
    flag: "--mqtt-password",
    default: "—",
    meaning: "password at an external broker (prefer the variable to the flag)",
  },
  TRIAD_GATEWAY_DATABASE_URL: {
    flag: "--database-url",
    default: "sqlite:triad-gateway.sqlite",
    meaning: "sqlite:<file> (one gateway), or postgres://user:password@host[:port]/database (gateways may share one)",
  },
  TRIAD_GATEWAY_HTTP_HOST: { flag: "--http-host", default: "127.0.0.1", meaning: "bind address of the HTTP API, /healthz and /metrics" },
  TRIAD_GATEWAY_HTTP_PORT: { flag: "--http-port", default: "8080", meaning: "port of the HTTP API (0 = any free port)" },
  TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: {
    flag: "--max-clock-skew",
    default: "300",
    meaning: "largest distance, seconds, between a reading's timestamp and the gateway's clock",
  },
  TRIAD_GATEWAY_REGISTRY_POLL_MS: { flag: "--registry-poll-ms", default: "2000", meaning: "interval of the DeviceRegistry event poll" },
  TRIAD_GATEWAY_REGISTRY_MAX_STALENESS_MS: {
    flag: "--registry-max-staleness-ms",
    default: "30000",
    meaning: "/healthz is 503 when the registry cache is older",
  },
  TRIAD_GATEWAY_LOG_BLOCK_RANGE: { flag: "--log-block-range", default: "2000", meaning: "largest eth_getLogs block range of one poll" },
  TRIAD_GATEWAY_VALUE_RANGES: {
    flag: "--value-ranges",
    default: "built-in ai4i-2020/v1 ranges",
    meaning: 'JSON {"<schema>": [["min","max"], …]} replacing a schema\'s value ranges',
  },
  TRIAD_GATEWAY_PRIVATE_KEY: {
    flag: "--private-key",
    default: "—",
    meaning: "key of the anchoring account (prefer the variable or --key-file to the flag); without a key: no anchoring",
  },
  TRIAD_GATEWAY_KEY_FILE: { flag: "--key-file", default: "—", meaning: "file holding the anchoring account's hex private key (mode 0600)" },
  TRIAD_GATEWAY_ANCHOR_INTERVAL_S: {
    flag: "--anchor-interval",
    default: "60",
    meaning: "seconds between fleet anchors (one transaction per interval whatever the fleet); 0 = no anchoring",
  },
  TRIAD_GATEWAY_ANCHOR_MAX_READINGS: {
    flag: "--anchor-max-readings",
    default: "200000",
    meaning: "most readings in one anchor (the rest wait)",
  },
  TRIAD_GATEWAY_ANCHOR_CONFIRMATIONS: { flag: "--anchor-confirmations", default: "1", meaning: "blocks to wait for an anchor transaction" },
  TRIAD_GATEWAY_PUBLIC_URL: {
    flag: "--public-url",
    default: "the HTTP API's URL",
    meaning: "URL under which others reach this gateway's API (recorded with each anchor)",
  },
  TRIAD_GATEWAY_MONITOR: {
    flag: "--monitor",
    default: "false",
    boolean: true,
    meaning: "score every stored reading with the AI model and publish failure-risk alerts on triad/v1/{chainId}/{device}/alerts",
  },
  TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS: {
    flag: "--monitor-raise-at-bps",
    default: String(MONITOR_DEFAULTS.raiseAtBps),
    meaning: "raise a device's alert when its failure risk (basis points) is at least this …",
  },
  TRIAD_GATEWAY_MONITOR_RAISE_AFTER: {
    flag: "--monitor-raise-after",
    default: String(MONITOR_DEFAULTS.raiseAfter),
    meaning: "… on this many consecutive readings",
  },
  TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS: {
    flag: "--monitor-clear-at-bps",
    default: String(MONITOR_DEFAULTS.clearAtBps),
    meaning: "clear it when the risk is below this (below the raise threshold) …",
  },
  TRIAD_GATEWAY_MONITOR_CLEAR_AFTER: {
    flag: "--monitor-clear-after",
    default: String(MONITOR_DEFAULTS.clearAfter),
    meaning: "… on this many consecutive readings",
  },
  TRIAD_GATEWAY_MONITOR_QUEUE: {
    flag: "--monitor-queue",
    default: String(MONITOR_DEFAULTS.queueLimit),
    meaning: "most readings waiting to be scored; beyond it readings are dropped and counted, ingest never waits",
  },
  TRIAD_GATEWAY_ALERT_WEBHOOK: { flag: "--alert-webhook", default: "—", meaning: "http(s) URL every alert is POSTed to (JSON)" },
  TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS: {
    flag: "--alert-webhook-timeout-ms",
    default: "5000",
    meaning: "timeout of one webhook POST",
  },
  TRIAD_GATEWAY_ALERT_WEBHOOK_RETRIES: {
    flag: "--alert-webhook-retries",
    default: "3",
    meaning: "further attempts after a failed POST (back-off 0.25 s, doubling)",
  },
  TRIAD_GATEWAY_LOG_LEVEL: { flag: "--log-level", default: "info", meaning: LOG_LEVELS.join(", ") },
  TRIAD_GATEWAY_MARKETPLACE: {
    flag: "--marketplace",
    default: "deployment record",
    meaning: "DataMarketplace address that live streams check access at (none: /v1/streams answers 503)",
  },
  TRIAD_GATEWAY_STREAM_MAX_SUBSCRIBERS: { flag: "--stream-max-subscribers", default: "100", meaning: "most live streams open at once" },
  TRIAD_GATEWAY_STREAM_RECHECK_MS: {
    flag: "--stream-recheck-ms",
    default: "30000",
    meaning: "longest time between two access re-checks of a live stream (100..30000)",
  },
  TRIAD_GATEWAY_STREAM_MAX_BUFFER_BYTES: {
    flag: "--stream-max-buffer-bytes",
    default: "1048576",
    meaning: "bytes buffered for one stream subscriber before it is disconnected as too slow",
  },
  TRIAD_GATEWAY_STREAM_CHALLENGE_TTL_S: {
    flag: "--stream-challenge-ttl",
    default: "60",
    meaning: "seconds a stream subscription challenge stays valid",
  },
};

/** Every variable the gateway reads, in documentation order. */
export const CONFIG_VARIABLES = Object.keys(ENV_SCHEMA.shape) as ConfigVariable[];

const SECRET = new Set<string>(["TRIAD_GATEWAY_MQTT_PASSWORD", "TRIAD_GATEWAY_PRIVATE_KEY"]);

/**
 * Validates `env` (default `process.env`) with `flags` (variable name → value, from the command line) taking
 * precedence, and returns the configuration or throws a {@link ConfigError} with one line per bad field. Relative
 * paths resolve against `cwd`.
 */
export function parseConfig(
  env: Record<string, string | undefined> = process.env,
  flags: Partial<Record<ConfigVariable, string>> = {},
  cwd = process.cwd(),
): GatewayConfig {
  const merged: Record<string, string | undefined> = { ...env, ...flags };
  const label = (key: string) => {
    const flag = CONFIG_OPTIONS[key as ConfigVariable]?.flag;
    return flags[key as ConfigVariable] !== undefined && flag ? `${flag} (${key})` : key;
  };
  const parsed = ENV_SCHEMA.safeParse(merged);
  const problems = new Map<string, string>();
  const problem = (key: string, message: string) => {
    if (!problems.has(key)) problems.set(key, `${label(key)}: ${message}`);
  };
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]);
      // a database URL may carry a password: never echo it
      const raw = key === "TRIAD_GATEWAY_DATABASE_URL" ? merged[key]?.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@") : merged[key];
      const shown = SECRET.has(key) || raw === undefined ? "" : ` (got "${raw.length > 80 ? raw.slice(0, 77) + "..." : raw}")`;
      problem(key, issue.message + shown);
    }
  }
  const e = parsed.success ? parsed.data : ({} as Partial<z.infer<typeof ENV_SCHEMA>>);
  const has = (key: ConfigVariable) => !!merged[key]?.trim();

  if (!has("TRIAD_GATEWAY_RPC_URL")) problem("TRIAD_GATEWAY_RPC_URL", "is required (the JSON-RPC endpoint of the chain)");
  const external = has("TRIAD_GATEWAY_MQTT_URL");
  if (external) {
    for (const key of ["TRIAD_GATEWAY_MQTT_HOST", "TRIAD_GATEWAY_MQTT_PORT"] as const) {
      if (has(key)) problem(key, "configures the embedded broker: not with TRIAD_GATEWAY_MQTT_URL");
    }
    if (e.TRIAD_GATEWAY_MQTT_PROTOCOL === "4" && e.TRIAD_GATEWAY_MQTT_SHARE_GROUP !== "off") {
      problem("TRIAD_GATEWAY_MQTT_SHARE_GROUP", 'shared subscriptions need MQTT 5: set it to "off" with TRIAD_GATEWAY_MQTT_PROTOCOL=4');
    }
  } else {
    for (const key of [
      "TRIAD_GATEWAY_MQTT_PROTOCOL",
      "TRIAD_GATEWAY_MQTT_SHARE_GROUP",
      "TRIAD_GATEWAY_MQTT_CLIENT_ID",
      "TRIAD_GATEWAY_MQTT_USERNAME",
      "TRIAD_GATEWAY_MQTT_PASSWORD",
    ] as const) {
      if (has(key)) problem(key, "configures an external broker: needs TRIAD_GATEWAY_MQTT_URL");
    }
  }
  if (e.TRIAD_GATEWAY_VALUE_RANGES?.[AI4I_SCHEMA] && e.TRIAD_GATEWAY_VALUE_RANGES[AI4I_SCHEMA].length !== AI4I_VALUE_RANGES.length) {
    problem(
      "TRIAD_GATEWAY_VALUE_RANGES",
      `"${AI4I_SCHEMA}" has ${AI4I_VALUE_RANGES.length} values: give ${AI4I_VALUE_RANGES.length} ranges`,
    );
  }
  if (has("TRIAD_GATEWAY_PRIVATE_KEY") && has("TRIAD_GATEWAY_KEY_FILE"))
    problem("TRIAD_GATEWAY_KEY_FILE", "give the anchoring key once: TRIAD_GATEWAY_PRIVATE_KEY or TRIAD_GATEWAY_KEY_FILE");
  let anchorKey = e.TRIAD_GATEWAY_PRIVATE_KEY;
  if (e.TRIAD_GATEWAY_KEY_FILE && !problems.has("TRIAD_GATEWAY_KEY_FILE")) {
    const file = path.resolve(cwd, e.TRIAD_GATEWAY_KEY_FILE);
    try {
      const mode = statSync(file).mode & 0o077;
      if (mode !== 0)
        problem(
          "TRIAD_GATEWAY_KEY_FILE",
          `${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)}): chmod 600 it`,
        );
      const text = readFileSync(file, "utf8").trim();
      if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) problem("TRIAD_GATEWAY_KEY_FILE", `${file} does not hold a 32-byte hex private key`);
      else anchorKey = text;
    } catch (error) {
      problem("TRIAD_GATEWAY_KEY_FILE", `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  }
  const monitorOn = e.TRIAD_GATEWAY_MONITOR === "true";
  const monitorKeys = [
    "TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS",
    "TRIAD_GATEWAY_MONITOR_RAISE_AFTER",
    "TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS",
    "TRIAD_GATEWAY_MONITOR_CLEAR_AFTER",
    "TRIAD_GATEWAY_MONITOR_QUEUE",
    "TRIAD_GATEWAY_ALERT_WEBHOOK",
  ] as const;
  if (!monitorOn)
    for (const key of monitorKeys) if (has(key)) problem(key, "configures the AI monitor: needs TRIAD_GATEWAY_MONITOR=true (--monitor)");
  for (const key of ["TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS", "TRIAD_GATEWAY_ALERT_WEBHOOK_RETRIES"] as const)
    if (has(key) && !has("TRIAD_GATEWAY_ALERT_WEBHOOK")) problem(key, "configures the alert webhook: needs TRIAD_GATEWAY_ALERT_WEBHOOK");
  const raiseAtBps = e.TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS ?? MONITOR_DEFAULTS.raiseAtBps;
  const clearAtBps = e.TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS ?? MONITOR_DEFAULTS.clearAtBps;
  if (monitorOn && clearAtBps >= raiseAtBps) {
    const key = has("TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS") ? "TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS" : "TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS";
    problem(
      key,
      `the clear threshold (${clearAtBps} bps) must be below the raise threshold (${raiseAtBps} bps): that gap is the hysteresis`,
    );
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  const monitor: MonitorConfig | undefined = monitorOn
    ? {
        thresholds: {
          raiseAtBps,
          raiseAfter: e.TRIAD_GATEWAY_MONITOR_RAISE_AFTER ?? MONITOR_DEFAULTS.raiseAfter,
          clearAtBps,
          clearAfter: e.TRIAD_GATEWAY_MONITOR_CLEAR_AFTER ?? MONITOR_DEFAULTS.clearAfter,
        },
        queueLimit: e.TRIAD_GATEWAY_MONITOR_QUEUE ?? MONITOR_DEFAULTS.queueLimit,
        webhook: e.TRIAD_GATEWAY_ALERT_WEBHOOK
          ? {
              url: e.TRIAD_GATEWAY_ALERT_WEBHOOK,
              timeoutMs: e.TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS ?? 5000,
              retries: e.TRIAD_GATEWAY_ALERT_WEBHOOK_RETRIES ?? 3,
            }
          : undefined,
      }
    : undefined;
  const interval = e.TRIAD_GATEWAY_ANCHOR_INTERVAL_S ?? 60;
  const anchoring: AnchoringConfig | undefined =
    anchorKey && interval > 0
      ? {
          privateKey: anchorKey.startsWith("0x") ? anchorKey : `0x${anchorKey}`,
          intervalMs: interval * 1000,
          maxReadings: e.TRIAD_GATEWAY_ANCHOR_MAX_READINGS ?? 200_000,
          confirmations: e.TRIAD_GATEWAY_ANCHOR_CONFIRMATIONS ?? 1,
          publicUrl: e.TRIAD_GATEWAY_PUBLIC_URL,
        }
      : undefined;

  const mqtt: MqttConfig = external
    ? {
        mode: "external",
        url: e.TRIAD_GATEWAY_MQTT_URL!,
        protocolVersion: e.TRIAD_GATEWAY_MQTT_PROTOCOL === "4" ? 4 : 5,
        shareGroup: e.TRIAD_GATEWAY_MQTT_SHARE_GROUP === "off" ? undefined : (e.TRIAD_GATEWAY_MQTT_SHARE_GROUP ?? "triad-gateway"),
        clientId: e.TRIAD_GATEWAY_MQTT_CLIENT_ID ?? `triad-gateway-${e.TRIAD_GATEWAY_CHAIN_ID ?? "chain"}`,
        username: e.TRIAD_GATEWAY_MQTT_USERNAME,
        password: e.TRIAD_GATEWAY_MQTT_PASSWORD,
      }
    : { mode: "embedded", host: e.TRIAD_GATEWAY_MQTT_HOST ?? "127.0.0.1", port: e.TRIAD_GATEWAY_MQTT_PORT ?? 1883 };
  const db = e.TRIAD_GATEWAY_DATABASE_URL ?? { kind: "sqlite", file: "triad-gateway.sqlite", url: "sqlite:triad-gateway.sqlite" };
  return {
    rpcUrl: e.TRIAD_GATEWAY_RPC_URL!,
    chainId: e.TRIAD_GATEWAY_CHAIN_ID,
    registry: e.TRIAD_GATEWAY_REGISTRY_ADDRESS,
    deploymentsDir: e.TRIAD_DEPLOYMENTS_DIR && path.resolve(cwd, e.TRIAD_DEPLOYMENTS_DIR),
    mqtt,
    database: db.kind === "sqlite" ? { ...db, file: path.resolve(cwd, db.file) } : db,
    httpHost: e.TRIAD_GATEWAY_HTTP_HOST ?? "127.0.0.1",
    httpPort: e.TRIAD_GATEWAY_HTTP_PORT ?? 8080,
    maxClockSkewSeconds: e.TRIAD_GATEWAY_MAX_CLOCK_SKEW_S ?? 300,
    registryPollMs: e.TRIAD_GATEWAY_REGISTRY_POLL_MS ?? 2000,
    registryMaxStalenessMs: e.TRIAD_GATEWAY_REGISTRY_MAX_STALENESS_MS ?? 30_000,
    logBlockRange: e.TRIAD_GATEWAY_LOG_BLOCK_RANGE ?? 2000,
    valueRanges: { [AI4I_SCHEMA]: AI4I_VALUE_RANGES, ...(e.TRIAD_GATEWAY_VALUE_RANGES ?? {}) },
    logLevel: e.TRIAD_GATEWAY_LOG_LEVEL ?? "info",
    marketplace: e.TRIAD_GATEWAY_MARKETPLACE,
    streams: {
      maxSubscribers: e.TRIAD_GATEWAY_STREAM_MAX_SUBSCRIBERS ?? 100,
      recheckMs: e.TRIAD_GATEWAY_STREAM_RECHECK_MS ?? 30_000,
      maxBufferedBytes: e.TRIAD_GATEWAY_STREAM_MAX_BUFFER_BYTES ?? 1024 * 1024,
      challengeTtlSeconds: e.TRIAD_GATEWAY_STREAM_CHALLENGE_TTL_S ?? 60,
    },
    anchoring,
    monitor,
  };
}

/** The variables as an aligned text block for --help: flag, variable, meaning, default. */
export function configHelpText(): string {
  const rows = CONFIG_VARIABLES.map(
    (v) => [`${CONFIG_OPTIONS[v].flag}${CONFIG_OPTIONS[v].boolean ? "" : " <value>"}`, v, CONFIG_OPTIONS[v]] as const,
  );
  const w1 = Math.max(...rows.map((r) => r[0].length));
  const w2 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([flag, v, o]) => `  ${flag.padEnd(w1)}  ${v.padEnd(w2)}  ${o.meaning} (default: ${o.default})`).join("\n");
}
