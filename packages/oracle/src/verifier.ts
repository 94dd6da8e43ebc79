/**
 * Evidence checking off the main thread. Verifying a bundle is CPU-bound — one secp256k1 public-key recovery per
 * reading (about 1.5 ms each in pure JavaScript) and its Merkle proof — so a tick's bundles are checked by a pool of
 * worker threads while the main thread keeps serving I/O (evidence downloads, whose timeouts would otherwise fire
 * late, RPC, /healthz). What the chain says about the anchors is checked afterwards, on the main thread
 * (`checkAnchoring`: network reads, no CPU).
 * With `workers: 0` bundles are checked inline (tests, tiny deployments).
 */
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { checkEvidence, type EvidenceCheck, type EvidenceContext } from "./assess.ts";

export interface EvidenceVerifier {
  check(bytes: Uint8Array, ctx: EvidenceContext): Promise<EvidenceCheck>;
  close(): Promise<void>;
  /** Resolves once every worker has loaded (a worker loading the TypeScript sources through tsx takes a second or two). */
  ready(): Promise<void>;
  readonly workers: number;
}

/** Default pool size: one worker per available core, at most 4. */
export function defaultVerifyWorkers(): number {
  return Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
}

interface Task {
  bytes: Uint8Array;
  ctx: EvidenceContext;
  resolve(result: EvidenceCheck): void;
  reject(error: Error): void;
}

export function createVerifier(options: { workers: number }): EvidenceVerifier {
  if (options.workers <= 0) {
    return {
      workers: 0,
      check: async (bytes, ctx) => checkEvidence(bytes, ctx),
      close: async () => undefined,
      ready: async () => undefined,
    };
  }
  const queue: Task[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Task>();
  let closed = false;
  const booting: Promise<void>[] = [];

  const workers: Worker[] = [];
  const spawn = (): Worker => {
    const worker = startWorker();
    workers.push(worker);
    let booted: () => void = () => undefined;
    booting.push(new Promise<void>((resolve) => (booted = resolve)));
    worker.on("message", (message: { ready?: true; result?: EvidenceCheck; error?: string }) => {
      if (message.ready) {
        booted();
        worker.unref();
        idle.push(worker);
        pump();
        return;
      }
      const task = busy.get(worker);
      worker.unref(); // an idle worker must not keep the process alive
      busy.delete(worker);
      if (task) {
        if (message.error !== undefined) task.reject(new Error(`evidence check failed in a worker: ${message.error}`));
        else task.resolve(message.result!);
      }
      idle.push(worker);
      pump();
    });
    worker.on("error", (error) => {
      const task = busy.get(worker);
      busy.delete(worker);
      task?.reject(error);
      booted(); // a worker that fails to start must not block ready()
      if (!closed) spawn(); // replace the crashed worker (it joins `idle` once loaded)
    });
    return worker; // referenced while booting, so awaiting ready() keeps the process alive
  };

  for (let i = 0; i < options.workers; i++) spawn();

  function pump(): void {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop()!;
      const task = queue.shift()!;
      busy.set(worker, task);
      worker.ref(); // a pending check keeps the process alive
      worker.postMessage({ bytes: task.bytes, ctx: task.ctx });
    }
  }

  return {
    workers: options.workers,
    ready: async () => {
      await Promise.all(booting);
    },
    check(bytes, ctx) {
      if (closed) return Promise.reject(new Error("the evidence verifier is closed"));
      return new Promise<EvidenceCheck>((resolve, reject) => {
        queue.push({ bytes, ctx, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const task of queue.splice(0)) task.reject(new Error("the evidence verifier is closed"));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Starts the worker script. Run from TypeScript sources (tests, `npm run oracle`, bin/triad-oracle.js), the worker
 * loads them through tsx's ESM loader, as its parent does. The loader is named by its resolved URL, not as "tsx": a
 * worker's `--import` resolves bare names from the working directory, which need not be inside this repository.
 */
function startWorker(): Worker {
  const script = path.join(import.meta.dirname, `verify-worker${path.extname(import.meta.filename)}`);
  return script.endsWith(".ts") ? new Worker(script, { execArgv: ["--import", import.meta.resolve("tsx")] }) : new Worker(script);
}
