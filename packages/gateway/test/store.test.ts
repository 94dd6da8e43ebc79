import { expect } from "chai";
import path from "node:path";
import Database from "better-sqlite3";
import { keccak256, toUtf8Bytes, Wallet } from "ethers";
import { SCHEMA_VERSION, SqliteReadingStore } from "../src/store/index.ts";
import type { NewReading, ReadingStore } from "../src/store/index.ts";
import { tempDir } from "./helpers.ts";

const A = new Wallet(Wallet.createRandom().privateKey).address;
const B = new Wallet(Wallet.createRandom().privateKey).address;

function reading(device: string, seq: bigint, variant = 0, timestamp = 1_700_000_000n + seq): NewReading {
  const values = [298_100n, 308_600n, 1551n, 42_800n, BigInt(variant), 1n];
  return {
    device,
    seq,
    timestamp,
    values,
    signature: "0x" + "11".repeat(65),
    digest: keccak256(toUtf8Bytes(`${device}/${seq}/${timestamp}/${values.join(",")}`)),
    receivedAt: Date.now(),
  };
}

/**
 * The repository contract, run against a real database file. A PostgreSQL implementation runs the same suite (pass
 * its opener here).
 */
function storeSuite(name: string, open: (file: string) => Promise<ReadingStore>) {
  describe(`ReadingStore contract: ${name}`, function () {
    let dir: string;
    let store: ReadingStore;
    beforeEach(async function () {
      dir = tempDir("triad-store-");
      store = await open(path.join(dir, "store.sqlite"));
    });
    afterEach(async function () {
      await store.close();
    });

    it("insert-if-new: stored, exact duplicate (idempotent), equivocation (recorded), seq not increasing", async function () {
      expect((await store.insertReadings([reading(A, 5n)]))[0]).to.deep.include({ outcome: "stored", lastSeq: 5n });
      const dup = await store.insertReadings([reading(A, 5n)]);
      expect(dup[0].outcome).to.equal("duplicate");
      const other = reading(A, 5n, 9);
      const eq = await store.insertReadings([other, other]);
      expect(eq.map((r) => r.outcome)).to.deep.equal(["equivocation", "equivocation"]);
      expect(eq[0].storedDigest).to.equal(reading(A, 5n).digest);
      const recorded = await store.equivocations(A);
      expect(recorded).to.have.length(1); // the same conflicting reading twice is one piece of evidence
      expect(recorded[0].conflicting.digest).to.equal(other.digest);
      expect(recorded[0].conflicting.values).to.deep.equal(other.values);
      expect((await store.insertReadings([reading(A, 4n)]))[0]).to.deep.include({ outcome: "seq_not_increasing", lastSeq: 5n });
      expect((await store.insertReadings([reading(A, 7n)]))[0].outcome).to.equal("stored");
      expect(await store.lastSeq(A)).to.equal(7n);
      expect(await store.lastSeq(B)).to.equal(undefined);
      expect(await store.counts()).to.deep.equal({ readings: 2, devices: 1 });
    });

    it("a batch is applied in order, each reading seeing the ones before it; devices are independent", async function () {
      const out = await store.insertReadings([
        reading(A, 1n),
        reading(B, 9n),
        reading(A, 2n),
        reading(A, 2n),
        reading(A, 1n, 3),
        reading(B, 3n),
      ]);
      expect(out.map((r) => r.outcome)).to.deep.equal(["stored", "stored", "stored", "duplicate", "equivocation", "seq_not_increasing"]);
    });

    it("uint64 seq and timestamps round-trip and order numerically", async function () {
      const max = 2n ** 64n - 1n;
      await store.insertReadings([reading(A, 9n, 0, 10n), reading(A, 10n, 0, 9n), reading(A, max, 0, max)]);
      const all = await store.readings({ device: A, limit: 10 });
      expect(all.map((r) => r.seq)).to.deep.equal([9n, 10n, max]);
      expect(all[2].timestamp).to.equal(max);
      expect(await store.lastSeq(A)).to.equal(max);
    });

    it("range query by device and time, with limit and paging; anchor and proof null", async function () {
      await store.insertReadings([1n, 2n, 3n, 4n, 5n].map((s) => reading(A, s)));
      await store.insertReadings([reading(B, 3n)]);
      const mid = await store.readings({ device: A, from: 1_700_000_002n, to: 1_700_000_004n, limit: 100 });
      expect(mid.map((r) => r.seq)).to.deep.equal([2n, 3n, 4n]);
      const page = await store.readings({ device: A, limit: 2, afterSeq: 2n });
      expect(page.map((r) => r.seq)).to.deep.equal([3n, 4n]);
      expect(page[0]).to.deep.include({ device: A, anchorRoot: null, proof: null, signature: "0x" + "11".repeat(65) });
      expect(page[0].values).to.deep.equal(reading(A, 3n).values);
      expect((await store.readings({ device: A.toLowerCase(), limit: 10 })).length).to.equal(5);
    });

    it("rejections are counted per device and reason; summaries combine everything", async function () {
      await store.insertReadings([reading(A, 1n), reading(A, 2n)]);
      await store.insertReadings([reading(A, 2n, 5)]);
      await store.recordRejections([
        { device: A, reason: "BAD_SIGNATURE", detail: "x", at: 1 },
        { device: A, reason: "BAD_SIGNATURE", detail: "y", at: 2 },
        { device: B, reason: "CLOCK_SKEW", detail: "z", at: 3 },
        { reason: "WRONG_TOPIC", detail: "no device", at: 4 },
      ]);
      expect(await store.rejectionCounts()).to.deep.equal({ BAD_SIGNATURE: 2, CLOCK_SKEW: 1, WRONG_TOPIC: 1 });
      expect(await store.rejectionCounts(A)).to.deep.equal({ BAD_SIGNATURE: 2 });
      const summary = await store.deviceSummary(A);
      expect(summary).to.deep.include({ device: A, lastSeq: 2n, readings: 2, equivocations: 1, rejections: { BAD_SIGNATURE: 2 } });
      expect(await store.deviceSummary(B)).to.equal(undefined);
    });

    it("a transaction commits all of its writes or none", async function () {
      await store.transaction(async (tx) => {
        await tx.insertReadings([reading(A, 1n)]);
        await tx.recordRejections([{ device: A, reason: "MALFORMED", detail: "", at: 1 }]);
      });
      let thrown: unknown;
      try {
        await store.transaction(async (tx) => {
          await tx.insertReadings([reading(A, 2n)]);
          expect(await tx.lastSeq(A)).to.equal(2n); // visible inside
          throw new Error("boom");
        });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).message).to.equal("boom");
      expect(await store.lastSeq(A)).to.equal(1n);
      expect(await store.counts()).to.deep.equal({ readings: 1, devices: 1 });
      expect(await store.rejectionCounts()).to.deep.equal({ MALFORMED: 1 });
    });

    it("concurrent transactions never interleave", async function () {
      const runs = Array.from({ length: 20 }, (_, i) =>
        store.transaction(async (tx) => {
          const last = (await tx.lastSeq(A)) ?? 0n;
          await new Promise((r) => setTimeout(r, i % 3));
          return tx.insertReadings([reading(A, last + 1n)]);
        }),
      );
      const results = await Promise.all(runs);
      expect(results.every((r) => r[0].outcome === "stored")).to.equal(true);
      expect(await store.lastSeq(A)).to.equal(20n);
    });

    it("lists readings not yet anchored, oldest first (the anchoring seam)", async function () {
      await store.insertReadings([reading(B, 1n), reading(A, 1n), reading(B, 2n)]);
      const list = await store.unanchored(2);
      expect(list.map((r) => [r.device, r.seq])).to.deep.equal([
        [B, 1n],
        [A, 1n],
      ]);
      expect(list[0].id).to.be.lessThan(list[1].id);
    });

    it("what was committed is there after reopening; the health probe writes", async function () {
      await store.insertReadings([reading(A, 1n), reading(A, 2n)]);
      await store.probeWritable();
      await store.close();
      store = await open(path.join(dir, "store.sqlite"));
      expect(await store.lastSeq(A)).to.equal(2n);
      expect((await store.insertReadings([reading(A, 2n)]))[0].outcome).to.equal("duplicate");
    });
  });
}

storeSuite("SQLite", async (file) => SqliteReadingStore.open(file));

describe("SQLite store specifics", function () {
  it("uses WAL with synchronous=FULL and records its schema version; refuses a newer schema", async function () {
    const file = path.join(tempDir("triad-store-"), "s.sqlite");
    const store = SqliteReadingStore.open(file);
    expect(store.schemaVersion()).to.equal(SCHEMA_VERSION);
    await store.close();
    const raw = new Database(file);
    expect(raw.pragma("journal_mode", { simple: true })).to.equal("wal");
    expect(raw.prepare("SELECT version FROM schema_version").get()).to.deep.equal({ version: SCHEMA_VERSION });
    raw.prepare("UPDATE schema_version SET version = ?").run(SCHEMA_VERSION + 1);
    raw.close();
    expect(() => SqliteReadingStore.open(file)).to.throw(/newer than this gateway/);
    // synchronous is a per-connection setting: check the store's own connection
    const again = new Database(file);
    again.prepare("UPDATE schema_version SET version = ?").run(SCHEMA_VERSION);
    again.close();
    const s2 = SqliteReadingStore.open(file) as unknown as { db: Database.Database; close(): Promise<void> };
    expect(s2.db.pragma("synchronous", { simple: true })).to.equal(2); // FULL
    await s2.close();
  });

  it("opening migrates an empty file and is idempotent", async function () {
    const file = path.join(tempDir("triad-store-"), "nested", "dir", "s.sqlite");
    (await SqliteReadingStore.open(file)).close();
    const s = SqliteReadingStore.open(file);
    expect(s.schemaVersion()).to.equal(SCHEMA_VERSION);
    await s.close();
    await s.close(); // closing twice is fine
  });
});
