import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connection, ethers, networkHelpers } from "@triad/devkit/network";
import { Wallet, id } from "ethers";
import { deployTriad } from "@triad/devkit";
import { AI4I_COLUMNS } from "@triad/sdk";
import { saveDeployment } from "@triad/sdk/node";
import { runCli } from "../src/cli.ts";
import { EXIT_CODES } from "../src/lib/common.ts";

const { loadFixture } = networkHelpers;

/**
 * Runs `triad` command lines in-process (`runCli`) against Hardhat's in-process chain. The commands find their
 * deployment through the record in `$TRIAD_DEPLOYMENTS_DIR`, so each suite deploys the suite, saves its record in a
 * temp folder and points the variable there ({@link useTaskEnvironment} restores it afterwards).
 */

export const DEPLOYMENTS_ENV = "TRIAD_DEPLOYMENTS_DIR";

/** How the commands name the in-process chain in their messages (`… — network hardhat`). */
export const NETWORK = "hardhat";

/** What a command printed and its exit code; `json` is the parsed stdout of a successful `--json` run. */
export interface TaskRun {
  stdout: string;
  stderr: string;
  /** runCli's exit code: 0 success, else the failure's class ({@link EXIT}). */
  exitCode: number;
  // The commands' JSON output is not typed: tests read the fields they check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json?: any;
}

/**
 * The command line of `name` with `args` as options: camelCase keys become `--kebab-case`, `true` a flag, `false`
 * and `undefined` nothing. A value that starts with `--` is written `--name=value` (else it would read as the next
 * option); any other value, even `-1` or an empty string, follows its option as the next argument.
 */
export function commandLine(name: string, args: Record<string, unknown> = {}): string[] {
  const argv = [name];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === false) continue;
    const option = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (value === true) argv.push(option);
    else if (String(value).startsWith("--")) argv.push(`${option}=${String(value)}`);
    else argv.push(option, String(value));
  }
  return argv;
}

/**
 * Runs `triad <name> <args…>` in-process with `runCli`, on a fresh ethers BrowserProvider over the in-process chain
 * (its accounts are the node-managed accounts `--from` picks), stdout and stderr captured.
 */
export async function runTask(name: string, args: Record<string, unknown> = {}): Promise<TaskRun> {
  let stdout = "";
  let stderr = "";
  // No request cache: a command reads state again right after its own transactions.
  const provider = new ethers.BrowserProvider(connection.provider, undefined, { cacheTimeout: -1 });
  let exitCode: number;
  try {
    exitCode = await runCli(commandLine(name, args), {
      provider,
      network: NETWORK,
      stdout: { write: (s: string) => void (stdout += s) },
      stderr: { write: (s: string) => void (stderr += s) },
    });
  } finally {
    provider.destroy();
  }
  const run: TaskRun = { stdout, stderr, exitCode };
  if (args.json === true && exitCode === 0) {
    try {
      run.json = JSON.parse(stdout);
    } catch {
      expect.fail(`${name} --json printed no single JSON object: ${JSON.stringify(stdout)}`);
    }
  }
  return run;
}

/** Asserts a successful run: nothing on stderr, exit code 0; with `--json`, exactly one line on stdout. */
export function expectSuccess(run: TaskRun): TaskRun {
  expect(run.stderr, "stderr").to.equal("");
  expect(run.exitCode, "exit code").to.equal(0);
  if (run.json !== undefined) expect(run.stdout.split("\n"), "one JSON line").to.have.length(2);
  return run;
}

/** Exit codes by class (lib/common.ts EXIT_CODES): 1 failed, 2 usage, 3 not found, 4 refused, 5 network. */
export const EXIT = { FAILED: 1, USAGE: 2, NOT_FOUND: 3, REFUSED: 4, NETWORK: 5 } as const;

/**
 * Asserts the CLI failure contract: exit code `exitCode` (any failure with "any"), and exactly one line: `error: …`
 * on stderr with nothing on stdout, or (a --json run) one JSON object `{"error":{"code","message","details"}}` on
 * stdout with nothing on stderr, whose code is of the exit code's class. Never a stack trace. Returns the message;
 * `pattern` must occur in it.
 */
export function expectOneError(run: TaskRun, pattern?: RegExp | string, exitCode: number | "any" = EXIT.FAILED): string {
  if (exitCode === "any") expect(run.exitCode, "exit code").to.be.oneOf(Object.values(EXIT));
  else expect(run.exitCode, `exit code (${run.stderr || run.stdout})`).to.equal(exitCode);
  let message: string;
  if (run.stdout !== "") {
    expect(run.stderr, "stderr of a --json failure").to.equal("");
    expect(run.stdout, "one JSON line").to.match(/^\{[^\r\n]+\}\n$/);
    const parsed = JSON.parse(run.stdout) as { error: { code: keyof typeof EXIT_CODES; message: string; details: object } };
    expect(Object.keys(parsed)).to.deep.equal(["error"]);
    expect(Object.keys(parsed.error)).to.deep.equal(["code", "message", "details"]);
    expect(EXIT_CODES[parsed.error.code], `the class of ${parsed.error.code}`).to.equal(run.exitCode);
    message = parsed.error.message;
  } else {
    expect(run.stderr, "one error line").to.match(/^error: [^\r\n]+\n$/);
    message = run.stderr.slice("error: ".length, -1);
  }
  expect(message, "no stack trace").not.to.match(/\n|^\s+at |Error: /);
  if (typeof pattern === "string") expect(message).to.contain(pattern);
  else if (pattern) expect(message).to.match(pattern);
  return message;
}

// ------------------------------------------------------------------ environment

const tempDirs: string[] = [];

/** A fresh temp folder, removed by {@link useTaskEnvironment}'s `after` hook. */
export function tempDir(prefix = "triad-tasks-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * Registers hooks on the current suite: `$TRIAD_DEPLOYMENTS_DIR` is restored and the temp folders are removed
 * after it. Call it at the top of each task suite.
 */
export function useTaskEnvironment(): void {
  let previous: string | undefined;
  before(function () {
    previous = process.env[DEPLOYMENTS_ENV];
  });
  after(function () {
    if (previous === undefined) delete process.env[DEPLOYMENTS_ENV];
    else process.env[DEPLOYMENTS_ENV] = previous;
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

/** Points the tasks at `dir` while `fn` runs (for the "no deployment record" cases). */
export async function withDeploymentsDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const previous = process.env[DEPLOYMENTS_ENV];
  process.env[DEPLOYMENTS_ENV] = dir;
  try {
    return await fn();
  } finally {
    if (previous === undefined) delete process.env[DEPLOYMENTS_ENV];
    else process.env[DEPLOYMENTS_ENV] = previous;
  }
}

/**
 * Deploys the TriadLocal suite with `deployTriad`, saves its record in a temp folder and points
 * `$TRIAD_DEPLOYMENTS_DIR` at it. Fixtures built on it are loaded with {@link loadTaskFixture}.
 */
export async function deployTriadForTasks() {
  const deployment = await deployTriad();
  const deploymentsDir = tempDir("triad-deployments-");
  saveDeployment(deployment.record, deploymentsDir);
  process.env[DEPLOYMENTS_ENV] = deploymentsDir;
  const [admin, seller, buyer, stranger] = await ethers.getSigners();
  return { ...deployment, deploymentsDir, signers: { admin, seller, buyer, stranger } };
}

/**
 * `loadFixture`, then points `$TRIAD_DEPLOYMENTS_DIR` at the fixture's record. Needed because a fixture function
 * runs only once: reverting to its snapshot later brings back its contracts but not the variable, which a fixture
 * loaded in between (another deployment, other addresses) has changed.
 */
export async function loadTaskFixture<T extends { deploymentsDir: string }>(fixture: () => Promise<T>): Promise<T> {
  const loaded = await loadFixture(fixture);
  process.env[DEPLOYMENTS_ENV] = loaded.deploymentsDir;
  return loaded;
}

// ------------------------------------------------------------------ inputs

/** Deterministic device and encryption keys, so failures reproduce. */
export const testKey = (label: string): string => id(`triad/test/tasks/${label}`);
export const testWallet = (label: string): Wallet => new Wallet(testKey(label));

const AI4I_FILE = path.join(import.meta.dirname, "..", "..", "..", "data", "ai4i2020", "ai4i2020-train.csv");

/** The header and the first `rows` data rows of the AI4I training file, as CSV text. */
export function ai4iCsv(rows: number): string {
  const lines = readFileSync(AI4I_FILE, "utf8").split(/\r?\n/);
  expect(lines[0]).to.equal(AI4I_COLUMNS.join(","));
  return lines.slice(0, rows + 1).join("\n") + "\n";
}

/**
 * Seconds from the first reading of an {@link incidentCsv} (as readings:anchor signs it: one a minute) to the first
 * failure reading: the incident.
 */
export const INCIDENT_OFFSET = 720n;

/**
 * The telemetry of an incident as an AI4I CSV, 33 rows: 12 rows of a machine running normally, then (with
 * `failure`) 5 real power failures in a row, then 16 normal rows; without `failure`, 33 normal rows. Signed one a
 * minute, the readings around the failure cover the shipped model's window (600 s before, 900 s after) with a reading
 * to spare on each side, and the failure persists long enough for the claim rule (4 readings over 180 s).
 */
export function incidentCsv(failure: boolean): string {
  const [header, ...rows] = readFileSync(AI4I_FILE, "utf8").trim().split(/\r?\n/);
  const columns = header.split(",");
  const field = (row: string, name: string) => row.split(",")[columns.indexOf(name)];
  const normal = rows.filter((r) => field(r, "Machine failure") === "0");
  const failures = rows.filter((r) => field(r, "PWF") === "1");
  const body = failure ? [...normal.slice(0, 12), ...failures.slice(0, 5), ...normal.slice(12, 28)] : normal.slice(0, 33);
  return [header, ...body].join("\n") + "\n";
}

/** Writes `content` to `name` in a fresh temp folder and returns the path. */
export function writeTempFile(name: string, content: string | Uint8Array): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, content);
  return file;
}
