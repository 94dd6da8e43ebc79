import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { connection } from "./network.ts";
import type { OracleFixture } from "./oracle-fixtures.ts";

/**
 * Oracle CLI processes against the in-process Hardhat chain served over HTTP (the process and e2e tests, `npm run
 * soak`): the chain's JSON-RPC server, `packages/oracle/src/cli.ts` as a child process, its log lines.
 */

/** The repository root (the working directory of the child processes). */
export const ROOT = path.resolve(import.meta.dirname, "../../..");
/** Node options that make a child process run TypeScript sources (tsx's loader). */
export const TSX: readonly string[] = ["--import", "tsx"];
/** The oracle CLI's source, relative to {@link ROOT}. */
export const ORACLE_CLI = "packages/oracle/src/cli.ts";

/** Arguments of `process.execPath` that run the oracle CLI with `args` (working directory {@link ROOT}). */
export function oracleCliArgs(args: readonly string[]): string[] {
  return [...TSX, ORACLE_CLI, ...args];
}

type JsonRpcId = string | number | null;
interface JsonRpcResponse {
  jsonrpc: "2.0";
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * A JSON-RPC error the way Hardhat's own node (`hardhat node`) answers: reverts (code 3) carry the raw return data,
 * anything else its code (-32603 when it has none) with the message, transaction hash and return data.
 */
function errorResponse(id: JsonRpcId, error: unknown): JsonRpcResponse {
  const e = (isObject(error) || error instanceof Error ? error : { message: String(error) }) as Record<string, unknown>;
  const message = typeof e.message === "string" ? e.message : String(error);
  const code = typeof e.code === "number" ? e.code : -32603;
  const inner = isObject(e.data) ? e.data : undefined;
  const returnData = typeof e.data === "string" ? e.data : typeof inner?.data === "string" ? inner.data : undefined;
  const txHash =
    typeof e.transactionHash === "string"
      ? e.transactionHash
      : typeof inner?.transactionHash === "string"
        ? inner.transactionHash
        : undefined;
  const reason = typeof inner?.reason === "string" ? inner.reason : undefined;
  return { jsonrpc: "2.0", id, error: { code, message, data: code === 3 ? returnData : { message, txHash, data: returnData, reason } } };
}

async function answer(request: unknown): Promise<JsonRpcResponse> {
  if (
    !isObject(request) ||
    typeof request.method !== "string" ||
    (request.params !== undefined && !Array.isArray(request.params) && !isObject(request.params))
  ) {
    return { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request" } };
  }
  const id = (typeof request.id === "string" || typeof request.id === "number" ? request.id : null) as JsonRpcId;
  try {
    const result = await connection.provider.request({ method: request.method, params: (request.params ?? []) as unknown[] });
    return { jsonrpc: "2.0", id, result: result ?? null };
  } catch (error) {
    return errorResponse(id, error);
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let response: JsonRpcResponse | JsonRpcResponse[];
  if (req.method !== "POST") {
    res.writeHead(req.method === "OPTIONS" ? 200 : 405).end();
    return;
  }
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (error) {
      body = undefined;
      response = { jsonrpc: "2.0", id: null, error: { code: -32700, message: `Parse error: ${(error as Error).message}` } };
    }
    if (body !== undefined) {
      response = Array.isArray(body)
        ? body.length === 0
          ? { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: empty batch" } }
          : await Promise.all(body.map(answer))
        : await answer(body);
    }
  } catch (error) {
    response = errorResponse(null, error); // the request stream failed
  }
  if (res.destroyed) return; // the client went away (e.g. a proxy cut the connection)
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(response!));
}

/**
 * A JSON-RPC server over HTTP in front of the in-process chain (the shared Hardhat connection's provider), on
 * 127.0.0.1 (this process's event loop serves it). It answers single requests and batches, as `hardhat node` does.
 * Hardhat 3 does not export its node's server, so this is a small bridge over `connection.provider.request`.
 */
export async function serveChainOverHttp(): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export interface CliProcess {
  process: ChildProcess;
  /** Complete stdout lines so far (the daemon's JSON log lines for `run`). */
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `packages/oracle/src/cli.ts <args>` (through tsx) with only PATH and `env` in its environment. */
export function startOracleCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, oracleCliArgs(args), {
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
export function daemonEnv(
  f: OracleFixture,
  rpcUrl: string,
  checkpointFile: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
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
    ORACLE_EVIDENCE_HOSTS: "127.0.0.1:*", // the tests' evidence servers listen on free ports
    ORACLE_METRICS_PORT: "off",
    ORACLE_TFJS_BACKEND: "cpu",
    ORACLE_LOG_LEVEL: "info",
    ORACLE_VERIFY_WORKERS: "1",
    ...overrides,
  };
}
