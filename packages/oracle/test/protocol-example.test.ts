/**
 * The worked examples of docs/protocol.md recomputed from the code, so the spec cannot drift from it: the evidence
 * bundle of §7.2 hashes to the `evidenceHash` it states, and the verdict of §16 (its JSON form, domain separator and
 * digest) is what the SDK's `buildVerdict`, `claimsDomain` and `verdictDigest` and the oracle's `verdictJson` make of
 * that bundle, the shipped model and the claim it describes. (The bundle's bytes themselves are rebuilt from their
 * signing keys in evidence-v2.test.ts.)
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { TypedDataEncoder } from "ethers";
import { buildVerdict, claimReasonCode, claimsDomain, evidenceHash, verdictDigest } from "@triad/sdk";
import { verdictJson } from "../src/actions.ts";
import { DEFAULT_MODEL_DIR } from "../src/model/index.ts";

const SPEC = readFileSync(path.resolve(import.meta.dirname, "../../../docs/protocol.md"), "utf8");
const SHIPPED_MODEL_HASH = (JSON.parse(readFileSync(path.join(DEFAULT_MODEL_DIR, "metadata.json"), "utf8")) as { modelHash: string })
  .modelHash;

/** The text of the section whose heading starts with `heading`, up to the next heading of its level or above. */
function section(heading: string): string {
  const start = SPEC.indexOf(`\n${heading}`);
  expect(start, `docs/protocol.md has a section "${heading}"`).to.be.greaterThan(-1);
  const level = heading.split(" ")[0];
  const rest = SPEC.slice(start + 1);
  const next = rest.slice(1).search(new RegExp(`\\n#{1,${level.length}} `));
  return next < 0 ? rest : rest.slice(0, next + 1);
}

/** The first `json` code block of `text`. */
function jsonBlock(text: string): string {
  const match = /```json\n([\s\S]*?)\n```/.exec(text);
  expect(match, "a json code block").to.not.equal(null);
  return match![1];
}

/**
 * The first value after `label` in `text`: a backquoted `0x…`, or a number (thousands may be separated by spaces or
 * commas, as the spec writes them).
 */
function after(text: string, label: string, kind: "hex" | "number"): string {
  const at = text.indexOf(label);
  expect(at, `"${label}" in the example`).to.be.greaterThan(-1);
  const pattern = kind === "hex" ? /`(0x[0-9a-fA-F]+)`/ : /(\d[\d ,]*\d|\d)/;
  const match = pattern.exec(text.slice(at + label.length));
  expect(match, `a value after "${label}"`).to.not.equal(null);
  return kind === "hex" ? match![1] : match![1].replace(/[ ,]/g, "");
}

describe("docs/protocol.md worked examples", function () {
  const bundleSection = section("### 7.2 Canonical bytes and `evidenceHash`");
  const verdictSection = section("## 16. Worked example: a verdict");

  it("§7.2: the example bundle's bytes hash to the evidenceHash the spec states", function () {
    const bytes = new TextEncoder().encode(jsonBlock(bundleSection));
    const stated = /`evidenceHash = (0x[0-9a-f]{64})`/.exec(bundleSection);
    expect(stated, "the example's evidenceHash").to.not.equal(null);
    expect(evidenceHash(bytes)).to.equal(stated![1]);
    expect(bytes.length).to.equal(Number(after(bundleSection, "`incidentAt` 1767225660;", "number")));
  });

  it("§16: the verdict, its domain separator and its digest are what the SDK and the oracle compute", function () {
    const claimsAddress = after(verdictSection, "with `ClaimsInsurance` at ", "hex");
    const domain = claimsDomain(31337n, claimsAddress);
    expect(TypedDataEncoder.hashDomain(domain), "domain separator").to.equal(after(verdictSection, "(domain separator", "hex"));

    const printed = JSON.parse(jsonBlock(verdictSection).replaceAll("\n", "")) as Record<string, unknown>;
    const bundleHash = evidenceHash(new TextEncoder().encode(jsonBlock(bundleSection)));
    const verdict = buildVerdict(
      {
        claimId: 1n,
        amount: BigInt(after(verdictSection, "`amount`", "number")),
        evidenceHash: bundleHash, // "the bundle of §7.2"
        assessmentDeadline: BigInt(after(verdictSection, "`assessmentDeadline`", "number")),
      },
      { approved: true, scoreBps: Number(after(verdictSection, "`scoreBps`", "number")), reasonCode: claimReasonCode("APPROVED") },
      SHIPPED_MODEL_HASH, // "the shipped model"
    );
    expect(printed).to.deep.equal(verdictJson(verdict));
    expect(verdictDigest(domain, verdict), "digest").to.equal(after(verdictSection, "its digest is ", "hex"));
  });
});
