/**
 * The oracle's only state: the next block whose claims are not all safely done, bound to the chain it was scanned on
 * (docs/protocol.md §11.4). It is advanced only after every claim of the blocks below it has been decided, skipped
 * on purpose, or had this member's signature mined `confirmations` deep, and it is written atomically (temp file +
 * fsync + rename), so a crash at any point leaves either the old or the new checkpoint — never a torn file — and at
 * worst re-scans a range whose claims are then skipped as already decided or signed.
 *
 * The binding to the chain: the genesis block's hash, the chain id, the three contract addresses and the member, plus
 * the hashes of recently scanned blocks. A checkpoint of another genesis is the trace of a chain that was reset (a
 * restarted development node, a redeployment): it is not refused but replaced, and the deployment is scanned again
 * from its start block. The recent block hashes let the daemon notice a reorg deeper than its confirmation depth.
 * A checkpoint of the first format (no genesis, no hashes) is read as is and completed on its first write.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { TriadError } from "@triad/sdk";

/** A scanned block: its number and hash (lower case). */
export interface BlockRef {
  number: number;
  hash: string;
}

/** What a checkpoint is bound to. */
export interface ChainIdentity {
  chainId: number;
  /** Hash of block 0 (lower case). */
  genesis: string;
  claims: string;
  registry: string;
  committee: string;
  member: string;
}

export interface Checkpoint {
  /** 2 (absent: the first format, without `genesis`, `registry`, `committee` and `recent`). */
  version?: 2;
  chainId: number;
  genesis?: string;
  claims: string;
  registry?: string;
  committee?: string;
  member: string;
  /** The lowest block not yet fully processed. */
  nextBlock: number;
  /** Recently scanned blocks, oldest first (enough to cover twice the confirmation depth and a margin). */
  recent?: BlockRef[];
  updatedAt: string;
}

export class CheckpointError extends TriadError {
  override readonly name = "CheckpointError";
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, "CHECKPOINT_INVALID", details);
  }
}

export function defaultCheckpointFile(chainId: bigint | number, member: string): string {
  return path.resolve(import.meta.dirname, "..", `.checkpoint-${chainId}-${member.toLowerCase()}.json`);
}

const HASH = /^0x[0-9a-f]{64}$/;

/** Reads and validates the checkpoint file; undefined when there is none. */
export function readCheckpointFile(file: string): Checkpoint | undefined {
  if (!existsSync(file)) return undefined;
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(file, "utf8")) as Checkpoint;
  } catch {
    throw new CheckpointError(`checkpoint ${file} is not valid JSON: delete it to rescan from the start block`, { file });
  }
  if (!Number.isSafeInteger(cp.nextBlock) || cp.nextBlock < 0)
    throw new CheckpointError(`checkpoint ${file} has no valid nextBlock`, { file });
  if (cp.genesis !== undefined && !HASH.test(cp.genesis)) throw new CheckpointError(`checkpoint ${file} has no valid genesis`, { file });
  if (
    cp.recent !== undefined &&
    (!Array.isArray(cp.recent) ||
      !cp.recent.every((r) => Number.isSafeInteger(r?.number) && typeof r.hash === "string" && HASH.test(r.hash)))
  ) {
    throw new CheckpointError(`checkpoint ${file} has an invalid list of recent blocks`, { file });
  }
  return cp;
}

/**
 * How a stored checkpoint relates to the chain the daemon runs on:
 *  - `same`: this chain (or a first-format checkpoint of the same chain id, contract and member: it is trusted and
 *    its identity is completed on the next write);
 *  - `reset`: it was written on a chain with another genesis (the chain was reset): scan again from the start block;
 *  - throws {@link CheckpointError} for a checkpoint of another chain id, member, or (on this chain) other contracts:
 *    a configuration mistake, not something to repair silently.
 */
export function compareCheckpoint(file: string, cp: Checkpoint, identity: ChainIdentity): "same" | "reset" {
  const differs = (a: string | undefined, b: string) => a !== undefined && getAddress(a) !== getAddress(b);
  if (BigInt(cp.chainId) !== BigInt(identity.chainId) || differs(cp.member, identity.member)) {
    throw new CheckpointError(
      `checkpoint ${file} belongs to chain ${cp.chainId}, member ${cp.member}: use another ORACLE_CHECKPOINT_FILE`,
      { file },
    );
  }
  if (cp.genesis !== undefined && cp.genesis !== identity.genesis.toLowerCase()) return "reset";
  if (differs(cp.claims, identity.claims) || differs(cp.registry, identity.registry) || differs(cp.committee, identity.committee)) {
    throw new CheckpointError(
      `checkpoint ${file} belongs to chain ${cp.chainId}, claims ${cp.claims}, member ${cp.member}: use another ORACLE_CHECKPOINT_FILE`,
      { file },
    );
  }
  return "same";
}

/**
 * Reads the checkpoint; undefined when there is none. Refuses a checkpoint of another chain, contract or member
 * (without a genesis to compare: the first format's check).
 */
export function readCheckpoint(file: string, expect: { chainId: bigint | number; claims: string; member: string }): Checkpoint | undefined {
  const cp = readCheckpointFile(file);
  if (!cp) return undefined;
  if (
    BigInt(cp.chainId) !== BigInt(expect.chainId) ||
    getAddress(cp.claims) !== getAddress(expect.claims) ||
    getAddress(cp.member) !== getAddress(expect.member)
  ) {
    throw new CheckpointError(
      `checkpoint ${file} belongs to chain ${cp.chainId}, claims ${cp.claims}, member ${cp.member}: use another ORACLE_CHECKPOINT_FILE`,
      { file },
    );
  }
  return cp;
}

export function writeCheckpoint(file: string, checkpoint: Checkpoint): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, JSON.stringify(checkpoint, null, 2) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
