import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { keccak256, type Wallet } from "ethers";
import pino from "pino";
import { AI4I_SCHEMA, ClaimStatus, claimReasonCode, claimsDomain, enumValue, signVerdict, type EvidenceBundle } from "@triad/sdk";
import { counterValue } from "../src/metrics.ts";
import { startEvidenceServer, type EvidenceServer } from "../src/evidence-server.ts";
import { createOracle, type ClaimOutcome, type TickReport } from "../src/daemon.ts";
import { CLAIM_AMOUNT, deployOracleCommitteeFixture, deployOracleFixture, oracleFor, testConfig, type OracleFixture } from "@triad/devkit";
import { bytesOf, closedPort, normalRows, persistingFailureRows, startRawServer } from "@triad/devkit";

const { loadFixture, time } = networkHelpers;

const FILED = enumValue(ClaimStatus, "Filed");
const PAID = enumValue(ClaimStatus, "Paid");

/** A claim the test filed, with what the oracle must conclude. */
interface Expected {
  claimId: bigint;
  approved: boolean;
  reason?: string;
}

async function finalisedVerdicts(f: OracleFixture) {
  const events = await f.claims.queryFilter(f.claims.filters.VerdictFinalised());
  return new Map(events.map((e) => [e.args.claimId, e.args]));
}

/** The tick's outcome per claim id (each claim has exactly one). */
function outcomesOf(report: TickReport): Map<bigint, ClaimOutcome> {
  const byClaim = new Map(report.outcomes.map((o) => [o.claimId, o]));
  expect(byClaim.size, "one outcome per claim").to.equal(report.outcomes.length);
  return byClaim;
}

describe("oracle daemon (in-process Hardhat chain)", function () {
  let server: EvidenceServer;
  before(async function () {
    server = await startEvidenceServer({ port: 0, maxBytes: 256 * 1024 });
  });
  after(async function () {
    await server.close();
  });

  it("approves and pays a genuine failure claim (real AI4I HDF/PWF/OSF rows), rejects normal telemetry", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [member] = f.members;
    const failure = await f.bundle([...normalRows(5), ...persistingFailureRows("OSF")]);
    const put = server.put(failure.bytes);
    const failureClaim = await f.fileClaim({ hash: failure.hash, uri: put.uri, incidentAt: failure.incidentAt });

    const other = await f.insureNewDevice("normal");
    const normal = await f.bundle(normalRows(6, 20), { device: other.device });
    const normalClaim = await f.fileClaim({
      hash: normal.hash,
      uri: server.put(normal.bytes).uri,
      incidentAt: normal.incidentAt,
      policy: other.policyId,
    });

    const holderBefore = await f.token.balanceOf(f.holder.address);
    const oracle = oracleFor(f, member);
    const report = await oracle.tick();
    expect(report).to.include({ claims: 2, submitted: 2, approved: 1, rejected: 1 });
    expect(report.outcomes).to.have.length(2);

    const verdicts = await finalisedVerdicts(f);
    expect(verdicts.get(failureClaim)!.approved).to.equal(true);
    expect(verdicts.get(failureClaim)!.payout).to.equal(CLAIM_AMOUNT);
    expect(verdicts.get(failureClaim)!.modelHash).to.equal(f.model.modelHash);
    expect(verdicts.get(normalClaim)!.approved).to.equal(false);
    expect(verdicts.get(normalClaim)!.payout).to.equal(0n);
    // Parametric product (no appeal window, no deductible): paid in the verdict's transaction.
    expect((await f.claims.getClaim(failureClaim)).status).to.equal(PAID);
    expect(await f.token.balanceOf(f.holder.address)).to.be.at.least(holderBefore + CLAIM_AMOUNT);
    // The verdict's score is the model's claim score, so it reaches the claim rule's threshold for the failure only.
    const thresholdBps = Math.round(f.model.metadata.claimRule.minScore * 10_000);
    expect(Number(verdicts.get(failureClaim)!.scoreBps)).to.be.at.least(thresholdBps);
    expect(Number(verdicts.get(normalClaim)!.scoreBps)).to.be.below(thresholdBps);
    // The report says the same, claim by claim: what was signed, in which transaction, and that it decided the claim.
    const outcomes = outcomesOf(report);
    const [decision] = await f.claims.queryFilter(f.claims.filters.VerdictFinalised(failureClaim));
    expect(outcomes.get(failureClaim)).to.deep.include({
      outcome: "approved",
      scoreBps: Number(verdicts.get(failureClaim)!.scoreBps),
      payout: CLAIM_AMOUNT,
      txHash: decision.transactionHash,
      finalised: true,
    });
    expect(outcomes.get(normalClaim)).to.deep.include({
      outcome: "rejected",
      scoreBps: Number(verdicts.get(normalClaim)!.scoreBps),
      payout: 0n,
      finalised: true,
    });
    expect(outcomes.get(normalClaim)!.reason, "rejected by the model, not for its evidence").to.equal(undefined);
    expect(await counterValue(oracle.metrics.verdictsSubmitted, { outcome: "approved" })).to.equal(1);
    expect(await counterValue(oracle.metrics.verdictsSubmitted, { outcome: "rejected" })).to.equal(1);

    // Nothing is left to do: a second tick finds no new claims, and a re-scan skips the decided claims.
    const second = await oracle.tick();
    expect(second.submitted).to.equal(0);
    expect(second.outcomes).to.deep.equal([]);
  });

  it("rejects each kind of bad evidence with its reason, in the tick report and metrics, and keeps serving", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [member] = f.members;
    const slow = await startRawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{"); // never finishes
    });
    const deadPort = await closedPort();
    const expected: Expected[] = [];
    const good = [...normalRows(4), ...persistingFailureRows("HDF")];
    // Each bad claim needs its own policy (one open claim per policy); insured up front, all in one waiting period.
    const insuredDevices = await f.insureNewDevices(Array.from({ length: 12 }, (_, i) => `bad-${i}`));
    let n = 0;
    async function fileBad(
      reason: string,
      make: (policyDevice: { device: Wallet; policyId: bigint }) => Promise<{ hash: string; uri: string; incidentAt: bigint }>,
    ) {
      const insured = insuredDevices[n++];
      const args = await make(insured);
      const claimId = await f.fileClaim({ ...args, policy: insured.policyId });
      expected.push({ claimId, approved: false, reason });
    }
    const bundleBytes = (b: EvidenceBundle) => bytesOf(b);

    await fileBad("HASH_MISMATCH", async ({ device }) => {
      const b = await f.bundle(good, { device });
      return { hash: keccak256(bytesOf("something else")), uri: server.put(b.bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("BAD_SIGNATURE", async ({ device }) => {
      const b = await f.bundle(good, { device });
      const doctored: EvidenceBundle = JSON.parse(JSON.stringify(b.bundle));
      doctored.readings[4].values[3] = "80000"; // raise the torque the device reported
      const bytes = bundleBytes(doctored);
      return { hash: keccak256(bytes), uri: server.put(bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("MISSING_SIGNATURE", async ({ device }) => {
      const b = await f.bundle(good, { device });
      const doc = JSON.parse(JSON.stringify(b.bundle)) as { readings: { signature?: string }[] };
      delete doc.readings[4].signature;
      const bytes = bytesOf(doc);
      return { hash: keccak256(bytes), uri: server.put(bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("DEVICE_MISMATCH", async () => {
      // Genuinely signed readings of device B, filed on a policy of another device.
      const b = await f.bundle(good, { device: f.deviceB });
      return { hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("OUTSIDE_POLICY_PERIOD", async ({ device, policyId }) => {
      // Readings spread over the day before the incident: the first one predates the policy's start.
      const start = (await f.claims.getPolicy(policyId)).start;
      const incidentAt = BigInt(await time.latest()) - 600n;
      const b = await f.bundle(good, { device, incidentAt, interval: (incidentAt - start + 3600n) / BigInt(good.length - 1) });
      expect(b.bundle.readings[0].timestamp).to.be.lessThan(Number(start));
      return { hash: b.hash, uri: server.put(b.bytes).uri, incidentAt };
    });
    await fileBad("MALFORMED_JSON", async ({ device }) => {
      const b = await f.bundle(good, { device });
      const bytes = b.bytes.slice(0, b.bytes.length - 7);
      return { hash: keccak256(bytes), uri: server.put(bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("WRONG_SCHEMA", async ({ device }) => {
      const b = await f.bundle(good, { device });
      const bytes = bytesOf({ ...b.bundle, schema: "triad.evidence/v0", sensorSchema: AI4I_SCHEMA });
      return { hash: keccak256(bytes), uri: server.put(bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("TOO_LARGE", async ({ device }) => {
      const b = await f.bundle([...normalRows(400), ...persistingFailureRows("HDF")], { device }); // > 64 KiB
      expect(b.bytes.length).to.be.greaterThan(64 * 1024);
      return { hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt };
    });
    await fileBad("FETCH_UNREACHABLE", async ({ device }) => {
      const b = await f.bundle(good, { device });
      return { hash: b.hash, uri: `http://127.0.0.1:${deadPort}/evidence/${b.hash}`, incidentAt: b.incidentAt };
    });
    await fileBad("FETCH_TIMEOUT", async ({ device }) => {
      const b = await f.bundle(good, { device });
      return { hash: b.hash, uri: `${slow.url}/evidence/${b.hash}`, incidentAt: b.incidentAt };
    });
    await fileBad("URI_NOT_ALLOWED", async ({ device }) => {
      const b = await f.bundle(good, { device });
      return { hash: b.hash, uri: `http://169.254.169.254/evidence/${b.hash}`, incidentAt: b.incidentAt };
    });
    // A genuine claim among them.
    const genuine = await f.bundle(good);
    expected.push({
      claimId: await f.fileClaim({ hash: genuine.hash, uri: server.put(genuine.bytes).uri, incidentAt: genuine.incidentAt }),
      approved: true,
    });

    // Bundles are checked on two worker threads here (the other tests check them inline).
    const oracle = oracleFor(f, member, { config: { verifyWorkers: 2 } });
    let report: TickReport;
    try {
      report = await oracle.tick();
    } finally {
      await slow.close();
    }
    expect(report.outcomes, "one outcome per claim of the range").to.have.length(report.claims);
    const outcomes = outcomesOf(report);
    const verdicts = await finalisedVerdicts(f);
    for (const e of expected) {
      const v = verdicts.get(e.claimId);
      expect(v, `claim ${e.claimId} (${e.reason ?? "genuine"}) has a verdict`).to.not.equal(undefined);
      expect(v!.approved, `claim ${e.claimId} (${e.reason ?? "genuine"})`).to.equal(e.approved);
      expect(outcomes.get(e.claimId)?.outcome, `outcome of claim ${e.claimId} (${e.reason ?? "genuine"})`).to.equal(
        e.approved ? "approved" : "rejected",
      );
      if (!e.reason) continue;
      expect(v!.payout).to.equal(0n);
      expect(v!.scoreBps).to.equal(0n);
      expect(v!.modelHash).to.equal(f.model.modelHash);
      expect(outcomes.get(e.claimId), `reported reason of claim ${e.claimId}`).to.deep.include({
        reason: e.reason,
        scoreBps: 0,
        payout: 0n,
        finalised: true,
      });
      expect(await counterValue(oracle.metrics.evidenceFailures, { reason: e.reason }), e.reason).to.equal(1);
    }

    // Still serving: a genuine claim filed afterwards is approved by the same instance.
    const later = await f.insureNewDevice("later");
    const b = await f.bundle(good, { device: later.device });
    const laterClaim = await f.fileClaim({ hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt, policy: later.policyId });
    const afterwards = await oracle.tick();
    expect(outcomesOf(afterwards).get(laterClaim)?.outcome).to.equal("approved");
    expect((await finalisedVerdicts(f)).get(laterClaim)?.approved).to.equal(true);
    await oracle.stop(); // ends the worker threads
  });

  it("M-2: the device's owner suspending it after the incident does not void the policy holder's claim", async function () {
    const f = await loadFixture(deployOracleFixture);
    const b = await f.bundle([...normalRows(3), ...persistingFailureRows("PWF")]);
    const served = await startRawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(b.bytes);
    });
    try {
      const claimId = await f.fileClaim({ hash: b.hash, uri: `${served.url}/e`, incidentAt: b.incidentAt });
      // The status that counts is the one at the incident (statusAt); a later suspension changes nothing.
      await (await f.registry.connect(f.holder).suspend(f.deviceA.address)).wait();
      const oracle = oracleFor(f, f.members[0]);
      const report = await oracle.tick();
      expect(outcomesOf(report).get(claimId)).to.deep.include({ outcome: "approved" });
      expect((await finalisedVerdicts(f)).get(claimId)?.approved).to.equal(true);
      expect(await counterValue(oracle.metrics.evidenceFailures, { reason: "DEVICE_NOT_ACTIVE" })).to.equal(0);
      await oracle.stop();
    } finally {
      await served.close();
    }
  });

  it("serves /healthz and /metrics; reports an unreachable chain as unhealthy", async function () {
    const f = await loadFixture(deployOracleFixture);
    const oracle = oracleFor(f, f.members[0], { config: { metricsPort: 0 } });
    await oracle.start();
    try {
      const b = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")]);
      const claimId = await f.fileClaim({ hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt });
      await waitFor(async () => (await f.claims.getClaim(claimId)).status !== FILED);
      const health = await fetch(`${oracle.opsUrl()}/healthz`);
      expect(health.status).to.equal(200);
      const body = (await health.json()) as Record<string, unknown>;
      expect(body).to.include({ healthy: true, chainReachable: true, member: f.members[0].address });
      expect(body.lagBlocks).to.be.a("number");
      const metrics = await (await fetch(`${oracle.opsUrl()}/metrics`)).text();
      expect(metrics).to.match(/triad_oracle_claims_seen_total 1/);
      expect(metrics).to.match(/triad_oracle_verdicts_submitted_total\{outcome="approved"\} 1/);
      expect(metrics).to.match(/triad_oracle_inference_seconds_count 1/);
      expect(metrics).to.match(/triad_oracle_rpc_requests_total\{method="eth_getLogs"\} \d+/);
    } finally {
      await oracle.stop();
    }

    const port = await closedPort();
    const dead = createOracle({
      provider: new ethers.JsonRpcProvider(`http://127.0.0.1:${port}`, f.chainId, { staticNetwork: true }),
      signer: f.members[0],
      addresses: f.addresses,
      model: f.model,
      config: testConfig(),
      logger: pino({ level: "silent" }),
    });
    const report = await dead.health();
    expect(report).to.include({ healthy: false, chainReachable: false });
  });

  it("committee of 3 with threshold 2: each daemon submits its own signature, one stopped, claims still finalise", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture); // 2 of 3
    const insured = [{ device: f.deviceA, policyId: f.policyId }, ...(await f.insureNewDevices(["committee-1", "committee-2"]))];
    const oracles = f.members.map((m) => oracleFor(f, m, { config: { batchSize: 1 } }));
    await Promise.all(oracles.map((o) => o.start()));
    await oracles[2].stop();
    const claimIds: bigint[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const rows = i === 1 ? normalRows(5, 40) : [...normalRows(4, 10 * i), ...persistingFailureRows(i === 0 ? "HDF" : "OSF")];
        const b = await f.bundle(rows, { device: insured[i].device });
        claimIds.push(
          await f.fileClaim({ hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt, policy: insured[i].policyId }),
        );
      }
      await waitFor(async () => {
        const states = await Promise.all(claimIds.map((id) => f.claims.getClaim(id)));
        return states.every((s) => s.status !== FILED);
      });
    } finally {
      await Promise.all(oracles.slice(0, 2).map((o) => o.stop()));
    }
    const verdicts = await finalisedVerdicts(f);
    expect(claimIds.map((id) => verdicts.get(id)!.approved)).to.deep.equal([true, false, true]);
    for (const id of claimIds) {
      const signed = await f.claims.queryFilter(f.claims.filters.VerdictSigned(id));
      // Two signatures, from two different transactions, on the same digest; the stopped member never signed.
      expect(signed.map((s) => s.args.count)).to.deep.equal([1n, 2n]);
      expect(new Set(signed.map((s) => s.args.digest)).size).to.equal(1);
      expect(new Set(signed.map((s) => s.transactionHash)).size).to.equal(2);
      expect(await f.claims.hasSigned(signed[0].args.digest, f.members[2].address)).to.equal(false);
    }
  });

  it("never signs twice: a re-scan after a lost checkpoint skips what this member already signed, even if its verdict would now differ", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture); // 2 of 3
    const b = await f.bundle([...normalRows(4), ...persistingFailureRows("HDF")]);
    const claimId = await f.fileClaim({ hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt });
    // Claim 2's evidence is not on the server yet (HTTP 404): this member signs a rejection.
    const other = await f.insureNewDevice("late-evidence");
    const late = await f.bundle([...normalRows(4), ...persistingFailureRows("PWF")], { device: other.device });
    const lateClaim = await f.fileClaim({
      hash: late.hash,
      uri: server.uriOf(late.hash),
      incidentAt: late.incidentAt,
      policy: other.policyId,
    });
    const config = testConfig();
    const first = await oracleFor(f, f.members[0], { config }).tick();
    expect(first).to.include({ submitted: 2, approved: 1, rejected: 1 });
    expect(outcomesOf(first).get(lateClaim)).to.deep.include({ outcome: "rejected", reason: "FETCH_HTTP_STATUS" }); // HTTP 404

    // A new instance rewound to the start (as if the checkpoint write was lost); the late evidence is now there.
    server.put(late.bytes);
    const again = oracleFor(f, f.members[0], { config: { ...config, checkpointFile: `${config.checkpointFile}.fresh` } });
    const report = await again.tick();
    expect(report).to.include({ claims: 2, submitted: 0, skipped: 2 });
    expect(report.outcomes.map((o) => [o.claimId, o.outcome, o.reason])).to.have.deep.members([
      [claimId, "skipped", "already_signed"],
      [lateClaim, "skipped", "already_signed"],
    ]);
    expect(await counterValue(again.metrics.claimsSkipped, { reason: "already_signed" })).to.equal(2);
    for (const id of [claimId, lateClaim]) {
      expect((await f.claims.getClaim(id)).status).to.equal(FILED); // one of two signatures so far
      expect(await f.claims.queryFilter(f.claims.filters.VerdictSigned(id))).to.have.length(1);
    }
  });

  it("skips a claim another member already decided, without submitting", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    // The other members decide the claim (2 of 3), then this member's daemon runs: it must skip it as decided.
    const b = await f.bundle([...normalRows(4), ...persistingFailureRows("HDF")]);
    const claimId = await f.fileClaim({ hash: b.hash, uri: server.put(b.bytes).uri, incidentAt: b.incidentAt });
    const claim = await f.claims.getClaim(claimId);
    const verdict = {
      claimId,
      evidenceHash: claim.evidenceHash,
      modelHash: f.model.modelHash,
      approved: false,
      payout: 0n,
      scoreBps: 0,
      reason: claimReasonCode("NO_FAILURE_DETECTED"),
      deadline: claim.assessmentDeadline,
    };
    const domain = claimsDomain(f.chainId, f.addresses.claims);
    const signatures = await Promise.all([f.members[1], f.members[2]].map((m) => signVerdict(m, domain, verdict)));
    await (await f.claims.submitVerdict(verdict, signatures)).wait();
    const oracle = oracleFor(f, f.members[0]);
    const report = await oracle.tick();
    expect(report).to.include({ claims: 1, submitted: 0, skipped: 1 });
    expect(report.outcomes).to.deep.equal([{ claimId, outcome: "skipped", reason: "decided" }]);
    expect(await counterValue(oracle.metrics.claimsSkipped, { reason: "decided" })).to.equal(1);
  });
});

/** Polls `condition` until it holds (the daemons run on their own timers). */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
