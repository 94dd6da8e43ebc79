import { expect } from "chai";
import fc from "fast-check";
import { telemetryToValues } from "@triad/sdk";
import { loadModel, type ReadingInput } from "../src/model/index.ts";
import { sharedModel } from "@triad/devkit";
import { ai4iRows } from "@triad/devkit";

/** Claims of real AI4I rows at random times around the incident (some outside the model's window). */
function claimArbitrary(rowCount: number) {
  const reading = fc.record({ row: fc.integer({ min: 0, max: rowCount - 1 }), offset: fc.integer({ min: -900, max: 120 }) });
  return fc.record({
    incidentAt: fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }),
    readings: fc.array(reading, { minLength: 0, maxLength: 12 }),
  });
}

describe("oracle: batched inference across claims", function () {
  it("gives exactly the model's assessClaim result for every claim of a batch", async function () {
    const model = await sharedModel();
    const rows = ai4iRows();
    // Failure rows are rare: mix them in so approvals occur.
    const failures = rows.filter((r) => r.failure === 1);
    const pool = [...rows.slice(0, 300), ...failures.slice(0, 100)];
    let approvals = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(claimArbitrary(pool.length), { minLength: 1, maxLength: 8 }), async (claims) => {
        const inputs = claims.map((c) => ({
          incidentAt: c.incidentAt,
          readings: c.readings.map((r): ReadingInput => ({ timestamp: c.incidentAt + r.offset, values: telemetryToValues(pool[r.row]) })),
        }));
        const batched = await model.assessClaims(inputs);
        for (let i = 0; i < inputs.length; i++) {
          const single = await model.assessClaim(inputs[i].readings, inputs[i].incidentAt);
          expect(batched[i]).to.deep.include({
            score: single.score,
            scoreBps: single.scoreBps,
            approved: single.approved,
            readingsInWindow: single.readingsInWindow,
            maxIndex: single.maxIndex,
          });
          if (single.approved) approvals++;
        }
      }),
      { numRuns: 40, seed: 20_240_601 },
    );
    expect(approvals, "the property saw approvals").to.be.greaterThan(0);
  });

  it("a row's score does not depend on the rest of the batch (cpu and wasm backends)", async function () {
    const rows = ai4iRows().slice(0, 300);
    for (const backend of ["cpu", "wasm"] as const) {
      const model = backend === "cpu" ? await sharedModel() : await loadModel(undefined, { backend });
      const whole = await model.scoreTelemetry(rows);
      const chunks: number[] = [];
      for (let i = 0; i < rows.length; i += 7) chunks.push(...(await model.scoreTelemetry(rows.slice(i, i + 7))));
      const singles: number[] = [];
      for (let i = 0; i < 40; i++) singles.push(...(await model.scoreTelemetry([rows[i]])));
      expect(chunks, backend).to.deep.equal(whole);
      expect(singles, backend).to.deep.equal(whole.slice(0, 40));
      if (backend !== "cpu") model.dispose();
    }
  });
});
