/**
 * bench/results.json and bench/RESULTS.md of `npm run bench`: every figure against its target (where it has one)
 * and against the figure documented before (docs/market.md, docs/insurance.md, oracle/README.md).
 */
import { FLEET_DEVICES, type GasDetail, type GasFigures } from "./bench-gas.ts";
import type { GatewayBenchOptions, GatewayFigures, GatewayRunDetail } from "./bench-gateway.ts";
import type { OracleFigures, OracleRunDetail } from "./bench-oracle.ts";
import { table } from "./report.ts";

export interface BenchResults {
  gas: GasFigures;
  oracle: OracleFigures;
  committee: OracleFigures;
  gateway: GatewayFigures;
  machine: { cpuModel: string; cpuCount: number; memoryGiB: number; node: string; platform: string; loadAverageAtStart: number[] };
  date: string;
  notes: {
    settings: Record<string, unknown>;
    tfjsBackend: string;
    nativeSecp256k1: boolean;
    gasDetail: GasDetail;
    oracleRun: OracleRunDetail;
    committeeRun: OracleRunDetail;
    gatewaySettings: GatewayBenchOptions;
    gatewayRun: GatewayRunDetail;
    durationSeconds: number;
  };
}

interface Row {
  figure: string;
  /** null: a slot not measured by this benchmark yet. */
  measured: number | null;
  unit: string;
  /** "≤ 80,000", "≥ 100", or "—" */
  target: string;
  met?: boolean;
  reference: string;
}

const fmt = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 3 });

function rows(r: BenchResults): Row[] {
  const g = r.gas;
  const extra = Math.round((g.submitVerdict3 - g.submitVerdict1) / 2);
  const max = (measured: number, limit: number) => ({ target: `≤ ${fmt(limit)}`, met: measured <= limit });
  const min = (measured: number, limit: number) => ({ target: `≥ ${fmt(limit)}`, met: measured >= limit });
  const none = { target: "—" };
  const gw = r.gateway;
  const lat = r.notes.gatewayRun.latency;
  const out: Row[] = [
    { figure: "gas: registerDevice", measured: g.registerDevice, unit: "gas", ...none, reference: "" },
    {
      figure: "gas: anchorBatch (largest of 1 / 256 / 1,024 readings)",
      measured: g.anchorBatch,
      unit: "gas",
      ...max(g.anchorBatch, 60_000),
      reference: "",
    },
    { figure: "gas: anchor per reading, 256 readings", measured: g.anchorPerReading256, unit: "gas", ...none, reference: "" },
    { figure: "gas: anchor per reading, 1,024 readings", measured: g.anchorPerReading1024, unit: "gas", ...none, reference: "" },
    {
      figure: "gas: anchor gas per interval, anchorFleet (largest of 1 / 1,000 / 10,000 readings, all devices)",
      measured: g.anchorFleet,
      unit: "gas",
      ...max(g.anchorFleet, 60_000),
      reference: "",
    },
    {
      figure: "gas: createListing (dataset, 1 device, 1 anchor)",
      measured: g.createListing,
      unit: "gas",
      ...none,
      reference: "325,387 with 2 devices (docs/market.md)",
    },
    {
      figure: "gas: purchase (dataset, first licence)",
      measured: g.purchase,
      unit: "gas",
      ...none,
      reference: "144,904 with 2 devices (docs/market.md)",
    },
    { figure: "gas: deliverKey (dataset)", measured: g.deliverKey, unit: "gas", ...none, reference: "60,586 (docs/market.md)" },
    {
      figure: "gas: buyPolicy (default product, 5,000 tUSD, 90 days)",
      measured: g.buyPolicy,
      unit: "gas",
      ...none,
      reference: "296,733 (docs/insurance.md)",
    },
    {
      figure: "gas: fileClaim (default product)",
      measured: g.fileClaim,
      unit: "gas",
      ...none,
      reference: "242,745 as a deployment's first claim (docs/insurance.md)",
    },
    {
      figure: "gas: submitVerdict, 1 signature, finalising, paid in the same tx",
      measured: g.submitVerdict1,
      unit: "gas",
      ...max(g.submitVerdict1, 80_000),
      reference: "108,366 refunding the last deposit held (docs/insurance.md)",
    },
    {
      figure: "gas: submitVerdict, 3 signatures (threshold 3), paid in the same tx",
      measured: g.submitVerdict3,
      unit: "gas",
      ...none,
      reference: "124,699 refunding the last deposit held (docs/insurance.md)",
    },
    {
      figure: "gas: each extra signature = (3 sig − 1 sig) / 2",
      measured: extra,
      unit: "gas",
      ...max(extra, 8_000),
      reference: "8,173 (docs/insurance.md)",
    },
    {
      figure: "gas: batch of 20 verdicts, per claim, each paid in the same tx",
      measured: g.batchVerdictPerClaim20,
      unit: "gas",
      ...max(g.batchVerdictPerClaim20, 45_000),
      reference: "59,428 (docs/insurance.md, parametric)",
    },
    {
      figure: "gas: settle (after the appeal window: payout + deposit refund)",
      measured: g.settle,
      unit: "gas",
      ...none,
      reference: "80,473 (docs/insurance.md)",
    },
  ];
  for (const [name, f, ref] of [
    ["oracle (1 daemon)", r.oracle, true],
    ["committee (3 daemons, 2-of-3)", r.committee, false],
  ] as const) {
    out.push(
      {
        figure: `${name}: claims/s`,
        measured: f.claimsPerSecond,
        unit: "claims/s",
        ...(ref ? min(f.claimsPerSecond, 100) : none),
        reference: ref ? "30–51 (oracle/README.md, before native secp256k1)" : "",
      },
      { figure: `${name}: latency p50`, measured: f.p50Ms, unit: "ms", ...none, reference: ref ? "150–193 (oracle/README.md)" : "" },
      { figure: `${name}: latency p95`, measured: f.p95Ms, unit: "ms", ...none, reference: ref ? "234–361 (oracle/README.md)" : "" },
      { figure: `${name}: latency max`, measured: f.maxMs, unit: "ms", ...none, reference: "" },
      {
        figure: `${name}: inference per claim`,
        measured: f.inferenceMs,
        unit: "ms",
        ...none,
        reference: ref ? "0.23–0.93 (oracle/README.md)" : "",
      },
      {
        figure: `${name}: RPC calls per claim`,
        measured: f.rpcCallsPerClaim,
        unit: "calls",
        ...none,
        reference: ref ? "2.16 (oracle/README.md)" : "",
      },
    );
  }
  out.push(
    {
      figure: "gateway: verified + durably stored readings/s (embedded aedes, SQLite WAL synchronous=FULL)",
      measured: gw.readingsPerSecond,
      unit: "readings/s",
      ...min(gw.readingsPerSecond, 10_000),
      reference: "3,887 (last session's tools/bench-gateway.ts)",
    },
    {
      figure: `gateway: publish → PUBACK p50, ${fmt(lat.offeredPerSecond)} readings/s from ${fmt(lat.devices)} paced devices`,
      measured: gw.latencyP50Ms,
      unit: "ms",
      ...none,
      reference: "",
    },
    {
      figure: `gateway: publish → PUBACK p99, ${fmt(lat.offeredPerSecond)} readings/s from ${fmt(lat.devices)} paced devices`,
      measured: gw.latencyP99Ms,
      unit: "ms",
      ...max(gw.latencyP99Ms, 50),
      reference: "",
    },
    {
      figure: "gateway: verified + stored readings/s, PostgreSQL + Mosquitto (slot)",
      measured: gw.postgresMosquittoReadingsPerSecond,
      unit: "readings/s",
      ...none,
      reference: "",
    },
    {
      figure: "gateway: anchor gas per interval (slot; the anchorFleet figure above)",
      measured: gw.anchorGasPerInterval,
      unit: "gas",
      ...none,
      reference: "",
    },
    {
      figure: `gateway: anchor gas per reading (slot; ${fmt(lat.devices)} devices × 1 reading/s, 60 s interval)`,
      measured: gw.anchorGasPerReading,
      unit: "gas",
      ...none,
      reference: "",
    },
  );
  return out;
}

const NOT_MEASURED = "not measured yet";

const status = (row: Row) => (row.met === undefined ? "" : row.met ? "met" : "MISSED");

export function renderResults(r: BenchResults): { markdown: string; table: string } {
  const all = rows(r);
  const text = table([
    ["figure", "measured", "target", "status"],
    ...all.map((row) => [row.figure, row.measured ?? NOT_MEASURED, row.target, status(row)]),
  ]);
  const md: string[] = [];
  const m = r.machine;
  const s = r.notes.settings as Record<string, unknown>;
  md.push(
    "# Benchmark results",
    "",
    "Generated by `npm run bench` (`tools/bench.ts`); the same figures are in `bench/results.json`.",
    "",
    `- **Date**: ${r.date}`,
    `- **Machine**: ${m.cpuModel}, ${m.cpuCount} cores (shared with other jobs; load average at start ${m.loadAverageAtStart.join(" / ")}), ${m.memoryGiB} GiB memory, ${m.platform}`,
    `- **Node** ${m.node}; tfjs backend \`${r.notes.tfjsBackend}\`; native libsecp256k1 ${r.notes.nativeSecp256k1 ? "in use" : "NOT in use (pure-JS fallback)"}`,
    `- **Duration** ${r.notes.durationSeconds} s`,
    "",
    "## Figures against targets",
    "",
    "| figure | measured | target | status | documented before this benchmark |",
    "|---|---:|---|---|---|",
    ...all.map(
      (row) =>
        `| ${row.figure} | ${row.measured === null ? NOT_MEASURED : `${fmt(row.measured)}${row.unit === "gas" ? "" : ` ${row.unit}`}`} | ${row.target} | ${status(row) === "MISSED" ? "**missed**" : status(row)} | ${row.reference} |`,
    ),
    "",
    "## How it was measured",
    "",
    "**Gas**: whole-transaction `gasUsed` from receipts (21,000 intrinsic + calldata + execution), solc 0.8.28, optimizer",
    "200 runs, cancun, on the Ignition deployment `deployTriad` (local TestToken, committee = accounts 5, 6, 7), every",
    "operation sent through the SDK action a dApp calls (`registerDevice`, `anchorReadings`, `createListing`,",
    "`purchaseListing`, `deliverContentKey`, `buyPolicy`, `fileClaim`, `settleClaim`; verdicts with `signVerdict`).",
    "Claims are 1,000 tUSD, verdicts approve the full amount, recipients already hold tUSD, and every figure is the",
    "steady state: claims were filed before and other claims' deposits are held (a deployment's very first claim and a",
    "refund that empties the claims contract's balance cost more and less: see the notes). Verdict figures use a",
    "parametric product (the insurance tests' `PARAMETRIC_PRODUCT`: zero appeal window, no deductible, 50 tUSD",
    "deposit), so the finalising transaction also pays the claim and refunds the deposit; the 1-signature figure is",
    "measured with a 1-member committee (1 of 1; thresholds are strict majorities), the 3-signature one with 3 of 3. `buyPolicy`, `fileClaim`",
    "and `settle` use the deployment's default product (2-day appeal window, 10 tUSD deposit).",
    `Anchoring by batch size: ${Object.entries(r.notes.gasDetail.anchorBySize)
      .map(([n, gas]) => `${fmt(Number(n))} reading${n === "1" ? "" : "s"} ${fmt(gas)}`)
      .join(", ")} gas. Fleet anchoring (\`anchorFleet\`, one root per interval for readings of ${FLEET_DEVICES} devices, a fresh`,
    `(gateway, root) slot each time, URI \`triad-gw://<gateway>/anchors/<root>\`): ${Object.entries(r.notes.gasDetail.anchorFleetBySize)
      .map(([n, gas]) => `${fmt(Number(n))} reading${n === "1" ? "" : "s"} ${fmt(gas)}`)
      .join(", ")} gas.`,
    "",
    "Conditions that differ from the figures documented before: the dataset listing here names one device and one",
    `anchor (docs/market.md: two devices); the marketplace figures are its second sale — the first, on the fresh`,
    `marketplace, creates its token balance and the seller's and treasury's proceeds slots: list ${fmt(r.notes.gasDetail.firstSale.createListing)}, buy`,
    `${fmt(r.notes.gasDetail.firstSale.purchase)}, deliver ${fmt(r.notes.gasDetail.firstSale.deliverKey)}. The deployment's first claim cost ${fmt(r.notes.gasDetail.fileClaimFirstDeposit)} to file (claim counter and the claims`,
    "contract's token balance from zero), the figure docs/insurance.md reports. `buyPolicy` is below docs/insurance.md's",
    "because the treasury (the deployer) already holds tokens when the protocol fee reaches it.",
    "",
    "**Oracle**: the real daemon code path — `createOracle(...).start()` (poll loop), evidence downloaded over HTTP",
    "from `startEvidenceServer` on 127.0.0.1, reading signatures checked on the verifier's worker threads, the shipped",
    "model, verdicts signed with each member's local key and sent with `submitVerdicts`. Chain, evidence server, daemons",
    "and their worker threads share one Node process and the machine's cores. Each claim has its own insured device and",
    `an anchored \`triad.evidence/v2\` bundle: ${s.readingsPerClaim} signed AI4I readings a minute apart in the claim's window plus the`,
    "readings before and after it, in one fleet anchor of a gateway the holder authorised, made before the claim was filed",
    "(a gateway anchoring every minute would spread a window over several anchors: more anchor reads per claim). Half the",
    "claims end in a failure that persists (five readings well past a failure limit) and are approved, half are normal",
    "telemetry and are rejected as NO_FAILURE_DETECTED; every decision is checked on-chain after the run.",
    `Daemon settings: batch size ${s.batchSize}, confirmations 0 (automine), poll`,
    `interval ${s.pollIntervalMs} ms, verification workers ${s.verifyWorkers}, otherwise the defaults.`,
    `- *claims/s*: ${s.claims} claims filed before the daemons start; claims / (start → the last claim's finalising`,
    "  verdict mined). Model loading and worker start-up are excluded (they happen once per process).",
    `- *latency*: with the daemons caught up and polling, ${s.latencyClaims} more claims filed one at a time every`,
    `  ${s.latencyGapMs} ms; ClaimFiled mined → the verdict that decides the claim mined (seen by the daemon that sent it).`,
    "- *inference*: the daemons' batched model time per claim scored (`inference_seconds` sum / `inferred_claims_total`).",
    "- *RPC calls per claim*: JSON-RPC requests reaching the node during the backlog phase (all daemons together) / claims.",
    "- *committee*: three daemons with threshold 2 on the same claims (the chain is reverted to a snapshot taken after",
    "  filing); a claim counts as decided when the second signature lands. The third member's work is done anyway",
    "  and mostly refused (`refused` in the notes).",
    "",
    "| run | claims | seconds | approved / rejected | verdict txs | refused | skipped | CPU s (process) | load avg after |",
    "|---|---:|---:|---|---:|---:|---:|---:|---|",
    ...[
      ["oracle", r.notes.oracleRun],
      ["committee", r.notes.committeeRun],
    ].map(([name, d]) => {
      const x = d as OracleRunDetail;
      return `| ${name} | ${x.backlogClaims} | ${x.backlogSeconds} | ${x.approved} / ${x.rejected} | ${x.transactions} | ${x.refused} | ${x.skipped} | ${x.cpuSeconds} | ${x.loadAverage.join(" / ")} |`;
    }),
    "",
    ...gatewayMethod(r),
    "",
    ...analysis(r),
  );
  return { markdown: md.join("\n") + "\n", table: text };
}

function gatewayMethod(r: BenchResults): string[] {
  const t = r.notes.gatewayRun.throughput;
  const l = r.notes.gatewayRun.latency;
  const cpu = (c: GatewayRunDetail["throughput"]["cpuPerReading"]) =>
    c ? `${c.gatewayMainUs} / ${c.gatewayOtherThreadsUs} / ${c.devicesUs}` : "not measured (no /proc)";
  return [
    "**Gateway**: the real service as its own process (`triad-gateway run`, as in production): embedded aedes broker",
    `on 127.0.0.1, stage 1 of the verification (wire format, EIP-712 digest, libsecp256k1 recovery) on its default`,
    `${r.notes.gatewayRun.verifyWorkers} worker thread(s), its registry cache reading the in-process chain over HTTP, SQLite in a temporary`,
    "folder with WAL and synchronous=FULL, group commits; every PUBACK is written only after the reading's commit. The",
    "simulated devices run in a worker thread of the benchmark's process (tools/lib/bench-gateway-devices.ts): one",
    "MQTT 3.1.1 connection per device, QoS 1, readings signed before the clock starts, the few MQTT packets written and",
    "read directly so that the load generator takes little of the two cores. Every reading is in the database at the",
    "end (checked).",
    `- *readings/s*: ${t.devices} devices × ${t.readingsPerDevice} readings, ${t.inflightPerDevice} unacknowledged publishes per device;`,
    "  readings acknowledged / (first publish → last PUBACK). Each device's first reading (first sight: one registry",
    "  lookup) is sent and acknowledged before the clock starts.",
    `- *latency*: ${l.devices} devices publish 1 reading/s each, spread evenly over the second (${fmt(l.offeredPerSecond)} readings/s, one every`,
    `  ${(1000 / l.offeredPerSecond).toFixed(1)} ms), ${l.warmupSeconds} s warm-up then ${l.seconds} s measured: publish written → PUBACK read, in the devices' thread.`,
    "- *CPU per reading*: the gateway process's threads from /proc (its ingest thread; the others: verification",
    "  workers, V8's GC and compiler threads) and the devices' thread (`process.threadCpuUsage`), over the run.",
    "- *slots*: `postgresMosquittoReadingsPerSecond` (the throughput devices through Mosquitto into a gateway storing in",
    "  PostgreSQL, counted at the gateway: first publish → last reading committed), `anchorGasPerInterval` (the gas",
    "  part's `anchorFleet`) and `anchorGasPerReading` (that over the latency fleet's readings in the gateway's default",
    "  60 s interval) in results.json; null when not measured by this run.",
    "",
    "| run | readings | seconds | readings/s | publish → PUBACK | readings per commit | CPU µs per reading (ingest / other / devices) |",
    "|---|---:|---:|---:|---|---:|---|",
    `| throughput | ${t.readings} | ${t.seconds} | ${fmt(r.gateway.readingsPerSecond)} | p50 ${t.publishToPubackMs.p50} ms, p99 ${t.publishToPubackMs.p99} ms | ${t.meanReadingsPerTransaction} | ${cpu(t.cpuPerReading)} |`,
    `| latency | ${l.readings} | ${l.seconds} | ${fmt(l.offeredPerSecond)} offered | p50 ${l.publishToPubackMs.p50}, p90 ${l.publishToPubackMs.p90}, p99 ${l.publishToPubackMs.p99}, max ${l.publishToPubackMs.max} ms | ${l.meanReadingsPerTransaction} | ${cpu(l.cpuPerReading)} |`,
  ];
}

/** What bounds each figure that misses its target, and the throughput figures (filled in from the measurements). */
function analysis(r: BenchResults): string[] {
  const g = r.gas;
  const d = r.notes.gasDetail;
  const extra = Math.round((g.submitVerdict3 - g.submitVerdict1) / 2);
  const o = r.notes.oracleRun;
  const c = r.notes.committeeRun;
  const verdict = (met: boolean) => (met ? "met" : "**missed**");
  return [
    "## Against the targets: what bounds them",
    "",
    `### Verdict with one signature, paid in the same transaction: ${fmt(g.submitVerdict1)} gas (target ≤ 80,000: ${verdict(g.submitVerdict1 <= 80_000)})`,
    "",
    `Deciding is not what costs: the same one-signature call on the standard product (verdict recorded, payout left to`,
    `\`settle\`) is ${fmt(d.submitVerdict1Standard)} gas — 21,000 intrinsic, ~3,600 calldata, the committee call (cold account,`,
    "config, model and member slots, `ecrecover`), three claim slots read and one written, the two events the interface",
    `requires. Paying in the same transaction adds ${fmt(g.submitVerdict1 - d.submitVerdict1Standard)}: the pool call (cold account, \`CLAIMS_ROLE\``,
    "check, ledger slot read and write, `ClaimPaid`), the ERC-20 transfer to the policy holder (cold token account, two",
    "balance slots, `Transfer`), the claim deposit's refund (a second transfer), `ownerOf`, the policy's paid-out slot",
    "and `ClaimSettled`. docs/insurance.md traces both parts and puts the floor of this architecture — separate",
    "committee, pool and token contracts, a pushed ERC-20 payout, the interface's events — near 90,000: merging the pool",
    "into the claims contract would save ~6,400 and still miss, and crediting the payout for a later pull costs more (a",
    "fresh slot, 22,100) and is no longer a payout in the same transaction. Its 108,366 is the case where the refund",
    "empties the claims contract's token balance (a 4,800 gas refund); here other claims' deposits are held, as in a",
    "running deployment.",
    "",
    `### Each extra signature: ${fmt(extra)} gas (target ≤ 8,000: ${verdict(extra <= 8_000)})`,
    "",
    `(${fmt(g.submitVerdict3)} − ${fmt(g.submitVerdict1)}) / 2, thresholds 3 and 1 on the same kind of claim. Fixed per signature:`,
    "calldata 1,444 (offset word, length word, 65 bytes padded to 96), `ecrecover` 3,100, the signer's member slot (cold",
    `SLOAD) 2,100 = 6,644; the other ~${fmt(extra - 6_644)} are copying the signature into the committee call, OpenZeppelin`,
    "ECDSA's checks (length, malleable `s`), the loop and the duplicate bitmap. Closing the gap would mean forwarding raw",
    "calldata to the committee in assembly, which STYLE.md rules out.",
    "",
    `### Batch of 20 verdicts: ${fmt(g.batchVerdictPerClaim20)} gas per claim (target ≤ 45,000: ${verdict(g.batchVerdictPerClaim20 <= 45_000)})`,
    "",
    `Deciding 20 claims in one \`submitVerdicts\` costs ${fmt(d.batchVerdictPerClaim20Standard)} per claim on the standard product`,
    `(${verdict(d.batchVerdictPerClaim20Standard <= 45_000)}): batching shares the intrinsic cost and the cold accounts. The headline figure pays every claim in`,
    `the same transaction (parametric product), which adds ${fmt(g.batchVerdictPerClaim20 - d.batchVerdictPerClaim20Standard)} per entry — the payout work above minus the`,
    "cold-account costs after the first entry. The bound is the payout, not the batching.",
    "",
    `### Anchoring: ${fmt(g.anchorBatch)} gas per batch (target ≤ 60,000 whatever its size: ${verdict(g.anchorBatch <= 60_000)})`,
    "",
    `Only the Merkle root, the device's next sequence number and the anchor record are stored; the readings never reach`,
    `the chain, so 1, 256 and 1,024 readings cost the same (${Object.values(d.anchorBySize).map(fmt).join(" / ")}; the URI in the event is`,
    `the only variable part) and the cost per reading falls as 1 / n: ${g.anchorPerReading256} at 256, ${g.anchorPerReading1024} at 1,024.`,
    "",
    `### Anchor gas per interval: ${fmt(g.anchorFleet)} gas for all devices of a gateway (target ≤ 60,000 whatever the fleet size: ${verdict(g.anchorFleet <= 60_000)})`,
    "",
    "A gateway anchors every new reading of every device it serves in one `anchorFleet` per interval: one storage slot",
    "(anchor time and count) under (gateway, root) and the `FleetAnchored` event; owners and authorisations are checked",
    `when a reading is verified, not when it is anchored, so the fleet size changes nothing but the count (${Object.values(d.anchorFleetBySize).map(fmt).join(" / ")}`,
    "for 1 / 1,000 / 10,000 readings: 21,000 intrinsic, ~3,100 calldata with the 128-byte URI, 22,100 for the fresh slot,",
    "~3,300 for the event, ~1,300 for the rest).",
    "",
    `### Oracle throughput: ${r.oracle.claimsPerSecond} claims/s (target ≥ 100: ${verdict(r.oracle.claimsPerSecond >= 100)})`,
    "",
    `The bound is CPU. During the backlog the process used ${(o.cpuSeconds / o.backlogSeconds).toFixed(2)} cores for ${o.backlogSeconds} s —`,
    `${((o.cpuSeconds * 1000) / o.backlogClaims).toFixed(1)} ms of CPU per claim for the chain (it executes every claim's verdict and payout`,
    "and answers the daemon's calls), the evidence server, the daemon and its verification workers together — on 2 cores",
    `that other jobs share (load average ${r.machine.loadAverageAtStart[0]} at the start, ${o.loadAverage[0]} after the run), so the figure moves`,
    `with the machine's load from run to run: at this CPU cost 100 claims/s needs ${((o.cpuSeconds / o.backlogClaims) * 100).toFixed(2)} cores and this run got`,
    `${(o.cpuSeconds / o.backlogSeconds).toFixed(2)}. A CPU profile of a run (\`node --cpu-prof\`) shows where the daemon's share`,
    "goes: its main thread is the busiest thread — ethers' transaction, ABI and hex handling of the batch calldata (~450",
    "bytes per verdict) and of the receipts is the largest part, then the evidence downloads (`fetch`) and handing bundles",
    "to the workers — while the verification workers are mostly idle since reading signatures are recovered with",
    "libsecp256k1 (`sdk/recover.ts`;",
    `pure-JS recovery bounded the earlier 30–51 claims/s), and inference is ${r.oracle.inferenceMs} ms per claim. Two main-thread costs found`,
    "in that profile were removed on this branch: verdicts are signed with libsecp256k1 (`signDigest`) and batch receipts",
    "are filtered by topic instead of ABI-decoding every log. A daemon against a node on another machine does not pay",
    `for the chain's execution but waits for network round trips instead (${r.oracle.rpcCallsPerClaim} JSON-RPC requests per claim).`,
    "",
    `Latency (p50 ${r.oracle.p50Ms} ms, p95 ${r.oracle.p95Ms} ms) is mostly the ${String(r.notes.settings.pollIntervalMs)} ms poll interval: a claim waits for the next`,
    "poll, then one tick downloads, checks, scores, signs and submits it. On a real chain add the confirmation depth",
    "(`ORACLE_CONFIRMATIONS` blocks) and the block time.",
    "",
    `### Committee of three, threshold 2: ${r.committee.claimsPerSecond} claims/s (no target)`,
    "",
    `Three daemons in one process on the same cores: each downloads, verifies, scores, signs and submits every claim, so`,
    `the machine does three times the work (${c.cpuSeconds} CPU s against ${o.cpuSeconds}) and the rate is ${Math.round((100 * r.committee.claimsPerSecond) / r.oracle.claimsPerSecond)} % of one daemon's. The claim is`,
    `decided when the second signature lands; the third member's signature then arrives too late and is refused`,
    `(${c.refused} refused batch entries: gas spent for nothing) — the daemons check which claims are decided once per tick,`,
    `not per batch. RPC calls per claim (${r.committee.rpcCallsPerClaim}, all three daemons) are three times one daemon's. Members on`,
    "their own machines would each decide at the single-daemon rate; latency stays that of one poll and one tick.",
    "",
    ...gatewayAnalysis(r, verdict),
  ];
}

function gatewayAnalysis(r: BenchResults, verdict: (met: boolean) => string): string[] {
  const gw = r.gateway;
  const run = r.notes.gatewayRun;
  const l = run.latency;
  const c = run.throughput.cpuPerReading;
  const cores = r.machine.cpuCount;
  const pg = run.postgresMosquitto;
  const cost = c
    ? (() => {
        const total = c.gatewayMainUs + c.gatewayOtherThreadsUs + c.devicesUs;
        const gatewayUs = c.gatewayMainUs + c.gatewayOtherThreadsUs;
        return [
          `The bound is CPU, and most of it is the signature. The run spent ${fmt(total)} µs of CPU per reading: ${c.gatewayMainUs} on the`,
          "gateway's ingest thread (aedes, registry cache, schema and clock checks, SQLite group commits, PUBACKs),",
          `${c.gatewayOtherThreadsUs} on its other threads — the ${run.verifyWorkers} verification worker(s) (wire format, EIP-712 digest with three`,
          "keccak256, libsecp256k1 recovery: about 0.1 ms, 60 µs of it the recovery) and V8's GC threads — and",
          `${c.devicesUs} on the simulated devices. With the ${cores} cores to themselves the gateway and the devices could do at most`,
          `${fmt(Math.round((cores * 1e6) / total))} readings/s at this cost (${fmt(Math.round((cores * 1e6) / gatewayUs))} with the devices on another machine); this run got`,
          `${((gw.readingsPerSecond * total) / 1e6).toFixed(2)} cores of the ${cores} it shares with other jobs (load average ${r.machine.loadAverageAtStart[0]} at the start of`,
          "the benchmark), so the figure moves with the machine's load from run to run.",
        ];
      })()
    : ["The bound is CPU, and most of it is the signature (CPU per reading is not measured without /proc)."];
  return [
    `### Gateway: ${fmt(gw.readingsPerSecond)} verified + durably stored readings/s (target ≥ 10,000: ${verdict(gw.readingsPerSecond >= 10_000)})`,
    "",
    ...cost,
    "Before this branch the ingest thread did everything — about 280 µs of CPU per reading on one thread, most of it",
    "the recovery, keccak256 (ethers' hex round trips, and the address checksum recomputed five times per reading) and",
    "SQLite — which capped the gateway near 3,600 readings/s whatever the cores (3,887 measured last session). Now stage",
    "1 of the verification runs on worker threads fed in batches, the digest and the recovery work on bytes with noble's",
    "keccak, addresses are checksummed once per device (a memo), and a SQLite batch reads each device's last seq once and",
    'inserts a reading above it without a lookup (packages/gateway/README.md, "Ingest throughput"): about 30 µs per reading',
    "are left on the ingest thread. Ten thousand per second on two cores needs both of them: the recovery and the three",
    "keccak256 alone are about 90 µs per reading.",
    "",
    `### Gateway latency at ${fmt(l.offeredPerSecond)} readings/s: p99 ${fmt(gw.latencyP99Ms)} ms (target ≤ 50 ms: ${verdict(gw.latencyP99Ms <= 50)})`,
    "",
    `p50 ${l.publishToPubackMs.p50} ms, p90 ${l.publishToPubackMs.p90} ms, max ${l.publishToPubackMs.max} ms. At this load a transaction holds ${l.meanReadingsPerTransaction} readings on average:`,
    "each PUBACK waits for the verification round trip to a worker and for its own fsync'd commit (SQLite WAL,",
    "synchronous=FULL: a commit takes 0.3 ms at the median and up to ~8 ms on this disk), so the tail is the disk's and",
    `the machine's (the devices' own thread wrote its publishes up to ${l.publishLateMs.max} ms late, p99 ${l.publishLateMs.p99} ms, on the shared cores).`,
    ...(l.cpuPerReading
      ? [
          `The gateway itself needs ${((l.offeredPerSecond * (l.cpuPerReading.gatewayMainUs + l.cpuPerReading.gatewayOtherThreadsUs)) / 1e6).toFixed(2)} cores at this rate (${l.cpuPerReading.gatewayMainUs} + ${l.cpuPerReading.gatewayOtherThreadsUs} µs per reading: small`,
          "commits, one fsync and one worker round trip for every few readings): on cores of its own it has room, and here",
          "the tail follows the other jobs' load on the same two cores.",
        ]
      : []),
    "",
    pg
      ? `### PostgreSQL + Mosquitto: ${fmt(pg.readingsPerSecond)} readings/s (no target; the slot \`postgresMosquittoReadingsPerSecond\`)`
      : "### PostgreSQL + Mosquitto: not measured in this run (the slot `postgresMosquittoReadingsPerSecond`)",
    "",
    ...(pg
      ? [
          `The throughput devices again (${fmt(pg.readings)} readings), through a Mosquitto broker to a gateway subscribed with an MQTT 5`,
          "shared subscription and storing in PostgreSQL (`@triad/devkit/services`: both on this machine too), counted at the",
          `gateway (first publish → the last reading committed: ${pg.seconds} s). The gateway acknowledges each message to the broker`,
          "once it is committed but reads the next one at once, so commits group many readings; before, mqtt.js handed it one",
          "message per commit (about 170 readings/s).",
        ]
      : []),
  ];
}
