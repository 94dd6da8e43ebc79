import { expect } from "chai";
import { expectTriadErrorSync } from "@triad/sdk/testing";
import { seededRandom } from "@triad/oracle/model";
import {
  ALERT_SCHEMA,
  DEFAULT_ALERT_THRESHOLDS,
  FailureMonitor,
  dominantModes,
  encodeAlert,
  parseAlert,
  validateAlertThresholds,
  type Alert,
  type AlertThresholds,
} from "@triad/oracle/monitor";

/**
 * The alert state machine with synthetic scores: every transition rule, the hysteresis band, per-device state,
 * re-deliveries, and the wire form of an alert. (With the real model and the machine simulator:
 * monitor-model.test.ts.)
 */
const DEVICE_A = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
const DEVICE_B = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF";
const MODEL_HASH = "0xa0ea0c13b297596d429e0da93d61bedb6c9ec82dbc2b9dec13dc31684aeb675a";
const THRESHOLDS: AlertThresholds = { raiseAtBps: 5000, raiseAfter: 3, clearAtBps: 2000, clearAfter: 4 };

/** A monitor fed `risks` for one device (seq 1, 2, …); returns the alerts with the index of the reading that made them. */
function run(risks: readonly number[], thresholds: AlertThresholds = THRESHOLDS, device = DEVICE_A) {
  const monitor = new FailureMonitor({ modelHash: MODEL_HASH, thresholds });
  const alerts: { at: number; alert: Alert }[] = [];
  const states: boolean[] = [];
  risks.forEach((riskBps, i) => {
    const alert = monitor.observe({
      device,
      seq: BigInt(i + 1),
      timestamp: 1_767_225_600n + BigInt(i),
      riskBps,
      modeProbabilitiesBps: { HDF: riskBps, PWF: 0, OSF: 0, TWF: 0 },
    });
    if (alert) alerts.push({ at: i, alert });
    states.push(monitor.isAlerting(device));
  });
  return { monitor, alerts, states };
}

describe("FailureMonitor (alert state machine, synthetic scores)", function () {
  it("raises on the raiseAfter-th consecutive reading at or above raiseAtBps, not before", function () {
    const { alerts, states } = run([4999, 5000, 6000, 9000, 9000]);
    expect(alerts.map((a) => [a.at, a.alert.state])).to.deep.equal([[3, "raised"]]);
    expect(states).to.deep.equal([false, false, false, true, true]);
    const { alert } = alerts[0];
    expect(alert).to.deep.include({
      device: DEVICE_A,
      state: "raised",
      riskBps: 9000,
      seq: 4n,
      timestamp: 1_767_225_603n,
      modelHash: MODEL_HASH,
    });
    expect(alert.thresholds).to.deep.equal(THRESHOLDS);
    expect(alert.modes).to.deep.equal(["HDF"]);
  });

  it("a reading below raiseAtBps restarts the raise count: a risk hovering at the threshold never raises", function () {
    // Two at/above, one just below, over and over: never three in a row.
    const hovering = Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? 4999 : 5000));
    const { alerts, states } = run(hovering);
    expect(alerts).to.deep.equal([]);
    expect(states.every((s) => !s)).to.equal(true);
  });

  it("clears only after clearAfter consecutive readings below clearAtBps; the band [clearAt, raiseAt) keeps it raised", function () {
    const raise = [9000, 9000, 9000];
    // In the band (2000..4999) for long: stays raised. At exactly clearAtBps: not below. Three below, then one at
    // 2000: the count restarts. Then four below: cleared on the fourth.
    const risks = [...raise, ...Array(50).fill(3000), 2000, 1999, 1999, 1999, 2000, 1999, 1999, 1999, 1999, 0];
    const { alerts, states } = run(risks);
    const clearedAt = raise.length + 50 + 1 + 3 + 1 + 3; // the fourth consecutive 1999
    expect(alerts.map((a) => [a.at, a.alert.state])).to.deep.equal([
      [2, "raised"],
      [clearedAt, "cleared"],
    ]);
    expect(states.slice(0, clearedAt).every((s, i) => s === i >= 2)).to.equal(true);
    expect(states[clearedAt]).to.equal(false);
    const cleared = alerts[1].alert;
    expect(cleared).to.deep.include({ state: "cleared", riskBps: 1999, seq: BigInt(clearedAt + 1) });
    expect(cleared.modes).to.deep.equal(["HDF"]); // the modes of the alert it ends
  });

  it("a risk oscillating across both thresholds does not flap: at most one raise per raiseAfter + clearAfter readings", function () {
    // High for 2, low for 3, repeated: neither run is long enough, so no transition ever happens.
    const pattern = [9000, 9000, 100, 100, 100];
    expect(run(Array.from({ length: 500 }, (_, i) => pattern[i % 5])).alerts).to.deep.equal([]);
    // High for 3, low for 4: raise, clear, raise, … exactly once per cycle.
    const cycle = [9000, 9000, 9000, 100, 100, 100, 100];
    const { alerts } = run(Array.from({ length: 70 }, (_, i) => cycle[i % 7]));
    expect(alerts.map((a) => a.at)).to.deep.equal(Array.from({ length: 20 }, (_, k) => Math.floor(k / 2) * 7 + (k % 2 === 0 ? 2 : 6)));
  });

  it("property: on random risks every transition happens exactly when its rule first holds, and states alternate", function () {
    for (let seed = 1; seed <= 20; seed++) {
      const random = seededRandom(seed); // reproducible property test
      const thresholds: AlertThresholds = {
        raiseAtBps: 3000 + Math.floor(random() * 5000),
        raiseAfter: 1 + Math.floor(random() * 4),
        clearAtBps: 500 + Math.floor(random() * 2000),
        clearAfter: 1 + Math.floor(random() * 6),
      };
      // A slowly moving level plus noise, so that every kind of run occurs.
      let level = 0.3;
      const risks = Array.from({ length: 2000 }, () => {
        level = Math.min(1, Math.max(0, level + (random() - 0.5) * 0.2));
        return Math.floor(Math.min(1, Math.max(0, level + (random() - 0.5) * 0.3)) * 10_000);
      });
      const { alerts } = run(risks, thresholds);
      // Reference: walk the risks with the rule written as "the last N readings since the last transition".
      const expected: { at: number; state: string }[] = [];
      let alerting = false;
      let since = 0;
      risks.forEach((_, i) => {
        const n = alerting ? thresholds.clearAfter : thresholds.raiseAfter;
        if (i + 1 - since < n) return;
        const window = risks.slice(i + 1 - n, i + 1);
        const holds = alerting ? window.every((r) => r < thresholds.clearAtBps) : window.every((r) => r >= thresholds.raiseAtBps);
        if (!holds) return;
        alerting = !alerting;
        since = i + 1;
        expected.push({ at: i, state: alerting ? "raised" : "cleared" });
      });
      expect(
        alerts.map((a) => ({ at: a.at, state: a.alert.state })),
        `seed ${seed}`,
      ).to.deep.equal(expected);
      expect(expected.length, `seed ${seed} exercises transitions`).to.be.greaterThan(2);
      // Deterministic: the same input gives the same alerts.
      expect(run(risks, thresholds).alerts).to.deep.equal(alerts);
    }
  });

  it("keeps one state per device: interleaved devices do not share runs", function () {
    const monitor = new FailureMonitor({ modelHash: MODEL_HASH, thresholds: { ...THRESHOLDS, raiseAfter: 2 } });
    const observe = (device: string, seq: number, riskBps: number) =>
      monitor.observe({ device, seq: BigInt(seq), timestamp: 0n, riskBps, modeProbabilitiesBps: { HDF: riskBps } });
    expect(observe(DEVICE_A, 1, 9000)).to.equal(undefined);
    expect(observe(DEVICE_B, 1, 100)).to.equal(undefined);
    expect(observe(DEVICE_B, 2, 9000)).to.equal(undefined);
    expect(observe(DEVICE_A, 2, 9000)?.state).to.equal("raised");
    expect(observe(DEVICE_B, 3, 9000)?.device).to.equal(DEVICE_B);
    expect(monitor.devicesAlerting).to.equal(2);
    expect(monitor.alerting().map((a) => a.device)).to.deep.equal([DEVICE_A, DEVICE_B]);
  });

  it("ignores a reading at or below the device's last observed seq (a re-delivery)", function () {
    const monitor = new FailureMonitor({ modelHash: MODEL_HASH, thresholds: { ...THRESHOLDS, raiseAfter: 2 } });
    const observe = (seq: number, riskBps: number) =>
      monitor.observe({ device: DEVICE_A, seq: BigInt(seq), timestamp: 0n, riskBps, modeProbabilitiesBps: {} });
    expect(observe(5, 9000)).to.equal(undefined);
    expect(observe(5, 9000)).to.equal(undefined); // the same reading again does not count twice
    expect(observe(4, 9000)).to.equal(undefined);
    expect(monitor.isAlerting(DEVICE_A)).to.equal(false);
    expect(monitor.lastSeq(DEVICE_A)).to.equal(5n);
    expect(observe(6, 9000)?.state).to.equal("raised");
  });

  it("names the dominant modes: heads at or above raiseAtBps, most probable first, else the most probable head", function () {
    expect(dominantModes({ HDF: 100, PWF: 9000, OSF: 6000, TWF: 200 }, 5000)).to.deep.equal(["PWF", "OSF"]);
    expect(dominantModes({ HDF: 3000, PWF: 100, OSF: 3100, TWF: 200 }, 5000)).to.deep.equal(["OSF"]);
    expect(dominantModes({ HDF: 4000, PWF: 4000 }, 5000)).to.deep.equal(["HDF"]); // a tie keeps the output order
  });

  it("validates thresholds with one line listing every problem (TriadError MONITOR_THRESHOLDS)", function () {
    expect(validateAlertThresholds()).to.deep.equal(DEFAULT_ALERT_THRESHOLDS);
    expect(DEFAULT_ALERT_THRESHOLDS.clearAtBps).to.be.below(DEFAULT_ALERT_THRESHOLDS.raiseAtBps);
    const error = expectTriadErrorSync(() => validateAlertThresholds({ raiseAtBps: 0, raiseAfter: 1.5, clearAfter: 0 }), {
      code: "MONITOR_THRESHOLDS",
    });
    expect(error.message).to.match(/raiseAtBps must be a whole number in 1\.\.10000, got 0/);
    expect(error.message).to.match(/raiseAfter .* got 1\.5/);
    expect(error.message).to.match(/clearAfter .* got 0/);
    expectTriadErrorSync(() => validateAlertThresholds({ raiseAtBps: 3000, clearAtBps: 3000 }), {
      code: "MONITOR_THRESHOLDS",
      message: /clearAtBps \(3000\) must be below raiseAtBps \(3000\)/,
    });
    expectTriadErrorSync(() => new FailureMonitor({ modelHash: MODEL_HASH, thresholds: { raiseAfter: -1 } }), {
      code: "MONITOR_THRESHOLDS",
    });
  });
});

describe("alert wire format (triad.alert/v1)", function () {
  const alert: Alert = {
    device: DEVICE_A,
    state: "raised",
    riskBps: 9712,
    modes: ["PWF"],
    modeProbabilitiesBps: { HDF: 3, PWF: 9709, OSF: 12, TWF: 40 },
    seq: 18_446_744_073_709_551_615n, // uint64 max survives as a decimal string
    timestamp: 1_767_225_600n,
    thresholds: { ...DEFAULT_ALERT_THRESHOLDS },
    modelHash: MODEL_HASH,
  };

  it("encodes compact JSON with the keys in protocol order and reads it back", function () {
    const text = new TextDecoder().decode(encodeAlert(alert));
    expect(text).to.equal(
      `{"schema":"${ALERT_SCHEMA}","device":"${DEVICE_A}","state":"raised","riskBps":9712,"modes":["PWF"],` +
        `"modeProbabilitiesBps":{"HDF":3,"PWF":9709,"OSF":12,"TWF":40},"seq":"18446744073709551615",` +
        `"timestamp":"1767225600","thresholds":{"raiseAtBps":5000,"raiseAfter":1,"clearAtBps":1500,"clearAfter":5},` +
        `"modelHash":"${MODEL_HASH}"}`,
    );
    expect(parseAlert(text)).to.deep.equal(alert);
    expect(parseAlert(encodeAlert({ ...alert, state: "cleared", device: DEVICE_A.toLowerCase() })).device).to.equal(DEVICE_A);
  });

  const wire = JSON.parse(new TextDecoder().decode(encodeAlert(alert))) as Record<string, unknown>;
  const bad: [string, unknown, RegExp][] = [
    ["not JSON", "{", /not UTF-8 JSON/],
    ["an array", [], /not a JSON object/],
    ["an extra field", { ...wire, extra: 1 }, /unknown field "extra"/],
    ["a missing field", { ...wire, modes: undefined }, /missing field "modes"/],
    ["another schema", { ...wire, schema: "triad.alert/v2" }, /schema must be/],
    ["an unknown state", { ...wire, state: "open" }, /state must be/],
    ["a risk above 10000", { ...wire, riskBps: 10_001 }, /riskBps must be 0\.\.10000/],
    ["a seq as a JSON number", { ...wire, seq: 1 }, /seq must be a decimal string/],
    [
      "thresholds without the hysteresis",
      { ...wire, thresholds: { raiseAtBps: 10, raiseAfter: 1, clearAtBps: 20, clearAfter: 1 } },
      /clearAtBps/,
    ],
    ["thresholds with a missing key", { ...wire, thresholds: { raiseAtBps: 10, raiseAfter: 1, clearAtBps: 5 } }, /thresholds must hold/],
    ["a short model hash", { ...wire, modelHash: "0x12" }, /modelHash/],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what} with one line`, function () {
      expectTriadErrorSync(() => parseAlert(typeof value === "string" ? value : JSON.stringify(value)), { code: "INVALID_INPUT", message });
    });
  }
});
