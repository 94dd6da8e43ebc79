import { expect } from "chai";
import fc from "fast-check";
import { telemetryToValues } from "@triad/sdk";
import { loadModel, type ReadingInput } from "../src/model/index.ts";
import { sharedModel } from "@triad/devkit";
import { ai4iRows } from "@triad/devkit";

/**
 * Claims of real AI4I rows around the incident (some outside the model's window): stretches of one row repeated
 * 1–6 times, 20–90 s apart, so that failures persist long enough to be approved now and then.
 */
function claimArbitrary(rowCount: number) {
  const stretch = fc.record({
    row: fc.integer({ min: 0, max: rowCount - 1 }),
    repeat: fc.integer({ min: 1, max: 6 }),
    gap: fc.integer({ min: 20, max: 90 }),
  });
  return fc.record({
    incidentAt: fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }),
    start: fc.integer({ min: -1000, max: 0 }),
    stretches: fc.array(stretch, { minLength: 0, maxLength: 5 }),
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
        const inputs = claims.map((c) => {
          let t = c.incidentAt + c.start;
          const readings = c.stretches.flatMap((s) =>
            Array.from({ length: s.repeat }, (): ReadingInput => ({ timestamp: (t += s.gap), values: telemetryToValues(pool[s.row]) })),
          );
          return { incidentAt: c.incidentAt, readings };
        });
        const batched = await model.assessClaims(inputs);
        for (let i = 0; i < inputs.length; i++) {
          const single = await model.assessClaim(inputs[i].readings, inputs[i].incidentAt);
          expect(batched[i]).to.deep.equal(single);
          if (single.approved) approvals++;
        }
      }),
      { numRuns: 60, seed: 20_240_601 },
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
