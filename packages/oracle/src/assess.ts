/**
 * From evidence bytes to a decision: hash check, schema, reading signatures, Merkle proofs and completeness and the
 * chain's records (whatever of them the caller has) in {@link checkEvidence}, which touches no chain and runs on the
 * verifier's worker threads; then what the chain says about the anchors ({@link checkAnchoring}, one read per
 * distinct anchor through an {@link AnchorReader}); then the model. Used alike by the daemon (batched over a tick's
 * claims), `oracle assess` (possibly with no chain at all) and `oracle audit`, so all three agree.
 */
import { AI4I_SCHEMA, DeviceStatus, enumValue } from "@triad/sdk";
import { InvalidInputError, TriadError } from "@triad/sdk";
import {
  EVIDENCE_SCHEMA,
  EVIDENCE_SCHEMA_V2,
  EvidenceError,
  evidenceHash as hashEvidence,
  parseEvidence,
  verifyEvidenceAnchoring,
  verifyEvidenceReadings,
  type AnchorFacts,
  type EvidenceAnchor,
  type EvidenceAnchoring,
  type EvidenceBundleV2,
  type EvidenceFailureReason,
  type VerifiedEvidence,
} from "@triad/sdk";
import type { ClaimAssessment, ClaimInput, OracleModel } from "./model/assessment.ts";
import type { ClaimWindow } from "./model/artifacts.ts";

/** Number of values of an `ai4i-2020/v1` reading. */
const AI4I_VALUES = 6;

/** The chain's view of a claim, as far as the caller knows it; each missing part is a check that is skipped. */
export interface EvidenceContext {
  /** Deployment the oracle serves: readings must be signed in its registry's domain. */
  chainId?: bigint;
  registry?: string;
  claim?: { evidenceHash: string; incidentAt: bigint };
  policy?: { device: string; start: bigint; end: bigint };
  /** The device's registry status at the incident (`statusAt`), or its current one without a claim (1 = Active). */
  deviceStatus?: number;
  /** The model's window: the evidence must reach past it on both sides (completeness, `INCOMPLETE_WINDOW`). */
  window?: ClaimWindow;
}

/** `DeviceStatus.Active` as the number the registry's views return. */
export const DEVICE_ACTIVE = Number(enumValue(DeviceStatus, "Active"));

/** The window of a loaded model (`LoadedModel.metadata.window`); undefined for a model that does not say. */
export function modelWindow(model: OracleModel): ClaimWindow | undefined {
  return (model as { metadata?: { window?: ClaimWindow } }).metadata?.window;
}

/**
 * Names of the checks {@link checkEvidence} and {@link checkAnchoring} skipped for lack of context (reported by
 * `oracle assess`). `anchoring` says what {@link checkAnchoring} was given: nothing (no chain), or a chain with or
 * without the claim's product and filing time.
 */
export function skippedChecks(ctx: EvidenceContext, anchoring?: AnchoringContext): string[] {
  const skipped: string[] = [];
  if (ctx.chainId === undefined || ctx.registry === undefined)
    skipped.push("domain: bundle chainId/registry vs the deployment (signatures were checked in the domain the bundle names)");
  if (!ctx.claim) skipped.push("evidence hash vs the claim's evidenceHash", "incidentAt vs the claim's");
  if (!ctx.policy) skipped.push("device is the policy's device", "readings inside the policy period");
  if (ctx.deviceStatus === undefined) skipped.push("device status is Active in the registry");
  if (!ctx.window) skipped.push("evidence reaches past the model's window on both sides");
  if (!anchoring) skipped.push("anchors exist on-chain and were made by a gateway the device's owner had authorised");
  if (anchoring?.productId === undefined)
    skipped.push("anchoring gateways accepted by the product", "anchored within the product's maxAnchorDelay");
  if (anchoring?.filedAt === undefined) skipped.push("anchored before the claim was filed");
  return skipped;
}

/** Verified v2 evidence: its anchors are known (and checked off-chain), what the chain says of them is not yet. */
export type AnchoredEvidence = VerifiedEvidence & { anchoring: EvidenceAnchoring };

export type EvidenceCheck =
  | { ok: true; evidenceHash: string; bundle: EvidenceBundleV2; verified: AnchoredEvidence }
  | { ok: false; evidenceHash: string; reason: EvidenceFailureReason; message: string };

/**
 * Every off-chain check of docs/protocol.md §7.3 on the bytes, in a fixed order; never throws for bad evidence. A
 * `triad.evidence/v1` bundle (no anchors) is refused as `NOT_ANCHORED` once its readings verified.
 */
export function checkEvidence(bytes: Uint8Array, ctx: EvidenceContext = {}): EvidenceCheck {
  const hash = hashEvidence(bytes);
  try {
    if (ctx.claim && hash !== ctx.claim.evidenceHash.toLowerCase()) {
      throw new EvidenceError("HASH_MISMATCH", `evidence hashes to ${hash}, the claim recorded ${ctx.claim.evidenceHash}`);
    }
    if (ctx.deviceStatus !== undefined && ctx.deviceStatus !== DEVICE_ACTIVE) {
      throw new EvidenceError(
        "DEVICE_NOT_ACTIVE",
        `the insured device was not Active at the incident (registry status ${ctx.deviceStatus})`,
      );
    }
    const bundle = parseEvidence(bytes);
    const verified = verifyEvidenceReadings(bundle, {
      sensorSchema: AI4I_SCHEMA,
      valuesPerReading: AI4I_VALUES,
      chainId: ctx.chainId,
      registry: ctx.registry,
      device: ctx.policy?.device,
      period: ctx.policy && { start: ctx.policy.start, end: ctx.policy.end },
      incidentAt: ctx.claim?.incidentAt,
      window: ctx.window,
    });
    if (bundle.schema !== EVIDENCE_SCHEMA_V2 || !verified.anchoring) {
      throw new EvidenceError(
        "NOT_ANCHORED",
        `a ${EVIDENCE_SCHEMA} bundle carries no anchors: claims are decided on ${EVIDENCE_SCHEMA_V2} bundles (readings with their anchors and proofs)`,
      );
    }
    return { ok: true, evidenceHash: hash, bundle, verified: verified as AnchoredEvidence };
  } catch (error) {
    if (error instanceof EvidenceError) return { ok: false, evidenceHash: hash, reason: error.reason, message: error.message };
    throw error;
  }
}

/**
 * The chain reads of the anchoring checks. The daemon's lookups (./daemon/lookups.ts) implement it with the RPC
 * choke point's retries and caches; `oracle assess`/`audit` use the same implementation.
 */
export interface AnchorReader {
  /**
   * The facts of each of `anchors` (same order) for readings of `device`: `anchoredAt` (0: not on-chain), whether the
   * device's owner had authorised the anchorer then, and — with `productId` — whether the product accepts it.
   */
  anchorFacts(device: string, anchors: readonly EvidenceAnchor[], productId?: bigint): Promise<AnchorFacts[]>;
  /** The product's `maxAnchorDelay`, seconds. */
  maxAnchorDelay(productId: bigint): Promise<bigint>;
}

/** What the anchoring checks need of the claim; each missing part is a check that is skipped. */
export interface AnchoringContext {
  /** The policy's product: which gateways it accepts, and its `maxAnchorDelay`. */
  productId?: bigint;
  /** The claim's filing time (`getClaim(id).filedAt`, the block time of its `ClaimFiled`). */
  filedAt?: bigint;
}

/**
 * The on-chain provenance checks of docs/protocol.md §7.3 on evidence {@link checkEvidence} accepted: one read per
 * distinct anchor (not per reading), then {@link verifyEvidenceAnchoring}. Returns `check` itself when it passes (or
 * had already failed), else the failure; chain errors propagate (the daemon retries the tick, it does not reject).
 */
export async function checkAnchoring(check: EvidenceCheck, reader: AnchorReader, ctx: AnchoringContext): Promise<EvidenceCheck> {
  if (!check.ok) return check;
  const { anchoring, device } = check.verified;
  const [facts, maxAnchorDelay] = await Promise.all([
    reader.anchorFacts(device, anchoring.anchors, ctx.productId),
    ctx.productId === undefined ? undefined : reader.maxAnchorDelay(ctx.productId),
  ]);
  try {
    verifyEvidenceAnchoring(anchoring, facts, { filedAt: ctx.filedAt, maxAnchorDelay });
    return check;
  } catch (error) {
    if (error instanceof EvidenceError)
      return { ok: false, evidenceHash: check.evidenceHash, reason: error.reason, message: error.message };
    throw error;
  }
}

export type ScoreResult =
  | { ok: true; assessment: ClaimAssessment }
  | { ok: false; reason: EvidenceFailureReason; message: string }
  /** The model failed for a reason that is not the evidence's fault: the oracle abstains (no verdict). */
  | { ok: false; reason: "MODEL_ERROR"; message: string };

function toClaimInput(v: VerifiedEvidence): ClaimInput {
  return { readings: v.readings.map((r) => ({ timestamp: Number(r.timestamp), values: r.values })), incidentAt: Number(v.incidentAt) };
}

function classify(error: unknown): ScoreResult {
  // The model refuses readings no machine can produce (InvalidInputError): the evidence's fault.
  if (error instanceof InvalidInputError) return { ok: false, reason: "INVALID_VALUES", message: error.message };
  if (error instanceof EvidenceError) return { ok: false, reason: error.reason, message: error.message };
  const message = error instanceof TriadError || error instanceof Error ? error.message : String(error);
  return { ok: false, reason: "MODEL_ERROR", message };
}

function finish(a: ClaimAssessment): ScoreResult {
  if (a.readingsInWindow === 0) {
    return { ok: false, reason: "NO_READINGS_IN_WINDOW", message: "no reading lies in the model's window around incidentAt" };
  }
  return { ok: true, assessment: a };
}

/**
 * Scores verified evidence: all claims in one batched inference (`assessClaims`, one network call: 0.12 ms per
 * reading against 0.77 ms per single call on wasm); if that throws (some claim has values the model refuses), each
 * claim is scored alone with `assessClaim`, so one claim's bad values cannot fail the others. A row's score does not
 * depend on the other rows of a batch (packages/oracle/test/batch.test.ts), so members that batch different sets of
 * claims still sign the same `scoreBps`.
 */
export async function scoreEvidence(model: OracleModel, items: readonly VerifiedEvidence[]): Promise<ScoreResult[]> {
  if (items.length === 0) return [];
  const inputs = items.map(toClaimInput);
  try {
    return (await model.assessClaims(inputs)).map(finish);
  } catch {
    // fall through to one by one
  }
  const results: ScoreResult[] = [];
  for (const input of inputs) {
    try {
      results.push(finish(await model.assessClaim(input.readings, input.incidentAt)));
    } catch (error) {
      results.push(classify(error));
    }
  }
  return results;
}
