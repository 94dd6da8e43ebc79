import { readFileSync } from "node:fs";
import { getAddress } from "ethers";
import { ClaimsInsurance__factory, DeviceRegistry__factory } from "@triad/contracts";
import {
  EVIDENCE_SCHEMA_V2,
  EvidenceError,
  claimReason,
  evidenceHash,
  formatBps,
  getPolicySummary,
  parseEvidence,
  reasonCodeOfEvidenceFailure,
  type AnyEvidenceBundle,
  type EvidenceFailureReason,
} from "@triad/sdk";
import { anchorReader, checkAnchoring, checkEvidence, modelWindow, scoreEvidence, type EvidenceContext } from "@triad/oracle";
import { insuranceAs, preflight } from "./insurance.ts";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { CliError, fail, fileError, parseAmount, parseUint, refuse, uintMax } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/**
 * claim:check: what the oracle committee would decide on a claim, before it is filed. It runs the oracle's own
 * assessment (`@triad/oracle`: the evidence checks of docs/protocol.md §7.3 off-chain and on-chain, then the shipped
 * model's claim rule, §8.3) with the policy's terms and "filed now", and the contract's own rules for the filing (an
 * `eth_call` of fileClaim as the policy's holder). Nothing is sent.
 *
 * Exit codes: 0 the committee would approve; 4 the contract would refuse the filing (CONTRACT_REFUSED, REFUSED) or
 * the committee would reject the claim (CLAIM_WOULD_BE_REJECTED, its reason in the message and the whole assessment
 * in the JSON error's details); else the CLI's classes (a file, a policy that does not exist, the network).
 */

export interface ClaimCheckArgs {
  evidence: string;
  policy: string;
  amount?: string;
}

export async function claimCheck(ctx: Context, args: ClaimCheckArgs): Promise<CommandResult> {
  const policyId = parseUint(args.policy, "policy", { min: 1n });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(args.evidence));
  } catch (err) {
    fail(`cannot read --evidence ${args.evidence}: ${fileError(err)}`, "FILE_ERROR", { file: args.evidence });
  }
  const record = await ctx.deployment(["DeviceRegistry", "ClaimsInsurance", "OracleCommittee"]);
  const { tokenInfo, decimals, tokens } = await insuranceAs(ctx, "reader");
  // Reads as nobody in particular, and asks the contract as the policy's holder: no account of the user is needed.
  const claims = ClaimsInsurance__factory.connect(record.contracts.ClaimsInsurance!, ctx.provider);
  const registry = DeviceRegistry__factory.connect(record.contracts.DeviceRegistry!, ctx.provider);
  const policy = await getPolicySummary(claims, policyId);
  const amount =
    args.amount === undefined
      ? policy.remaining
      : parseAmount(args.amount, "amount", decimals, { max: uintMax(128), maxLabel: "the largest claim", symbol: tokenInfo.symbol });
  if (amount === 0n) fail(args.amount === undefined ? `policy ${policyId} has no cover left to claim` : "--amount must be more than 0");
  const hash = evidenceHash(bytes);
  let bundle: AnyEvidenceBundle | undefined;
  try {
    bundle = parseEvidence(bytes);
  } catch (err) {
    if (!(err instanceof EvidenceError)) throw err; // the oracle's checks below say what is wrong with it
  }

  // The contract's rules for the filing (holder, open claim, amount, incident covered and in the claim window, device
  // Active at the incident, evidence never used, incident window free): a refusal costs nothing but says it all.
  if (bundle) {
    try {
      await preflight(ctx, () =>
        claims.fileClaim.staticCall(policyId, amount, BigInt(bundle.incidentAt), hash, "claim:check", { from: policy.holder }),
      );
    } catch (err) {
      if (err instanceof CliError) throw new CliError(`filing this claim now would be refused: ${err.message}`, err.code, err.details);
      throw err;
    }
  }
  if (amount <= policy.deductible) {
    refuse(
      `a claim of ${tokens(amount)} is within the ${tokens(policy.deductible)} deductible of policy ${policyId}: even approved it would pay nothing, and a rejection would cost the ${tokens(policy.claimDeposit)} deposit`,
      { deductible: policy.deductible },
    );
  }

  // The oracle's assessment, as a committee member would run it on this claim filed now.
  const { loadModel } = await ctx.step("Loading the oracle's model library", () => import("@triad/oracle/model"));
  const model = await ctx.step("Loading the shipped model", () => loadModel());
  try {
    const now = await ctx.latestTimestamp();
    const window = modelWindow(model);
    const deviceStatus = bundle ? Number(await registry.statusAt(policy.device, BigInt(bundle.incidentAt))) : undefined;
    const evidence: EvidenceContext = {
      chainId: BigInt(record.chainId),
      registry: getAddress(record.contracts.DeviceRegistry!),
      // The claim would record this evidence's hash and incident time.
      claim: bundle && { evidenceHash: hash, incidentAt: BigInt(bundle.incidentAt) },
      policy: { device: policy.device, start: policy.start, end: policy.end },
      deviceStatus,
      window,
    };
    const addresses = {
      claims: getAddress(record.contracts.ClaimsInsurance!),
      registry: getAddress(record.contracts.DeviceRegistry!),
      committee: getAddress(record.contracts.OracleCommittee!),
    };
    const check = await ctx.step("Checking the evidence and its anchors on-chain", async () =>
      checkAnchoring(
        checkEvidence(bytes, evidence),
        anchorReader({ provider: ctx.provider, addresses, fromBlock: record.startBlock }),
        // Filed now: only anchors up to the latest block can count.
        { productId: policy.productId, filedAt: now },
      ),
    );
    let failure: { reason: EvidenceFailureReason; message: string } | undefined;
    let assessment: { score: number; scoreBps: number; approved: boolean; reasonCode: number; readingsInWindow: number } | undefined;
    if (!check.ok) failure = { reason: check.reason, message: check.message };
    else {
      const [scored] = await ctx.step("Running the model", () => scoreEvidence(model, [check.verified]));
      if (scored.ok) assessment = scored.assessment;
      else if (scored.reason === "MODEL_ERROR") fail(`the model failed (the committee would abstain): ${scored.message}`, "FAILED");
      else failure = { reason: scored.reason, message: scored.message };
    }
    const modelAllowed = await claims.isProductModel(policy.productId, model.modelHash);
    const rule = model.metadata.claimRule;
    const needed = `approval needs ${formatBps(Math.round(rule.minScore * 10_000))} held over ${rule.minReadings} readings and ${rule.minSeconds} s`;
    const reasonCode = failure ? reasonCodeOfEvidenceFailure(failure.reason) : assessment!.reasonCode;
    const reason = claimReason(reasonCode);
    const approved = assessment?.approved === true;
    const data = {
      policyId,
      device: policy.device,
      amount,
      evidenceHash: hash,
      schema: bundle?.schema ?? null,
      incidentAt: bundle ? BigInt(bundle.incidentAt) : null,
      approved,
      reasonCode,
      reason: reason.name,
      reasonSentence: reason.sentence,
      evidenceFailure: failure?.reason ?? null,
      detail: failure?.message ?? null,
      scoreBps: assessment?.scoreBps ?? 0,
      readingsInWindow: assessment?.readingsInWindow ?? null,
      expectedPayout: approved ? amount - policy.deductible : 0n,
      deductible: policy.deductible,
      deposit: policy.claimDeposit,
      depositLostOnRejection: true,
      modelHash: model.modelHash,
      modelAllowed,
      backend: model.backend,
    };
    const why = failure
      ? `${reason.sentence} (${reason.name}: ${failure.message})`
      : `${reason.sentence} (score ${formatBps(assessment!.scoreBps)}; ${needed})`;
    const modelNote = modelAllowed
      ? `model ${model.modelHash} (the shipped one, allowed for product ${policy.productId}) on ${model.backend}`
      : `model ${model.modelHash} is NOT allowed for product ${policy.productId}: the committee decides with another model, so its verdict may differ`;
    if (!approved) {
      throw new CliError(
        `the committee would reject this claim: ${why}; it would pay nothing and the ${tokens(policy.claimDeposit)} deposit of filing it would be lost`,
        "CLAIM_WOULD_BE_REJECTED",
        data,
      );
    }
    return {
      data,
      lines: [
        `The committee would APPROVE a claim of ${tokens(amount)} on policy #${policyId} with ${args.evidence}`,
        `  why: ${why}`,
        `  checked as the oracle does: the ${bundle?.schema ?? EVIDENCE_SCHEMA_V2} bundle's signatures, proofs and completeness, its anchors on-chain (authorised, accepted by product ${policy.productId}, in time), the model on the ${assessment!.readingsInWindow} readings of its window`,
        `  it would pay ${tokens(amount - policy.deductible)} (${tokens(amount)} minus the ${tokens(policy.deductible)} deductible)`,
        `  filing costs a ${tokens(policy.claimDeposit)} deposit: refunded when the claim ends approved, lost (to the pool) if it ends rejected`,
        `  ${modelNote}`,
      ],
    };
  } finally {
    model.dispose();
  }
}

export const claimCheckCommands: CommandSpec[] = [
  {
    name: "claim:check",
    group: "Policies and claims",
    summary:
      "Says what the oracle committee would decide on a claim before you file it (the oracle's checks and model, run here): reason, payout after the deductible, the deposit at stake",
    options: [
      {
        name: "evidence",
        value: "<file>",
        description: "The triad.evidence/v2 bundle you would file (from evidence:build)",
        required: true,
      },
      { name: "policy", value: "<id>", description: "The policy you would claim on", required: true },
      {
        name: "amount",
        value: "<tokens>",
        description: "The amount you would claim, in whole tokens (default: the policy's remaining cover)",
      },
    ],
    run: claimCheck,
  },
];
