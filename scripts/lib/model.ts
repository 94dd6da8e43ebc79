import { TriadError } from "../../sdk";

/** The hash of the model shipped in oracle/model (DESIGN.md: keccak256 of model.json and its weight files). */
export async function shippedModelHash(): Promise<string> {
  if (process.env.TRIAD_MODEL_HASH) return process.env.TRIAD_MODEL_HASH;
  throw new TriadError("no model to approve yet: set TRIAD_MODEL_HASH", "NO_MODEL");
}
