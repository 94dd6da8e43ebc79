/**
 * The soak run behind `e2e/soak.test.ts` (a few hundred claims, part of `npm test`) and `npm run soak` (5,000):
 *
 *  - the in-process chain is served over HTTP on 127.0.0.1, and the daemon reaches it through a TCP proxy that the
 *    run switches off (connections refused, open ones cut) and on again: the RPC endpoint is unreachable for a while;
 *  - the daemon is a real child process (`packages/oracle/src/cli.ts run` through tsx), killed with SIGKILL twice and restarted,
 *    finally stopped with SIGTERM;
 *  - a producer files claims on a live chain (interval mining on top of automine) while keeping the backlog — filed
 *    but not yet decided — bounded; each claim has its own insured device (parametric product: a finalising verdict
 *    pays in its own transaction) and an anchored `triad.evidence/v2` bundle of real AI4I rows (the oracle
 *    fixture's `bundle`): half are genuine claims, whose window ends in a failure that persists (five readings a
 *    minute apart well past a failure limit, which the claim rule approves), half normal telemetry (rejected).
 *
 * Afterwards `findings` lists every broken promise: a claim not decided, decided or settled more than once, paid
 * twice or wrongly; a genuine claim not approved or a normal one not rejected as NO_FAILURE_DETECTED (anything else,
 * such as an evidence failure, means the run did not test what it claims to); a verdict submitted twice or refused;
 * the pool's token balance, ledger and payouts, the claims contract's deposits and the holder's balance not adding up
 * to the token unit. Everything the run starts it stops.
 */
import { once } from "node:events";
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { ethers } from "./network.ts";
import { startEvidenceServer } from "@triad/oracle";
import { tempDir, type OracleFixture } from "./oracle-fixtures.ts";
import { claimReasonCode } from "@triad/sdk";
import { clearFailureRows, normalRows, persistingFailureRows } from "./evidence-fixtures.ts";
import { daemonEnv, jsonLines, serveChainOverHttp, startOracleCli, waitFor, type CliProcess } from "./processes.ts";

export interface SoakOptions {
  claims: number;
  /** At most this many claims are filed but not yet decided. */
  backlog: number;
  /** How long the RPC endpoint stays unreachable. */
  outageMs: number;
  /**
   * Readings in each claim's window, one a minute, the last at the incident (at least {@link SOAK_FAILURE_READINGS}:
   * a genuine claim's window ends in that many failure readings).
   */
  readingsPerClaim: number;
  /** Upper bound of the run after set-up (a claim that is never decided fails the run instead of hanging it). */
  timeoutMs: number;
  progress?: (message: string) => void;
}

/** Exit of one daemon process and what it logged. */
export interface SoakDaemon {
  exitCode: number | null;
  /** How the run ended it. */
  stoppedWith: "SIGKILL" | "SIGTERM";
  logs: Record<string, unknown>[];
  stderr: string;
}

export interface SoakResult {
  claimIds: bigint[];
  daemons: SoakDaemon[];
  /** Milliseconds the RPC proxy was off. */
  outageMs: number;
  approved: number;
  rejected: number;
  /** Sum of the ClaimPaid amounts of the run's claims (token units). */
  paid: bigint;
  setupSeconds: number;
  runSeconds: number;
  /** Every broken promise, one line each; empty when the run is sound. */
  findings: string[];
}

/** Failure readings at the end of a genuine claim's window: a failure lasting 4 minutes, which the claim rule approves. */
export const SOAK_FAILURE_READINGS = 5;

/** Claim statuses (IClaimsInsurance.ClaimStatus). */
const PAID = 6n;
const CLOSED = 7n;
/** Reason codes of the verdicts a sound run ends with (docs/protocol.md §10.4). */
const APPROVED = BigInt(claimReasonCode("APPROVED"));
const NO_FAILURE_DETECTED = BigInt(claimReasonCode("NO_FAILURE_DETECTED"));

const FAILURE_MODES = ["HDF", "PWF", "OSF"] as const;

/** The failure of the `i`-th genuine claim: the modes in turn, and a different run of clear failure rows each time. */
function genuineFailure(i: number) {
  const mode = FAILURE_MODES[i % FAILURE_MODES.length];
  const runs = clearFailureRows(mode).length - SOAK_FAILURE_READINGS + 1;
  return persistingFailureRows(mode, SOAK_FAILURE_READINGS, Math.floor(i / FAILURE_MODES.length) % runs);
}

/** A TCP proxy on 127.0.0.1 in front of `targetPort` that can be switched off (nothing listens) and on again. */
export async function startTcpProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const on = async () => {
    const s = createServer((client) => {
      const upstream = connect(targetPort, "127.0.0.1");
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined); // a cut connection: the other side is destroyed below
        socket.on("close", () => {
          sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    s.listen(port, "127.0.0.1");
    await once(s, "listening");
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const off = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await on();
  return { url: `http://127.0.0.1:${port}`, on, off, close: off };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(f: OracleFixture, options: SoakOptions): Promise<SoakResult> {
  if (!Number.isSafeInteger(options.readingsPerClaim) || options.readingsPerClaim < SOAK_FAILURE_READINGS)
    throw new Error(`runSoak: readingsPerClaim must be at least ${SOAK_FAILURE_READINGS}, got ${options.readingsPerClaim}`);
  const progress = options.progress ?? (() => undefined);
  const started = Date.now();
  const { claims, pool, token, holder, admin, lp2 } = f;
  const provider = ethers.provider;
  const stops: (() => Promise<unknown>)[] = [];
  const children: CliProcess[] = [];
  try {
    // ---------------------------------------------------------------- set-up
    // Capital for every policy's coverage (twice the claim amount each) on top of the fixture's.
    const capital = BigInt(options.claims) * 2n * 10n * 10n ** 6n;
    await (await token.connect(admin).mint(lp2.address, capital)).wait();
    await (await pool.connect(lp2).deposit(capital, lp2.address)).wait();
    const insured = await f.insureNewDevices(Array.from({ length: options.claims }, (_, i) => `soak-${i}`));
    const evidence = await startEvidenceServer({ port: 0 });
    stops.push(() => evidence.close());
    const prepared = [];
    for (const [i, { device, policyId }] of insured.entries()) {
      const r = options.readingsPerClaim;
      const genuine = i % 2 === 1;
      const rows = genuine ? [...normalRows(r - SOAK_FAILURE_READINGS, i % 400), ...genuineFailure(i)] : normalRows(r, i % 400);
      const b = await f.bundle(rows, { device });
      prepared.push({ policyId, hash: b.hash, uri: evidence.put(b.bytes).uri, incidentAt: b.incidentAt, genuine });
    }
    const chain = await serveChainOverHttp();
    stops.push(() => chain.close());
    const proxy = await startTcpProxy(chain.port);
    stops.push(() => proxy.close());
    const setupSeconds = (Date.now() - started) / 1000;
    progress(
      `set up ${options.claims} insured devices with evidence in ${setupSeconds.toFixed(0)} s; chain at ${chain.url}, proxy at ${proxy.url}`,
    );

    const before = {
      // The pool's books (docs/insurance.md, Pool economics): LP equity + reserved payouts + unearned premiums.
      poolAssets: (await pool.totalAssets()) + (await pool.reservedPayouts()) + (await pool.unearnedPremiums()),
      poolBalance: await token.balanceOf(await pool.getAddress()),
      claimsBalance: await token.balanceOf(f.addresses.claims),
      holderBalance: await token.balanceOf(holder.address),
    };
    const firstBlock = (await provider.getBlockNumber()) + 1;
    // A live chain: blocks keep coming (needed for the confirmation depth), besides one per transaction.
    await provider.send("evm_setIntervalMining", [250]);
    stops.push(() => provider.send("evm_setIntervalMining", [0]));
    const runStarted = Date.now();
    const deadline = runStarted + options.timeoutMs;
    const remaining = () => Math.max(1, deadline - Date.now());

    // ---------------------------------------------------------------- producer and progress
    const decided = new Set<string>();
    let scanned = firstBlock - 1;
    const track = async () => {
      const head = await provider.getBlockNumber();
      if (head <= scanned) return;
      for (const e of await claims.queryFilter(claims.filters.VerdictFinalised(), scanned + 1, head))
        decided.add(e.args.claimId.toString());
      scanned = head;
    };
    const claimIds: bigint[] = [];
    /** Claim id → whether it is genuine (its evidence shows a persisting failure). */
    const genuineClaims = new Map<string, boolean>();
    let producing = true;
    let producerError: unknown;
    const producer = (async () => {
      try {
        for (const p of prepared) {
          while (claimIds.length - decided.size >= options.backlog) {
            if (Date.now() > deadline) throw new Error("the backlog never drained");
            await sleep(20);
            await track();
          }
          const claimId = await f.fileClaim({ hash: p.hash, uri: p.uri, incidentAt: p.incidentAt, policy: p.policyId });
          genuineClaims.set(claimId.toString(), p.genuine);
          claimIds.push(claimId);
        }
      } catch (error) {
        producerError = error;
        throw error;
      } finally {
        producing = false;
      }
    })();
    producer.catch(() => undefined);
    const ticker = setInterval(() => void track().catch(() => undefined), 100);
    stops.push(async () => clearInterval(ticker));

    // ---------------------------------------------------------------- the daemon, its kills and the outage
    const checkpointFile = path.join(tempDir("triad-soak-"), "checkpoint.json");
    const env = daemonEnv(f, proxy.url, checkpointFile, {
      ORACLE_CONFIRMATIONS: "2",
      ORACLE_POLL_INTERVAL_MS: "100",
      ORACLE_BATCH_SIZE: "10",
      ORACLE_LOG_BLOCK_RANGE: "25",
      ORACLE_START_BLOCK: String(firstBlock),
      ORACLE_RPC_RETRIES: "3",
      ORACLE_RPC_RETRY_BASE_MS: "100",
    });
    const daemons: SoakDaemon[] = [];
    const startDaemon = () => {
      const child = startOracleCli(["run"], env);
      children.push(child);
      progress(`daemon #${children.length} started (pid ${child.process.pid})`);
      return child;
    };
    const stop = async (child: CliProcess, signal: "SIGKILL" | "SIGTERM") => {
      child.process.kill(signal);
      const exitCode = await child.exited;
      daemons.push({ exitCode, stoppedWith: signal, logs: jsonLines(child.stdout), stderr: child.stderr.join("") });
      progress(`daemon #${daemons.length} stopped with ${signal} (exit ${exitCode}); ${decided.size}/${options.claims} decided`);
    };
    const until = async (child: CliProcess, fraction: number) => {
      await waitFor(
        () =>
          (decided.size >= Math.ceil(fraction * options.claims) && (fraction < 1 || !producing)) ||
          child.process.exitCode !== null ||
          producerError !== undefined,
        `${Math.round(fraction * 100)} % of the claims decided`,
        remaining(),
      ).catch((error: Error) => {
        const open = claimIds.filter((id) => !decided.has(id.toString()));
        throw new Error(
          `${error.message}: ${decided.size} of ${claimIds.length} filed claims decided; undecided: ${open.slice(0, 20).join(", ")}${open.length > 20 ? ", …" : ""}`,
        );
      });
      if (producerError !== undefined) throw producerError;
      if (child.process.exitCode !== null) {
        throw new Error(
          `daemon #${children.length} exited on its own (code ${child.process.exitCode}): ${child.stderr.join("").slice(-2000)}`,
        );
      }
    };

    let daemon = startDaemon();
    await until(daemon, 0.25);
    await stop(daemon, "SIGKILL");
    daemon = startDaemon();
    await until(daemon, 0.45);
    const outageStarted = Date.now();
    await proxy.off();
    progress(`RPC unreachable (proxy off) for ${options.outageMs} ms`);
    await sleep(options.outageMs);
    await proxy.on();
    const outageMs = Date.now() - outageStarted;
    progress(`RPC reachable again; ${decided.size}/${options.claims} decided`);
    await until(daemon, 0.65);
    await stop(daemon, "SIGKILL");
    daemon = startDaemon();
    await until(daemon, 1);
    await producer;
    await stop(daemon, "SIGTERM");
    const runSeconds = (Date.now() - runStarted) / 1000;
    await provider.send("evm_setIntervalMining", [0]);

    // ---------------------------------------------------------------- the books
    const findings: string[] = [];
    const head = await provider.getBlockNumber();
    const countBy = <T>(items: T[], key: (item: T) => string) => {
      const m = new Map<string, T[]>();
      for (const item of items) m.set(key(item), [...(m.get(key(item)) ?? []), item]);
      return m;
    };
    const finalisedBy = countBy(await claims.queryFilter(claims.filters.VerdictFinalised(), firstBlock, head), (e) =>
      e.args.claimId.toString(),
    );
    const signedBy = countBy(await claims.queryFilter(claims.filters.VerdictSigned(), firstBlock, head), (e) => e.args.claimId.toString());
    const settledBy = countBy(await claims.queryFilter(claims.filters.ClaimSettled(), firstBlock, head), (e) => e.args.claimId.toString());
    const paidBy = countBy(await pool.queryFilter(pool.filters.ClaimPaid(), firstBlock, head), (e) => e.args.claimId.toString());
    const forfeitedBy = countBy(await pool.queryFilter(pool.filters.DepositForfeited(), firstBlock, head), (e) =>
      e.args.claimId.toString(),
    );
    const logs = daemons.flatMap((d) => d.logs);
    const submittedBy = countBy(
      logs.filter((l) => l.msg === "verdict submitted"),
      (l) => String(l.claimId),
    );

    let approved = 0;
    let rejected = 0;
    let paid = 0n;
    let paidToPaidClaims = 0n;
    let forfeited = 0n;
    let deposits = 0n;
    let refunded = 0n;
    for (const id of claimIds) {
      const key = id.toString();
      const claim = await claims.getClaim(id);
      deposits += claim.deposit;
      const n = (m: Map<string, unknown[]>) => m.get(key)?.length ?? 0;
      if (claim.status !== PAID && claim.status !== CLOSED) findings.push(`claim ${key}: status ${claim.status}, not decided and settled`);
      if (n(finalisedBy) !== 1) findings.push(`claim ${key}: finalised ${n(finalisedBy)} times`);
      if (n(signedBy) !== 1) findings.push(`claim ${key}: ${n(signedBy)} signatures counted (one member, threshold 1)`);
      if (n(settledBy) !== 1) findings.push(`claim ${key}: settled ${n(settledBy)} times`);
      if (n(paidBy) > 1) findings.push(`claim ${key}: PAID ${n(paidBy)} TIMES`);
      if (n(submittedBy) > 1) findings.push(`claim ${key}: the daemons logged "verdict submitted" ${n(submittedBy)} times`);
      const paidHere = (paidBy.get(key) ?? []).reduce((s, e) => s + e.args.amount, 0n);
      paid += paidHere;
      forfeited += (forfeitedBy.get(key) ?? []).reduce((s, e) => s + e.args.amount, 0n);
      refunded += (settledBy.get(key) ?? []).reduce((s, e) => s + e.args.depositRefunded, 0n);
      const genuine = genuineClaims.get(key);
      const expected = genuine ? [PAID, APPROVED] : [CLOSED, NO_FAILURE_DETECTED];
      if ((claim.status === PAID || claim.status === CLOSED) && (claim.status !== expected[0] || claim.reason !== expected[1])) {
        findings.push(
          `claim ${key}: ${genuine ? "a genuine claim (persisting failure)" : "normal telemetry"} ended with status ${claim.status} and reason ${claim.reason}, expected ${expected[0]} and ${expected[1]}`,
        );
      }
      if (claim.status === PAID) {
        approved++;
        paidToPaidClaims += claim.payout;
        if (!claim.approved || paidHere !== claim.payout)
          findings.push(`claim ${key}: Paid ${paidHere}, its approved payout is ${claim.payout}`);
      } else if (claim.status === CLOSED) {
        rejected++;
        if (paidHere !== 0n) findings.push(`claim ${key}: Closed but paid ${paidHere}`);
      }
    }
    if (paid !== paidToPaidClaims)
      findings.push(`payouts: ClaimPaid events sum to ${paid}, the Paid claims' payouts to ${paidToPaidClaims}`);
    const after = {
      // The pool's books (docs/insurance.md, Pool economics): LP equity + reserved payouts + unearned premiums.
      poolAssets: (await pool.totalAssets()) + (await pool.reservedPayouts()) + (await pool.unearnedPremiums()),
      poolBalance: await token.balanceOf(await pool.getAddress()),
      claimsBalance: await token.balanceOf(f.addresses.claims),
      holderBalance: await token.balanceOf(holder.address),
    };
    if (after.poolBalance !== after.poolAssets) findings.push(`pool: token balance ${after.poolBalance} != its books ${after.poolAssets}`);
    if (after.poolAssets - before.poolAssets !== forfeited - paid) {
      findings.push(`pool: books moved by ${after.poolAssets - before.poolAssets}, forfeited deposits − payouts = ${forfeited - paid}`);
    }
    if (after.poolBalance - before.poolBalance !== forfeited - paid)
      findings.push(`pool: token balance moved by ${after.poolBalance - before.poolBalance}, expected ${forfeited - paid}`);
    if (after.claimsBalance - before.claimsBalance !== deposits - refunded - forfeited) {
      findings.push(
        `claims contract: balance moved by ${after.claimsBalance - before.claimsBalance}, deposits − refunds − forfeits = ${deposits - refunded - forfeited}`,
      );
    }
    if (after.holderBalance - before.holderBalance !== paid + refunded - deposits) {
      findings.push(
        `holder: balance moved by ${after.holderBalance - before.holderBalance}, payouts + refunds − deposits = ${paid + refunded - deposits}`,
      );
    }
    const refused = logs.filter(
      (l) => l.msg === "verdict refused by the contract" || l.msg === "verdict skipped by the contract (VerdictSkipped)",
    );
    if (refused.length > 0)
      findings.push(`${refused.length} verdicts refused by the contract (claims ${refused.map((l) => l.claimId).join(", ")})`);
    progress(`books checked: ${approved} paid, ${rejected} closed, ${findings.length} findings`);
    return { claimIds, daemons, outageMs, approved, rejected, paid, setupSeconds, runSeconds, findings };
  } finally {
    for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
