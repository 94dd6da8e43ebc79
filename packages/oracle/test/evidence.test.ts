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
import { defaultConfig, parseConfig } from "../src/config.ts";
import { EvidenceFetchCancelled, fetchEvidence, hostAllowed, isHostEntry, ownEndpoints } from "../src/evidence.ts";
import { startEvidenceServer } from "../src/evidence-server.ts";
import { mkdtempSync, rmSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { ipfsCidOf, openIpfs } from "@triad/sdk/node";
import { bytesOf, captureLogger, closedPort, failureRows, makeBundle, normalRows, startRawServer } from "@triad/devkit";
import { DEVICE_ACTIVE } from "../src/assess.ts";
import { checkClaimEvidence } from "../src/daemon/decide.ts";
import type { CheckableClaim } from "../src/daemon/lookups.ts";
import { createMetrics } from "../src/metrics.ts";
import type { OracleModel } from "../src/model/assessment.ts";
import { createLimiter } from "../src/util/concurrency.ts";
import { createVerifier } from "../src/verifier.ts";

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
    hosts: ["127.0.0.1:*"], // these tests' servers listen on free ports
    timeoutMs: 400,
    retries: 1,
    retryDelayMs: 10,
    maxBytes: 4096,
  };

  it("stores bundles by keccak256 and serves the exact bytes; refuses oversized bodies and wrong hashes", async function () {
    const server = await startEvidenceServer({ port: 0, maxBytes: 4096, openUploads: true });
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

describe("oracle: evidence fetching on a real network (issue 15)", function () {
  this.timeout(60_000);
  const base = {
    ...defaultConfig().evidence,
    schemes: ["http"],
    timeoutMs: 2_000,
    retries: 0,
    retryDelayMs: 10,
    maxBytes: 64 * 1024,
    deadlineMs: 10_000,
  };
  const hostOf = (url: string) => new URL(url).host;
  const JSON_BYTES = bytesOf({ schema: "not a bundle, but JSON" });

  it("a host entry names its port: a bare host admits only the scheme's default port", function () {
    const url = (u: string) => new URL(u);
    expect(hostAllowed(url("http://evidence.example/x"), ["evidence.example"])).to.equal(true);
    expect(hostAllowed(url("http://evidence.example:80/x"), ["evidence.example"])).to.equal(true);
    expect(hostAllowed(url("https://evidence.example/x"), ["evidence.example"])).to.equal(true);
    expect(hostAllowed(url("http://evidence.example:8545/x"), ["evidence.example"])).to.equal(false);
    expect(hostAllowed(url("https://evidence.example:80/x"), ["evidence.example"])).to.equal(false);
    expect(hostAllowed(url("http://evidence.example:8787/x"), ["evidence.example:8787"])).to.equal(true);
    expect(hostAllowed(url("http://evidence.example:9464/x"), ["evidence.example:8787"])).to.equal(false);
    expect(hostAllowed(url("https://evidence.example/x"), ["evidence.example:443"])).to.equal(true);
    expect(hostAllowed(url("http://evidence.example:9464/x"), ["evidence.example:*"])).to.equal(true);
    expect(hostAllowed(url("http://other.example:8787/x"), ["evidence.example:*"])).to.equal(false);
    expect(hostAllowed(url("http://[::1]:8080/x"), ["[::1]:8080"])).to.equal(true);
    expect(hostAllowed(url("http://[::1]:8081/x"), ["[::1]:8080"])).to.equal(false);
    expect(hostAllowed(url("http://anything.example:1/x"), ["*"])).to.equal(true);
    for (const entry of ["*", "evidence.example", "evidence.example:8787", "evidence.example:*", "[::1]", "[::1]:8080", "127.0.0.1"]) {
      expect(isHostEntry(entry), entry).to.equal(true);
    }
    for (const entry of ["evidence.example:0", "evidence.example:65536", "http://evidence.example", "a b", "host:port", "*.example"]) {
      expect(isHostEntry(entry), entry).to.equal(false);
    }
    expect(() => parseConfigHosts("evidence.example:99999")).to.throw(/ORACLE_EVIDENCE_HOSTS/);
    expect(parseConfigHosts("Evidence.Example, evidence.example:8787,127.0.0.1:*").evidence.hosts).to.deep.equal([
      "evidence.example",
      "evidence.example:8787",
      "127.0.0.1:*",
    ]);
  });

  it("a bare 127.0.0.1 does not admit a server on another port; host:port admits exactly that one", async function () {
    let hits = 0;
    const server = await startRawServer((_req, res) => {
      hits++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON_BYTES);
    });
    try {
      const uri = `${server.url}/evidence/x`;
      const refused = await rejectionOf(fetchEvidence(uri, { ...base, hosts: ["127.0.0.1"] }));
      expect(refused.reason).to.equal("URI_NOT_ALLOWED");
      expect(refused.message).to.include("ORACLE_EVIDENCE_HOSTS");
      expect(hits).to.equal(0);
      const port = Number(new URL(server.url).port);
      expect((await rejectionOf(fetchEvidence(uri, { ...base, hosts: [`127.0.0.1:${port + 1}`] }))).reason).to.equal("URI_NOT_ALLOWED");
      expect(await fetchEvidence(uri, { ...base, hosts: [hostOf(server.url)] })).to.deep.equal(JSON_BYTES);
      expect(hits).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it("a redirect to another port of an allowed host (the node's RPC, the daemon's /metrics) is refused before it is requested", async function () {
    let internalHits = 0;
    const internal = await startRawServer((_req, res) => {
      internalHits++;
      res.writeHead(200, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","result":"0x1"}');
    });
    const redirecting = await startRawServer((req, res) => {
      const to = req.url === "/creds" ? internal.url.replace("http://", "http://user:secret@") : `${internal.url}/metrics`;
      res.writeHead(302, { location: to }).end();
    });
    try {
      const rules = { ...base, hosts: [hostOf(redirecting.url)] };
      const error = await rejectionOf(fetchEvidence(`${redirecting.url}/evidence/x`, rules));
      expect(error.reason).to.equal("URI_NOT_ALLOWED");
      expect(error.message).to.include(`port ${new URL(internal.url).port}`);
      // Credentials are refused in a redirect as in the URI itself, whatever the host list says.
      const creds = await rejectionOf(fetchEvidence(`${redirecting.url}/creds`, { ...base, hosts: ["127.0.0.1:*"] }));
      expect(creds.reason).to.equal("URI_NOT_ALLOWED");
      expect(creds.message).to.include("credentials");
      expect(internalHits).to.equal(0);
      // With both ports listed the same redirect is followed (the rules, not the redirect, decide).
      const followed = await fetchEvidence(`${redirecting.url}/evidence/x`, {
        ...base,
        hosts: [hostOf(redirecting.url), hostOf(internal.url)],
      });
      expect(new TextDecoder().decode(followed)).to.include("jsonrpc");
      expect(internalHits).to.equal(1);
    } finally {
      await redirecting.close();
      await internal.close();
    }
  });

  it("the daemon's own RPC and /metrics are never fetched, even with * and under another local name", async function () {
    let hits = 0;
    const node = await startRawServer((_req, res) => {
      hits++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    const redirecting = await startRawServer((_req, res) => res.writeHead(302, { location: `${node.url}/` }).end());
    try {
      const port = new URL(node.url).port;
      const denied = ownEndpoints({ rpcUrl: node.url, metricsHost: "::1", metricsPort: 9464 });
      expect(denied).to.deep.equal([`127.0.0.1:${port}`, "[::1]:9464"]);
      expect(ownEndpoints({ rpcUrl: "wss://rpc.example/ws", metricsHost: "127.0.0.1", metricsPort: undefined })).to.deep.equal([
        "rpc.example:443",
      ]);
      const rules = { ...base, hosts: ["*"], denied };
      for (const uri of [`${node.url}/`, `http://localhost:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `${redirecting.url}/e`]) {
        const error = await rejectionOf(fetchEvidence(uri, rules));
        expect(error.reason, uri).to.equal("URI_NOT_ALLOWED");
        expect(error.message, uri).to.include("own RPC or metrics");
      }
      expect((await rejectionOf(fetchEvidence("http://[::1]:9464/metrics", rules))).reason).to.equal("URI_NOT_ALLOWED");
      expect(hits).to.equal(0);
    } finally {
      await redirecting.close();
      await node.close();
    }
  });

  it("a redirect from https to http is refused", async function () {
    // No TLS server in the test: a fetch that answers the https URL with a redirect, as a real https host would.
    const requested: string[] = [];
    const fakeHttps: typeof fetch = async (input) => {
      requested.push(String(input));
      return new Response(null, { status: 301, headers: { location: "http://evidence.example/e" } });
    };
    const rules = { ...base, schemes: ["http", "https"], hosts: ["evidence.example"] };
    const error = await rejectionOf(fetchEvidence("https://evidence.example/e", rules, { fetch: fakeHttps }));
    expect(error.reason).to.equal("URI_NOT_ALLOWED");
    expect(error.message).to.include("https to http");
    expect(requested).to.deep.equal(["https://evidence.example/e"]);
  });

  it("the body must be JSON whatever the Content-Type says: an HTML page is refused at fetch", async function () {
    const server = await startRawServer((req, res) => {
      if (req.url === "/page") res.writeHead(200, { "content-type": "application/json" }).end("<html><script>alert(1)</script></html>");
      else res.writeHead(200, { "content-type": "text/html" }).end(JSON_BYTES);
    });
    try {
      const rules = { ...base, hosts: [hostOf(server.url)] };
      const html = await rejectionOf(fetchEvidence(`${server.url}/page`, rules));
      expect(html.reason).to.equal("MALFORMED_JSON");
      expect(await fetchEvidence(`${server.url}/json-labelled-html`, rules)).to.deep.equal(JSON_BYTES);
    } finally {
      await server.close();
    }
  });

  it("the claim's deadline bounds all attempts and backoff; a cancelled fetch is not an evidence failure", async function () {
    let requests = 0;
    const stalled = await startRawServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{"); // and nothing more
    });
    try {
      // Alone, 10 attempts of 300 ms and their backoff would take > 3 s; the claim's deadline ends it at 700 ms.
      const rules = { ...base, hosts: [hostOf(stalled.url)], timeoutMs: 300, retries: 9, retryDelayMs: 20, deadlineMs: 700 };
      const error = await rejectionOf(fetchEvidence(`${stalled.url}/e`, rules));
      expect(error.reason).to.equal("FETCH_TIMEOUT");
      expect(error.message).to.include("evidence deadline of 700 ms");
      expect(requests).to.be.lessThan(10);

      const stop = new AbortController();
      const before = requests;
      const pending = fetchEvidence(`${stalled.url}/e`, { ...rules, deadlineMs: 60_000, timeoutMs: 60_000 }, { signal: stop.signal });
      while (requests === before) await new Promise((r) => setTimeout(r, 10));
      stop.abort();
      const cancelled = await pending.then(
        () => expect.fail("expected a cancellation"),
        (e: unknown) => e,
      );
      expect(cancelled).to.be.instanceOf(EvidenceFetchCancelled);
      expect(cancelled).not.to.be.instanceOf(EvidenceError);
    } finally {
      await stalled.close();
    }
  });

  it("one claim's stalled URI delays only that claim: the others are checked while it is pending", async function () {
    const slowResponses: ServerResponse[] = [];
    const stalled = await startRawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      slowResponses.push(res);
    });
    const fast = await startRawServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    const metrics = createMetrics();
    const verifier = createVerifier({ workers: 0 });
    const { logger } = captureLogger();
    const lookups = {
      anchorFacts: () => expect.fail("no anchors to read: the bundles are not valid"),
      maxAnchorDelay: () => expect.fail("no anchors to read"),
    };
    const deps = {
      config: defaultConfig({
        evidence: { ...base, hosts: [hostOf(stalled.url), hostOf(fast.url)], timeoutMs: 60_000, retries: 0, deadlineMs: 5_000 },
      }),
      addresses: { claims: REGISTRY, registry: REGISTRY, committee: REGISTRY },
      model: { modelHash: id("model") } as unknown as OracleModel,
      metrics,
    };
    const session = { chainId: CHAIN_ID, verifier, log: logger, lookups };
    const claimOf = (claimId: bigint, uri: string): CheckableClaim => ({
      claimId,
      policyId: claimId,
      amount: 1n,
      incidentAt: INCIDENT,
      assessmentDeadline: INCIDENT + 86_400n,
      evidenceHash: keccak256(bytesOf("{}")),
      evidenceURI: uri,
      blockNumber: 1,
      policy: { device: DEVICE.address, start: 0n, end: INCIDENT + 10n, productId: 1n },
      deviceStatus: DEVICE_ACTIVE,
      filedAt: INCIDENT,
    });
    try {
      const slots = createLimiter(4);
      const finished: string[] = [];
      const run = (name: string, claim: CheckableClaim) =>
        checkClaimEvidence(deps, session, claim, slots).then((check) => {
          finished.push(name);
          return check;
        });
      // The slow claim starts first and takes a download slot; the two others still finish while it waits.
      const slow = run("slow", claimOf(1n, `${stalled.url}/evidence/1`));
      const others = await Promise.all([
        run("fast-2", claimOf(2n, `${fast.url}/evidence/2`)),
        run("fast-3", claimOf(3n, `${fast.url}/evidence/3`)),
      ]);
      expect(finished).to.have.members(["fast-2", "fast-3"]);
      expect(slowResponses).to.have.length(1);
      expect(slowResponses[0].writableEnded).to.equal(false); // its download is still pending
      for (const check of others) {
        expect(check.ok).to.equal(false);
        expect(check.ok ? undefined : check.reason).to.equal("WRONG_SCHEMA"); // fetched and checked, not waiting
      }
      const slowCheck = await slow;
      expect(finished).to.have.length(3);
      expect(finished[2]).to.equal("slow");
      expect(slowCheck.ok ? undefined : slowCheck.reason).to.equal("FETCH_TIMEOUT");
      const fetchTimes = await metrics.evidenceFetchSeconds.get();
      const count = (outcome: string) =>
        fetchTimes.values.find((v) => v.metricName?.endsWith("_count") && v.labels.outcome === outcome)?.value;
      expect(count("ok")).to.equal(2);
      expect(count("failed")).to.equal(1);
    } finally {
      await verifier.close();
      await stalled.close();
      await fast.close();
    }
  });
});

/** ORACLE_EVIDENCE_HOSTS through the config parser. */
function parseConfigHosts(hosts: string) {
  return parseConfig({ ORACLE_EVIDENCE_HOSTS: hosts });
}

describe("oracle: ipfs:// evidence, verified against the CID (issue 15)", function () {
  this.timeout(120_000);
  const rules = {
    ...defaultConfig().evidence,
    schemes: ["ipfs"],
    hosts: ["evidence.example"],
    timeoutMs: 5_000,
    retries: 1,
    retryDelayMs: 10,
  };

  it("through a trustless gateway: the blocks are verified, and a gateway serving other bytes is refused", async function () {
    const { bytes } = await sampleBundle();
    const cid = await ipfsCidOf(bytes);
    const gatewayOf = (serve: Uint8Array) =>
      startRawServer((req, res) => {
        if (req.url === `/ipfs/${cid}?format=raw`) res.writeHead(200, { "content-type": "application/vnd.ipld.raw" }).end(serve);
        else res.writeHead(404).end();
      });
    const honest = await gatewayOf(bytes);
    const tampered = await gatewayOf(bytesOf({ schema: "other bytes" }));
    try {
      // The configured gateway needs no host entry (the operator chose it); the claimant's URI names only the CID.
      expect(await fetchEvidence(`ipfs://${cid}`, { ...rules, ipfsGateway: honest.url })).to.deep.equal(bytes);
      const lie = await rejectionOf(fetchEvidence(`ipfs://${cid}`, { ...rules, ipfsGateway: tampered.url }));
      expect(lie.reason).to.equal("FETCH_UNREACHABLE");
      expect(lie.message).to.match(/IPFS/);
      const small = await rejectionOf(fetchEvidence(`ipfs://${cid}`, { ...rules, ipfsGateway: honest.url, maxBytes: 64 }));
      expect(small.reason).to.equal("TOO_LARGE");
      expect((await rejectionOf(fetchEvidence(`ipfs://${cid}?x=1`, { ...rules, ipfsGateway: honest.url }))).reason).to.equal(
        "URI_NOT_ALLOWED",
      );
      expect((await rejectionOf(fetchEvidence(`ipfs://not-a-cid`, { ...rules, ipfsGateway: honest.url }))).reason).to.equal(
        "URI_NOT_ALLOWED",
      );
    } finally {
      await honest.close();
      await tampered.close();
    }
  });

  it("through the daemon's IPFS node (an in-process Helia node)", async function () {
    const dir = mkdtempSync(path.join(tmpdir(), "triad-evidence-ipfs-"));
    const ipfs = await openIpfs({ dir });
    try {
      const { bytes } = await sampleBundle();
      const cid = await ipfs.add(bytes);
      expect(await fetchEvidence(`ipfs://${cid}`, rules, { ipfs })).to.deep.equal(bytes);
      const small = await rejectionOf(fetchEvidence(`ipfs://${cid}`, { ...rules, maxBytes: 64 }, { ipfs }));
      expect(small.reason).to.equal("TOO_LARGE");
      const html = await ipfs.add(bytesOf("<html><body>not evidence</body></html>"));
      expect((await rejectionOf(fetchEvidence(`ipfs://${html}`, rules, { ipfs }))).reason).to.equal("MALFORMED_JSON");
    } finally {
      await ipfs.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
