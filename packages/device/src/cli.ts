/**
 * `triad-device <command>` (to be wired in as `triad device …`): run a device agent, a simulated fleet, or make a key.
 *
 *   run      one device: --source simulator|ai4i|stdin, signs and publishes over MQTT with the on-disk outbox
 *   fleet    many simulated devices from one process (load mode)
 *   keygen   a new device key file (mode 0600)
 *
 * Options may also come from TRIAD_DEVICE_* environment variables (listed in --help); the keystore password only
 * comes from the environment. Logs are JSON lines (pino) on stdout; a configuration problem prints one line per bad
 * field on stderr and exits 2.
 */
import { realpathSync } from "node:fs";
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import { isAddress, type Wallet } from "ethers";
import { TriadError } from "@triad/sdk";
import { loadDeployment } from "@triad/sdk/node";
import { createDeviceAgent } from "./agent.ts";
import { createFleet } from "./fleet.ts";
import { KeyError, generateKeyFile, loadKeyFile, loadKeystore } from "./keys.ts";
import { startOpsServer } from "@triad/sdk/node";
import { SCENARIOS, type Scenario } from "./simulator.ts";
import { ai4iCsvSource, jsonLinesSource, simulatorSource, type ReadingSource } from "./sources.ts";

export class ConfigError extends TriadError {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.join("\n")}`, "CONFIG");
  }
}

const COMMON = `Connection and state (option, or environment variable):
  --chain-id <n>          TRIAD_CHAIN_ID         chain of the DeviceRegistry (EIP-712 domain)
  --registry <0x…>        TRIAD_REGISTRY         DeviceRegistry address (default: deployments/<chainId>.json)
  --mqtt-url <url>        TRIAD_MQTT_URL         broker, e.g. mqtt://127.0.0.1:1883 (default)
  --mqtt-username <u>     TRIAD_MQTT_USERNAME    (password: TRIAD_MQTT_PASSWORD, environment only)
  --state-dir <dir>       TRIAD_DEVICE_STATE_DIR seq and outbox (SQLite), default ./device-state
  --max-outbox <n>                               readings buffered while the broker is away (default 100000)
  --metrics-port <n>      TRIAD_DEVICE_METRICS_PORT  serve /healthz and /metrics (default: off; 0 = any port)
  --metrics-host <addr>                          default 127.0.0.1
  --log-level <level>     TRIAD_LOG_LEVEL        trace|debug|info|warn|error (default info)`;

const USAGE = `Usage: triad-device <command> [options]

Commands:
  run      run one device agent (sources: simulator, ai4i CSV replay, JSON lines on stdin)
  fleet    simulate many devices from one process (load mode)
  keygen   write a new device key file (mode 0600)

Run "triad-device <command> --help" for a command's options.`;

const HELP: Record<string, string> = {
  run: `Usage: triad-device run --source simulator|ai4i|stdin [options]

Signs each reading with the device key (seq kept in the state directory, never re-used), stores it in the on-disk
outbox and publishes it with QoS 1 to triad/v1/{chainId}/{device}/readings; buffers while the broker is away.
SIGINT/SIGTERM stop it (waiting up to 5 s for the outbox to flush; the rest is sent on the next start).

Key (one of):
  --key-file <file>       TRIAD_DEVICE_KEY_FILE  hex private key, mode 0600
  --keystore <file>       TRIAD_DEVICE_KEYSTORE  encrypted JSON keystore; password in TRIAD_DEVICE_KEYSTORE_PASSWORD

Source:
  --source <s>            simulator (default), ai4i, stdin
  --rate <r>              readings per second (default 1; 0 = as fast as possible)
  --count <n>             stop after n readings
  --scenario <s>          simulator: ${SCENARIOS.join(" | ")} (default normal)
  --episode-start <n>     simulator: step where the drift starts (default 100)
  --ramp <n> --hold <n>   simulator: drift and hold steps (default 30, 30)
  --seed <s>              simulator seed (default: the device address)
  --csv <file>            ai4i: the CSV (default data/ai4i2020/ai4i2020-train.csv)
  --loop                  ai4i: start again at the end
  --bad-lines stop|skip   stdin: a bad JSON line stops the agent (default) or is logged and skipped

${COMMON}`,
  fleet: `Usage: triad-device fleet --count <n> [options]

Simulates n devices (keys derived from --seed: for tests and load only) publishing over --connections MQTT
connections (default 1) at --rate readings per device per second (default 1). Prints a JSON summary on stop.

  --count <n>             devices (required)
  --seed <s>              key and simulator seed (default "triad")
  --rate <r>              readings per device per second (default 1)
  --connections <k>       MQTT connections (default 1)
  --duration <s>          stop after s seconds (default: until SIGINT/SIGTERM)
  --scenario <s>          ${SCENARIOS.join(" | ")} for every device (default normal)

${COMMON}`,
  keygen: `Usage: triad-device keygen --out <file>

Writes a new random device key (hex) to <file> with mode 0600 (never overwrites) and prints its address as JSON.
For production devices keep the key in secure hardware instead (see packages/device/README.md).`,
};

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  source: { type: "string" },
  "key-file": { type: "string" },
  keystore: { type: "string" },
  "chain-id": { type: "string" },
  registry: { type: "string" },
  "mqtt-url": { type: "string" },
  "mqtt-username": { type: "string" },
  "state-dir": { type: "string" },
  "max-outbox": { type: "string" },
  "metrics-port": { type: "string" },
  "metrics-host": { type: "string" },
  "log-level": { type: "string" },
  rate: { type: "string" },
  count: { type: "string" },
  scenario: { type: "string" },
  "episode-start": { type: "string" },
  ramp: { type: "string" },
  hold: { type: "string" },
  seed: { type: "string" },
  csv: { type: "string" },
  loop: { type: "boolean" },
  "bad-lines": { type: "string" },
  connections: { type: "string" },
  duration: { type: "string" },
  out: { type: "string" },
} as const;

type Values = ReturnType<typeof parse>["values"];
function parse(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true });
}

interface CommonConfig {
  chainId: bigint;
  registry: string;
  mqttUrl: string;
  mqttUsername?: string;
  mqttPassword?: string;
  stateDir: string;
  maxOutbox?: number;
  metricsPort?: number;
  metricsHost: string;
  logLevel: string;
}

/** Validates the options shared by run and fleet; every bad field is one line of the ConfigError. */
export function commonConfig(v: Values, env: NodeJS.ProcessEnv, problems: string[]): CommonConfig {
  const chainText = v["chain-id"] ?? env.TRIAD_CHAIN_ID;
  let chainId = 0n;
  if (!chainText) problems.push("--chain-id: is required (or TRIAD_CHAIN_ID)");
  else if (!/^[1-9]\d{0,19}$/.test(chainText)) problems.push(`--chain-id: must be a positive integer, got "${chainText}"`);
  else chainId = BigInt(chainText);
  let registry = v.registry ?? env.TRIAD_REGISTRY ?? "";
  if (registry && !isAddress(registry)) problems.push(`--registry: not an address: "${registry}"`);
  if (!registry && chainId > 0n) {
    try {
      registry = loadDeployment(chainId, { required: ["DeviceRegistry"] }).contracts.DeviceRegistry!;
    } catch (error) {
      problems.push(`--registry: is required (or TRIAD_REGISTRY): ${(error as Error).message}`);
    }
  }
  const mqttUrl = v["mqtt-url"] ?? env.TRIAD_MQTT_URL ?? "mqtt://127.0.0.1:1883";
  try {
    const u = new URL(mqttUrl);
    if (!["mqtt:", "mqtts:", "tcp:", "tls:", "ws:", "wss:"].includes(u.protocol))
      problems.push(`--mqtt-url: unsupported protocol "${u.protocol}" (mqtt, mqtts, ws, wss)`);
  } catch {
    problems.push(`--mqtt-url: not a URL: "${mqttUrl}"`);
  }
  const int = (name: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`--${name}: must be an integer ≥ ${min}, got "${text}"`);
      return undefined;
    }
    return n;
  };
  const logLevel = v["log-level"] ?? env.TRIAD_LOG_LEVEL ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel))
    problems.push(`--log-level: unknown level "${logLevel}"`);
  const metricsPort = int("metrics-port", v["metrics-port"] ?? env.TRIAD_DEVICE_METRICS_PORT, 0);
  if (metricsPort !== undefined && metricsPort > 65535) problems.push("--metrics-port: must be ≤ 65535");
  return {
    chainId,
    registry,
    mqttUrl,
    mqttUsername: v["mqtt-username"] ?? env.TRIAD_MQTT_USERNAME,
    mqttPassword: env.TRIAD_MQTT_PASSWORD,
    stateDir: v["state-dir"] ?? env.TRIAD_DEVICE_STATE_DIR ?? "device-state",
    maxOutbox: int("max-outbox", v["max-outbox"], 1),
    metricsPort,
    metricsHost: v["metrics-host"] ?? "127.0.0.1",
    logLevel,
  };
}

function number(
  name: string,
  text: string | undefined,
  problems: string[],
  check: (n: number) => boolean,
  what: string,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || !check(n)) {
    problems.push(`--${name}: must be ${what}, got "${text}"`);
    return undefined;
  }
  return n;
}

async function loadKey(v: Values, env: NodeJS.ProcessEnv, problems: string[]): Promise<Wallet | undefined> {
  const keyFile = v["key-file"] ?? env.TRIAD_DEVICE_KEY_FILE;
  const keystore = v.keystore ?? env.TRIAD_DEVICE_KEYSTORE;
  if (keyFile && keystore) {
    problems.push("--key-file: give either --key-file or --keystore, not both");
    return undefined;
  }
  if (!keyFile && !keystore) {
    problems.push("--key-file: is required (or --keystore with TRIAD_DEVICE_KEYSTORE_PASSWORD)");
    return undefined;
  }
  try {
    if (keyFile) return loadKeyFile(keyFile);
    const password = env.TRIAD_DEVICE_KEYSTORE_PASSWORD;
    if (password === undefined) {
      problems.push("TRIAD_DEVICE_KEYSTORE_PASSWORD: is required with --keystore");
      return undefined;
    }
    return await loadKeystore(keystore!, password);
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    problems.push(`${keyFile ? "--key-file" : "--keystore"}: ${error.message}`);
    return undefined;
  }
}

function mqttOptions(c: CommonConfig) {
  return c.mqttUsername ? { username: c.mqttUsername, password: c.mqttPassword } : {};
}

/** Resolves on the first SIGINT/SIGTERM (a second one exits at once). */
function untilSignal(logger: Logger): { promise: Promise<string>; controller: AbortController } {
  const controller = new AbortController();
  const promise = new Promise<string>((resolve) => {
    const handler = (signal: string) => {
      if (controller.signal.aborted) process.exit(130);
      logger.info({ signal }, "stopping");
      controller.abort();
      resolve(signal);
    };
    process.once("SIGINT", () => handler("SIGINT"));
    process.once("SIGTERM", () => handler("SIGTERM"));
  });
  return { promise, controller };
}

async function cmdRun(v: Values, env: NodeJS.ProcessEnv): Promise<number> {
  const problems: string[] = [];
  const c = commonConfig(v, env, problems);
  const key = await loadKey(v, env, problems);
  const source = v.source ?? "simulator";
  if (!["simulator", "ai4i", "stdin"].includes(source)) problems.push(`--source: must be simulator, ai4i or stdin, got "${source}"`);
  const rate = number("rate", v.rate, problems, (n) => n >= 0, "a number ≥ 0") ?? (source === "stdin" ? 0 : 1);
  const count = number("count", v.count, problems, (n) => Number.isInteger(n) && n >= 0, "an integer ≥ 0");
  const scenario = (v.scenario ?? "normal") as Scenario;
  if (!SCENARIOS.includes(scenario)) problems.push(`--scenario: must be one of ${SCENARIOS.join(", ")}, got "${v.scenario}"`);
  const intOpt = (name: "episode-start" | "ramp" | "hold") =>
    number(name, v[name], problems, (n) => Number.isInteger(n) && n >= 0, "an integer ≥ 0");
  const episodeStart = intOpt("episode-start");
  const ramp = intOpt("ramp");
  const hold = intOpt("hold");
  const badLines = v["bad-lines"] ?? "stop";
  if (badLines !== "stop" && badLines !== "skip") problems.push(`--bad-lines: must be stop or skip, got "${badLines}"`);
  if (problems.length > 0) throw new ConfigError(problems);

  const logger = pino({ level: c.logLevel, base: { service: "triad-device" } });
  const agent = createDeviceAgent({
    key: key!,
    chainId: c.chainId,
    registry: c.registry,
    mqttUrl: c.mqttUrl,
    stateDir: c.stateDir,
    logger,
    maxOutbox: c.maxOutbox,
    mqtt: mqttOptions(c),
  });
  const stop = untilSignal(logger);
  const signal = stop.controller.signal;
  const ops =
    c.metricsPort === undefined
      ? undefined
      : await startOpsServer({
          port: c.metricsPort,
          host: c.metricsHost,
          registry: agent.metrics.registry,
          health: () => {
            const s = agent.stats();
            return { healthy: s.outbox < (c.maxOutbox ?? 100_000), device: agent.device, ...s, nextSeq: agent.nextSeq().toString() };
          },
        });
  if (ops) logger.info({ url: ops.url }, "serving /healthz and /metrics");
  logger.info(
    { device: agent.device, source, chainId: c.chainId.toString(), registry: c.registry, nextSeq: agent.nextSeq().toString() },
    "device agent started",
  );
  let readings: ReadingSource;
  if (source === "simulator") {
    readings = simulatorSource({ seed: v.seed ?? agent.device, scenario, episodeStart, ramp, hold, rate, count, signal });
  } else if (source === "ai4i") {
    readings = ai4iCsvSource({ file: v.csv ?? "data/ai4i2020/ai4i2020-train.csv", loop: v.loop, rate, count, signal });
  } else {
    readings = jsonLinesSource(process.stdin, {
      rate,
      count,
      signal,
      onBadLine: badLines as "stop" | "skip",
      onError: (e) => logger.warn({ line: e.line, reason: e.reason }, "bad input line skipped"),
    });
  }
  let code = 0;
  try {
    const result = await Promise.race([agent.run(readings, { signal }), stop.promise.then(() => undefined)]);
    logger.info({ run: result, ...agent.stats() }, "source finished");
  } catch (error) {
    logger.error({ err: (error as Error).message }, "source failed");
    code = 1;
  }
  await agent.close({ drainMs: 5_000 });
  await ops?.close();
  const s = agent.stats();
  process.stdout.write(
    `${JSON.stringify({ device: agent.device, signed: s.signed, acked: s.acked, outbox: s.outbox, rejections: s.rejections })}\n`,
  );
  return code;
}

async function cmdFleet(v: Values, env: NodeJS.ProcessEnv): Promise<number> {
  const problems: string[] = [];
  const c = commonConfig(v, env, problems);
  const count = number("count", v.count, problems, (n) => Number.isInteger(n) && n >= 1, "an integer ≥ 1");
  if (v.count === undefined) problems.push("--count: is required");
  const rate = number("rate", v.rate, problems, (n) => n > 0, "a number > 0") ?? 1;
  const connections = number("connections", v.connections, problems, (n) => Number.isInteger(n) && n >= 1, "an integer ≥ 1") ?? 1;
  const duration = number("duration", v.duration, problems, (n) => n > 0, "a number > 0");
  const scenario = (v.scenario ?? "normal") as Scenario;
  if (!SCENARIOS.includes(scenario)) problems.push(`--scenario: must be one of ${SCENARIOS.join(", ")}, got "${v.scenario}"`);
  if (count !== undefined && connections > count) problems.push("--connections: must not exceed --count");
  if (problems.length > 0) throw new ConfigError(problems);

  const logger = pino({ level: c.logLevel, base: { service: "triad-device-fleet" } });
  const fleet = createFleet({
    count: count!,
    seed: v.seed,
    chainId: c.chainId,
    registry: c.registry,
    mqttUrl: c.mqttUrl,
    stateDir: c.stateDir,
    rate,
    connections,
    simulator: { scenario },
    logger,
    maxOutbox: c.maxOutbox,
    mqtt: mqttOptions(c),
  });
  const stop = untilSignal(logger);
  const ops =
    c.metricsPort === undefined
      ? undefined
      : await startOpsServer({
          port: c.metricsPort,
          host: c.metricsHost,
          registry: fleet.metrics.registry,
          health: () => ({ healthy: true, ...fleet.stats() }),
        });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  fleet.start();
  logger.info({ devices: count, rate, connections }, "fleet started");
  await Promise.race([stop.promise, ...(duration ? [new Promise((r) => setTimeout(r, duration * 1000))] : [])]);
  fleet.stop();
  const seconds = (performance.now() - t0) / 1000;
  await fleet.close({ drainMs: 5_000 });
  await ops?.close();
  const cpu = process.cpuUsage(cpu0);
  const stats = fleet.stats();
  process.stdout.write(
    `${JSON.stringify({ ...stats, seconds: +seconds.toFixed(2), readingsPerSecond: +(stats.acked / seconds).toFixed(1), cpuPercent: +((100 * (cpu.user + cpu.system)) / 1e6 / seconds).toFixed(1) })}\n`,
  );
  return 0;
}

function cmdKeygen(v: Values): number {
  if (!v.out) throw new ConfigError(["--out: is required"]);
  const wallet = generateKeyFile(v.out);
  process.stdout.write(`${JSON.stringify({ address: wallet.address, file: v.out })}\n`);
  return 0;
}

/** Runs one command; returns the exit code (0 ok, 1 failure, 2 configuration, 64 usage). Throws ConfigError. */
export async function runDeviceCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 64;
  }
  if (!(command in HELP)) {
    process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
    return 64;
  }
  let values: Values;
  try {
    values = parse(rest).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${HELP[command]}\n`);
    return 64;
  }
  if (values.help) {
    process.stdout.write(`${HELP[command]}\n`);
    return 0;
  }
  if (command === "run") return cmdRun(values, env);
  if (command === "fleet") return cmdFleet(values, env);
  return cmdKeygen(values);
}

/** The process entry: runs the command and exits with its code. */
export function runMain(argv: string[] = process.argv.slice(2)): void {
  runDeviceCli(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError) {
        for (const line of error.problems) process.stderr.write(`config error: ${line}\n`);
        process.exit(2);
      }
      process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
      process.exit(1);
    },
  );
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(import.meta.filename);
  } catch {
    return false;
  }
}

if (isEntryPoint()) runMain();
