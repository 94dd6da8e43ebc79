/**
 * `npm run claim-rule [-- --policies N --episodes N --backend wasm|cpu|tfjs-node|auto --write]`
 *
 * Measures the shipped model's claim rule (packages/oracle/src/model/claim-rule.ts, docs/protocol.md §8.3) — the
 * figures of packages/oracle/MODEL.md "Claim rule" and bench/RESULTS.md:
 *
 * (a) Incident-time shopping. Honest telemetry of a normal machine (the machine simulator of @triad/device, the AI4I
 *     process with its natural failures) at one reading a minute over a 30-day policy (43,200 readings), for
 *     `--policies` machines. Every distinct claim window of the policy is tried: as `incidentAt` moves, the window's
 *     readings change only where an edge meets a reading, so the windows starting at `t − after` and `t + before + 1`
 *     for every reading time t are all of them (two per reading). A policy "can be shopped" when some window is
 *     APPROVED although the simulator's ground truth shows no failure on any reading in it. Also reported: the same
 *     with the stricter test "approved even with every failing reading scored 0" (the approval rests on no genuine
 *     failure), the share of policies with any approvable window (genuine natural failures included), and the
 *     maximum rule of triad.model/v1 (threshold, window 600/60 s) on the same telemetry for comparison.
 * (b) Recall on simulated failure episodes: heat-dissipation, power and overstrain scenarios (`--episodes` seeds
 *     each, the simulator's default drift: ramp 30, hold 30 readings), one reading a minute, `incidentAt` = the
 *     first reading whose ground truth shows the scenario's failure; also with `incidentAt` = the first reading of
 *     the held failure.
 * (c) Recall on the AI4I failure rows (data/ai4i2020/ai4i2020-train.csv, 271 failures; 80 % of them were seen in
 *     training). A row is one product, not a time series, so it is presented two ways: as a persisting condition —
 *     the row repeated once a minute, as many readings as the rule needs, the last at `incidentAt` — and as a single
 *     reading at `incidentAt`. The normal rows presented as a persisting condition give the false approvals.
 *
 * Every decision goes through the oracle's code: the windows of (a) are decided by `sustainedScore` (the function
 * `assessClaim` applies) on the model's reading scores, and a sample of them is re-decided by `assessClaims` on the
 * signed-reading values, which must agree (the script fails otherwise); (b) and (c) are `assessClaims` calls.
 * Deterministic: the same seeds, model and backend give the same figures. Progress goes to stdout; the last line is
 * one JSON object. `--write` also stores the figures in bench/results.json (`claimRule`) and bench/RESULTS.md
 * (section "Claim rule").
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { InvalidInputError, TriadError, parseAi4iCsv, scoreToBps, telemetryToValues, valuesToTelemetry, type Ai4iRow } from "@triad/sdk";
import { MachineSimulator, type Scenario, type SimulatedStep } from "@triad/device";
import {
  claimRuleThresholdBps,
  loadModel,
  sustainedScore,
  withinEnvelope,
  type BackendName,
  type ClaimAssessment,
  type ClaimInput,
  type LoadedModel,
  type RuleReading,
} from "@triad/oracle/model";
import { step, table } from "./lib/report.ts";

const REPO = path.resolve(import.meta.dirname, "..");
const DATA = path.join(REPO, "data/ai4i2020/ai4i2020-train.csv");
const BENCH = path.join(REPO, "bench");
const USAGE = "npm run claim-rule -- [--policies N] [--episodes N] [--backend auto|tfjs-node|wasm|cpu] [--write]";

const POLICY_DAYS = 30;
const INTERVAL_S = 60;
const READINGS_PER_POLICY = (POLICY_DAYS * 86_400) / INTERVAL_S; // 43,200
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const SCORE_CHUNK = 4096;
/** The maximum rule of triad.model/v1, for comparison: one reading ≥ threshold in [incidentAt − 600, incidentAt + 60]. */
const V1_WINDOW = { beforeSeconds: 600, afterSeconds: 60 };
const EPISODE_SCENARIOS = { "heat-dissipation": "HDF", power: "PWF", overstrain: "OSF" } as const;
const EPISODE_STEPS = 300;
/** Windows per policy re-decided by `assessClaims` (approved ones first, then rejected candidates, then any). */
const CROSS_CHECKS_PER_POLICY = 6;

interface Options {
  policies: number;
  episodes: number;
  backend: BackendName | "auto";
  write: boolean;
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        policies: { type: "string", default: "100" },
        episodes: { type: "string", default: "100" },
        backend: { type: "string", default: "wasm" },
        write: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new InvalidInputError(`${(e as Error).message.split("\n")[0]} (usage: ${USAGE})`);
  }
  const count = (name: string, raw: string, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidInputError(`--${name} must be a whole number from 1 to ${max}, got "${raw}"`);
    return n;
  };
  if (!["auto", "tfjs-node", "wasm", "cpu"].includes(values.backend))
    throw new InvalidInputError(`--backend must be auto, tfjs-node, wasm or cpu`);
  return {
    policies: count("policies", values.policies, 100_000),
    episodes: count("episodes", values.episodes, 100_000),
    backend: values.backend as Options["backend"],
    write: values.write,
  };
}

// ------------------------------------------------------------------------------------------------ statistics

/** Exact (Clopper–Pearson) two-sided 95 % confidence interval of a proportion k / n. */
function proportionInterval(k: number, n: number): [number, number] {
  const logChoose = (m: number) => lgamma(n + 1) - lgamma(m + 1) - lgamma(n - m + 1);
  const cdf = (p: number, upTo: number) => {
    let sum = 0;
    for (let m = 0; m <= upTo; m++) sum += Math.exp(logChoose(m) + m * Math.log(p) + (n - m) * Math.log1p(-p));
    return sum;
  };
  const solve = (f: (p: number) => number) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  const upper = k === n ? 1 : solve((p) => cdf(p, k) - 0.025); // P(X ≤ k) = 2.5 %
  const lower = k === 0 ? 0 : solve((p) => cdf(p, k - 1) - 0.975); // P(X ≥ k) = 2.5 %
  return [lower, upper];
}

/** ln Γ(x) (Lanczos, g = 7), for the binomial coefficients above. */
function lgamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

interface Share {
  count: number;
  of: number;
  share: number;
  /** Exact 95 % confidence interval. */
  ci95: [number, number];
}

function share(count: number, of: number): Share {
  const [lo, hi] = proportionInterval(count, of);
  const r = (x: number) => Number(x.toFixed(5));
  return { count, of, share: r(count / of), ci95: [r(lo), r(hi)] };
}

/** A share in per cent: one decimal, two below 1 % (so a small upper bound does not print as 0.0 %). */
const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)} %`;
const shareText = (s: Share) => `${s.count}/${s.of} = ${pct(s.share)} (95 % CI ${pct(s.ci95[0])}–${pct(s.ci95[1])})`;

// ------------------------------------------------------------------------------------------------ scoring

/** One simulated reading as the oracle sees it: decoded from its signed values, scored if inside the envelope. */
interface ScoredReading {
  timestamp: number;
  values: bigint[];
  /** null outside the telemetry envelope. */
  score: number | null;
  failure: boolean;
}

async function scoreSteps(model: LoadedModel, steps: readonly SimulatedStep[], t0: number): Promise<ScoredReading[]> {
  const out: ScoredReading[] = steps.map((s, i) => ({
    timestamp: t0 + i * INTERVAL_S,
    values: telemetryToValues(s.telemetry),
    score: null,
    failure: s.truth.failure,
  }));
  const scorable: { index: number; telemetry: ReturnType<typeof valuesToTelemetry> }[] = [];
  out.forEach((r, index) => {
    const telemetry = valuesToTelemetry(r.values);
    if (withinEnvelope(telemetry, model.metadata.envelope)) scorable.push({ index, telemetry });
  });
  for (let i = 0; i < scorable.length; i += SCORE_CHUNK) {
    const part = scorable.slice(i, i + SCORE_CHUNK);
    const scores = await model.scoreTelemetry(part.map((p) => p.telemetry));
    part.forEach((p, j) => (out[p.index].score = scores[j]));
  }
  return out;
}

/** Index of the first timestamp ≥ t (timestamps sorted). */
function lowerBound(ts: readonly number[], t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Every distinct non-empty window [lo, hi] of readings a claim with this window can have, with one incidentAt each. */
function distinctWindows(ts: readonly number[], window: { beforeSeconds: number; afterSeconds: number }) {
  const windows: { incidentAt: number; lo: number; hi: number }[] = [];
  const seen = new Set<number>();
  for (const t of ts) {
    for (const incidentAt of [t - window.afterSeconds, t + window.beforeSeconds + 1]) {
      const lo = lowerBound(ts, incidentAt - window.beforeSeconds);
      const hi = lowerBound(ts, incidentAt + window.afterSeconds + 1) - 1;
      if (hi < lo) continue;
      const key = lo * ts.length + hi;
      if (seen.has(key)) continue;
      seen.add(key);
      windows.push({ incidentAt, lo, hi });
    }
  }
  return windows;
}

const prefixCount = (flags: readonly boolean[]) => {
  const p = new Int32Array(flags.length + 1);
  flags.forEach((f, i) => (p[i + 1] = p[i] + (f ? 1 : 0)));
  return (lo: number, hi: number) => p[hi + 1] - p[lo];
};

// ------------------------------------------------------------------------------------------------ (a) shopping

interface PolicyOutcome {
  windows: number;
  approvedWindows: number;
  /** Approved windows without a ground-truth failure on any reading. */
  shoppedWindows: number;
  /** Approved even with every failing reading scored 0. */
  strictWindows: number;
  /** Maximum rule of v1: windows (600/60 s) with a reading ≥ threshold and no failure. */
  v1ShoppedWindows: number;
  v1ApprovedWindows: number;
  checks: { incidentAt: number; lo: number; hi: number; approved: boolean; scoreBps: number }[];
}

function decideWindows(readings: readonly ScoredReading[], model: LoadedModel): PolicyOutcome {
  const { window, claimRule: rule, threshold } = model.metadata;
  const ruleBps = claimRuleThresholdBps(rule);
  const ts = readings.map((r) => r.timestamp);
  const bps = readings.map((r) => (r.score === null ? -1 : scoreToBps(r.score)));
  const flagged = prefixCount(bps.map((b) => b >= ruleBps));
  const flaggedHealthy = prefixCount(bps.map((b, i) => b >= ruleBps && !readings[i].failure));
  const failures = prefixCount(readings.map((r) => r.failure));
  const ruleInput: RuleReading[] = readings.map((r) => ({ timestamp: r.timestamp, score: r.score }));
  const strictInput: RuleReading[] = readings.map((r) => ({ timestamp: r.timestamp, score: r.failure && r.score !== null ? 0 : r.score }));

  const out: PolicyOutcome = {
    windows: 0,
    approvedWindows: 0,
    shoppedWindows: 0,
    strictWindows: 0,
    v1ShoppedWindows: 0,
    v1ApprovedWindows: 0,
    checks: [],
  };
  const rejectedCandidates: PolicyOutcome["checks"] = [];
  const windows = distinctWindows(ts, window);
  for (const w of windows) {
    out.windows++;
    // Fewer than minReadings readings at the rule's score cannot hold a qualifying run: rejected without a search.
    if (flagged(w.lo, w.hi) >= rule.minReadings) {
      const decided = sustainedScore(ruleInput.slice(w.lo, w.hi + 1), rule);
      const scoreBps = scoreToBps(decided.score);
      const approved = scoreBps >= ruleBps;
      if (approved) {
        out.approvedWindows++;
        if (failures(w.lo, w.hi) === 0) out.shoppedWindows++;
        if (out.checks.length < CROSS_CHECKS_PER_POLICY / 2) out.checks.push({ ...w, approved, scoreBps });
      } else if (rejectedCandidates.length < CROSS_CHECKS_PER_POLICY) rejectedCandidates.push({ ...w, approved, scoreBps });
    }
    if (flaggedHealthy(w.lo, w.hi) >= rule.minReadings) {
      if (scoreToBps(sustainedScore(strictInput.slice(w.lo, w.hi + 1), rule).score) >= ruleBps) out.strictWindows++;
    }
  }
  // Any window, decided in full, so the fast path's "rejected without a search" is checked too.
  const any = windows[Math.floor(windows.length / 2)];
  const anyDecided = scoreToBps(sustainedScore(ruleInput.slice(any.lo, any.hi + 1), rule).score);
  out.checks.push(...rejectedCandidates.slice(0, CROSS_CHECKS_PER_POLICY - out.checks.length - 1), {
    ...any,
    approved: anyDecided >= ruleBps,
    scoreBps: anyDecided,
  });

  const v1Bps = Math.round(threshold * 10_000);
  const v1Flagged = prefixCount(bps.map((b) => b >= v1Bps));
  for (const w of distinctWindows(ts, V1_WINDOW)) {
    if (v1Flagged(w.lo, w.hi) === 0) continue;
    out.v1ApprovedWindows++;
    if (failures(w.lo, w.hi) === 0) out.v1ShoppedWindows++;
  }
  return out;
}

async function measureShopping(model: LoadedModel, policies: number) {
  let shopped = 0;
  let strict = 0;
  let approvable = 0;
  let v1Shopped = 0;
  let v1Approvable = 0;
  let windows = 0;
  let shoppedWindows = 0;
  let strictWindows = 0;
  let approvedWindows = 0;
  let crossChecked = 0;
  let naturalFailureReadings = 0;
  const started = Date.now();
  for (let p = 1; p <= policies; p++) {
    const machine = new MachineSimulator({ seed: `claim-rule/policy/${p}` });
    const steps = Array.from({ length: READINGS_PER_POLICY }, () => machine.next());
    const readings = await scoreSteps(model, steps, T0);
    naturalFailureReadings += readings.filter((r) => r.failure).length;
    const o = decideWindows(readings, model);
    windows += o.windows;
    approvedWindows += o.approvedWindows;
    shoppedWindows += o.shoppedWindows;
    strictWindows += o.strictWindows;
    if (o.shoppedWindows > 0) shopped++;
    if (o.strictWindows > 0) strict++;
    if (o.approvedWindows > 0) approvable++;
    if (o.v1ShoppedWindows > 0) v1Shopped++;
    if (o.v1ApprovedWindows > 0) v1Approvable++;
    // The oracle's own path on the signed values must decide these windows the same way.
    const claims: ClaimInput[] = o.checks.map((c) => ({
      incidentAt: c.incidentAt,
      readings: readings.slice(c.lo, c.hi + 1).map((r) => ({ timestamp: r.timestamp, values: r.values })),
    }));
    const assessed = await model.assessClaims(claims);
    assessed.forEach((a, i) => {
      const c = o.checks[i];
      if (a.approved !== c.approved || a.scoreBps !== c.scoreBps || a.readingsInWindow !== c.hi - c.lo + 1) {
        throw new TriadError(
          `the measurement and the oracle disagree: policy ${p}, incidentAt ${c.incidentAt}: assessClaims decided ${a.approved}/${a.scoreBps} bps on ${a.readingsInWindow} readings, the measurement ${c.approved}/${c.scoreBps} bps on ${c.hi - c.lo + 1}`,
          "CLAIM_RULE_MISMATCH",
        );
      }
    });
    crossChecked += assessed.length;
    if (p % 10 === 0 || p === policies) {
      const rate = (Date.now() - started) / 1000 / p;
      step(
        `(a) ${p}/${policies} policies: ${shopped} shoppable (strict ${strict}), ${approvable} with an approvable window; ~${rate.toFixed(1)} s per policy`,
      );
    }
  }
  return {
    policies,
    readingsPerPolicy: READINGS_PER_POLICY,
    readingIntervalSeconds: INTERVAL_S,
    shoppable: share(shopped, policies),
    shoppableStrict: share(strict, policies),
    approvableInclNaturalFailures: share(approvable, policies),
    naturalFailureReadingShare: Number((naturalFailureReadings / (policies * READINGS_PER_POLICY)).toFixed(5)),
    windowsTried: windows,
    approvedWindows,
    shoppedWindows,
    strictWindows,
    crossCheckedWithAssessClaims: crossChecked,
    maximumRuleV1: {
      threshold: model.metadata.threshold,
      window: V1_WINDOW,
      shoppable: share(v1Shopped, policies),
      approvableInclNaturalFailures: share(v1Approvable, policies),
    },
  };
}

// ------------------------------------------------------------------------------------------------ (b) episodes

async function measureEpisodes(model: LoadedModel, episodes: number) {
  const byScenario: Record<string, { firstFailure: Share; holdStart: Share; medianSecondsToApproval: number | null }> = {};
  let allFirst = 0;
  let allHold = 0;
  let total = 0;
  for (const [scenario, mode] of Object.entries(EPISODE_SCENARIOS) as [Exclude<Scenario, "normal">, "HDF" | "PWF" | "OSF"][]) {
    const firstClaims: ClaimInput[] = [];
    const holdClaims: ClaimInput[] = [];
    for (let seed = 1; seed <= episodes; seed++) {
      const machine = new MachineSimulator({ seed: `claim-rule/${scenario}/${seed}`, scenario });
      const steps = Array.from({ length: EPISODE_STEPS }, () => machine.next());
      const first = steps.findIndex((s) => s.truth.episode !== "none" && s.truth.modes[mode]);
      const hold = steps.findIndex((s) => s.truth.episode === "hold");
      if (first < 0) throw new TriadError(`${scenario} seed ${seed}: the episode never reached a ${mode} failure`, "SIMULATION");
      const readings = steps.map((s, i) => ({ timestamp: T0 + i * INTERVAL_S, values: telemetryToValues(s.telemetry) }));
      firstClaims.push({ readings, incidentAt: T0 + first * INTERVAL_S });
      holdClaims.push({ readings, incidentAt: T0 + hold * INTERVAL_S });
    }
    const first = await model.assessClaims(firstClaims);
    const hold = await model.assessClaims(holdClaims);
    // How long after the first failure reading the deciding run completes (the claim can be filed from then on).
    const delays = first
      .map((a: ClaimAssessment, i) =>
        a.approved && a.run ? firstClaims[i].readings[a.run.last].timestamp - firstClaims[i].incidentAt : null,
      )
      .filter((d): d is number => d !== null)
      .sort((x, y) => x - y);
    const approvedFirst = first.filter((a) => a.approved).length;
    const approvedHold = hold.filter((a) => a.approved).length;
    byScenario[scenario] = {
      firstFailure: share(approvedFirst, episodes),
      holdStart: share(approvedHold, episodes),
      medianSecondsToApproval: delays.length > 0 ? delays[Math.floor(delays.length / 2)] : null,
    };
    allFirst += approvedFirst;
    allHold += approvedHold;
    total += episodes;
    step(`(b) ${scenario}: ${shareText(byScenario[scenario].firstFailure)} approved at the first failure reading`);
  }
  return { episodesPerScenario: episodes, byScenario, firstFailure: share(allFirst, total), holdStart: share(allHold, total) };
}

// ------------------------------------------------------------------------------------------------ (c) AI4I rows

async function measureAi4i(model: LoadedModel) {
  const rows = parseAi4iCsv(readFileSync(DATA, "utf8"), DATA);
  const rule = model.metadata.claimRule;
  // The shortest run at one reading a minute that can satisfy the rule.
  const repeats = Math.max(rule.minReadings, Math.ceil(rule.minSeconds / INTERVAL_S) + 1);
  const incidentAt = T0;
  const claim = (row: Ai4iRow, n: number): ClaimInput => ({
    incidentAt,
    readings: Array.from({ length: n }, (_, i) => ({ timestamp: incidentAt - (n - 1 - i) * INTERVAL_S, values: telemetryToValues(row) })),
  });
  const assess = async (n: number) => {
    const out: ClaimAssessment[] = [];
    for (let i = 0; i < rows.length; i += 2000) out.push(...(await model.assessClaims(rows.slice(i, i + 2000).map((r) => claim(r, n)))));
    return out;
  };
  const persisting = await assess(repeats);
  const single = await assess(1);
  const v1Bps = Math.round(model.metadata.threshold * 10_000);
  const failed = rows.flatMap((r, i) => (r.failure === 1 ? [i] : []));
  const normal = rows.flatMap((r, i) => (r.failure === 0 ? [i] : []));
  const count = (idx: number[], pick: (i: number) => boolean) => idx.filter(pick).length;
  const byMode = Object.fromEntries(
    (["HDF", "PWF", "OSF", "TWF", "RNF"] as const).map((mode) => {
      const idx = failed.filter((i) => rows[i].modes[mode] === 1);
      return [
        mode,
        share(
          count(idx, (i) => persisting[i].approved),
          idx.length,
        ),
      ];
    }),
  );
  const result = {
    rows: rows.length,
    failures: failed.length,
    repeatedReadings: repeats,
    persisting: share(
      count(failed, (i) => persisting[i].approved),
      failed.length,
    ),
    persistingByMode: byMode,
    persistingFalseApprovals: share(
      count(normal, (i) => persisting[i].approved),
      normal.length,
    ),
    single: share(
      count(failed, (i) => single[i].approved),
      failed.length,
    ),
    maximumRuleV1Single: share(
      count(failed, (i) => single[i].peakScoreBps >= v1Bps),
      failed.length,
    ),
  };
  step(`(c) AI4I failures: ${shareText(result.persisting)} as a persisting condition, ${shareText(result.single)} as a single reading`);
  return result;
}

// ------------------------------------------------------------------------------------------------ report

type Figures = Awaited<ReturnType<typeof run>>;

function markdownSection(f: Figures): string {
  const a = f.shopping;
  const b = f.episodes;
  const c = f.ai4i;
  const rule = f.rule;
  const lines = [
    "## Claim rule",
    "",
    `Generated by \`npm run claim-rule -- --policies ${a.policies} --episodes ${b.episodesPerScenario} --write\` (\`tools/claim-rule.ts\`, ${f.durationSeconds} s on ${f.machine}; tfjs backend \`${f.backend}\`) on ${f.date}; the same figures are \`claimRule\` in \`bench/results.json\`. Model \`${f.modelHash}\`.`,
    "",
    `Rule (packages/oracle/MODEL.md "Claim rule", docs/protocol.md §8.3): approve when at least ${rule.minReadings} consecutive readings spanning at least ${rule.minSeconds} s, in the window [incidentAt − ${f.window.beforeSeconds} s, incidentAt + ${f.window.afterSeconds} s], all score ≥ ${rule.minScore} (claim score = the highest score such a run held).`,
    "",
    "| figure | measured | goal |",
    "|---|---|---|",
    `| (a) 30-day policies (one reading a minute, honest normal telemetry) with an incident time APPROVED although no reading of its window shows a failure | ${shareText(a.shoppable)} | ≤ 1 % |`,
    `| (a) the same, stricter: approved even with every failing reading scored 0 | ${shareText(a.shoppableStrict)} | ≤ 1 % |`,
    `| (a) policies with any approvable incident time, genuine natural failures included | ${shareText(a.approvableInclNaturalFailures)} | — |`,
    `| (a) for comparison, the maximum rule of triad.model/v1 (one reading ≥ ${a.maximumRuleV1.threshold}, window 600/60 s): shoppable | ${shareText(a.maximumRuleV1.shoppable)} | — |`,
    ...Object.entries(b.byScenario).map(
      ([s, r]) =>
        `| (b) recall, ${s} episodes, incidentAt = first failure reading (held failure) | ${shareText(r.firstFailure)} (${shareText(r.holdStart)}) | — |`,
    ),
    `| (b) recall, all episodes, incidentAt = first failure reading | ${shareText(b.firstFailure)} | — |`,
    `| (c) recall, AI4I failure rows as a persisting condition (${c.repeatedReadings} readings a minute apart) | ${shareText(c.persisting)} | — |`,
    `| (c) recall, AI4I failure rows as a single reading | ${shareText(c.single)} (maximum rule of v1: ${shareText(c.maximumRuleV1Single)}) | — |`,
    `| (c) false approvals, AI4I normal rows as a persisting condition | ${shareText(c.persistingFalseApprovals)} | — |`,
    "",
    `(a) tried every distinct window of each policy (${a.windowsTried.toLocaleString("en-US")} in all; ${a.approvedWindows.toLocaleString("en-US")} approved, ${a.shoppedWindows} of them without a failing reading); ${pct(a.naturalFailureReadingShare)} of the simulated readings show a natural failure (the simulator's AI4I process). ${a.crossCheckedWithAssessClaims} windows were re-decided by the oracle's \`assessClaims\` on the signed values, all identically. (c) by mode, persisting: ${Object.entries(
      c.persistingByMode,
    )
      .map(([m, s]) => `${m} ${s.count}/${s.of}`)
      .join(", ")} (80 % of the rows were seen in training).`,
    "",
  ];
  return lines.join("\n");
}

const BEGIN = "<!-- claim-rule:begin (tools/claim-rule.ts --write) -->";
const END = "<!-- claim-rule:end -->";

function writeBench(f: Figures): void {
  const jsonFile = path.join(BENCH, "results.json");
  const results = JSON.parse(readFileSync(jsonFile, "utf8")) as Record<string, unknown>;
  results.claimRule = f;
  writeFileSync(jsonFile, JSON.stringify(results, null, 2) + "\n");
  const mdFile = path.join(BENCH, "RESULTS.md");
  const md = readFileSync(mdFile, "utf8");
  const section = `${BEGIN}\n${markdownSection(f)}${END}\n`;
  const start = md.indexOf(BEGIN);
  const end = md.indexOf(END);
  const next = start >= 0 && end > start ? md.slice(0, start) + section + md.slice(end + END.length + 1) : `${md.trimEnd()}\n\n${section}`;
  writeFileSync(mdFile, next);
  step(`wrote bench/results.json (claimRule) and the "Claim rule" section of bench/RESULTS.md`);
}

async function run(options: Options) {
  const started = Date.now();
  const model = await loadModel(undefined, { backend: options.backend });
  const { window, claimRule } = model.metadata;
  step(
    `model ${model.modelHash} on ${model.backend}; window ${window.beforeSeconds}/${window.afterSeconds} s; rule ≥ ${claimRule.minReadings} readings over ≥ ${claimRule.minSeconds} s at ≥ ${claimRule.minScore}`,
  );
  step(
    `(a) incident-time shopping: ${options.policies} simulated 30-day policies of ${READINGS_PER_POLICY.toLocaleString("en-US")} readings`,
  );
  const shopping = await measureShopping(model, options.policies);
  step(`(b) simulated failure episodes: ${options.episodes} per scenario`);
  const episodes = await measureEpisodes(model, options.episodes);
  step("(c) AI4I failure rows");
  const ai4i = await measureAi4i(model);
  model.dispose();
  return {
    modelHash: model.modelHash,
    backend: model.backend,
    window,
    rule: claimRule,
    shopping,
    episodes,
    ai4i,
    seeds: "claim-rule/policy/<n>, claim-rule/<scenario>/<n> (MachineSimulator)",
    machine: `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}`,
    date: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const f = await run(options);
  const a = f.shopping;
  console.log(
    "\n" +
      table([
        ["figure", "measured"],
        ["(a) policies shoppable (approved window, no failing reading)", shareText(a.shoppable)],
        ["(a) strict: approved with failing readings scored 0", shareText(a.shoppableStrict)],
        ["(a) any approvable window, natural failures included", shareText(a.approvableInclNaturalFailures)],
        ["(a) maximum rule of v1: shoppable", shareText(a.maximumRuleV1.shoppable)],
        ...Object.entries(f.episodes.byScenario).map(([s, r]) => [
          `(b) ${s}: first failure reading / hold start`,
          `${shareText(r.firstFailure)} / ${pct(r.holdStart.share)}`,
        ]),
        ["(c) AI4I failures as a persisting condition", shareText(f.ai4i.persisting)],
        ["(c) AI4I failures as a single reading", shareText(f.ai4i.single)],
        ["(c) AI4I normal rows as a persisting condition (false approvals)", shareText(f.ai4i.persistingFalseApprovals)],
      ]) +
      "\n",
  );
  if (options.write) writeBench(f);
  console.log(JSON.stringify(f));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof TriadError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`}\n`);
    if (process.env.TRIAD_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ""}\n`);
    process.exit(1);
  },
);
