/**
 * The checkpoint bound to the chain (issue 15, items 2 and 3), on the in-process chain: a checkpoint of another
 * genesis, a chain reset and redeployed to the same addresses (`evm_revert` to before the deployment), and a reorg
 * deeper than the confirmation depth (`evm_revert` after the verdicts were confirmed) are each detected, and the
 * claims are decided again, with the new chain's policies and devices.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { ClaimStatus, enumValue } from "@triad/sdk";
import {
  captureLogger,
  deployOracleFixture,
  normalRows,
  oracleFor,
  persistingFailureRows,
  startRawServer,
  tempDir,
  type OracleFixture,
} from "@triad/devkit";
import type { Checkpoint } from "../src/checkpoint.ts";
import { counterValue } from "../src/metrics.ts";

const { loadFixture, mine } = networkHelpers;
const FILED = enumValue(ClaimStatus, "Filed");

/** Serves whatever bundle was put under a path. */
async function bundleServer() {
  const bundles = new Map<string, Uint8Array>();
  const server = await startRawServer((req, res) => {
    const bytes = bundles.get(req.url ?? "");
    res.writeHead(bytes ? 200 : 404, { "content-type": "application/json" });
    res.end(bytes);
  });
  return {
    uri(name: string, bytes: Uint8Array) {
      bundles.set(`/${name}`, bytes);
      return `${server.url}/${name}`;
    },
    close: () => server.close(),
  };
}

/** A genuine failure claim on a newly insured device (`seed` makes the device). */
async function genuineClaim(f: OracleFixture, server: Awaited<ReturnType<typeof bundleServer>>, seed: string) {
  const [insured] = await f.insureNewDevices([seed]);
  const b = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: insured.device });
  const claimId = await f.fileClaim({ hash: b.hash, uri: server.uri(seed, b.bytes), incidentAt: b.incidentAt, policy: insured.policyId });
  return { claimId, policyId: insured.policyId, device: insured.device.address };
}

describe("oracle: the checkpoint bound to the chain", function () {
  let server: Awaited<ReturnType<typeof bundleServer>>;
  before(async function () {
    server = await bundleServer();
  });
  after(async function () {
    await server.close();
  });

  it("a checkpoint written on another genesis is replaced: the deployment is scanned again and its claim decided", async function () {
    const f = await loadFixture(deployOracleFixture);
    const { claimId } = await genuineClaim(f, server, "genesis-claim");
    const checkpointFile = path.join(tempDir(), "checkpoint.json");
    const stale: Checkpoint = {
      version: 2,
      chainId: Number(f.chainId),
      genesis: `0x${"ab".repeat(32)}`,
      claims: f.addresses.claims,
      registry: f.addresses.registry,
      committee: f.addresses.committee,
      member: f.members[0].address,
      nextBlock: 1_000_000_000, // far above the head: the chain it was written on was longer
      recent: [{ number: 999_999_999, hash: `0x${"cd".repeat(32)}` }],
      updatedAt: new Date().toISOString(),
    };
    writeFileSync(checkpointFile, JSON.stringify(stale));
    const { logger, lines } = captureLogger();
    const oracle = oracleFor(f, f.members[0], { config: { checkpointFile }, logger });
    try {
      const report = await oracle.tick();
      expect(report.outcomes.map((o) => [o.claimId, o.outcome])).to.deep.equal([[claimId, "approved"]]);
      expect(await counterValue(oracle.metrics.reorgs, { kind: "reset" })).to.equal(1);
      expect(lines.some((l) => l.level === 50 && String(l.msg).includes("written on another chain"))).to.equal(true);
      const written = JSON.parse(readFileSync(checkpointFile, "utf8")) as Checkpoint;
      expect(written.genesis).to.equal((await ethers.provider.getBlock(0))!.hash);
      expect(written.nextBlock).to.equal(oracle.checkpointBlock());
      const [filed] = await f.claims.queryFilter(f.claims.filters.ClaimFiled(claimId));
      expect(written.nextBlock).to.be.greaterThan(filed.blockNumber);
    } finally {
      await oracle.stop();
    }

    // The same chain with other contracts is a configuration mistake: refused, as before.
    writeFileSync(
      checkpointFile,
      JSON.stringify({ ...stale, genesis: (await ethers.provider.getBlock(0))!.hash, claims: f.addresses.registry }),
    );
    const refused = oracleFor(f, f.members[0], { config: { checkpointFile } });
    let error: unknown;
    await refused.init().catch((e: unknown) => (error = e));
    expect(error).to.have.property("code", "CHECKPOINT_INVALID");
  });

  it("a checkpoint of the first format is read and completed on its first write; one far above the head is a reset", async function () {
    const f = await loadFixture(deployOracleFixture);
    const checkpointFile = path.join(tempDir(), "checkpoint.json");
    const v1 = (nextBlock: number) => ({
      chainId: Number(f.chainId),
      claims: f.addresses.claims,
      member: f.members[0].address,
      nextBlock,
      updatedAt: new Date().toISOString(),
    });
    // Resumed where it was: the claim filed before that block is not scanned again.
    const { claimId: before } = await genuineClaim(f, server, "v1-before");
    const resumeAt = (await ethers.provider.getBlockNumber()) + 1;
    writeFileSync(checkpointFile, JSON.stringify(v1(resumeAt)));
    const { claimId: after } = await genuineClaim(f, server, "v1-after");
    const oracle = oracleFor(f, f.members[0], { config: { checkpointFile } });
    try {
      const report = await oracle.tick();
      expect(report.fromBlock).to.equal(resumeAt);
      expect(report.outcomes.map((o) => o.claimId)).to.deep.equal([after]);
      const written = JSON.parse(readFileSync(checkpointFile, "utf8")) as Checkpoint;
      expect(written).to.include({ version: 2, genesis: (await ethers.provider.getBlock(0))!.hash, registry: f.addresses.registry });
      expect(written.recent).to.have.length(1);
    } finally {
      await oracle.stop();
    }
    // A first-format checkpoint far above the head (the chain it was written on was reset): scanned from the start.
    writeFileSync(checkpointFile, JSON.stringify(v1(1_000_000)));
    const restarted = oracleFor(f, f.members[0], { config: { checkpointFile } });
    try {
      const report = await restarted.tick();
      // Everything scanned again: the claim below the old checkpoint decided, the other one skipped as decided.
      const outcomes = new Map(report.outcomes.map((o) => [o.claimId, [o.outcome, o.reason]]));
      expect(outcomes).to.deep.equal(
        new Map([
          [before, ["approved", undefined]],
          [after, ["skipped", "decided"]],
        ]),
      );
      expect(await counterValue(restarted.metrics.reorgs, { kind: "reset" })).to.equal(1);
    } finally {
      await restarted.stop();
    }
  });

  it("a chain reset and redeployed to the same addresses is detected: caches emptied, the new chain's claim approved with the new chain's device", async function () {
    // Not loadFixture: the reset goes back to before any deployment of this test.
    const beforeDeployment = await ethers.provider.send("evm_snapshot", []);
    const { logger, lines } = captureLogger();
    let oracle: ReturnType<typeof oracleFor> | undefined;
    try {
      const first = await deployOracleFixture();
      oracle = oracleFor(first, first.members[0], { logger });
      const old = await genuineClaim(first, server, "reset-old-device");
      const report = await oracle.tick();
      expect(report.outcomes.map((o) => [o.claimId, o.outcome])).to.deep.equal([[old.claimId, "approved"]]);

      // The node is reset and the suite deployed again, as a README user does: the same addresses, the same policy
      // and claim ids, another device behind the policy.
      await ethers.provider.send("evm_revert", [beforeDeployment]);
      const second = await deployOracleFixture();
      expect(second.addresses).to.deep.equal(first.addresses);
      const fresh = await genuineClaim(second, server, "reset-new-device");
      expect([fresh.policyId, fresh.claimId]).to.deep.equal([old.policyId, old.claimId]);
      expect(fresh.device).to.not.equal(old.device);
      expect(await second.registry.statusAt(old.device, 0), "the old device does not exist on the new chain").to.equal(0n);

      const again = await oracle.tick();
      // Decided with the new policy's device (a stale policy cache would say DEVICE_NOT_ACTIVE and reject it).
      expect(again.outcomes.map((o) => [o.claimId, o.outcome, o.reason])).to.deep.equal([[fresh.claimId, "approved", undefined]]);
      const claim = await second.claims.getClaim(fresh.claimId);
      expect(claim.status).to.not.equal(FILED);
      expect(claim.approved).to.equal(true);
      expect(await counterValue(oracle.metrics.reorgs, { kind: "reset" })).to.equal(1);
      expect(lines.some((l) => l.level === 50 && String(l.msg).startsWith("chain reset detected"))).to.equal(true);
      // Nothing left: the next tick is quiet.
      expect((await oracle.tick()).outcomes).to.deep.equal([]);
    } finally {
      await oracle?.stop();
      await ethers.provider.send("evm_revert", [beforeDeployment]);
    }
  });

  it("a reorg deeper than the confirmation depth is detected and the claim whose verdict vanished is decided again", async function () {
    const N = 2;
    const f = await loadFixture(deployOracleFixture);
    const startBlock = (await ethers.provider.getBlockNumber()) + 1;
    const { logger, lines } = captureLogger();
    const oracle = oracleFor(f, f.members[0], { config: { confirmations: N, startBlock }, logger });
    try {
      const { claimId, policyId } = await genuineClaim(f, server, "deep-reorg");
      const [filed] = await f.claims.queryFilter(f.claims.filters.ClaimFiled(claimId));
      await mine(N);
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      const first = await oracle.tick();
      expect(first.outcomes.map((o) => [o.claimId, o.outcome])).to.deep.equal([[claimId, "approved"]]);
      const [verdict] = await f.claims.queryFilter(f.claims.filters.VerdictFinalised(claimId));
      await mine(N + 1);
      await oracle.tick();
      expect(oracle.checkpointBlock(), "the verdict is N deep: the checkpoint passed the claim").to.be.greaterThan(filed.blockNumber);
      expect(oracle.nextBlock(), "the verdict's block was scanned").to.be.greaterThan(verdict.blockNumber);

      // The reorg: everything since the snapshot, the verdict and the blocks on top, is replaced by a longer chain.
      await ethers.provider.send("evm_revert", [snapshot]);
      expect((await f.claims.getClaim(claimId)).status).to.equal(FILED);
      await mine(2 * N + 4);

      const again = await oracle.tick();
      expect(again.outcomes.map((o) => [o.claimId, o.outcome])).to.deep.equal([[claimId, "approved"]]);
      const decided = await f.claims.getClaim(claimId);
      expect([decided.status !== FILED, decided.approved, decided.policyId]).to.deep.equal([true, true, policyId]);
      expect(await counterValue(oracle.metrics.reorgs, { kind: "deep" })).to.equal(1);
      expect(await counterValue(oracle.metrics.reorgs, { kind: "reset" })).to.equal(0);
      expect(lines.some((l) => l.level === 50 && String(l.msg).startsWith("reorg deeper than the confirmation depth"))).to.equal(true);
    } finally {
      await oracle.stop();
    }
  });
});
