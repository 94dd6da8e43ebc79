import { DEFAULT_MODEL_DIR, computeModelHash } from "@triad/oracle/model";

/**
 * The hash the deployment approves in the OracleCommittee: the shipped model's (docs/protocol.md, "Model hash"),
 * the same figure `npm run model:hash` prints. `TRIAD_MODEL_HASH` overrides it (e.g. to approve a model trained
 * elsewhere).
 */
export async function shippedModelHash(): Promise<string> {
  return process.env.TRIAD_MODEL_HASH || computeModelHash(DEFAULT_MODEL_DIR);
}
