/**
 * `npm run bench:latency` (`tsx tools/bench-latency.ts`): claim latency of the oracle committee on a real
 * `hardhat node` with interval mining, and the committee's gas per claim.
 *
 * For each block time (2 s and 12 s) and each confirmation depth (0, 2 and 12) it files a few claims (anchored
 * evidence of real AI4I rows, half genuine) with three daemons of the 2-of-3 committee running (`oracle run` child
 * processes, ORACLE_CONFIRMATIONS = the depth) and measures, per claim, the time from the ClaimFiled block to the
 * VerdictFinalised block (block timestamps) and the wall time from seeing the filing mined to seeing the verdict
 * mined. The goal is depth × block time + one block + 2 s. Gas per claim = gas of all the members' transactions in
 * the run / claims (a member arriving after the claim is decided should send nothing).
 *
 * Settings (environment): BENCH_BLOCK_TIMES_MS ("2000,12000"), BENCH_CONFIRMATIONS ("0,2,12"), BENCH_LATENCY_CLAIMS
 * per run (3), BENCH_BACKUP_DELAY_BLOCKS (unset: the daemons' default committee turns; 0: every member submits at
 * once, for comparison). `--write` puts the figures into bench/RESULTS.md (the section between `<!-- latency:begin -->` and
 * `<!-- latency:end -->`, appended when missing), with the date and the machine.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import {
  CLAIM_STATUS,
  claimOutcomes,
  deployToNode,
  fileClaims,
  prepareClaims,
  startChainNode,
  startDaemon,
  startEvidenceHost,
  type DaemonProcess,
  type EvidenceHost,
  type NodeDeployment,
} from "@triad/devkit";

const list = (name: string, fallback: string) =>
  (process.env[name] || fallback).split(",").map((s) => {
    if (!/^\d+$/.test(s.trim())) throw new Error(`${name} must be a comma-separated list of whole numbers, got "${process.env[name]}"`);
    return Number(s.trim());
  });

const BLOCK_TIMES = list("BENCH_BLOCK_TIMES_MS", "2000,12000");
const DEPTHS = list("BENCH_CONFIRMATIONS", "0,2,12");
const CLAIMS = list("BENCH_LATENCY_CLAIMS", "3")[0];
const WRITE = process.argv.includes("--write");
const BACKUP_DELAY = process.env.BENCH_BACKUP_DELAY_BLOCKS ? list("BENCH_BACKUP_DELAY_BLOCKS", "3")[0] : undefined;

interface Row {
  blockTimeMs: number;
  confirmations: number;
  claims: number;
  /** ClaimFiled block → VerdictFinalised block, seconds of block time: max and mean. */
  chainMaxS: number;
  chainMeanS: number;
  /** Filing seen mined → verdict seen mined, wall seconds: max and mean. */
  wallMaxS: number;
  wallMeanS: number;
  goalS: number;
  gasPerClaim: number;
  /** Transactions each member sent during the row (members 0, 1, 2). */
  memberTxs: number[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function measure(
  d: NodeDeployment,
  node: Awaited<ReturnType<typeof startChainNode>>,
  evidence: EvidenceHost,
  dir: string,
  blockTimeMs: number,
  confirmations: number,
): Promise<Row> {
  await node.setMining("auto");
  const prepared = await prepareClaims(d, CLAIMS, { seed: `bench-${blockTimeMs}-${confirmations}-${Date.now()}` });
  for (const c of prepared) evidence.set(`/evidence/${c.hash}`, { kind: "serve", bytes: c.bytes });
  await node.setMining(blockTimeMs);
  const startBlock = await node.head();
  const daemons: DaemonProcess[] = [];
  try {
    for (const member of [0, 1, 2]) {
      daemons.push(
        await startDaemon(d, {
          member,
          rpcUrl: node.url,
          checkpointFile: path.join(dir, `cp-${blockTimeMs}-${confirmations}-${member}.json`),
          evidenceHosts: evidence.host,
          env: {
            ORACLE_CONFIRMATIONS: String(confirmations),
            ORACLE_START_BLOCK: String(startBlock),
            ORACLE_POLL_INTERVAL_MS: "500",
            ...(BACKUP_DELAY !== undefined && { ORACLE_BACKUP_DELAY_BLOCKS: String(BACKUP_DELAY) }),
          },
        }),
      );
    }
    for (const p of daemons) {
      const deadline = Date.now() + 120_000;
      while ((await p.health())?.status !== 200) {
        if (p.process.exitCode !== null || Date.now() > deadline)
          throw new Error(`member ${p.member} did not become healthy:\n${p.stdout.slice(-5).join("\n")}\n${p.stderr.join("")}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const filed = await fileClaims(d, prepared, (c) => `${evidence.url}/evidence/${c.hash}`);
    const filedSeenAt = Date.now(); // all filings mined (fileClaims waits for the receipts)
    const ids = filed.map((f) => f.claimId);
    const seen = new Map<bigint, number>();
    const timeoutMs = (confirmations + 10) * blockTimeMs * 3 + 120_000;
    const deadline = Date.now() + timeoutMs;
    while (seen.size < ids.length) {
      if (Date.now() > deadline)
        throw new Error(`claims not decided within ${timeoutMs} ms at ${blockTimeMs} ms blocks, depth ${confirmations}`);
      const outcomes = await claimOutcomes(d, ids, startBlock);
      for (const o of outcomes) if (o.status !== CLAIM_STATUS.Filed && !seen.has(o.claimId)) seen.set(o.claimId, Date.now());
      await new Promise((r) => setTimeout(r, 250));
    }
    const outcomes = await claimOutcomes(d, ids, startBlock);
    const chainS: number[] = [];
    const wallS: number[] = [];
    for (const [i, o] of outcomes.entries()) {
      if (o.finalisations.length !== 1) throw new Error(`claim ${o.claimId} finalised ${o.finalisations.length} times`);
      const filedAt = (await d.provider.getBlock(filed[i].block))!.timestamp;
      const decidedAt = (await d.provider.getBlock(o.finalisations[0].block))!.timestamp;
      chainS.push(decidedAt - filedAt);
      wallS.push((seen.get(o.claimId)! - filedSeenAt) / 1000);
    }
    // Let late members finish (they should send nothing), then count every member transaction of the run.
    await new Promise((r) => setTimeout(r, Math.max(3, confirmations + 2) * blockTimeMs));
    const members = d.memberKeys.map((k) => new Wallet(k).address.toLowerCase());
    let gas = 0n;
    const txs = members.map(() => 0);
    const end = await node.head();
    for (let b = startBlock; b <= end; b++) {
      const block = await d.provider.getBlock(b, true);
      for (const tx of block!.prefetchedTransactions) {
        const member = members.indexOf(tx.from.toLowerCase());
        if (member < 0) continue;
        gas += (await d.provider.getTransactionReceipt(tx.hash))!.gasUsed;
        txs[member]++;
      }
    }
    const blockS = blockTimeMs / 1000;
    return {
      blockTimeMs,
      confirmations,
      claims: ids.length,
      chainMaxS: Math.max(...chainS),
      chainMeanS: mean(chainS),
      wallMaxS: Math.max(...wallS),
      wallMeanS: mean(wallS),
      goalS: confirmations * blockS + blockS + 2,
      gasPerClaim: Number(gas) / ids.length,
      memberTxs: txs,
    };
  } finally {
    await Promise.all(daemons.map((p) => p.stop("SIGTERM", 20_000)));
  }
}

function table(rows: readonly Row[]): string {
  const lines = [
    "| block time | confirmations | claims | latency, block time (max / mean) | latency, wall (max / mean) | goal (depth × block + block + 2 s) | status (block time) | committee gas per claim (3 members) | txs of members 0 / 1 / 2 |",
    "|---:|---:|---:|---:|---:|---:|---|---:|---:|",
  ];
  for (const r of rows) {
    const met = r.chainMaxS <= r.goalS; // the goal is in block time; the wall time adds this script's polling
    lines.push(
      `| ${r.blockTimeMs / 1000} s | ${r.confirmations} | ${r.claims} | ${r.chainMaxS} s / ${r.chainMeanS.toFixed(1)} s | ${r.wallMaxS.toFixed(1)} s / ${r.wallMeanS.toFixed(1)} s | ${r.goalS} s | ${met ? "met" : "**missed**"} | ${Math.round(r.gasPerClaim).toLocaleString("en-US")} | ${r.memberTxs.join(" / ")} |`,
    );
  }
  return lines.join("\n");
}

function machine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ");
  return `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores (load average at start ${load}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

async function main() {
  const startedAt = new Date();
  const machineLine = machine();
  const rows: Row[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), "triad-bench-latency-"));
  const evidence = await startEvidenceHost();
  try {
    for (const blockTimeMs of BLOCK_TIMES) {
      const node = await startChainNode();
      let d: NodeDeployment | undefined;
      try {
        d = await deployToNode(node.url);
        for (const confirmations of DEPTHS) {
          console.log(`blocks every ${blockTimeMs} ms, ${confirmations} confirmations: ${CLAIMS} claims…`);
          const row = await measure(d, node, evidence, dir, blockTimeMs, confirmations);
          rows.push(row);
          console.log(table([row]).split("\n").pop());
        }
      } finally {
        d?.close();
        await node.stop("SIGKILL");
      }
    }
  } finally {
    await evidence.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);
  const section = [
    "<!-- latency:begin (written by `npm run bench:latency -- --write`, tools/bench-latency.ts) -->",
    "## Claim latency on a real node and committee gas per claim",
    "",
    `Generated by \`npm run bench:latency -- --write\` (\`tools/bench-latency.ts\`): a \`hardhat node\` with interval mining,`,
    "the suite deployed as `npm run deploy -- --network localhost` does, three `oracle run` daemons of the 2-of-3",
    `committee (ORACLE_CONFIRMATIONS = the depth, ORACLE_POLL_INTERVAL_MS = 500), ${CLAIMS} claims per row (anchored AI4I`,
    "evidence, genuine and normal in turn). Latency = ClaimFiled block → VerdictFinalised block (block timestamps), and",
    "wall time from seeing the filings mined to seeing the verdict mined. Gas = every transaction the three members sent",
    "during the row / claims.",
    BACKUP_DELAY === 0
      ? "Committee turns off (ORACLE_BACKUP_DELAY_BLOCKS=0): every member submits every claim at once."
      : 'Committee turns on (packages/oracle/README.md, "Committee turns"): per claim only its two primaries submit; the third member holds its verdict and drops it once the claim is decided.',
    "",
    `- **Date**: ${startedAt.toISOString()}`,
    `- **Machine**: ${machineLine}`,
    `- **Duration** ${seconds} s`,
    "",
    table(rows),
    "<!-- latency:end -->",
  ].join("\n");
  console.log(`\n${section}`);
  if (WRITE) {
    const file = path.resolve(import.meta.dirname, "..", "bench", "RESULTS.md");
    const old = existsSync(file) ? readFileSync(file, "utf8") : "";
    const begin = old.indexOf("<!-- latency:begin");
    const endMarker = "<!-- latency:end -->";
    const end = begin < 0 ? -1 : old.indexOf(endMarker, begin);
    const next = end < 0 ? `${old.trimEnd()}\n\n${section}\n` : `${old.slice(0, begin)}${section}${old.slice(end + endMarker.length)}`;
    writeFileSync(file, next);
    console.log(`written to ${path.relative(process.cwd(), file)}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`error: bench:latency failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
