/**
 * One-shot oracle actions behind `oracle assess` and `oracle audit`, as `(deps, params)` functions so tests and
 * scripts call them with a real local node. They never write to the chain.
 */
import { getAddress, type Provider } from "ethers";
import { ClaimStatus, claimsDomain, enumName, type ClaimStatusName, type Verdict } from "@triad/sdk";
import { TriadError } from "@triad/sdk";
import { verdictDigest } from "@triad/sdk";
import { EvidenceError, parseEvidence, type EvidenceFailureReason } from "@triad/sdk";
import {
  DEVICE_ACTIVE,
  checkAnchoring,
  checkEvidence,
  modelWindow,
  scoreEvidence,
  skippedChecks,
  type AnchoringContext,
  type AnchorReader,
  type EvidenceContext,
} from "./assess.ts";
import { connectContracts, createRpc, type OracleAddresses } from "./chain.ts";
import { createAnchorReader } from "./daemon/lookups.ts";
import type { EvidenceFetchRules } from "./config.ts";
import { fetchEvidence, type EvidenceIpfs } from "./evidence.ts";
import type { ClaimAssessment, OracleModel } from "./model/assessment.ts";
import { verdictOf } from "./verdicts.ts";

/** Chain access for actions that can use it. */
export interface ChainDeps {
  provider: Provider;
  addresses: OracleAddresses;
  /** First block to search for batch-anchor events (the deployment's start block; default 0). */
  fromBlock?: number;
}

/**
 * The anchor reader of the one-shot actions (and of `triad claim:check`, which checks a bundle before it is filed): the
 * daemon's, over a few RPC retries.
 */
export function anchorReader(chain: ChainDeps): AnchorReader {
  const rpc = createRpc({ retries: 2, baseMs: 250 });
  return createAnchorReader({ rpc, contracts: connectContracts(chain.addresses, chain.provider), startBlock: chain.fromBlock });
}

export interface AssessResult {
  claimId: string | null;
  evidenceHash: string;
  valid: boolean;
  /** Reason code when the evidence is invalid (the verdict is then a rejection). */
  reason: string | null;
  message: string | null;
  assessment: { score: number; scoreBps: number; approved: boolean; readingsInWindow: number } | null;
  /** The Verdict the oracle would sign; null without chain access (amount and deadline are on-chain). */
  verdict: Record<string, string | number | boolean> | null;
  digest: string | null;
  modelHash: string;
  backend: string | null;
  /** "all" with a chain and a claim, "partial" with a chain only (domain, device status), "skipped" without a chain. */
  chainChecks: "all" | "partial" | "skipped";
  skippedChecks: string[];
}

/** JSON-friendly verdict (bigints as decimal strings). */
export function verdictJson(v: Verdict): Record<string, string | number | boolean> {
  return {
    claimId: v.claimId.toString(),
    evidenceHash: v.evidenceHash,
    modelHash: v.modelHash,
    approved: v.approved,
    payout: v.payout.toString(),
    scoreBps: v.scoreBps,
    reason: v.reason,
    deadline: v.deadline.toString(),
  };
}

/** Loads what the chain knows about `claimId` for the evidence checks and the verdict. */
async function claimContext(chain: ChainDeps, claimId: bigint, model: OracleModel) {
  const contracts = connectContracts(chain.addresses, chain.provider);
  const [{ chainId }, claim] = await Promise.all([chain.provider.getNetwork(), contracts.claims.getClaim(claimId)]);
  if (enumName(ClaimStatus, claim.status) === "None")
    throw new TriadError(`claim ${claimId} does not exist`, "CLAIM_NOT_FOUND", { claimId: claimId.toString() });
  const policy = await contracts.claims.getPolicy(claim.policyId);
  // The status that counts is the one at the incident (docs/protocol.md §11.2).
  const status = await contracts.registry.statusAt(policy.device, claim.incidentAt);
  const ctx: EvidenceContext = {
    chainId,
    registry: chain.addresses.registry,
    claim: { evidenceHash: claim.evidenceHash, incidentAt: claim.incidentAt },
    policy: { device: getAddress(policy.device), start: policy.start, end: policy.end },
    deviceStatus: Number(status),
    window: modelWindow(model),
  };
  const anchoring: AnchoringContext = { productId: policy.productId, filedAt: claim.filedAt };
  return { chainId, claim, policy, ctx, anchoring, contracts };
}

/**
 * Assesses evidence bytes like the daemon would. Without `chain`, signatures are checked in the domain the bundle
 * names and the chain checks are listed as skipped; with it (and `claimId`), every check runs and the full Verdict
 * and its digest are returned.
 */
export async function assessEvidence(
  deps: { model: OracleModel; chain?: ChainDeps },
  params: { bytes: Uint8Array; claimId?: bigint },
): Promise<AssessResult> {
  const { model } = deps;
  const chained = deps.chain && params.claimId !== undefined ? await claimContext(deps.chain, params.claimId, model) : undefined;
  let ctx: EvidenceContext = chained?.ctx ?? { window: modelWindow(model) };
  // With a chain, the anchors are checked on-chain; without the claim, not its product's policy nor its filing time.
  const anchoring: AnchoringContext | undefined = chained ? chained.anchoring : deps.chain ? {} : undefined;
  if (deps.chain && !chained) {
    // No claim: still check the deployment's domain and the bundle's device status.
    const { chainId } = await deps.chain.provider.getNetwork();
    ctx = { ...ctx, chainId, registry: deps.chain.addresses.registry };
    let device: string | undefined;
    try {
      device = parseEvidence(params.bytes).device;
    } catch {
      // checkEvidence reports the reason below
    }
    if (device) {
      const [, status] = await connectContracts(deps.chain.addresses, deps.chain.provider).registry.ownerAndStatus(device);
      ctx.deviceStatus = Number(status);
    }
  }
  let check = checkEvidence(params.bytes, ctx);
  if (anchoring) check = await checkAnchoring(check, anchorReader(deps.chain!), anchoring);
  let assessment: ClaimAssessment | null = null;
  let reason: EvidenceFailureReason | null = null;
  let message: string | null = null;
  if (!check.ok) {
    reason = check.reason;
    message = check.message;
  } else {
    const [score] = await scoreEvidence(model, [check.verified]);
    if (score.ok) assessment = score.assessment;
    else {
      if (score.reason === "MODEL_ERROR") throw new TriadError(`the model failed: ${score.message}`, "MODEL_ERROR");
      reason = score.reason;
      message = score.message;
    }
  }
  let verdict: Verdict | null = null;
  let digest: string | null = null;
  if (chained) {
    const claim = {
      claimId: params.claimId!,
      amount: chained.claim.amount,
      evidenceHash: chained.claim.evidenceHash,
      assessmentDeadline: chained.claim.assessmentDeadline,
    };
    verdict = verdictOf(claim, model.modelHash, assessment ? { assessment } : { failure: reason! });
    digest = verdictDigest(claimsDomain(chained.chainId, deps.chain!.addresses.claims), verdict);
  }
  return {
    claimId: params.claimId?.toString() ?? null,
    evidenceHash: check.evidenceHash,
    valid: reason === null,
    reason,
    message,
    assessment: assessment && {
      score: assessment.score,
      scoreBps: assessment.scoreBps,
      approved: assessment.approved,
      readingsInWindow: assessment.readingsInWindow,
    },
    verdict: verdict && verdictJson(verdict),
    digest,
    modelHash: model.modelHash,
    backend: model.backend ?? null,
    chainChecks: chained ? "all" : deps.chain ? "partial" : "skipped",
    skippedChecks: skippedChecks(ctx, anchoring),
  };
}

export interface AuditDifference {
  field: string;
  onChain: string | number | boolean;
  recomputed: string | number | boolean;
}

/**
 * What an audit concluded: the recomputed verdict equals the deciding one (`match`) or differs (`mismatch`); or
 * nothing could be compared: the claim has no committee verdict (`no-verdict`), or its evidence could not be fetched
 * now (`unverifiable`: the URI is down, or outside this auditor's fetch rules), which says nothing about the verdict.
 */
export type AuditOutcome = "match" | "mismatch" | "no-verdict" | "unverifiable";

/** Fetch-stage failures: they depend on the auditor's network and rules now, not on what the committee saw. */
const FETCH_FAILURES: ReadonlySet<string> = new Set([
  "URI_NOT_ALLOWED",
  "FETCH_UNREACHABLE",
  "FETCH_TIMEOUT",
  "FETCH_HTTP_STATUS",
  "TOO_LARGE",
]);

export interface AuditReport {
  claimId: string;
  status: ClaimStatusName;
  outcome: AuditOutcome;
  /** true on a match, false on a mismatch, null when nothing could be compared (see `outcome`). */
  match: boolean | null;
  /** The committee verdict recorded on-chain (VerdictFinalised). */
  onChain: {
    approved: boolean;
    payout: string;
    scoreBps: number;
    reason: number;
    modelHash: string;
    digest: string;
    block: number;
  } | null;
  /** The verdict this oracle would sign (`reason`: its reason code), its digest, and the evidence check that failed. */
  recomputed: (Record<string, string | number | boolean | null> & { digest: string; evidenceFailure: string | null }) | null;
  differences: AuditDifference[];
  notes: string[];
}

/**
 * Re-fetches the claim's evidence, re-runs the checks and the model, rebuilds the Verdict and compares it with the
 * verdict that decided the claim on-chain (the VerdictFinalised event, cross-checked with getClaim).
 */
export async function auditClaim(
  deps: ChainDeps & { model: OracleModel; evidence: EvidenceFetchRules; fetch?: typeof fetch; ipfs?: EvidenceIpfs },
  params: { claimId: bigint },
): Promise<AuditReport> {
  const { chainId, claim, ctx, anchoring, contracts } = await claimContext(deps, params.claimId, deps.model);
  const status = enumName(ClaimStatus, claim.status);
  const notes: string[] = [];
  const events = await contracts.claims.queryFilter(contracts.claims.filters.VerdictFinalised(params.claimId), deps.fromBlock ?? 0);
  const event = events[events.length - 1];
  if (!event) {
    return {
      claimId: params.claimId.toString(),
      status,
      outcome: "no-verdict",
      match: null,
      onChain: null,
      recomputed: null,
      differences: [],
      notes: [status === "Filed" ? "the claim has no verdict yet" : `no committee verdict was finalised for this claim (status ${status})`],
    };
  }
  const onChain = {
    approved: event.args.approved,
    payout: event.args.payout.toString(),
    scoreBps: Number(event.args.scoreBps),
    reason: Number(event.args.reason),
    modelHash: event.args.modelHash.toLowerCase(),
    digest: event.args.digest.toLowerCase(),
    block: event.blockNumber,
  };
  if (claim.modelHash.toLowerCase() !== onChain.modelHash) notes.push("getClaim().modelHash differs from the VerdictFinalised event");
  if (deps.model.modelHash.toLowerCase() !== onChain.modelHash) {
    notes.push(
      `the verdict was made with model ${onChain.modelHash}, this oracle runs ${deps.model.modelHash}: the recomputation uses the local model`,
    );
  }
  if (ctx.deviceStatus !== DEVICE_ACTIVE) notes.push("the device was not Active at the incident");

  let reason: EvidenceFailureReason | null = null;
  let assessment: ClaimAssessment | null = null;
  try {
    const bytes = await fetchEvidence(claim.evidenceURI, deps.evidence, { fetch: deps.fetch, ipfs: deps.ipfs });
    const check = await checkAnchoring(checkEvidence(bytes, ctx), anchorReader(deps), anchoring);
    if (!check.ok) reason = check.reason;
    else {
      const [score] = await scoreEvidence(deps.model, [check.verified]);
      if (score.ok) assessment = score.assessment;
      else if (score.reason === "MODEL_ERROR") throw new TriadError(`the model failed: ${score.message}`, "MODEL_ERROR");
      else reason = score.reason;
    }
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    reason = error.reason;
    if (FETCH_FAILURES.has(error.reason)) {
      // Not a mismatch: this auditor cannot see the evidence now, so the verdict can be neither confirmed nor refuted.
      notes.push(
        `the evidence could not be fetched now (${error.reason}: ${error.message}): the verdict was not re-checked; try again later`,
      );
      return {
        claimId: params.claimId.toString(),
        status,
        outcome: "unverifiable",
        match: null,
        onChain,
        recomputed: null,
        differences: [],
        notes,
      };
    }
    notes.push(`the evidence is invalid: ${error.message}`);
  }
  const base = {
    claimId: params.claimId,
    amount: claim.amount,
    evidenceHash: claim.evidenceHash,
    assessmentDeadline: claim.assessmentDeadline,
  };
  const verdict = verdictOf(base, deps.model.modelHash, assessment ? { assessment } : { failure: reason! });
  const digest = verdictDigest(claimsDomain(chainId, deps.addresses.claims), verdict).toLowerCase();
  const recomputed = { ...verdictJson(verdict), digest, evidenceFailure: reason };
  const differences: AuditDifference[] = [];
  const compare = (field: string, a: string | number | boolean, b: string | number | boolean) => {
    if (a !== b) differences.push({ field, onChain: a, recomputed: b });
  };
  compare("approved", onChain.approved, verdict.approved);
  compare("payout", onChain.payout, verdict.payout.toString());
  compare("scoreBps", onChain.scoreBps, verdict.scoreBps);
  compare("reason", onChain.reason, verdict.reason);
  compare("modelHash", onChain.modelHash, verdict.modelHash);
  compare("digest", onChain.digest, digest);
  const match = differences.length === 0;
  return {
    claimId: params.claimId.toString(),
    status,
    outcome: match ? "match" : "mismatch",
    match,
    onChain,
    recomputed,
    differences,
    notes,
  };
}
