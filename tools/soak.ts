/**
 * `npm run soak` (`hardhat run tools/soak.ts`): the long soak of the oracle under faults (opt-in;
 * `e2e/soak.test.ts` runs a short one in `npm test`). SOAK_CLAIMS claims (5,000) on a live in-process chain served
 * over HTTP, a backlog bounded at SOAK_BACKLOG (500), the RPC endpoint unreachable for SOAK_OUTAGE_MS (15,000) and
 * the daemon — a child process — killed with SIGKILL twice (see packages/devkit/src/soak.ts). Prints a summary;
 * exits with 1 if any claim is undecided, decided or paid twice, or not decided as its evidence shows (genuine claims
 * approved, normal telemetry rejected), or the books do not balance.
 *
 * Settings (environment; `hardhat run` passes no arguments to the script): SOAK_CLAIMS (5000), SOAK_BACKLOG (500),
 * SOAK_OUTAGE_MS (15000), SOAK_READINGS per claim window (5, the least), SOAK_TIMEOUT_MS (1800000), e.g.
 *   SOAK_CLAIMS=500 SOAK_OUTAGE_MS=3000 npm run soak
 */
import { deployOracleFixture, runSoak } from "@triad/devkit";
import { step, table } from "./lib/report.ts";

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
};

async function main() {
  const options = {
    claims: num("SOAK_CLAIMS", 5_000),
    backlog: num("SOAK_BACKLOG", 500),
    outageMs: num("SOAK_OUTAGE_MS", 15_000),
    readingsPerClaim: num("SOAK_READINGS", 5),
    timeoutMs: num("SOAK_TIMEOUT_MS", 30 * 60_000),
    progress: step,
  };
  step(`soak: ${options.claims} claims, backlog ≤ ${options.backlog}, RPC outage ${options.outageMs} ms, daemon SIGKILLed twice`);
  const f = await deployOracleFixture();
  const r = await runSoak(f, options);
  const logs = r.daemons.flatMap((d) => d.logs);
  const count = (msg: string) => logs.filter((l) => l.msg === msg).length;
  console.log(
    "\n" +
      table([
        ["", "result"],
        ["claims filed", r.claimIds.length],
        ["paid (approved) / closed (rejected)", `${r.approved} / ${r.rejected}`],
        ["paid out (token units)", r.paid],
        ["daemons", r.daemons.map((d) => `${d.stoppedWith} → exit ${d.exitCode}`).join(", ")],
        ["RPC outage (ms)", r.outageMs],
        [
          "RPC retries logged / ticks failed",
          `${count("RPC request failed, retrying")} / ${count("tick failed; retrying from the checkpoint")}`,
        ],
        ["verdicts submitted (log lines)", count("verdict submitted")],
        ["claims skipped (log lines)", count("claim skipped")],
        ["set-up / run (s)", `${r.setupSeconds.toFixed(0)} / ${r.runSeconds.toFixed(0)}`],
        ["findings", r.findings.length === 0 ? "none: every claim decided and settled once, books balance to the unit" : r.findings.length],
      ]) +
      "\n",
  );
  for (const finding of r.findings.slice(0, 50)) console.log(`FINDING: ${finding}`);
  if (r.findings.length > 0) process.exitCode = 1;
}

await main().catch((error) => {
  console.error(`soak failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
