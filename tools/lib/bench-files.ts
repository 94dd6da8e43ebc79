/**
 * Writing bench/results.json and bench/RESULTS.md without losing what other tools put there. `npm run bench` rewrites
 * both files from its own figures; the figures of `npm run claim-rule -- --write` (tools/claim-rule.ts: the key
 * `claimRule` of results.json and the RESULTS.md section between `<!-- claim-rule:begin … -->` and
 * `<!-- claim-rule:end -->`) take minutes of a different run to make, so the benchmark carries them over as they are.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** What other tools write into the bench files: a key of results.json and the name of its RESULTS.md section. */
export const FOREIGN_BENCH_PARTS = [
  { key: "claimRule", section: "claim-rule" },
  { key: "latency", section: "latency" },
  { key: "webApp", section: "web-app" },
] as const;

/** The section `<!-- name:begin … -->` … `<!-- name:end -->` of `markdown` (markers included), or undefined. */
export function markdownSection(markdown: string, name: string): string | undefined {
  const begin = markdown.indexOf(`<!-- ${name}:begin`);
  const endMarker = `<!-- ${name}:end -->`;
  const end = begin < 0 ? -1 : markdown.indexOf(endMarker, begin);
  return end < 0 ? undefined : markdown.slice(begin, end + endMarker.length);
}

/**
 * The files `npm run bench` writes: `results` plus the foreign keys of the previous results.json, and `markdown`
 * followed by the foreign sections of the previous RESULTS.md (each once); `kept` names what was carried over.
 */
export function mergeBenchFiles(
  results: object,
  markdown: string,
  previous: { json?: Record<string, unknown>; markdown?: string },
): { json: string; markdown: string; kept: string[] } {
  const merged: Record<string, unknown> = { ...results };
  let md = markdown.trimEnd() + "\n";
  const kept: string[] = [];
  for (const { key, section } of FOREIGN_BENCH_PARTS) {
    if (!(key in merged) && previous.json?.[key] !== undefined) {
      merged[key] = previous.json[key];
      kept.push(`results.json ${key}`);
    }
    const old = previous.markdown === undefined ? undefined : markdownSection(previous.markdown, section);
    if (old !== undefined && markdownSection(md, section) === undefined) {
      md += `\n${old}\n`;
      kept.push(`RESULTS.md section ${section}`);
    }
  }
  return { json: JSON.stringify(merged, null, 2) + "\n", markdown: md, kept };
}

/**
 * Writes results.json and RESULTS.md into `outDir`, keeping the foreign parts of the files it replaces (a previous
 * results.json that is not a JSON object has nothing to keep). Returns what it kept.
 */
export function writeBenchFiles(outDir: string, results: object, markdown: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const jsonFile = path.join(outDir, "results.json");
  const mdFile = path.join(outDir, "RESULTS.md");
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : undefined);
  let previousJson: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(read(jsonFile) ?? "null");
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) previousJson = parsed as Record<string, unknown>;
  } catch {
    previousJson = undefined;
  }
  const merged = mergeBenchFiles(results, markdown, { json: previousJson, markdown: read(mdFile) });
  writeFileSync(jsonFile, merged.json);
  writeFileSync(mdFile, merged.markdown);
  return merged.kept;
}
