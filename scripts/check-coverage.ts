/**
 * Reads solidity-coverage's coverage.json (Istanbul format) and fails when contract line or branch coverage is
 * below the project's bar: 95 % lines, 90 % branches. Prints the figures either way.
 */
import { readFileSync } from "node:fs";

const MIN_LINES = 95;
const MIN_BRANCHES = 90;

interface FileCoverage {
  l: Record<string, number>;
  b: Record<string, number[]>;
}

const data = JSON.parse(readFileSync("coverage.json", "utf8")) as Record<string, FileCoverage>;
let lines = 0;
let linesHit = 0;
let branches = 0;
let branchesHit = 0;
for (const file of Object.values(data)) {
  for (const hits of Object.values(file.l)) {
    lines++;
    if (hits > 0) linesHit++;
  }
  for (const arms of Object.values(file.b)) {
    for (const hits of arms) {
      branches++;
      if (hits > 0) branchesHit++;
    }
  }
}
const linePct = (100 * linesHit) / Math.max(lines, 1);
const branchPct = (100 * branchesHit) / Math.max(branches, 1);
console.log(`contract coverage: lines ${linePct.toFixed(2)} % (${linesHit}/${lines}), branches ${branchPct.toFixed(2)} % (${branchesHit}/${branches})`);
if (linePct < MIN_LINES || branchPct < MIN_BRANCHES) {
  console.error(`coverage below the bar (lines >= ${MIN_LINES} %, branches >= ${MIN_BRANCHES} %)`);
  process.exitCode = 1;
}
