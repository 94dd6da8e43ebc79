/**
 * The coverage gate of `npm run coverage` (Hardhat 3's `hardhat test mocha --coverage` over the contract tests, then
 * `tsx tools/check-coverage.ts`): reads the LCOV report Hardhat 3's built-in coverage writes (coverage/lcov.info; an HTML report lands in
 * coverage/html/) and fails when the product contracts' coverage is below the project's bar: 95 % of lines, 90 % of
 * branches. Test-only contracts (contracts/test/) and interfaces are not product code and are left out, as
 * solidity-coverage's skipFiles did before. Prints the figures, per contract and in total, either way.
 *
 * Hardhat 3.18's coverage (EDR) instruments statements only: its lcov.info has line records (DA/LF/LH) and no
 * branch records (BRDA/BRF/BRH). The branch bar is applied whenever the report has branch data; while it has none,
 * statement coverage stands in for it (90 % of statements): the statements of each contract come from the same EDR
 * instrumentation Hardhat used (`addStatementCoverageInstrumentation`, whose tags name each statement), the executed
 * ones from the run's data Hardhat keeps in coverage/data/. The figures match the "Statement %" of Hardhat's table.
 *
 * Settings (environment): COVERAGE_LCOV, the report to read (coverage/lcov.info; its data/ folder next to it).
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { addStatementCoverageInstrumentation, latestSupportedSolidityVersion } from "@nomicfoundation/edr";

const MIN_LINES = 95;
const MIN_BRANCHES = 90;
/** The stand-in for MIN_BRANCHES while the report has no branch data. */
const MIN_STATEMENTS = 90;
/** Source paths (relative to the project root) that are not product code. */
const EXCLUDED = ["contracts/test/", "contracts/interfaces/"];

interface FileCoverage {
  file: string;
  lines: Map<number, number>;
  /** "line,block,branch" → times taken (0 when never, lcov's "-"). */
  branches: Map<string, number>;
}

/** Parses an LCOV tracefile (geninfo(1) format): SF … end_of_record sections. */
function parseLcov(text: string): FileCoverage[] {
  const files: FileCoverage[] = [];
  let current: FileCoverage | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const colon = line.indexOf(":");
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1);
    if (tag === "SF") {
      current = { file: value, lines: new Map(), branches: new Map() };
      files.push(current);
    } else if (tag === "end_of_record") {
      current = undefined;
    } else if (current && tag === "DA") {
      const [lineNo, hits] = value.split(",");
      current.lines.set(Number(lineNo), Math.max(current.lines.get(Number(lineNo)) ?? 0, Number(hits)));
    } else if (current && tag === "BRDA") {
      const [lineNo, block, branch, taken] = value.split(",");
      current.branches.set(`${lineNo},${block},${branch}`, taken === "-" ? 0 : Number(taken));
    }
  }
  return files;
}

/** Executed statement tags (hex) → times, summed over the JSON files of every run under `dir`. */
function executedTags(dir: string, into = new Map<string, number>()): Map<string, number> {
  if (!existsSync(dir)) return into;
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) executedTags(file, into);
    else if (name.endsWith(".json")) {
      for (const [tag, count] of Object.entries(JSON.parse(readFileSync(file, "utf8")) as Record<string, number>)) {
        into.set(tag, (into.get(tag) ?? 0) + count);
      }
    }
  }
  return into;
}

/** The statements of a project source as Hardhat's coverage instruments them (source name `project/<path>`). */
function statementTags(file: string): string[] {
  const { metadata } = addStatementCoverageInstrumentation(
    readFileSync(file, "utf8"),
    `project/${file.split(path.sep).join("/")}`,
    latestSupportedSolidityVersion(),
  );
  return metadata.filter((m) => m.kind === "statement").map((m) => Buffer.from(m.tag).toString("hex"));
}

const pct = (hit: number, total: number) => (100 * hit) / Math.max(total, 1);

const lcovPath = path.resolve(process.env.COVERAGE_LCOV || path.join("coverage", "lcov.info"));
if (!existsSync(lcovPath)) {
  console.error(`no coverage report at ${lcovPath}: run \`npx hardhat test mocha --coverage test/*/*.test.ts\` first`);
  process.exit(1);
}
const product = parseLcov(readFileSync(lcovPath, "utf8"))
  .filter((f) => {
    const file = f.file.split(path.sep).join("/");
    return !EXCLUDED.some((prefix) => file.startsWith(prefix) || file.includes(`/${prefix}`));
  })
  .sort((a, b) => a.file.localeCompare(b.file));
if (product.length === 0) {
  console.error(`${lcovPath} has no product contract (everything was under ${EXCLUDED.join(", ")})`);
  process.exit(1);
}

const executed = executedTags(path.join(path.dirname(lcovPath), "data"));
const total = { lines: 0, linesHit: 0, branches: 0, branchesHit: 0, statements: 0, statementsHit: 0 };
const figure = (name: string, hit: number, all: number) => `${name} ${pct(hit, all).toFixed(2)} % (${hit}/${all})`;
for (const f of product) {
  const linesHit = [...f.lines.values()].filter((hits) => hits > 0).length;
  const branchesHit = [...f.branches.values()].filter((taken) => taken > 0).length;
  const statements = statementTags(f.file);
  const statementsHit = statements.filter((tag) => (executed.get(tag) ?? 0) > 0).length;
  total.lines += f.lines.size;
  total.linesHit += linesHit;
  total.branches += f.branches.size;
  total.branchesHit += branchesHit;
  total.statements += statements.length;
  total.statementsHit += statementsHit;
  const parts = [figure("lines", linesHit, f.lines.size), figure("statements", statementsHit, statements.length)];
  if (f.branches.size > 0) parts.push(figure("branches", branchesHit, f.branches.size));
  console.log(`  ${f.file}: ${parts.join(", ")}`);
}
if (total.linesHit > 0 && total.statementsHit === 0) {
  // Lines were hit, so statements were: the tags no longer match Hardhat's (another instrumentation or data layout).
  console.error(`no executed statement of the report found in ${path.join(path.dirname(lcovPath), "data")}: cannot check coverage`);
  process.exit(1);
}
const linePct = pct(total.linesHit, total.lines);
const branchPct = pct(total.branchesHit, total.branches);
const statementPct = pct(total.statementsHit, total.statements);
const hasBranches = total.branches > 0;
console.log(
  `contract coverage: ${figure("lines", total.linesHit, total.lines)}, ` +
    (hasBranches
      ? `${figure("branches", total.branchesHit, total.branches)}, ${figure("statements", total.statementsHit, total.statements)}`
      : `${figure("statements", total.statementsHit, total.statements)} (branches: not reported by Hardhat's coverage; statements stand in)`),
);
const secondOk = hasBranches ? branchPct >= MIN_BRANCHES : statementPct >= MIN_STATEMENTS;
if (linePct < MIN_LINES || !secondOk) {
  const second = hasBranches ? `branches >= ${MIN_BRANCHES} %` : `statements >= ${MIN_STATEMENTS} % (standing in for branches)`;
  console.error(`coverage below the bar (lines >= ${MIN_LINES} %, ${second})`);
  process.exitCode = 1;
}
