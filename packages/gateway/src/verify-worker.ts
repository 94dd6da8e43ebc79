/** Worker thread of {@link createEnvelopeVerifier}: runs stage 1 of the verification on one batch of messages per message. */
import { parentPort, workerData } from "node:worker_threads";
import type { TypedDataDomain } from "ethers";
// A worker has its own module graph: importing the Node entry installs native secp256k1 here too (the hot path).
import "@triad/sdk/node";
import { checkEnvelope, type Envelope } from "./verify.ts";
import type { EnvelopeBatch } from "./verify-pool.ts";

const ctx = workerData as { chainId: bigint; domain: TypedDataDomain };

parentPort!.on("message", ({ id, topics, bytes, ends }: EnvelopeBatch) => {
  const results: Envelope[] = new Array(topics.length);
  let start = 0;
  for (let i = 0; i < topics.length; i++) {
    try {
      results[i] = checkEnvelope(topics[i], bytes.subarray(start, ends[i]), ctx);
    } catch (error) {
      results[i] = { ok: false, reason: "MALFORMED", detail: String((error as Error)?.message ?? error).slice(0, 300) };
    }
    start = ends[i];
  }
  parentPort!.postMessage({ id, results });
});
parentPort!.postMessage({ ready: true });
