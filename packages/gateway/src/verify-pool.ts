/**
 * Stage 1 of the verification (./verify.ts `checkEnvelope`: topic, wire format, EIP-712 digest, secp256k1 recovery)
 * off the ingest thread. It is most of a reading's CPU (about 0.1 ms with native libsecp256k1, 60 % of it the
 * recovery, most of the rest keccak256), while the ingest thread has the MQTT connections, the registry cache and the
 * store's commits to serve. Messages are handed to the workers in BATCHES — every message that arrived during one
 * turn of the event loop, at most `maxBatch` per worker message, to the worker with the fewest outstanding — with their
 * payloads packed into one transferred buffer, so a busy gateway posts a few messages per turn, not one per reading.
 *
 * Order is not this module's concern: each message gets its own promise, and the pipeline stores in arrival order
 * whatever order the verdicts come back in. A worker that dies fails its outstanding messages as UNAVAILABLE (not
 * acknowledged: the device sends them again) and is replaced; one that cannot even load is dropped, and with none
 * left stage 1 runs inline. With `workers: 0` it runs inline from the start (tests, tiny deployments).
 */
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { TypedDataDomain } from "ethers";
import type { Logger } from "pino";
import { checkEnvelope, type Envelope } from "./verify.ts";

export interface EnvelopeVerifier {
  /** Stage 1 of one message. Never rejects: a failure is an Envelope (UNAVAILABLE when a worker died or it is closed). */
  check(topic: string, payload: Uint8Array): Promise<Envelope>;
  /** Resolves once every worker has loaded (a worker loading the TypeScript sources through tsx takes a second or so). */
  ready(): Promise<void>;
  /** Stops the workers; messages still outstanding get UNAVAILABLE. */
  close(): Promise<void>;
  /** Worker threads in use (0: inline). */
  readonly workers: number;
}

/** One batch, main thread → worker: payload i is `bytes[ends[i - 1] ?? 0 .. ends[i]]`. */
export interface EnvelopeBatch {
  id: number;
  topics: string[];
  bytes: Uint8Array;
  ends: Uint32Array;
}

/**
 * Default number of verification workers: one per core, at most 4 (as the oracle's evidence verifier). The ingest
 * thread needs far less CPU per reading than stage 1 (about a quarter), so it shares a core rather than keeping one.
 */
export function defaultVerifyWorkers(): number {
  return Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
}

interface Pending {
  topic: string;
  payload: Uint8Array;
  resolve(envelope: Envelope): void;
}

interface Slot {
  worker: Worker;
  /** Messages posted to it and not answered yet. */
  outstanding: number;
  booted: Promise<void>;
}

const unavailable = (detail: string): Envelope => ({ ok: false, reason: "UNAVAILABLE", detail });

export function createEnvelopeVerifier(options: {
  workers: number;
  chainId: bigint;
  domain: TypedDataDomain;
  /** Most messages per worker message (default 256): smaller batches spread a burst over every worker sooner. */
  maxBatch?: number;
  logger?: Logger;
}): EnvelopeVerifier {
  const ctx = { chainId: options.chainId, domain: options.domain };
  if (options.workers <= 0) {
    return {
      workers: 0,
      check: async (topic, payload) => checkEnvelope(topic, payload, ctx),
      ready: async () => undefined,
      close: async () => undefined,
    };
  }
  const maxBatch = options.maxBatch ?? 256;
  const batches = new Map<number, { slot: Slot; resolvers: ((envelope: Envelope) => void)[] }>();
  let nextId = 1;
  let waiting: Pending[] = [];
  let scheduled = false;
  let closed = false;
  const slots: Slot[] = [];

  const failOutstanding = (slot: Slot, detail: string) => {
    for (const [id, batch] of batches) {
      if (batch.slot !== slot) continue;
      batches.delete(id);
      for (const resolve of batch.resolvers) resolve(unavailable(detail));
    }
    slot.outstanding = 0;
  };

  const spawn = (): Slot => {
    const worker = startWorker(ctx);
    let booted: () => void = () => undefined;
    let up = false;
    let gone = false;
    const slot: Slot = { worker, outstanding: 0, booted: new Promise<void>((resolve) => (booted = resolve)) };
    worker.on("message", (message: { ready?: true; id?: number; results?: Envelope[] }) => {
      if (message.ready) {
        up = true;
        if (slot.outstanding === 0) worker.unref(); // an idle pool must not keep the process alive
        return booted();
      }
      const batch = batches.get(message.id!);
      if (!batch) return;
      batches.delete(message.id!);
      slot.outstanding -= batch.resolvers.length;
      if (slot.outstanding === 0) worker.unref();
      const results = message.results!;
      for (let i = 0; i < batch.resolvers.length; i++) batch.resolvers[i](results[i]);
    });
    const stopped = (why: string) => {
      if (gone) return; // "error" is followed by "exit"
      gone = true;
      booted(); // a worker that fails to start must not block ready()
      failOutstanding(slot, `the verification worker stopped (${why}); retry`);
      const index = slots.indexOf(slot);
      if (closed || index < 0) return;
      if (up) {
        options.logger?.error({ err: why }, "a verification worker stopped; starting another");
        slots[index] = spawn();
      } else {
        // It could not even load: another would not either. Without workers, stage 1 runs inline.
        slots.splice(index, 1);
        options.logger?.error({ err: why, workers: slots.length }, "a verification worker failed to start");
      }
    };
    worker.on("error", (error) => stopped(error.message));
    worker.on("exit", (code) => stopped(`exit code ${code}`));
    return slot;
  };
  for (let i = 0; i < options.workers; i++) slots.push(spawn());

  const post = (slot: Slot, items: Pending[]) => {
    let size = 0;
    for (const item of items) size += item.payload.length;
    const bytes = new Uint8Array(size);
    const ends = new Uint32Array(items.length);
    const topics: string[] = new Array(items.length);
    let at = 0;
    for (let i = 0; i < items.length; i++) {
      bytes.set(items[i].payload, at);
      at += items[i].payload.length;
      ends[i] = at;
      topics[i] = items[i].topic;
    }
    const id = nextId++;
    batches.set(id, { slot, resolvers: items.map((item) => item.resolve) });
    if (slot.outstanding === 0) slot.worker.ref();
    slot.outstanding += items.length;
    const batch: EnvelopeBatch = { id, topics, bytes, ends };
    slot.worker.postMessage(batch, [bytes.buffer, ends.buffer]);
  };

  const dispatch = () => {
    scheduled = false;
    const items = waiting;
    waiting = [];
    if (slots.length === 0) {
      for (const item of items) item.resolve(checkEnvelope(item.topic, item.payload, ctx));
      return;
    }
    // Spread the turn's messages over the workers (each chunk to the least loaded), in chunks of at most maxBatch.
    const chunk = Math.min(maxBatch, Math.ceil(items.length / slots.length));
    for (let start = 0; start < items.length; start += chunk) {
      let slot = slots[0];
      for (const s of slots) if (s.outstanding < slot.outstanding) slot = s;
      post(slot, items.slice(start, start + chunk));
    }
  };

  return {
    get workers() {
      return slots.length; // fewer than asked when a worker could not load
    },
    check(topic, payload) {
      if (closed) return Promise.resolve(unavailable("the gateway is shutting down"));
      if (slots.length === 0) return Promise.resolve(checkEnvelope(topic, payload, ctx));
      return new Promise<Envelope>((resolve) => {
        waiting.push({ topic, payload, resolve });
        if (!scheduled) {
          scheduled = true;
          setImmediate(dispatch);
        }
      });
    },
    ready: async () => {
      await Promise.all(slots.map((s) => s.booted));
    },
    async close() {
      closed = true;
      for (const item of waiting.splice(0)) item.resolve(unavailable("the gateway is shutting down"));
      const stopping = slots.splice(0);
      for (const slot of stopping) failOutstanding(slot, "the gateway is shutting down");
      await Promise.all(stopping.map((s) => s.worker.terminate()));
    },
  };
}

/**
 * Starts the worker script: from TypeScript sources (tests, tsx) through tsx's ESM loader named by its resolved URL,
 * as the oracle's verifier does (a worker's `--import` resolves bare names from the working directory).
 */
function startWorker(workerData: { chainId: bigint; domain: TypedDataDomain }): Worker {
  const script = path.join(import.meta.dirname, `verify-worker${path.extname(import.meta.filename)}`);
  return script.endsWith(".ts")
    ? new Worker(script, { workerData, execArgv: ["--import", import.meta.resolve("tsx")] })
    : new Worker(script, { workerData });
}
