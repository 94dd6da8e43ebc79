import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Contract, JsonRpcProvider, Wallet, formatUnits, getAddress } from "ethers";
import { COMMANDS, EXIT_CODES } from "@triad/cli";

/**
 * End to end through the user-facing CLI, as a user would drive it: a `hardhat node`, the evidence store and two
 * oracle committee daemons as separate processes, and every step a `triad <command> … --json` child process (the
 * bin of @triad/cli, talking to the node over JSON-RPC like any user outside a Hardhat project) whose single JSON
 * stdout line is parsed. Time-locked waits (waiting period, appeal window) are skipped with `triad chain:advance`
 * (`evm_increaseTime` + `evm_mine`), so block time runs ahead of the wall clock: "now" is the latest block's
 * timestamp. The deploy and the committee daemons are started once (before hook) for all the tests: the main flow, the
 * README's walk-through run as written in `sh`, and the table of bad and edge input for every command.
 */

const ROOT = path.resolve(import.meta.dirname, "..");
const CSV = path.join(ROOT, "data/ai4i2020/ai4i2020-train.csv");
const IGNITION_DIR = path.join(ROOT, "packages/devkit/ignition");
const LOCAL_PARAMETERS = JSON.parse(readFileSync(path.join(IGNITION_DIR, "parameters/localhost.json"), "utf8")).TriadLocal as {
  productWaitingPeriod: number;
  withdrawalCooldown: number;
};
/** The Ignition journal of the local chain id: `npm run deploy` writes it inside the project. */
const IGNITION_JOURNAL = path.join(IGNITION_DIR, "deployments/chain-31337");
/** The `triad` command: the bin that @triad/cli declares (what `npx triad` runs). */
const CLI_PACKAGE = path.join(ROOT, "packages/cli");
const TRIAD_BIN = path.join(
  CLI_PACKAGE,
  (JSON.parse(readFileSync(path.join(CLI_PACKAGE, "package.json"), "utf8")) as { bin: { triad: string } }).bin.triad,
);
/** The oracle's CLI, run through tsx. */
const ORACLE_CLI = ["--import", "tsx", path.join(ROOT, "packages/oracle/src/cli.ts")];
/** Committee members 5 and 6 of Hardhat's default mnemonic (threshold 2). */
const MEMBER_KEYS = [
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
];
const DECIMALS = 10n ** 6n; // TestToken
const CLI_TIMEOUT_MS = 90_000;
/** Rows of the market's small dataset. */
const ROWS_PER_BUNDLE = 3;
/**
 * An incident's telemetry: 12 normal AI4I rows, 5 real power failures in a row, 16 normal rows, signed one a minute by
 * readings:anchor; the incident is the first failure, INCIDENT_OFFSET s after the first reading. The readings cover
 * the shipped model's window (600 s before, 900 s after) with one to spare on each side.
 */
const INCIDENT_OFFSET = 720n;
/** How far past the policy's start the incidents happen: their half hour of readings lies inside the cover. */
const AN_HOUR = 3600;

// ------------------------------------------------------------------ processes

interface Proc {
  name: string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

/** Every process group this suite started (each child leads its own group: detached). */
const started = new Set<Proc>();
/** Long-running children keep only the tail of their output (a node logs every request). */
const TAIL = 64 * 1024;

/** The environment of every child: ours, minus variables that would point a child at another chain or store. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(HARDHAT_|ORACLE_|TRIAD_)/.test(k) || k === "LOCALHOST_RPC_URL" || k === "DEBUG") continue;
    if (k === "FORCE_COLOR") continue;
    env[k] = v;
  }
  return env;
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, { tail = false } = {}): Proc {
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const proc: Proc = { name, child, stdout: "", stderr: "", exited: false, exit: undefined as never };
  proc.exit = new Promise((resolve) => {
    child.on("error", (err) => {
      proc.stderr += `spawn error: ${err.message}\n`;
    });
    child.on("close", (code, signal) => {
      proc.exited = true;
      resolve({ code, signal });
    });
  });
  const keep = (s: string) => (tail && s.length > TAIL ? s.slice(-TAIL) : s);
  child.stdout!.on("data", (d: Buffer) => (proc.stdout = keep(proc.stdout + d.toString("utf8"))));
  child.stderr!.on("data", (d: Buffer) => (proc.stderr = keep(proc.stderr + d.toString("utf8"))));
  started.add(proc);
  return proc;
}

function killGroup(proc: Proc, signal: NodeJS.Signals): void {
  if (proc.child.pid === undefined) return;
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

/** SIGTERM to the process group, SIGKILL after a grace period; resolves with the leader's exit. */
async function stop(proc: Proc, graceMs = 10_000) {
  if (!proc.exited) killGroup(proc, "SIGTERM");
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
  const result = await Promise.race([proc.exit, timer]);
  killGroup(proc, "SIGKILL"); // stragglers of the group, if any
  started.delete(proc);
  return result === "timeout" ? await proc.exit : result;
}

/** Last resort if the test runner itself exits without running the hooks. */
function killAllNow(): void {
  for (const p of started) killGroup(p, "SIGKILL");
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, failFast?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    const failure = failFast?.();
    if (failure) throw new Error(`${what}: ${failure}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** n distinct free ports on 127.0.0.1 (all held open together, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ------------------------------------------------------------------ the suite

describe("triad CLI end to end (hardhat node + evidence store + two oracle daemons, all separate processes)", function () {
  this.timeout(180_000);

  let tmp = "";
  let journalBackup: string | undefined;
  let createdIgnitionDeployments = false;
  let rpcUrl = "";
  let storeUrl = "";
  let metricsPorts: number[] = [];
  let provider: JsonRpcProvider | undefined;
  let node: Proc;
  let modelHash = "";
  /** The deploy's output and the committee daemons, started once by the before hook. */
  let deployOutput = "";
  let daemons: Proc[] = [];
  const daemonDied = () => {
    const dead = daemons.find((d) => d.exited);
    return dead && `${dead.name} exited\n${dead.stdout}\n${dead.stderr}`;
  };

  /**
   * The environment of the CLI and the deploy: the test node (TRIAD_RPC_URL for `triad`, LOCALHOST_RPC_URL for the
   * Hardhat deploy), an isolated deployment record and the test's evidence store.
   */
  const cliEnv = () => ({
    ...baseEnv(),
    TRIAD_RPC_URL: rpcUrl,
    LOCALHOST_RPC_URL: rpcUrl,
    TRIAD_DEPLOYMENTS_DIR: path.join(tmp, "deployments"),
    TRIAD_EVIDENCE_STORE: storeUrl,
  });

  /** Runs one command to completion (bounded). */
  async function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = cliEnv()) {
    const proc = start(name, command, args, env);
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), CLI_TIMEOUT_MS).unref());
    const result = await Promise.race([proc.exit, timer]);
    if (result === "timeout") {
      await stop(proc, 1_000);
      throw new Error(`${name} did not finish within ${CLI_TIMEOUT_MS / 1000} s\n${proc.stderr}`);
    }
    started.delete(proc);
    return { code: result.code, stdout: proc.stdout, stderr: proc.stderr };
  }

  /** `triad <command> … --json`: exit code 0 and exactly one stdout line, a JSON object. */
  async function task<T = Record<string, unknown>>(name: string, ...args: string[]): Promise<T> {
    const r = await run(name, process.execPath, [TRIAD_BIN, name, ...args, "--json"]);
    const described = `${name} ${args.join(" ")}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    expect(r.code, described).to.equal(0);
    const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
    expect(lines, described).to.have.length(1);
    return JSON.parse(lines[0]) as T;
  }

  async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  }

  async function blockNow(): Promise<number> {
    return Number((await rpc<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false])).timestamp);
  }

  /** Moves block time forward by `seconds` and mines a block (`triad chain:advance`); returns the new block's timestamp. */
  async function advance(seconds: number): Promise<number> {
    const before = await blockNow();
    const advanced = await task<{ seconds: string; timestamp: number }>("chain:advance", "--seconds", String(seconds));
    expect(advanced.seconds).to.equal(String(seconds));
    expect(advanced.timestamp).to.be.at.least(before + seconds);
    expect(advanced.timestamp).to.equal(await blockNow());
    return advanced.timestamp;
  }

  before(async function () {
    process.on("exit", killAllNow);
    tmp = mkdtempSync(path.join(os.tmpdir(), "triad-e2e-cli-"));
    mkdirSync(path.join(tmp, "deployments"));
    // `npm run deploy` keeps its Ignition journal in the project: set aside a journal someone's own local node
    // may be using, and put it back afterwards.
    createdIgnitionDeployments = !existsSync(path.dirname(IGNITION_JOURNAL));
    if (existsSync(IGNITION_JOURNAL)) {
      journalBackup = `${IGNITION_JOURNAL}.e2e-backup-${process.pid}`;
      renameSync(IGNITION_JOURNAL, journalBackup);
    }
    const [nodePort, storePort, ...metrics] = await freePorts(4);
    metricsPorts = metrics;
    rpcUrl = `http://127.0.0.1:${nodePort}`;

    node = start(
      "hardhat node",
      "npx",
      ["hardhat", "node", "--port", String(nodePort), "--hostname", "127.0.0.1"],
      { ...baseEnv(), NO_COLOR: "1" },
      { tail: true },
    );
    const store = start(
      "evidence-server",
      process.execPath,
      [...ORACLE_CLI, "evidence-server", "--port", String(storePort), "--dir", path.join(tmp, "store"), "--open-uploads"],
      baseEnv(),
    );
    const hash = run("model:hash", "npm", ["run", "model:hash"], baseEnv());

    const exitedEarly = (p: Proc) => () => (p.exited ? `${p.name} exited\n${p.stderr}` : undefined);
    await waitFor(
      "the hardhat node",
      () => node.stdout.includes(`Started HTTP and WebSocket JSON-RPC server at ${rpcUrl}/`),
      60_000,
      exitedEarly(node),
    );
    await waitFor("the evidence store", () => store.stdout.includes('"url"'), 60_000, exitedEarly(store));
    storeUrl = (JSON.parse(store.stdout.trim().split("\n").pop()!) as { url: string }).url;
    expect(storeUrl).to.equal(`http://127.0.0.1:${storePort}`);

    const h = await hash;
    expect(h.code, h.stderr).to.equal(0);
    modelHash = h.stdout.trim().split("\n").pop()!.trim();
    expect(modelHash).to.match(/^0x[0-9a-f]{64}$/);
    provider = new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true });

    // ---- deploy, then the committee: two daemons on the deployment record
    const deploy = await run("deploy", "npm", ["run", "deploy", "--", "--network", "localhost"]);
    expect(deploy.code, deploy.stdout + deploy.stderr).to.equal(0);
    deployOutput = deploy.stdout;
    daemons = MEMBER_KEYS.map((key, i) =>
      start(`oracle daemon ${i + 5}`, process.execPath, [...ORACLE_CLI, "run", "--dotenv", path.join(tmp, "no.env")], {
        ...baseEnv(),
        ORACLE_RPC_URL: rpcUrl,
        ORACLE_CHAIN_ID: "31337",
        ORACLE_PRIVATE_KEY: key,
        ORACLE_CONFIRMATIONS: "0",
        ORACLE_EVIDENCE_SCHEMES: "http",
        ORACLE_EVIDENCE_HOSTS: new URL(storeUrl).host,
        ORACLE_POLL_INTERVAL_MS: "300",
        ORACLE_METRICS_PORT: String(metricsPorts[i]),
        ORACLE_CHECKPOINT_FILE: path.join(tmp, `cp${i + 1}.json`),
        TRIAD_DEPLOYMENTS_DIR: path.join(tmp, "deployments"),
        ORACLE_VERIFY_WORKERS: "1",
      }),
    );
  });

  after(async function () {
    this.timeout(60_000);
    provider?.destroy();
    await Promise.all([...started].map((p) => stop(p)));
    process.removeListener("exit", killAllNow);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    rmSync(IGNITION_JOURNAL, { recursive: true, force: true });
    if (journalBackup) renameSync(journalBackup, IGNITION_JOURNAL);
    else if (createdIgnitionDeployments) {
      try {
        rmdirSync(path.dirname(IGNITION_JOURNAL)); // only if nothing else appeared there meanwhile
      } catch {
        // not empty: leave it
      }
    }
  });

  /** A CSV of real AI4I 2020 rows (header + the first rows that `pick` selects). */
  function csvOf(file: string, pick: (row: Record<string, string>) => boolean): string {
    const [header, ...lines] = readFileSync(CSV, "utf8").trim().split(/\r?\n/);
    const names = header.split(",");
    const rows = lines.filter((l) => pick(Object.fromEntries(l.split(",").map((v, i) => [names[i], v])))).slice(0, ROWS_PER_BUNDLE);
    expect(rows).to.have.length(ROWS_PER_BUNDLE);
    const out = path.join(tmp, file);
    writeFileSync(out, [header, ...rows].join("\n") + "\n");
    return out;
  }

  /** {@link INCIDENT_OFFSET}'s CSV: with `failure`, 5 power failures between normal rows; without, 33 normal rows. */
  function incidentCsvOf(file: string, failure: boolean): string {
    const [header, ...lines] = readFileSync(CSV, "utf8").trim().split(/\r?\n/);
    const names = header.split(",");
    const field = (line: string, name: string) => line.split(",")[names.indexOf(name)];
    const normal = lines.filter((l) => field(l, "Machine failure") === "0");
    const failures = lines.filter((l) => field(l, "PWF") === "1");
    const rows = failure ? [...normal.slice(0, 12), ...failures.slice(0, 5), ...normal.slice(12, 28)] : normal.slice(0, 33);
    const out = path.join(tmp, file);
    writeFileSync(out, [header, ...rows].join("\n") + "\n");
    return out;
  }

  type Built = { out: string; evidenceHash: string; device: string; readings: number; incidentAt: string; anchors: unknown[] };

  /**
   * The device's readings of an incident, anchored by its owner (`readings:anchor`, which keeps them with their proofs
   * as a triad.evidence dataset), then the claim's triad.evidence/v2 bundle built from that dataset.
   */
  async function anchoredEvidence(key: { privateKey: string }, from: string, name: string, failure: boolean) {
    const csv = incidentCsvOf(`${name}.csv`, failure);
    const dataset = path.join(tmp, `${name}.readings.json`);
    const anchored = await task<{ firstTimestamp: string; readingsFile: string; root: string }>(
      "readings:anchor",
      ...["--device-key", key.privateKey, "--csv", csv, "--out", dataset, "--from", from],
    );
    expect(anchored.readingsFile).to.equal(dataset);
    const incidentAt = String(BigInt(anchored.firstTimestamp) + INCIDENT_OFFSET);
    const out = path.join(tmp, `${name}.evidence.json`);
    const built = await task<Built>("evidence:build", "--dataset", dataset, "--incident-at", incidentAt, "--out", out);
    return { dataset, incidentAt, out, built, root: anchored.root };
  }

  it("deploys, registers, insures, files claims and gets them decided by the committee and settled", async function () {
    // ---- the deploy (run by the before hook, so that the committee daemons could start on its record)
    const recordFile = path.join(tmp, "deployments", "31337.json");
    expect(existsSync(recordFile), deployOutput).to.equal(true);
    expect(deployOutput).to.include(`Recorded in ${recordFile}`);
    const record = JSON.parse(readFileSync(recordFile, "utf8")) as { chainId: number; token: string; contracts: Record<string, string> };
    expect(record.chainId).to.equal(31337);

    const accounts = await rpc<string[]>("eth_accounts");
    const [holder, holder2] = [getAddress(accounts[1]), getAddress(accounts[2])];
    const members = MEMBER_KEYS.map((k) => new Wallet(k).address);
    expect(members.map((m) => m.toLowerCase())).to.deep.equal([accounts[5], accounts[6]].map((a) => a.toLowerCase()));

    // ---- devices, capital, policies (independent accounts, so concurrently)
    const keyA = Wallet.createRandom();
    const keyB = Wallet.createRandom();
    const [regA, regB, deposit] = await Promise.all([
      task("device:register", "--device-key", keyA.privateKey, "--from", "1"),
      task("device:register", "--device-key", keyB.privateKey, "--from", "2"),
      task("pool:deposit", "--amount", "100000", "--from", "3"),
    ]);
    expect(regA).to.include({ device: keyA.address, owner: holder });
    expect(regB).to.include({ device: keyB.address, owner: holder2 });
    expect(deposit.assets).to.equal((100_000n * DECIMALS).toString());

    // ---- the LP asks for 1,000 back (ERC-7540: request, cancel, request again; claimed at the end, after the cooldown)
    type PoolShown = {
      request: { shares: string; pending: string; claimable: string; claimableAt: string };
      maxWithdraw: string;
      withdrawalCooldown: number;
    };
    const requested = await task<{ shares: string; assetsAtRequest: string; claimableAt: string }>(
      "pool:request-withdrawal",
      "--amount",
      "1000",
      "--from",
      "3",
    );
    expect(BigInt(requested.assetsAtRequest)).to.be.gte(1000n * DECIMALS);
    const pendingShown = await task<PoolShown>("pool:show", "--from", "3");
    expect(pendingShown.request).to.include({ shares: requested.shares, pending: requested.shares, claimable: "0" });
    expect(pendingShown.maxWithdraw).to.equal("0");
    expect(pendingShown.withdrawalCooldown).to.equal(LOCAL_PARAMETERS.withdrawalCooldown);
    expect(await task<{ shares: string }>("pool:cancel-withdrawal", "--from", "3")).to.include({ shares: requested.shares });
    const request = await task<{ shares: string; assetsAtRequest: string; claimableAt: string }>(
      "pool:request-withdrawal",
      "--amount",
      "1000",
      "--from",
      "3",
    );

    const [polA, polB] = await Promise.all([
      task<{ policyId: string; device: string; coverage: string }>(
        "policy:buy",
        "--device",
        keyA.address,
        "--coverage",
        "5000",
        "--days",
        "30",
        "--from",
        "1",
      ),
      task<{ policyId: string; device: string; coverage: string }>(
        "policy:buy",
        "--device",
        keyB.address,
        "--coverage",
        "5000",
        "--days",
        "30",
        "--from",
        "2",
      ),
    ]);
    expect(polA).to.include({ device: keyA.address, coverage: (5000n * DECIMALS).toString() });
    expect(polB.device).to.equal(keyB.address);

    // ---- an hour later (past the waiting period), the machines' readings of the last half hour are anchored by their
    // owners and the claims' evidence is built from them: A's show a power failure, B's a machine running normally
    await advance(AN_HOUR);
    const badInput = run("claim:file (missing evidence)", process.execPath, [
      TRIAD_BIN,
      "claim:file",
      "--policy",
      polA.policyId,
      "--amount",
      "1500",
      "--evidence",
      path.join(tmp, "missing.json"),
      "--from",
      "1",
      "--json",
    ]);
    const usageError = run("device:show (misspelt option)", process.execPath, [TRIAD_BIN, "device:show", "--devise", keyA.address]);
    const [a, b] = await Promise.all([anchoredEvidence(keyA, "1", "a", true), anchoredEvidence(keyB, "2", "b", false)]);
    const [evA, evB, bundleA, bundleB] = [a.built, b.built, a.out, b.out];
    // The window's 26 readings (plus one on each side), each under its owner's batch anchor.
    expect(evA).to.include({ out: bundleA, device: keyA.address, readings: 26, incidentAt: a.incidentAt });
    expect(evA.anchors).to.deep.equal([{ kind: "device", root: a.root }]);
    expect(evB).to.include({ device: keyB.address, readings: 26, incidentAt: b.incidentAt });

    // ---- claim:check: what the committee would decide, before filing (A approved; B rejected, exit code 4, the deposit named)
    const checkA = await task<{ approved: boolean; reason: string; expectedPayout: string; deposit: string; modelHash: string }>(
      "claim:check",
      ...["--evidence", bundleA, "--policy", polA.policyId, "--amount", "1500"],
    );
    expect(checkA).to.include({ approved: true, reason: "APPROVED", expectedPayout: (1400n * DECIMALS).toString(), modelHash });
    const checkB = await run("claim:check (normal telemetry)", process.execPath, [
      ...[TRIAD_BIN, "claim:check", "--evidence", bundleB, "--policy", polB.policyId, "--amount", "1500", "--json"],
    ]);
    expect(checkB.code, checkB.stdout + checkB.stderr).to.equal(4);
    const wouldReject = (JSON.parse(checkB.stdout) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
    expect(wouldReject.code).to.equal("CLAIM_WOULD_BE_REJECTED");
    expect(wouldReject.details).to.include({ approved: false, reason: "NO_FAILURE_DETECTED", deposit: (10n * DECIMALS).toString() });
    expect(wouldReject.message).to.include("the 10 tUSD deposit of filing it would be lost");

    // ---- a bad input with --json: one JSON error object on stdout, exit code 1, nothing on stderr
    const bad = await badInput;
    expect(bad.code, bad.stdout + bad.stderr).to.equal(1);
    expect(bad.stderr).to.equal("");
    const error = (JSON.parse(bad.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).to.equal("FILE_ERROR");
    expect(error.message).to.include("--evidence").and.include("missing.json");
    // A command line that cannot be parsed: exit code 2, one error line.
    const misspelt = await usageError;
    expect(misspelt.code, misspelt.stderr).to.equal(2);
    expect(misspelt.stdout).to.equal("");
    expect(misspelt.stderr).to.match(/^error: unknown option --devise for device:show [^\n]*\n$/);

    // ---- file both claims
    const token = new Contract(record.token, ["function balanceOf(address) view returns (uint256)"], provider);
    const balanceBefore = (await token.balanceOf(holder)) as bigint;
    type Filed = { claimId: string; policyId: string; amount: string; evidenceHash: string; evidenceURI: string };
    const [claimA, claimB] = await Promise.all([
      task<Filed>("claim:file", "--policy", polA.policyId, "--amount", "1500", "--evidence", bundleA, "--from", "1"),
      task<Filed>("claim:file", "--policy", polB.policyId, "--amount", "1500", "--evidence", bundleB, "--from", "2"),
    ]);
    expect(claimA).to.include({ policyId: polA.policyId, amount: (1500n * DECIMALS).toString(), evidenceHash: evA.evidenceHash });
    expect(claimA.evidenceURI).to.equal(`${storeUrl}/evidence/${evA.evidenceHash}`);
    expect(claimB).to.include({ policyId: polB.policyId, evidenceHash: evB.evidenceHash });
    // The store serves the exact bytes that were hashed.
    const served = new Uint8Array(await (await fetch(claimA.evidenceURI)).arrayBuffer());
    expect(Buffer.from(served).equals(readFileSync(bundleA))).to.equal(true);

    // ---- the committee decides: poll claim:show (bounded), each try after the daemons' logs say it is final
    type Shown = {
      claimId: string;
      status: string;
      approved: boolean | null;
      payout: string;
      scoreBps: number;
      modelHash: string;
      evidenceHash: string;
      signers: string[];
      reasonCode: number | null;
      appealDeadline: number;
      settlement: { recipient: string; paid: string; depositRefunded: string } | null;
    };
    const finalisedInLogs = (id: string) =>
      daemons.some((d) =>
        d.stdout
          .split("\n")
          .some((l) => l.includes('"verdict submitted"') && l.includes(`"claimId":"${id}"`) && l.includes('"finalised":true')),
      );
    let shownA: Shown | undefined;
    let shownB: Shown | undefined;
    for (let attempt = 1; ; attempt++) {
      await waitFor(
        "verdicts in the daemons' logs",
        () => finalisedInLogs(claimA.claimId) && finalisedInLogs(claimB.claimId),
        30_000,
        daemonDied,
      ).catch((e: Error) => {
        if (daemonDied()) throw e;
      });
      [shownA, shownB] = await Promise.all([
        task<Shown>("claim:show", "--claim", claimA.claimId),
        task<Shown>("claim:show", "--claim", claimB.claimId),
      ]);
      if (shownA.status !== "Filed" && shownB.status !== "Filed") break;
      if (attempt === 4) throw new Error(`no verdicts: ${JSON.stringify([shownA, shownB])}\n${daemons.map((d) => d.stdout).join("\n")}`);
    }
    const sorted = (xs: string[]) => xs.map((x) => x.toLowerCase()).sort();
    expect(shownA).to.include({
      status: "Approved",
      approved: true,
      payout: (1500n * DECIMALS).toString(),
      modelHash,
      evidenceHash: evA.evidenceHash,
    });
    expect(shownA.scoreBps).to.be.at.least(8500);
    expect(shownA.reasonCode).to.equal(0);
    expect(sorted(shownA.signers)).to.deep.equal(sorted(members));
    expect(shownB).to.include({ status: "Rejected", approved: false, payout: "0", modelHash, evidenceHash: evB.evidenceHash });
    expect(shownB.reasonCode).to.equal(1); // NO_FAILURE_DETECTED, as claim:check said
    expect(sorted(shownB.signers)).to.deep.equal(sorted(members));
    expect([shownA.settlement, shownB.settlement]).to.deep.equal([null, null]);

    // ---- past the appeal window, settle both, show both
    const now = await blockNow();
    await advance(Math.max(shownA.appealDeadline, shownB.appealDeadline) - now + 1);
    type Settled = { claimId: string; status: string; recipient: string; paid: string; depositRefunded: string };
    const [settledA, settledB] = await Promise.all([
      task<Settled>("claim:settle", "--claim", claimA.claimId, "--from", "1"),
      task<Settled>("claim:settle", "--claim", claimB.claimId, "--from", "2"),
    ]);
    expect(settledA).to.include({
      status: "Paid",
      recipient: holder,
      paid: (1400n * DECIMALS).toString(),
      depositRefunded: (10n * DECIMALS).toString(),
    });
    expect(settledB).to.include({ status: "Closed", recipient: holder2, paid: "0", depositRefunded: "0" });

    const [finalA, finalB] = await Promise.all([
      task<Shown>("claim:show", "--claim", claimA.claimId),
      task<Shown>("claim:show", "--claim", claimB.claimId),
    ]);
    expect(finalA).to.include({ status: "Paid", approved: true, payout: (1500n * DECIMALS).toString() });
    expect(finalA.settlement).to.deep.equal({
      recipient: holder,
      paid: (1400n * DECIMALS).toString(),
      depositRefunded: (10n * DECIMALS).toString(),
    });
    expect(finalB).to.include({ status: "Closed", approved: false, payout: "0" });
    expect(finalB.settlement).to.deep.equal({ recipient: holder2, paid: "0", depositRefunded: "0" });
    // Claim deposit out at filing and back at settlement: the holder is up exactly payout − deductible.
    expect((await token.balanceOf(holder)) as bigint).to.equal(balanceBefore + 1400n * DECIMALS);

    // ---- the LP claims its request after the cooldown: at most its value at request (the approved payout was
    // reserved at approval, so the LP shares the loss)
    const claimableIn = Number(request.claimableAt) - (await blockNow());
    if (claimableIn > 0) await advance(claimableIn + 1);
    const claimed = await task<{ assets: string }>("pool:claim-withdrawal", "--from", "3");
    expect(BigInt(claimed.assets)).to.be.greaterThan(0n);
    expect(BigInt(claimed.assets)).to.be.lte(BigInt(request.assetsAtRequest));
    expect((await task<PoolShown>("pool:show", "--from", "3")).request.shares).to.equal("0");
  });

  // ------------------------------------------------------------------ the README, command by command

  /** The commands of the ```sh block after the README's `<!-- e2e:<marker>` comment (continuations joined, comments dropped). */
  function readmeCommands(marker: string): string[] {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n");
    const at = readme.findIndex((l) => l.startsWith(`<!-- e2e:${marker}`));
    expect(at, `README.md has no <!-- e2e:${marker} --> block`).to.be.greaterThan(-1);
    const open = readme.indexOf("```sh", at);
    const close = readme.indexOf("```", open + 1);
    const commands: string[] = [];
    let pending = "";
    for (const line of readme.slice(open + 1, close)) {
      const joined = pending + line;
      if (joined.endsWith("\\")) {
        pending = joined.slice(0, -1);
        continue;
      }
      pending = "";
      if (joined.trim() !== "" && !joined.trim().startsWith("#")) commands.push(joined.trim());
    }
    return commands;
  }

  /**
   * Runs README commands in one POSIX `sh` session (as a user types them, variables carrying over), each echoed as
   * `$ <command>` before its output, stopping at the first that fails. The README's default URLs become the test's.
   */
  async function runReadme(commands: string[]) {
    const quote = (c: string) => `'${c.replace(/'/g, "'\\''")}'`;
    const script = ["set -e", ...commands.flatMap((c) => [`printf '\\n$ %s\\n' ${quote(c)}`, c])]
      .join("\n")
      .replaceAll("http://127.0.0.1:8545", rpcUrl)
      .replaceAll("http://127.0.0.1:8787", storeUrl);
    const proc = start("README walk-through", "sh", ["-c", script], cliEnv());
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 240_000).unref());
    const result = await Promise.race([proc.exit, timer]);
    if (result === "timeout") await stop(proc, 1_000);
    started.delete(proc);
    const transcript = `${proc.stdout}\n--- stderr ---\n${proc.stderr}`;
    const last = proc.stdout.split("\n$ ").pop()!.split("\n")[0];
    expect(result === "timeout" ? "timeout" : result.code, `the README stopped at: ${last}\n${transcript}`).to.equal(0);
    return proc.stdout;
  }

  it("the README walk-through runs as written, command by command, in sh (browse commands included)", async function () {
    this.timeout(300_000);
    const deploy = readmeCommands("deploy");
    expect(deploy).to.deep.equal(["npm run deploy -- --network localhost"]);
    const walkthrough = readmeCommands("walkthrough");
    // Nothing that breaks in zsh or sh: no variable expanded unquoted as a command or an argument (zsh does not split
    // words), no bash-only syntax.
    for (const c of walkthrough) {
      const unquoted = c
        .replace(/"[^"]*"/g, '""')
        .replace(/'[^']*'/g, "''")
        .replace(/^[A-Z_]+=\$\(.*\)\s*(#.*)?$/, "");
      expect(unquoted, c).not.to.match(/\$[A-Za-z_{]/);
      expect(c, c).not.to.match(/\[\[|\bsource\b|<<<|\$\{[^}]*[:/]/);
    }
    const used = new Set(walkthrough.flatMap((c) => [...c.matchAll(/npx triad ([a-z]+:[a-z-]+)/g)].map((m) => m[1])));
    for (const browse of [
      "device:list",
      "readings:list",
      "market:listings",
      "market:show",
      "market:purchases",
      "pool:show",
      "policy:show",
      "claim:show",
      "claim:list",
      "claim:check",
      "evidence:build",
    ]) {
      expect(used, `the walk-through shows ${browse}`).to.include(browse);
    }

    const out = await runReadme([...deploy, ...walkthrough]);
    const [buyer, lp] = (await rpc<string[]>("eth_accounts")).slice(2, 4).map((a) => getAddress(a));
    for (const text of [
      "20 readings in 1 anchored batch",
      "with kind dataset, price ≤ 30 tUSD:",
      "  anchors (buyers verify each reading against them):",
      "keccak256 matches the listing's content hash",
      ": triad.evidence/v2 of device ",
      "  26 readings (seq 22..47) from 600 s before to 900 s after the incident, with seq 21 just before and seq 48 just after them",
      "The committee would APPROVE a claim of 1500 tUSD on policy #",
      "  it would pay 1400 tUSD (1500 tUSD minus the 100 tUSD deductible)",
      `${lp}: `,
      "APPROVED by the committee: the model found a failure in the anchored telemetry around the incident",
      "pays 1400 tUSD at settlement (1500 tUSD approved minus the 100 tUSD deductible)",
      "settled: Paid; paid 1400 tUSD",
      '"outcome":"match"',
    ]) {
      expect(out, text).to.include(text);
    }
    expect(out).to.match(/\n\d+ devices? owned by /);
    expect(out).to.include(`made by ${buyer}:`);
  });

  // ------------------------------------------------------------------ bad and edge input, table-driven

  /** A case: the command line, extra environment, and what must come out (exit code; code and message of the error). */
  interface Case {
    argv: string[];
    env?: NodeJS.ProcessEnv;
    exit: number;
    code?: keyof typeof EXIT_CODES;
    message?: string | RegExp;
  }

  /**
   * One case, as a user would run it: exactly one human `error:` line on stderr (nothing on stdout), or with --json
   * exactly one JSON object on stdout (nothing on stderr) whose code is of the exit code's class; never a stack trace.
   */
  async function check(c: Case, json: boolean): Promise<void> {
    const argv = json ? [...c.argv, "--json"] : c.argv;
    const r = await run(`triad ${argv[0] ?? ""}`, process.execPath, [TRIAD_BIN, ...argv], { ...cliEnv(), ...c.env });
    const described = `triad ${argv.join(" ")}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    expect(r.code, described).to.equal(c.exit);
    expect(r.stdout + r.stderr, `no stack trace: ${described}`).not.to.match(/^\s+at |\n\s+at /m);
    if (c.exit === 0) {
      expect(r.stderr, described).to.equal("");
      if (json) expect(() => JSON.parse(r.stdout), described).not.to.throw();
      return;
    }
    let message: string;
    if (json) {
      expect(r.stderr, described).to.equal("");
      expect(r.stdout, described).to.match(/^\{[^\n]+\}\n$/);
      const error = (JSON.parse(r.stdout) as { error: { code: keyof typeof EXIT_CODES; message: string; details: unknown } }).error;
      expect(Object.keys(error), described).to.deep.equal(["code", "message", "details"]);
      expect(EXIT_CODES[error.code], described).to.equal(c.exit);
      if (c.code) expect(error.code, described).to.equal(c.code);
      message = error.message;
    } else {
      expect(r.stdout, described).to.equal("");
      expect(r.stderr, described).to.match(/^error: [^\n]+\n$/);
      message = r.stderr.slice("error: ".length, -1);
    }
    if (typeof c.message === "string") expect(message, described).to.include(c.message);
    else if (c.message) expect(message, described).to.match(c.message);
  }

  it("every command with bad and edge input: one human line or one JSON object, the documented exit code, no stack trace", async function () {
    this.timeout(600_000);
    const accounts = (await rpc<string[]>("eth_accounts")).map((a) => getAddress(a));
    // ---- the state the cases need: a device with a policy, a paid claim, a delivered purchase; an unregistered device
    const keyA = Wallet.createRandom();
    const keyC = Wallet.createRandom(); // registered, not insured
    const unregistered = Wallet.createRandom();
    const buyerKey = Wallet.createRandom().privateKey;
    await Promise.all([
      task("device:register", "--device-key", keyA.privateKey, "--from", "1"),
      task("device:register", "--device-key", keyC.privateKey, "--from", "2"),
      task("pool:deposit", "--amount", "50000", "--from", "4"),
    ]);
    const policy = await task<{ policyId: string }>(
      "policy:buy",
      "--device",
      keyA.address,
      "--coverage",
      "5000",
      "--days",
      "30",
      "--from",
      "1",
    );
    const data = csvOf("table-data.csv", (r) => r["Machine failure"] === "0");
    const listing = await task<{ listingId: string }>(
      "market:list",
      "--kind",
      "dataset",
      "--price",
      "25",
      "--file",
      data,
      "--devices",
      keyA.address,
      "--from",
      "1",
    );
    const purchase = await task<{ purchaseId: string }>(
      "market:buy",
      "--listing",
      listing.listingId,
      "--buyer-key",
      buyerKey,
      "--from",
      "2",
    );
    await task("market:deliver", "--purchase", purchase.purchaseId, "--key-file", `${data}.key`, "--from", "1");
    await advance(AN_HOUR);
    const { out: evidence } = await anchoredEvidence(keyA, "1", "table-1", true);
    const claim = await task<{ claimId: string }>(
      "claim:file",
      "--policy",
      policy.policyId,
      "--amount",
      "1500",
      "--evidence",
      evidence,
      "--from",
      "1",
    );
    // Decided either way (these cases are about errors, not verdicts): Approved ends Paid, Rejected ends Closed.
    const shown = await task<{ status: string; appealDeadline: number }>("claim:show", "--claim", claim.claimId, "--wait");
    expect(shown.status, daemonDied() ?? "").to.be.oneOf(["Approved", "Rejected"]);
    await advance(shown.appealDeadline - (await blockNow()) + 1);
    const settled = await task<{ status: string; paid: string }>("claim:settle", "--claim", claim.claimId);
    const remaining = formatUnits(5000n * DECIMALS - BigInt(settled.paid), 6).replace(/\.0$/, ""); // coverage − paid out
    // A second incident, two days later (past any product's incident window, at most a day; a bundle backs one claim
    // only): the evidence of the claim:file cases below, which must be refused for their own reason.
    await advance(2 * 86_400 + 60);
    const second = await anchoredEvidence(keyA, "1", "table-2", true);
    const evidence2 = second.out;
    const existing = path.join(tmp, "table-existing.out");
    writeFileSync(existing, "keep me\n");
    const emptyDir = mkdtempSync(path.join(tmp, "no-record-"));
    const staleDir = mkdtempSync(path.join(tmp, "stale-record-"));
    const record = JSON.parse(readFileSync(path.join(tmp, "deployments", "31337.json"), "utf8")) as { contracts: Record<string, string> };
    for (const name of Object.keys(record.contracts)) record.contracts[name] = Wallet.createRandom().address; // nothing deployed there
    writeFileSync(path.join(staleDir, "31337.json"), JSON.stringify(record));
    const [closed] = await freePorts(1);
    const noRecord = { TRIAD_DEPLOYMENTS_DIR: emptyDir };
    const stale = { TRIAD_DEPLOYMENTS_DIR: staleDir };
    const A = keyA.address;
    const X = unregistered.address;
    const L = listing.listingId;
    const P = purchase.purchaseId;
    const C = claim.claimId;
    const claimFile = (amount: string) => [
      "claim:file",
      ...[
        "--policy",
        policy.policyId,
        "--amount",
        amount,
        "--evidence",
        evidence2,
        "--evidence-uri",
        "https://evidence.example/x",
        "--from",
        "1",
      ],
    ];

    const cases: Case[] = [
      // usage (2): the command line itself; the stack traces came from here
      { argv: [], exit: 2, code: "USAGE", message: "no command given" },
      { argv: ["frobnicate"], exit: 2, code: "USAGE", message: 'unknown command "frobnicate"' },
      {
        argv: ["policy:buy", "--device", A, "--days", "30"],
        exit: 2,
        code: "USAGE",
        message: "missing --coverage (see triad policy:buy --help)",
      },
      {
        argv: ["device:show", "--device", A, "--network", "sepolia"],
        exit: 2,
        code: "USAGE",
        message: "unknown option --network for device:show",
      },
      { argv: ["claim:show", "--claim"], exit: 2, code: "USAGE", message: "--claim needs a value" },
      { argv: ["readings:list", "--device", A, "extra"], exit: 2, code: "USAGE", message: 'unexpected argument "extra"' },
      // the network (5): no node, no record for the chain (the forgotten --network), a record of a reset chain
      {
        argv: ["device:show", "--device", A, "--rpc-url", `http://127.0.0.1:${closed}`],
        exit: 5,
        code: "NETWORK_UNREACHABLE",
        message: "cannot reach a JSON-RPC node",
      },
      {
        argv: ["claim:show", "--claim", "1"],
        env: noRecord,
        exit: 5,
        code: "NO_DEPLOYMENT",
        message: "no Triad deployment is recorded for chain 31337",
      },
      {
        argv: ["chain:advance", "--seconds", "60"],
        env: noRecord,
        exit: 5,
        code: "NO_DEPLOYMENT",
        message: "chain:advance would move the clock of a chain with no Triad deployment",
      },
      { argv: ["device:list", "--all"], env: stale, exit: 5, code: "STALE_DEPLOYMENT", message: "has no contract there" },
      {
        argv: ["pool:show", "--from", "3"],
        env: stale,
        exit: 5,
        code: "STALE_DEPLOYMENT",
        message: "deploy again with npm run deploy -- --network localhost",
      },
      // not found (3): one wording
      { argv: ["claim:show", "--claim", "99"], exit: 3, code: "NOT_FOUND", message: "claim 99 does not exist" },
      { argv: ["claim:settle", "--claim", "99"], exit: 3, code: "NOT_FOUND", message: "claim 99 does not exist" },
      { argv: ["claim:appeal", "--claim", "99", "--from", "1"], exit: 3, code: "NOT_FOUND", message: "claim 99 does not exist" },
      { argv: ["market:refund", "--purchase", "99", "--from", "2"], exit: 3, code: "NOT_FOUND", message: "purchase 99 does not exist" },
      {
        argv: ["market:deliver", "--purchase", "99", "--key-file", `${data}.key`, "--from", "1"],
        exit: 3,
        code: "NOT_FOUND",
        message: "purchase 99 does not exist",
      },
      {
        argv: [
          "market:access",
          "--listing",
          L,
          "--purchase",
          "99",
          "--buyer-key",
          buyerKey,
          "--encrypted-file",
          `${data}.trd`,
          "--from",
          "2",
        ],
        exit: 3,
        code: "NOT_FOUND",
        message: "purchase 99 does not exist",
      },
      { argv: ["market:show", "--listing", "99"], exit: 3, code: "NOT_FOUND", message: "listing 99 does not exist" },
      {
        argv: ["market:buy", "--listing", "99", "--buyer-key", buyerKey, "--from", "2"],
        exit: 3,
        code: "NOT_FOUND",
        message: "listing 99 does not exist",
      },
      { argv: ["policy:show", "--policy", "99"], exit: 3, code: "NOT_FOUND", message: "policy 99 does not exist" },
      {
        argv: [
          "claim:file",
          "--policy",
          "99",
          "--amount",
          "1500",
          "--evidence",
          evidence2,
          "--evidence-uri",
          "https://evidence.example/x",
          "--from",
          "1",
        ],
        exit: 3,
        code: "NOT_FOUND",
        message: "policy 99 does not exist",
      },
      {
        argv: ["policy:buy", "--device", X, "--coverage", "5000", "--days", "30", "--from", "1"],
        exit: 3,
        code: "NOT_FOUND",
        message: `device ${X} is not registered`,
      },
      { argv: ["device:show", "--device", X], exit: 3, code: "NOT_FOUND", message: `device ${X} is not registered` },
      { argv: ["readings:list", "--device", X], exit: 3, code: "NOT_FOUND", message: `device ${X} is not registered` },
      { argv: ["device:suspend", "--device", X, "--from", "1"], exit: 3, code: "NOT_FOUND", message: `device ${X} is not registered` },
      { argv: ["device:resume", "--device", X, "--from", "1"], exit: 3, code: "NOT_FOUND", message: `device ${X} is not registered` },
      { argv: ["device:revoke", "--device", X, "--from", "1"], exit: 3, code: "NOT_FOUND", message: `device ${X} is not registered` },
      {
        argv: ["readings:anchor", "--device-key", unregistered.privateKey, "--csv", data, "--out", path.join(tmp, "x.json"), "--from", "1"],
        exit: 3,
        code: "NOT_FOUND",
      },
      {
        argv: [
          "evidence:build",
          "--gateway",
          `http://127.0.0.1:${closed}`,
          "--device",
          A,
          "--incident-at",
          "1",
          "--out",
          path.join(tmp, "y.json"),
        ],
        exit: 5,
        code: "NETWORK_UNREACHABLE",
        message: `cannot reach the gateway at http://127.0.0.1:${closed}`,
      },
      {
        argv: ["claim:check", "--evidence", evidence2, "--policy", "99"],
        exit: 3,
        code: "NOT_FOUND",
        message: "policy 99 does not exist",
      },
      // refused (4): the contract's errors as sentences (tokens, names), and its rules checked before sending
      {
        argv: claimFile("999999"),
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: `a claim on policy ${policy.policyId} must be more than 0 and at most its remaining coverage, ${remaining} tUSD, not 999999 tUSD`,
      },
      {
        argv: ["claim:settle", "--claim", C],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: `claim ${C} is settled already (${settled.status})`,
      },
      {
        argv: ["claim:appeal", "--claim", C, "--from", "1"],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: `claim ${C} is settled already (${settled.status})`,
      },
      {
        argv: ["market:refund", "--purchase", P, "--from", "2"],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: `purchase ${P} was delivered already`,
      },
      { argv: claimFile("50"), exit: 4, code: "REFUSED", message: "a claim of 50 tUSD is within the 100 tUSD deductible" },
      {
        // The first claim's evidence backs that claim for good: the contract would refuse it again.
        argv: ["claim:check", "--evidence", evidence, "--policy", policy.policyId, "--amount", "1500"],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: "filing this claim now would be refused: ",
      },
      {
        argv: ["market:buy", "--listing", L, "--buyer-key", buyerKey, "--from", "1"],
        exit: 4,
        code: "REFUSED",
        message: `you are the seller of listing ${L}`,
      },
      {
        argv: ["policy:buy", "--device", keyC.address, "--coverage", "0.000001", "--days", "30", "--from", "2"],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: "coverage of 0.000001 tUSD does not exceed the product's deductible of 100 tUSD",
      },
      {
        argv: ["policy:buy", "--device", A, "--coverage", "5000", "--days", "30", "--from", "2"],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: `device ${A} is owned by ${accounts[1]}, not by you (${accounts[2]})`,
      },
      { argv: ["pool:claim-withdrawal", "--from", "6"], exit: 4, code: "REFUSED", message: "you have no withdrawal request" },
      { argv: ["pool:request-withdrawal", "--all", "--from", "6"], exit: 4, code: "REFUSED", message: "you hold no pool shares" },
      { argv: ["pool:cancel-withdrawal", "--from", "6"], exit: 4, code: "REFUSED", message: "you have no withdrawal request to cancel" },
      { argv: ["market:withdraw", "--from", "6"], exit: 4, code: "REFUSED", message: "nothing to withdraw" },
      {
        argv: ["device:register", "--device-key", keyA.privateKey, "--from", "1"],
        exit: 4,
        code: "REFUSED",
        message: "is already registered",
      },
      {
        argv: ["device:resume", "--device", A, "--from", "1"],
        exit: 4,
        code: "CONTRACT_REFUSED",
        message: `device ${A} is already Active`,
      },
      // failed (1): a bad value (the option named), a file, a guard rail
      {
        argv: ["market:list", "--kind", "dataset", "--price", "1e40", "--file", data, "--devices", A, "--from", "1"],
        exit: 1,
        code: "INVALID_INPUT",
        message: "--price 1e40 is above the largest price, 3.4e32 tUSD",
      },
      {
        argv: ["market:list", "--kind", "dataset", "--price", "0.5", "--file", data, "--devices", A, "--from", "1", "--force"],
        exit: 1,
        code: "NEEDS_CONFIRMATION",
        message: "pass --yes if you mean it",
      },
      {
        argv: ["policy:buy", "--device", keyC.address, "--coverage", "150", "--days", "30", "--from", "2"],
        exit: 1,
        code: "NEEDS_CONFIRMATION",
        message: "pays at most 50 tUSD per claim",
      },
      {
        argv: ["claim:file", "--policy", policy.policyId, "--amount", "1500", "--evidence", evidence2, "--store", "notaurl", "--from", "1"],
        exit: 1,
        code: "INVALID_INPUT",
        message: '--store must be an http:// or https:// URL, got "notaurl"',
      },
      {
        argv: ["claim:file", "--policy", policy.policyId, "--amount", "1500", "--evidence", path.join(tmp, "missing.json"), "--from", "1"],
        exit: 1,
        code: "FILE_ERROR",
        message: "cannot read --evidence",
      },
      {
        argv: [
          "market:access",
          "--listing",
          L,
          "--purchase",
          P,
          "--buyer-key",
          buyerKey,
          "--encrypted-file",
          `${data}.trd`,
          "--out",
          existing,
          "--from",
          "2",
        ],
        exit: 1,
        code: "FILE_EXISTS",
        message: `${existing} already exists`,
      },
      {
        argv: ["evidence:build", "--dataset", second.dataset, "--incident-at", second.incidentAt, "--out", existing],
        exit: 1,
        code: "FILE_EXISTS",
        message: "pass --force",
      },
      {
        argv: ["evidence:build", "--dataset", second.dataset, "--incident-at", "1", "--out", path.join(tmp, "z.json")],
        exit: 1,
        code: "INVALID_INPUT",
        message: `holds no reading of ${A} in the window`,
      },
      {
        argv: ["claim:check", "--evidence", path.join(tmp, "missing.json"), "--policy", policy.policyId],
        exit: 1,
        code: "FILE_ERROR",
        message: "cannot read --evidence",
      },
      {
        argv: ["device:gateway", "--gateway", "0x0000000000000000000000000000000000000000", "--from", "1"],
        exit: 1,
        code: "INVALID_INPUT",
        message: "--gateway cannot be the zero address",
      },
      {
        argv: ["readings:anchor", "--device-key", keyA.privateKey, "--csv", path.join(tmp, "absent.csv"), "--from", "1"],
        exit: 1,
        code: "FILE_ERROR",
        message: "cannot read --csv",
      },
      {
        argv: ["device:show", "--device", "0x1234"],
        exit: 1,
        code: "INVALID_INPUT",
        message: '--device must be a 0x-prefixed 20-byte address, got "0x1234"',
      },
      { argv: ["device:list", "--owner", "me"], exit: 1, code: "INVALID_INPUT", message: "--owner must be a 0x-prefixed 20-byte address" },
      {
        argv: ["policy:list", "--holder", "0x12"],
        exit: 1,
        code: "INVALID_INPUT",
        message: "--holder must be a 0x-prefixed 20-byte address",
      },
      {
        argv: ["claim:list", "--status", "Lost"],
        exit: 1,
        code: "INVALID_INPUT",
        message: "--status must be one or more of Filed, Approved",
      },
      {
        argv: ["market:listings", "--kind", "movie"],
        exit: 1,
        code: "INVALID_INPUT",
        message: '--kind must be one of dataset, stream, model, got "movie"',
      },
      {
        argv: ["market:purchases", "--account", "nope"],
        exit: 1,
        code: "INVALID_INPUT",
        message: "--account must be a 0x-prefixed 20-byte address",
      },
      {
        argv: ["market:deliver", "--purchase", P, "--key-file", data, "--from", "1"],
        exit: 1,
        code: "INVALID_INPUT",
        message: "does not hold a 32-byte hex content key",
      },
      {
        argv: ["pool:deposit", "--amount", "ten", "--from", "3"],
        exit: 1,
        code: "INVALID_INPUT",
        message: '--amount must be an amount in whole tokens such as 100 or 12.5, got "ten"',
      },
      { argv: ["chain:advance", "--seconds", "0"], exit: 1, code: "INVALID_INPUT", message: "--seconds must be at least 1, got 0" },
      { argv: ["pool:show", "--account", "x"], exit: 1, code: "INVALID_INPUT", message: "--account must be a 0x-prefixed 20-byte address" },
      // edge input that is fine
      { argv: ["claim:list", "--status", "paid", "--all"], exit: 0 },
      { argv: ["market:listings", "--min-price", "0", "--max-price", "1e3"], exit: 0 },
      { argv: ["device:list", "--owner", accounts[1].toLowerCase()], exit: 0 },
      { argv: ["claim:show", "--claim", ` ${C} `], exit: 0 },
      { argv: ["claim:check", "--evidence", evidence2, "--policy", policy.policyId, "--amount", "1500"], exit: 0 },
      { argv: ["device:gateway", "--gateway", accounts[9], "--revoke", "--from", "1"], exit: 0 },
    ];
    // Every command has at least one case.
    const covered = new Set(cases.map((c) => c.argv[0]));
    expect(
      COMMANDS.map((c) => c.name).filter((name) => !covered.has(name)),
      "commands without a case",
    ).to.deep.equal([]);
    // Each case once, alternately in human and --json form, four at a time.
    const queue = cases.map((c, i) => () => check(c, i % 2 === 1));
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await next();
      }),
    );
    // Nothing was overwritten.
    expect(readFileSync(existing, "utf8")).to.equal("keep me\n");
  });

  it("the committee daemons stop cleanly, having refused or failed nothing", async function () {
    expect(daemons, "the daemons started by the before hook").to.have.length(MEMBER_KEYS.length);
    for (const d of daemons) {
      await stop(d); // SIGTERM to the group: the daemon (and its verification workers)
      const logs = d.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(
        logs.map((l) => l.msg),
        `${d.name}\n${d.stderr}`,
      ).to.include("oracle stopped");
      expect(
        logs.filter((l) => l.level >= 50 || l.msg === "verdict refused by the contract"),
        d.name,
      ).to.deep.equal([]);
    }
  });
});
