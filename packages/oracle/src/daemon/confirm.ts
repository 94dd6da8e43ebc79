/**
 * Stage 5 of a tick: the checkpoint moves past the scanned range only when that is safe.
 *  - {@link awaitConfirmations}: the checkpoint may only pass claims whose verdicts are as final as the claims
 *    themselves. A verdict transaction is mined at the head, so a reorg shallower than the confirmation depth can
 *    drop it (a node does not always re-include it), which would leave the claim Filed behind the checkpoint. So the
 *    tick's verdict transactions must be `confirmations` blocks deep and still in the chain; if one vanished, the
 *    tick fails and is re-scanned from the checkpoint (its claims are then undecided again and signed again).
 *  - {@link openCheckpoint}: the next block to scan, read at start and written atomically when a tick completes.
 */
import type { Checkpoint } from "../checkpoint.ts";
import { defaultCheckpointFile, readCheckpoint, writeCheckpoint } from "../checkpoint.ts";
import type { DaemonDeps } from "./context.ts";
import type { MinedTransaction } from "./submit.ts";

export type ConfirmResult =
  /** Every transaction is deep enough and still in the chain (`head`: the latest head read, if any was). */
  | { kind: "confirmed"; head?: number }
  /** A transaction vanished from the chain. */
  | { kind: "reorged"; tx: MinedTransaction }
  /** Shutdown while waiting: the tick is abandoned (re-scanned on restart, which is idempotent). */
  | { kind: "abandoned" };

export async function awaitConfirmations(
  deps: Pick<DaemonDeps, "config" | "rpc" | "provider">,
  mined: readonly MinedTransaction[],
  control: { stopping(): boolean; observeHead(head: number): void },
): Promise<ConfirmResult> {
  const { config, rpc, provider } = deps;
  if (config.confirmations === 0 || mined.length === 0) return { kind: "confirmed" };
  const target = Math.max(...mined.map((t) => t.blockNumber)) + config.confirmations;
  let head: number;
  for (;;) {
    head = await rpc.call("eth_blockNumber", () => provider.getBlockNumber());
    control.observeHead(head);
    if (head >= target) break;
    if (control.stopping()) return { kind: "abandoned" };
    await new Promise((r) => setTimeout(r, Math.min(config.pollIntervalMs, 1000)));
  }
  for (const tx of mined) {
    const receipt = await rpc.call("eth_getTransactionReceipt", () => provider.getTransactionReceipt(tx.hash));
    if (!receipt) return { kind: "reorged", tx };
  }
  return { kind: "confirmed", head };
}

/** The member's checkpoint: where the next tick starts. */
export interface CheckpointCursor {
  readonly file: string;
  /** A checkpoint was found at start (rather than the start block). */
  readonly resumed: boolean;
  next(): number;
  /** Records that every block below `nextBlock` is done; `head` is the latest head seen (for the lag gauge). */
  advance(nextBlock: number, head: number): void;
}

/** Reads the member's checkpoint (refusing one of another chain, contract or member) or starts at `startBlock`. */
export function openCheckpoint(
  deps: Pick<DaemonDeps, "config" | "addresses" | "metrics" | "now">,
  identity: { chainId: bigint; member: string },
): CheckpointCursor {
  const { config, addresses, metrics } = deps;
  const file = config.checkpointFile ?? defaultCheckpointFile(identity.chainId, identity.member);
  const stored = readCheckpoint(file, { chainId: identity.chainId, claims: addresses.claims, member: identity.member });
  let next = stored?.nextBlock ?? config.startBlock ?? 0;
  metrics.checkpointBlock.set(next);
  return {
    file,
    resumed: stored !== undefined,
    next: () => next,
    advance(nextBlock, head) {
      next = nextBlock;
      const checkpoint: Checkpoint = {
        chainId: Number(identity.chainId),
        claims: addresses.claims,
        member: identity.member,
        nextBlock,
        updatedAt: new Date(deps.now()).toISOString(),
      };
      writeCheckpoint(file, checkpoint);
      metrics.checkpointBlock.set(nextBlock);
      metrics.lagBlocks.set(Math.max(0, head - config.confirmations - (nextBlock - 1)));
    },
  };
}
