/**
 * The contract size gate: reads the build artifacts (artifacts/contracts/**, `deployedBytecode`, so run
 * `npx hardhat build` first), prints every deployable product contract's runtime size and its headroom to EIP-170's
 * 24,576 bytes, and exits 1 when any is above the limit (24,000 bytes unless told otherwise: a margin under EIP-170,
 * so a contract that grows towards it fails here before a deployment does).
 *
 *   npx tsx tools/contract-sizes.ts [--limit <bytes>] [--artifacts <dir>] [--include-tests]
 *
 * Left out: contracts without runtime code (interfaces, abstract contracts), libraries with internal functions only
 * (compiled into their users, never deployed) and, unless --include-tests, the test doubles of contracts/test/.
 * The initcode column is for information (EIP-3860 caps it at 49,152 bytes); only the runtime size is gated.
 * Exit codes: 0 all within the limit, 1 some contract above it, 2 usage error or no artifacts.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

/** EIP-170: the largest runtime code a contract may deploy. */
const EIP170_LIMIT = 24_576;
/** EIP-3860: the largest initcode of a creation transaction. */
const EIP3860_LIMIT = 49_152;
const DEFAULT_LIMIT = 24_000;
/** Source paths (relative to the project root) of test-only contracts. */
const TEST_SOURCES = "contracts/test/";

interface Artifact {
  contractName: string;
  sourceName: string;
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
}

interface ContractSize {
  name: string;
  source: string;
  /** Runtime (deployed) code in bytes. */
  runtime: number;
  /** Creation code in bytes (without constructor arguments). */
  initcode: number;
}

const byteLength = (hex: string) => Math.max(0, (hex.startsWith("0x") ? hex.length - 2 : hex.length) / 2);

/** A library's runtime code starts with its call guard: PUSH20 <own address> ADDRESS EQ. */
const isLibrary = (runtimeHex: string) => /^(0x)?73[0-9a-f]{40}3014/i.test(runtimeHex);

function artifactFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "build-info" ? [] : artifactFiles(full);
    // Contract artifacts only: artifacts.d.ts and *.dbg.json files are not.
    return entry.name.endsWith(".json") && !entry.name.endsWith(".dbg.json") ? [full] : [];
  });
}

/** The deployable contracts of the artifacts under `artifactsDir`, largest first. */
function readContractSizes(artifactsDir: string, options: { includeTests?: boolean } = {}): ContractSize[] {
  const sizes: ContractSize[] = [];
  for (const file of artifactFiles(artifactsDir)) {
    const artifact = JSON.parse(readFileSync(file, "utf8")) as Partial<Artifact>;
    if (typeof artifact.deployedBytecode !== "string" || typeof artifact.contractName !== "string") continue;
    const runtime = byteLength(artifact.deployedBytecode);
    if (runtime === 0) continue;
    if (isLibrary(artifact.deployedBytecode) && (artifact.abi ?? []).length === 0) continue;
    const source = artifact.sourceName ?? path.relative(artifactsDir, file);
    if (!options.includeTests && source.startsWith(TEST_SOURCES)) continue;
    sizes.push({ name: artifact.contractName, source, runtime, initcode: byteLength(artifact.bytecode ?? "") });
  }
  return sizes.sort((a, b) => b.runtime - a.runtime || a.name.localeCompare(b.name));
}

function usage(message?: string): never {
  if (message) console.error(message);
  console.error("usage: npx tsx tools/contract-sizes.ts [--limit <bytes>] [--artifacts <dir>] [--include-tests]");
  process.exit(2);
}

function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        limit: { type: "string" },
        artifacts: { type: "string" },
        "include-tests": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help) usage();
  const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit <= 0) usage(`--limit must be a positive whole number of bytes, got "${values.limit}"`);
  const root = path.resolve(import.meta.dirname, "..");
  const artifactsDir = path.resolve(values.artifacts ?? path.join(root, "artifacts", "contracts"));
  if (!existsSync(artifactsDir)) usage(`no build artifacts in ${artifactsDir}: run \`npx hardhat build\` first`);

  const sizes = readContractSizes(artifactsDir, { includeTests: values["include-tests"] });
  if (sizes.length === 0) usage(`no deployable contracts in ${artifactsDir}: run \`npx hardhat build\` first`);

  const n = (x: number) => x.toLocaleString("en-US");
  const rows = sizes.map((s) => [
    s.name,
    s.source,
    n(s.runtime),
    n(EIP170_LIMIT - s.runtime),
    `${((100 * s.runtime) / EIP170_LIMIT).toFixed(1)} %`,
    n(s.initcode),
    s.runtime > limit ? "OVER" : "ok",
  ]);
  const header = ["contract", "source", "runtime B", "headroom B", "of EIP-170", "initcode B", `<= ${n(limit)}`];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([2, 3, 4, 5]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(
    widths
      .map((w) => "-".repeat(w))
      .join("  ")
      .trimEnd(),
  );
  for (const row of rows) console.log(line(row));

  const over = sizes.filter((s) => s.runtime > limit);
  const initcodeOver = sizes.filter((s) => s.initcode > EIP3860_LIMIT);
  for (const s of initcodeOver) console.log(`note: ${s.name}'s initcode (${n(s.initcode)} B) is above EIP-3860's ${n(EIP3860_LIMIT)} B`);
  if (over.length > 0) {
    console.error(`\n${over.length} contract(s) above ${n(limit)} bytes of runtime code: ${over.map((s) => s.name).join(", ")}`);
    process.exitCode = 1;
  } else {
    console.log(`\nall ${sizes.length} contracts within ${n(limit)} bytes (EIP-170: ${n(EIP170_LIMIT)})`);
  }
}

main();
