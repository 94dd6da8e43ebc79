/**
 * Starting a member's session: who we are on which chain, checked against the committee, and what the ticks keep
 * between them (the cursors and checkpoint, the nonce counter, the lookup caches, the verification workers). Also
 * what a chain reset does to it: {@link beginReset} and {@link completeReset}.
 */
import { getAddress } from "ethers";
import type { Logger } from "pino";
import { TriadError } from "@triad/sdk";
import { checkChainId, connectContracts, resolveAddresses, shortMessage } from "../chain.ts";
import type { ChainIdentity } from "../checkpoint.ts";
import { createVerifier, defaultVerifyWorkers, type EvidenceVerifier } from "../verifier.ts";
import type { DaemonDeps } from "./context.ts";
import { openCursor, type ChainCursor } from "./confirm.ts";
import { createLookups, type ClaimLookups } from "./lookups.ts";
import { blockHash } from "./scan.ts";
import { createSubmitter, type Submitter } from "./submit.ts";
import { createTurns, type Turns } from "./turns.ts";

/**
 * What the submitter offers beyond `submit` (docs: packages/oracle/README.md); optional so the tick works with any
 * submitter, and each use is guarded.
 */
export interface SubmitterExtras {
  pendingCount?(): number;
  oldestPendingAgeMs?(): number | undefined;
  outOfFunds?(): boolean;
  /** Re-reads the nonce from the node (after a reorg, a reset, a restart). */
  resync?(): void;
  /** Aborts waits; bounded. */
  close?(): Promise<void>;
  forgetNonce?(): void;
}

export type SessionSubmitter = Submitter & SubmitterExtras;

export interface Session {
  member: string;
  chainId: bigint;
  /** The member's bit in `VerdictSigned.signers` (read again after a reset). */
  slot: number;
  /** The daemon's logger with the member and chain bound. */
  log: Logger;
  verifier: EvidenceVerifier;
  /** The scan cursor, the checkpoint and the verdicts waiting for their depth. */
  checkpoint: ChainCursor;
  lookups: ClaimLookups;
  submitter: SessionSubmitter;
  /** The addresses came from `deployments/<chainId>.json`: a reset reads the record again. */
  fromRecord: boolean;
  /** Committee turns: the committee as last read and the verdicts held as a backup (./turns.ts). */
  turns: Turns;
  /** A reset was detected and the deployment is not (yet) there: ticks wait for it. */
  reset?: { reason: string; since: number };
}

/** Re-reads the submitter's nonce from the node (whatever version of the submitter is in use). */
export function resyncSubmitter(submitter: SessionSubmitter): void {
  if (submitter.resync) submitter.resync();
  else submitter.forgetNonce?.();
}

/** The chain identity of `member` on the chain `deps` reads, with the deployment's current addresses. */
async function chainIdentity(deps: DaemonDeps, chainId: bigint, member: string): Promise<ChainIdentity> {
  const genesis = await blockHash(deps, 0);
  if (!genesis) throw new TriadError("the RPC endpoint does not serve block 0 (the chain's genesis)", "BLOCK_NOT_FOUND", { block: 0 });
  const { claims, registry, committee } = deps.addresses;
  return { chainId: Number(chainId), genesis, claims, registry, committee, member };
}

/** Whether the configured addresses are exactly those of the deployment record (then a reset reads it again). */
function addressesFromRecord(deps: DaemonDeps, chainId: bigint): boolean {
  const configured = deps.config.addresses;
  if (configured.claims && configured.registry && configured.committee) return false;
  try {
    const { addresses } = resolveAddresses(deps.config, chainId);
    return (["claims", "registry", "committee"] as const).every((k) => getAddress(addresses[k]) === getAddress(deps.addresses[k]));
  } catch {
    return false;
  }
}

/** This member's slot, with the model's approval checked (at start, and after a reset). */
async function committeeSlot(deps: DaemonDeps, member: string): Promise<number> {
  const { rpc, contracts, model, addresses } = deps;
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
  return Number(memberSlot);
}

async function newSubmitter(deps: DaemonDeps, log: Logger, chainId: bigint): Promise<SessionSubmitter> {
  const latest = await deps.rpc.call("eth_getBlockByNumber", () => deps.provider.getBlock("latest"));
  return createSubmitter(deps, { log, blockGasLimit: latest?.gasLimit || undefined, chainId });
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
  const { config, rpc, provider, model, addresses, metrics } = deps;
  const { member } = options;
  const chainId = await checkChainId(rpc, provider, config.chainId);
  const log = options.logger.child({ member, chainId: Number(chainId) });
  options.bindLog(log);
  const slot = await committeeSlot(deps, member);
  const identity = await chainIdentity(deps, chainId, member);
  const submitter = await newSubmitter(deps, log, chainId);
  const workers = config.verifyWorkers ?? defaultVerifyWorkers();
  const verifier = createVerifier({ workers });
  let checkpoint: ChainCursor;
  try {
    await verifier.ready();
    checkpoint = openCursor(deps, identity, {
      onReplaced: (stored) => {
        metrics.reorgs.inc({ kind: "reset" });
        log.error(
          {
            storedGenesis: stored.genesis,
            genesis: identity.genesis,
            storedNextBlock: stored.nextBlock,
            startBlock: config.startBlock ?? 0,
          },
          "the checkpoint was written on another chain (its genesis differs: the chain was reset): scanning the deployment again from its start block",
        );
      },
    });
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
  return {
    member,
    chainId,
    slot,
    log,
    verifier,
    checkpoint,
    lookups: createLookups(deps),
    submitter,
    fromRecord: addressesFromRecord(deps, chainId),
    turns: createTurns(),
  };
}

/** A reset was detected: nothing of the old chain is used any more; {@link completeReset} resumes on the new one. */
export function beginReset(deps: Pick<DaemonDeps, "metrics" | "now">, session: Session, reason: string): void {
  deps.metrics.reorgs.inc({ kind: "reset" });
  session.log.error(
    { reason, nextBlock: session.checkpoint.next(), checkpoint: session.checkpoint.safe() },
    "chain reset detected: the scanned blocks are gone; waiting for the deployment, then scanning it again from its start block",
  );
  session.reset = { reason, since: deps.now() };
  session.lookups.clear();
  session.turns = createTurns(); // the held claims are of the old chain; the committee is read again
  resyncSubmitter(session.submitter);
}

/**
 * After a reset: reads the deployment record again (when the addresses came from it), and once the claims contract
 * has code, starts over on the new chain from the deployment's start block with empty caches and a fresh nonce.
 * Returns false while there is nothing deployed yet (the tick stays idle; /healthz names the problem).
 */
export async function completeReset(deps: DaemonDeps, session: Session, head: number): Promise<boolean> {
  const { rpc, provider, config } = deps;
  let startBlock = config.startBlock ?? 0;
  if (session.fromRecord) {
    try {
      const resolved = resolveAddresses(config, session.chainId);
      startBlock = resolved.startBlock ?? startBlock;
      const changed = (["claims", "registry", "committee"] as const).some((k) => resolved.addresses[k] !== deps.addresses[k]);
      if (changed) {
        session.log.warn({ ...resolved.addresses }, "the deployment record names new addresses: using them");
        deps.addresses = resolved.addresses;
        deps.contracts = connectContracts(resolved.addresses, provider);
        await session.submitter.close?.();
        session.submitter = await newSubmitter(deps, session.log, session.chainId);
      }
    } catch (error) {
      session.log.warn({ err: shortMessage(error) }, "no usable deployment record yet");
      return false;
    }
  }
  const code = await rpc.call("eth_getCode", () => provider.getCode(deps.addresses.claims));
  if (code === "0x") return false;
  session.slot = await committeeSlot(deps, session.member);
  const identity = await chainIdentity(deps, session.chainId, session.member);
  const from = startBlock <= head ? startBlock : 0;
  session.checkpoint.reset(identity, from);
  session.lookups.clear();
  session.turns = createTurns();
  resyncSubmitter(session.submitter);
  session.log.warn(
    { startBlock: from, claims: deps.addresses.claims, genesis: identity.genesis },
    "scanning the new chain's deployment from its start block",
  );
  session.reset = undefined;
  return true;
}
