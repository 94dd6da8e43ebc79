/** Worker thread of {@link FleetAnchorer}: builds one fleet tree per message, off the ingest thread. */
import { parentPort } from "node:worker_threads";
import { buildReadingTreeFast } from "@triad/sdk";

parentPort!.on("message", ({ id, digests }: { id: number; digests: string[] }) => {
  try {
    parentPort!.postMessage({ id, tree: buildReadingTreeFast(digests) });
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
