import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Contract, JsonRpcProvider, Wallet, getAddress } from "ethers";

/**
 * End to end through the user-facing CLI, as a user would drive it: a `hardhat node`, the evidence store and two
 * oracle committee daemons as separate processes, and every step a `triad <command> … --json` child process (the
 * bin of @triad/cli, talking to the node over JSON-RPC like any user outside a Hardhat project) whose single JSON
 * stdout line is parsed. Time-locked waits (waiting period, appeal window) are skipped with `triad chain:advance`
 * (`evm_increaseTime` + `evm_mine`), so block time runs ahead of the wall clock: "now" is the latest block's
 * timestamp.
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
const ROWS_PER_BUNDLE = 3;
const INTERVAL_S = 5;

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
      [...ORACLE_CLI, "evidence-server", "--port", String(storePort), "--dir", path.join(tmp, "store")],
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

  it("deploys, registers, insures, files claims and gets them decided by the committee and settled", async function () {
    // ---- deploy
    const deploy = await run("deploy", "npm", ["run", "deploy", "--", "--network", "localhost"]);
    expect(deploy.code, deploy.stdout + deploy.stderr).to.equal(0);
    const recordFile = path.join(tmp, "deployments", "31337.json");
    expect(existsSync(recordFile), deploy.stdout).to.equal(true);
    expect(deploy.stdout).to.include(`Recorded in ${recordFile}`);
    const record = JSON.parse(readFileSync(recordFile, "utf8")) as { chainId: number; token: string; contracts: Record<string, string> };
    expect(record.chainId).to.equal(31337);

    const accounts = await rpc<string[]>("eth_accounts");
    const [holder, holder2] = [getAddress(accounts[1]), getAddress(accounts[2])];
    const members = MEMBER_KEYS.map((k) => new Wallet(k).address);
    expect(members.map((m) => m.toLowerCase())).to.deep.equal([accounts[5], accounts[6]].map((a) => a.toLowerCase()));

    // ---- the committee: two daemons (start-up overlaps the next CLI steps)
    const daemons = MEMBER_KEYS.map((key, i) =>
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
    const daemonDied = () => {
      const dead = daemons.find((d) => d.exited);
      return dead && `${dead.name} exited\n${dead.stdout}\n${dead.stderr}`;
    };

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

    // ---- past the waiting period; the incident is "now" on the chain
    const incidentAt = await advance(LOCAL_PARAMETERS.productWaitingPeriod + ROWS_PER_BUNDLE * INTERVAL_S);
    const hdfCsv = csvOf("hdf.csv", (r) => r["HDF"] === "1");
    const normalCsv = csvOf("normal.csv", (r) => r["Machine failure"] === "0");
    const bundleA = path.join(tmp, "evidence-a.json");
    const bundleB = path.join(tmp, "evidence-b.json");
    const build = (key: { privateKey: string }, csv: string, out: string) =>
      task<{ out: string; evidenceHash: string; device: string; readings: number; incidentAt: string }>(
        "evidence:build",
        "--device-key",
        key.privateKey,
        "--csv",
        csv,
        "--incident-at",
        String(incidentAt),
        "--interval",
        String(INTERVAL_S),
        "--out",
        out,
      );
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
    const [evA, evB] = await Promise.all([build(keyA, hdfCsv, bundleA), build(keyB, normalCsv, bundleB)]);
    expect(evA).to.include({ out: bundleA, device: keyA.address, readings: ROWS_PER_BUNDLE, incidentAt: String(incidentAt) });
    expect(evB).to.include({ device: keyB.address, readings: ROWS_PER_BUNDLE });

    // ---- a bad input: one error line, exit code 1, nothing on stdout
    const bad = await badInput;
    expect(bad.code, bad.stderr).to.equal(1);
    expect(bad.stdout.trim()).to.equal("");
    const errorLines = bad.stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errorLines, bad.stderr).to.have.length(1);
    expect(errorLines[0]).to.include("--evidence").and.include("missing.json");
    expect(bad.stderr, "no stack trace").not.to.match(/^\s+at /m);
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
    expect(shownA.scoreBps).to.be.greaterThan(0);
    expect(sorted(shownA.signers)).to.deep.equal(sorted(members));
    expect(shownB).to.include({ status: "Rejected", approved: false, payout: "0", modelHash, evidenceHash: evB.evidenceHash });
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

    // ---- the daemons stop cleanly, having refused or failed nothing
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
