/**
 * Bad input never crashes the oracle: random and mutated evidence bundles always end in a verdict-ready result (a
 * valid bundle, or a rejection with a declared reason code), and random configurations either parse or fail with
 * ConfigError lines that each name an ORACLE_ variable. Property-based (fast-check), bounded runs.
 */
import { expect } from "chai";
import fc from "fast-check";
import { Wallet, id } from "ethers";
import { checkEvidence, scoreEvidence } from "../src/assess.ts";
import { ConfigError, CONFIG_VARIABLES, parseConfig } from "../src/config.ts";
import { loadModel, type LoadedModel } from "../src/model/index.ts";
import {
  AI4I_SCHEMA,
  buildEvidenceBundleV2,
  deviceRegistryDomain,
  prepareFleetBatch,
  serializeEvidence,
  signReading,
  type EvidenceFailureReason,
} from "@triad/sdk";

const REASONS: readonly EvidenceFailureReason[] = [
  "URI_NOT_ALLOWED",
  "FETCH_UNREACHABLE",
  "FETCH_TIMEOUT",
  "FETCH_HTTP_STATUS",
  "TOO_LARGE",
  "HASH_MISMATCH",
  "MALFORMED_JSON",
  "WRONG_SCHEMA",
  "MISSING_SIGNATURE",
  "SENSOR_SCHEMA_MISMATCH",
  "WRONG_DOMAIN",
  "INCIDENT_MISMATCH",
  "DEVICE_MISMATCH",
  "DEVICE_NOT_ACTIVE",
  "SEQ_NOT_INCREASING",
  "OUTSIDE_POLICY_PERIOD",
  "INVALID_VALUES",
  "BAD_SIGNATURE",
  "NOT_ANCHORED",
  "INCOMPLETE_WINDOW",
  "IMPLAUSIBLE_TIMESTAMP",
  "GATEWAY_NOT_AUTHORISED",
  "GATEWAY_NOT_ACCEPTED",
  "ANCHORED_LATE",
  "NO_READINGS_IN_WINDOW",
];
const CHAIN_ID = 31337n;
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const DOMAIN = deviceRegistryDomain(CHAIN_ID, REGISTRY);
const DEVICE = new Wallet(id("triad/test/bad-input/device"));
const GATEWAY = new Wallet(id("triad/test/bad-input/gateway")).address;
const INCIDENT = 1_800_000_000;
const RUNS = { numRuns: 40, seed: 20261121 };

/**
 * A valid v2 bundle of `values` rows signed by DEVICE, 30 s apart, the last at INCIDENT, between a normal reading an
 * hour before and one an hour after, all under one fleet anchor (its proofs verify off-chain; no chain here).
 */
async function signedBundle(rows: bigint[][]): Promise<Uint8Array> {
  const sign = (seq: number, timestamp: number, values: bigint[]) =>
    signReading(DEVICE, DOMAIN, { device: DEVICE.address, seq: BigInt(seq), timestamp: BigInt(timestamp), values });
  const readings = [await sign(1, INCIDENT - 3600, NORMAL_ROW)];
  for (let i = 0; i < rows.length; i++) readings.push(await sign(i + 2, INCIDENT - 30 * (rows.length - 1 - i), rows[i]));
  readings.push(await sign(rows.length + 2, INCIDENT + 3600, NORMAL_ROW));
  const batch = prepareFleetBatch(DOMAIN, readings);
  const anchor = { kind: "fleet" as const, gateway: GATEWAY, root: batch.root };
  const proven = batch.entries.map((e) => ({ reading: e.reading, anchor, proof: e.proof }));
  return serializeEvidence(
    buildEvidenceBundleV2({
      chainId: CHAIN_ID,
      registry: REGISTRY,
      incidentAt: INCIDENT,
      sensorSchema: AI4I_SCHEMA,
      before: proven[0],
      readings: proven.slice(1, -1),
      after: proven[proven.length - 1],
    }),
  );
}

const NORMAL_ROW = [298_100n, 308_600n, 1_551n, 42_800n, 0n, 1n];
const context = {
  chainId: CHAIN_ID,
  registry: REGISTRY,
  policy: { device: DEVICE.address, start: 0n, end: 2n ** 40n },
  window: { beforeSeconds: 600, afterSeconds: 60 },
};

/** checkEvidence must return, never throw; a rejection must carry a declared reason. */
function expectCleanCheck(bytes: Uint8Array) {
  const result = checkEvidence(bytes, context);
  if (!result.ok) {
    expect(REASONS, result.message).to.include(result.reason);
    expect(result.message).to.be.a("string").and.not.match(/\n/);
  }
  return result;
}

describe("oracle bad input (property-based)", function () {
  let model: LoadedModel;
  let valid: Uint8Array;
  before(async function () {
    model = await loadModel(undefined, { backend: "cpu" });
    valid = await signedBundle([NORMAL_ROW, NORMAL_ROW, NORMAL_ROW]);
  });

  it("the unmutated bundle is valid (so the mutations below test something)", function () {
    expect(expectCleanCheck(valid).ok).to.equal(true);
  });

  it("random bytes are rejected with a reason, never a crash", function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_000 }), (bytes) => {
        expect(expectCleanCheck(bytes).ok).to.equal(false);
      }),
      RUNS,
    );
  });

  it("byte flips, truncations and insertions in a valid bundle are rejected with a reason or still valid", function () {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ maxLength: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes = Buffer.from(valid);
        for (const m of mutations) {
          const at = m.at % Math.max(bytes.length, 1);
          if (m.kind === "flip") bytes[at] ^= 1 << m.bit;
          else if (m.kind === "truncate") bytes = bytes.subarray(0, at);
          else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.text), bytes.subarray(at)]);
        }
        const result = expectCleanCheck(bytes);
        // Only a mutation that leaves the content unchanged may pass: hex (addresses, signatures) is case-blind.
        if (result.ok) expect(bytes.toString("latin1").toLowerCase()).to.equal(Buffer.from(valid).toString("latin1").toLowerCase());
      }),
      RUNS,
    );
  });

  it("any JSON value in place of any bundle field is rejected with a reason", function () {
    const original = JSON.parse(Buffer.from(valid).toString("utf8"));
    const fields = [
      "schema",
      "chainId",
      "registry",
      "device",
      "sensorSchema",
      "incidentAt",
      "readings",
      "readings.0.seq",
      "readings.0.timestamp",
      "readings.0.values",
      "readings.0.values.2",
      "readings.0.signature",
      "readings.0.anchor",
      "readings.0.anchor.kind",
      "readings.0.anchor.gateway",
      "readings.0.anchor.root",
      "readings.0.proof",
      "readings.0.proof.0",
      "readings.1",
      "before",
      "before.seq",
      "before.timestamp",
      "after",
      "after.seq",
      "after.timestamp",
    ];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue(), (field, value) => {
        const bundle = structuredClone(original);
        const path = field.split(".");
        let target = bundle;
        for (const key of path.slice(0, -1)) target = target[key];
        target[path[path.length - 1]] = value;
        const bytes = new TextEncoder().encode(JSON.stringify(bundle));
        const result = expectCleanCheck(bytes);
        if (result.ok) expect(JSON.stringify(bundle)).to.equal(JSON.stringify(original));
      }),
      RUNS,
    );
  });

  it("validly signed readings with any int64 values reach a verdict: a score or a reason, never a crash", async function () {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const row = fc.oneof(
      fc.array(int64, { minLength: 6, maxLength: 6 }),
      fc.array(int64, { minLength: 0, maxLength: 9 }),
      fc
        .tuple(
          fc.bigInt({ min: 250_000n, max: 350_000n }),
          fc.bigInt({ min: 250_000n, max: 350_000n }),
          fc.bigInt({ min: 0n, max: 4_000n }),
          fc.bigInt({ min: 0n, max: 100_000n }),
          fc.bigInt({ min: 0n, max: 400n }),
          fc.bigInt({ min: -1n, max: 3n }),
        )
        .map((t) => [...t]),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 4 }), async (rows) => {
        const check = expectCleanCheck(await signedBundle(rows));
        if (!check.ok) return;
        const [scored] = await scoreEvidence(model, [check.verified]);
        if (scored.ok) {
          expect(scored.assessment.scoreBps).to.be.within(0, 10_000);
        } else {
          // MODEL_ERROR would make the oracle abstain: random evidence must never cause it.
          expect(REASONS).to.include(scored.reason);
        }
      }),
      { numRuns: 30, seed: 20261121 },
    );
  });

  it("random configurations parse or fail with one line per bad ORACLE_ variable, never a crash", function () {
    const variable = fc.constantFrom(...CONFIG_VARIABLES);
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.integer().map(String),
      fc.constantFrom("", "0", "-1", "1e9", "http://127.0.0.1:8545", "0x" + "11".repeat(32), "wasm", "bogus"),
    );
    fc.assert(
      fc.property(fc.dictionary(variable, value, { maxKeys: 8 }), (env) => {
        try {
          parseConfig(env, {}, process.cwd());
        } catch (error) {
          expect(error).to.be.instanceOf(ConfigError);
          const problems = (error as ConfigError).problems;
          expect(problems.length).to.be.greaterThan(0);
          for (const line of problems) {
            expect(line).to.match(/^ORACLE_[A-Z_]+: /);
            expect(line).to.not.match(/\n/);
          }
        }
      }),
      { numRuns: 200, seed: 20261121 },
    );
  });
});

describe("oracle --help", function () {
  it("documents every configuration variable the config schema knows, and no other", async function () {
    const { CONFIG_HELP, configHelpText } = await import("../src/config-help.ts");
    expect(Object.keys(CONFIG_HELP).sort()).to.deep.equal([...CONFIG_VARIABLES].sort());
    for (const name of CONFIG_VARIABLES) expect(configHelpText()).to.contain(name);
  });
});
