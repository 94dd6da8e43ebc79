/**
 * Stage 2 of a tick: the chain state of the scanned claims, with as few requests as possible.
 *  - {@link readClaimHistory}: one log query (VerdictFinalised, VerdictSigned) over [first claim block, head] instead
 *    of a getClaim + hasSigned per claim: which claims are decided, which digests this member signed.
 *  - {@link claimState}: decided claims and claims past their deadline are skipped. A claim can only leave Filed
 *    without VerdictFinalised by escalation, which needs its deadline passed: checked against the latest block's
 *    time, with the deadline from the ClaimFiled event (the same value getClaim returns).
 *  - {@link createLookups}: policies (cached across ticks: a policy's device, period and product never change on one
 *    chain; the caches are keyed by the claims contract and emptied by `clear()` on a reset or a deep reorg, so a
 *    redeployed chain's claims are never decided with the old chain's policies and devices),
 *    device status and the product's model permission (both can change: read once per tick), the filing time.
 *  - {@link createAnchorReader}: what the chain says about the anchors an evidence bundle cites, read once per
 *    distinct anchor through the RPC choke point (retries, timeouts). Facts that cannot change are cached across
 *    ticks (an anchor's time, the owner, status and authorisations at that past time); the product's gateway policy
 *    and `maxAnchorDelay`, which its admin may change, are read afresh every tick.
 */
import { getAddress, ZeroAddress } from "ethers";
import { TriadError, type AnchorFacts, type EvidenceAnchor } from "@triad/sdk";
import { DEVICE_ACTIVE, type AnchorReader } from "../assess.ts";
import type { DaemonDeps } from "./context.ts";
import type { SkipReason } from "./report.ts";
import type { FiledClaim } from "./scan.ts";

/** What happened to a range's claims since they were filed. Keys are claim ids in decimal. */
export interface ClaimHistory {
  decided: Set<string>;
  /** The verdict digests this member signed, per claim. */
  signedByMe: Map<string, Set<string>>;
  /**
   * Per claim, the latest transaction that decided it or carried this member's signature: a claim skipped as decided
   * or already signed is safely done only once that transaction is as deep as the confirmation depth.
   */
  lastTx?: Map<string, { hash: string; blockNumber: number }>;
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
  /** The claim's filing time: the timestamp of the block of its `ClaimFiled` event (= `getClaim(id).filedAt`). */
  filedAt: bigint;
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
  const lastTx = new Map<string, { hash: string; blockNumber: number }>();
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
      const tx = { hash: entry.transactionHash, blockNumber: entry.blockNumber };
      if (parsed.name === "VerdictFinalised") {
        decided.add(id);
        lastTx.set(id, tx);
      } else if ((Number(parsed.args.signers) >> slot) & 1) {
        if (!signedByMe.has(id)) signedByMe.set(id, new Set());
        signedByMe.get(id)!.add(String(parsed.args.digest).toLowerCase());
        lastTx.set(id, tx);
      }
    }
  }
  return { decided, signedByMe, lastTx };
}

/** Whether `claim` is still open for this member: not decided, and its deadline (vs the latest block's time) ahead. */
export function claimState(claim: FiledClaim, history: ClaimHistory, now: bigint): { kind: "open"; claim: FiledClaim } | Skip {
  if (history.decided.has(claim.claimId.toString())) return { kind: "skip", claim, reason: "decided" };
  if (claim.assessmentDeadline <= now)
    return { kind: "skip", claim, reason: "deadline_passed", detail: { deadline: claim.assessmentDeadline.toString() } };
  return { kind: "open", claim };
}

export interface ClaimLookups extends AnchorReader {
  /**
   * Each claim with its policy, device status and filing time, or skipped when its product does not allow the model.
   * Called once per tick: the anchor facts that can change are read afresh after it.
   */
  lookup(claims: readonly FiledClaim[]): Promise<({ kind: "ready"; claim: CheckableClaim } | Skip)[]>;
  /** Forgets everything cached (the chain was reset or reorganised deeper than the confirmation depth). */
  clear(): void;
}

/** Bound on the cache of policies (a policy is a few hundred bytes). */
const POLICY_CACHE_SIZE = 100_000;

/**
 * `deps.contracts` is read at each call (a reset may re-resolve the deployment's addresses); the policy cache is keyed
 * by the claims contract's address and the policy id.
 */
export function createLookups(deps: Pick<DaemonDeps, "rpc" | "contracts" | "model" | "provider" | "config">): ClaimLookups {
  const { rpc, model, provider } = deps;
  const policyCache = new Map<string, PolicyRecord>();
  const newAnchorReader = () => createAnchorReader({ rpc, contracts: deps.contracts, startBlock: deps.config.startBlock });
  let anchors = newAnchorReader();
  return {
    anchorFacts: (...args) => anchors.anchorFacts(...args),
    maxAnchorDelay: (productId) => anchors.maxAnchorDelay(productId),
    clear() {
      policyCache.clear();
      anchors = newAnchorReader();
    },
    async lookup(claims) {
      anchors.newTick();
      const contracts = deps.contracts;
      const claimsAddress = await contracts.claims.getAddress();
      const policies = await lookupOnce(
        claims.map((c) => c.policyId.toString()),
        async (id) => {
          const key = `${claimsAddress}/${id}`;
          const cached = policyCache.get(key);
          if (cached) return cached;
          const p = await rpc.call("getPolicy", () => contracts.claims.getPolicy(BigInt(id)));
          const policy = { device: getAddress(p.device), start: p.start, end: p.end, productId: p.productId };
          if (policyCache.size >= POLICY_CACHE_SIZE) policyCache.clear();
          policyCache.set(key, policy);
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
      const filedAt = await lookupOnce(
        claims.map((c) => c.blockNumber),
        async (block) => {
          const found = await rpc.call("eth_getBlockByNumber", () => provider.getBlock(block));
          if (!found)
            throw new TriadError(`block ${block} of a ClaimFiled event is not available from the RPC endpoint`, "BLOCK_NOT_FOUND");
          return BigInt(found.timestamp);
        },
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
        const deviceStatus = Number(statuses.get(statusKey(claim))!);
        return { kind: "ready", claim: { ...claim, policy, deviceStatus, filedAt: filedAt.get(claim.blockNumber)! } };
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

/** Bound on each cache of anchor facts (an entry is a few dozen bytes); past it the cache starts afresh. */
const FACT_CACHE_SIZE = 100_000;

/**
 * `load()` once per key: concurrent callers share the pending read; a failed read, or a value `keep` refuses (a fact
 * that may still change, such as "not anchored yet"), is forgotten once settled.
 */
function memo<V>(
  cache: Map<string, Promise<V>>,
  key: string,
  load: () => Promise<V>,
  keep: (value: V) => boolean = () => true,
): Promise<V> {
  let pending = cache.get(key);
  if (pending === undefined) {
    if (cache.size >= FACT_CACHE_SIZE) cache.clear();
    pending = load();
    cache.set(key, pending);
    pending.then(
      (value) => {
        if (!keep(value) && cache.get(key) === pending) cache.delete(key);
      },
      () => {
        if (cache.get(key) === pending) cache.delete(key);
      },
    );
  }
  return pending;
}

/** An {@link AnchorReader} over the daemon's RPC choke point; `newTick()` forgets the facts that may change. */
export function createAnchorReader(
  deps: Pick<DaemonDeps, "rpc" | "contracts"> & { startBlock?: number },
): AnchorReader & { newTick(): void } {
  const { rpc } = deps;
  const { registry, claims } = deps.contracts;
  // Immutable once read: an anchor's time (once non-zero: it is as deep as the claim that cites it, see
  // docs/protocol.md §11.2), a device's status and owner at a past time, an authorisation at a past time, the account
  // that sent a batch anchor.
  const fleetAnchoredAt = new Map<string, Promise<bigint>>();
  const deviceAnchoredAt = new Map<string, Promise<bigint>>();
  const statusAt = new Map<string, Promise<number>>();
  const ownerAt = new Map<string, Promise<string>>();
  const authorisedAt = new Map<string, Promise<boolean>>();
  const batchAnchorer = new Map<string, Promise<string>>();
  // Set by the product's admin: read once per tick.
  let accepts = new Map<string, Promise<boolean>>();
  let delays = new Map<string, Promise<bigint>>();

  const productAccepts = (productId: bigint, gateway: string) =>
    memo(accepts, `${productId}/${gateway}`, () =>
      rpc.call("productAcceptsGateway", () => claims.productAcceptsGateway(productId, gateway)),
    );

  async function fleetFacts(device: string, anchor: { gateway: string; root: string }, productId?: bigint): Promise<AnchorFacts> {
    const { gateway, root } = anchor;
    const anchoredAt = await memo(
      fleetAnchoredAt,
      `${gateway}/${root}`,
      async () => (await rpc.call("fleetAnchorOf", () => registry.fleetAnchorOf(gateway, root))).anchoredAt,
      (t) => t !== 0n,
    );
    if (anchoredAt === 0n) return { anchoredAt, authorised: false, anchorer: gateway };
    const [status, owner] = await Promise.all([
      memo(statusAt, `${device}/${anchoredAt}`, async () =>
        Number(await rpc.call("statusAt", () => registry.statusAt(device, anchoredAt))),
      ),
      memo(ownerAt, `${device}/${anchoredAt}`, async () =>
        getAddress(await rpc.call("ownerAt", () => registry.ownerAt(device, anchoredAt))),
      ),
    ]);
    let authorised = status === DEVICE_ACTIVE && owner !== ZeroAddress;
    if (authorised && owner !== gateway) {
      authorised = await memo(authorisedAt, `${owner}/${gateway}/${anchoredAt}`, () =>
        rpc.call("gatewayAuthorisedAt", () => registry.gatewayAuthorisedAt(owner, gateway, anchoredAt)),
      );
    }
    const accepted = authorised && productId !== undefined ? await productAccepts(productId, gateway) : undefined;
    return { anchoredAt, authorised, accepted, anchorer: gateway };
  }

  async function deviceFacts(device: string, root: string, productId?: bigint): Promise<AnchorFacts> {
    const anchoredAt = await memo(
      deviceAnchoredAt,
      `${device}/${root}`,
      async () => {
        const anchor = await rpc.call("anchorOf", () => registry.anchorOf(device, root));
        return anchor.device === ZeroAddress ? 0n : anchor.anchoredAt;
      },
      (t) => t !== 0n,
    );
    // anchorBatch itself refused callers the owner had not authorised and devices that were not Active.
    if (anchoredAt === 0n || productId === undefined) return { anchoredAt, authorised: anchoredAt !== 0n };
    // The registry does not store who sent a batch anchor; its BatchAnchored event (indexed by device and root) does.
    const anchorer = await memo(
      batchAnchorer,
      `${device}/${root}`,
      async () => {
        const logs = await rpc.call("eth_getLogs", () =>
          registry.queryFilter(registry.filters.BatchAnchored(device, root), deps.startBlock ?? 0),
        );
        return logs.length > 0 ? getAddress(logs[0].args.by) : ZeroAddress;
      },
      (by) => by !== ZeroAddress,
    );
    const accepted = anchorer !== ZeroAddress && (await productAccepts(productId, anchorer));
    return { anchoredAt, authorised: true, accepted, anchorer: anchorer === ZeroAddress ? undefined : anchorer };
  }

  return {
    anchorFacts(device, anchors: readonly EvidenceAnchor[], productId) {
      const d = getAddress(device);
      return Promise.all(
        anchors.map((a) =>
          a.kind === "fleet"
            ? fleetFacts(d, { gateway: getAddress(a.gateway), root: a.root }, productId)
            : deviceFacts(d, a.root, productId),
        ),
      );
    },
    maxAnchorDelay(productId) {
      return memo(delays, productId.toString(), async () =>
        BigInt((await rpc.call("getProduct", () => claims.getProduct(productId))).maxAnchorDelay),
      );
    },
    newTick() {
      accepts = new Map();
      delays = new Map();
    },
  };
}
