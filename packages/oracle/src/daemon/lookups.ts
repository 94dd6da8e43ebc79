/**
 * Stage 2 of a tick: the chain state of the scanned claims, with as few requests as possible.
 *  - {@link readClaimHistory}: one log query (VerdictFinalised, VerdictSigned) over [first claim block, head] instead
 *    of a getClaim + hasSigned per claim: which claims are decided, which digests this member signed.
 *  - {@link claimState}: decided claims and claims past their deadline are skipped. A claim can only leave Filed
 *    without VerdictFinalised by escalation, which needs its deadline passed: checked against the latest block's
 *    time, with the deadline from the ClaimFiled event (the same value getClaim returns).
 *  - {@link createLookups}: policies (cached across ticks: a policy's device, period and product never change),
 *    device status and the product's model permission (both can change: read once per tick).
 */
import { getAddress } from "ethers";
import type { DaemonDeps } from "./context.ts";
import type { SkipReason } from "./report.ts";
import type { FiledClaim } from "./scan.ts";

/** What happened to a range's claims since they were filed. Keys are claim ids in decimal. */
export interface ClaimHistory {
  decided: Set<string>;
  /** The verdict digests this member signed, per claim. */
  signedByMe: Map<string, Set<string>>;
}

/** A policy as the daemon needs it. */
export interface PolicyRecord {
  device: string;
  start: bigint;
  end: bigint;
  productId: bigint;
}

/** A claim whose evidence is to be checked: its policy and its device's registry status, looked up. */
export interface CheckableClaim extends FiledClaim {
  policy: PolicyRecord;
  /**
   * `DeviceRegistry.statusAt(policy.device, claim.incidentAt)`: the status that counts is the one at the incident, so
   * an owner's later suspension or transfer cannot void a policy holder's claim (docs/protocol.md §11.2).
   */
  deviceStatus: number;
}

/** A claim goes on (`open`/`ready`), or is skipped with a reason and what the reason refers to. */
export type Skip = { kind: "skip"; claim: FiledClaim; reason: SkipReason; detail?: Record<string, string> };

/** Decided claims and this member's signed digests per claim, from the claims contract's logs in [from, to]. */
export async function readClaimHistory(
  deps: Pick<DaemonDeps, "rpc" | "provider" | "contracts" | "addresses" | "config">,
  slot: number,
  from: number,
  to: number,
): Promise<ClaimHistory> {
  const decided = new Set<string>();
  const signedByMe = new Map<string, Set<string>>();
  const iface = deps.contracts.claims.interface;
  const topics = [[iface.getEvent("VerdictFinalised").topicHash, iface.getEvent("VerdictSigned").topicHash]];
  for (let start = from; start <= to; start += deps.config.logBlockRange) {
    const end = Math.min(to, start + deps.config.logBlockRange - 1);
    const logs = await deps.rpc.call("eth_getLogs", () =>
      deps.provider.getLogs({ address: deps.addresses.claims, topics, fromBlock: start, toBlock: end }),
    );
    for (const entry of logs) {
      const parsed = iface.parseLog(entry);
      if (!parsed) continue;
      const id = parsed.args.claimId.toString();
      if (parsed.name === "VerdictFinalised") decided.add(id);
      else if ((Number(parsed.args.signers) >> slot) & 1) {
        if (!signedByMe.has(id)) signedByMe.set(id, new Set());
        signedByMe.get(id)!.add(String(parsed.args.digest).toLowerCase());
      }
    }
  }
  return { decided, signedByMe };
}

/** Whether `claim` is still open for this member: not decided, and its deadline (vs the latest block's time) ahead. */
export function claimState(claim: FiledClaim, history: ClaimHistory, now: bigint): { kind: "open"; claim: FiledClaim } | Skip {
  if (history.decided.has(claim.claimId.toString())) return { kind: "skip", claim, reason: "decided" };
  if (claim.assessmentDeadline <= now)
    return { kind: "skip", claim, reason: "deadline_passed", detail: { deadline: claim.assessmentDeadline.toString() } };
  return { kind: "open", claim };
}

export interface ClaimLookups {
  /** Each claim with its policy and device status, or skipped when its product does not allow the model. */
  lookup(claims: readonly FiledClaim[]): Promise<({ kind: "ready"; claim: CheckableClaim } | Skip)[]>;
}

/** Bound on the cache of policies (a policy is a few hundred bytes). */
const POLICY_CACHE_SIZE = 100_000;

export function createLookups(deps: Pick<DaemonDeps, "rpc" | "contracts" | "model">): ClaimLookups {
  const { rpc, contracts, model } = deps;
  const policyCache = new Map<string, PolicyRecord>();
  return {
    async lookup(claims) {
      const policies = await lookupOnce(
        claims.map((c) => c.policyId.toString()),
        async (id) => {
          const cached = policyCache.get(id);
          if (cached) return cached;
          const p = await rpc.call("getPolicy", () => contracts.claims.getPolicy(BigInt(id)));
          const policy = { device: getAddress(p.device), start: p.start, end: p.end, productId: p.productId };
          if (policyCache.size >= POLICY_CACHE_SIZE) policyCache.clear();
          policyCache.set(id, policy);
          return policy;
        },
      );
      const policyOf = (c: FiledClaim) => policies.get(c.policyId.toString())!;
      const statusKey = (c: FiledClaim) => `${policyOf(c).device}@${c.incidentAt}`;
      const statuses = await lookupOnce(claims.map(statusKey), (key) => {
        const [device, incidentAt] = key.split("@");
        return rpc.call("statusAt", () => contracts.registry.statusAt(device, BigInt(incidentAt)));
      });
      const products = await lookupOnce(
        claims.map((c) => policyOf(c).productId.toString()),
        (productId) => rpc.call("isProductModel", () => contracts.claims.isProductModel(BigInt(productId), model.modelHash)),
      );
      return claims.map((claim) => {
        const policy = policyOf(claim);
        if (!products.get(policy.productId.toString())) {
          return {
            kind: "skip",
            claim,
            reason: "model_not_allowed",
            detail: { productId: policy.productId.toString(), modelHash: model.modelHash },
          };
        }
        return { kind: "ready", claim: { ...claim, policy, deviceStatus: Number(statuses.get(statusKey(claim))!) } };
      });
    },
  };
}

/** `fn` once per distinct key, all at once. */
async function lookupOnce<K, V>(keys: readonly K[], fn: (key: K) => Promise<V>): Promise<Map<K, V>> {
  const unique = [...new Set(keys)];
  const values = await Promise.all(unique.map(fn));
  return new Map(unique.map((k, i) => [k, values[i]]));
}
