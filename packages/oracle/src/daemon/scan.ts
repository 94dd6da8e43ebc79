/**
 * Stage 1 of a tick: is this still the chain we scanned, which blocks to scan, and the ClaimFiled events in them.
 * Only blocks `confirmations` deep are scanned, so a claim that vanishes in a shallower reorg is never acted on; one
 * tick scans at most `logBlockRange` blocks from the scan cursor.
 *
 * {@link checkChain} costs one eth_getBlockByNumber per tick (the newest scanned block's hash); only when that block
 * changed, or the head is below it, does it look further: the genesis hash and the claims contract's code (another
 * chain or a chain without the deployment: a reset), then the older scanned blocks, newest first, for the fork point
 * (a reorg deeper than the confirmation depth).
 */
import { TriadError } from "@triad/sdk";
import type { BlockRef, ChainIdentity } from "../checkpoint.ts";
import type { OracleConfig } from "../config.ts";
import type { DaemonDeps } from "./context.ts";

/** The blocks a tick scans: none yet confirmed past the checkpoint (idle), or `[from, to]`. */
export type ScanRange = { kind: "idle"; from: number } | { kind: "range"; from: number; to: number };

/** A ClaimFiled event of the scanned range: the claim as filed (what its verdict is built from). */
export interface FiledClaim {
  claimId: bigint;
  policyId: bigint;
  amount: bigint;
  incidentAt: bigint;
  assessmentDeadline: bigint;
  /** Lower case. */
  evidenceHash: string;
  evidenceURI: string;
  blockNumber: number;
}

/** `[checkpoint, min(head − confirmations, checkpoint + logBlockRange − 1)]`, or idle when that is empty. */
export function scanRange(config: Pick<OracleConfig, "confirmations" | "logBlockRange">, from: number, head: number): ScanRange {
  const safe = head - config.confirmations;
  if (safe < from) return { kind: "idle", from };
  return { kind: "range", from, to: Math.min(safe, from + config.logBlockRange - 1) };
}

/** The ClaimFiled events of `[from, to]`, in log order (one eth_getLogs). */
export async function scanClaims(deps: Pick<DaemonDeps, "rpc" | "contracts">, range: { from: number; to: number }): Promise<FiledClaim[]> {
  const { claims } = deps.contracts;
  const events = await deps.rpc.call("eth_getLogs", () => claims.queryFilter(claims.filters.ClaimFiled(), range.from, range.to));
  return events.map((e) => ({
    claimId: e.args.claimId,
    policyId: e.args.policyId,
    amount: e.args.amount,
    incidentAt: e.args.incidentAt,
    assessmentDeadline: e.args.assessmentDeadline,
    evidenceHash: e.args.evidenceHash.toLowerCase(),
    evidenceURI: e.args.evidenceURI,
    blockNumber: e.blockNumber,
  }));
}

/** The hash of block `number`, or undefined when the chain has no such block (yet). */
export async function blockHash(deps: Pick<DaemonDeps, "rpc" | "provider">, number: number): Promise<string | undefined> {
  const block = await deps.rpc.call("eth_getBlockByNumber", () => deps.provider.getBlock(number));
  return block?.hash?.toLowerCase() ?? undefined;
}

/** The hash of a block that must exist (a scanned range's last block). */
export async function scannedBlock(deps: Pick<DaemonDeps, "rpc" | "provider">, number: number): Promise<BlockRef> {
  const hash = await blockHash(deps, number);
  if (!hash) throw new TriadError(`block ${number} is not available from the RPC endpoint`, "BLOCK_NOT_FOUND", { block: number });
  return { number, hash };
}

/** Is the chain still the one the cursor scanned? */
export type ChainCheck =
  | { kind: "same" }
  /** A reorg deeper than the confirmation depth replaced scanned blocks above `canonical` (none left: undefined). */
  | { kind: "deep"; canonical: number | undefined; replaced: BlockRef }
  /** Another chain (genesis), or no deployment at the claims address: everything scanned is void. */
  | { kind: "reset"; reason: string; genesis: string };

export async function checkChain(
  deps: Pick<DaemonDeps, "rpc" | "provider" | "addresses">,
  cursor: { next(): number; recent(): readonly BlockRef[]; identity(): ChainIdentity },
  head: number,
): Promise<ChainCheck> {
  const recent = cursor.recent();
  const newest = recent.at(-1);
  if (newest) {
    if (newest.number <= head && (await blockHash(deps, newest.number)) === newest.hash) return { kind: "same" };
  } else if (head >= cursor.next() - 1) {
    return { kind: "same" }; // nothing scanned yet to compare (a first-format checkpoint): the head is plausible
  }
  const genesis = (await blockHash(deps, 0)) ?? "";
  if (genesis !== cursor.identity().genesis) return { kind: "reset", reason: "the chain's genesis block changed", genesis };
  const code = await deps.rpc.call("eth_getCode", () => deps.provider.getCode(deps.addresses.claims));
  if (code === "0x") return { kind: "reset", reason: `no contract at the claims address ${deps.addresses.claims}`, genesis };
  for (let i = recent.length - 2; i >= 0; i--) {
    const ref = recent[i];
    if (ref.number <= head && (await blockHash(deps, ref.number)) === ref.hash) {
      return { kind: "deep", canonical: ref.number, replaced: newest! };
    }
  }
  return {
    kind: "reset",
    reason: newest
      ? `none of the last ${recent.length} scanned blocks is in the chain any more`
      : `the head (${head}) is below the checkpoint (${cursor.next()})`,
    genesis,
  };
}
