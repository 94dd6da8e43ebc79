import { expect } from "chai";
import { telemetryToValues, type Ai4iTelemetry } from "@triad/sdk";
import { FAILURE_RULES, MachineSimulator, failureConditions, type Scenario, type SimulatedStep } from "@triad/device";
import { loadModel, type LoadedModel } from "@triad/oracle/model";
import { DEFAULT_ALERT_THRESHOLDS, ModelMonitor, scoreReadings, type Alert, type MonitorReading } from "@triad/oracle/monitor";

/**
 * The monitor with the shipped model (wasm) on the machine simulator of @triad/device, whose ground truth says at
 * every step which failure conditions hold. With the default thresholds:
 *  - a machine drifting into a heat-dissipation, power or overstrain failure is alerting at the latest on the first
 *    reading that shows the failure (the model recognises failure conditions on the reading that shows them: it
 *    cannot see them coming, MODEL.md "Live monitoring");
 *  - a machine running inside its limits raises nothing over a long run, and a normal machine (the simulator's AI4I
 *    process, where ~4 % of the products fail) raises alerts only on failures or at a failure limit.
 */
const DEVICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);
const EPISODE_START = 100;

/** The shipped model on wasm, loaded once for the file. */
const shippedModel: () => Promise<LoadedModel> = (() => {
  let loaded: Promise<LoadedModel> | undefined;
  return () => (loaded ??= loadModel(undefined, { backend: "wasm" }));
})();

function simulate(scenario: Scenario, seed: number, steps: number): SimulatedStep[] {
  const machine = new MachineSimulator({ seed, scenario, episodeStart: EPISODE_START, noRandomFailures: true });
  return Array.from({ length: steps }, () => machine.next());
}

const asReadings = (steps: readonly SimulatedStep[]): MonitorReading[] =>
  steps.map((s) => ({
    device: DEVICE,
    seq: BigInt(s.step),
    timestamp: 1_767_225_600n + BigInt(s.step),
    values: telemetryToValues(s.telemetry),
  }));

/** Whether the device is alerting after each reading 0..n−1, from the alerts (seq = index). */
function alertingTimeline(alerts: readonly Alert[], n: number): boolean[] {
  const timeline: boolean[] = [];
  let state = false;
  let next = 0;
  for (let i = 0; i < n; i++) {
    while (next < alerts.length && alerts[next].seq === BigInt(i)) state = alerts[next++].state === "raised";
    timeline.push(state);
  }
  expect(next, "every alert is on a reading").to.equal(alerts.length);
  return timeline;
}

/** Failure conditions the model is built to recognise in one reading (TWF and RNF are machine events, MODEL.md). */
const visibleFailure = (s: SimulatedStep) => s.truth.modes.HDF || s.truth.modes.PWF || s.truth.modes.OSF;

/** Telemetry well inside every failure limit: ≥ 0.5 K / 70 rpm from HDF, 500 W from PWF, 10 % from OSF. */
function insideLimits(t: Ai4iTelemetry): boolean {
  const c = failureConditions(t);
  return (
    (t.processTempK - t.airTempK >= FAILURE_RULES.hdfMaxTempDiffK + 0.5 || t.rpm >= FAILURE_RULES.hdfMaxRpm + 70) &&
    c.powerW >= FAILURE_RULES.pwfMinW + 500 &&
    c.powerW <= FAILURE_RULES.pwfMaxW - 500 &&
    c.strain <= 0.9 * FAILURE_RULES.osfMaxStrain[t.variant]
  );
}

describe("ModelMonitor with the shipped model on the machine simulator", function () {
  this.timeout(120_000);

  for (const scenario of ["heat-dissipation", "power", "overstrain"] as const) {
    it(`${scenario}: alerting at the latest on the first failure reading and all through the failure, ${SEEDS.length} machines`, async function () {
      const model = await shippedModel();
      for (const seed of SEEDS) {
        const steps = simulate(scenario, seed, 200);
        const report = await new ModelMonitor(model).process(asReadings(steps));
        const alerting = alertingTimeline(report.alerts, steps.length);
        // The first reading of the episode that shows a failure the model can judge (inside its envelope).
        const first = steps.findIndex((s, i) => s.step >= EPISODE_START && visibleFailure(s) && report.outcomes[i].kind === "scored");
        expect(first, `seed ${seed}: the episode reaches a failure`).to.be.greaterThan(0);
        expect(alerting[first], `seed ${seed}: alerting on the first failure reading (step ${first})`).to.equal(true);
        // No flapping while the machine is held in the failure condition, from its first failing reading there to the
        // end of the hold, although single readings may look healthy (a product that happens not to fail): the
        // hysteresis keeps the alert raised.
        const hold = steps.filter((s) => s.truth.episode === "hold");
        const holdFailing = hold.findIndex((s) => visibleFailure(s));
        expect(holdFailing, `seed ${seed}: the held drift fails`).to.be.at.least(0);
        const gaps = hold.slice(holdFailing).filter((s) => !alerting[s.step]);
        expect(
          gaps.map((s) => s.step),
          `seed ${seed}: readings of the held failure not alerting`,
        ).to.deep.equal([]);
        // A raise on a failure reading names a failure mode that holds there (the ground truth's).
        for (const alert of report.alerts.filter((a) => a.state === "raised")) {
          const modes = steps[Number(alert.seq)].truth.modes;
          const visible = (["HDF", "PWF", "OSF"] as const).filter((mode) => modes[mode]);
          if (visible.length > 0)
            expect(
              alert.modes.filter((m) => (visible as readonly string[]).includes(m)),
              `seed ${seed} seq ${alert.seq}`,
            ).to.not.be.empty;
        }
      }
    });
  }

  it("a machine running inside its limits raises no alert over a long run (4 × 5,000 steps); a normal machine alerts only on failures or at a limit", async function () {
    const model = await shippedModel();
    let inside = 0;
    let raisedOnNormal = 0;
    let raisedOnFailure = 0;
    for (const seed of [1, 2, 3, 4]) {
      const steps = simulate("normal", seed, 5000);
      // The normal machine: every reading, failures included.
      const normal = await new ModelMonitor(model).process(asReadings(steps));
      for (const alert of normal.alerts.filter((a) => a.state === "raised")) {
        const step = steps[Number(alert.seq)];
        raisedOnNormal++;
        if (step.truth.failure) raisedOnFailure++;
        else
          expect(insideLimits(step.telemetry), `seed ${seed} step ${step.step}: a raise on a healthy reading is at a limit`).to.equal(
            false,
          );
      }
      // The healthy machine: the same process with only the products that run well inside every limit.
      const healthySteps = steps.filter((s) => !s.truth.failure && insideLimits(s.telemetry));
      inside += healthySteps.length;
      const healthy = await new ModelMonitor(model).process(asReadings(healthySteps));
      expect(healthy.alerts, `seed ${seed}: alerts on a machine inside its limits`).to.deep.equal([]);
      expect(healthy.scored + healthy.outOfEnvelope).to.equal(healthySteps.length);
    }
    expect(inside).to.be.greaterThan(15_000);
    expect(raisedOnNormal).to.be.greaterThan(0);
    // Most alerts of a normal machine are real failures; the rest are readings at a limit (checked above).
    expect(raisedOnFailure / raisedOnNormal).to.be.at.least(0.9);
  });

  it("scores a batch in one predict call with the same result per reading as one by one", async function () {
    const model = await shippedModel();
    const readings = asReadings(simulate("power", 3, 160));
    const whole = await new ModelMonitor(model).process(readings);
    const oneByOne = new ModelMonitor(model);
    const single = [];
    for (const r of readings) single.push(...(await oneByOne.process([r])).outcomes);
    expect(single).to.deep.equal(whole.outcomes);
    expect(whole.alerts.length).to.be.greaterThan(0);
    expect(whole.scored + whole.outOfEnvelope + whole.undecodable).to.equal(readings.length);
  });

  it("counts readings outside the envelope or undecodable without scoring them, and they do not break a run", async function () {
    const model = await shippedModel();
    const failing: Ai4iTelemetry = { airTempK: 300.8, processTempK: 309.4, rpm: 1342, torqueNm: 62.4, toolWearMin: 113, variant: "M" }; // HDF (AI4I UDI 3237)
    const outside: Ai4iTelemetry = { ...failing, rpm: 500 }; // below the envelope's 996.2 rpm
    const values = [failing, outside, failing].map(telemetryToValues);
    const undecodable = [...values[0].slice(0, 5), 7n]; // variant 7
    const readings: MonitorReading[] = [...values, undecodable].map((v, i) => ({
      device: DEVICE,
      seq: BigInt(i + 1),
      timestamp: 0n,
      values: v,
    }));
    const scores = await scoreReadings(model, readings);
    expect(scores.map((s) => s.kind)).to.deep.equal(["scored", "out-of-envelope", "scored", "undecodable"]);
    const monitor = new ModelMonitor(model, { ...DEFAULT_ALERT_THRESHOLDS, raiseAfter: 2 });
    const report = await monitor.process(readings);
    expect(report).to.deep.include({ scored: 2, outOfEnvelope: 1, undecodable: 1 });
    expect(report.alerts.map((a) => [a.state, a.seq, a.modes])).to.deep.equal([["raised", 3n, ["HDF"]]]);
    const first = scores[0];
    if (first.kind !== "scored") throw new Error("unreachable");
    expect(first.riskBps).to.be.at.least(DEFAULT_ALERT_THRESHOLDS.raiseAtBps);
    expect(report.alerts[0].modelHash).to.equal(model.modelHash);
    // A re-delivered reading is scored but not observed again.
    const again = await monitor.process([readings[2]]);
    expect(again.outcomes[0].kind).to.equal("stale");
  });
});
