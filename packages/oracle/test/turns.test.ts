/**
 * Committee turns (issue 15, item 8): in the 2-of-3 committee only a claim's two primaries submit at once; the third
 * member (its backup) holds its verdict and submits only when the claim is still undecided `backupDelayBlocks` after
 * it became ready to decide. Real daemons (in-process) of the three members on the in-process Hardhat chain.
 */
import { expect } from "chai";
import { ethers, networkHelpers } from "@triad/devkit/network";
import type { Wallet } from "ethers";
import { ClaimStatus, enumValue } from "@triad/sdk";
import { counterValue } from "../src/metrics.ts";
import { startEvidenceServer, type EvidenceServer } from "../src/evidence-server.ts";
import type { TickReport } from "../src/daemon.ts";
import { isPrimary, minesOnDemand, turnPosition, type CommitteeView } from "../src/daemon/turns.ts";
import { deployOracleCommitteeFixture, oracleFor, testConfig, type OracleFixture } from "@triad/devkit";
import { normalRows, persistingFailureRows, startRawServer } from "@triad/devkit";

const { loadFixture, mine } = networkHelpers;

const FILED = enumValue(ClaimStatus, "Filed");
/** The backups' delay in the tests that wait for it. */
const DELAY = 20;

/** Polls `condition` until it holds. */
async function waitFor(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function gaugeValue(gauge: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await gauge.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe("oracle committee turns (2 of 3)", function () {
  let server: EvidenceServer;
  before(async function () {
    server = await startEvidenceServer({ port: 0, maxBytes: 256 * 1024 });
  });
  after(async function () {
    await server.close();
  });

  /**
   * Files `n` claims on fresh devices (their ids cover every rotation when n >= 3); half genuine failures. `uriOf`:
   * another evidence URI for claim `i` (undefined: the evidence server's).
   */
  async function fileClaims(f: OracleFixture, n: number, seed: string, uriOf?: (i: number) => string | undefined): Promise<bigint[]> {
    const insured = await f.insureNewDevices(Array.from({ length: n }, (_, i) => `${seed}-${i}`));
    const ids: bigint[] = [];
    for (const [i, { device, policyId }] of insured.entries()) {
      const rows = i % 2 === 0 ? [...normalRows(4, 10 * i), ...persistingFailureRows("HDF")] : normalRows(5, 10 * i);
      const b = await f.bundle(rows, { device });
      const uri = uriOf?.(i) ?? server.put(b.bytes).uri;
      ids.push(await f.fileClaim({ hash: b.hash, uri, incidentAt: b.incidentAt, policy: policyId }));
    }
    return ids;
  }

  async function committeeView(f: OracleFixture): Promise<CommitteeView> {
    const members = (await f.committee.members()).map((m: string) => m.toLowerCase());
    return { members, threshold: Number(await f.committee.threshold()), version: BigInt(await f.committee.configVersion()) };
  }

  /** Per claim: VerdictSigned entries (signers' transactions' senders) and VerdictSkipped entries. */
  async function entries(f: OracleFixture, claimId: bigint) {
    const signed = await f.claims.queryFilter(f.claims.filters.VerdictSigned(claimId));
    const skipped = await f.claims.queryFilter(f.claims.filters.VerdictSkipped(claimId));
    const senders = await Promise.all(signed.map(async (e) => (await e.getTransaction()).from.toLowerCase()));
    return { signed, skipped, senders };
  }

  async function allDecided(f: OracleFixture, ids: readonly bigint[]): Promise<boolean> {
    const states = await Promise.all(ids.map((id) => f.claims.getClaim(id)));
    return states.every((s) => s.status !== FILED);
  }

  it("derives the same order on every member: the claim id rotates the members, the first `threshold` are primaries", function () {
    const view: CommitteeView = { members: ["0xa", "0xb", "0xc"], threshold: 2, version: 1n };
    expect([0n, 1n, 2n, 3n].map((id) => view.members.map((m) => turnPosition(view, m, id)))).to.deep.equal([
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
      [0, 1, 2],
    ]);
    for (const id of [0n, 1n, 2n, 7n]) expect(view.members.filter((m) => isPrimary(view, m, id))).to.have.length(2);
    expect(isPrimary(view, "0xd", 1n), "not in the view read: acts as a primary").to.equal(true);
    expect(isPrimary(undefined, "0xa", 1n), "turns off").to.equal(true);
  });

  it("three members ticking together: each claim gets exactly `threshold` verdict entries, from its primaries, no VerdictSkipped", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    const view = await committeeView(f);
    const ids = await fileClaims(f, 6, "together");
    // A delay no test round reaches: the backups never submit here.
    const oracles = f.members.map((m) => oracleFor(f, m, { config: { backupDelayBlocks: 50 } }));
    const reports: TickReport[][] = oracles.map(() => []);
    try {
      for (let round = 0; round < 4; round++) {
        const results = await Promise.all(oracles.map((o) => o.tick()));
        results.forEach((r, i) => reports[i].push(r));
      }
      expect(await allDecided(f, ids)).to.equal(true);
      for (const id of ids) {
        const { signed, skipped, senders } = await entries(f, id);
        expect(skipped, `claim ${id}: no VerdictSkipped`).to.have.length(0);
        expect(signed.map((s) => s.args.count)).to.deep.equal([1n, 2n]);
        const primaries = f.members.map((m) => m.address.toLowerCase()).filter((m) => isPrimary(view, m, id));
        expect([...senders].sort(), `claim ${id}: signed by its primaries`).to.deep.equal([...primaries].sort());
      }
      for (const [i, o] of oracles.entries()) {
        const member = f.members[i].address.toLowerCase();
        const outcomes = reports[i].flatMap((r) => r.outcomes);
        for (const id of ids) {
          const mine = outcomes.filter((x) => x.claimId === id).map((x) => x.outcome);
          // A backup holds, then drops the claim as decided; a primary submits once.
          if (isPrimary(view, member, id)) expect(mine, `member ${i}, claim ${id}`).to.have.length(1).and.not.include("held");
          else expect(mine, `member ${i}, claim ${id}`).to.deep.equal(["held", "skipped"]);
        }
        expect(await counterValue(o.metrics.backupSubmissions)).to.equal(0);
        expect(await gaugeValue(o.metrics.claimsHeldBackup)).to.equal(0);
        expect(await counterValue(o.metrics.verdictsLate)).to.equal(0);
        // The checkpoint passed every claim once the backups dropped them.
        expect(o.checkpointBlock()).to.be.greaterThan(
          Number((await f.claims.queryFilter(f.claims.filters.ClaimFiled(ids.at(-1)))).at(0)!.blockNumber),
        );
      }
    } finally {
      await Promise.all(oracles.map((o) => o.stop()));
    }
  });

  it("one primary stopped: the backup waits the delay, then submits, and the claim is decided", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    const view = await committeeView(f);
    const ids = await fileClaims(f, 3, "backup");
    const stopped = f.members[2].address.toLowerCase();
    const waiting = ids.filter((id) => isPrimary(view, stopped, id)); // one signature short without a backup
    expect(waiting).to.have.length(2);
    const running = f.members.slice(0, 2);
    // Wider than the blocks the filings and the first rounds' transactions mine, so the backups really wait.
    const oracles = running.map((m) => oracleFor(f, m, { config: { backupDelayBlocks: DELAY } }));
    try {
      await Promise.all(oracles.map((o) => o.tick()));
      for (const id of waiting) {
        expect((await f.claims.getClaim(id)).status, `claim ${id} waits for its backup`).to.equal(FILED);
        expect((await entries(f, id)).signed).to.have.length(1);
      }
      const held = await Promise.all(oracles.map(async (o) => await gaugeValue(o.metrics.claimsHeldBackup)));
      expect(held.reduce((a, b) => a + b, 0)).to.equal(waiting.length);
      // Before the due block: still held (the backups tick again, nothing is sent).
      await Promise.all(oracles.map((o) => o.tick()));
      expect(await allDecided(f, waiting)).to.equal(false);
      await mine(DELAY);
      const last = await Promise.all(oracles.map((o) => o.tick()));
      expect(await allDecided(f, ids)).to.equal(true);
      const sent = last.flatMap((r) => r.outcomes).filter((o) => waiting.includes(o.claimId));
      expect(sent).to.have.length(waiting.length);
      expect(sent.every((o) => o.outcome === "approved" || o.outcome === "rejected")).to.equal(true);
      for (const id of ids) {
        const { signed, skipped, senders } = await entries(f, id);
        expect(skipped).to.have.length(0);
        expect(signed.map((s) => s.args.count)).to.deep.equal([1n, 2n]);
        expect(senders).to.not.include(stopped);
      }
      const backups = await Promise.all(oracles.map((o) => counterValue(o.metrics.backupSubmissions)));
      expect(backups.reduce((a, b) => a + b, 0)).to.equal(waiting.length);
      for (const o of oracles) expect(await gaugeValue(o.metrics.claimsHeldBackup)).to.equal(0);
    } finally {
      await Promise.all(oracles.map((o) => o.stop()));
    }
  });

  it("a backup's verdict leaves at its due block even while its tick still waits for another claim's slow evidence", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    const view = await committeeView(f);
    const stall = await startRawServer(() => undefined); // accepts, never answers
    const ids = await fileClaims(f, 3, "watch", (i) => (i === 0 ? `${stall.url}/slow` : undefined));
    const stopped = f.members[2].address.toLowerCase();
    const waiting = ids.slice(1).filter((id) => isPrimary(view, stopped, id));
    expect(waiting.length).to.be.at.least(1);
    const config = { backupDelayBlocks: DELAY, evidence: { ...testConfig().evidence!, timeoutMs: 20_000, deadlineMs: 20_000, retries: 0 } };
    const oracles = f.members.slice(0, 2).map((m) => oracleFor(f, m, { config }));
    let ended = 0;
    try {
      const ticks = oracles.map((o) => o.tick().finally(() => ended++));
      await waitFor(
        async () =>
          (await Promise.all(oracles.map((o) => gaugeValue(o.metrics.claimsHeldBackup)))).reduce((a, b) => a + b) >= waiting.length,
      );
      await mine(DELAY);
      await waitFor(() => allDecided(f, waiting));
      expect(ended, "the ticks still wait for the stalled evidence").to.equal(0);
      const reports = await Promise.all(ticks);
      const sent = reports.flatMap((r) => r.outcomes).filter((o) => waiting.includes(o.claimId) && o.outcome !== "held");
      expect(sent.map((o) => o.outcome).every((o) => o === "approved" || o === "rejected")).to.equal(true);
      for (const id of waiting) expect((await entries(f, id)).skipped).to.have.length(0);
    } finally {
      await Promise.all(oracles.map((o) => o.stop()));
      await stall.close();
    }
  });

  it("a restarted backup re-derives its turn from the chain: held again, and submitted at once once due", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    const view = await committeeView(f);
    const [id] = await fileClaims(f, 1, "restart");
    const [backup] = f.members.filter((m) => !isPrimary(view, m.address, id)) as Wallet[];
    const config = testConfig({ backupDelayBlocks: DELAY });
    const first = oracleFor(f, backup, { config });
    const report = await first.tick();
    expect(report.outcomes.map((o) => o.outcome)).to.deep.equal(["held"]);
    await first.stop();
    // The checkpoint (persisted) did not pass the held claim: a new process on the same file scans it again.
    const claimBlock = (await f.claims.queryFilter(f.claims.filters.ClaimFiled(id)))[0].blockNumber;
    expect(first.checkpointBlock()).to.be.at.most(claimBlock);
    const again = oracleFor(f, backup, { config });
    const primary = f.members.find((m) => isPrimary(view, m.address, id))!;
    const other = oracleFor(f, primary, { config: { backupDelayBlocks: DELAY } });
    try {
      expect(
        (await again.tick()).outcomes.map((o) => o.outcome),
        "held again after the restart",
      ).to.deep.equal(["held"]);
      await mine(DELAY);
      const [mineReport] = await Promise.all([again.tick(), other.tick()]);
      expect(mineReport.outcomes.map((o) => o.outcome)).to.satisfy((o: string[]) => o.length === 1 && o[0] !== "held");
      expect(await allDecided(f, [id])).to.equal(true);
      expect((await entries(f, id)).skipped).to.have.length(0);
    } finally {
      await Promise.all([again.stop(), other.stop()]);
    }
  });

  it("at a depth: the checkpoint stays below a held claim while the scan goes on, and passes it once it is dropped as decided", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    const view = await committeeView(f);
    const ids = await fileClaims(f, 3, "depth");
    const blockOf = new Map<bigint, number>();
    for (const id of ids) blockOf.set(id, (await f.claims.queryFilter(f.claims.filters.ClaimFiled(id)))[0].blockNumber);
    const oracles = f.members.map((m) => oracleFor(f, m, { config: { confirmations: 2, backupDelayBlocks: DELAY } }));
    // Each member is the backup of exactly one of three consecutive claims.
    const heldBy = f.members.map((m) => ids.find((id) => !isPrimary(view, m.address, id))!);
    try {
      await mine(2);
      await Promise.all(oracles.map((o) => o.tick())); // the primaries decide every claim; the backups hold
      expect(await allDecided(f, ids)).to.equal(true);
      for (const [i, o] of oracles.entries()) {
        expect(o.checkpointBlock(), `member ${i}`).to.be.at.most(blockOf.get(heldBy[i])!);
        expect(o.nextBlock(), `member ${i} scans on`).to.be.greaterThan(blockOf.get(ids[2])!);
      }
      // The backups drop their claims as decided (the checkpoint then waits for the deciding transaction's depth).
      const dropped = await Promise.all(oracles.map((o) => o.tick()));
      for (const [i, r] of dropped.entries()) {
        expect(r.outcomes.filter((o) => o.claimId === heldBy[i]).map((o) => [o.outcome, o.reason])).to.deep.equal([["skipped", "decided"]]);
      }
      await mine(2);
      await Promise.all(oracles.map((o) => o.tick()));
      for (const o of oracles) expect(o.checkpointBlock()).to.be.greaterThan(blockOf.get(ids[2])!);
      for (const id of ids) expect((await entries(f, id)).signed).to.have.length(2);
    } finally {
      await Promise.all(oracles.map((o) => o.stop()));
    }
  });

  it("not set, on a node that mines on demand (automine): no turns, since no block would end a backup's wait", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    expect(await minesOnDemand(ethers.provider, 5000), "the in-process chain automines").to.equal(true);
    const ids = await fileClaims(f, 3, "automine");
    const oracles = f.members.slice(0, 2).map((m) => oracleFor(f, m, { config: { backupDelayBlocks: undefined } }));
    try {
      for (const o of oracles) expect(await o.tick()).to.include({ claims: 3, submitted: 3 });
      expect(await allDecided(f, ids)).to.equal(true);
    } finally {
      await Promise.all(oracles.map((o) => o.stop()));
    }
  });

  it("turns off (0): every member submits at once, as before", async function () {
    const f = await loadFixture(deployOracleCommitteeFixture);
    const ids = await fileClaims(f, 3, "off");
    const oracles = f.members.map((m) => oracleFor(f, m, { config: { backupDelayBlocks: 0 } }));
    try {
      const [a, b, c] = [await oracles[0].tick(), await oracles[1].tick(), await oracles[2].tick()];
      for (const r of [a, b]) expect(r).to.include({ claims: 3, submitted: 3 });
      expect(c.outcomes.map((o) => [o.outcome, o.reason])).to.deep.equal(ids.map(() => ["skipped", "decided"]));
      expect([a, b, c].flatMap((r) => r.outcomes).some((o) => o.outcome === "held")).to.equal(false);
      expect(await allDecided(f, ids)).to.equal(true);
    } finally {
      await Promise.all(oracles.map((o) => o.stop()));
    }
  });
});
