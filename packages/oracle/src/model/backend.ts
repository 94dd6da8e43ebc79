/**
 * TensorFlow.js backend selection (docs/protocol.md): `tfjs-node` if installed → `wasm` → `cpu`, or the one the
 * operator configured. Scores are deterministic for a given backend, but the backends round differently, so
 * committee members should run the same one to sign the same `scoreBps`.
 */
import * as path from "path";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { TriadError } from "@triad/sdk";

export type BackendName = "tfjs-node" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tfjs-node", "wasm", "cpu"];

/** tfjs registry names of our backends (tfjs-node registers itself as "tensorflow"). */
const TF_NAME: Record<BackendName, string> = { "tfjs-node": "tensorflow", wasm: "wasm", cpu: "cpu" };

let wasmPathsSet = false;
/** One selection at a time: concurrent callers must not interleave `tf.setBackend` calls. */
let pending: Promise<unknown> = Promise.resolve();

/**
 * tfjs-node is an optional dependency (its install downloads libtensorflow, which fails on many machines), so it is
 * loaded with a guarded require. Loading it registers the "tensorflow" backend.
 */
const require = createRequire(import.meta.url);

function tryLoadTfjsNode(): boolean {
  if (tf.findBackend(TF_NAME["tfjs-node"])) return true;
  try {
    require("@tensorflow/tfjs-node");
    return tf.findBackend(TF_NAME["tfjs-node"]) !== null;
  } catch {
    return false;
  }
}

/**
 * In Node the wasm backend must be told where its `.wasm` binaries are: the package's `dist/` directory (the
 * tfjs-backend-wasm README, "Using bundlers" / `setWasmPaths`). It has to happen before the backend initialises.
 */
function prepareWasm(): void {
  if (wasmPathsSet) return;
  const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
  setWasmPaths(dist + path.sep);
  wasmPathsSet = true;
}

async function activate(name: BackendName): Promise<boolean> {
  if (tf.getBackend() === TF_NAME[name]) return true;
  if (name === "tfjs-node" && !tryLoadTfjsNode()) return false;
  if (name === "wasm") prepareWasm();
  try {
    return await tf.setBackend(TF_NAME[name]);
  } catch {
    return false;
  }
}

/**
 * Makes `preferred` the active tfjs backend, or with "auto" the first available of tfjs-node, wasm, cpu, and
 * returns its name. Idempotent: calling it again (from any module of the same process) keeps the active backend if
 * it is the one asked for. A backend named explicitly that cannot start is an error, not a silent fallback.
 */
export async function selectBackend(preferred: BackendName | "auto" = "auto"): Promise<BackendName> {
  const run = pending.then(async (): Promise<BackendName> => {
    if (preferred !== "auto") {
      if (!BACKEND_NAMES.includes(preferred)) {
        throw new TriadError(`unknown tfjs backend "${String(preferred)}" (use ${BACKEND_NAMES.join(", ")} or auto)`, "MODEL_BACKEND", {
          preferred,
        });
      }
      if (!(await activate(preferred))) {
        throw new TriadError(`tfjs backend "${preferred}" is not available in this installation`, "MODEL_BACKEND", { preferred });
      }
      return preferred;
    }
    const current = activeBackend();
    // "auto" after an explicit choice keeps that choice rather than switching under other users' feet.
    if (current && tf.findBackend(TF_NAME[current])) return current;
    for (const name of BACKEND_NAMES) if (await activate(name)) return name;
    throw new TriadError("no tfjs backend could be initialised (tried tfjs-node, wasm, cpu)", "MODEL_BACKEND");
  });
  pending = run.catch(() => undefined);
  return run;
}

/** The active backend under our names, or undefined before any selection. */
export function activeBackend(): BackendName | undefined {
  let name: string;
  try {
    name = tf.getBackend();
  } catch {
    return undefined;
  }
  return BACKEND_NAMES.find((b) => TF_NAME[b] === name);
}
