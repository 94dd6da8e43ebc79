/**
 * Stage 1 of a tick: which blocks to scan, and the ClaimFiled events in them. Only blocks `confirmations` deep are
 * scanned, so a claim that vanishes in a shallower reorg is never acted on; one tick scans at most `logBlockRange`
 * blocks from the checkpoint.
 */
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
