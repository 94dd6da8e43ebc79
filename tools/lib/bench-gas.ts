/**
 * Gas of the main operations (whole-transaction `gasUsed` from receipts: 21,000 intrinsic + calldata + execution),
 * sent through the SDK actions users and dApps call, on the benchmark's Ignition deployment.
 */
import { id, type ContractTransactionReceipt } from "ethers";
import {
  anchorFleet,
  anchorReadings,
  buildVerdict,
  claimsDomain,
  createListing,
  deliverContentKey,
  deviceRegistryDomain,
  encryptionPublicKey,
  fileClaim,
  generateContentKey,
  purchaseListing,
  registerDevice,
  settleClaim,
  signAi4iRows,
  signDigest,
  signVerdict,
  readingDigest,
  telemetryToValues,
  buyPolicy,
  findEvent,
  type SignedReading,
  type Verdict,
} from "@triad/sdk/node";
import { ai4iRows, networkHelpers } from "@triad/devkit";
import { UNIT, benchDeviceKey, insureDevices, setCommittee, type BenchSuite } from "./bench-suite.ts";

const { time } = networkHelpers;

/** The JSON keys of `gas` in bench/results.json (stable: other tools read them). */
export interface GasFigures {
  registerDevice: number;
  anchorBatch: number;
  anchorPerReading256: number;
  anchorPerReading1024: number;
  /** anchorFleet (cold slot, gateway-style URI): the largest of {@link FLEET_SIZES}, the anchor gas per interval. */
  anchorFleet: number;
  createListing: number;
  purchase: number;
  deliverKey: number;
  buyPolicy: number;
  fileClaim: number;
  submitVerdict1: number;
  submitVerdict3: number;
  batchVerdictPerClaim20: number;
  settle: number;
}

/** Figures behind the headline ones (RESULTS.md and `notes` in results.json). */
export interface GasDetail {
  /** anchorBatch gas by batch size (readings). */
  anchorBySize: Record<string, number>;
  /** anchorFleet gas by tree size (readings of {@link FLEET_DEVICES} devices), each a fresh (gateway, root) slot. */
  anchorFleetBySize: Record<string, number>;
  /** One signature, finalising, on the standard product: the verdict recorded, the payout left to `settle`. */
  submitVerdict1Standard: number;
  /** Batch of 20 on the standard product: verdicts recorded, payouts later at `settle`. */
  batchVerdictPerClaim20Standard: number;
  /** The 2-of-2 verdict that preceded `settle` (standard product, verdict recorded). */
  submitVerdict2Standard: number;
  /** The first claim filed: the claims contract's token balance goes from zero to non-zero. */
  fileClaimFirstDeposit: number;
  /** The first sale on the fresh marketplace (fresh balance slots), for comparison with the measured second one. */
  firstSale: { createListing: number; purchase: number; deliverKey: number };
}

/** Batch sizes anchored (readings); the 256 and 1,024 ones give the per-reading figures. */
export const ANCHOR_SIZES = [1, 256, 1024] as const;
/** Fleet tree sizes anchored (readings per interval). */
export const FLEET_SIZES = [1, 1_000, 10_000] as const;
/** Devices whose readings make up the fleet trees. */
export const FLEET_DEVICES = 100;
const CLAIM_AMOUNT = 1_000n * UNIT;
const COVERAGE = 5_000n * UNIT;
/** 24 bytes, like the insurance gas script's claims. */
const EVIDENCE_URI = "ipfs://evidence/abcdefgh";

const gasOf = (receipt: ContractTransactionReceipt | null): number => Number(receipt!.gasUsed);

export async function measureGas(s: BenchSuite, progress: (message: string) => void): Promise<{ gas: GasFigures; detail: GasDetail }> {
  const { triad, holder, buyer, deployer, members } = s;
  const registry = triad.registry.connect(holder);
  const claims = triad.claims.connect(holder);
  const token = triad.token.connect(holder);
  const registryDomain = deviceRegistryDomain(triad.chainId, s.addresses.registry);
  const verdictDomain = claimsDomain(triad.chainId, s.addresses.claims);

  // ---------------------------------------------------------------- devices
  const deviceKey = benchDeviceKey("gas", 0);
  const registered = await registerDevice(registry, { deviceKey });
  const rows = ai4iRows();
  const anchorBySize: Record<string, number> = {};
  let seq = 1n;
  const roots: string[] = [];
  const now = BigInt(await time.latest());
  for (const size of ANCHOR_SIZES) {
    const readings = await signAi4iRows({
      deviceKey,
      domain: registryDomain,
      rows: rows.slice(0, size),
      startSeq: seq,
      startTimestamp: now - 86_400n,
    });
    const anchored = await anchorReadings(registry, {
      domain: registryDomain,
      readings,
      uri: `ipfs://bench/batch/${String(seq).padStart(6, "0")}`,
    });
    anchorBySize[size] = gasOf(anchored.receipt);
    seq += BigInt(size);
    roots.push(anchored.root);
  }
  progress(`gas: device registered, batches of ${ANCHOR_SIZES.join(", ")} readings anchored`);

  // One fleet anchor per interval: readings of FLEET_DEVICES devices (signed with their keys) under one root, with
  // the URI a gateway emits. The readings never reach the chain, so the tree size changes nothing but the count.
  const fleetKeys = Array.from({ length: FLEET_DEVICES }, (_, i) => benchDeviceKey("fleet", i));
  const anchorFleetBySize: Record<string, number> = {};
  let fleetSeq = 0n;
  for (const size of FLEET_SIZES) {
    const readings = Array.from({ length: size }, (_, i): SignedReading => {
      const key = fleetKeys[i % FLEET_DEVICES];
      const tick = BigInt(Math.floor(i / FLEET_DEVICES));
      const reading = {
        device: key.address,
        seq: fleetSeq + tick,
        timestamp: now - 3_600n + tick,
        values: telemetryToValues(rows[i % rows.length]),
      };
      return { ...reading, signature: signDigest(key.privateKey, readingDigest(registryDomain, reading)) };
    });
    const anchored = await anchorFleet(registry, {
      domain: registryDomain,
      readings,
      uri: (root) => `triad-gw://${holder.address.toLowerCase()}/anchors/${root}`,
    });
    anchorFleetBySize[size] = gasOf(anchored.receipt);
    fleetSeq += BigInt(Math.ceil(size / FLEET_DEVICES));
  }
  progress(`gas: fleet trees of ${FLEET_SIZES.join(", ")} readings anchored`);

  // ---------------------------------------------------------------- marketplace
  // The first sale on a fresh marketplace also creates its token balance and the seller's and treasury's proceeds
  // slots (zero → non-zero); measured is the second one, as in docs/market.md ("balances already non-zero").
  const market = triad.market.connect(holder);
  const buyerPublicKey = encryptionPublicKey(id("triad/bench/buyer-encryption-key"));
  const sell = async (n: number) => {
    const listing = await createListing(market, {
      kind: "dataset",
      price: 25n * UNIT,
      deliveryWindow: 86_400n,
      contentHash: id(`triad/bench/dataset/${n}`),
      termsHash: id("triad/bench/terms"),
      metadataURI: `triad://market/datasets/bench-${n}`,
      devices: [registered.device],
      anchors: [roots[n]],
    });
    const bought = await purchaseListing(triad.market.connect(buyer), triad.token.connect(buyer), {
      listingId: listing.listingId,
      buyerPublicKey,
    });
    const delivered = await deliverContentKey(market, { purchaseId: bought.purchaseId, contentKey: generateContentKey() });
    return { createListing: gasOf(listing.receipt), purchase: gasOf(bought.receipt), deliverKey: gasOf(delivered.receipt) };
  };
  const firstSale = await sell(0);
  const sale = await sell(1);
  progress("gas: datasets listed, bought and their keys delivered");

  // ---------------------------------------------------------------- insurance
  const policyDevice = benchDeviceKey("gas-standard", 0);
  await registerDevice(registry, { deviceKey: policyDevice });
  const standardPolicy = await buyPolicy(claims, token, {
    productId: s.standardProductId,
    device: policyDevice.address,
    coverage: COVERAGE,
    durationSeconds: 90n * 86_400n,
  });
  // Parametric policies (1 + 1 + 20) and 20 standard ones; insureDevices lets the waiting period pass.
  const parametric = await insureDevices(s, { count: 22, tag: "gas-parametric", productId: s.parametricProductId, coverage: COVERAGE });
  const standard = await insureDevices(s, { count: 21, tag: "gas-standard-batch", productId: s.standardProductId, coverage: COVERAGE });

  // A claim's incident window is reserved in a bitmap of minutes, 256 to a storage word: a window across a word
  // boundary writes two fresh words (about 22,500 gas more) instead of one. Which case a claim meets depends on the
  // time of the run, so every measured claim's window lies in one word (the common case: a 25-minute window crosses a
  // boundary about one time in ten).
  const file = async (policyId: bigint) => {
    const { productId } = await triad.claims.getPolicy(policyId);
    const product = await triad.claims.getProduct(productId);
    const incidentAt = incidentInOneWord(BigInt(await time.latest()) - 600n, product);
    const evidenceHash = id(`triad/bench/gas/evidence/${policyId}`);
    const filed = await fileClaim(claims, token, { policyId, amount: CLAIM_AMOUNT, incidentAt, evidenceHash, evidenceURI: EVIDENCE_URI });
    const verdict = buildVerdict(
      { claimId: filed.claimId, amount: CLAIM_AMOUNT, evidenceHash, assessmentDeadline: filed.assessmentDeadline },
      { approved: true, scoreBps: 9_100, reasonCode: 0 },
      triad.modelHash,
    );
    return { ...filed, verdict };
  };
  const signBy = (k: number, verdict: Verdict) => Promise.all(members.slice(0, k).map((m) => signVerdict(m, verdictDomain, verdict)));
  const submit = async (verdict: Verdict, signatures: string[]) =>
    (await (await triad.claims.connect(deployer).submitVerdict(verdict, signatures)).wait())!;
  const paidAtOnce = (receipt: ContractTransactionReceipt) => {
    const settled = findEvent(triad.claims, receipt, "ClaimSettled");
    if (settled.args.paid !== CLAIM_AMOUNT) throw new Error(`expected the payout in the verdict's transaction, got ${settled.args.paid}`);
    return gasOf(receipt);
  };

  // Steady state: claims have been filed before and the claims contract holds other open claims' deposits. The very
  // first claim turns the claim counter and the contract's token balance from zero to non-zero (2 × 17,100 more on
  // that fileClaim), and refunding the last deposit held clears the balance (a 4,800 gas refund on that verdict or
  // settle): neither is what a running deployment pays. The first claim filed here stays open (approved on the
  // standard product, never settled) for the rest of the measurements.
  // One signature finalises only in a committee of one (a strict majority, audit I-4): member 0 alone, 1 of 1.
  await setCommittee(s, 1);
  const recorded = await file(standard[20].policyId);
  const submitVerdict1Standard = gasOf(await submit(recorded.verdict, await signBy(1, recorded.verdict)));
  const standardClaim = await file(standardPolicy.policyId);

  // Parametric product: the finalising verdict pays in its own transaction.
  const one = await file(parametric[0].policyId);
  const submitVerdict1 = paidAtOnce(await submit(one.verdict, await signBy(1, one.verdict)));
  await setCommittee(s, 3);
  const three = await file(parametric[1].policyId);
  const submitVerdict3 = paidAtOnce(await submit(three.verdict, await signBy(3, three.verdict)));
  progress("gas: policy bought, claims filed, verdicts with 1 and 3 signatures");

  await setCommittee(s, 1);
  const batchOf20 = async (policies: { policyId: bigint }[]) => {
    const filed = [];
    for (const p of policies) filed.push(await file(p.policyId));
    const signatures = await Promise.all(filed.map((f) => signBy(1, f.verdict)));
    const receipt = (await (
      await triad.claims.connect(deployer).submitVerdicts(
        filed.map((f) => f.verdict),
        signatures,
      )
    ).wait())!;
    const finalised = receipt.logs.filter((l) => l.topics[0] === triad.claims.interface.getEvent("VerdictFinalised").topicHash).length;
    if (finalised !== policies.length) throw new Error(`batch: ${finalised} of ${policies.length} verdicts finalised`);
    return Math.round(gasOf(receipt) / policies.length);
  };
  const batchVerdictPerClaim20 = await batchOf20(parametric.slice(2, 22));
  const batchVerdictPerClaim20Standard = await batchOf20(standard.slice(0, 20));

  // Standard product (the deployment's default, 2-of-3): decide with 2 signatures, settle after the appeal window.
  await setCommittee(s, 2);
  const decided = await submit(standardClaim.verdict, await signBy(2, standardClaim.verdict));
  await time.increaseTo((await triad.claims.getClaim(standardClaim.claimId)).appealDeadline);
  const settled = await settleClaim(triad.claims.connect(deployer), standardClaim.claimId);
  if (settled.status !== "Paid") throw new Error(`settle: expected Paid, got ${settled.status}`);
  progress("gas: batches of 20 verdicts (parametric and standard), settle");

  return {
    gas: {
      registerDevice: gasOf(registered.receipt),
      anchorBatch: Math.max(...Object.values(anchorBySize)),
      anchorPerReading256: Math.round(anchorBySize[256] / 256),
      anchorPerReading1024: Math.round(anchorBySize[1024] / 1024),
      anchorFleet: Math.max(...Object.values(anchorFleetBySize)),
      ...sale,
      buyPolicy: gasOf(standardPolicy.receipt),
      fileClaim: gasOf(standardClaim.receipt),
      submitVerdict1,
      submitVerdict3,
      batchVerdictPerClaim20,
      settle: gasOf(settled.receipt),
    },
    detail: {
      anchorBySize,
      anchorFleetBySize,
      submitVerdict1Standard,
      batchVerdictPerClaim20Standard,
      submitVerdict2Standard: gasOf(decided),
      fileClaimFirstDeposit: gasOf(recorded.receipt),
      firstSale,
    },
  };
}

/** Seconds of one word of the claims contract's incident bitmap (256 minutes). */
const INCIDENT_WORD_SECONDS = 256n * 60n;

/**
 * `latest`, or the latest instant before it whose incident window `[t − before, t + after]` lies within one word of
 * the claims contract's bitmap of minutes (docs/protocol.md §10.3).
 */
export function incidentInOneWord(latest: bigint, product: { incidentWindowBefore: bigint; incidentWindowAfter: bigint }): bigint {
  const wordOf = (t: bigint) => t / 60n / 256n;
  if (wordOf(latest - product.incidentWindowBefore) === wordOf(latest + product.incidentWindowAfter)) return latest;
  // The window ends in the last second before the boundary it crossed.
  return wordOf(latest + product.incidentWindowAfter) * INCIDENT_WORD_SECONDS - 1n - product.incidentWindowAfter;
}
