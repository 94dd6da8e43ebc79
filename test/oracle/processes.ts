import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { OracleFixture } from "./fixtures";

/**
 * Oracle CLI processes against the in-process Hardhat chain served over HTTP (the process and e2e tests, `npm run
 * soak`): the chain's JSON-RPC server, `oracle/src/cli.ts` as a child process, its log lines.
 */

export const ROOT = path.resolve(__dirname, "../..");
export const TS_NODE = require.resolve("ts-node/dist/bin.js");

/** Hardhat's JSON-RPC server in front of the in-process chain, on 127.0.0.1 (this process's event loop serves it). */
export async function serveChainOverHttp(): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = (await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: hre.network.provider })) as {
    listen(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  };
  const { port } = await server.listen();
  return { url: `http://127.0.0.1:${port}`, port, close: () => server.close() };
}

export interface CliProcess {
  process: ChildProcess;
  /** Complete stdout lines so far (the daemon's JSON log lines for `run`). */
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `ts-node oracle/src/cli.ts <args>` with only PATH and `env` in its environment. */
export function startOracleCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [TS_NODE, "--transpile-only", "oracle/src/cli.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: CliProcess = { process: child, stdout: [], stderr: [], exited: new Promise((r) => child.on("exit", (code) => r(code))) };
  let buffered = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    out.stdout.push(...lines.filter((l) => l.trim()));
  });
  child.stderr!.on("data", (d: Buffer) => out.stderr.push(d.toString("utf8")));
  return out;
}

/** The lines that are JSON documents, parsed (log lines; anything else is skipped). */
export function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Environment of `oracle run` for member 0 of `f`'s committee against `rpcUrl`: local evidence over http, no metrics
 * server, the cpu backend (deterministic, fast to load) and one verification worker (the worker path; each child
 * boots faster). `overrides` replace or add variables.
 */
export function daemonEnv(f: OracleFixture, rpcUrl: string, checkpointFile: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ORACLE_RPC_URL: rpcUrl,
    ORACLE_PRIVATE_KEY: f.memberKeys[0],
    ORACLE_CLAIMS_ADDRESS: f.addresses.claims,
    ORACLE_REGISTRY_ADDRESS: f.addresses.registry,
    ORACLE_COMMITTEE_ADDRESS: f.addresses.committee,
    ORACLE_CONFIRMATIONS: "0",
    ORACLE_POLL_INTERVAL_MS: "50",
    ORACLE_CHECKPOINT_FILE: checkpointFile,
    ORACLE_EVIDENCE_SCHEMES: "http",
    ORACLE_EVIDENCE_HOSTS: "127.0.0.1",
    ORACLE_METRICS_PORT: "off",
    ORACLE_TFJS_BACKEND: "cpu",
    ORACLE_LOG_LEVEL: "info",
    ORACLE_VERIFY_WORKERS: "1",
    ...overrides,
  };
}
