/**
 * From evidence bytes to a decision, without touching the chain: hash check, schema, reading signatures and the
 * chain's records (whatever of them the caller has), then the model. Used alike by the daemon (batched over a
 * tick's claims), `oracle assess` (possibly with no chain at all) and `oracle audit`, so all three agree.
 */
import { AI4I_SCHEMA, DeviceStatus, enumValue } from "@triad/sdk";
import { InvalidInputError, TriadError } from "@triad/sdk";
import {
  EvidenceError,
  evidenceHash as hashEvidence,
  parseEvidence,
  verifyEvidenceReadings,
  type EvidenceBundle,
  type EvidenceFailureReason,
  type VerifiedEvidence,
} from "@triad/sdk";
import type { ClaimAssessment, ClaimInput, OracleModel } from "./model/assessment.ts";

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
}

/** `DeviceStatus.Active` as the number the registry's views return. */
export const DEVICE_ACTIVE = Number(enumValue(DeviceStatus, "Active"));

/** Names of the checks {@link checkEvidence} skipped for lack of context (reported by `oracle assess`). */
export function skippedChecks(ctx: EvidenceContext): string[] {
  const skipped: string[] = [];
  if (ctx.chainId === undefined || ctx.registry === undefined)
    skipped.push("domain: bundle chainId/registry vs the deployment (signatures were checked in the domain the bundle names)");
  if (!ctx.claim) skipped.push("evidence hash vs the claim's evidenceHash", "incidentAt vs the claim's");
  if (!ctx.policy) skipped.push("device is the policy's device", "readings inside the policy period");
  if (ctx.deviceStatus === undefined) skipped.push("device status is Active in the registry");
  return skipped;
}

export type EvidenceCheck =
  | { ok: true; evidenceHash: string; bundle: EvidenceBundle; verified: VerifiedEvidence }
  | { ok: false; evidenceHash: string; reason: EvidenceFailureReason; message: string };

/** Every check of docs/protocol.md §7.3 on the bytes, in a fixed order; never throws for bad evidence. */
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
    });
    return { ok: true, evidenceHash: hash, bundle, verified };
  } catch (error) {
    if (error instanceof EvidenceError) return { ok: false, evidenceHash: hash, reason: error.reason, message: error.message };
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
