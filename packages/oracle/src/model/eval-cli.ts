/**
 * `npm run model:eval -- --data <csv> [--model <dir>] [--backend auto|tfjs-node|wasm|cpu]`
 *
 * Scores every row of an AI4I 2020 CSV (original header) with the shipped model at its reading threshold, one row at a
 * time (the claim rule's persistence is measured by `npm run claim-rule`), and compares with the `Machine failure`
 * column (positive class). Prints a human summary, then one JSON line last on stdout:
 * `{"rows":N,"auc":…,"precision":…,"recall":…,"f1":…,"accuracy":…,"threshold":…}`.
 * Bad input (missing file, wrong header, a malformed row) prints one error line on stderr and exits 1.
 */
import * as path from "path";
import { parseAi4iCsv } from "@triad/sdk";
import { InvalidInputError } from "@triad/sdk";
import { BACKEND_NAMES, type BackendName } from "./backend.ts";
import { parseCliOptions, readTextFile, runCli } from "./cli.ts";
import { DEFAULT_MODEL_DIR, loadModel } from "./index.ts";
import { isPositive, metricsAt } from "./metrics.ts";

const USAGE = "npm run model:eval -- --data <csv> [--model <dir>] [--backend auto|tfjs-node|wasm|cpu]";

runCli(async () => {
  const args = parseCliOptions(
    process.argv.slice(2),
    { data: { type: "string" }, model: { type: "string", default: DEFAULT_MODEL_DIR }, backend: { type: "string", default: "auto" } },
    USAGE,
  );
  if (!args.data) throw new InvalidInputError(`--data <csv> is required (usage: ${USAGE})`);
  const backendArg = String(args.backend);
  if (backendArg !== "auto" && !BACKEND_NAMES.includes(backendArg as BackendName)) {
    throw new InvalidInputError(`--backend must be auto, ${BACKEND_NAMES.join(", ")}; got ${backendArg}`);
  }
  const dataFile = path.resolve(String(args.data));
  const rows = parseAi4iCsv(await readTextFile(dataFile, "data file"), dataFile);
  if (rows.length === 0) throw new InvalidInputError(`${dataFile} has a header but no rows`);

  const model = await loadModel(path.resolve(String(args.model)), { backend: backendArg as BackendName | "auto" });
  try {
    const started = process.hrtime.bigint();
    const scores = await model.scoreTelemetry(rows);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const labels = rows.map((r) => r.failure);
    const threshold = model.metadata.threshold;
    const m = metricsAt(scores, labels, threshold);
    const c = m.confusion;

    console.log(
      `model ${model.modelHash} on ${model.backend}, reading threshold ${threshold} (a failure when scoreBps ≥ ${Math.round(threshold * 10_000)}; claims follow the claim rule)`,
    );
    console.log(`data ${dataFile}: ${m.rows} rows, ${m.positives} failures`);
    console.log(`  ROC-AUC   ${m.auc.toFixed(4)}`);
    console.log(
      `  precision ${m.precision.toFixed(4)}   recall ${m.recall.toFixed(4)}   F1 ${m.f1.toFixed(4)}   accuracy ${m.accuracy.toFixed(4)}`,
    );
    console.log(`  confusion  TP ${c.tp}  FP ${c.fp}  FN ${c.fn}  TN ${c.tn}`);
    const byMode = (["HDF", "PWF", "OSF", "TWF", "RNF"] as const).map((mode) => {
      const failed = rows.flatMap((r, i) => (r.failure === 1 && r.modes[mode] === 1 ? [i] : []));
      return `${mode} ${failed.filter((i) => isPositive(scores[i], threshold)).length}/${failed.length}`;
    });
    console.log(`  failures caught by mode: ${byMode.join(", ")}`);
    console.log(`  scoring took ${elapsedMs.toFixed(1)} ms (${((elapsedMs * 1000) / rows.length).toFixed(1)} µs/row, one batch)`);
    const round = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(6)) : null);
    console.log(
      JSON.stringify({
        rows: m.rows,
        auc: round(m.auc),
        precision: round(m.precision),
        recall: round(m.recall),
        f1: round(m.f1),
        accuracy: round(m.accuracy),
        threshold,
      }),
    );
  } finally {
    model.dispose();
  }
});
