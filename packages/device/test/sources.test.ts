import { expect } from "chai";
import { Readable } from "node:stream";
import { telemetryToValues } from "@triad/sdk";
import {
  JsonLineError,
  ai4iCsvSource,
  jsonLinesSource,
  paced,
  parseJsonLine,
  simulatorSource,
  type SourceReading,
} from "../src/sources.ts";

async function all(source: AsyncIterable<SourceReading>): Promise<SourceReading[]> {
  const out: SourceReading[] = [];
  for await (const r of source) out.push(r);
  return out;
}

const HEADER =
  "UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF";

describe("reading sources", () => {
  it("replays AI4I rows in order with their labels, looping when asked", async () => {
    const text = [HEADER, "1,M14860,M,298.1,308.6,1551,42.8,0,0,0,0,0,0,0", "2,L47181,L,298.2,308.7,1408,46.3,3,1,0,1,0,0,0"].join("\n");
    const rows = await all(ai4iCsvSource({ text }));
    expect(rows.map((r) => r.values)).to.deep.equal([
      [298_100n, 308_600n, 1551n, 42_800n, 0n, 1n],
      [298_200n, 308_700n, 1408n, 46_300n, 3n, 0n],
    ]);
    expect(rows[1].truth).to.deep.include({ failure: true });
    expect(rows[1].truth!.modes.HDF).to.equal(true);
    expect(await all(ai4iCsvSource({ text, loop: true, count: 5 }))).to.have.length(5);
  });

  it("paces readings at the rate without drifting", async () => {
    const t0 = performance.now();
    const got = await all(
      paced(
        [1, 2, 3, 4, 5, 6].map((v) => ({ values: [BigInt(v)] })),
        { rate: 50 },
      ),
    );
    const ms = performance.now() - t0;
    expect(got).to.have.length(6);
    expect(ms).to.be.within(95, 5_000); // 5 intervals of 20 ms: it waits (the upper bound only catches a hang)
  });

  it("stops a paced source when aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 60);
    const got = await all(simulatorSource({ rate: 100, signal: controller.signal }));
    expect(got.length).to.be.within(2, 12);
  });

  it("reads JSON lines: values arrays, value objects and telemetry objects", async () => {
    const telemetry = { airTempK: 298.1, processTempK: 308.6, rpm: 1551, torqueNm: 42.8, toolWearMin: 0, variant: "M" as const };
    const input = Readable.from([`["1","-2",3]\n`, `{"values":["298100",308600]}\n\n`, `${JSON.stringify(telemetry)}\n`]);
    const got = await all(jsonLinesSource(input));
    expect(got.map((r) => r.values)).to.deep.equal([[1n, -2n, 3n], [298_100n, 308_600n], telemetryToValues(telemetry)]);
  });

  it("stops at a bad line by default, naming its line number", async () => {
    const input = Readable.from(['["1"]\n', "\n", "{not json\n", '["2"]\n']);
    const got: SourceReading[] = [];
    let error: unknown;
    try {
      for await (const r of jsonLinesSource(input)) got.push(r);
    } catch (e) {
      error = e;
    }
    expect(got).to.have.length(1);
    expect(error).to.be.instanceOf(JsonLineError);
    expect((error as JsonLineError).line).to.equal(3);
    expect((error as Error).message).to.equal("line 3: not valid JSON");
  });

  it("skips bad lines when asked, reporting each", async () => {
    const bad: string[] = [];
    const input = Readable.from(['["1"]\n', '["1.5"]\n', '{"airTempK": 1}\n', '["9223372036854775808"]\n', "[]\n", '"x"\n', '["2"]\n']);
    const got = await all(jsonLinesSource(input, { onBadLine: "skip", onError: (e) => bad.push(e.message) }));
    expect(got.map((r) => r.values)).to.deep.equal([[1n], [2n]]);
    expect(bad).to.deep.equal([
      'line 2: values[0] must be an integer (decimal string or safe integer), got "1.5"',
      'line 3: expected "values" or the telemetry fields; missing processTempK, rpm, torqueNm, toolWearMin, variant',
      "line 4: values[0] is outside int64",
      "line 5: values must hold 1 to 64 entries, got 0",
      "line 6: expected an object or an array",
    ]);
    expect(() => parseJsonLine('{"airTempK":1,"processTempK":2,"rpm":3,"torqueNm":4,"toolWearMin":5,"variant":"Q"}', 7)).to.throw(
      /line 7: "variant"/,
    );
  });

  it("yields the simulator's telemetry with its ground truth", async () => {
    const got = await all(simulatorSource({ seed: 3, count: 10 }));
    expect(got).to.have.length(10);
    for (const r of got) {
      expect(r.values).to.deep.equal(telemetryToValues(r.telemetry!));
      expect(r.truth).to.have.property("failure");
    }
  });
});
