import { expect } from "chai";
import { spawnSync } from "child_process";
import fc from "fast-check";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { claimReasonCode, telemetryToValues, type Ai4iTelemetry } from "@triad/sdk";
import { expectTriadError } from "@triad/sdk/testing";
import { MachineSimulator, type Scenario, type SimulatedStep } from "@triad/device";
import { claimRuleProblems, sustainedScore, type ClaimRule, type RuleReading } from "../src/model/claim-rule.ts";
import {
  DEFAULT_MODEL_DIR,
  claimRuleThresholdBps,
  computeModelHash,
  loadModel,
  type LoadedModel,
  type ReadingInput,
} from "../src/model/index.ts";
import { normalRows, persistingFailureRows } from "@triad/devkit";

const REPO = path.resolve(import.meta.dirname, "../../..");
const APPROVED = claimReasonCode("APPROVED");
const NO_FAILURE = claimReasonCode("NO_FAILURE_DETECTED");
const NO_READINGS = claimReasonCode("NO_READINGS_IN_WINDOW");

/** The shipped model on wasm, loaded once for the file. */
const shippedModel: () => Promise<LoadedModel> = (() => {
  let loaded: Promise<LoadedModel> | undefined;
  return () => (loaded ??= loadModel(DEFAULT_MODEL_DIR, { backend: "wasm" }));
})();

const at = (scores: readonly (number | null)[], interval = 60): RuleReading[] =>
  scores.map((score, i) => ({ timestamp: 1000 + i * interval, score }));

/** The rule's definition, spelled out: the best minimum over every qualifying stretch of scored readings. */
function bruteForce(readings: readonly RuleReading[], rule: ClaimRule): number {
  let best = 0;
  for (let i = 0; i < readings.length; i++) {
    for (let j = i; j < readings.length; j++) {
      const run = readings.slice(i, j + 1);
      if (run.some((r) => r.score === null)) break;
      if (run.length < rule.minReadings || readings[j].timestamp - readings[i].timestamp < rule.minSeconds) continue;
      best = Math.max(best, Math.min(...run.map((r) => r.score!)));
    }
  }
  return best;
}

describe("claim rule", function () {
  describe("sustainedScore (pure)", function () {
    const rule: ClaimRule = { minReadings: 3, minSeconds: 120, minScore: 0.85 };

    it("gives a single alarming reading no weight: the claim scores what the readings held together", function () {
      expect(sustainedScore(at([0.1, 0.99, 0.1, 0.2]), rule)).to.deep.equal({ score: 0.1, run: { first: 0, last: 2, weakest: 0 } });
      expect(sustainedScore(at([0.99, 0.99]), rule)).to.deep.equal({ score: 0, run: null }); // too few readings for any run
      expect(sustainedScore([], rule)).to.deep.equal({ score: 0, run: null });
    });

    it("scores a persisting failure with the lowest score of its best run; the earliest run wins a tie", function () {
      // Runs of 3 from index 1: min 0.9; from 2: min 0.9; from 3: min 0.3.
      expect(sustainedScore(at([0.2, 0.95, 0.9, 0.97, 0.99, 0.3]), rule)).to.deep.equal({
        score: 0.9,
        run: { first: 1, last: 3, weakest: 2 },
      });
      expect(sustainedScore(at([0.9, 0.9, 0.9, 0.1, 0.95, 0.96, 0.97]), rule).run).to.deep.equal({ first: 4, last: 6, weakest: 4 });
    });

    it("needs the duration as well as the count: readings 5 s apart must persist over 25 readings", function () {
      expect(sustainedScore(at(Array<number>(24).fill(0.99), 5), rule).run).to.equal(null);
      expect(sustainedScore(at(Array<number>(25).fill(0.99), 5), rule)).to.deep.equal({
        score: 0.99,
        run: { first: 0, last: 24, weakest: 0 },
      });
      // Readings in the same second never span a duration.
      expect(sustainedScore(at(Array<number>(50).fill(0.99), 0), rule).run).to.equal(null);
    });

    it("breaks a run at an unscored reading (a machine that stopped in between)", function () {
      expect(sustainedScore(at([0.95, 0.95, null, 0.95, 0.95]), rule).run).to.equal(null);
      expect(sustainedScore(at([0.95, null, 0.95, 0.95, 0.95]), rule).run).to.deep.equal({ first: 2, last: 4, weakest: 2 });
    });

    it("equals its definition (the best minimum over every qualifying stretch) on random windows", function () {
      const reading = fc.record({
        gap: fc.integer({ min: 0, max: 90 }),
        score: fc.option(fc.constantFrom(0, 0.1, 0.5, 0.85, 0.9, 0.99, 1), { nil: null }),
      });
      fc.assert(
        fc.property(
          fc.array(reading, { maxLength: 30 }),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 0, max: 300 }),
          (items, minReadings, minSeconds) => {
            let t = 1_700_000_000;
            const readings = items.map((r) => ({ timestamp: (t += r.gap), score: r.score }));
            const r: ClaimRule = { minReadings, minSeconds, minScore: 0.85 };
            const got = sustainedScore(readings, r);
            expect(got.score).to.equal(bruteForce(readings, r));
            if (got.run) {
              const run = readings.slice(got.run.first, got.run.last + 1);
              expect(run.length).to.be.at.least(minReadings);
              expect(readings[got.run.last].timestamp - readings[got.run.first].timestamp).to.be.at.least(minSeconds);
              expect(Math.min(...run.map((x) => x.score!))).to.equal(got.score);
              expect(readings[got.run.weakest].score).to.equal(got.score);
            } else expect(got.score).to.equal(0);
            // Deterministic: the same input, the same answer.
            expect(sustainedScore(readings, r)).to.deep.equal(got);
          },
        ),
        { numRuns: 500, seed: 20_261_201 },
      );
    });

    it("names every parameter it cannot apply", function () {
      expect(claimRuleProblems(rule)).to.deep.equal([]);
      expect(claimRuleProblems(undefined)).to.deep.equal(["claim rule missing"]);
      expect(claimRuleProblems({ minReadings: 0, minSeconds: -1, minScore: 1, extra: 1 })).to.deep.equal([
        "claimRule.minReadings 0",
        "claimRule.minSeconds -1",
        "claimRule.minScore 1",
        "claimRule has unknown fields extra",
      ]);
      expect(claimRuleProblems({ minReadings: 2.5, minSeconds: 0, minScore: 0.00001 })).to.have.length(2);
    });
  });

  describe("with the shipped model", function () {
    this.timeout(120_000);
    const incidentAt = 1_767_225_600;
    const readingAt = (timestamp: number, t: Ai4iTelemetry): ReadingInput => ({ timestamp, values: telemetryToValues(t) });
    /** The window filled with normal AI4I rows one a minute, with `failure` rows placed from `at` on. */
    async function windowWith(failure: readonly Ai4iTelemetry[], fromOffset: number): Promise<ReadingInput[]> {
      const { beforeSeconds, afterSeconds } = (await shippedModel()).metadata.window;
      const count = (beforeSeconds + afterSeconds) / 60 + 1;
      const normal = normalRows(count, 50);
      return normal.map((row, i) => {
        const offset = -beforeSeconds + 60 * i;
        const k = (offset - fromOffset) / 60;
        return readingAt(incidentAt + offset, k >= 0 && k < failure.length ? failure[k] : row);
      });
    }

    it("carries the rule in the hashed model.json: changing a parameter changes the hash, metadata alone is refused", async function () {
      const model = await shippedModel();
      const modelJson = JSON.parse(await fs.readFile(path.join(DEFAULT_MODEL_DIR, "model.json"), "utf8"));
      expect(modelJson.userDefinedMetadata.triad.schema).to.equal("triad.model/v2");
      expect(modelJson.userDefinedMetadata.triad.claimRule).to.deep.equal(model.metadata.claimRule);
      expect(claimRuleProblems(model.metadata.claimRule)).to.deep.equal([]);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "triad-rule-"));
      try {
        for (const f of ["model.json", "weights.bin", "metadata.json"])
          await fs.copyFile(path.join(DEFAULT_MODEL_DIR, f), path.join(dir, f));
        const metadataFile = path.join(dir, "metadata.json");
        const metadata = JSON.parse(await fs.readFile(metadataFile, "utf8"));
        await fs.writeFile(metadataFile, JSON.stringify({ ...metadata, claimRule: { ...metadata.claimRule, minReadings: 1 } }));
        await expectTriadError(loadModel(dir, { backend: "wasm" }), { message: /differs from the hashed model\.json in claimRule/ });

        const modelFile = path.join(dir, "model.json");
        const text = await fs.readFile(modelFile, "utf8");
        const minReadings = `"minReadings":${model.metadata.claimRule.minReadings}`;
        expect(text).to.include(minReadings);
        await fs.writeFile(modelFile, text.replace(minReadings, `"minReadings":1`));
        expect(await computeModelHash(dir)).to.not.equal(model.modelHash);
        await expectTriadError(loadModel(dir, { backend: "wasm" }), { message: /tampered or stale/ });

        await fs.writeFile(modelFile, text.replace('"schema":"triad.model/v2"', '"schema":"triad.model/v1"'));
        await expectTriadError(loadModel(dir, { backend: "wasm" }), { message: /triad\.model\/v1 model, decided by the maximum/ });
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("does not approve an isolated spike, nor a failure one reading short of the rule; approves it persisting", async function () {
      const model = await shippedModel();
      const rule = model.metadata.claimRule;
      const thresholdBps = claimRuleThresholdBps(rule);
      const failing = persistingFailureRows("HDF", rule.minReadings);
      const spike = await model.assessClaim(await windowWith(failing.slice(0, 1), 0), incidentAt);
      expect(spike.peakScoreBps, "the spike alone is alarming").to.be.at.least(thresholdBps);
      expect(spike.scoreBps, "what the window's readings held together").to.be.below(100);
      expect(spike).to.deep.include({ approved: false, reasonCode: NO_FAILURE });
      expect(spike.decidingIndex).to.not.equal(spike.peakIndex);

      const short = await model.assessClaim(await windowWith(failing.slice(0, -1), 0), incidentAt);
      expect(short.scoreBps).to.be.below(100);
      expect(short).to.deep.include({ approved: false, reasonCode: NO_FAILURE });

      const readings = await windowWith(failing, 0);
      const persisting = await model.assessClaim(readings, incidentAt);
      expect(persisting).to.deep.include({ approved: true, reasonCode: APPROVED });
      const first = readings.findIndex((r) => r.timestamp === incidentAt);
      expect(persisting.run).to.deep.equal({ first, last: first + rule.minReadings - 1 });
      const scores = await model.scoreTelemetry(failing);
      expect(persisting.score).to.equal(Math.min(...scores));
      expect(persisting.decidingIndex).to.equal(first + scores.indexOf(Math.min(...scores)));
      expect(persisting.scoreBps).to.be.at.least(thresholdBps);
    });

    it("counts only readings inside the window: a persisting failure that starts before it is cut short", async function () {
      const model = await shippedModel();
      const { beforeSeconds, afterSeconds } = model.metadata.window;
      const rule = model.metadata.claimRule;
      const failing = persistingFailureRows("PWF", rule.minReadings);
      const minute = (k: number, t = failing[k]) => readingAt(incidentAt - beforeSeconds + 60 * (k - 1), t);
      // The first failure reading lies 60 s before the window: inside it only minReadings − 1 remain.
      const early = failing.map((t, k) => minute(k, t));
      const cut = await model.assessClaim(early, incidentAt);
      expect(cut).to.deep.include({ readingsInWindow: rule.minReadings - 1, approved: false, reasonCode: NO_FAILURE });
      const inside = await model.assessClaim(
        failing.map((t, k) => readingAt(incidentAt + afterSeconds - 60 * (failing.length - 1 - k), t)),
        incidentAt,
      );
      expect(inside).to.deep.include({ readingsInWindow: rule.minReadings, approved: true });
    });

    it("gives each rejection its reason code: nothing to score, or no persisting failure", async function () {
      const model = await shippedModel();
      const none = await model.assessClaim([], incidentAt);
      expect(none).to.deep.equal({
        score: 0,
        scoreBps: 0,
        approved: false,
        reasonCode: NO_READINGS,
        readingsInWindow: 0,
        readingsScored: 0,
        run: null,
        decidingIndex: -1,
        features: {},
        modeProbabilities: {},
        peakScoreBps: 0,
        peakIndex: -1,
      });
      // A stopped machine (0 rpm: outside the telemetry envelope) is in the window but cannot be scored.
      const stopped = { ...normalRows(1)[0], rpm: 0, torqueNm: 0 };
      const idle = await model.assessClaim(
        [0, 60, 120, 180, 240].map((s) => readingAt(incidentAt + s, stopped)),
        incidentAt,
      );
      expect(idle).to.deep.include({ readingsInWindow: 5, readingsScored: 0, approved: false, reasonCode: NO_READINGS });
      // A stopped reading inside a persisting failure breaks it.
      const failing = persistingFailureRows("OSF", 6);
      const interrupted = failing.map((t, k) => readingAt(incidentAt + 60 * k, k === 3 ? stopped : t));
      const broken = await model.assessClaim(interrupted, incidentAt);
      expect(broken).to.deep.include({
        readingsInWindow: 6,
        readingsScored: 5,
        score: 0,
        approved: false,
        reasonCode: NO_FAILURE,
        run: null,
      });
      expect(broken.peakScoreBps).to.be.at.least(claimRuleThresholdBps(model.metadata.claimRule));
    });

    it("approves persisting failure episodes of the machine simulator from their first failure reading, on the failing readings", async function () {
      const model = await shippedModel();
      const modes = { "heat-dissipation": "HDF", power: "PWF", overstrain: "OSF" } as const;
      for (const [scenario, mode] of Object.entries(modes) as [Exclude<Scenario, "normal">, "HDF" | "PWF" | "OSF"][]) {
        const claims: { incidentAt: number; readings: ReadingInput[] }[] = [];
        const truths: SimulatedStep[][] = [];
        for (let seed = 1; seed <= 10; seed++) {
          const machine = new MachineSimulator({ seed: `oracle-test/${scenario}/${seed}`, scenario, noRandomFailures: true });
          const steps = Array.from({ length: 260 }, () => machine.next());
          const first = steps.findIndex((s) => s.truth.episode !== "none" && s.truth.modes[mode]);
          expect(first, `${scenario} seed ${seed} fails`).to.be.greaterThan(0);
          claims.push({
            incidentAt: incidentAt + 60 * first,
            readings: steps.map((s, i) => readingAt(incidentAt + 60 * i, s.telemetry)),
          });
          truths.push(steps);
        }
        const assessed = await model.assessClaims(claims);
        const approved = assessed.filter((a) => a.approved).length;
        expect(approved, `${scenario}: approved of 10 (the measured recall is about 90 %)`).to.be.at.least(8);
        assessed.forEach((a, i) => {
          if (!a.approved) return;
          // The deciding run lies in the episode, and its readings show a failure the model is built to see.
          for (let k = a.run!.first; k <= a.run!.last; k++) {
            const truth = truths[i][k].truth;
            expect(truth.episode, `${scenario} seed ${i + 1} reading ${k}`).to.not.equal("none");
            expect(truth.modes.HDF || truth.modes.PWF || truth.modes.OSF, `${scenario} seed ${i + 1} reading ${k}`).to.equal(true);
          }
        });
      }
    });

    it("approves nothing on a healthy machine's month at one reading a minute (no incident time to shop for)", async function () {
      const model = await shippedModel();
      const machine = new MachineSimulator({ seed: "oracle-test/normal/1" });
      const steps = Array.from({ length: 43_200 }, () => machine.next());
      const rule = model.metadata.claimRule;
      const scores = await model.scoreTelemetry(steps.map((s) => s.telemetry));
      // The normal machine's own failures (the AI4I process: ~6 % of its readings) are genuine: they count as nothing.
      const readings = steps.map((s, i) => ({ timestamp: incidentAt + 60 * i, score: s.truth.failure ? 0 : scores[i] }));
      // One claim whose window is the whole month decides the same as the best window of it (a run is a run).
      const month = sustainedScore(readings, rule);
      expect(month.score, "the healthy readings' best sustained score").to.be.below(rule.minScore);
      const alarming = steps.filter((s, i) => !s.truth.failure && scores[i] >= rule.minScore).length;
      expect(alarming, "the month has alarming single readings without a failure").to.be.greaterThan(0);
    });

    it("is deterministic: the same claims give identical assessments, alone or batched", async function () {
      const model = await shippedModel();
      const claims = [
        { readings: await windowWith(persistingFailureRows("OSF", 5), -120), incidentAt },
        { readings: await windowWith(persistingFailureRows("HDF", 1), 0), incidentAt },
        { readings: await windowWith([], 0), incidentAt },
      ];
      const first = await model.assessClaims(claims);
      expect(await model.assessClaims(claims)).to.deep.equal(first);
      for (let i = 0; i < claims.length; i++) expect(await model.assessClaim(claims[i].readings, incidentAt)).to.deep.equal(first[i]);
      expect(first.map((a) => a.reasonCode)).to.deep.equal([APPROVED, NO_FAILURE, NO_FAILURE]);
    });
  });
  describe("npm run claim-rule (tools/claim-rule.ts)", function () {
    this.timeout(180_000);
    const runTool = (...args: string[]) =>
      spawnSync(process.execPath, ["--import", "tsx", "tools/claim-rule.ts", ...args], { cwd: REPO, encoding: "utf8" });

    it("measures shopping, episode and AI4I recall through the oracle's code and prints one JSON line last", async function () {
      const run = runTool("--policies", "1", "--episodes", "2");
      expect(run.status, run.stderr).to.equal(0);
      const lines = run.stdout.trim().split("\n");
      const f = JSON.parse(lines[lines.length - 1]);
      const model = await shippedModel();
      expect(f).to.deep.include({ modelHash: model.modelHash, rule: model.metadata.claimRule, window: model.metadata.window });
      expect(f.shopping).to.deep.include({ policies: 1, readingsPerPolicy: 43_200 });
      expect(f.shopping.windowsTried).to.be.greaterThan(80_000); // two distinct windows per reading, at most
      expect(f.shopping.crossCheckedWithAssessClaims).to.be.greaterThan(0);
      expect(f.shopping.maximumRuleV1.shoppable.count).to.equal(1); // the v1 rule could be shopped on this month
      expect(Object.keys(f.episodes.byScenario)).to.deep.equal(["heat-dissipation", "power", "overstrain"]);
      expect(f.ai4i).to.deep.include({ rows: 8000, failures: 271, repeatedReadings: model.metadata.claimRule.minReadings });
      expect(f.ai4i.single.count, "a single AI4I row never shows persistence").to.equal(0);
      expect(f.ai4i.persisting.count).to.be.greaterThan(200);
      expect(lines.some((l) => l.includes("(a) 1/1 policies"))).to.equal(true); // progress
    });

    it("refuses a bad option with one error line", function () {
      const run = runTool("--policies", "0");
      expect(run.status).to.equal(1);
      expect(run.stderr.trim().split("\n")).to.deep.equal(['error: --policies must be a whole number from 1 to 100000, got "0"']);
    });
  });
});
