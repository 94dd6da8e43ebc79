/**
 * `triad-gateway <command>` (packages/gateway/bin/triad-gateway.js):
 *
 *   run    the gateway service: MQTT ingest (embedded broker or an external one), verification, durable store, HTTP API
 *
 * Configuration: TRIAD_GATEWAY_* environment variables, each overridden by its flag (see `run --help`). Logs are JSON
 * lines on stdout (pino).
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { TriadError } from "@triad/sdk";
import { CONFIG_OPTIONS, CONFIG_VARIABLES, ConfigError, configHelpText, parseConfig, type ConfigVariable } from "./config.ts";
import { startGateway } from "./service.ts";

const USAGE = `Usage: triad-gateway <command> [options]

Commands:
  run      run the gateway (MQTT ingest, verification, durable store, HTTP API)

Run "triad-gateway run --help" for its options.`;

const RUN_HELP = `Usage: triad-gateway run [options]

Runs the gateway. Devices publish signed readings with QoS 1 to triad/v1/{chainId}/{device}/readings on the
embedded MQTT broker (default 127.0.0.1:1883), or on the external broker given with --mqtt-url (the gateway then
subscribes with an MQTT 5 shared subscription $share/<group>/triad/v1/{chainId}/+/readings, so several gateways
split the load). Each reading is verified (topic, format, signature, registered and Active device, schema and
value ranges, clock skew, seq order) and durably stored before the broker acknowledges it; a refused reading is
answered on triad/v1/{chainId}/{device}/rejections with its seq and a reason code. With --monitor every stored
reading is scored with the AI model and failure-risk alerts go to triad/v1/{chainId}/{device}/alerts (and the
--alert-webhook). HTTP API, /healthz and /metrics on --http-host:--http-port. SIGINT/SIGTERM stop it gracefully
(a second signal exits at once).

Options (each flag overrides its environment variable):
${configHelpText()}
  -h, --help`;

class UsageError extends TriadError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, "USAGE");
  }
}

const FLAG_TO_VARIABLE = new Map<string, ConfigVariable>(CONFIG_VARIABLES.map((v) => [CONFIG_OPTIONS[v].flag.slice(2), v]));

/** Runs the CLI with `argv` (without node and the script); resolves with the exit code once the command is over. */
export async function runGatewayCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE + "\n");
    return command ? 0 : 1;
  }
  if (command !== "run") throw new UsageError(`unknown command "${command}" (commands: run; see --help)`);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: {
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(
          [...FLAG_TO_VARIABLE].map(([f, v]) => [f, { type: CONFIG_OPTIONS[v].boolean ? ("boolean" as const) : ("string" as const) }]),
        ),
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (see triad-gateway run --help)`);
  }
  if (values.help) {
    process.stdout.write(RUN_HELP + "\n");
    return 0;
  }
  const flags: Partial<Record<ConfigVariable, string>> = {};
  for (const [flag, variable] of FLAG_TO_VARIABLE) {
    if (typeof values[flag] === "string") flags[variable] = values[flag] as string;
    else if (values[flag] === true) flags[variable] = "true"; // a boolean flag such as --monitor
  }
  const config = parseConfig(process.env, flags);
  const logger = pino({ level: config.logLevel, base: { service: "triad-gateway" } });
  const gateway = await startGateway(config, { logger });
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal }, "second signal: exiting now");
        process.exit(130);
      }
      logger.info({ signal }, "signal received");
      gateway.stop().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: (error as Error)?.message ?? String(error) }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

/** The bin's entry: runs the CLI and exits with its code; configuration errors print one line per bad field. */
export function runMain(argv: string[]): void {
  runGatewayCli(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
      else if (error instanceof UsageError) process.stderr.write(`${error.message}\n`);
      else process.stderr.write(`triad-gateway: ${(error as Error)?.stack ?? error}\n`);
      process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
    },
  );
}

if (process.argv[1] && import.meta.filename === (await import("node:fs")).realpathSync(process.argv[1])) runMain(process.argv.slice(2));
