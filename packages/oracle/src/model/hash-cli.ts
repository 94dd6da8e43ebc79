/**
 * `npm run model:hash [-- --model <dir>]`: prints the model hash of the artifacts (keccak256 over model.json and the
 * weight files in manifest order, docs/protocol.md §8.1) — the value the committee approves on-chain. Exits 1 with one error
 * line if the files are missing or metadata.json records a different hash.
 */
import * as path from "path";
import { TriadError } from "@triad/sdk";
import { computeModelHash, readMetadataFile } from "./artifacts.ts";
import { parseCliOptions, runCli } from "./cli.ts";
import { DEFAULT_MODEL_DIR, type ModelMetadata } from "./index.ts";

runCli(async () => {
  const args = parseCliOptions(
    process.argv.slice(2),
    { model: { type: "string", default: DEFAULT_MODEL_DIR } },
    "npm run model:hash -- [--model <dir>]",
  );
  const dir = path.resolve(String(args.model));
  const hash = await computeModelHash(dir);
  const recorded = (await readMetadataFile<ModelMetadata>(dir)).modelHash;
  if (typeof recorded !== "string" || recorded.toLowerCase() !== hash) {
    throw new TriadError(`model files in ${dir} hash to ${hash} but metadata.json says ${String(recorded)}`, "MODEL_HASH_MISMATCH");
  }
  console.log(hash);
});
