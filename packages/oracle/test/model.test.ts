import { expect } from "chai";
import { spawnSync } from "child_process";
import { promises as fs } from "fs";
import { createRequire } from "node:module";
import * as os from "os";
import * as path from "path";
import { concat, keccak256 } from "ethers";
import { parseAi4iCsv, telemetryToValues, valuesToTelemetry, type Ai4iTelemetry } from "@triad/sdk";
import { InvalidInputError } from "@triad/sdk";
import { expectTriadError } from "@triad/sdk/testing";
import { FEATURE_NAMES, featureRecord, featureVector } from "../src/model/features.ts";
import { chooseThreshold, rocAuc } from "../src/model/metrics.ts";
import { DEFAULT_MODEL_DIR, computeModelHash, loadModel, selectBackend, type LoadedModel, type ReadingInput } from "../src/model/index.ts";

const REPO = path.resolve(import.meta.dirname, "../../..");
const DATA = path.join(REPO, "data/ai4i2020/ai4i2020-train.csv");
const ARTIFACTS = ["model.json", "weights.bin", "metadata.json"];

/** AI4I rows by UDI, as the CSV has them. */
const NORMAL_UDI_1: Ai4iTelemetry = { variant: "M", airTempK: 298.1, processTempK: 308.6, rpm: 1551, torqueNm: 42.8, toolWearMin: 0 };
/** UDI 161: overstrain (216 min × 60.7 N·m on an L variant). */
const OVERSTRAIN_UDI_161: Ai4iTelemetry = {
  variant: "L",
  airTempK: 298.4,
  processTempK: 308.2,
  rpm: 1282,
  torqueNm: 60.7,
  toolWearMin: 216,
};
/** UDI 3237: heat dissipation (ΔT 8.6 K at 1342 rpm). */
const HEAT_UDI_3237: Ai4iTelemetry = { variant: "M", airTempK: 300.8, processTempK: 309.4, rpm: 1342, torqueNm: 62.4, toolWearMin: 113 };

/** The shipped model on wasm, loaded once for the whole file and never mutated (loading is tested on its own). */
const shippedModel: () => Promise<LoadedModel> = (() => {
  let loaded: Promise<LoadedModel> | undefined;
  return () => (loaded ??= loadModel(DEFAULT_MODEL_DIR, { backend: "wasm" }));
})();

/** A copy of the shipped artifacts in a fresh temporary directory. */
async function copyArtifactsFixture(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "triad-model-"));
  for (const f of ARTIFACTS) await fs.copyFile(path.join(DEFAULT_MODEL_DIR, f), path.join(dir, f));
  return dir;
}

async function flipByte(file: string, offset: number): Promise<void> {
  const bytes = await fs.readFile(file);
  bytes[offset] ^= 0x01;
  await fs.writeFile(file, bytes);
}

const reading = (timestamp: number, t: Ai4iTelemetry): ReadingInput => ({ timestamp, values: telemetryToValues(t) });

/**
 * Chai's `closeTo` for fractional numbers. (Hardhat 3's chai matchers take `closeTo` over for every number argument
 * and convert it to a bigint, which refuses fractions.)
 */
function expectCloseTo(actual: number, expected: number, delta: number): void {
  expect(Math.abs(actual - expected), `expected ${actual} to be close to ${expected} +/- ${delta}`).to.be.at.most(delta);
}

describe("oracle model", function () {
  describe("features", function () {
    it("computes the hand-checked features of AI4I row UDI 1", function () {
      const f = featureRecord(NORMAL_UDI_1);
      expect(f.tempDiffK).to.equal(10.5);
      expect(f.rpm).to.equal(1551);
      expect(f.torqueNm).to.equal(42.8);
      expect(f.toolWearMin).to.equal(0);
      // P = τ·ω = 42.8 N·m × 1551 rpm × 2π/60
      expectCloseTo(f.powerW, 6951.59056, 1e-4);
      expect(f.strainMinNm).to.equal(0);
      expect(f.strainRatio).to.equal(0);
      expect([f.variantL, f.variantM, f.variantH]).to.deep.equal([0, 1, 0]);
    });

    it("computes strain against the variant's overstrain limit (UDI 161, L: 11,000 min·N·m)", function () {
      const f = featureRecord(OVERSTRAIN_UDI_161);
      expect(f.tempDiffK).to.equal(9.8);
      expectCloseTo(f.powerW, 8149.01907, 1e-4);
      expectCloseTo(f.strainMinNm, 13111.2, 1e-9);
      expectCloseTo(f.strainRatio, 13111.2 / 11000, 1e-12);
      expect([f.variantL, f.variantM, f.variantH]).to.deep.equal([1, 0, 0]);
      const h = featureRecord({ ...OVERSTRAIN_UDI_161, variant: "H" });
      expectCloseTo(h.strainRatio, 13111.2 / 13000, 1e-12);
    });

    it("takes the temperature difference in whole mK, so 309.4 − 300.8 is exactly 8.6 K (UDI 3237)", function () {
      expect(309.4 - 300.8).to.not.equal(8.6); // what plain floating point gives
      const f = featureRecord(HEAT_UDI_3237);
      expect(f.tempDiffK).to.equal(8.6);
      expect(featureRecord({ ...HEAT_UDI_3237, airTempK: 300.0, processTempK: 308.6 }).tempDiffK).to.equal(8.6);
      expectCloseTo(f.strainRatio, 0.5876, 1e-12);
      expectCloseTo(f.powerW, 8769.31607, 1e-4);
    });

    it("orders the vector as FEATURE_NAMES and survives the ai4i-2020/v1 reading encoding unchanged", function () {
      const f = featureRecord(OVERSTRAIN_UDI_161);
      expect(featureVector(OVERSTRAIN_UDI_161)).to.deep.equal(FEATURE_NAMES.map((n) => f[n]));
      for (const t of [NORMAL_UDI_1, OVERSTRAIN_UDI_161, HEAT_UDI_3237]) {
        expect(featureVector(valuesToTelemetry(telemetryToValues(t)))).to.deep.equal(featureVector(t));
      }
    });

    it("refuses telemetry no machine can produce", function () {
      expect(() => featureRecord({ ...NORMAL_UDI_1, rpm: -1 })).to.throw(InvalidInputError, /rpm/);
      expect(() => featureRecord({ ...NORMAL_UDI_1, torqueNm: Number.NaN })).to.throw(InvalidInputError, /torqueNm/);
      expect(() => featureRecord({ ...NORMAL_UDI_1, airTempK: 0 })).to.throw(InvalidInputError, /airTempK/);
    });
  });

  describe("metrics", function () {
    it("computes ROC-AUC as the share of correctly ordered positive/negative pairs, ties counting half", function () {
      expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).to.equal(0.75);
      expect(rocAuc([0.5, 0.5], [0, 1])).to.equal(0.5);
    });

    it("puts the threshold in the middle of the widest F1-optimal gap", function () {
      // Negatives at 0.1 and 0.2, positives at 0.6 and 0.9: every threshold in (0.2, 0.6] separates them.
      expect(chooseThreshold([0.1, 0.2, 0.6, 0.9], [0, 0, 1, 1])).to.equal(0.4);
    });
  });

  describe("artifacts and hash", function () {
    it("hashes model.json followed by the weight files, matching metadata and model:hash's definition", async function () {
      const model = await shippedModel();
      const manual = keccak256(
        concat([
          await fs.readFile(path.join(DEFAULT_MODEL_DIR, "model.json")),
          await fs.readFile(path.join(DEFAULT_MODEL_DIR, "weights.bin")),
        ]),
      );
      expect(await computeModelHash(DEFAULT_MODEL_DIR)).to.equal(manual);
      expect(model.modelHash).to.equal(manual);
      expect(model.metadata.modelHash).to.equal(manual);
      expect(model.modelHash).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("binds normalisation, threshold, window, claim rule and feature names inside the hashed model.json", async function () {
      const modelJson = JSON.parse(await fs.readFile(path.join(DEFAULT_MODEL_DIR, "model.json"), "utf8"));
      const { metadata } = await shippedModel();
      const binding = modelJson.userDefinedMetadata.triad;
      expect(binding.featureNames).to.deep.equal([...FEATURE_NAMES]);
      expect(binding.normalisation).to.deep.equal(metadata.normalisation);
      expect(binding.threshold).to.equal(metadata.threshold);
      expect(binding.window).to.deep.equal(metadata.window);
      expect(binding.claimRule).to.deep.equal(metadata.claimRule);
    });

    it("changes the hash when one weight byte changes, and loading refuses the tampered copy", async function () {
      const dir = await copyArtifactsFixture();
      try {
        const original = await computeModelHash(dir);
        await flipByte(path.join(dir, "weights.bin"), 100);
        const tampered = await computeModelHash(dir);
        expect(tampered).to.not.equal(original);
        await expectTriadError(loadModel(dir, { backend: "wasm" }), { message: /tampered or stale/ });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("refuses a model.json whose bytes changed", async function () {
      const dir = await copyArtifactsFixture();
      try {
        const file = path.join(dir, "model.json");
        const text = await fs.readFile(file, "utf8");
        await fs.writeFile(file, text.replace('"threshold":', '"threshold": '));
        await expectTriadError(loadModel(dir, { backend: "wasm" }), { message: /hash/ });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("refuses metadata.json that disagrees with the binding in model.json, even with the right hash", async function () {
      const dir = await copyArtifactsFixture();
      try {
        const file = path.join(dir, "metadata.json");
        const metadata = JSON.parse(await fs.readFile(file, "utf8"));
        metadata.threshold = 0.01;
        await fs.writeFile(file, JSON.stringify(metadata));
        await expectTriadError(loadModel(dir, { backend: "wasm" }), { message: /differs from the hashed model\.json in threshold/ });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("checks the expected hash and reports missing artifacts in one line", async function () {
      const { modelHash } = await shippedModel();
      const other = `0x${"00".repeat(32)}`;
      await expectTriadError(loadModel(DEFAULT_MODEL_DIR, { backend: "wasm", expectedHash: other }), { message: /expected 0x0{64}/ });
      const ok = await loadModel(DEFAULT_MODEL_DIR, { backend: "wasm", expectedHash: modelHash.toUpperCase().replace("0X", "0x") });
      ok.dispose();
      const empty = await fs.mkdtemp(path.join(os.tmpdir(), "triad-model-"));
      try {
        const e = await expectTriadError(loadModel(empty), { message: /model file not found: .*model\.json/ });
        expect(e.code).to.equal("MODEL_ARTIFACTS");
      } finally {
        await fs.rm(empty, { recursive: true, force: true });
      }
    });
  });

  describe("inference", function () {
    it("uses the backend it reports, and selecting a backend is idempotent", async function () {
      const model = await shippedModel();
      expect(model.backend).to.equal("wasm");
      expect(await selectBackend("wasm")).to.equal("wasm");
      expect(await selectBackend("auto")).to.equal("wasm");
      let hasTfjsNode = true;
      try {
        createRequire(import.meta.url).resolve("@tensorflow/tfjs-node"); // resolved the way the backend loads it
      } catch {
        hasTfjsNode = false;
      }
      if (hasTfjsNode) expect(await selectBackend("tfjs-node")).to.equal("tfjs-node");
      else await expectTriadError(selectBackend("tfjs-node"), { message: /not available/ });
      expect(await selectBackend("wasm")).to.equal("wasm");
    });

    it("is deterministic: two runs, and batched versus single scoring, give identical scoreBps", async function () {
      const rows = parseAi4iCsv(await fs.readFile(DATA, "utf8")).slice(0, 64);
      const model = await shippedModel();
      const first = await model.scoreTelemetry(rows);
      const reloaded = await loadModel(DEFAULT_MODEL_DIR, { backend: "wasm" });
      try {
        const second = await reloaded.scoreTelemetry(rows);
        expect(second).to.deep.equal(first);
        const single = await Promise.all(rows.slice(0, 8).map(async (r) => (await model.scoreTelemetry([r]))[0]));
        expect(single.map((s) => Math.floor(s * 10_000))).to.deep.equal(first.slice(0, 8).map((s) => Math.floor(s * 10_000)));
        for (const s of first) expect(s).to.be.within(0, 1);
      } finally {
        reloaded.dispose();
      }
    });

    it("tells a genuine failure from normal operation on known rows", async function () {
      const model = await shippedModel();
      const [normal, overstrain, heat] = await model.scoreTelemetry([NORMAL_UDI_1, OVERSTRAIN_UDI_161, HEAT_UDI_3237]);
      expect(normal).to.be.below(model.metadata.threshold);
      expect(overstrain).to.be.above(model.metadata.threshold);
      expect(heat).to.be.above(model.metadata.threshold);
    });
  });

  describe("claim window rule (the persistence rule itself: claim-rule.test.ts)", function () {
    const incidentAt = 1_700_000_000;
    /** `t` once a minute, `count` times, the first at `from`. */
    const persisting = (from: number, t: Ai4iTelemetry, count: number) =>
      Array.from({ length: count }, (_, i) => reading(from + 60 * i, t));

    it("scores only readings inside [incidentAt − before, incidentAt + after]", async function () {
      const model = await shippedModel();
      const { beforeSeconds, afterSeconds } = model.metadata.window;
      const n = model.metadata.claimRule.minReadings;
      const readings = [
        reading(incidentAt - beforeSeconds - 1, HEAT_UDI_3237), // just too early: ignored
        ...persisting(incidentAt - beforeSeconds, OVERSTRAIN_UDI_161, n), // from the first second of the window
        reading(incidentAt + afterSeconds, NORMAL_UDI_1), // last second of the window
        reading(incidentAt + afterSeconds + 1, HEAT_UDI_3237), // just too late: ignored
      ];
      const [overstrain] = await model.scoreTelemetry([OVERSTRAIN_UDI_161]);
      const a = await model.assessClaim(readings, incidentAt);
      expect(a.readingsInWindow).to.equal(n + 1);
      expect(a.readingsScored).to.equal(n + 1);
      expect(a.run).to.deep.equal({ first: 1, last: n });
      expect(a.decidingIndex).to.equal(1);
      expect(a.score).to.equal(overstrain);
      expect(a.scoreBps).to.equal(Math.floor(overstrain * 10_000));
      expect(a.approved).to.equal(true);
      expect(a.reasonCode).to.equal(0);
      expect(a.features).to.deep.equal(featureRecord(OVERSTRAIN_UDI_161));
      expect(Object.keys(a.modeProbabilities)).to.deep.equal(["HDF", "PWF", "OSF", "TWF"]);
    });

    it("rejects when the failure readings lie outside the window", async function () {
      const model = await shippedModel();
      const { beforeSeconds, afterSeconds } = model.metadata.window;
      const n = model.metadata.claimRule.minReadings;
      const a = await model.assessClaim(
        [
          ...persisting(incidentAt - beforeSeconds - 60 * n, OVERSTRAIN_UDI_161, n),
          reading(incidentAt - 30, NORMAL_UDI_1),
          ...persisting(incidentAt + afterSeconds + 60, HEAT_UDI_3237, n),
        ],
        incidentAt,
      );
      expect(a.readingsInWindow).to.equal(1);
      expect(a.run).to.equal(null);
      expect(a.peakIndex).to.equal(n);
      expect(a.approved).to.equal(false);
      expect(a.reasonCode).to.equal(1);
      expect(a.peakScoreBps).to.equal(Math.floor((await model.scoreTelemetry([NORMAL_UDI_1]))[0] * 10_000));
    });

    it("scores 0 and rejects with decidingIndex −1 and NO_READINGS_IN_WINDOW when no reading is in the window", async function () {
      const model = await shippedModel();
      const badValues = { timestamp: incidentAt - 86_400, values: [1n, 2n, 3n] }; // outside: never decoded
      for (const readings of [[], [reading(incidentAt + 3600, OVERSTRAIN_UDI_161), badValues]]) {
        const a = await model.assessClaim(readings, incidentAt);
        expect(a).to.deep.equal({
          score: 0,
          scoreBps: 0,
          approved: false,
          reasonCode: 2,
          readingsInWindow: 0,
          readingsScored: 0,
          run: null,
          decidingIndex: -1,
          features: {},
          modeProbabilities: {},
          peakScoreBps: 0,
          peakIndex: -1,
        });
      }
    });

    it("does not score readings outside the telemetry envelope (a stopped machine is not a power failure)", async function () {
      const model = await shippedModel();
      const stopped = { ...NORMAL_UDI_1, rpm: 0, torqueNm: 0 };
      const a = await model.assessClaim([reading(incidentAt, stopped), reading(incidentAt - 10, NORMAL_UDI_1)], incidentAt);
      expect(a.readingsInWindow).to.equal(2);
      expect(a.readingsScored).to.equal(1);
      expect(a.peakIndex).to.equal(1);
      expect(a.approved).to.equal(false);
    });

    it("refuses malformed readings in the window and a bad incidentAt", async function () {
      const model = await shippedModel();
      await expectTriadError(model.assessClaim([{ timestamp: incidentAt, values: [1n, 2n] }], incidentAt), { message: /6 values/ });
      await expectTriadError(model.assessClaim([], 1.5), { message: /incidentAt/ });
    });
  });

  describe("model:eval CLI", function () {
    const evalCli = (...args: string[]) =>
      spawnSync(process.execPath, ["--import", "tsx", "packages/oracle/src/model/eval-cli.ts", ...args], {
        cwd: REPO,
        encoding: "utf8",
      });

    it("prints a summary and one JSON line last", async function () {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "triad-eval-"));
      try {
        const csv = path.join(dir, "part.csv");
        const lines = (await fs.readFile(DATA, "utf8")).split("\n");
        await fs.writeFile(csv, lines.slice(0, 401).join("\n"));
        const run = evalCli("--data", csv);
        expect(run.status, run.stderr).to.equal(0);
        const out = run.stdout.trim().split("\n");
        const result = JSON.parse(out[out.length - 1]);
        expect(Object.keys(result)).to.deep.equal(["rows", "auc", "precision", "recall", "f1", "accuracy", "threshold"]);
        expect(result.rows).to.equal(400);
        expect(result.threshold).to.equal((await shippedModel()).metadata.threshold);
        expect(out.length).to.be.greaterThan(1);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("exits 1 with one error line and no stack trace on a missing file or a wrong header", async function () {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "triad-eval-"));
      try {
        const wrong = path.join(dir, "wrong.csv");
        await fs.writeFile(wrong, "a,b,c\n1,2,3\n");
        for (const [file, pattern] of [
          [path.join(dir, "missing.csv"), /no such file/],
          [wrong, /not the AI4I 2020 header/],
        ] as const) {
          const run = evalCli("--data", file);
          expect(run.status).to.equal(1);
          expect(run.stdout).to.equal("");
          const errorLines = run.stderr.split("\n").filter((l) => l.startsWith("error:"));
          expect(errorLines).to.have.length(1);
          expect(errorLines[0]).to.match(pattern);
          expect(run.stderr).to.not.match(/^\s+at /m);
        }
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });
});
