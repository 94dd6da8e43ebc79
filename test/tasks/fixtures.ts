import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { format } from "node:util";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, id } from "ethers";
import { deployTriad } from "../../scripts/lib/deploy";
import { AI4I_COLUMNS, saveDeployment } from "../../sdk";

/**
 * Runs the CLI tasks in-process on the Hardhat network. The tasks find their deployment through the record in
 * `$TRIAD_DEPLOYMENTS_DIR`, so each suite deploys the suite, saves its record in a temp folder and points the
 * variable there ({@link useTaskEnvironment} restores it afterwards).
 */

export const DEPLOYMENTS_ENV = "TRIAD_DEPLOYMENTS_DIR";

/** What a task printed and the exit code it set; `json` is the parsed stdout of a successful `--json` run. */
export interface TaskRun {
  stdout: string;
  stderr: string;
  /** `process.exitCode` as the task left it (undefined: success). */
  exitCode: string | number | null | undefined;
  // The tasks' JSON output is not typed: tests read the fields they check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json?: any;
}

/**
 * Runs `hre.run(name, args)` with `console.log`/`console.error` captured. `process.exitCode` is cleared for the
 * run and put back afterwards: the tasks report failure by setting it, and a leftover 1 would fail mocha itself.
 * `DEBUG` is unset for the run because it makes the tasks print the underlying error as well.
 */
export async function runTask(name: string, args: Record<string, unknown> = {}): Promise<TaskRun> {
  const previousExitCode = process.exitCode;
  const previousDebug = process.env.DEBUG;
  const { log, error } = console;
  let stdout = "";
  let stderr = "";
  let exitCode: TaskRun["exitCode"];
  console.log = (...parts: unknown[]) => void (stdout += format(...parts) + "\n");
  console.error = (...parts: unknown[]) => void (stderr += format(...parts) + "\n");
  delete process.env.DEBUG;
  process.exitCode = undefined;
  try {
    await hre.run(name, args);
  } finally {
    exitCode = process.exitCode;
    process.exitCode = previousExitCode;
    if (previousDebug !== undefined) process.env.DEBUG = previousDebug;
    console.log = log;
    console.error = error;
  }
  const run: TaskRun = { stdout, stderr, exitCode };
  if (args.json === true && exitCode === undefined) {
    try {
      run.json = JSON.parse(stdout);
    } catch {
      expect.fail(`${name} --json printed no single JSON object: ${JSON.stringify(stdout)}`);
    }
  }
  return run;
}

/** Asserts a successful run: nothing on stderr, no exit code; with `--json`, exactly one line on stdout. */
export function expectSuccess(run: TaskRun): TaskRun {
  expect(run.stderr, "stderr").to.equal("");
  expect(run.exitCode, "exit code").to.equal(undefined);
  if (run.json !== undefined) expect(run.stdout.split("\n"), "one JSON line").to.have.length(2);
  return run;
}

/**
 * Asserts the CLI failure contract: nothing on stdout, exactly one line `error: …` on stderr, exit code 1.
 * Returns the message after `error: `; `pattern` must occur in it.
 */
export function expectOneError(run: TaskRun, pattern?: RegExp | string): string {
  expect(run.stdout, "stdout").to.equal("");
  expect(run.exitCode, "exit code").to.equal(1);
  expect(run.stderr, "one error line").to.match(/^error: [^\r\n]+\n$/);
  const message = run.stderr.slice("error: ".length, -1);
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
  const deployment = await deployTriad(hre);
  const deploymentsDir = tempDir("triad-deployments-");
  saveDeployment(deployment.record, deploymentsDir);
  process.env[DEPLOYMENTS_ENV] = deploymentsDir;
  const [admin, seller, buyer, stranger] = await hre.ethers.getSigners();
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

const AI4I_FILE = path.join(__dirname, "..", "..", "data", "ai4i2020", "ai4i2020-train.csv");

/** The header and the first `rows` data rows of the AI4I training file, as CSV text. */
export function ai4iCsv(rows: number): string {
  const lines = readFileSync(AI4I_FILE, "utf8").split(/\r?\n/);
  expect(lines[0]).to.equal(AI4I_COLUMNS.join(","));
  return lines.slice(0, rows + 1).join("\n") + "\n";
}

/** Writes `content` to `name` in a fresh temp folder and returns the path. */
export function writeTempFile(name: string, content: string | Uint8Array): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, content);
  return file;
}
