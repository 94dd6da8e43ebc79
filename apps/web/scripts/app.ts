/**
 * `npm run app [-- --static] [--port 5173] [--rpc-port 8545] [--reading-interval-ms 5000] [--no-oracle]`: starts or
 * reuses the local stack (./stack.ts) and serves the web app, printing the URL and what runs where. Ctrl-C stops what
 * it started (a node or deployment it found running is left alone).
 */
import { parseArgs } from "node:util";
import { APP_ACCOUNTS, startAppStack } from "./stack.ts";

const USAGE = `usage: npm run app [-- --static] [--port <n>] [--rpc-port <n>] [--reading-interval-ms <n>] [--anchor-interval <s>]
                    [--evidence-port <n>] [--gateway-port <n>] [--no-oracle] [--log-level <level>]

  --static                serve apps/web/dist (npm run app:build first) instead of the Vite dev server
  --port                  the app's port (default 5173)
  --rpc-port              the hardhat node's port (default 8545; a node already there with chain 31337 is reused)
  --reading-interval-ms   milliseconds between two readings of each simulated device (default 5000)
  --anchor-interval       seconds between two fleet anchors of the gateway (default 15)
  --evidence-port         the evidence store's port (default 8787)
  --gateway-port          the gateway's HTTP port (default 8788)
  --no-oracle             do not start the oracle committee
  --log-level             the services' log level on stderr (default warn)`;

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) {
    console.error(`error: --${name} must be a whole number, got "${value}"\n${USAGE}`);
    process.exit(2);
  }
  return Number(value);
}

let args;
try {
  args = parseArgs({
    options: {
      static: { type: "boolean", default: false },
      port: { type: "string" },
      "rpc-port": { type: "string" },
      "reading-interval-ms": { type: "string" },
      "anchor-interval": { type: "string" },
      "evidence-port": { type: "string" },
      "gateway-port": { type: "string" },
      "no-oracle": { type: "boolean", default: false },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  console.error(`error: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const started = Date.now();
try {
  const stack = await startAppStack({
    serve: args.static ? "static" : "dev",
    appPort: positive(args.port, "port", 5173),
    rpcPort: positive(args["rpc-port"], "rpc-port", 8545),
    readingIntervalMs: positive(args["reading-interval-ms"], "reading-interval-ms", 5000),
    anchorIntervalS: positive(args["anchor-interval"], "anchor-interval", 15),
    evidencePort: positive(args["evidence-port"], "evidence-port", 8787),
    gatewayPort: positive(args["gateway-port"], "gateway-port", 8788),
    oracle: !args["no-oracle"],
    logLevel: args["log-level"] ?? "warn",
    log: (line) => console.log(`  ${line}`),
  });
  console.log(`\nTriad web app ready in ${((Date.now() - started) / 1000).toFixed(1)} s: open ${stack.appUrl}\n`);
  for (const s of stack.services) console.log(`  ${s.name.padEnd(64)} ${s.where}${s.reused ? " (reused)" : ""}`);
  console.log(
    `\n  In the app: "Connect wallet" → "Local test account" ${APP_ACCOUNTS.owner} owns the devices, ${APP_ACCOUNTS.buyer} is a buyer, ${APP_ACCOUNTS.lp} the LP` +
      ` (Hardhat's default mnemonic: test keys only). A browser wallet works too: add the network ${stack.rpcUrl}, chain id 31337.` +
      `\n  Ctrl-C stops what was started here.\n`,
  );
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping…");
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown());
  process.on("SIGTERM", () => void shutdown());
} catch (err) {
  console.error(`error: the app could not start: ${(err as Error).message}`);
  process.exit(1);
}
