/**
 * `triad.evidence/v2` (docs/protocol.md §7): building, canonical bytes, parsing, the off-chain checks (signatures,
 * Merkle proofs with the registry's leaf rule, seq contiguity, timestamp order, the window's edges) and the rule the
 * oracle applies to what the chain says about each anchor. No chain here: the on-chain part is
 * packages/oracle/test/provenance.test.ts.
 */
import { expect } from "chai";
import fc from "fast-check";
import { Wallet, getAddress, id, keccak256, toBeHex } from "ethers";
import {
  CLAIM_REASONS,
  EVIDENCE_SCHEMA_V2,
  EvidenceError,
  InvalidInputError,
  MAX_CLOCK_AHEAD_SECONDS,
  buildEvidenceBundle,
  buildEvidenceBundleV2,
  buildReadingTree,
  deviceRegistryDomain,
  evidenceHash,
  parseEvidence,
  prepareFleetBatch,
  prepareReadingBatch,
  readingProofRoot,
  reasonCodeOfEvidenceFailure,
  serializeEvidence,
  signAi4iRows,
  signReading,
  verifyEvidenceAnchoring,
  verifyEvidenceReadings,
  verifyReadingProof,
  type AnchorFacts,
  type EvidenceBundleV2,
  type EvidenceFailureReason,
  type ProvenReading,
  type SignedReading,
} from "@triad/sdk";
import { failureRows, normalRows } from "@triad/devkit";
import { checkEvidence } from "../src/assess.ts";

const CHAIN_ID = 31337n;
const REGISTRY = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const DOMAIN = deviceRegistryDomain(CHAIN_ID, REGISTRY);
const DEVICE = new Wallet(id("triad/test/evidence-v2/device"));
const GATEWAY = new Wallet(id("triad/test/evidence-v2/gateway")).address;
const INCIDENT = 1_700_000_000n;
const WINDOW = { beforeSeconds: 600, afterSeconds: 60 };

function reasonOf(fn: () => unknown): EvidenceFailureReason {
  try {
    fn();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(EvidenceError);
    return (error as EvidenceError).reason;
  }
  expect.fail("expected an EvidenceError");
}

/** Readings of DEVICE: one before the window, `rows` a minute apart up to INCIDENT, one after; seqs from `seq`. */
async function signedWindow(rows = [...normalRows(3), ...failureRows("HDF", 2)], seq = 10n): Promise<SignedReading[]> {
  const sign = (r: typeof rows, s: bigint, at: bigint) =>
    signAi4iRows({ deviceKey: DEVICE, domain: DOMAIN, rows: r, startSeq: s, startTimestamp: at, intervalSeconds: 60n });
  const first = INCIDENT - 60n * BigInt(rows.length - 1);
  return [
    ...(await sign(normalRows(1), seq, INCIDENT - 601n)),
    ...(await sign(rows, seq + 1n, first)),
    ...(await sign(normalRows(1), seq + 1n + BigInt(rows.length), INCIDENT + 61n)),
  ];
}

/** All readings under one fleet anchor of GATEWAY, as the gateway's evidence API serves them. */
function fleetProven(readings: readonly SignedReading[]): ProvenReading[] {
  const batch = prepareFleetBatch(DOMAIN, readings);
  const anchor = { kind: "fleet" as const, gateway: GATEWAY, root: batch.root };
  return batch.entries.map((e) => ({ reading: e.reading, anchor, proof: e.proof }));
}

function v2Of(proven: readonly ProvenReading[]): EvidenceBundleV2 {
  return buildEvidenceBundleV2({
    chainId: CHAIN_ID,
    registry: REGISTRY,
    incidentAt: INCIDENT,
    before: proven[0],
    readings: proven.slice(1, -1),
    after: proven[proven.length - 1],
  });
}

const clone = (b: EvidenceBundleV2): EvidenceBundleV2 => structuredClone(b);
const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("oracle: triad.evidence/v2 (sdk/evidence)", function () {
  let readings: SignedReading[];
  let bundle: EvidenceBundleV2;
  before(async function () {
    readings = await signedWindow();
    bundle = v2Of(fleetProven(readings));
  });

  it("serialises canonically (key order of §7), hashes the exact bytes and parses back to the same bytes", function () {
    const bytes = serializeEvidence(bundle);
    const json = JSON.parse(new TextDecoder().decode(bytes));
    expect(Object.keys(json)).to.deep.equal([
      "schema",
      "chainId",
      "registry",
      "device",
      "sensorSchema",
      "incidentAt",
      "before",
      "readings",
      "after",
    ]);
    expect(Object.keys(json.readings[0])).to.deep.equal(["seq", "timestamp", "values", "signature", "anchor", "proof"]);
    expect(Object.keys(json.before.anchor)).to.deep.equal(["kind", "gateway", "root"]);
    expect(json.schema).to.equal(EVIDENCE_SCHEMA_V2);
    expect(json.after.anchor.gateway).to.equal(GATEWAY); // EIP-55
    expect(json.after.anchor.root).to.match(/^0x[0-9a-f]{64}$/);
    const parsed = parseEvidence(bytes);
    expect(parsed.schema).to.equal(EVIDENCE_SCHEMA_V2);
    expect(evidenceHash(serializeEvidence(parsed))).to.equal(keccak256(bytes));
    // A device anchor has no gateway.
    const device = v2Of(fleetProven(readings).map((p) => ({ ...p, anchor: { kind: "device" as const, root: p.anchor.root } })));
    expect(Object.keys(JSON.parse(new TextDecoder().decode(serializeEvidence(device))).readings[0].anchor)).to.deep.equal(["kind", "root"]);
  });

  it("matches the worked example of docs/protocol.md §7.2 byte for byte", async function () {
    const device = new Wallet("0x" + "00".repeat(31) + "01");
    const gateway = new Wallet("0x" + "00".repeat(31) + "02");
    const domain = deviceRegistryDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const rows = [
      { seq: 1n, timestamp: 1767225600n, values: [298100n, 308600n, 1551n, 42800n, 0n, 1n] },
      { seq: 2n, timestamp: 1767225660n, values: [298200n, 308700n, 1408n, 46300n, 3n, 1n] },
      { seq: 3n, timestamp: 1767225720n, values: [298100n, 308700n, 1498n, 49400n, 5n, 1n] },
    ];
    const signed = [];
    for (const r of rows) signed.push(await signReading(device, domain, { device: device.address, ...r }));
    const batch = prepareFleetBatch(domain, signed);
    expect(batch.root).to.equal("0xb3b677d409604a1687f5a816efee72748a17876edb23bc62f8cd43bc8658b770");
    const anchor = { kind: "fleet" as const, gateway: gateway.address, root: batch.root };
    const proven = batch.entries.map((e) => ({ reading: e.reading, anchor, proof: e.proof }));
    const example = buildEvidenceBundleV2({
      chainId: 31337n,
      registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      incidentAt: 1767225660n,
      before: proven[0],
      readings: [proven[1]],
      after: proven[2],
    });
    const bytes = serializeEvidence(example);
    expect(bytes.length).to.equal(1782);
    expect(evidenceHash(bytes)).to.equal("0xbe4a520419cb8a67734bb4c2267e84700b31900c220ce5b5fb360d6fe01ffd48");
  });

  it("verifies signatures, proofs and completeness; the model gets the window's readings, the chain checks one entry per distinct anchor", function () {
    const verified = verifyEvidenceReadings(bundle, { device: DEVICE.address, incidentAt: INCIDENT, valuesPerReading: 6, window: WINDOW });
    expect(verified.readings.map((r) => r.seq)).to.deep.equal(readings.slice(1, -1).map((r) => r.seq));
    expect(verified.anchoring!.anchors).to.deep.equal([bundle.before.anchor]);
    expect(verified.anchoring!.readings.map((r) => [r.label, r.seq, r.anchor])).to.deep.equal([
      ["the reading before", 10n, 0],
      ...bundle.readings.map((r, i) => [`reading ${i}`, BigInt(r.seq), 0]),
      ["the reading after", 16n, 0],
    ]);
    // Two anchors: each reading names its own, and the distinct ones are listed once.
    const split = [...fleetProven(readings.slice(0, 3)), ...fleetProven(readings.slice(3))];
    const twoAnchors = verifyEvidenceReadings(v2Of(split)).anchoring!;
    expect(twoAnchors.anchors).to.have.length(2);
    expect(twoAnchors.readings.map((r) => r.anchor)).to.deep.equal([0, 0, 0, 1, 1, 1, 1]);
    // The per-device batch tree (anchorBatch) proves the same way.
    const batch = prepareReadingBatch(DOMAIN, readings);
    const viaDevice = batch.entries.map((e) => ({
      reading: e.reading,
      anchor: { kind: "device" as const, root: batch.root },
      proof: e.proof,
    }));
    expect(verifyEvidenceReadings(v2Of(viaDevice)).anchoring!.anchors).to.deep.equal([{ kind: "device", root: batch.root }]);
    // v1 still parses and verifies in the SDK, without anchoring; the oracle refuses it (below).
    const v1 = buildEvidenceBundle({ chainId: CHAIN_ID, registry: REGISTRY, incidentAt: INCIDENT, readings });
    expect(verifyEvidenceReadings(v1).anchoring).to.equal(undefined);
  });

  it("refuses, in a fixed order: seq gaps, time going backwards, readings not under their anchor's root, an edge inside the window", async function () {
    const gap = clone(bundle);
    gap.readings.splice(2, 1);
    expect(reasonOf(() => verifyEvidenceReadings(gap))).to.equal("INCOMPLETE_WINDOW");
    const noBefore = clone(bundle);
    noBefore.before = noBefore.readings.shift()!; // the window's first reading passed off as the reading before it
    expect(verifyEvidenceReadings(noBefore).readings).to.have.length(bundle.readings.length - 1);
    expect(reasonOf(() => verifyEvidenceReadings(noBefore, { window: WINDOW }))).to.equal("INCOMPLETE_WINDOW"); // the edge lies inside
    const noAfter = clone(bundle);
    noAfter.after = noAfter.readings.pop()!;
    expect(reasonOf(() => verifyEvidenceReadings(noAfter, { window: WINDOW }))).to.equal("INCOMPLETE_WINDOW");
    const repeated = clone(bundle);
    repeated.readings[2] = repeated.readings[1];
    expect(reasonOf(() => verifyEvidenceReadings(repeated))).to.equal("SEQ_NOT_INCREASING");

    // Time going backwards (validly signed and anchored readings).
    const backwards = [...readings];
    const [earlier] = await signAi4iRows({
      deviceKey: DEVICE,
      domain: DOMAIN,
      rows: normalRows(1),
      startSeq: backwards[3].seq,
      startTimestamp: backwards[2].timestamp - 1n,
    });
    backwards[3] = earlier;
    expect(reasonOf(() => verifyEvidenceReadings(v2Of(fleetProven(backwards))))).to.equal("IMPLAUSIBLE_TIMESTAMP");
    // Equal timestamps are not backwards.
    const sameSecond = [...readings];
    sameSecond[3] = (
      await signAi4iRows({
        deviceKey: DEVICE,
        domain: DOMAIN,
        rows: normalRows(1),
        startSeq: readings[3].seq,
        startTimestamp: readings[2].timestamp,
      })
    )[0];
    expect(() => verifyEvidenceReadings(v2Of(fleetProven(sameSecond)))).to.not.throw();

    // Proofs: a sibling changed, a proof of another reading, another root, a leaf of another device's tree.
    const sibling = clone(bundle);
    sibling.readings[1].proof[0] = keccak256(sibling.readings[1].proof[0]);
    expect(reasonOf(() => verifyEvidenceReadings(sibling))).to.equal("NOT_ANCHORED");
    const swapped = clone(bundle);
    swapped.readings[1].proof = swapped.readings[2].proof;
    expect(reasonOf(() => verifyEvidenceReadings(swapped))).to.equal("NOT_ANCHORED");
    const rooted = clone(bundle);
    rooted.after.anchor = { ...rooted.after.anchor, root: keccak256(rooted.after.anchor.root) };
    expect(reasonOf(() => verifyEvidenceReadings(rooted))).to.equal("NOT_ANCHORED");
    // A tampered value fails its signature first (BAD_SIGNATURE comes before NOT_ANCHORED).
    const tampered = clone(bundle);
    tampered.readings[0].values[3] = "65100";
    expect(reasonOf(() => verifyEvidenceReadings(tampered))).to.equal("BAD_SIGNATURE");

    // The policy period binds the window's readings, not the edges around them.
    const period = { start: BigInt(bundle.readings[0].timestamp), end: BigInt(bundle.readings.at(-1)!.timestamp) };
    expect(() => verifyEvidenceReadings(bundle, { period })).to.not.throw();
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { period: { ...period, start: period.start + 1n } }))).to.equal(
      "OUTSIDE_POLICY_PERIOD",
    );
  });

  it("parse: the v2 shape is exact (anchors, proofs, edges); a missing signature anywhere is MISSING_SIGNATURE", function () {
    const original = JSON.parse(new TextDecoder().decode(serializeEvidence(bundle)));
    const variants: [string, (b: typeof original) => void][] = [
      ["no before", (b) => delete b.before],
      ["no after", (b) => delete b.after],
      ["null after", (b) => (b.after = null)],
      ["no anchor", (b) => delete b.readings[0].anchor],
      ["no proof", (b) => delete b.readings[1].proof],
      ["anchor kind", (b) => (b.readings[0].anchor.kind = "batch")],
      ["device anchor with gateway", (b) => (b.readings[0].anchor = { kind: "device", gateway: GATEWAY, root: b.readings[0].anchor.root })],
      ["fleet anchor without gateway", (b) => delete b.before.anchor.gateway],
      ["bad gateway", (b) => (b.after.anchor.gateway = "0x1234")],
      ["short root", (b) => (b.readings[0].anchor.root = "0x1234")],
      ["proof not a list", (b) => (b.readings[0].proof = b.readings[0].proof[0])],
      ["proof element", (b) => (b.readings[0].proof[0] = 7)],
      ["proof too long", (b) => (b.readings[0].proof = Array(65).fill(b.readings[0].proof[0]))],
      ["anchored v1", (b) => (b.schema = "triad.evidence/v1")],
      ["empty readings", (b) => (b.readings = [])],
      ["extra field", (b) => (b.window = { from: 0, to: 1 })],
    ];
    for (const [name, mutate] of variants) {
      const doc = structuredClone(original);
      mutate(doc);
      expect(
        reasonOf(() => parseEvidence(bytesOf(doc))),
        name,
      ).to.equal("WRONG_SCHEMA");
    }
    for (const where of ["before", "after"] as const) {
      const doc = structuredClone(original);
      delete doc[where].signature;
      expect(
        reasonOf(() => parseEvidence(bytesOf(doc))),
        where,
      ).to.equal("MISSING_SIGNATURE");
    }
  });

  it("the oracle's off-chain check refuses v1 bundles (no anchors) as NOT_ANCHORED and checks the model's window", function () {
    const v1 = serializeEvidence(buildEvidenceBundle({ chainId: CHAIN_ID, registry: REGISTRY, incidentAt: INCIDENT, readings }));
    const refused = checkEvidence(v1, { window: WINDOW });
    expect(refused).to.deep.include({ ok: false, reason: "NOT_ANCHORED" });
    expect(checkEvidence(serializeEvidence(bundle), { window: WINDOW }).ok).to.equal(true);
    expect(checkEvidence(serializeEvidence(bundle), { window: { beforeSeconds: 700, afterSeconds: 60 } })).to.deep.include({
      ok: false,
      reason: "INCOMPLETE_WINDOW",
    });
  });

  it("readingProofRoot follows the registry's leaf rule: the root StandardMerkleTree builds, for every leaf", function () {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1000 }), (n, salt) => {
        const digests = Array.from({ length: n }, (_, i) => keccak256(toBeHex(salt * 1000 + i + 1, 32)));
        const tree = buildReadingTree(digests);
        for (const [i, [digest]] of tree.entries()) {
          const proof = tree.getProof(i);
          expect(readingProofRoot(digest, proof)).to.equal(tree.root);
          expect(verifyReadingProof(tree.root, digest, proof)).to.equal(true);
        }
      }),
      { numRuns: 25, seed: 14 },
    );
    expect(readingProofRoot("0x1234", [])).to.equal(undefined);
    expect(readingProofRoot(keccak256("0x01"), ["nope"])).to.equal(undefined);
  });

  it("the anchoring rule: not on-chain, not authorised, not accepted, late or after filing, timestamp ahead of its anchor — first failure in reading order", function () {
    const { anchoring } = verifyEvidenceReadings(bundle);
    const first = BigInt(bundle.before.timestamp);
    const last = BigInt(bundle.after.timestamp);
    const ok: AnchorFacts = { anchoredAt: last + 60n, authorised: true, accepted: true, anchorer: GATEWAY };
    const rules = { filedAt: last + 120n, maxAnchorDelay: 3600n };
    const run = (facts: Partial<AnchorFacts>, r: Partial<typeof rules> & { maxClockAhead?: bigint } = {}) =>
      reasonOf(() => verifyEvidenceAnchoring(anchoring!, [{ ...ok, ...facts }], { ...rules, ...r }));
    expect(() => verifyEvidenceAnchoring(anchoring!, [ok], rules)).to.not.throw();
    expect(run({ anchoredAt: 0n })).to.equal("NOT_ANCHORED");
    expect(run({ authorised: false })).to.equal("GATEWAY_NOT_AUTHORISED");
    expect(run({ authorised: false, accepted: false })).to.equal("GATEWAY_NOT_AUTHORISED");
    expect(run({ accepted: false })).to.equal("GATEWAY_NOT_ACCEPTED");
    expect(() => verifyEvidenceAnchoring(anchoring!, [{ ...ok, accepted: undefined }], rules)).to.not.throw(); // not checked
    expect(run({}, { filedAt: ok.anchoredAt - 1n })).to.equal("ANCHORED_LATE");
    expect(() => verifyEvidenceAnchoring(anchoring!, [ok], { ...rules, filedAt: ok.anchoredAt })).to.not.throw(); // same block
    // maxAnchorDelay counts from each reading's own timestamp: the oldest (the reading before) decides.
    expect(() =>
      verifyEvidenceAnchoring(anchoring!, [{ ...ok, anchoredAt: first + 3600n }], { ...rules, filedAt: undefined }),
    ).to.not.throw();
    expect(run({ anchoredAt: first + 3601n }, { filedAt: first + 3601n })).to.equal("ANCHORED_LATE");
    // A reading may be ahead of its anchor by at most MAX_CLOCK_AHEAD_SECONDS.
    const ahead = (anchoredAt: bigint) => verifyEvidenceAnchoring(anchoring!, [{ ...ok, anchoredAt }], { maxAnchorDelay: 10n ** 9n });
    expect(() => ahead(last - MAX_CLOCK_AHEAD_SECONDS)).to.not.throw();
    expect(reasonOf(() => ahead(last - MAX_CLOCK_AHEAD_SECONDS - 1n))).to.equal("IMPLAUSIBLE_TIMESTAMP");
    expect(() => verifyEvidenceAnchoring(anchoring!, [], rules)).to.throw(InvalidInputError);
  });

  it("every evidence failure has its own on-chain reason code, never 0", function () {
    const reasons: EvidenceFailureReason[] = [
      "NOT_ANCHORED",
      "INCOMPLETE_WINDOW",
      "IMPLAUSIBLE_TIMESTAMP",
      "GATEWAY_NOT_AUTHORISED",
      "GATEWAY_NOT_ACCEPTED",
      "ANCHORED_LATE",
    ];
    for (const reason of reasons) {
      const code = reasonCodeOfEvidenceFailure(reason);
      expect(code, reason).to.be.greaterThan(0);
      expect(CLAIM_REASONS.find((r) => r.code === code)?.name).to.equal(reason);
    }
  });
});
