import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { claimsDomain, signVerdict } from "@triad/sdk";
import { assessEvidence, auditClaim } from "../src/actions.ts";
import { startEvidenceServer, type EvidenceServer } from "../src/evidence-server.ts";
import { deployOracleFixture, oracleFor, tempDir, testConfig, type OracleFixture } from "@triad/devkit";
import { normalRows, persistingFailureRows } from "@triad/devkit";
import { ROOT, daemonEnv, oracleCliArgs, jsonLines, serveChainOverHttp, startOracleCli, waitFor } from "@triad/devkit";

const { loadFixture } = networkHelpers;

const FILED = 1n;

describe("oracle processes and commands (JSON-RPC over HTTP to the in-process Hardhat chain)", function () {
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let evidence: EvidenceServer;

  before(async function () {
    rpc = await serveChainOverHttp();
    evidence = await startEvidenceServer({ port: 0 });
  });
  after(async function () {
    await rpc.close();
    await evidence.close();
  });

  function streamEnv(f: OracleFixture, checkpointFile: string): Record<string, string> {
    return daemonEnv(f, rpc.url, checkpointFile, {
      ORACLE_LOG_BLOCK_RANGE: "1", // one block per tick: the kill lands mid-stream
      ORACLE_BATCH_SIZE: "1",
    });
  }

  it("a daemon killed with SIGKILL mid-stream and restarted decides every claim exactly once", async function () {
    const f = await loadFixture(deployOracleFixture);
    const claimIds: bigint[] = [];
    const devices = await f.insureNewDevices(Array.from({ length: 16 }, (_, i) => `restart-${i}`));
    for (let i = 0; i < 16; i++) {
      const insured = devices[i];
      const rows = i % 3 === 0 ? normalRows(4, i) : [...normalRows(3, i), ...persistingFailureRows(i % 2 ? "HDF" : "PWF", 5, i % 4)];
      const b = await f.bundle(rows, { device: insured.device });
      claimIds.push(
        await f.fileClaim({ hash: b.hash, uri: evidence.put(b.bytes).uri, incidentAt: b.incidentAt, policy: insured.policyId }),
      );
    }
    const decided = async () => {
      const states = await Promise.all(claimIds.map((id) => f.claims.getClaim(id)));
      return states.filter((s) => s.status !== FILED).length;
    };
    const checkpointFile = path.join(tempDir(), "checkpoint.json");
    const env = streamEnv(f, checkpointFile);

    const first = startOracleCli(["run"], env);
    await waitFor(async () => (await decided()) >= 3 || first.process.exitCode !== null, "the first verdicts");
    first.process.kill("SIGKILL");
    expect(await first.exited, first.stderr.join("")).to.equal(null); // killed, no graceful path
    const afterKill = await decided();
    expect(afterKill, "killed mid-stream").to.be.lessThan(claimIds.length);
    const killedAt = JSON.parse(readFileSync(checkpointFile, "utf8")) as { nextBlock: number }; // never torn

    const second = startOracleCli(["run"], env);
    await waitFor(async () => (await decided()) === claimIds.length || second.process.exitCode !== null, "all claims decided");
    second.process.kill("SIGTERM");
    expect(await second.exited, second.stderr.join("")).to.equal(0);

    for (const id of claimIds) {
      expect(await f.claims.queryFilter(f.claims.filters.VerdictSigned(id)), `claim ${id} signed once`).to.have.length(1);
      expect(await f.claims.queryFilter(f.claims.filters.VerdictFinalised(id)), `claim ${id} finalised once`).to.have.length(1);
    }
    const logs = jsonLines([...first.stdout, ...second.stdout]);
    const submitted = logs.filter((l) => l.msg === "verdict submitted").map((l) => l.claimId);
    expect(new Set(submitted).size, "no claim submitted twice").to.equal(submitted.length);
    expect(logs.filter((l) => l.msg === "verdict refused by the contract")).to.deep.equal([]);
    expect(logs.some((l) => l.msg === "oracle resumed from checkpoint")).to.equal(true);
    // The graceful stop left a checkpoint past every claim.
    const finalCheckpoint = JSON.parse(readFileSync(checkpointFile, "utf8")) as { nextBlock: number };
    const filed = await f.claims.queryFilter(f.claims.filters.ClaimFiled());
    expect(finalCheckpoint.nextBlock).to.be.greaterThan(Math.max(killedAt.nextBlock, ...filed.map((e) => e.blockNumber)));
  });

  it("audit reports a match for an honest verdict and a mismatch for a doctored one", async function () {
    const f = await loadFixture(deployOracleFixture);
    const honest = await f.bundle([...normalRows(4), ...persistingFailureRows("OSF")]);
    const honestClaim = await f.fileClaim({ hash: honest.hash, uri: evidence.put(honest.bytes).uri, incidentAt: honest.incidentAt });
    await oracleFor(f, f.members[0]).tick();

    // A doctored verdict: the member (1 of 1) approves normal telemetry with a made-up score, bypassing the model.
    const insured = await f.insureNewDevice("doctored");
    const normal = await f.bundle(normalRows(5, 60), { device: insured.device });
    const doctoredClaim = await f.fileClaim({
      hash: normal.hash,
      uri: evidence.put(normal.bytes).uri,
      incidentAt: normal.incidentAt,
      policy: insured.policyId,
    });
    const claim = await f.claims.getClaim(doctoredClaim);
    const verdict = {
      claimId: doctoredClaim,
      evidenceHash: claim.evidenceHash,
      modelHash: f.model.modelHash,
      approved: true,
      payout: claim.amount,
      scoreBps: 9_900,
      reason: 0,
      deadline: claim.assessmentDeadline,
    };
    await (
      await f.claims.submitVerdict(verdict, [await signVerdict(f.members[0], claimsDomain(f.chainId, f.addresses.claims), verdict)])
    ).wait();

    const deps = { provider: ethers.provider, addresses: f.addresses, model: f.model, evidence: testConfig().evidence! };
    const ok = await auditClaim(deps, { claimId: honestClaim });
    expect(ok.match, JSON.stringify(ok)).to.equal(true);
    expect(ok.outcome).to.equal("match");
    expect(ok.differences).to.deep.equal([]);
    expect(ok.onChain!.approved).to.equal(true);

    const bad = await auditClaim(deps, { claimId: doctoredClaim });
    expect(bad.match).to.equal(false);
    expect(bad.differences.map((d) => d.field)).to.include.members(["approved", "payout", "scoreBps", "digest"]);
    expect(bad.differences.find((d) => d.field === "approved")).to.deep.equal({ field: "approved", onChain: true, recomputed: false });

    // The same through the CLI: the report is the last stdout line, exit code 3 on a mismatch. (Spawned
    // asynchronously: the chain it queries is served by this process's event loop.)
    const env = daemonEnv(f, rpc.url, path.join(tempDir(), "cp.json"), { ORACLE_LOG_LEVEL: "warn" });
    const cli = startOracleCli(["audit", "--claim", doctoredClaim.toString()], env);
    expect(await cli.exited, cli.stderr.join("")).to.equal(3);
    const report = JSON.parse(cli.stdout[cli.stdout.length - 1]) as { match: boolean; outcome: string; differences: { field: string }[] };
    expect(report.match).to.equal(false);
    expect(report.outcome).to.equal("mismatch");
    expect(report.differences.map((d) => d.field)).to.include("approved");
  });

  it("audit never calls unfetchable evidence a MISMATCH: 'unverifiable' (exit 5); before a verdict 'no-verdict' (exit 4)", async function () {
    const f = await loadFixture(deployOracleFixture);
    // The evidence lives on a store that goes away after the committee decided.
    const gone = await startEvidenceServer({ port: 0 });
    const b = await f.bundle([...normalRows(4), ...persistingFailureRows("PWF")]);
    const decidedClaim = await f.fileClaim({ hash: b.hash, uri: gone.put(b.bytes).uri, incidentAt: b.incidentAt });
    await oracleFor(f, f.members[0]).tick();
    expect((await f.claims.getClaim(decidedClaim)).status).to.not.equal(FILED);
    await gone.close();

    const insured = await f.insureNewDevice("audit-undecided");
    const pending = await f.bundle(normalRows(5, 30), { device: insured.device });
    const undecidedClaim = await f.fileClaim({
      hash: pending.hash,
      uri: evidence.put(pending.bytes).uri,
      incidentAt: pending.incidentAt,
      policy: insured.policyId,
    });

    const deps = { provider: ethers.provider, addresses: f.addresses, model: f.model, evidence: { ...testConfig().evidence!, retries: 0 } };
    const unverifiable = await auditClaim(deps, { claimId: decidedClaim });
    expect(unverifiable).to.include({ outcome: "unverifiable", match: null, recomputed: null });
    expect(unverifiable.differences).to.deep.equal([]);
    expect(unverifiable.onChain).to.not.equal(null);
    expect(unverifiable.notes.join(" ")).to.match(
      /the evidence could not be fetched now \(FETCH_UNREACHABLE: .*\): the verdict was not re-checked/,
    );
    expect(await auditClaim(deps, { claimId: undecidedClaim })).to.include({ outcome: "no-verdict", match: null });

    const env = daemonEnv(f, rpc.url, path.join(tempDir(), "cp.json"), { ORACLE_LOG_LEVEL: "warn", ORACLE_EVIDENCE_RETRIES: "0" });
    for (const [claimId, code, outcome] of [
      [decidedClaim, 5, "unverifiable"],
      [undecidedClaim, 4, "no-verdict"],
    ] as const) {
      const cli = startOracleCli(["audit", "--claim", claimId.toString()], env);
      expect(await cli.exited, cli.stderr.join("")).to.equal(code);
      expect(JSON.parse(cli.stdout[cli.stdout.length - 1])).to.include({ outcome, match: null });
    }
  });

  it("assess works with no chain at all (saying which checks it skipped) and runs them all with one", async function () {
    const f = await loadFixture(deployOracleFixture);
    const b = await f.bundle([...normalRows(4), ...persistingFailureRows("HDF")]);
    const file = path.join(tempDir(), "bundle.json");
    writeFileSync(file, b.bytes);
    const cli = spawnSync(process.execPath, oracleCliArgs(["assess", "--evidence", file, "--dotenv", path.join(tempDir(), ".env")]), {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ORACLE_TFJS_BACKEND: "cpu", ORACLE_LOG_LEVEL: "warn" },
      encoding: "utf8",
      timeout: 90_000,
    });
    expect(cli.status, cli.stderr).to.equal(0);
    const result = JSON.parse(cli.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
    expect(result).to.include({ valid: true, evidenceHash: b.hash, chainChecks: "skipped", modelHash: f.model.modelHash, verdict: null });
    expect((result.assessment as { approved: boolean }).approved).to.equal(true);
    expect(result.skippedChecks).to.include.members(["device status is Active in the registry", "readings inside the policy period"]);

    // A tampered copy is refused offline too (signatures are checked in the domain the bundle names).
    const tampered = JSON.parse(new TextDecoder().decode(b.bytes)) as { readings: { values: string[] }[] };
    tampered.readings[0].values[2] = "1";
    writeFileSync(file, JSON.stringify(tampered));
    const again = spawnSync(process.execPath, oracleCliArgs(["assess", "--evidence", file, "--dotenv", path.join(tempDir(), ".env")]), {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ORACLE_TFJS_BACKEND: "cpu", ORACLE_LOG_LEVEL: "warn" },
      encoding: "utf8",
      timeout: 90_000,
    });
    expect(JSON.parse(again.stdout.trim().split("\n").pop()!)).to.include({ valid: false, reason: "BAD_SIGNATURE" });

    // With the chain but no claim: the deployment's domain and the device status are checked as well.
    const partial = await assessEvidence(
      { model: f.model, chain: { provider: ethers.provider, addresses: f.addresses } },
      { bytes: b.bytes },
    );
    expect(partial).to.include({ valid: true, chainChecks: "partial" });
    expect(partial.skippedChecks).to.not.include("device status is Active in the registry");
    expect(partial.skippedChecks).to.include("readings inside the policy period");
    await (await f.registry.connect(f.holder).suspend(f.deviceA.address)).wait();
    expect(
      await assessEvidence({ model: f.model, chain: { provider: ethers.provider, addresses: f.addresses } }, { bytes: b.bytes }),
    ).to.include({
      valid: false,
      reason: "DEVICE_NOT_ACTIVE",
    });
    await (await f.registry.connect(f.holder).resume(f.deviceA.address)).wait();

    // With the chain and the claim, every check runs and the Verdict's digest is the contract's.
    const claimId = await f.fileClaim({ hash: b.hash, uri: evidence.put(b.bytes).uri, incidentAt: b.incidentAt });
    const chained = await assessEvidence(
      { model: f.model, chain: { provider: ethers.provider, addresses: f.addresses } },
      { bytes: b.bytes, claimId },
    );
    expect(chained).to.include({ valid: true, chainChecks: "all" });
    expect(chained.skippedChecks).to.deep.equal([]);
    const v = chained.verdict!;
    expect(v).to.include({ approved: true, payout: (await f.claims.getClaim(claimId)).amount.toString() });
    const onChainDigest = await f.claims.verdictDigest({
      claimId: BigInt(v.claimId as string),
      evidenceHash: v.evidenceHash as string,
      modelHash: v.modelHash as string,
      approved: v.approved as boolean,
      payout: BigInt(v.payout as string),
      scoreBps: v.scoreBps as number,
      reason: v.reason as number,
      deadline: BigInt(v.deadline as string),
    });
    expect(chained.digest).to.equal(onChainDigest);
    const wrongFile = await assessEvidence(
      { model: f.model, chain: { provider: ethers.provider, addresses: f.addresses } },
      { bytes: new TextEncoder().encode(JSON.stringify(tampered)), claimId },
    );
    expect(wrongFile).to.include({ valid: false, reason: "HASH_MISMATCH" });
    expect(wrongFile.verdict).to.include({ approved: false, payout: "0", scoreBps: 0 });
  });
});
