/**
 * Provenance of claim evidence (issue 14, docs/protocol.md §7 and §11.3): the frauds a claimant holding the device key
 * can try, each refused by the real daemon with its reason code, and honest anchored claims approved. Everything
 * runs against the in-process chain with the real registry, claims contract and committee (1 of 1), the fixture's
 * gateway account (authorised by the device owner) anchoring readings as a gateway does, and one claim whose
 * evidence comes from a real gateway (MQTT ingest, SQLite store, fleet anchoring, HTTP evidence API).
 */
import path from "node:path";
import { expect } from "chai";
import mqtt from "mqtt";
import pino from "pino";
import { Wallet, id } from "ethers";
import {
  GatewayPolicy,
  anchorReadings,
  buildEvidenceBundle,
  buildEvidenceBundleV2,
  deviceRegistryDomain,
  deviceTopic,
  encodeWireReading,
  enumValue,
  evidenceHash,
  prepareFleetBatch,
  readingDigest,
  readingProof,
  reasonCodeOfEvidenceFailure,
  registerDevice,
  serializeEvidence,
  signAi4iRows,
  signReading,
  type Ai4iRow,
  type EvidenceBundleV2,
  type EvidenceFailureReason,
  type ProvenReading,
  type SignedReading,
} from "@triad/sdk";
import { parseConfig as parseGatewayConfig, startGateway } from "@triad/gateway";
import { ethers, networkHelpers } from "@triad/devkit/network";
import {
  PARAMETRIC_PRODUCT,
  anchorAsGateway,
  deployOracleFixture,
  failureRows,
  makeAnchoredBundle,
  normalRows,
  oracleFor,
  persistingFailureRows,
  serveChainOverHttp,
  tempDir,
  type OracleFixture,
} from "@triad/devkit";
import { defaultConfig } from "../src/config.ts";
import { counterValue } from "../src/metrics.ts";
import { startEvidenceServer, type EvidenceServer } from "../src/evidence-server.ts";
import { assessEvidence, auditClaim } from "../src/actions.ts";
import type { ClaimOutcome } from "../src/daemon.ts";

const { loadFixture, time } = networkHelpers;

/** What `oracle audit` may fetch in these tests: the local evidence server. */
const auditRules = { ...defaultConfig().evidence, schemes: ["http"], hosts: ["127.0.0.1:*"] };

/** A failure that persists: nine real AI4I heat-dissipation failures, one a minute up to the incident. */
const FAILING: readonly Ai4iRow[] = [...normalRows(2, 100), ...persistingFailureRows("HDF", 9)];

describe("oracle: claims are decided only on anchored, complete telemetry (issue 14)", function () {
  this.timeout(180_000);
  let server: EvidenceServer;
  /** The bytes filed, by evidence hash. */
  const filed = new Map<string, Uint8Array>();
  before(async function () {
    server = await startEvidenceServer({ port: 0, maxBytes: 1024 * 1024 });
  });
  after(async function () {
    await server?.close();
  });

  /** Signs `rows` as readings of `device` with consecutive seqs from `seq`, `interval` s apart from `at`. */
  function sign(f: OracleFixture, device: Wallet, rows: readonly Ai4iRow[], seq: bigint, at: bigint, interval = 60n) {
    return signAi4iRows({ deviceKey: device, domain: domainOf(f), rows, startSeq: seq, startTimestamp: at, intervalSeconds: interval });
  }
  const domainOf = (f: OracleFixture) => deviceRegistryDomain(f.chainId, f.addresses.registry);
  /** The times of the readings just before and just after the model's window around `incidentAt`. */
  const edges = (f: OracleFixture, incidentAt: bigint) => ({
    before: incidentAt - BigInt(f.model.metadata.window.beforeSeconds) - 1n,
    after: incidentAt + BigInt(f.model.metadata.window.afterSeconds) + 1n,
  });
  /** An incident whose window is over: the reading after it is two minutes old. */
  const pastIncident = async (f: OracleFixture) => BigInt(await time.latest()) - BigInt(f.model.metadata.window.afterSeconds) - 120n;

  /** A v2 bundle of proven readings: the first is the reading before, the last the reading after. */
  function bundleOf(f: OracleFixture, incidentAt: bigint, proven: readonly ProvenReading[]) {
    const bundle = buildEvidenceBundleV2({
      chainId: f.chainId,
      registry: f.addresses.registry,
      incidentAt,
      before: proven[0],
      readings: proven.slice(1, -1),
      after: proven[proven.length - 1],
    });
    const bytes = serializeEvidence(bundle);
    return { bundle, bytes, hash: evidenceHash(bytes), incidentAt };
  }

  /** Re-serialises a (doctored) bundle. */
  function reserialise(bundle: EvidenceBundleV2, incidentAt: bigint) {
    const bytes = serializeEvidence(bundle);
    return { bundle, bytes, hash: evidenceHash(bytes), incidentAt };
  }

  /** Files a claim on `policyId` with the evidence published to the evidence server. */
  function file(f: OracleFixture, policyId: bigint, evidence: { bytes: Uint8Array; hash: string; incidentAt: bigint }) {
    filed.set(evidence.hash, evidence.bytes);
    return f.fileClaim({ hash: evidence.hash, uri: server.put(evidence.bytes).uri, incidentAt: evidence.incidentAt, policy: policyId });
  }

  /**
   * A new device of the holder insured by a new product that accepts only `allowed` gateways (`Allowlist`), past its
   * waiting period.
   */
  async function insureOnStrictProduct(f: OracleFixture, seed: string, allowed: readonly string[]) {
    const product = { ...PARAMETRIC_PRODUCT, gatewayPolicy: enumValue(GatewayPolicy, "Allowlist") };
    await (await f.claims.connect(f.insurer).createProduct(product)).wait();
    const productId = await f.claims.productCount();
    await (await f.claims.connect(f.insurer).setProductModel(productId, f.model.modelHash, true)).wait();
    for (const gateway of allowed) await (await f.claims.connect(f.insurer).setProductGateway(productId, gateway, true)).wait();
    const device = new Wallet(id(`triad/test/provenance/${seed}`));
    await registerDevice(f.registry.connect(f.holder), { deviceKey: device });
    await (await f.claims.connect(f.holder).buyPolicy(productId, device.address, 20n * 10n ** 6n, 30 * 86_400)).wait();
    const policyId = await f.claims.policyCount();
    await time.increase(Number(product.waitingPeriod) + 3600);
    return { device, policyId, productId };
  }

  /**
   * One daemon tick over everything filed; checks that every expected claim got its outcome and rejection reason from
   * the daemon, that the verdict on-chain carries the same reason code, that `oracle assess` (same code path) names the
   * same reason, and that `oracle audit` recomputes the deciding verdict from the chain and the evidence.
   */
  async function expectDecided(f: OracleFixture, expected: Map<bigint, EvidenceFailureReason | "APPROVED">) {
    // Bundles are checked inline (daemon.test.ts covers the worker threads): secp256k1@4.0.5's addon keeps one
    // process-wide reference, so starting workers that load it after others that loaded it were terminated (as the
    // real gateway of the last test does) can corrupt the heap.
    const oracle = oracleFor(f, f.members[0]);
    const report = await oracle.tick();
    await oracle.stop();
    const outcomes = new Map<bigint, ClaimOutcome>(report.outcomes.map((o) => [o.claimId, o]));
    for (const [claimId, want] of expected) {
      const outcome = outcomes.get(claimId);
      const claim = await f.claims.getClaim(claimId);
      if (want === "APPROVED") {
        expect(outcome, `claim ${claimId}`).to.deep.include({ outcome: "approved", finalised: true });
        expect(claim.approved, `claim ${claimId} approved on-chain`).to.equal(true);
      } else {
        expect(outcome, `claim ${claimId} (${want})`).to.deep.include({ outcome: "rejected", reason: want, scoreBps: 0, finalised: true });
        expect(claim.approved, `claim ${claimId} rejected on-chain`).to.equal(false);
      }
      expect(Number(claim.reason), `claim ${claimId}: reason code on-chain`).to.equal(
        want === "APPROVED" ? 0 : reasonCodeOfEvidenceFailure(want),
      );
      const bytes = filed.get(claim.evidenceHash)!;
      const assessed = await assessEvidence(
        { model: f.model, chain: { provider: ethers.provider, addresses: f.addresses } },
        { bytes, claimId },
      );
      expect(assessed.reason, `oracle assess of claim ${claimId}`).to.equal(want === "APPROVED" ? null : want);
      const audit = await auditClaim(
        { provider: ethers.provider, addresses: f.addresses, model: f.model, evidence: auditRules },
        { claimId },
      );
      expect(audit, `oracle audit of claim ${claimId}`).to.deep.include({ outcome: "match", differences: [] });
    }
    return { report, metrics: oracle.metrics };
  }

  it("approves an honest claim on anchored evidence, asking the chain about each anchor once", async function () {
    const f = await loadFixture(deployOracleFixture);
    const honest = await f.bundle(FAILING);
    const claimId = await file(f, f.policyId, honest);
    const { metrics } = await expectDecided(f, new Map([[claimId, "APPROVED"]]));
    // Thirteen readings under one anchor: the chain is asked about the anchor once, not once per reading.
    expect(honest.bundle.readings).to.have.length(FAILING.length);
    for (const method of ["fleetAnchorOf", "ownerAt", "gatewayAuthorisedAt", "productAcceptsGateway", "getProduct"]) {
      expect(await counterValue(metrics.rpcRequests, { method }), method).to.equal(1);
    }
  });

  it("refuses readings fabricated after the fact: re-signed seqs anchored late (ANCHORED_LATE), or cited under the honest anchor (NOT_ANCHORED)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [late, cited] = await f.insureNewDevices(["fabricated-late", "fabricated-cited"]);
    const maxAnchorDelay = (await f.claims.getProduct(f.parametricProductId)).maxAnchorDelay;
    const honest = [
      await f.bundle(normalRows(11, 200), { device: late.device }),
      await f.bundle(normalRows(11, 200), { device: cited.device }),
    ];
    // An hour (more than the product's delay) later, the claimant re-signs the same seqs with failure values.
    await time.increase(maxAnchorDelay + 60n);
    const fabricate = async (device: Wallet, h: (typeof honest)[number]) => {
      const seq = BigInt(h.bundle.readings[0].seq);
      const at = BigInt(h.bundle.readings[0].timestamp);
      return sign(f, device, FAILING, seq, at);
    };
    // (a) Anchored again now, by the owner's own gateway: the anchor is later than the product allows.
    const fabricatedLate = await fabricate(late.device, honest[0]);
    const reAnchored = await anchorAsGateway(f.registry.connect(f.gateway), fabricatedLate);
    const a = bundleOf(f, honest[0].incidentAt, [honest[0].anchor.proven[0], ...reAnchored.proven, honest[0].anchor.proven.at(-1)!]);
    // (b) Passed off under the honest anchor: the proofs lead to another root.
    const fabricatedCited = await fabricate(cited.device, honest[1]);
    const b = bundleOf(f, honest[1].incidentAt, [
      honest[1].anchor.proven[0],
      ...fabricatedCited.map((reading, i) => ({ ...honest[1].anchor.proven[i + 1], reading })),
      honest[1].anchor.proven.at(-1)!,
    ]);
    const claimA = await file(f, late.policyId, a);
    const claimB = await file(f, cited.policyId, b);
    await expectDecided(
      f,
      new Map([
        [claimA, "ANCHORED_LATE"],
        [claimB, "NOT_ANCHORED"],
      ]),
    );
  });

  it("refuses implausible telemetry: nine readings in one second at seq 1,000,000 never anchored (NOT_ANCHORED) or anchored after the filing (ANCHORED_LATE), time running backwards or ahead of the anchor (IMPLAUSIBLE_TIMESTAMP)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [never, afterFiling, backwards, ahead] = await f.insureNewDevices(["never", "after-filing", "backwards", "ahead"]);
    const incidentAt = await pastIncident(f);
    const edge = edges(f, incidentAt);
    const burst = async (device: Wallet) => {
      const [normal] = normalRows(1);
      const readings = [
        ...(await sign(f, device, [normal], 999_999n, edge.before)),
        ...(await sign(f, device, Array<Ai4iRow>(9).fill(failureRows("PWF", 1)[0]), 1_000_000n, incidentAt, 0n)), // one second
        ...(await sign(f, device, [normal], 1_000_009n, edge.after)),
      ];
      // The tree the gateway account would anchor: its root is known before anything is sent.
      const batch = prepareFleetBatch(domainOf(f), readings);
      const anchor = { kind: "fleet" as const, gateway: f.gateway.address, root: batch.root };
      return {
        readings,
        bundle: bundleOf(
          f,
          incidentAt,
          batch.entries.map((e) => ({ reading: e.reading, anchor, proof: e.proof })),
        ),
      };
    };
    const unanchored = await burst(never.device);
    const anchoredAfter = await burst(afterFiling.device);
    const claimNever = await file(f, never.policyId, unanchored.bundle);
    const claimAfter = await file(f, afterFiling.policyId, anchoredAfter.bundle);
    await anchorAsGateway(f.registry.connect(f.gateway), anchoredAfter.readings); // after the filing

    // Honest-looking anchored readings whose timestamps go backwards, or lie a day after their anchor.
    const back = await sign(f, backwards.device, FAILING, 2n, incidentAt - 600n);
    back[5] = await signReading(backwards.device, domainOf(f), { ...back[5], timestamp: back[4].timestamp - 30n });
    const [normal] = normalRows(1);
    const wrap = async (device: Wallet, window: SignedReading[], before: bigint, after: bigint) => {
      const edges = [
        ...(await sign(f, device, [normal], window[0].seq - 1n, before)),
        ...(await sign(f, device, [normal], window.at(-1)!.seq + 1n, after)),
      ];
      const anchored = await anchorAsGateway(f.registry.connect(f.gateway), [edges[0], ...window, edges[1]]);
      return anchored.proven;
    };
    const claimBack = await file(
      f,
      backwards.policyId,
      bundleOf(f, incidentAt, await wrap(backwards.device, back, edge.before, edge.after)),
    );
    // The claim names a past incident, but these readings claim to be from tomorrow (anchored today).
    const tomorrow = await sign(f, ahead.device, FAILING, 2n, incidentAt + 86_400n);
    const aheadProven = await wrap(ahead.device, tomorrow, edge.before, tomorrow.at(-1)!.timestamp + 60n);
    const aheadBundle = bundleOf(f, incidentAt, aheadProven);
    const claimAhead = await file(f, ahead.policyId, aheadBundle);
    await expectDecided(
      f,
      new Map<bigint, EvidenceFailureReason>([
        [claimNever, "NOT_ANCHORED"],
        [claimAfter, "ANCHORED_LATE"],
        [claimBack, "IMPLAUSIBLE_TIMESTAMP"],
        [claimAhead, "IMPLAUSIBLE_TIMESTAMP"],
      ]),
    );
  });

  it("refuses an anchored window with one value nudged and re-signed by the device key (NOT_ANCHORED)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const honest = await f.bundle(normalRows(11, 300));
    const nudged: EvidenceBundleV2 = structuredClone(honest.bundle);
    const target = nudged.readings[8];
    expect(target.values[3]).to.not.equal("65100");
    // Torque to 65.1 Nm in one row, validly signed by the device key the claimant holds.
    const reading = {
      device: f.deviceA.address,
      seq: BigInt(target.seq),
      timestamp: BigInt(target.timestamp),
      values: target.values.map(BigInt),
    };
    reading.values[3] = 65_100n;
    const resigned = await signReading(f.deviceA, domainOf(f), reading);
    nudged.readings[8] = { ...target, values: resigned.values.map(String), signature: resigned.signature };
    const claimId = await file(f, f.policyId, reserialise(nudged, honest.incidentAt));
    await expectDecided(f, new Map([[claimId, "NOT_ANCHORED"]]));
  });

  it("refuses public dataset rows re-signed by the claimant's device: anchored by an account the owner never authorised (GATEWAY_NOT_AUTHORISED), or not anchored at all (v1: NOT_ANCHORED)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [viaStranger, v1] = await f.insureNewDevices(["public-rows", "public-rows-v1"]);
    const stranger = new Wallet(id("triad/test/provenance/stranger-gateway"), ethers.provider);
    await (await f.admin.sendTransaction({ to: stranger.address, value: 10n ** 18n })).wait();
    const rows = [...normalRows(2), ...failureRows("OSF", 9)]; // the dataset's own failure rows
    const resigned = await f.bundle(rows, { device: viaStranger.device, anchorer: stranger });
    const claimStranger = await file(f, viaStranger.policyId, resigned);
    const incidentAt = await pastIncident(f);
    const readings = await sign(f, v1.device, rows, 1n, incidentAt - 60n * BigInt(rows.length - 1));
    const bytes = serializeEvidence(buildEvidenceBundle({ chainId: f.chainId, registry: f.addresses.registry, incidentAt, readings }));
    const claimV1 = await file(f, v1.policyId, { bytes, hash: evidenceHash(bytes), incidentAt });
    await expectDecided(
      f,
      new Map<bigint, EvidenceFailureReason>([
        [claimStranger, "GATEWAY_NOT_AUTHORISED"],
        [claimV1, "NOT_ANCHORED"],
      ]),
    );
  });

  it("refuses a window with readings left out: a seq gap inside it, or evidence that does not reach past the model's window (INCOMPLETE_WINDOW)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [gap, short] = await f.insureNewDevices(["gap", "short"]);
    const full = await f.bundle([...normalRows(3, 400), ...failureRows("HDF", 1), ...normalRows(7, 410)], { device: gap.device });
    const holed: EvidenceBundleV2 = structuredClone(full.bundle);
    holed.readings.splice(4, 3); // the normal readings right after the alarming one
    const claimGap = await file(f, gap.policyId, reserialise(holed, full.incidentAt));
    const window = f.model.metadata.window;
    const incidentAt = await pastIncident(f);
    const narrow = await makeAnchoredBundle({
      deviceKey: short.device,
      chainId: f.chainId,
      anchorer: f.registry.connect(f.gateway),
      rows: [...normalRows(1), ...failureRows("HDF", 1)],
      incidentAt,
      window: { beforeSeconds: 60, afterSeconds: window.afterSeconds }, // the reading before lies inside the model's window
    });
    const claimShort = await file(f, short.policyId, { ...narrow, incidentAt });
    await expectDecided(
      f,
      new Map<bigint, EvidenceFailureReason>([
        [claimGap, "INCOMPLETE_WINDOW"],
        [claimShort, "INCOMPLETE_WINDOW"],
      ]),
    );
  });

  it("refuses readings anchored by a gateway the owner had de-authorised (GATEWAY_NOT_AUTHORISED) or the product does not accept (GATEWAY_NOT_ACCEPTED)", async function () {
    const f = await loadFixture(deployOracleFixture);
    // A gateway the owner authorised once, then revoked before it anchored.
    const revoked = new Wallet(id("triad/test/provenance/revoked-gateway"), ethers.provider);
    await (await f.admin.sendTransaction({ to: revoked.address, value: 10n ** 18n })).wait();
    await (await f.registry.connect(f.holder).setGateway(revoked.address, true)).wait();
    await (await f.registry.connect(f.holder).setGateway(revoked.address, false)).wait();
    const [unauthorised] = await f.insureNewDevices(["revoked-gateway"]);
    const b = await f.bundle(FAILING, { device: unauthorised.device, anchorer: revoked });
    const claimRevoked = await file(f, unauthorised.policyId, b);

    // A product that accepts only allow-listed gateways, the fixture's gateway not among them.
    const {
      device,
      policyId: strictPolicy,
      productId: strictProduct,
    } = await insureOnStrictProduct(f, "strict-product", [Wallet.createRandom().address]);
    const c = await f.bundle(FAILING, { device });
    const claimNotAccepted = await file(f, strictPolicy, c);
    await expectDecided(
      f,
      new Map<bigint, EvidenceFailureReason>([
        [claimRevoked, "GATEWAY_NOT_AUTHORISED"],
        [claimNotAccepted, "GATEWAY_NOT_ACCEPTED"],
      ]),
    );
    expect(await f.claims.productAcceptsGateway(strictProduct, f.gateway.address)).to.equal(false);
    expect(await f.claims.productAcceptsGateway(f.parametricProductId, f.gateway.address)).to.equal(true);
  });

  it("refuses readings anchored later than the product's maxAnchorDelay after their timestamps (ANCHORED_LATE)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const maxAnchorDelay = (await f.claims.getProduct(f.parametricProductId)).maxAnchorDelay;
    const incidentAt = await pastIncident(f);
    const edge = edges(f, incidentAt);
    const readings = [
      ...(await sign(f, f.deviceA, normalRows(1), 10n, edge.before)),
      ...(await sign(f, f.deviceA, FAILING, 11n, incidentAt - 60n * BigInt(FAILING.length - 1))),
      ...(await sign(f, f.deviceA, normalRows(1), 11n + BigInt(FAILING.length), edge.after)),
    ];
    // The gateway held the readings back: anchored (and the claim filed) only after the product's delay.
    await time.increase(maxAnchorDelay + 1n);
    const anchored = await anchorAsGateway(f.registry.connect(f.gateway), readings);
    expect(anchored.anchoredAt - readings[0].timestamp).to.be.greaterThan(maxAnchorDelay);
    const claimId = await file(f, f.policyId, bundleOf(f, incidentAt, anchored.proven));
    await expectDecided(f, new Map([[claimId, "ANCHORED_LATE"]]));
  });

  it("counts batch anchors of the device itself (anchorOf); a product's gateway policy applies to the account that sent them (GATEWAY_NOT_ACCEPTED)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const strict = await insureOnStrictProduct(f, "batch-anchored-strict", [f.gateway.address]);
    const [open] = await f.insureNewDevices(["batch-anchored"]);
    const incidentAt = await pastIncident(f);
    const edge = edges(f, incidentAt);
    /** The owner anchors its device's readings itself, one batch per device (`anchorBatch`), and builds the bundle. */
    const batchAnchored = async (device: Wallet) => {
      const readings = [
        ...(await sign(f, device, normalRows(1), 1n, edge.before)),
        ...(await sign(f, device, FAILING, 2n, incidentAt - 60n * BigInt(FAILING.length - 1))),
        ...(await sign(f, device, normalRows(1), 2n + BigInt(FAILING.length), edge.after)),
      ];
      const anchored = await anchorReadings(f.registry.connect(f.holder), { domain: domainOf(f), readings, uri: "test://batch" });
      const anchor = { kind: "device" as const, root: anchored.root };
      return bundleOf(
        f,
        incidentAt,
        readings.map((reading) => ({ reading, anchor, proof: readingProof(anchored.tree, readingDigest(domainOf(f), reading)) })),
      );
    };
    const claimOpen = await file(f, open.policyId, await batchAnchored(open.device));
    // The strict product accepts the fixture's gateway only; the owner's own batch anchor is not from it.
    const claimStrict = await file(f, strict.policyId, await batchAnchored(strict.device));
    await expectDecided(
      f,
      new Map<bigint, EvidenceFailureReason | "APPROVED">([
        [claimOpen, "APPROVED"],
        [claimStrict, "GATEWAY_NOT_ACCEPTED"],
      ]),
    );
    // The same product accepts a later incident whose readings its allow-listed gateway anchored.
    await time.increase(1800);
    const viaGateway = await f.bundle(FAILING, { device: strict.device, startSeq: 20n });
    const claimAllowed = await file(f, strict.policyId, viaGateway);
    await expectDecided(f, new Map([[claimAllowed, "APPROVED"]]));
  });

  it("accepts a claim whose device the owner suspended AFTER the incident: status and authorisation count at the incident and at the anchors' time", async function () {
    const f = await loadFixture(deployOracleFixture);
    const b = await f.bundle(FAILING);
    await (await f.registry.connect(f.holder).suspend(f.deviceA.address)).wait();
    await (await f.registry.connect(f.holder).setGateway(f.gateway.address, false)).wait(); // and de-authorises its gateway
    const claimId = await file(f, f.policyId, b);
    await expectDecided(f, new Map([[claimId, "APPROVED"]]));
  });

  it("approves an honest failure claim whose evidence a real gateway received over MQTT, anchored and served", async function () {
    const f = await loadFixture(deployOracleFixture);
    const rpc = await serveChainOverHttp();
    const chainNow = BigInt(await time.latest());
    const offsetMs = Number(chainNow) * 1000 - Date.now();
    const gateway = await startGateway(
      parseGatewayConfig({
        TRIAD_GATEWAY_RPC_URL: rpc.url,
        TRIAD_GATEWAY_REGISTRY_ADDRESS: f.addresses.registry,
        TRIAD_GATEWAY_MQTT_PORT: "0",
        TRIAD_GATEWAY_HTTP_PORT: "0",
        TRIAD_GATEWAY_DATABASE_URL: `sqlite:${path.join(tempDir(), "gateway.sqlite")}`,
        TRIAD_GATEWAY_REGISTRY_POLL_MS: "50",
        TRIAD_GATEWAY_PRIVATE_KEY: f.gateway.privateKey,
        TRIAD_GATEWAY_ANCHOR_INTERVAL_S: "3600", // rounds driven by the test
        TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: "3600", // the readings below span the last half hour
      }),
      { logger: pino({ level: "silent" }), now: () => Date.now() + offsetMs },
    );
    try {
      const incidentAt = chainNow - BigInt(f.model.metadata.window.afterSeconds) - 120n;
      const edge = edges(f, incidentAt);
      const readings = [
        ...(await sign(f, f.deviceA, normalRows(1), 1n, edge.before)),
        ...(await sign(f, f.deviceA, FAILING, 2n, incidentAt - 60n * BigInt(FAILING.length - 1))),
        ...(await sign(f, f.deviceA, normalRows(2), 2n + BigInt(FAILING.length), edge.after)),
      ];
      const client = await mqtt.connectAsync(gateway.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
      const topic = deviceTopic(gateway.chainId, f.deviceA.address, "readings");
      for (const r of readings) await client.publishAsync(topic, Buffer.from(encodeWireReading(r)), { qos: 1 });
      await client.endAsync();
      const { beforeSeconds, afterSeconds } = f.model.metadata.window; // ask for the model's window
      const url = `${gateway.httpUrl}/v1/devices/${f.deviceA.address}/evidence?incidentAt=${incidentAt}&before=${beforeSeconds}&after=${afterSeconds}`;
      for (let i = 0; (await gateway.store.counts()).readings < readings.length; i++) {
        if (i > 400) throw new Error("the gateway did not store the readings");
        await new Promise((r) => setTimeout(r, 25));
      }
      const early = await fetch(url);
      expect(early.status, "served only once anchored").to.equal(409);
      expect((await early.json()) as { error: string })
        .to.have.property("error")
        .that.matches(/not anchored yet, retry after/);
      await gateway.anchorer!.flush();
      const res = await fetch(url);
      expect(res.status).to.equal(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(res.headers.get("x-triad-evidence-hash")).to.equal(evidenceHash(bytes));
      const claimId = await file(f, f.policyId, { bytes, hash: evidenceHash(bytes), incidentAt });
      await expectDecided(f, new Map([[claimId, "APPROVED"]]));
    } finally {
      await gateway.stop();
      await rpc.close();
    }
  });
});
