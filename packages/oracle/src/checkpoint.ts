/**
 * The oracle's only state: the next block to scan for ClaimFiled events. It is advanced only after every claim of
 * the scanned range has been decided, skipped on purpose, or had this member's signature mined, and it is written
 * atomically (temp file + fsync + rename), so a crash at any point leaves either the old or the new checkpoint —
 * never a torn file — and at worst re-scans a range whose claims are then skipped as already decided or signed.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { TriadError } from "@triad/sdk";

export interface Checkpoint {
  chainId: number;
  claims: string;
  member: string;
  /** The lowest block not yet fully processed. */
  nextBlock: number;
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

/** Reads the checkpoint; undefined when there is none. Refuses a checkpoint of another chain, contract or member. */
export function readCheckpoint(file: string, expect: { chainId: bigint | number; claims: string; member: string }): Checkpoint | undefined {
  if (!existsSync(file)) return undefined;
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(file, "utf8")) as Checkpoint;
  } catch {
    throw new CheckpointError(`checkpoint ${file} is not valid JSON: delete it to rescan from the start block`, { file });
  }
  if (!Number.isSafeInteger(cp.nextBlock) || cp.nextBlock < 0)
    throw new CheckpointError(`checkpoint ${file} has no valid nextBlock`, { file });
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
