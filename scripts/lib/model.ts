import path from "node:path";
import { computeModelHash } from "../../oracle/src/model/artifacts";

/** Folder of the model the oracle ships (oracle/model). */
export const SHIPPED_MODEL_DIR = path.resolve(__dirname, "..", "..", "oracle", "model");

/**
 * The hash the deployment approves in the OracleCommittee: the shipped model's (DESIGN.md, Model hash), the same
 * figure `npm run model:hash` prints. `TRIAD_MODEL_HASH` overrides it (e.g. to approve a model trained elsewhere).
 */
export async function shippedModelHash(): Promise<string> {
  return process.env.TRIAD_MODEL_HASH || computeModelHash(SHIPPED_MODEL_DIR);
}
