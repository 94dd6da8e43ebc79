/**
 * Stage 5 of a tick, and the state between ticks: the scan cursor, the checkpoint, and the verdicts on their way to
 * their confirmation depth (docs/protocol.md §11.4).
 *
 * Two cursors. The **scan cursor** (in memory) is the next block to scan: a tick moves it past its range as soon as
 * its verdicts are mined, so the next tick scans on without waiting for their confirmations (latency ≈ the depth,
 * not twice it). The **checkpoint** (persisted, {@link ChainCursor.safe}) passes a scanned range only once every
 * verdict transaction of its claims is `confirmations` deep and still in the chain; a range without verdicts
 * (claims skipped, refused or late) is done at once, unless it holds a backup's verdict (committee turns, ./turns.ts):
 * then it waits until that claim is released (decided by others, or sent and deep enough). A verdict transaction that vanished in a reorg before its depth
 * (`shallow`) sends the scan cursor back to its range, whose claims are then undecided again and signed again.
 *
 * The cursor also keeps the hashes of recently scanned blocks (persisted with the checkpoint) and, for a while after
 * their depth, which claim blocks had verdicts in which blocks: after a reorg deeper than the depth the scan goes back
 * to the newest scanned block still in the chain, or further back to the claims whose verdicts were in the replaced
 * blocks (see ./scan.ts, `checkChain`).
 */
import {
  compareCheckpoint,
  defaultCheckpointFile,
  readCheckpointFile,
  writeCheckpoint,
  type BlockRef,
  type ChainIdentity,
  type Checkpoint,
} from "../checkpoint.ts";
import type { DaemonDeps } from "./context.ts";

/** A verdict transaction of a scanned range, mined; `claimBlock`: the block of its earliest claim. */
export interface MinedVerdict {
  hash: string;
  blockNumber: number;
  claimBlock: number;
}

/** A scanned range, its verdict transactions not yet at their depth and its claims held by this backup. */
interface Segment {
  from: number;
  to: number;
  waiting: MinedVerdict[];
  /** Claim ids (decimal) whose verdict this member holds as a backup (committee turns). */
  held: Set<string>;
}

/** Extra scanned blocks remembered beyond twice the confirmation depth. */
const RECENT_MARGIN = 16;

export type ConfirmResult =
  /** Every verdict deep enough was found in the chain (`pending`: verdicts still short of their depth). */
  | { kind: "ok"; pending: number }
  /** A verdict transaction vanished before its depth: the scan cursor is back at its range. */
  | { kind: "vanished"; tx: MinedVerdict; rescanFrom: number };

/** The member's cursors on one chain. */
export interface ChainCursor {
  readonly file: string;
  /** A checkpoint of this chain was found at start (rather than the start block). */
  readonly resumed: boolean;
  /** The checkpoint found at start was written on another chain (another genesis): it was replaced. */
  readonly replaced: boolean;
  identity(): ChainIdentity;
  /** The next block to scan. */
  next(): number;
  /** The checkpoint: the lowest block whose claims are not all safely done. */
  safe(): number;
  /** Verdict transactions mined but not yet `confirmations` deep. */
  pending(): number;
  /** Recently scanned blocks, oldest first. */
  recent(): readonly BlockRef[];
  /**
   * A tick scanned `[from, to]` (`ref`: block `to`'s hash, read before its logs) and mined `verdicts`; the scan
   * cursor moves past it, and the checkpoint too if nothing waits. `held`: claim ids of the range whose verdict this
   * member holds as a backup: the checkpoint stays below the range until each is {@link ChainCursor.release}d.
   */
  scanned(
    range: { from: number; to: number },
    ref: BlockRef,
    verdicts: readonly MinedVerdict[],
    head: number,
    held?: readonly string[],
  ): void;
  /**
   * A held claim is settled: dropped (decided by others: `verdicts` is the deciding transaction, which the checkpoint
   * waits for like for its own) or sent (`verdicts`: this member's transaction). Unknown ids are ignored (a range
   * scanned again).
   */
  release(claimId: string, verdicts: readonly MinedVerdict[]): void;
  /** Held claims the checkpoint waits for. */
  held(): number;
  /** Checks the verdicts that reached their depth at `head` and moves the checkpoint past the ranges done. */
  confirm(head: number): Promise<ConfirmResult>;
  /**
   * A reorg replaced every block above `canonical` (a scanned block still in the chain, or undefined when none is):
   * scan again from the earliest block whose claims may be affected. Returns the new scan cursor.
   */
  rewindAbove(canonical: number | undefined, fallback: number): number;
  /** Another chain or deployment: everything is forgotten; scanning starts at `startBlock`. */
  reset(identity: ChainIdentity, startBlock: number): void;
}

/**
 * Reads the member's checkpoint (refusing one of another chain id, member, or of other contracts on this chain;
 * replacing one of another genesis) or starts at `startBlock`.
 */
export function openCursor(
  deps: Pick<DaemonDeps, "config" | "metrics" | "now" | "rpc" | "provider">,
  identity: ChainIdentity,
  options: { onReplaced?: (stored: Checkpoint) => void } = {},
): ChainCursor {
  const { config, metrics, rpc, provider } = deps;
  const file = config.checkpointFile ?? defaultCheckpointFile(identity.chainId, identity.member);
  let id = identity;
  let stored = readCheckpointFile(file);
  let replaced = false;
  if (stored && compareCheckpoint(file, stored, identity) === "reset") {
    options.onReplaced?.(stored);
    replaced = true;
    stored = undefined;
  }
  let safe = stored?.nextBlock ?? config.startBlock ?? 0;
  let scan = safe;
  let recent: BlockRef[] = stored?.recent ? [...stored.recent] : [];
  let segments: Segment[] = [];
  /** Confirmed verdicts kept a while longer, for a reorg deeper than the depth. */
  let confirmed: MinedVerdict[] = [];
  const keepBlocks = 2 * config.confirmations + RECENT_MARGIN;
  metrics.checkpointBlock.set(safe);

  function persist(): void {
    const checkpoint: Checkpoint = {
      version: 2,
      chainId: id.chainId,
      genesis: id.genesis,
      claims: id.claims,
      registry: id.registry,
      committee: id.committee,
      member: id.member,
      nextBlock: safe,
      recent,
      updatedAt: new Date(deps.now()).toISOString(),
    };
    writeCheckpoint(file, checkpoint);
    metrics.checkpointBlock.set(safe);
  }

  /** Moves the checkpoint past the leading segments that wait for nothing. */
  function settle(): void {
    let moved = false;
    while (segments.length > 0 && segments[0].waiting.length === 0 && segments[0].held.size === 0) {
      safe = segments.shift()!.to + 1;
      moved = true;
    }
    if (segments.length === 0 && safe !== scan) {
      safe = scan;
      moved = true;
    }
    if (moved) persist();
  }

  function rewindTo(block: number): void {
    segments = segments.filter((s) => s.to < block);
    scan = Math.min(scan, block);
    safe = Math.min(safe, block);
    recent = recent.filter((r) => r.number < block);
    persist();
  }

  return {
    file,
    resumed: stored !== undefined,
    replaced,
    identity: () => id,
    next: () => scan,
    safe: () => safe,
    pending: () => segments.reduce((n, s) => n + s.waiting.length, 0),
    recent: () => recent,
    held: () => segments.reduce((n, s) => n + s.held.size, 0),
    scanned(range, ref, verdicts, head, held = []) {
      scan = range.to + 1;
      if (recent.at(-1)?.number !== ref.number) recent.push(ref);
      if (recent.length > keepBlocks) recent = recent.slice(-keepBlocks);
      confirmed = confirmed.filter((v) => v.blockNumber + keepBlocks >= head);
      if (config.confirmations === 0) confirmed.push(...verdicts);
      // One entry per transaction (a batch decides several claims), with its earliest claim's block.
      const byHash = new Map<string, MinedVerdict>();
      for (const v of verdicts) {
        const seen = byHash.get(v.hash);
        if (!seen || v.claimBlock < seen.claimBlock) byHash.set(v.hash, { ...v });
      }
      segments.push({
        from: range.from,
        to: range.to,
        waiting: config.confirmations === 0 ? [] : [...byHash.values()],
        held: new Set(held),
      });
      settle();
    },
    release(claimId, verdicts) {
      const segment = segments.find((s) => s.held.has(claimId));
      if (!segment) return;
      segment.held.delete(claimId);
      if (config.confirmations === 0) confirmed.push(...verdicts);
      else {
        for (const v of verdicts) if (!segment.waiting.some((w) => w.hash === v.hash)) segment.waiting.push({ ...v });
      }
      settle();
    },
    async confirm(head) {
      for (const segment of segments) {
        for (const tx of [...segment.waiting]) {
          if (tx.blockNumber + config.confirmations > head) continue;
          const receipt = await rpc.call("eth_getTransactionReceipt", () => provider.getTransactionReceipt(tx.hash));
          if (!receipt) {
            const rescanFrom = Math.min(segment.from, tx.claimBlock);
            rewindTo(rescanFrom);
            return { kind: "vanished", tx, rescanFrom };
          }
          if (receipt.blockNumber !== tx.blockNumber) {
            tx.blockNumber = receipt.blockNumber; // included again in another block: it waits for its depth there
            continue;
          }
          segment.waiting.splice(segment.waiting.indexOf(tx), 1);
          confirmed.push(tx);
        }
      }
      settle();
      return { kind: "ok", pending: segments.reduce((n, s) => n + s.waiting.length, 0) };
    },
    rewindAbove(canonical, fallback) {
      let block = canonical === undefined ? fallback : canonical + 1;
      if (canonical !== undefined) {
        // A verdict in a replaced block is gone: its claim, which may be below the fork, is scanned again.
        for (const v of [...confirmed, ...segments.flatMap((s) => s.waiting)]) {
          if (v.blockNumber > canonical) block = Math.min(block, v.claimBlock);
        }
        for (const s of segments) if (s.to >= block) block = Math.min(block, s.from);
      }
      confirmed = confirmed.filter((v) => v.claimBlock < block);
      rewindTo(block);
      return scan;
    },
    reset(identity, startBlock) {
      id = identity;
      segments = [];
      confirmed = [];
      recent = [];
      scan = startBlock;
      safe = startBlock;
      persist();
    },
  };
}
