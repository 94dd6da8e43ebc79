/**
 * Starting a member's session: who we are on which chain, checked against the committee, and what the ticks keep
 * between them (the checkpoint, the nonce counter, the policy cache, the verification workers).
 */
import type { Logger } from "pino";
import { TriadError } from "@triad/sdk";
import { checkChainId } from "../chain.ts";
import { createVerifier, defaultVerifyWorkers, type EvidenceVerifier } from "../verifier.ts";
import type { DaemonDeps } from "./context.ts";
import { openCheckpoint, type CheckpointCursor } from "./confirm.ts";
import { createLookups, type ClaimLookups } from "./lookups.ts";
import { createSubmitter, type Submitter } from "./submit.ts";

export interface Session {
  member: string;
  chainId: bigint;
  /** The member's bit in `VerdictSigned.signers`. */
  slot: number;
  /** The daemon's logger with the member and chain bound. */
  log: Logger;
  verifier: EvidenceVerifier;
  checkpoint: CheckpointCursor;
  lookups: ClaimLookups;
  submitter: Submitter;
}

/**
 * Checks the chain id, the signer's committee membership and the model's approval, boots the verification workers
 * and reads the checkpoint. `bindLog` receives the member's logger as soon as the member and chain are known (RPC
 * retries during the checks already log with them).
 */
export async function openSession(
  deps: DaemonDeps,
  options: { member: string; logger: Logger; bindLog(log: Logger): void },
): Promise<Session> {
  const { config, rpc, provider, contracts, model, addresses } = deps;
  const { member } = options;
  const chainId = await checkChainId(rpc, provider, config.chainId);
  const log = options.logger.child({ member, chainId: Number(chainId) });
  options.bindLog(log);
  const [[isMember, memberSlot], approved] = await Promise.all([
    rpc.call("memberSlot", () => contracts.committee.memberSlot(member)),
    rpc.call("isModelApproved", () => contracts.committee.isModelApproved(model.modelHash)),
  ]);
  if (!isMember) {
    throw new TriadError(`signer ${member} is not a member of the OracleCommittee at ${addresses.committee}`, "NOT_A_MEMBER", { member });
  }
  if (!approved) {
    const message = `model ${model.modelHash} is not approved by the OracleCommittee: its verdicts would be refused`;
    throw new TriadError(message, "MODEL_NOT_APPROVED", { modelHash: model.modelHash });
  }
  const latest = await rpc.call("eth_getBlockByNumber", () => provider.getBlock("latest"));
  const submitter = createSubmitter(deps, { log, blockGasLimit: latest?.gasLimit || undefined });
  const workers = config.verifyWorkers ?? defaultVerifyWorkers();
  const verifier = createVerifier({ workers });
  let checkpoint: CheckpointCursor;
  try {
    await verifier.ready();
    checkpoint = openCheckpoint(deps, { chainId, member });
  } catch (error) {
    await verifier.close();
    throw error;
  }
  log.info(
    {
      claims: addresses.claims,
      modelHash: model.modelHash,
      backend: model.backend,
      nextBlock: checkpoint.next(),
      checkpointFile: checkpoint.file,
      batchSize: config.batchSize,
    },
    checkpoint.resumed ? "oracle resumed from checkpoint" : "oracle starting (no checkpoint)",
  );
  return { member, chainId, slot: Number(memberSlot), log, verifier, checkpoint, lookups: createLookups(deps), submitter };
}
