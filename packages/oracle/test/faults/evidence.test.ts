/**
 * Fault suite, evidence URIs: one claimant's evidence server stalls (only that claim may wait, up to its own evidence
 * deadline), and hostile URIs (a redirect to the daemon's RPC endpoint or to its own /metrics, HTML, a body over the
 * limit) are refused with a reason, never fetched from where they point.
 */
import { expect } from "chai";
import { keccak256 } from "ethers";
import { claimReason } from "@triad/sdk";
import { expectDecidedOnce, metric, faultScenarios, type FaultWorld } from "./helpers.ts";

describe("oracle faults: slow and hostile evidence URIs (hardhat node, interval mining, real daemons)", function () {
  this.timeout(240_000);
  let w: FaultWorld;
  faultScenarios((world) => (w = world));

  it("a stalling evidence server delays only its own claim: the others are decided first, it is decided after its deadline", async function () {
    const prepared = await w.prepare(4, "slow");
    await w.startCommittee({ env: { ORACLE_EVIDENCE_DEADLINE_MS: "30000", ORACLE_EVIDENCE_TIMEOUT_MS: "15000" } });
    const slowPath = `/slow/${prepared[0].hash}`;
    w.evidence.set(slowPath, { kind: "stall" });
    const ids = await w.file(prepared, (c, i) => (i === 0 ? `${w.evidence.url}${slowPath}` : `${w.evidence.url}/evidence/${c.hash}`));
    const others = await w.waitDecided(ids.slice(1), 60_000);
    expectDecidedOnce(others, prepared.slice(1));
    expect(w.evidence.fetches(slowPath), "fetches of the stalling URI").to.be.at.least(1);
    const [slow] = await w.waitDecided(ids.slice(0, 1), 90_000);
    expect(slow.finalisations).to.have.length(1);
    expect(claimReason(slow.finalisations[0].reason).name, "the slow claim's verdict").to.equal("EVIDENCE_UNAVAILABLE");
    // Only the slow claim waited for its deadline (30 s, 1 s blocks): the others were decided well before it.
    const othersBlock = Math.max(...others.map((o) => o.finalisations[0].block));
    expect(slow.finalisations[0].block, `block of the slow claim's verdict (the others' last: ${othersBlock})`).to.be.greaterThan(
      othersBlock + 5,
    );
  });

  it("refuses hostile evidence URIs with reasons: redirects to the RPC port and to /metrics, HTML, too large", async function () {
    const prepared = await w.prepare(4, "hostile", () => false);
    const daemons = await w.startCommittee({ env: { ORACLE_EVIDENCE_MAX_BYTES: "262144" } });
    const html = new TextEncoder().encode("<!doctype html><html><body>not evidence</body></html>");
    const huge = new Uint8Array(2 * 1024 * 1024).fill(0x20);
    const uris = [
      w.evidence.set("/to-rpc", { kind: "redirect", location: `${w.proxy.url}/` }),
      w.evidence.set("/to-metrics", { kind: "redirect", location: `${daemons[0].opsUrl}/metrics` }),
      w.evidence.set("/page.html", { kind: "serve", bytes: html, contentType: "text/html" }),
      w.evidence.set("/huge.json", { kind: "serve", bytes: huge }),
    ];
    // The HTML claim's evidence hash is the HTML's own: only a content check can refuse it.
    const claims = prepared.map((c, i) => (i === 2 ? { ...c, hash: keccak256(html) } : c));
    const ids = await w.file(claims, (_, i) => uris[i]);
    const outcomes = await w.waitDecided(ids, 90_000);
    expectDecidedOnce(outcomes);
    const reasons = outcomes.map((o) => claimReason(o.finalisations[0].reason).name);
    // Refused, not fetched: a followed redirect would have hashed what the RPC port or /metrics answered (HASH_MISMATCH).
    expect(reasons[0], "redirect to the RPC port").to.equal("EVIDENCE_UNAVAILABLE");
    expect(reasons[1], "redirect to the daemon's /metrics").to.equal("EVIDENCE_UNAVAILABLE");
    expect(reasons[2], "HTML").to.be.oneOf(["EVIDENCE_UNAVAILABLE", "MALFORMED_EVIDENCE"]);
    expect(reasons[3], "too large").to.equal("EVIDENCE_UNAVAILABLE");
    expect(w.proxy.count("(http GET)"), "evidence fetches that reached the RPC port").to.equal(0);
    for (const p of daemons) {
      expect(
        await metric(p, "evidence_failures_total", { reason: "URI_NOT_ALLOWED" }),
        `member ${p.member} URI_NOT_ALLOWED`,
      ).to.be.at.least(2);
      expect(await metric(p, "evidence_failures_total", { reason: "TOO_LARGE" }), `member ${p.member} TOO_LARGE`).to.be.at.least(1);
    }
  });
});
