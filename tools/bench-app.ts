/**
 * The web app's figures (`npx tsx tools/bench-app.ts`), written to the "Web app" section of bench/RESULTS.md (between
 * `<!-- web-app:begin … -->` and `<!-- web-app:end -->`) and the key `webApp` of bench/results.json:
 *
 * 1. Bundle: the production build (`vite build apps/web` → apps/web/dist, with Vite's manifest), then the initial
 *    JavaScript — the entry chunk and every chunk it imports statically, i.e. what the browser must load before the
 *    first screen; lazy routes are not in it — gzipped (zlib level 9, as a static host compresses) against the
 *    issue's goal of 300 KB. Every chunk's size is listed too.
 * 2. Load → first chart: the local stack of `npm run app` (apps/web/scripts/stack.ts: hardhat node, deployment,
 *    gateway with simulated devices, oracle committee) serving that build; Debian's Chromium (headless, a fresh
 *    profile per run, so every run is a cold load) opens a device's page and the time is read in the page: from
 *    navigation start (`performance.timeOrigin`) to the first moment the telemetry chart holds a line with points
 *    (a MutationObserver installed before the app's scripts run). The median and the spread of RUNS runs.
 *
 * Options: `--runs <n>` (default 5), `--no-chart` (the bundle only), `--no-write` (print only).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { build, type Manifest } from "vite";

const ROOT = path.resolve(import.meta.dirname, "..");
const APP = path.join(ROOT, "apps/web");
const DIST = path.join(APP, "dist");
const BENCH = path.join(ROOT, "bench");
const GOAL_BYTES = 300 * 1024;

const step = (message: string) => console.log(`[bench-app] ${message}`);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const gz = (bytes: Buffer) => gzipSync(bytes, { level: 9 }).length;

export interface BundleFigures {
  initialJs: { files: string[]; bytes: number; gzipBytes: number };
  initialCss: { files: string[]; bytes: number; gzipBytes: number };
  allJs: { chunks: number; bytes: number; gzipBytes: number };
  largestLazyChunks: { file: string; gzipBytes: number }[];
  goalGzipBytes: number;
  met: boolean;
}

/** Builds the app into apps/web/dist and measures its initial JavaScript from Vite's manifest. */
export async function measureBundle(): Promise<BundleFigures> {
  step("building apps/web (vite build, production)…");
  await build({
    configFile: path.join(APP, "vite.config.ts"),
    root: APP,
    logLevel: "warn",
    build: { manifest: true, outDir: DIST, emptyOutDir: true },
  });
  const manifest = JSON.parse(readFileSync(path.join(DIST, ".vite/manifest.json"), "utf8")) as Manifest;
  const entries = Object.entries(manifest).filter(([, chunk]) => chunk.isEntry);
  if (entries.length === 0) throw new Error("the build's manifest names no entry chunk");
  // The entry chunks and, transitively, the chunks they import statically: what loads before the first screen.
  const initial = new Set<string>();
  const css = new Set<string>();
  const visit = (key: string) => {
    if (initial.has(key)) return;
    initial.add(key);
    const chunk = manifest[key]!;
    for (const file of chunk.css ?? []) css.add(file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  for (const [key] of entries) visit(key);
  const sizeOf = (files: string[]) => {
    const contents = files.map((f) => readFileSync(path.join(DIST, f)));
    return { files, bytes: contents.reduce((n, b) => n + b.length, 0), gzipBytes: contents.reduce((n, b) => n + gz(b), 0) };
  };
  const initialJs = sizeOf([...initial].map((k) => manifest[k]!.file));
  const initialCss = sizeOf([...css]);
  const assets = path.join(DIST, "assets");
  const jsFiles = readdirSync(assets)
    .filter((f) => f.endsWith(".js"))
    .map((f) => `assets/${f}`);
  const all = sizeOf(jsFiles);
  const largestLazyChunks = jsFiles
    .filter((f) => !initialJs.files.includes(f))
    .map((file) => ({ file, gzipBytes: gz(readFileSync(path.join(DIST, file))) }))
    .sort((a, b) => b.gzipBytes - a.gzipBytes)
    .slice(0, 5);
  return {
    initialJs,
    initialCss,
    allJs: { chunks: jsFiles.length, bytes: all.bytes, gzipBytes: all.gzipBytes },
    largestLazyChunks,
    goalGzipBytes: GOAL_BYTES,
    met: initialJs.gzipBytes <= GOAL_BYTES,
  };
}

// ------------------------------------------------------------------ load → first chart

const IGNITION_JOURNAL = path.join(ROOT, "packages/devkit/ignition/deployments/chain-31337");
const CHROMIUM = process.env.TRIAD_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-gpu",
  "--disable-sync",
  "--no-first-run",
];

export interface ChartFigures {
  runs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** What was opened and what counted as "the first chart". */
  page: string;
  served: string;
}

/**
 * Runs once in the page before its scripts: records `performance.now()` (ms since navigation start) when an element
 * with `data-points` > 0 (lib/Chart.tsx's `<figure data-points>`) first appears.
 */
const OBSERVE_FIRST_CHART = `(() => {
  const w = window;
  const check = () => {
    if (w.__firstChartMs !== undefined) return;
    for (const el of document.querySelectorAll("[data-points]")) {
      if (Number(el.getAttribute("data-points")) > 0) { w.__firstChartMs = performance.now(); observer.disconnect(); return; }
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-points"] });
})();`;

/** Load → first chart on the local stack serving the production build, `runs` cold loads in fresh profiles. */
export async function measureFirstChart(runs: number): Promise<ChartFigures> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not installed at ${CHROMIUM}: install Debian's package with \`apt-get install chromium\``);
  const { chromium } = await import("playwright-core");
  const { startAppStack } = await import("../apps/web/scripts/stack.ts");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "triad-bench-app-"));
  // `npm run deploy` keeps its Ignition journal in the project: set aside one that someone's own node may use.
  const backup = existsSync(IGNITION_JOURNAL) ? `${IGNITION_JOURNAL}.bench-app-${process.pid}` : undefined;
  if (backup) renameSync(IGNITION_JOURNAL, backup);
  step("starting the local stack (hardhat node, deployment, gateway, simulated devices; the built app)…");
  const stack = await startAppStack({
    freshChain: true,
    deploymentsDir: path.join(tmp, "deployments"),
    workDir: path.join(tmp, "work"),
    appPort: 0,
    serve: "static",
    oracle: false,
    readingIntervalMs: 2000,
    logLevel: "error",
  }).catch((error: unknown) => {
    rmSync(IGNITION_JOURNAL, { recursive: true, force: true });
    if (backup) renameSync(backup, IGNITION_JOURNAL);
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  });
  try {
    const device = stack.devices.find((d) => d.scenario !== "archive")!;
    // The chart needs readings: wait until the gateway holds a few of the device's, as it would in use.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await fetch(`${stack.gatewayUrl}/v1/devices/${device.address}`).catch(() => undefined);
      const body = res?.ok ? ((await res.json()) as { readings?: number }) : undefined;
      if ((body?.readings ?? 0) >= 3) break;
      if (Date.now() > deadline) throw new Error(`the gateway has no readings of ${device.address} after 120 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const url = `${stack.appUrl!.replace(/\/$/, "")}/#/devices/${device.address}`;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const profile = mkdtempSync(path.join(os.tmpdir(), "triad-bench-chromium-"));
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      try {
        const page = await context.newPage();
        await page.addInitScript({ content: OBSERVE_FIRST_CHART });
        await page.goto(url);
        const handle = await page.waitForFunction(() => (window as unknown as { __firstChartMs?: number }).__firstChartMs, undefined, {
          timeout: 120_000,
          polling: 100,
        });
        const ms = Number(await handle.jsonValue());
        times.push(Math.round(ms));
        step(`run ${i + 1}/${runs}: first chart after ${Math.round(ms)} ms`);
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      runs: times,
      medianMs: sorted[Math.floor(sorted.length / 2)]!,
      minMs: sorted[0]!,
      maxMs: sorted[sorted.length - 1]!,
      page: "#/devices/<simulated device> (its live telemetry chart, readings from the gateway)",
      served: "apps/web/dist (vite build) served by the stack's static server on 127.0.0.1",
    };
  } finally {
    await stack.stop();
    rmSync(IGNITION_JOURNAL, { recursive: true, force: true });
    if (backup) renameSync(backup, IGNITION_JOURNAL);
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ report

const BEGIN = "<!-- web-app:begin (tools/bench-app.ts) -->";
const END = "<!-- web-app:end -->";

function markdown(bundle: BundleFigures, chart: ChartFigures | undefined, machine: string, date: string): string {
  const lines = [
    BEGIN,
    "## Web app",
    "",
    `Generated by \`npx tsx tools/bench-app.ts\` on ${date}; ${machine}.`,
    "",
    "| figure | measured | goal | status |",
    "|---|---:|---|---|",
    `| initial JavaScript, gzipped (entry + its static imports: ${bundle.initialJs.files.length} file${bundle.initialJs.files.length === 1 ? "" : "s"}) | ${kb(bundle.initialJs.gzipBytes)} (${kb(bundle.initialJs.bytes)} raw) | ≤ 300 KB | ${bundle.met ? "met" : "**missed**"} |`,
    `| initial CSS, gzipped | ${kb(bundle.initialCss.gzipBytes)} | — | |`,
    `| all JavaScript, gzipped (${bundle.allJs.chunks} chunks, lazy routes included) | ${kb(bundle.allJs.gzipBytes)} | — | |`,
    chart
      ? `| load → first chart (median of ${chart.runs.length} cold loads; min ${chart.minMs} ms, max ${chart.maxMs} ms) | ${chart.medianMs} ms | — | |`
      : "| load → first chart | not measured (--no-chart) | — | |",
    "",
    `Largest lazy chunks (gzipped): ${bundle.largestLazyChunks.map((c) => `\`${path.basename(c.file)}\` ${kb(c.gzipBytes)}`).join(", ")}.`,
    "",
    "How: `vite build` of apps/web with Vite's manifest; the initial JavaScript is the entry chunk and every chunk it",
    "imports statically (what loads before the first screen; each route is a lazy chunk), each file gzipped at level 9.",
    chart
      ? `The time: the local stack of \`npm run app\` (fresh hardhat node, deployment, gateway with simulated devices publishing every 2 s; no oracle) serving the production build; Debian's Chromium, headless, a fresh profile for each run (cold cache), opens ${chart.page}; the page records \`performance.now()\` (from navigation start) when the first chart holds points (a MutationObserver on \`[data-points]\`). Runs: ${chart.runs.join(", ")} ms.`
      : "",
    END,
    "",
  ];
  return lines.filter((l, i, all) => !(l === "" && all[i - 1] === "")).join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf("--runs");
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs needs a whole number of runs, at least 1");
  const write = !args.includes("--no-write");
  const bundle = await measureBundle();
  step(
    `initial JS: ${kb(bundle.initialJs.gzipBytes)} gzipped (${bundle.initialJs.files.join(", ")}); goal 300 KB: ${bundle.met ? "met" : "MISSED"}`,
  );
  const chart = args.includes("--no-chart") ? undefined : await measureFirstChart(runs);
  if (chart) step(`load → first chart: median ${chart.medianMs} ms (${chart.runs.join(", ")})`);
  const date = new Date().toISOString();
  const machine = `${os.cpus()[0]?.model.split(" ").slice(0, 2).join(" ") ?? "cpu"}, ${os.cpus().length} cores (shared; load average at end ${os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(" / ")}), Node ${process.version}`;
  const section = markdown(bundle, chart, machine, date);
  if (!write) {
    console.log(section);
    return;
  }
  const mdFile = path.join(BENCH, "RESULTS.md");
  const md = readFileSync(mdFile, "utf8");
  const start = md.indexOf(BEGIN);
  const end = md.indexOf(END);
  const next = start >= 0 && end > start ? md.slice(0, start) + section + md.slice(end + END.length + 1) : `${md.trimEnd()}\n\n${section}`;
  writeFileSync(mdFile, next);
  const jsonFile = path.join(BENCH, "results.json");
  const results = JSON.parse(readFileSync(jsonFile, "utf8")) as Record<string, unknown>;
  results.webApp = { date, machine, bundle, chart };
  writeFileSync(jsonFile, JSON.stringify(results, null, 2) + "\n");
  step("wrote the Web app section of bench/RESULTS.md and webApp in bench/results.json");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main().catch((error: unknown) => {
    console.error(`bench-app failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
