/**
 * The local stack behind the web app, started (or reused) in-process by `npm run app` (scripts/app.ts) and by the
 * browser tests (e2e/web): a `hardhat node`, the deployment (`npm run deploy -- --network localhost`, the record in
 * deployments/31337.json), a little seeded state, the evidence store, a gateway with simulated devices publishing over
 * MQTT, a 2-of-3 oracle committee and the app's HTTP server (Vite dev server, or the built files with `serve:
 * "static"`), which serves /config.json and proxies the services the browser talks to:
 *
 *   /config.json   the AppConfig (chain, RPC, deployment, where the gateway, store and monitor are)
 *   /gateway/…     the gateway's HTTP API (readings, evidence, anchors, streams)
 *   /store/…       the evidence store (POST /store/evidence publishes; GET /store/evidence/<hash>)
 *   /monitor/…     failure risk per reading and the monitor's alerts (./monitor-feed.ts)
 *
 * The services send no CORS headers; same-origin paths keep them that way. Everything it starts, `stop()` stops; a
 * node or deployment it found running is left alone.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet, hexlify, id, type Signer } from "ethers";
import pino, { type Logger } from "pino";
import {
  ClaimsInsurance__factory,
  DataMarketplace__factory,
  DeviceRegistry__factory,
  InsurancePool__factory,
  TestToken__factory,
} from "@triad/contracts";
import {
  AI4I_SCHEMA,
  anchorReadings,
  buildReadingDataset,
  buildStreamManifest,
  contentHash,
  createListing,
  depositToPool,
  deviceRegistryDomain,
  encryptFile,
  generateContentKey,
  parseAi4iCsv,
  readingDigest,
  readingProof,
  registerDevice,
  signAi4iRows,
  telemetryToValues,
  type DeploymentRecord,
} from "@triad/sdk";
import { loadDeployment } from "@triad/sdk/node";
import { createDeviceAgent, MachineSimulator, type DeviceAgent, type Scenario } from "@triad/device";
import { parseConfig as parseGatewayConfig, startGateway, type Gateway } from "@triad/gateway";
import { startEvidenceServer, type EvidenceServer } from "@triad/oracle";
import { startMonitorFeed, type MonitorFeed } from "./monitor-feed.ts";

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname, "../../..");
const HARDHAT_CLI = path.join(ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

/** Accounts of Hardhat's default mnemonic and what the stack uses them for (test keys only). */
export const APP_ACCOUNTS = { deployer: 0, owner: 1, buyer: 2, lp: 3, gateway: 4, committee: [5, 6, 7] } as const;

/** The private key of account `index` of Hardhat's default mnemonic. */
export function hardhatKey(index: number): string {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(HARDHAT_MNEMONIC), `m/44'/60'/0'/0/${index}`).privateKey;
}

/** What the browser reads from /config.json (apps/web/src/lib/config.ts `AppConfig`). */
export interface BrowserConfig {
  chainId: number;
  chainName: string;
  rpcUrl: string;
  gatewayUrl?: string;
  evidenceUrl?: string;
  monitorUrl?: string;
  /** Real origins of services → the same-origin paths the app server proxies them at. */
  proxied?: Record<string, string>;
  deployment: DeploymentRecord;
}

export interface AppStackOptions {
  /** JSON-RPC port of the hardhat node (default 8545); a node answering there with chain 31337 is reused. */
  rpcPort?: number;
  /** Always start a node of our own on a free port (tests). */
  freshChain?: boolean;
  /** Where the deployment record is read and written (default deployments/ at the repository root). */
  deploymentsDir?: string;
  /** HTTP port of the app (default 5173; 0 = any free port). */
  appPort?: number;
  /** "dev": Vite dev server (default); "static": the built files of apps/web/dist (`npm run app:build` first); "none". */
  serve?: "dev" | "static" | "none";
  /** Milliseconds between two readings of each simulated device (default 5000). */
  readingIntervalMs?: number;
  /** Seconds between two fleet anchors of the gateway (default 15). */
  anchorIntervalS?: number;
  /** Readings after which device 1's machine drifts into a heat-dissipation failure (default 24). */
  failureAfterReadings?: number;
  /** Start the oracle committee (default true). */
  oracle?: boolean;
  /**
   * Where the gateway's database, the devices' state, the evidence store and the oracle checkpoints live. Default:
   * `<deploymentsDir>/.app-31337` (kept across runs on the same chain, emptied when the suite is deployed afresh), or
   * a temporary folder removed on stop with `freshChain`.
   */
  workDir?: string;
  /**
   * Ports of the evidence store and of the gateway's HTTP API: URLs on them are recorded on-chain (listing files,
   * anchor URIs), so they stay the same across runs. Default 8787 and 8788; 0 (any free port) with `freshChain`.
   */
  evidencePort?: number;
  gatewayPort?: number;
  /** Progress lines ("deployed…"); default: none. */
  log?: (line: string) => void;
  /** Log level of the gateway, devices and daemons' pino output on stderr (default "warn"). */
  logLevel?: string;
}

/** A simulated device of the stack. */
export interface StackDevice {
  address: string;
  /** The device's private key (a test key, made deterministically for the local chain). */
  key: string;
  scenario: Scenario | "archive";
  /** Account index of its owner. */
  owner: number;
}

export interface AppStack {
  rpcUrl: string;
  chainId: number;
  deployment: DeploymentRecord;
  /** The app's URL (undefined with serve "none"). */
  appUrl?: string;
  /** The gateway's own HTTP API URL (not proxied). */
  gatewayUrl: string;
  evidenceUrl: string;
  monitorUrl: string;
  /** What /config.json serves. */
  browserConfig: BrowserConfig;
  devices: StackDevice[];
  /** The seeded dataset listing and its content key (the seller's, account 1), to deliver it. */
  seeded: { productId: bigint; datasetListingId?: bigint; datasetContentKey?: string; streamListingId?: bigint; streamContentKey?: string };
  gateway: Gateway;
  /** What the stack started, for the summary: name → where. */
  services: { name: string; where: string; reused?: boolean }[];
  stop(): Promise<void>;
}

async function rpcChainId(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as { result?: string };
    return body.result ? Number(body.result) : undefined;
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, failed?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const reason = failed?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A child process in its own group, its output kept (last 64 KB) for error messages, killed with its group. */
interface Child {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv, echo?: (chunk: string) => void): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (d: Buffer) => {
    const text = d.toString("utf8");
    out = (out + text).slice(-64 * 1024);
    echo?.(text);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => kill("SIGKILL");
  process.once("exit", onExit);
  return {
    process: child,
    output: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      process.removeListener("exit", onExit);
    },
  };
}

/** The environment for child processes: ours without variables that would point them elsewhere. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(HARDHAT_|ORACLE_|TRIAD_)/.test(k) && k !== "LOCALHOST_RPC_URL" && k !== "FORCE_COLOR") env[k] = v;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

const DEPLOY_LOCK = path.join(os.tmpdir(), "triad-app-deploy-31337.lock");

/** Takes the deployment lock (a directory; one older than 10 min is a crashed holder's and is taken over). */
async function lockDeployments(log: (line: string) => void): Promise<() => void> {
  const deadline = Date.now() + 10 * 60_000;
  let said = false;
  for (;;) {
    try {
      mkdirSync(DEPLOY_LOCK);
      return () => rmSync(DEPLOY_LOCK, { recursive: true, force: true });
    } catch {
      try {
        if (Date.now() - statSync(DEPLOY_LOCK).mtimeMs > 10 * 60_000) rmSync(DEPLOY_LOCK, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
    }
    if (Date.now() > deadline)
      throw new Error(`another stack has been deploying for 10 min (lock ${DEPLOY_LOCK}): remove it if no deployment runs`);
    if (!said) log("Waiting for another stack's deployment to finish…");
    said = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The deployment record of chain 31337 in `dir` when its contracts are on the chain, else undefined. */
async function usableDeployment(dir: string, provider: JsonRpcProvider): Promise<DeploymentRecord | undefined> {
  if (!existsSync(path.join(dir, "31337.json"))) return undefined;
  try {
    const record = loadDeployment(31337, {
      dir,
      required: ["DeviceRegistry", "InsurancePool", "ClaimsInsurance", "DataMarketplace", "OracleCommittee"],
    });
    for (const address of Object.values(record.contracts)) if ((await provider.getCode(address!)) === "0x") return undefined;
    return record;
  } catch {
    return undefined;
  }
}

const AI4I_CSV = path.join(ROOT, "data", "ai4i2020", "ai4i2020-train.csv");

/**
 * Starts (or reuses) the stack and serves the app. Throws with one line saying what failed (and the child's last
 * output) when a part does not come up; what was started by then is stopped.
 */
export async function startAppStack(options: AppStackOptions = {}): Promise<AppStack> {
  const log = options.log ?? (() => undefined);
  const logLevel = options.logLevel ?? "warn";
  const logger: Logger = pino({ level: logLevel }, pino.destination(2));
  const cleanups: (() => Promise<void>)[] = [];
  const services: AppStack["services"] = [];
  const stop = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    // ------------------------------------------------------------ the chain
    let rpcPort = options.rpcPort ?? 8545;
    let rpcUrl = `http://127.0.0.1:${rpcPort}`;
    const running = options.freshChain ? undefined : await rpcChainId(rpcUrl);
    if (running !== undefined && running !== 31337) {
      throw new Error(`a node on ${rpcUrl} serves chain ${running}, not the local chain 31337: stop it or pass another --rpc-port`);
    }
    if (running === undefined) {
      if (options.freshChain) {
        rpcPort = await freePort();
        rpcUrl = `http://127.0.0.1:${rpcPort}`;
      }
      log(`Starting a hardhat node on ${rpcUrl}…`);
      const node = startChild([HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(rpcPort)], childEnv({}));
      cleanups.push(() => node.stop());
      await waitFor(
        `the hardhat node on ${rpcUrl}`,
        async () => (await rpcChainId(rpcUrl)) === 31337,
        120_000,
        () => (node.process.exitCode !== null ? `it exited:\n${node.output().slice(-2000)}` : undefined),
      );
      services.push({ name: "chain (hardhat node)", where: rpcUrl });
    } else {
      services.push({ name: "chain (hardhat node)", where: rpcUrl, reused: true });
    }
    const provider = new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
    cleanups.push(async () => provider.destroy());
    const wallet = (i: number) => new Wallet(hardhatKey(i), provider);

    // ------------------------------------------------------------ the deployment
    const deploymentsDir = options.deploymentsDir ?? path.join(ROOT, "deployments");
    let deployment = await usableDeployment(deploymentsDir, provider);
    const fresh = deployment === undefined;
    if (!deployment) {
      log("Deploying the suite (npm run deploy -- --network localhost)…");
      mkdirSync(deploymentsDir, { recursive: true });
      // Ignition keeps one journal per chain id (packages/devkit/ignition/deployments/chain-31337): two stacks
      // deploying at once to two local nodes would each take the other's journal for stale. One at a time.
      const unlock = await lockDeployments(log);
      let deploy: Child;
      try {
        deploy = startChild(
          [HARDHAT_CLI, "run", "packages/devkit/src/deploy-script.ts", "--network", "localhost"],
          childEnv({ LOCALHOST_RPC_URL: rpcUrl, TRIAD_DEPLOYMENTS_DIR: deploymentsDir }),
        );
        await deploy.exited;
      } finally {
        unlock();
      }
      const code = deploy.process.exitCode;
      if (code !== 0) throw new Error(`the deployment failed (exit ${code}):\n${deploy.output().slice(-3000)}`);
      deployment = loadDeployment(31337, {
        dir: deploymentsDir,
        required: ["DeviceRegistry", "InsurancePool", "ClaimsInsurance", "DataMarketplace"],
      });
      services.push({ name: "deployment", where: path.join(deploymentsDir, "31337.json") });
    } else {
      services.push({ name: "deployment", where: path.join(deploymentsDir, "31337.json"), reused: true });
    }
    const c = deployment.contracts;
    const registry = DeviceRegistry__factory.connect(c.DeviceRegistry!, provider);
    const market = DataMarketplace__factory.connect(c.DataMarketplace!, provider);
    const pool = InsurancePool__factory.connect(c.InsurancePool!, provider);
    const token = TestToken__factory.connect(deployment.token ?? c.TestToken!, provider);
    const domain = deviceRegistryDomain(31337n, c.DeviceRegistry!);

    // ------------------------------------------------------------ working folder, evidence store
    const temporary = !options.workDir && options.freshChain;
    const workDir =
      options.workDir ?? (temporary ? mkdtempSync(path.join(os.tmpdir(), "triad-app-")) : path.join(deploymentsDir, ".app-31337"));
    if (temporary) cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }));
    // A new deployment starts from nothing: the readings, device seqs and checkpoints of the old one are not its own.
    if (fresh && !options.workDir) rmSync(workDir, { recursive: true, force: true });
    mkdirSync(path.join(workDir, "evidence"), { recursive: true });
    const evidencePort = options.evidencePort ?? (options.freshChain ? 0 : 8787);
    const store: EvidenceServer = await startEvidenceServer({
      port: evidencePort,
      host: "127.0.0.1",
      dir: path.join(workDir, "evidence"),
      maxBytes: 4 * 1024 * 1024,
      // The browser files claims through the app's /store proxy without a token: open uploads, on 127.0.0.1 only
      // (the server refuses open uploads on any other address).
      openUploads: true,
    }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === "EADDRINUSE"
        ? new Error(`port ${evidencePort} is in use (another evidence store?): stop it or choose another port (--evidence-port)`)
        : err;
    });
    cleanups.push(() => store.close());
    services.push({ name: "evidence store", where: store.url });

    // ------------------------------------------------------------ devices and seeded state
    const owner = wallet(APP_ACCOUNTS.owner);
    const gatewayAccount = wallet(APP_ACCOUNTS.gateway);
    const scenarios: StackDevice["scenario"][] = ["heat-dissipation", "normal", "archive"];
    const devices: StackDevice[] = scenarios.map((scenario, i) => {
      const key = id(`triad.app.device.${i}`);
      return { address: new Wallet(key).address, key, scenario, owner: APP_ACCOUNTS.owner };
    });
    const asOwner = registry.connect(owner);
    for (const [i, d] of devices.entries()) {
      const [, status] = await registry.ownerAndStatus(d.address);
      if (Number(status) !== 0) continue; // registered already (a reused deployment)
      await registerDevice(asOwner, {
        deviceKey: new Wallet(d.key),
        model: d.scenario === "archive" ? "archive-logger" : "cnc-mill",
        firmware: "1.4.2",
        metadataURI: `triad://devices/app-demo-${i}`,
      });
      log(`Registered device ${d.address} (${d.scenario}) to account ${APP_ACCOUNTS.owner}`);
    }
    if (
      !(await registry.gatewayAuthorisedAt(owner.address, gatewayAccount.address, BigInt((await provider.getBlock("latest"))!.timestamp)))
    ) {
      await (await asOwner.setGateway(gatewayAccount.address, true)).wait();
    }
    const seeded: AppStack["seeded"] = { productId: await ClaimsInsurance__factory.connect(c.ClaimsInsurance!, provider).productCount() };
    if ((await pool.totalAssets()) === 0n) {
      const lp = wallet(APP_ACCOUNTS.lp);
      await depositToPool(pool.connect(lp), token.connect(lp), 250_000n * 10n ** 6n);
      log("LP (account 3) deposited 250000 into the pool");
    }
    const seedFile = path.join(deploymentsDir, "31337.app-seed.json");
    const previousSeed =
      !fresh && existsSync(seedFile) ? (JSON.parse(readFileSync(seedFile, "utf8")) as Record<string, string>) : undefined;
    if (previousSeed && previousSeed.registry === c.DeviceRegistry) {
      seeded.datasetListingId = previousSeed.datasetListingId ? BigInt(previousSeed.datasetListingId) : undefined;
      seeded.datasetContentKey = previousSeed.datasetContentKey;
      seeded.streamListingId = previousSeed.streamListingId ? BigInt(previousSeed.streamListingId) : undefined;
      seeded.streamContentKey = previousSeed.streamContentKey;
    }

    // ------------------------------------------------------------ the gateway and the monitor feed
    const gatewayHttpPort = options.gatewayPort ?? (options.freshChain ? await freePort() : 8788);
    const gateway = await startGateway(
      parseGatewayConfig({
        TRIAD_GATEWAY_RPC_URL: rpcUrl,
        TRIAD_GATEWAY_CHAIN_ID: "31337",
        TRIAD_GATEWAY_REGISTRY_ADDRESS: c.DeviceRegistry!,
        TRIAD_GATEWAY_MARKETPLACE: c.DataMarketplace!,
        TRIAD_GATEWAY_MQTT_PORT: "0",
        TRIAD_GATEWAY_HTTP_PORT: String(gatewayHttpPort),
        TRIAD_GATEWAY_DATABASE_URL: `sqlite:${path.join(workDir, "gateway.sqlite")}`,
        TRIAD_GATEWAY_REGISTRY_POLL_MS: "500",
        TRIAD_GATEWAY_PRIVATE_KEY: gatewayAccount.privateKey,
        TRIAD_GATEWAY_ANCHOR_INTERVAL_S: String(options.anchorIntervalS ?? 15),
        TRIAD_GATEWAY_ANCHOR_CONFIRMATIONS: "1",
        TRIAD_GATEWAY_MONITOR: "true",
        TRIAD_GATEWAY_STREAM_RECHECK_MS: "5000",
        TRIAD_GATEWAY_LOG_LEVEL: logLevel,
      }),
      { logger: logger.child({ service: "triad-gateway" }) },
    ).catch((err: NodeJS.ErrnoException) => {
      throw err.code === "EADDRINUSE"
        ? new Error(`port ${gatewayHttpPort} is in use (another gateway?): stop it or choose another port (--gateway-port)`)
        : err;
    });
    cleanups.push(() => gateway.stop());
    services.push({
      name: "gateway (MQTT broker, HTTP API, fleet anchoring, AI monitor)",
      where: `${gateway.httpUrl}, ${gateway.mqttUrl}`,
    });
    const feed: MonitorFeed = await startMonitorFeed({ gatewayUrl: gateway.httpUrl, mqttUrl: gateway.mqttUrl, chainId: 31337n, logger });
    cleanups.push(() => feed.close());
    services.push({ name: "monitor feed (risk per reading, alerts)", where: feed.url });

    // Seed a dataset (archive device: 20 real AI4I rows signed and anchored by the owner) and a live stream listing.
    if (seeded.datasetListingId === undefined) {
      const archive = devices[2];
      const rows = parseAi4iCsv(readFileSync(AI4I_CSV, "utf8"), AI4I_CSV).slice(0, 20);
      const latest = BigInt((await provider.getBlock("latest"))!.timestamp);
      const readings = await signAi4iRows({
        deviceKey: new Wallet(archive.key),
        domain,
        rows,
        startSeq: 1n,
        startTimestamp: latest - 3600n,
        intervalSeconds: 60n,
      });
      const anchored = await anchorReadings(asOwner, { domain, readings, uri: `${store.url}/datasets/archive` });
      const file = buildReadingDataset({
        chainId: 31337,
        registry: c.DeviceRegistry!,
        sensorSchema: AI4I_SCHEMA,
        batches: [
          {
            root: anchored.root,
            entries: readings.map((reading) => ({ reading, proof: readingProof(anchored.tree, readingDigest(domain, reading)) })),
          },
        ],
      });
      const plaintext = new TextEncoder().encode(JSON.stringify(file));
      const contentKey = generateContentKey();
      const { uri } = store.put(encryptFile(plaintext, contentKey));
      const listing = await createListing(market.connect(owner), {
        kind: "dataset",
        price: 25n * 10n ** 6n,
        deliveryWindow: 24n * 3600n,
        contentHash: contentHash(plaintext),
        termsHash: id("CC BY 4.0"),
        metadataURI: uri,
        devices: [archive.address],
        anchors: [anchored.root],
      });
      seeded.datasetListingId = listing.listingId;
      seeded.datasetContentKey = hexlify(contentKey);
      log(`Listed dataset #${listing.listingId} (20 anchored readings of ${archive.address}, 25 tokens) as account ${APP_ACCOUNTS.owner}`);

      // The manifest names the gateway's own URL (what a buyer's program connects to); the app maps it to /gateway.
      const manifest = buildStreamManifest({ gateway: gateway.httpUrl, devices: [devices[1].address], sensorSchema: AI4I_SCHEMA });
      const streamKey = generateContentKey();
      const streamFile = store.put(encryptFile(manifest, streamKey));
      const stream = await createListing(market.connect(owner), {
        kind: "stream",
        price: 5n * 10n ** 6n,
        period: 30n * 86_400n,
        deliveryWindow: 24n * 3600n,
        contentHash: contentHash(manifest),
        termsHash: id("CC BY 4.0"),
        metadataURI: streamFile.uri,
        devices: [devices[1].address],
      });
      seeded.streamListingId = stream.listingId;
      seeded.streamContentKey = hexlify(streamKey);
      log(`Listed live stream #${stream.listingId} of ${devices[1].address} (5 tokens / 30 days)`);
      writeFileSync(
        seedFile,
        JSON.stringify(
          {
            registry: c.DeviceRegistry,
            datasetListingId: String(seeded.datasetListingId),
            datasetContentKey: seeded.datasetContentKey,
            streamListingId: String(seeded.streamListingId),
            streamContentKey: seeded.streamContentKey,
          },
          null,
          2,
        ),
        { mode: 0o600 },
      );
    }

    // ------------------------------------------------------------ simulated devices
    const agents: DeviceAgent[] = [];
    const live = devices.filter((d) => d.scenario !== "archive");
    const machines = live.map(
      (d, i) =>
        new MachineSimulator({
          scenario: d.scenario as Scenario,
          seed: i === 0 ? 57 : 130,
          episodeStart: options.failureAfterReadings ?? 24,
          noRandomFailures: true,
        }),
    );
    const stateDir = path.join(workDir, "devices");
    mkdirSync(stateDir, { recursive: true });
    for (const d of live) {
      agents.push(
        createDeviceAgent({
          key: new Wallet(d.key),
          chainId: 31337,
          registry: c.DeviceRegistry!,
          mqttUrl: gateway.mqttUrl,
          stateDir,
          logger,
        }),
      );
    }
    cleanups.push(async () => {
      await Promise.all(agents.map((a) => a.close({ drainMs: 1000 })));
    });
    await Promise.all(agents.map((a) => a.waitConnected(30_000)));
    const publish = () => agents.forEach((a, i) => a.publish(telemetryToValues(machines[i].next().telemetry)));
    publish();
    const timer = setInterval(publish, options.readingIntervalMs ?? 5000);
    cleanups.push(async () => clearInterval(timer));
    services.push({
      name: `simulated devices (one reading every ${(options.readingIntervalMs ?? 5000) / 1000} s)`,
      where: live.map((d) => `${d.address} (${d.scenario})`).join(", "),
    });

    // ------------------------------------------------------------ the oracle committee
    if (options.oracle !== false) {
      const checkpoints = path.join(workDir, "oracle");
      mkdirSync(checkpoints, { recursive: true });
      const storeHost = new URL(store.url).host;
      const daemons: Child[] = [];
      for (const [member, account] of APP_ACCOUNTS.committee.entries()) {
        const opsPort = await freePort();
        const daemon = startChild(
          ["--import", "tsx", "packages/oracle/src/cli.ts", "run"],
          childEnv({
            ORACLE_RPC_URL: rpcUrl,
            ORACLE_CHAIN_ID: "31337",
            ORACLE_PRIVATE_KEY: hardhatKey(account),
            ORACLE_CLAIMS_ADDRESS: c.ClaimsInsurance!,
            ORACLE_REGISTRY_ADDRESS: c.DeviceRegistry!,
            ORACLE_COMMITTEE_ADDRESS: c.OracleCommittee!,
            ORACLE_START_BLOCK: String(deployment.startBlock),
            ORACLE_CONFIRMATIONS: "0",
            ORACLE_POLL_INTERVAL_MS: "1000",
            ORACLE_CHECKPOINT_FILE: path.join(checkpoints, `member-${member}.json`),
            ORACLE_EVIDENCE_SCHEMES: "http",
            ORACLE_EVIDENCE_HOSTS: `${storeHost},127.0.0.1:${gatewayHttpPort}`,
            ORACLE_METRICS_PORT: String(opsPort),
            ORACLE_METRICS_HOST: "127.0.0.1",
            ORACLE_TFJS_BACKEND: "cpu",
            ORACLE_LOG_LEVEL: logLevel,
            ORACLE_VERIFY_WORKERS: "0",
          }),
          (chunk) =>
            process.stderr.write(
              chunk
                .split("\n")
                .filter((l) => l && /"level":(40|50|60)/.test(l))
                .map((l) => `${l}\n`)
                .join(""),
            ),
        );
        daemons.push(daemon);
        cleanups.push(() => daemon.stop());
        await waitFor(
          `oracle committee member ${member} (account ${account})`,
          async () => {
            try {
              return (await fetch(`http://127.0.0.1:${opsPort}/healthz`, { signal: AbortSignal.timeout(1000) })).status < 600;
            } catch {
              return false;
            }
          },
          120_000,
          () => (daemon.process.exitCode !== null ? `it exited:\n${daemon.output().slice(-2000)}` : undefined),
        );
      }
      services.push({ name: "oracle committee (2-of-3)", where: `accounts ${APP_ACCOUNTS.committee.join(", ")}` });
    }

    // ------------------------------------------------------------ the app
    const browserConfig: BrowserConfig = {
      chainId: 31337,
      chainName: "Hardhat (local)",
      rpcUrl,
      gatewayUrl: "/gateway",
      evidenceUrl: "/store",
      monitorUrl: "/monitor",
      proxied: { [gateway.httpUrl]: "/gateway", [store.url]: "/store", [feed.url]: "/monitor" },
      deployment,
    };
    let appUrl: string | undefined;
    const serve = options.serve ?? "dev";
    if (serve !== "none") {
      const { serveApp } = await import("./serve.ts");
      const server = await serveApp({
        mode: serve,
        port: options.appPort ?? 5173,
        config: browserConfig,
        proxies: { "/gateway": gateway.httpUrl, "/store": store.url, "/monitor": feed.url },
      });
      cleanups.push(() => server.close());
      appUrl = server.url;
      services.push({ name: `web app (${options.serve ?? "dev"})`, where: appUrl });
    }

    return {
      rpcUrl,
      chainId: 31337,
      deployment,
      appUrl,
      gatewayUrl: gateway.httpUrl,
      evidenceUrl: store.url,
      monitorUrl: feed.url,
      browserConfig,
      devices,
      seeded,
      gateway,
      services,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A signer of account `index` of the local node (for scripts and tests). */
export function localAccount(index: number, rpcUrl: string): Signer {
  return new Wallet(hardhatKey(index), new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true }));
}
