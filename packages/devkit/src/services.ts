/**
 * Real services for tests and tools (`@triad/devkit/services`): a private PostgreSQL cluster and a Mosquitto broker,
 * each a child process on 127.0.0.1 with its data in a temporary folder, removed on `stop()` and when this process
 * exits. Nothing here imports Hardhat: tools may use it without a chain.
 *
 * The binaries come from PATH or the Debian locations (`/usr/lib/postgresql/<version>/bin`, `/usr/sbin`). When they
 * are missing, starting fails with a message naming the Debian package and `.ci/run` (which installs them): a test
 * that needs a real service never skips.
 *
 * Cleanup: `stop()` ends the server and removes its folder; so does this process's exit. When this process dies
 * without running its exit hook (SIGKILL, Ctrl-C, a crash), the servers get a parent-death signal (util-linux
 * `setpriv --pdeathsig`) and stop too, and the next start removes the folders whose owner process is gone.
 *
 * Running as root: PostgreSQL refuses to, so the cluster runs as the `postgres` system user (created when absent);
 * Mosquitto runs as the `mosquitto` user when it exists (it would drop to it anyway). Their temporary folders are
 * handed to that user.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { TriadError } from "@triad/sdk";

export interface PostgresService {
  /** postgres://user:password@127.0.0.1:port/database of the database created at start. */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The cluster's data folder (temporary). */
  dataDir: string;
  /** Creates another (empty) database in the cluster and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Runs one SQL statement as the cluster's superuser through psql; returns its output (unaligned, tuples only). */
  sql(statement: string, database?: string): Promise<string>;
  /** Fast shutdown (open sessions are ended), then the data folder is removed. Idempotent. */
  stop(): Promise<void>;
}

export interface MosquittoService {
  /** mqtt://127.0.0.1:port */
  url: string;
  port: number;
  /** Persistence folder (sessions and queued QoS 1 messages survive a `restart()`). */
  dataDir: string;
  /** Stops the broker (it saves its persistence file) and starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** Stops the broker and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** A service binary that cannot be found: what to install. */
export class ServiceUnavailableError extends TriadError {
  override readonly name = "ServiceUnavailableError";
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, "SERVICE_UNAVAILABLE", details);
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Plumbing

const running = new Set<() => void>();
let exitHookInstalled = false;

/** Kills what is still running and removes its folder when this process exits (synchronously, best effort). */
function onExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const fn of running) {
        try {
          fn();
        } catch {
          // exiting anyway
        }
      }
    });
  }
  running.add(cleanup);
  return () => running.delete(cleanup);
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The folder holding PostgreSQL's server binaries (initdb, postgres, psql), or undefined. */
export function findPostgresBin(): string | undefined {
  const onPathDir = onPath("initdb") && onPath("postgres") ? path.dirname(onPath("postgres")!) : undefined;
  if (onPathDir && existsSync(path.join(onPathDir, "psql"))) return onPathDir;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, "bin", "postgres")) && existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], "bin") : undefined;
}

/** The mosquitto binary, or undefined. */
export function findMosquitto(): string | undefined {
  return onPath("mosquitto") ?? ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find((f) => existsSync(f));
}

interface Account {
  uid: number;
  gid: number;
  name: string;
}

function account(name: string): Account | undefined {
  try {
    const [, , uid, gid] = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).trim().split(":");
    return { uid: Number(uid), gid: Number(gid), name };
  } catch {
    return undefined;
  }
}

/** Who the service runs as: undefined (this process's user) unless we are root. */
function serviceAccount(name: string, create: boolean): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let found = account(name);
  if (!found && create) {
    try {
      execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], { stdio: "ignore" });
    } catch {
      // reported below
    }
    found = account(name);
    if (!found) {
      throw new ServiceUnavailableError(
        `PostgreSQL refuses to run as root and there is no "${name}" user (useradd failed): install postgresql (apt-get install postgresql creates it), or run .ci/run which does`,
      );
    }
  }
  return found;
}

const OWNER_FILE = "owner.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the folders of earlier services whose owning process is gone (it crashed or was killed: its exit hook did
 * not run; the servers themselves died with it, see {@link start}). A folder whose owner lives, or whose owner is
 * unknown, is left alone.
 */
function sweep(prefix: string): void {
  for (const name of readdirSync(os.tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      const owner = Number(readFileSync(path.join(dir, OWNER_FILE), "utf8"));
      if (Number.isSafeInteger(owner) && owner > 0 && !alive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // not ours, or being created: leave it
    }
  }
}

function tempFolder(prefix: string, owner: Account | undefined): string {
  sweep(prefix);
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A child process with the tail of its output kept for error messages, and a promise of its exit. */
interface Child {
  process: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  alive(): boolean;
}

/** util-linux `setpriv`, which can give a server a parent-death signal (Debian has it), or undefined. */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((f) => existsSync(f));

/**
 * Starts `bin`. With `dieWith`, the process gets that signal when this process dies, however it dies (SIGKILL, a
 * crash, Ctrl-C: the exit hook does not run then): `setpriv --pdeathsig` sets it and execs `bin` (same pid).
 */
function start(bin: string, args: string[], as: Account | undefined, env: Record<string, string> = {}, dieWith?: NodeJS.Signals): Child {
  const [file, argv] = dieWith && SETPRIV ? [SETPRIV, ["--pdeathsig", dieWith.replace(/^SIG/, ""), "--", bin, ...args]] : [bin, args];
  const child = spawn(file, argv, {
    stdio: ["ignore", "pipe", "pipe"],
    uid: as?.uid,
    gid: as?.gid,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", LC_ALL: "C", ...env },
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(...d.toString("utf8").split("\n").filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      done = true;
      resolve(code);
    });
    child.once("error", (error) => {
      done = true;
      output.push(String(error));
      resolve(-1);
    });
  });
  return { process: child, output, exited, alive: () => !done };
}

/**
 * A running server no longer keeps this process alive: a test or tool that forgets `stop()` still ends, and the exit
 * hook stops the server. (Not while starting: then awaiting the server is all this process does.)
 */
function detach(child: Child): void {
  child.process.unref();
  for (const stream of [child.process.stdout, child.process.stderr]) (stream as unknown as { unref?(): void } | null)?.unref?.();
}

function run(bin: string, args: string[], as: Account | undefined, env: Record<string, string> = {}): Promise<string> {
  const child = start(bin, args, as, env);
  return child.exited.then((code) => {
    if (code !== 0)
      throw new TriadError(`${path.basename(bin)} failed (exit ${code}): ${child.output.slice(-5).join(" | ")}`, "SERVICE_FAILED");
    return child.output.join("\n");
  });
}

async function waitUntil(ready: () => Promise<boolean>, child: Child, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (!child.alive()) throw new TriadError(`${what} exited while starting: ${child.output.slice(-8).join(" | ")}`, "SERVICE_FAILED");
    if (Date.now() > deadline)
      throw new TriadError(`${what} did not start within ${timeoutMs} ms: ${child.output.slice(-8).join(" | ")}`, "SERVICE_FAILED");
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function terminate(child: Child, signal: NodeJS.Signals, timeoutMs = 15_000): Promise<void> {
  if (!child.alive()) return;
  child.process.kill(signal);
  const timer = setTimeout(() => child.process.kill("SIGKILL"), timeoutMs);
  await child.exited;
  clearTimeout(timer);
}

// ------------------------------------------------------------------------------------------------------------------
// PostgreSQL

/**
 * Starts a private PostgreSQL cluster: `initdb` into a temporary folder (password authentication over TCP, a random
 * password), then `postgres` on 127.0.0.1:<free port> with its socket in that folder, fsync and synchronous_commit
 * on (the durability the gateway promises is the real one), and creates `database`.
 */
export async function startPostgres(options: { database?: string } = {}): Promise<PostgresService> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new ServiceUnavailableError(
      "install PostgreSQL: apt-get install postgresql (its server binaries: initdb, postgres, psql), or run .ci/run which does",
    );
  }
  const as = serviceAccount("postgres", true);
  const dir = tempFolder("triad-postgres-", as);
  const dataDir = path.join(dir, "data");
  const user = "triad";
  const password = randomBytes(12).toString("hex");
  const database = options.database ?? "triad";
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let child: Child | undefined;
  const forget = onExit(() => {
    if (child?.alive()) child.process.kill("SIGQUIT"); // immediate shutdown
    removeDir();
  });
  const superEnv = { PGPASSWORD: password };
  try {
    const pwfile = path.join(dir, "pwfile");
    writeFileSync(pwfile, password + "\n", { mode: 0o600 });
    if (as) chownSync(pwfile, as.uid, as.gid);
    await run(
      path.join(bin, "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        user,
        `--pwfile=${pwfile}`,
        "--auth-host=scram-sha-256",
        "--auth-local=trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-instructions",
      ],
      as,
    );
    rmSync(pwfile);
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      child = start(
        path.join(bin, "postgres"),
        [
          "-D",
          dataDir,
          "-k",
          dir,
          "-h",
          "127.0.0.1",
          "-p",
          String(port),
          "-c",
          "fsync=on",
          "-c",
          "synchronous_commit=on",
          "-c",
          "max_connections=200",
        ],
        as,
        {},
        "SIGINT", // fast shutdown when this process dies
      );
      try {
        await waitUntil(async () => child!.output.some((l) => l.includes("ready to accept connections")), child, "postgres");
        detach(child);
        break;
      } catch (error) {
        // another process may have taken the port between freePort() and the bind: try another one
        if (attempt < 3 && child.output.some((l) => /could not bind|Address already in use/.test(l))) continue;
        throw error;
      }
    }
    const psql = path.join(bin, "psql");
    const sql = (statement: string, db = "postgres") =>
      run(
        psql,
        ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-Atq", "-c", statement],
        as,
        superEnv,
      );
    const urlOf = (db: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${db}`;
    let created = 0;
    const createDatabase = async (name = `triad_${process.pid}_${++created}_${randomBytes(3).toString("hex")}`) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
        throw new TriadError(`database name "${name}" must be lower-case letters, digits and _`, "INVALID_INPUT");
      await sql(`CREATE DATABASE ${name}`);
      return urlOf(name);
    };
    await createDatabase(database);
    let stopping: Promise<void> | undefined;
    return {
      url: urlOf(database),
      host: "127.0.0.1",
      port,
      user,
      password,
      database,
      dataDir,
      createDatabase,
      sql,
      stop() {
        stopping ??= (async () => {
          await terminate(child!, "SIGINT"); // fast shutdown
          removeDir();
          forget();
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (child) await terminate(child, "SIGQUIT");
    removeDir();
    forget();
    throw error;
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Mosquitto

/**
 * Starts Mosquitto with a temporary configuration: one listener on 127.0.0.1:<free port> (MQTT 5, 3.1.1 and 3.1 all
 * accepted), anonymous clients allowed, persistence on in a temporary folder, no limit on queued QoS 1 messages of
 * an offline persistent session (a gateway that restarts must find every unacknowledged reading).
 */
export async function startMosquitto(): Promise<MosquittoService> {
  const bin = findMosquitto();
  if (!bin) throw new ServiceUnavailableError("install mosquitto: apt-get install mosquitto, or run .ci/run which does");
  const as = serviceAccount("mosquitto", false);
  const dir = tempFolder("triad-mosquitto-", as);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let child: Child | undefined;
  const forget = onExit(() => {
    if (child?.alive()) child.process.kill("SIGKILL");
    removeDir();
  });
  const config = path.join(dir, "mosquitto.conf");
  const launch = async (port: number) => {
    writeFileSync(
      config,
      [
        `listener ${port} 127.0.0.1`,
        "allow_anonymous true",
        "persistence true",
        `persistence_location ${dir}/`,
        "max_queued_messages 0",
        "max_inflight_messages 0",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        ...(as ? [`user ${as.name}`] : []),
        "",
      ].join("\n"),
    );
    if (as) chownSync(config, as.uid, as.gid);
    child = start(bin, ["-c", config], as, {}, "SIGTERM");
    await waitUntil(() => canConnect(port), child, "mosquitto");
    detach(child);
  };
  try {
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await launch(port);
        break;
      } catch (error) {
        if (attempt < 3 && child!.output.some((l) => /Address already in use/.test(l))) continue;
        throw error;
      }
    }
    let stopping: Promise<void> | undefined;
    return {
      url: `mqtt://127.0.0.1:${port}`,
      port,
      dataDir: dir,
      async restart() {
        if (stopping) throw new TriadError("this mosquitto was stopped", "SERVICE_STOPPED");
        await terminate(child!, "SIGTERM"); // saves the persistence file
        await launch(port);
      },
      stop() {
        stopping ??= (async () => {
          if (child) await terminate(child, "SIGTERM");
          removeDir();
          forget();
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (child) await terminate(child, "SIGKILL");
    removeDir();
    forget();
    throw error;
  }
}
