import { expect } from "chai";
import fc from "fast-check";
import { Wallet, ZeroHash, getAddress, id, keccak256 } from "ethers";
import {
  EVIDENCE_SCHEMA,
  EvidenceError,
  buildRejectionVerdict,
  claimReasonCode,
  buildVerdict,
  claimsDomain,
  signVerdict,
  verdictDigest,
  verdictDigester,
  evidenceHash,
  parseEvidence,
  scoreToBps,
  serializeEvidence,
  verifyEvidenceReadings,
  type EvidenceBundle,
  type EvidenceFailureReason,
} from "@triad/sdk";
import { defaultConfig } from "../src/config.ts";
import { fetchEvidence } from "../src/evidence.ts";
import { startEvidenceServer } from "../src/evidence-server.ts";
import { bytesOf, closedPort, failureRows, makeBundle, normalRows, startRawServer } from "@triad/devkit";

const CHAIN_ID = 31337n;
const REGISTRY = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const DEVICE = new Wallet(id("triad/test/oracle/device/1"));
const OTHER_DEVICE = new Wallet(id("triad/test/oracle/device/2"));
const INCIDENT = 1_700_000_000n;

function reasonOf(fn: () => unknown): EvidenceFailureReason {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(EvidenceError);
    return (error as EvidenceError).reason;
  }
  expect.fail("expected an EvidenceError");
}

async function rejectionOf(promise: Promise<unknown>): Promise<EvidenceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(EvidenceError);
    return error as EvidenceError;
  }
  expect.fail("expected an EvidenceError");
}

async function sampleBundle(rows = [...normalRows(3), ...failureRows("HDF", 1)]) {
  return makeBundle({ deviceKey: DEVICE, chainId: CHAIN_ID, registry: REGISTRY, rows, incidentAt: INCIDENT });
}

const clone = (b: EvidenceBundle): EvidenceBundle => JSON.parse(JSON.stringify(b)) as EvidenceBundle;

describe("oracle: evidence bundles (sdk/evidence)", function () {
  it("builds, serialises stably, hashes the exact bytes and parses back", async function () {
    const { bundle, bytes, hash } = await sampleBundle();
    expect(bundle.schema).to.equal(EVIDENCE_SCHEMA);
    expect(bundle.device).to.equal(DEVICE.address);
    expect(bundle.readings[0].values).to.deep.equal(["298100", "308600", "1551", "42800", "0", "1"]);
    expect(Object.keys(JSON.parse(new TextDecoder().decode(bytes)))).to.deep.equal([
      "schema",
      "chainId",
      "registry",
      "device",
      "sensorSchema",
      "incidentAt",
      "readings",
    ]);
    expect(hash).to.equal(keccak256(bytes));
    expect(evidenceHash(serializeEvidence(parseEvidence(bytes)))).to.equal(hash);
    const verified = verifyEvidenceReadings(parseEvidence(bytes), {
      chainId: CHAIN_ID,
      registry: REGISTRY,
      device: DEVICE.address,
      incidentAt: INCIDENT,
      period: { start: INCIDENT - 3600n, end: INCIDENT },
      valuesPerReading: 6,
    });
    expect(verified.readings).to.have.length(4);
    expect(verified.readings[3].timestamp).to.equal(INCIDENT);
    expect(verified.readings[0].values[0]).to.equal(298100n);
  });

  it("parse: malformed JSON, wrong schema and missing signatures each have their reason", async function () {
    const { bundle } = await sampleBundle();
    expect(reasonOf(() => parseEvidence(bytesOf("{not json")))).to.equal("MALFORMED_JSON");
    expect(reasonOf(() => parseEvidence(new Uint8Array([0xff, 0xfe, 0x7b])))).to.equal("MALFORMED_JSON");
    const variants: [string, (b: Record<string, unknown>) => void][] = [
      ["schema id", (b) => (b.schema = "triad.evidence/v2")],
      ["unknown field", (b) => (b.extra = 1)],
      ["missing field", (b) => delete b.incidentAt],
      ["number value", (b) => ((b.readings as { values: unknown[] }[])[0].values[0] = 298100)],
      ["int64 overflow", (b) => ((b.readings as { values: unknown[] }[])[0].values[0] = "9223372036854775808")],
      ["bad address", (b) => (b.device = "0x1234")],
      ["empty readings", (b) => (b.readings = [])],
      ["string seq", (b) => ((b.readings as { seq: unknown }[])[0].seq = "1")],
      ["array root", (b) => Object.assign(b, { schema: [] })],
    ];
    for (const [name, mutate] of variants) {
      const doc = clone(bundle) as unknown as Record<string, unknown>;
      mutate(doc);
      expect(
        reasonOf(() => parseEvidence(bytesOf(doc))),
        name,
      ).to.equal("WRONG_SCHEMA");
    }
    expect(reasonOf(() => parseEvidence(bytesOf([bundle])))).to.equal("WRONG_SCHEMA");
    const unsigned = clone(bundle) as unknown as { readings: { signature?: string }[] };
    delete unsigned.readings[2].signature;
    expect(reasonOf(() => parseEvidence(bytesOf(unsigned)))).to.equal("MISSING_SIGNATURE");
  });

  it("verify: tampered values, foreign signatures, another device, the policy period, the incident and the domain", async function () {
    const { bundle } = await sampleBundle();
    const tampered = clone(bundle);
    tampered.readings[1].values[3] = "99999";
    expect(reasonOf(() => verifyEvidenceReadings(tampered))).to.equal("BAD_SIGNATURE");
    const garbage = clone(bundle);
    garbage.readings[0].signature = "0x1234";
    expect(reasonOf(() => verifyEvidenceReadings(garbage))).to.equal("BAD_SIGNATURE");
    const zeroSig = clone(bundle);
    zeroSig.readings[0].signature = "0x" + "00".repeat(65);
    expect(reasonOf(() => verifyEvidenceReadings(zeroSig))).to.equal("BAD_SIGNATURE");

    // Readings of another device, relabelled as ours: their signatures do not recover to our device.
    const { bundle: foreign } = await makeBundle({
      deviceKey: OTHER_DEVICE,
      chainId: CHAIN_ID,
      registry: REGISTRY,
      rows: normalRows(2),
      incidentAt: INCIDENT,
    });
    const mixed = clone(bundle);
    mixed.readings[0] = foreign.readings[0];
    expect(reasonOf(() => verifyEvidenceReadings(mixed))).to.equal("BAD_SIGNATURE");
    // A consistent bundle of another device is refused against the policy's device.
    expect(verifyEvidenceReadings(foreign).device).to.equal(OTHER_DEVICE.address);
    expect(reasonOf(() => verifyEvidenceReadings(foreign, { device: DEVICE.address }))).to.equal("DEVICE_MISMATCH");

    expect(reasonOf(() => verifyEvidenceReadings(bundle, { period: { start: INCIDENT - 60n, end: INCIDENT + 10n } }))).to.equal(
      "OUTSIDE_POLICY_PERIOD",
    );
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { period: { start: 0n, end: INCIDENT - 1n } }))).to.equal("OUTSIDE_POLICY_PERIOD");
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { incidentAt: INCIDENT + 1n }))).to.equal("INCIDENT_MISMATCH");
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { chainId: 1n }))).to.equal("WRONG_DOMAIN");
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { registry: DEVICE.address }))).to.equal("WRONG_DOMAIN");
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { sensorSchema: "other/v1" }))).to.equal("SENSOR_SCHEMA_MISMATCH");
    expect(reasonOf(() => verifyEvidenceReadings(bundle, { valuesPerReading: 5 }))).to.equal("INVALID_VALUES");
    // A domain change also breaks every signature (the bundle names its own domain).
    const otherChain = clone(bundle);
    otherChain.chainId = 1;
    expect(reasonOf(() => verifyEvidenceReadings(otherChain))).to.equal("BAD_SIGNATURE");
    const replayed = clone(bundle);
    replayed.readings[2] = replayed.readings[1];
    expect(reasonOf(() => verifyEvidenceReadings(replayed))).to.equal("SEQ_NOT_INCREASING");
  });

  it("buildVerdict applies the payout rule and carries the reason code; a rejection is payout 0, score 0, same model", async function () {
    const claim = { claimId: 7n, amount: 1234n, evidenceHash: id("e"), assessmentDeadline: 99n };
    const model = id("model");
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
        fc.integer({ min: 1, max: 255 }),
        (approved, scoreBps, amount, rejectionCode) => {
          const reasonCode = approved ? 0 : rejectionCode;
          const v = buildVerdict({ ...claim, amount }, { approved, scoreBps, reasonCode }, model);
          expect(v.payout).to.equal(approved ? amount : 0n);
          expect(v.deadline).to.equal(claim.assessmentDeadline);
          expect(v.scoreBps).to.equal(scoreBps);
          expect(v.reason).to.equal(reasonCode);
        },
      ),
    );
    const hashMismatch = claimReasonCode("HASH_MISMATCH");
    expect(buildRejectionVerdict(claim, model, hashMismatch)).to.deep.equal({
      claimId: 7n,
      evidenceHash: claim.evidenceHash,
      modelHash: model,
      approved: false,
      payout: 0n,
      scoreBps: 0,
      reason: hashMismatch,
      deadline: 99n,
    });
    expect(() => buildVerdict(claim, { approved: true, scoreBps: 10_001, reasonCode: 0 }, model)).to.throw(/scoreBps/);
    expect(() => buildVerdict(claim, { approved: true, scoreBps: 1, reasonCode: 0 }, ZeroHash.slice(0, 10))).to.throw(/modelHash/);
    // approved ⇔ reason 0, as the contract checks (ClaimsInvalidReason); a code is a uint8.
    expect(() => buildVerdict(claim, { approved: true, scoreBps: 9_000, reasonCode: 1 }, model)).to.throw(/reason code 0/);
    expect(() => buildVerdict(claim, { approved: false, scoreBps: 100, reasonCode: 0 }, model)).to.throw(/non-zero reason code/);
    expect(() => buildRejectionVerdict(claim, model, 0)).to.throw(/non-zero reason code/);
    expect(() => buildRejectionVerdict(claim, model, 256)).to.throw(/\[0, 255\]/);
    expect(() => buildRejectionVerdict(claim, model, 1.5)).to.throw(/\[0, 255\]/);
    // The oracle's cached digester and direct signing agree with the SDK's EIP-712 functions.
    const domain = claimsDomain(CHAIN_ID, REGISTRY);
    const digestOf = verdictDigester(domain);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 64n }),
        fc.boolean(),
        fc.integer({ min: 0, max: 10_000 }),
        (claimId, approved, scoreBps) => {
          const v = buildVerdict({ ...claim, claimId }, { approved, scoreBps, reasonCode: approved ? 0 : 1 }, model);
          expect(digestOf(v)).to.equal(verdictDigest(domain, v));
        },
      ),
      { numRuns: 50 },
    );
    const v = buildVerdict(claim, { approved: true, scoreBps: 4321, reasonCode: 0 }, model);
    expect(DEVICE.signingKey.sign(digestOf(v)).serialized).to.equal(await signVerdict(DEVICE, domain, v));
    expect(scoreToBps(0.12349)).to.equal(1234);
    expect(scoreToBps(0.99999999)).to.equal(9999);
    expect(scoreToBps(1)).to.equal(10_000);
    expect(scoreToBps(-0.1)).to.equal(0);
  });
});

describe("oracle: evidence fetching and the evidence server", function () {
  const rules = {
    ...defaultConfig().evidence,
    schemes: ["http"],
    hosts: ["127.0.0.1"],
    timeoutMs: 400,
    retries: 1,
    retryDelayMs: 10,
    maxBytes: 4096,
  };

  it("stores bundles by keccak256 and serves the exact bytes; refuses oversized bodies and wrong hashes", async function () {
    const server = await startEvidenceServer({ port: 0, maxBytes: 4096 });
    try {
      expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const { bytes, hash } = await sampleBundle();
      const put = await fetch(`${server.url}/evidence`, { method: "PUT", body: new Uint8Array(bytes) });
      expect(put.status).to.equal(201);
      const { hash: stored, uri } = (await put.json()) as { hash: string; uri: string };
      expect(stored).to.equal(hash);
      expect(uri).to.equal(`${server.url}/evidence/${hash}`);
      const fetched = await fetchEvidence(uri, rules);
      expect(evidenceHash(fetched)).to.equal(hash);

      expect((await fetch(`${server.url}/evidence`, { method: "POST", body: new Uint8Array(5000) })).status).to.equal(413);
      expect((await fetch(`${server.url}/evidence/${ZeroHash}`, { method: "PUT", body: new Uint8Array(bytes) })).status).to.equal(409);
      expect((await fetch(`${server.url}/evidence/${ZeroHash}`)).status).to.equal(404);
      const missing = await rejectionOf(fetchEvidence(`${server.url}/evidence/${ZeroHash}`, rules));
      expect(missing.reason).to.equal("FETCH_HTTP_STATUS");
    } finally {
      await server.close();
    }
  });

  it("enforces the scheme and host allow-lists, also on redirects", async function () {
    expect((await rejectionOf(fetchEvidence("ftp://127.0.0.1/x", rules))).reason).to.equal("URI_NOT_ALLOWED");
    expect((await rejectionOf(fetchEvidence("http://169.254.169.254/latest", rules))).reason).to.equal("URI_NOT_ALLOWED");
    expect((await rejectionOf(fetchEvidence("not a uri", rules))).reason).to.equal("URI_NOT_ALLOWED");
    expect((await rejectionOf(fetchEvidence("ipfs://bafy", { ...rules, schemes: ["ipfs"] }))).reason).to.equal("URI_NOT_ALLOWED");
    const redirecting = await startRawServer((_req, res) => res.writeHead(302, { location: "http://10.0.0.1/evidence" }).end());
    try {
      expect((await rejectionOf(fetchEvidence(`${redirecting.url}/e`, rules))).reason).to.equal("URI_NOT_ALLOWED");
    } finally {
      await redirecting.close();
    }
  });

  it("stops reading a body past maxBytes even without a Content-Length", async function () {
    let written = 0;
    const streaming = await startRawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // chunked: no length announced
      const timer = setInterval(() => {
        written += 1024;
        if (!res.write(Buffer.alloc(1024, 0x20)) || written > 1024 * 1024) clearInterval(timer);
      }, 1);
      res.on("close", () => clearInterval(timer));
    });
    try {
      const error = await rejectionOf(fetchEvidence(`${streaming.url}/big`, { ...rules, timeoutMs: 5000 }));
      expect(error.reason).to.equal("TOO_LARGE");
      expect(written).to.be.lessThan(1024 * 1024);
    } finally {
      await streaming.close();
    }
  });

  it("an unreachable host and a server slower than the timeout end, after the bounded retries, in their reason", async function () {
    const port = await closedPort();
    const retries: string[] = [];
    const unreachable = await rejectionOf(
      fetchEvidence(`http://127.0.0.1:${port}/evidence/x`, rules, { onRetry: (_n, e) => retries.push(e.reason) }),
    );
    expect(unreachable.reason).to.equal("FETCH_UNREACHABLE");
    expect(retries).to.deep.equal(["FETCH_UNREACHABLE"]);

    let requests = 0;
    const slow = await startRawServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{"); // then nothing: the body never completes
    });
    try {
      const timeout = await rejectionOf(fetchEvidence(`${slow.url}/evidence/x`, rules));
      expect(timeout.reason).to.equal("FETCH_TIMEOUT");
      expect(requests).to.equal(2); // the first attempt and one retry
    } finally {
      await slow.close();
    }
  });
});
