/**
 * A real `hardhat node` as a child process on 127.0.0.1, for the oracle's fault suite (`npm run test:faults`) and the
 * latency benchmark (`npm run bench:latency`): start it, switch it to interval mining (`evm_setAutomine false` +
 * `evm_setIntervalMining`), deploy the suite into it the way `npm run deploy -- --network localhost` does (the
 * TriadLocal Ignition module with the localhost parameters), insure devices, file claims with anchored evidence of
 * real AI4I rows, run oracle daemons (`packages/oracle/src/cli.ts run`) against it, and read back what the chain
 * decided. Everything it starts, it stops.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import path from "node:path";
import { network } from "hardhat";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet, id, type Signer } from "ethers";
import type { ClaimsInsurance, DeviceRegistry, InsurancePool, OracleCommittee, TestToken } from "@triad/contracts";
import {
  ClaimsInsurance__factory,
  DeviceRegistry__factory,
  InsurancePool__factory,
  OracleCommittee__factory,
  TestToken__factory,
} from "@triad/contracts";
import { registerDevice, type Ai4iRow } from "@triad/sdk";
import { TriadLocalModule } from "../ignition/modules/Triad.ts";
import { loadParameters } from "./deploy.ts";
import { makeAnchoredBundle, normalRows, persistingFailureRows } from "./evidence-fixtures.ts";
import { shippedModelHash } from "./model.ts";
import { ROOT, jsonLines, startOracleCli, type CliProcess } from "./processes.ts";

/** Hardhat's default mnemonic: the accounts `hardhat node` unlocks (test keys only). */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
/** The private key of account `index` of {@link HARDHAT_MNEMONIC}. */
export function hardhatAccountKey(index: number): string {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(HARDHAT_MNEMONIC), `m/44'/60'/0'/0/${index}`).privateKey;
}

/** Accounts of the local deployment (TriadLocal): committee members 5, 6, 7; the roles below are the suite's own. */
export const NODE_ACCOUNTS = { deployer: 0, holder: 1, lp: 3, gateway: 4, committee: [5, 6, 7] } as const;
/** The model's evidence window (packages/oracle/model/metadata.json). */
export const MODEL_WINDOW = { beforeSeconds: 600, afterSeconds: 900 } as const;
/** Readings per claim, one a minute, the last at the incident: they cover the window before it. */
export const READINGS_PER_CLAIM = 12;
/** Failure readings at the end of a genuine claim's window (a persisting failure, which the claim rule approves). */
export const FAILURE_READINGS = 5;

/** n distinct free TCP ports on 127.0.0.1 (held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<NetServer>((resolve, reject) => {
          const s = createNetServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function until(condition: () => boolean, what: string, timeoutMs: number, failFast?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return;
    const failure = failFast?.();
    if (failure !== undefined) throw new Error(`${what}: ${failure}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ChainNode {
  url: string;
  port: number;
  /** A JSON-RPC request to the node (direct, never through a fault proxy). */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** Interval mining every `blockTimeMs` (automine off), or automine (`"auto"`: a block per transaction). */
  setMining(mode: number | "auto"): Promise<void>;
  /** Mines `blocks` blocks now. */
  mine(blocks?: number): Promise<void>;
  head(): Promise<number>;
  /** The node's last output (it logs every request). */
  output(): string;
  /** SIGKILL (a crash: `stop("SIGKILL")`) or SIGTERM; resolves when the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const TAIL = 32 * 1024;

/**
 * Starts `hardhat node` on 127.0.0.1 (a free port unless `port` is given), in its own process group, and waits until
 * it serves JSON-RPC. With `blockTimeMs` it is switched to interval mining at once.
 */
export async function startChainNode(options: { port?: number; blockTimeMs?: number } = {}): Promise<ChainNode> {
  const port = options.port ?? (await freePorts(1))[0];
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(HARDHAT_|ORACLE_|TRIAD_)/.test(k) && k !== "LOCALHOST_RPC_URL" && k !== "FORCE_COLOR") env[k] = v;
  }
  const hardhatBin = path.join(ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");
  const child: ChildProcess = spawn(process.execPath, [hardhatBin, "node", "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on("close", () => {
      exited = true;
      resolve();
    }),
  );
  const keep = (d: Buffer) => {
    out = (out + d.toString("utf8")).slice(-TAIL);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  const onExit = () => killGroup("SIGKILL");
  process.once("exit", onExit);
  await until(
    () => out.includes(`${url}/`),
    `the hardhat node on ${url}`,
    90_000,
    () => (exited ? `it exited:\n${out}` : undefined),
  );
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  const rpc = <T>(method: string, params: unknown[] = []) => provider.send(method, params) as Promise<T>;
  const node: ChainNode = {
    url,
    port,
    rpc,
    setMining: async (mode) => {
      if (mode === "auto") {
        await rpc("evm_setIntervalMining", [0]);
        await rpc("evm_setAutomine", [true]);
      } else {
        await rpc("evm_setAutomine", [false]);
        await rpc("evm_setIntervalMining", [mode]);
      }
    },
    mine: async (blocks = 1) => {
      await rpc("hardhat_mine", [`0x${blocks.toString(16)}`]);
    },
    head: async () => Number(await rpc<string>("eth_blockNumber")),
    output: () => out,
    stop: async (signal = "SIGTERM") => {
      provider.destroy();
      if (!exited) killGroup(signal);
      const timer = setTimeout(() => killGroup("SIGKILL"), 10_000);
      await exit;
      clearTimeout(timer);
      process.removeListener("exit", onExit);
    },
  };
  if (options.blockTimeMs !== undefined) await node.setMining(options.blockTimeMs);
  return node;
}

/** Contract addresses of a deployment, as the daemon's ORACLE_*_ADDRESS variables take them. */
export interface NodeAddresses {
  claims: string;
  registry: string;
  committee: string;
  pool: string;
  token: string;
}

/** The suite deployed into a node, with signers of the node's accounts and helpers to insure devices and file claims. */
export interface NodeDeployment {
  url: string;
  chainId: bigint;
  addresses: NodeAddresses;
  startBlock: number;
  productId: bigint;
  modelHash: string;
  /** Private keys of the committee members (accounts 5, 6, 7; threshold 2). */
  memberKeys: string[];
  provider: JsonRpcProvider;
  registry: DeviceRegistry;
  claims: ClaimsInsurance;
  pool: InsurancePool;
  committee: OracleCommittee;
  token: TestToken;
  holder: Signer;
  gateway: Signer;
  close(): void;
}

/**
 * Deploys and configures the suite into the node at `url` as `npm run deploy -- --network localhost` does (the
 * TriadLocal Ignition module, the localhost parameters, the shipped model's hash), under an Ignition deployment id of
 * its own whose journal is removed afterwards (the project's `chain-31337` journal is left alone). The node must
 * automine meanwhile (Ignition waits for each transaction). Then an LP (account 3) deposits capital, the holder
 * (account 1) approves the claims contract and authorises account 4 as its gateway.
 */
export async function deployToNode(url: string): Promise<NodeDeployment> {
  const connection = await network.create({ network: "localhost", override: { url } });
  const deploymentId = `triad-faults-${process.pid}-${Date.now()}`;
  const journal = path.join(ROOT, "packages", "devkit", "ignition", "deployments", deploymentId);
  let addresses: NodeAddresses;
  let startBlock: number;
  const modelHash = await shippedModelHash();
  try {
    startBlock = await connection.ethers.provider.getBlockNumber();
    const fromFile = loadParameters("localhost");
    const parameters = { ...fromFile, TriadLocal: { ...(fromFile.TriadLocal ?? {}), modelHash } };
    const deployed = await connection.ignition.deploy(TriadLocalModule, { parameters, displayUi: false, deploymentId });
    addresses = {
      claims: await deployed.claims.getAddress(),
      registry: await deployed.registry.getAddress(),
      committee: await deployed.committee.getAddress(),
      pool: await deployed.pool.getAddress(),
      token: await deployed.token.getAddress(),
    };
  } finally {
    await connection.close();
    rmSync(journal, { recursive: true, force: true });
  }
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1, pollingInterval: 200, cacheTimeout: -1 });
  const signer = (i: number) => new Wallet(hardhatAccountKey(i), provider);
  const holder = signer(NODE_ACCOUNTS.holder);
  const lp = signer(NODE_ACCOUNTS.lp);
  const gateway = signer(NODE_ACCOUNTS.gateway);
  const registry = DeviceRegistry__factory.connect(addresses.registry, provider);
  const claims = ClaimsInsurance__factory.connect(addresses.claims, provider);
  const pool = InsurancePool__factory.connect(addresses.pool, provider);
  const committee = OracleCommittee__factory.connect(addresses.committee, provider);
  const token = TestToken__factory.connect(addresses.token, provider);
  const capital = 500_000n * 10n ** 6n;
  await (await token.connect(lp).approve(addresses.pool, capital)).wait();
  await (await pool.connect(lp).deposit(capital, await lp.getAddress())).wait();
  await (await token.connect(holder).approve(addresses.claims, 2n ** 255n)).wait();
  await (await registry.connect(holder).setGateway(await gateway.getAddress(), true)).wait();
  return {
    url,
    chainId: (await provider.getNetwork()).chainId,
    addresses,
    startBlock,
    productId: await claims.productCount(),
    modelHash,
    memberKeys: NODE_ACCOUNTS.committee.map(hardhatAccountKey),
    provider,
    registry,
    claims,
    pool,
    committee,
    token,
    holder,
    gateway,
    close: () => provider.destroy(),
  };
}

/** A claim ready to file: its insured device's policy and its anchored evidence. */
export interface PreparedClaim {
  policyId: bigint;
  device: string;
  genuine: boolean;
  incidentAt: bigint;
  hash: string;
  bytes: Uint8Array;
}

const FAILURE_MODES = ["HDF", "PWF", "OSF"] as const;

/** Telemetry of the `i`-th claim: a persisting failure at the end for a genuine claim, normal running otherwise. */
export function claimRows(i: number, genuine: boolean): Ai4iRow[] {
  if (!genuine) return normalRows(READINGS_PER_CLAIM, (i * 7) % 400);
  const failure = persistingFailureRows(FAILURE_MODES[i % 3], FAILURE_READINGS, Math.floor(i / 3) % 10);
  return [...normalRows(READINGS_PER_CLAIM - FAILURE_READINGS, (i * 7) % 400), ...failure];
}

/**
 * Insures `count` new devices (one policy each: the incident window is reserved per device), lets the waiting period
 * pass (evm_increaseTime), and signs and anchors each device's evidence: claim i is genuine when `genuine(i)`
 * (default: every other one). Needs automine (or interval mining: every step waits for its receipt). `seed` keeps the
 * device keys of different calls apart.
 */
export async function prepareClaims(
  d: NodeDeployment,
  count: number,
  options: { seed: string; genuine?: (i: number) => boolean },
): Promise<PreparedClaim[]> {
  const genuine = options.genuine ?? ((i: number) => i % 2 === 0);
  const devices: { key: Wallet; policyId: bigint }[] = [];
  for (let i = 0; i < count; i++) {
    const key = new Wallet(id(`triad/faults/${options.seed}/device/${i}`));
    await registerDevice(d.registry.connect(d.holder), { deviceKey: key });
    await (await d.claims.connect(d.holder).buyPolicy(d.productId, key.address, 1_000n * 10n ** 6n, 30 * 86_400)).wait();
    devices.push({ key, policyId: await d.claims.policyCount() });
  }
  await d.provider.send("evm_increaseTime", [2 * 3600]);
  await d.provider.send("evm_mine", []);
  const latest = BigInt((await d.provider.getBlock("latest"))!.timestamp);
  const out: PreparedClaim[] = [];
  for (let i = 0; i < devices.length; i++) {
    const incidentAt = latest - BigInt(MODEL_WINDOW.afterSeconds) - 120n;
    const signed = await makeAnchoredBundle({
      deviceKey: devices[i].key,
      chainId: d.chainId,
      anchorer: d.registry.connect(d.gateway),
      rows: claimRows(i, genuine(i)),
      incidentAt,
      window: MODEL_WINDOW,
    });
    out.push({
      policyId: devices[i].policyId,
      device: devices[i].key.address,
      genuine: genuine(i),
      incidentAt,
      hash: signed.hash,
      bytes: signed.bytes,
    });
  }
  return out;
}

/** The amount of the suite's claims (tUSD, 6 decimals): over the default product's deductible, within its cover. */
export const NODE_CLAIM_AMOUNT = 500n * 10n ** 6n;

/**
 * Files the prepared claims (evidence at `uriOf(claim, i)`), all transactions sent before any receipt is awaited
 * (explicit nonces), and returns their ids in order with the block of each ClaimFiled.
 */
export async function fileClaims(
  d: NodeDeployment,
  prepared: readonly PreparedClaim[],
  uriOf: (claim: PreparedClaim, i: number) => string,
): Promise<{ claimId: bigint; block: number }[]> {
  const holder = d.claims.connect(d.holder);
  let nonce = await d.provider.getTransactionCount(await d.holder.getAddress(), "pending");
  const sent = [];
  for (let i = 0; i < prepared.length; i++) {
    const c = prepared[i];
    sent.push(
      await holder.fileClaim(c.policyId, NODE_CLAIM_AMOUNT, c.incidentAt, c.hash, uriOf(c, i), { nonce: nonce++, gasLimit: 600_000n }),
    );
  }
  const out = [];
  for (const tx of sent) {
    const receipt = (await tx.wait())!;
    const filed = receipt.logs
      .filter((l) => l.address.toLowerCase() === d.addresses.claims.toLowerCase())
      .map((l) => d.claims.interface.parseLog(l))
      .find((e) => e?.name === "ClaimFiled");
    if (!filed) throw new Error(`fileClaims: transaction ${tx.hash} filed no claim`);
    out.push({ claimId: filed.args.claimId as bigint, block: receipt.blockNumber });
  }
  return out;
}

/** What the chain says of one claim: its status and every VerdictFinalised it got (exactly one when decided once). */
export interface ClaimOutcome {
  claimId: bigint;
  status: number;
  finalisations: { block: number; approved: boolean; reason: number; txHash: string }[];
}

/** Claim statuses (IClaimsInsurance.ClaimStatus). */
export const CLAIM_STATUS = { None: 0, Filed: 1, Approved: 2, Rejected: 3, Appealed: 4, Escalated: 5, Paid: 6, Closed: 7 } as const;

/** Status and VerdictFinalised events of `claimIds` (events read from `fromBlock`). */
export async function claimOutcomes(d: NodeDeployment, claimIds: readonly bigint[], fromBlock = d.startBlock): Promise<ClaimOutcome[]> {
  // Statuses first, then the events up to the head: a status that changed since is never missing its event.
  const statuses = await Promise.all(claimIds.map(async (claimId) => Number((await d.claims.getClaim(claimId)).status)));
  const events = await d.claims.queryFilter(d.claims.filters.VerdictFinalised(), fromBlock, "latest");
  return Promise.all(
    claimIds.map(async (claimId, i) => ({
      claimId,
      status: statuses[i],
      finalisations: events
        .filter((e) => e.args.claimId === claimId)
        .map((e) => ({ block: e.blockNumber, approved: e.args.approved, reason: Number(e.args.reason), txHash: e.transactionHash })),
    })),
  );
}

/** An oracle daemon (`oracle run`) as a child process, with its /healthz and /metrics on a port of its own. */
export interface DaemonProcess extends CliProcess {
  member: number;
  checkpointFile: string;
  opsUrl: string;
  logs(): Record<string, unknown>[];
  /** GET /healthz: the status code and the JSON report (undefined when the daemon does not answer). */
  health(): Promise<{ status: number; report: Record<string, unknown> } | undefined>;
  /** GET /metrics as text ("" when it does not answer). */
  metrics(): Promise<string>;
  /** Sends `signal` and resolves with the exit code and the milliseconds it took (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; ms: number }>;
}

/**
 * Starts `oracle run` for committee member `member` (0, 1 or 2: accounts 5, 6, 7) of `d` against `rpcUrl` (a fault
 * proxy in front of the node, usually), checkpoint in `checkpointFile`, evidence from `evidenceHosts` (host:port
 * entries) over http, /healthz and /metrics on a free port. `env` adds or replaces variables.
 */
export async function startDaemon(
  d: NodeDeployment,
  options: { member: number; rpcUrl: string; checkpointFile: string; evidenceHosts: string; env?: Record<string, string> },
): Promise<DaemonProcess> {
  const [port] = await freePorts(1);
  const opsUrl = `http://127.0.0.1:${port}`;
  const cli = startOracleCli(["run"], {
    ORACLE_RPC_URL: options.rpcUrl,
    ORACLE_CHAIN_ID: String(d.chainId),
    ORACLE_PRIVATE_KEY: d.memberKeys[options.member],
    ORACLE_CLAIMS_ADDRESS: d.addresses.claims,
    ORACLE_REGISTRY_ADDRESS: d.addresses.registry,
    ORACLE_COMMITTEE_ADDRESS: d.addresses.committee,
    ORACLE_START_BLOCK: String(d.startBlock),
    ORACLE_CONFIRMATIONS: "0",
    ORACLE_POLL_INTERVAL_MS: "250",
    ORACLE_CHECKPOINT_FILE: options.checkpointFile,
    ORACLE_EVIDENCE_SCHEMES: "http",
    ORACLE_EVIDENCE_HOSTS: options.evidenceHosts,
    ORACLE_METRICS_PORT: String(port),
    ORACLE_METRICS_HOST: "127.0.0.1",
    ORACLE_TFJS_BACKEND: "cpu",
    ORACLE_LOG_LEVEL: "info",
    ORACLE_VERIFY_WORKERS: "0",
    ...(options.env ?? {}),
  });
  const get = async (p: string) => {
    try {
      return await fetch(`${opsUrl}${p}`, { signal: AbortSignal.timeout(5000) });
    } catch {
      return undefined;
    }
  };
  const daemon: DaemonProcess = {
    ...cli,
    member: options.member,
    checkpointFile: options.checkpointFile,
    opsUrl,
    logs: () => jsonLines(cli.stdout),
    health: async () => {
      const res = await get("/healthz");
      if (!res) return undefined;
      return { status: res.status, report: (await res.json()) as Record<string, unknown> };
    },
    metrics: async () => (await get("/metrics"))?.text() ?? "",
    stop: async (signal = "SIGTERM", graceMs = 30_000) => {
      const t0 = Date.now();
      if (cli.process.exitCode === null && cli.process.signalCode === null) cli.process.kill(signal);
      const timer = setTimeout(() => cli.process.kill("SIGKILL"), graceMs);
      const code = await cli.exited;
      clearTimeout(timer);
      return { code, ms: Date.now() - t0 };
    },
  };
  return daemon;
}

/** The value of metric `name` (summed over its label sets, or the one with `labels`) in Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let found: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!Object.entries(labels).every(([k, v]) => have[k] === v)) continue;
    found = (found ?? 0) + Number(m[4]);
  }
  return found;
}

/** What an evidence path does when fetched. */
export type EvidenceBehaviour =
  { kind: "serve"; bytes: Uint8Array; contentType?: string } | { kind: "stall" } | { kind: "redirect"; location: string };

/** An HTTP evidence host on 127.0.0.1: each path behaves as set; it counts the fetches per path. */
export interface EvidenceHost {
  url: string;
  /** host:port, for ORACLE_EVIDENCE_HOSTS. */
  host: string;
  set(pathname: string, behaviour: EvidenceBehaviour): string;
  fetches(pathname: string): number;
  close(): Promise<void>;
}

export async function startEvidenceHost(): Promise<EvidenceHost> {
  const routes = new Map<string, EvidenceBehaviour>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    const route = routes.get(pathname);
    if (!route) return void res.writeHead(404).end();
    if (route.kind === "stall") return; // headers never come
    if (route.kind === "redirect") return void res.writeHead(302, { location: route.location }).end();
    res
      .writeHead(200, { "content-type": route.contentType ?? "application/json", "content-length": route.bytes.length })
      .end(Buffer.from(route.bytes));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    set: (pathname, behaviour) => {
      routes.set(pathname, behaviour);
      return `${url}${pathname}`;
    },
    fetches: (pathname) => counts.get(pathname) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
