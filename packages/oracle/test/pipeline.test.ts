/**
 * Pipelining (issue 15, item 7), in blocks on the in-process chain (automine: every transaction is a block): a tick
 * does not wait for its own verdicts' confirmations before scanning on, the checkpoint passes a claim only once its
 * verdict is `confirmations` deep, and one slow claim's evidence delays only that claim.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ClaimStatus, buildRejectionVerdict, claimReasonCode, claimsDomain, enumValue, signVerdict } from "@triad/sdk";
import { deployOracleFixture, normalRows, oracleFor, persistingFailureRows, startRawServer, tempDir, testConfig } from "@triad/devkit";
import type { OracleFixture } from "@triad/devkit";
import type { Checkpoint } from "../src/checkpoint.ts";

const { loadFixture, mine } = networkHelpers;
const FILED = enumValue(ClaimStatus, "Filed");

/** A server of evidence bundles by path; `delayMs(path)` holds a response back. */
async function serveBundles(bundles: Map<string, Uint8Array>, delayMs: (path: string) => number = () => 0) {
  return startRawServer((req, res) => {
    const bytes = bundles.get(req.url ?? "");
    setTimeout(
      () => {
        res.writeHead(bytes ? 200 : 404, { "content-type": "application/json" });
        res.end(bytes);
      },
      delayMs(req.url ?? ""),
    );
  });
}

async function decisionBlock(f: OracleFixture, claimId: bigint): Promise<number> {
  const [decision] = await f.claims.queryFilter(f.claims.filters.VerdictFinalised(claimId));
  expect(decision, `claim ${claimId} decided`).to.not.equal(undefined);
  return decision.blockNumber;
}

async function claimBlock(f: OracleFixture, claimId: bigint): Promise<number> {
  const [filed] = await f.claims.queryFilter(f.claims.filters.ClaimFiled(claimId));
  return filed.blockNumber;
}

describe("oracle: scanning, deciding and confirming pipelined", function () {
  it("with confirmations = N a claim is decided one block after its depth, later claims are scanned without waiting, and the checkpoint passes a claim N blocks after its verdict", async function () {
    const N = 3;
    const f = await loadFixture(deployOracleFixture);
    const [a, b] = await f.insureNewDevices(["pipeline-a", "pipeline-b"]);
    const x = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: a.device });
    const y = await f.bundle([...normalRows(3, 10), ...persistingFailureRows("OSF")], { device: b.device });
    const server = await serveBundles(
      new Map([
        ["/x", x.bytes],
        ["/y", y.bytes],
      ]),
    );
    const startBlock = (await ethers.provider.getBlockNumber()) + 1;
    const checkpointFile = path.join(tempDir(), "checkpoint.json");
    const oracle = oracleFor(f, f.members[0], { config: { confirmations: N, startBlock, checkpointFile } });
    try {
      await oracle.init();
      const xClaim = await f.fileClaim({ hash: x.hash, uri: `${server.url}/x`, incidentAt: x.incidentAt, policy: a.policyId });
      const yClaim = await f.fileClaim({ hash: y.hash, uri: `${server.url}/y`, incidentAt: y.incidentAt, policy: b.policyId });
      const fx = await claimBlock(f, xClaim);
      const fy = await claimBlock(f, yClaim);
      expect(fy).to.equal(fx + 1);

      // X is N − 1 blocks deep (Y N − 2): nothing to decide yet.
      await mine(N - 2);
      expect((await oracle.tick()).claims).to.equal(0);
      expect((await f.claims.getClaim(xClaim)).status).to.equal(FILED);

      // X reaches its depth: decided in the next block.
      await mine(1);
      const first = await oracle.tick();
      expect(first).to.include({ claims: 1, approved: 1 });
      const vx = await decisionBlock(f, xClaim);
      expect(vx, "X decided one block after its depth").to.equal(fx + N + 1);
      expect(oracle.nextBlock(), "the scan cursor is past X").to.equal(fx + 1);
      expect(oracle.checkpointBlock(), "the checkpoint waits for X's verdict").to.be.at.most(fx);

      // Y reached its depth with X's verdict block: the next tick decides it at once, while X's verdict is 1 deep.
      const second = await oracle.tick();
      expect(second).to.include({ claims: 1, approved: 1 });
      const vy = await decisionBlock(f, yClaim);
      expect(vy, "Y decided in the block after X's verdict").to.equal(vx + 1);
      expect(oracle.checkpointBlock()).to.be.at.most(fx);

      // The checkpoint passes X exactly when X's verdict is N deep, and Y when Y's is.
      while ((await ethers.provider.getBlockNumber()) < vx + N - 1) {
        await mine(1);
        await oracle.tick();
        expect(oracle.checkpointBlock(), "not before X's verdict is N deep").to.be.at.most(fx);
      }
      await mine(1); // head = vx + N
      await oracle.tick();
      expect(oracle.checkpointBlock(), "X passed, Y not yet").to.equal(fy);
      await mine(vy + N - (await ethers.provider.getBlockNumber()));
      await oracle.tick();
      expect(oracle.checkpointBlock(), "both passed").to.be.greaterThan(fy);
      expect(oracle.checkpointBlock()).to.be.at.most(oracle.nextBlock());

      // The persisted checkpoint is bound to the chain: genesis, addresses, member, recent scanned blocks.
      const file = JSON.parse(readFileSync(checkpointFile, "utf8")) as Checkpoint;
      const genesis = await ethers.provider.getBlock(0);
      expect(file).to.include({ version: 2, nextBlock: oracle.checkpointBlock(), genesis: genesis!.hash, claims: f.addresses.claims });
      expect(file.registry).to.equal(f.addresses.registry);
      expect(file.committee).to.equal(f.addresses.committee);
      const newest = file.recent!.at(-1)!;
      expect(newest.hash).to.equal((await ethers.provider.getBlock(newest.number))!.hash);
    } finally {
      await oracle.stop();
      await server.close();
    }
  });

  it("one claim's slow evidence delays only that claim: the others leave in an earlier batch", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [a, b, c] = await f.insureNewDevices(["ready-slow", "ready-quick-1", "ready-quick-2"]);
    const slow = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: a.device });
    const quick1 = await f.bundle([...normalRows(3, 10), ...persistingFailureRows("OSF")], { device: b.device });
    const quick2 = await f.bundle(normalRows(6, 30), { device: c.device });
    let slowServed = false;
    // The slow claim's evidence is held back until both quick claims are decided: a tick that waited for it before
    // sending the others would never end.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const bundles = new Map([
      ["/slow", slow.bytes],
      ["/q1", quick1.bytes],
      ["/q2", quick2.bytes],
    ]);
    const server = await startRawServer((req, res) => {
      const send = () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(bundles.get(req.url ?? ""));
      };
      if (req.url === "/slow") {
        void released.then(() => {
          slowServed = true;
          send();
        });
      } else send();
    });
    const oracle = oracleFor(f, f.members[0], {
      config: {
        startBlock: (await ethers.provider.getBlockNumber()) + 1,
        evidence: { ...testConfig().evidence!, timeoutMs: 120_000, deadlineMs: 120_000, retries: 0 },
      },
    });
    const slowClaim = await f.fileClaim({ hash: slow.hash, uri: `${server.url}/slow`, incidentAt: slow.incidentAt, policy: a.policyId });
    const q1 = await f.fileClaim({ hash: quick1.hash, uri: `${server.url}/q1`, incidentAt: quick1.incidentAt, policy: b.policyId });
    const q2 = await f.fileClaim({ hash: quick2.hash, uri: `${server.url}/q2`, incidentAt: quick2.incidentAt, policy: c.policyId });
    const watcher = (async () => {
      for (;;) {
        const decided = await Promise.all([q1, q2].map(async (id) => (await f.claims.getClaim(id)).status !== FILED));
        if (decided.every(Boolean)) return release();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const report = await oracle.tick();
      await watcher;
      expect(slowServed).to.equal(true);
      expect(report).to.include({ claims: 3, submitted: 3, approved: 2, rejected: 1, transactions: 2 });
      const [s, a1, a2] = await Promise.all([slowClaim, q1, q2].map((id) => decisionBlock(f, id)));
      expect(a1, "both quick claims in one batch").to.equal(a2);
      expect(s, "the slow claim in a later transaction").to.be.greaterThan(a1);
    } finally {
      release();
      await oracle.stop();
      await server.close();
    }
  });

  it("a claim decided by a transaction not yet at the depth (another submission's) holds the checkpoint until it is", async function () {
    const N = 2;
    const f = await loadFixture(deployOracleFixture);
    const [insured] = await f.insureNewDevices(["pipeline-decided-elsewhere"]);
    const b = await f.bundle(normalRows(6), { device: insured.device });
    const startBlock = (await ethers.provider.getBlockNumber()) + 1;
    const oracle = oracleFor(f, f.members[0], { config: { confirmations: N, startBlock } });
    try {
      await oracle.init();
      const claimId = await f.fileClaim({
        hash: b.hash,
        uri: "http://127.0.0.1:9/unused",
        incidentAt: b.incidentAt,
        policy: insured.policyId,
      });
      const filedAt = await claimBlock(f, claimId);
      await mine(N - 1);
      // Decided elsewhere (the 1-of-1 member's key, from another process) before the daemon's tick reaches it.
      const claim = await f.claims.getClaim(claimId);
      const verdict = buildRejectionVerdict(
        { claimId, amount: claim.amount, evidenceHash: claim.evidenceHash, assessmentDeadline: claim.assessmentDeadline },
        f.model.modelHash,
        claimReasonCode("NO_FAILURE_DETECTED"),
      );
      const signature = await signVerdict(f.members[0], claimsDomain(f.chainId, f.addresses.claims), verdict);
      await (await f.claims.submitVerdict(verdict, [signature])).wait();
      const decidedAt = await decisionBlock(f, claimId);
      const report = await oracle.tick();
      expect(report.outcomes.map((o) => [o.claimId, o.outcome, o.reason])).to.deep.equal([[claimId, "skipped", "decided"]]);
      expect(oracle.nextBlock()).to.be.greaterThan(filedAt);
      expect(oracle.checkpointBlock(), "the deciding transaction is not N deep").to.be.at.most(filedAt);
      await mine(decidedAt + N - 1 - (await ethers.provider.getBlockNumber()));
      await oracle.tick();
      expect(oracle.checkpointBlock()).to.be.at.most(filedAt);
      await mine(1);
      await oracle.tick();
      expect(oracle.checkpointBlock(), "now it is").to.be.greaterThan(filedAt);
    } finally {
      await oracle.stop();
    }
  });
});
