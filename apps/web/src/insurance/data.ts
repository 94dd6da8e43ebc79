import { getAddress, type Provider } from "ethers";
import type { ClaimsInsurance, InsurancePool, OracleCommittee } from "@triad/contracts";
import {
  GatewayPolicy,
  claimsDomain,
  enumName,
  getClaimDetails,
  getPoolPosition,
  getProductTerms,
  listClaimDetails,
  listPolicies,
  recoverVerdict,
  verdictDigest,
  type ClaimDetails,
  type GatewayPolicyName,
  type PolicySummary,
  type PoolPosition,
  type ProductTerms,
  type ScanRange,
  type Verdict,
} from "@triad/sdk";

/**
 * The insurance pages' reads, over the SDK's browse functions (the CLI's pool:show, policy:list, claim:show use the
 * same ones): the pool, the products, an account's policies and claims, and a claim's whole trail from its events.
 * Nothing here signs or sends.
 */

// ------------------------------------------------------------------ the pool

export interface PoolOverview {
  /** LP equity (ERC-4626 totalAssets). */
  totalAssets: bigint;
  reservedPayouts: bigint;
  unearnedPremiums: bigint;
  /** Capital locked as coverage. */
  locked: bigint;
  maxUtilisationBps: number;
  /** locked / (equity + reserved), in basis points (the pool:show figure). */
  utilisationBps: number;
  totalShares: bigint;
  shareDecimals: number;
  /** What one whole share is worth, in token base units. */
  pricePerShare: bigint;
  withdrawalCooldown: bigint;
  /** The account's position (undefined without an account). */
  position?: PoolPosition;
}

/** The pool's figures and, with `account`, its position: what `triad pool:show` prints. */
export async function readPool(pool: InsurancePool, account?: string): Promise<PoolOverview> {
  const [assets, reserved, unearned, locked, maxUtil, supply, cooldown, shareDecimals, position] = await Promise.all([
    pool.totalAssets(),
    pool.reservedPayouts(),
    pool.unearnedPremiums(),
    pool.lockedAssets(),
    pool.maxUtilisationBps(),
    pool.totalSupply(),
    pool.withdrawalCooldown(),
    pool.decimals(),
    account ? getPoolPosition(pool, account) : Promise.resolve(undefined),
  ]);
  const capital = assets + reserved;
  return {
    totalAssets: assets,
    reservedPayouts: reserved,
    unearnedPremiums: unearned,
    locked,
    maxUtilisationBps: Number(maxUtil),
    utilisationBps: capital === 0n ? 0 : Number((locked * 10_000n) / capital),
    totalShares: supply,
    shareDecimals: Number(shareDecimals),
    pricePerShare: await pool.convertToAssets(10n ** shareDecimals),
    withdrawalCooldown: BigInt(cooldown),
    position,
  };
}

/** Shares worth at least `assets` now (rounded up), as `triad pool:request-withdrawal --amount` computes them. */
export async function sharesForAssets(pool: InsurancePool, assets: bigint): Promise<bigint> {
  const shares = await pool.convertToShares(assets);
  return (await pool.convertToAssets(shares)) < assets ? shares + 1n : shares;
}

// ------------------------------------------------------------------ products

export interface ProductDetails extends ProductTerms {
  maxAnchorDelay: bigint;
  incidentWindowBefore: bigint;
  incidentWindowAfter: bigint;
  gatewayPolicy: GatewayPolicyName;
}

/** Every product with its terms, in id order. */
export async function listProducts(claims: ClaimsInsurance): Promise<ProductDetails[]> {
  const count = await claims.productCount();
  const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
  return Promise.all(ids.map((id) => getProductDetails(claims, id)));
}

/** One product's terms, including the telemetry terms the evidence must meet. */
export async function getProductDetails(claims: ClaimsInsurance, productId: bigint): Promise<ProductDetails> {
  const [terms, raw] = await Promise.all([getProductTerms(claims, productId), claims.getProduct(productId)]);
  return {
    ...terms,
    maxAnchorDelay: BigInt(raw.maxAnchorDelay),
    incidentWindowBefore: BigInt(raw.incidentWindowBefore),
    incidentWindowAfter: BigInt(raw.incidentWindowAfter),
    gatewayPolicy: enumName(GatewayPolicy, raw.gatewayPolicy),
  };
}

/** What a policy costs and pays at most per claim: the contract's quote, and the cover after the deductible. */
export async function quotePolicy(
  claims: ClaimsInsurance,
  product: ProductTerms,
  coverage: bigint,
  durationSeconds: bigint,
): Promise<{ premium: bigint; maxPayoutPerClaim: bigint }> {
  const premium = await claims.quotePremium(product.productId, coverage, durationSeconds);
  return { premium, maxPayoutPerClaim: coverage > product.deductible ? coverage - product.deductible : 0n };
}

// ------------------------------------------------------------------ policies and claims

/** The policies `holder` holds now, newest first. */
export async function myPolicies(claims: ClaimsInsurance, range: ScanRange, holder: string): Promise<PolicySummary[]> {
  return (await listPolicies(claims, range, { holder })).reverse();
}

/** The claims filed by `account` or on the policies it holds, with their details, newest first. */
export async function myClaims(
  claims: ClaimsInsurance,
  committee: OracleCommittee,
  range: ScanRange,
  account: string,
  policies?: readonly PolicySummary[],
): Promise<ClaimDetails[]> {
  const policyIds = (policies ?? (await listPolicies(claims, range, { holder: account }))).map((p) => p.policyId);
  return (await listClaimDetails(claims, committee, range, { account, policyIds })).reverse();
}

/** Whether a policy can take a claim now (not ended past its claim window, no open claim, cover left). */
export function policyClaimable(p: PolicySummary, now: bigint): { ok: boolean; why?: string } {
  if (p.released) return { ok: false, why: "its coverage was released" };
  if (p.openClaimId > 0n) return { ok: false, why: `claim #${p.openClaimId} is in progress` };
  if (p.remaining === 0n) return { ok: false, why: "no cover is left" };
  if (now < p.coveredFrom) return { ok: false, why: "the waiting period has not ended" };
  if (now > p.claimPeriodEnd) return { ok: false, why: "its claim window has closed" };
  return { ok: true };
}

// ------------------------------------------------------------------ a claim's trail

/** One moment of a claim's life, from an event (with its block time) or a deadline. */
export interface TrailEvent {
  kind: "filed" | "signed" | "decided" | "appealed" | "escalated" | "resolved" | "settled" | "deadline";
  at: bigint;
  title: string;
  detail: string;
  txHash?: string;
  blockNumber?: number;
  /** A deadline still ahead. */
  future?: boolean;
}

/** A committee signature on the deciding verdict, recovered in the browser from the submitting transaction. */
export interface VerdictSignature {
  signer: string;
  /** Whether the recovered signer is one of the committee members the contract counted (the bitmap). */
  counted: boolean;
  txHash: string;
}

export interface ClaimTrail {
  claim: ClaimDetails;
  events: TrailEvent[];
  /** The deciding verdict as submitted, with its EIP-712 digest recomputed here (null while undecided). */
  verdict: { verdict: Verdict; digest: string; digestMatches: boolean; signatures: VerdictSignature[] } | null;
  threshold: number;
  members: number;
  /** The claim's filing block time (for the evidence's anchoring rule). */
  filedBlock?: number;
}

const CLAIM_EVENTS = [
  "ClaimFiled",
  "VerdictSigned",
  "VerdictFinalised",
  "ClaimAppealed",
  "ClaimEscalated",
  "ClaimResolved",
  "ClaimSettled",
] as const;

/**
 * Everything about a claim: its details (getClaimDetails, as `triad claim:show`), the events of its life with their
 * block times, its deadlines, and the deciding verdict's signatures, recovered here from the transactions that
 * submitted them (`submitVerdict`/`submitVerdicts` calldata) against the verdict's EIP-712 digest in the
 * `Triad ClaimsInsurance` domain — so the k-of-n is checked in the browser, not taken from an event.
 */
export async function readClaimTrail(
  contracts: { claims: ClaimsInsurance; committee: OracleCommittee },
  provider: Provider,
  range: ScanRange,
  claimId: bigint,
): Promise<ClaimTrail> {
  const { claims, committee } = contracts;
  const claim = await getClaimDetails(claims, committee, range, claimId);
  const address = await claims.getAddress();
  const topics = CLAIM_EVENTS.map((n) => claims.interface.getEvent(n).topicHash);
  const idTopic = "0x" + claimId.toString(16).padStart(64, "0");
  const logs = await provider.getLogs({ address, topics: [topics, idTopic], fromBlock: range.fromBlock, toBlock: range.toBlock });
  const blocks = new Map<number, bigint>();
  await Promise.all(
    [...new Set(logs.map((l) => l.blockNumber))].map(async (n) => blocks.set(n, BigInt((await provider.getBlock(n))!.timestamp))),
  );
  const [threshold, members] = await Promise.all([committee.threshold(), committee.members()]);
  const events: TrailEvent[] = [];
  let deciding: { txHash: string; digest: string } | undefined;
  const signingTxs: string[] = [];
  let filedBlock: number | undefined;
  for (const log of logs) {
    const e = claims.interface.parseLog(log);
    if (!e) continue;
    const base = { at: blocks.get(log.blockNumber)!, txHash: log.transactionHash, blockNumber: log.blockNumber };
    switch (e.name) {
      case "ClaimFiled":
        filedBlock = log.blockNumber;
        events.push({ ...base, kind: "filed", title: "Claim filed", detail: `by ${e.args.claimant}, evidence ${e.args.evidenceURI}` });
        break;
      case "VerdictSigned":
        signingTxs.push(log.transactionHash);
        events.push({
          ...base,
          kind: "signed",
          title: `Committee signatures: ${e.args.count} of ${threshold}`,
          detail: `verdict digest ${e.args.digest}`,
        });
        break;
      case "VerdictFinalised":
        deciding = { txHash: log.transactionHash, digest: e.args.digest };
        events.push({
          ...base,
          kind: "decided",
          title: e.args.approved ? "Approved by the committee" : "Rejected by the committee",
          detail: `score ${(Number(e.args.scoreBps) / 100).toFixed(2)} %, model ${e.args.modelHash}`,
        });
        break;
      case "ClaimAppealed":
        events.push({ ...base, kind: "appealed", title: "Appealed", detail: `by ${e.args.by}: the arbiter decides` });
        break;
      case "ClaimEscalated":
        events.push({
          ...base,
          kind: "escalated",
          title: "Escalated to the arbiter",
          detail: `no verdict by the deadline (by ${e.args.by})`,
        });
        break;
      case "ClaimResolved":
        events.push({
          ...base,
          kind: "resolved",
          title: e.args.approved ? "Approved by the arbiter" : "Rejected by the arbiter",
          detail: `arbiter ${e.args.arbiter}`,
        });
        break;
      case "ClaimSettled":
        events.push({ ...base, kind: "settled", title: "Settled", detail: `paid to ${e.args.recipient}` });
        break;
    }
  }
  const now = BigInt((await provider.getBlock("latest"))!.timestamp);
  if (claim.status === "Filed") {
    events.push({
      kind: "deadline",
      at: claim.assessmentDeadline,
      title: "Assessment deadline",
      detail: "the committee must decide by then, else anyone may escalate to the arbiter",
      future: claim.assessmentDeadline > now,
    });
  }
  if (claim.settleFrom !== null) {
    events.push({
      kind: "deadline",
      at: claim.settleFrom,
      title: "Appeal window ends",
      detail: "appeals are possible until then; settlement from then on",
      future: claim.settleFrom > now,
    });
  }
  events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  let verdict: ClaimTrail["verdict"] = null;
  if (deciding) {
    const { chainId } = await provider.getNetwork();
    const domain = claimsDomain(chainId, address);
    const memberSet = new Set(claim.signers.map((s) => getAddress(s)));
    const signatures: VerdictSignature[] = [];
    let submitted: Verdict | undefined;
    for (const hash of [...new Set(signingTxs)]) {
      const tx = await provider.getTransaction(hash);
      if (!tx) continue;
      const parsed = claims.interface.parseTransaction({ data: tx.data, value: tx.value });
      if (!parsed) continue;
      const pairs: [unknown, string[]][] =
        parsed.name === "submitVerdict"
          ? [[parsed.args[0], parsed.args[1] as string[]]]
          : parsed.name === "submitVerdicts"
            ? (parsed.args[0] as unknown[]).map((v, i) => [v, (parsed.args[1] as string[][])[i]])
            : [];
      for (const [raw, sigs] of pairs) {
        const v = toVerdict(raw);
        if (v.claimId !== claimId) continue;
        const digest = verdictDigest(domain, v);
        if (digest !== deciding.digest) continue;
        submitted = v;
        for (const sig of sigs) {
          const signer = recoverVerdict(domain, v, sig);
          if (!signatures.some((s) => s.signer === signer)) signatures.push({ signer, counted: memberSet.has(signer), txHash: hash });
        }
      }
    }
    if (submitted) verdict = { verdict: submitted, digest: deciding.digest, digestMatches: true, signatures };
  }
  return { claim, events, verdict, threshold: Number(threshold), members: members.length, filedBlock };
}

function toVerdict(raw: unknown): Verdict {
  const v = raw as {
    claimId: bigint;
    evidenceHash: string;
    modelHash: string;
    approved: boolean;
    payout: bigint;
    scoreBps: bigint;
    reason: bigint;
    deadline: bigint;
  };
  return {
    claimId: v.claimId,
    evidenceHash: v.evidenceHash,
    modelHash: v.modelHash,
    approved: v.approved,
    payout: v.payout,
    scoreBps: Number(v.scoreBps),
    reason: Number(v.reason),
    deadline: v.deadline,
  } as Verdict;
}
