/** Worker thread of {@link createVerifier}: checks one bundle per message. */
import { parentPort } from "node:worker_threads";
// A worker has its own module graph: importing the Node entry installs native secp256k1 here too (the hot path).
import "@triad/sdk/node";
import { checkEvidence, type EvidenceContext } from "./assess.ts";

parentPort!.postMessage({ ready: true });
parentPort!.on("message", ({ bytes, ctx }: { bytes: Uint8Array; ctx: EvidenceContext }) => {
  try {
    parentPort!.postMessage({ result: checkEvidence(bytes, ctx) });
  } catch (error) {
    parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
