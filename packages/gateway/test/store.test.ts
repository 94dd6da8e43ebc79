import { expect } from "chai";
import path from "node:path";
import Database from "better-sqlite3";
import { keccak256, toUtf8Bytes, Wallet } from "ethers";
import { buildReadingTree, readingProof, TriadError, verifyReadingProof } from "@triad/sdk";
import { startPostgres, type PostgresService } from "@triad/devkit/services";
import { PG_SCHEMA_VERSION, PostgresReadingStore, REORDER_WINDOW, SCHEMA_VERSION, SqliteReadingStore } from "../src/store/index.ts";
import type { NewAnchor, NewReading, ReadingStore, StoredReading } from "../src/store/index.ts";
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

const GATEWAY = new Wallet(Wallet.createRandom().privateKey).address;

/** A real Merkle tree over `readings` (as the anchoring loop builds it) as a NewAnchor. */
function anchorOf(readings: readonly StoredReading[], createdAt = Date.now()): NewAnchor {
  const tree = buildReadingTree(readings.map((r) => r.digest));
  return {
    root: tree.root,
    gateway: GATEWAY,
    uri: `triad://anchors/${tree.root}`,
    createdAt,
    proofs: readings.map((r) => ({ id: r.id, proof: readingProof(tree, r.digest) })),
  };
}

async function rejection(promise: Promise<unknown>): Promise<TriadError> {
  try {
    await promise;
  } catch (error) {
    return error as TriadError;
  }
  throw new Error("expected a rejection");
}

/** Where a suite's test keeps its data: `fresh()` makes an empty database, `open()` opens a store on it (again). */
interface StoreTarget {
  fresh(): Promise<string>;
  open(location: string): Promise<ReadingStore>;
}

/** The repository contract, run against a real database: the same suite for SQLite and PostgreSQL. */
function storeSuite(name: string, target: () => StoreTarget) {
  describe(`ReadingStore contract: ${name}`, function () {
    this.timeout(30_000);
    let location: string;
    let store: ReadingStore;
    const open = () => target().open(location);
    beforeEach(async function () {
      location = await target().fresh();
      store = await open();
    });
    afterEach(async function () {
      await store.close();
    });

    it("insert-if-new: stored, exact duplicate (idempotent), equivocation (recorded), a late gap-fill stored", async function () {
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
      expect((await store.insertReadings([reading(A, 7n)]))[0].outcome).to.equal("stored");
      expect((await store.insertReadings([reading(A, 4n)]))[0]).to.deep.include({ outcome: "stored", lastSeq: 7n }); // below 5 and 7
      expect(await store.lastSeq(A)).to.equal(7n);
      expect(await store.lastSeq(B)).to.equal(undefined);
      expect(await store.counts()).to.deep.equal({ readings: 3, devices: 1 });
    });

    it("a batch is applied in order, each reading seeing the ones before it; devices are independent", async function () {
      const out = await store.insertReadings([
        reading(A, 1n),
        reading(B, 9n),
        reading(A, 2n),
        reading(A, 2n),
        reading(A, 1n, 3),
        reading(B, 3n),
        reading(B, 3n),
        reading(B, 3n, 4),
        reading(B, 9n + REORDER_WINDOW + 1n),
        reading(B, 8n),
      ]);
      expect(out.map((r) => r.outcome)).to.deep.equal([
        "stored",
        "stored",
        "stored",
        "duplicate",
        "equivocation",
        "stored", // a late gap-fill of B, below 9
        "duplicate",
        "equivocation",
        "stored",
        "seq_not_increasing", // the reading before it in the batch raised B's highest seq: 8 is now beyond the window
      ]);
      expect(out.map((r) => r.lastSeq)).to.deep.equal([1n, 9n, 2n, 2n, 2n, 9n, 9n, 9n, 9n + REORDER_WINDOW + 1n, 9n + REORDER_WINDOW + 1n]);
    });

    it("out of order: a never-stored seq below the highest is stored within the reorder window, refused beyond it", async function () {
      const top = 3n * REORDER_WINDOW;
      const at = (r: NewReading, receivedAt: number) => ({ ...r, receivedAt });
      expect((await store.insertReadings([at(reading(A, top), 1_000)]))[0]).to.deep.include({ outcome: "stored", lastSeq: top });
      // a later seq overtaken on its way arrives after a higher one: stored, the highest seq stays
      const late = at(reading(A, top - 7n), 3_000);
      expect((await store.insertReadings([late]))[0]).to.deep.include({ outcome: "stored", lastSeq: top });
      expect((await store.insertReadings([late]))[0]).to.deep.include({ outcome: "duplicate", lastSeq: top, storedDigest: late.digest });
      const other = reading(A, top - 7n, 9);
      expect((await store.insertReadings([other]))[0]).to.deep.include({ outcome: "equivocation", storedDigest: late.digest });
      expect((await store.equivocations(A)).map((e) => [e.seq, e.storedDigest, e.conflicting.digest])).to.deep.equal([
        [top - 7n, late.digest, other.digest],
      ]);
      // the edge of the window: exactly REORDER_WINDOW below is stored, one more is refused (and nothing is written)
      const edge = at(reading(A, top - REORDER_WINDOW), 2_000);
      expect((await store.insertReadings([edge, reading(A, top - REORDER_WINDOW - 1n)])).map((r) => r.outcome)).to.deep.equal([
        "stored",
        "seq_not_increasing",
      ]);
      expect((await store.insertReadings([reading(A, 0n)]))[0]).to.deep.include({ outcome: "seq_not_increasing", lastSeq: top });
      // ... but an exact duplicate of a stored reading stays idempotent however far below it is
      await store.insertReadings([at(reading(A, top + 2n * REORDER_WINDOW), 4_000)]);
      expect((await store.insertReadings([edge]))[0].outcome).to.equal("duplicate");
      expect((await store.insertReadings([reading(A, top - REORDER_WINDOW, 5)]))[0].outcome).to.equal("equivocation");
      // the summary: lastSeq is the highest stored and its timestamp the one at that seq, lastReceivedAt the latest
      // receipt (not the last written: two gateways' clocks differ); readings come back in seq order
      const highest = top + 2n * REORDER_WINDOW;
      await store.insertReadings([at(reading(A, highest - 1n), 3_500)]);
      expect(await store.lastSeq(A)).to.equal(highest);
      const summary = await store.deviceSummary(A);
      expect(summary).to.deep.include({ lastSeq: highest, lastTimestamp: reading(A, highest).timestamp, readings: 5, equivocations: 2 });
      expect(summary).to.deep.include({ firstReceivedAt: 1_000, lastReceivedAt: 4_000 });
      expect((await store.readings({ device: A, limit: 10 })).map((r) => r.seq)).to.deep.equal([
        top - REORDER_WINDOW,
        top - 7n,
        top,
        highest - 1n,
        highest,
      ]);
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

    it("concurrent read-then-write transactions of one device never lose an update", async function () {
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
      store = await open();
      expect(await store.lastSeq(A)).to.equal(2n);
      expect((await store.insertReadings([reading(A, 2n)]))[0].outcome).to.equal("duplicate");
    });

    it("records an anchor: pending, readings carry its root and a proof that verifies, no longer unanchored", async function () {
      await store.insertReadings([reading(A, 1n), reading(B, 1n), reading(A, 2n), reading(B, 2n), reading(A, 3n)]);
      const batch = await store.unanchored(3);
      const anchor = anchorOf(batch, 1_000);
      const recorded = await store.recordAnchor(anchor);
      expect(recorded).to.deep.equal({
        root: anchor.root,
        gateway: GATEWAY,
        count: 3,
        firstId: batch[0].id,
        lastId: batch[2].id,
        uri: anchor.uri,
        status: "pending",
        txHash: null,
        blockNumber: null,
        anchoredAt: null,
        createdAt: 1_000,
      });
      expect(await store.anchor(anchor.root)).to.deep.equal(recorded);
      expect(await store.anchor(anchor.root.toUpperCase().replace("0X", "0x"))).to.deep.equal(recorded);
      expect(await store.anchor("0x" + "00".repeat(32))).to.equal(undefined);
      expect(await store.pendingAnchors()).to.deep.equal([recorded]);
      const rest = await store.unanchored(10);
      expect(rest.map((r) => [r.device, r.seq])).to.deep.equal([
        [B, 2n],
        [A, 3n],
      ]);
      const assigned = [...(await store.readings({ device: A, limit: 10 })), ...(await store.readings({ device: B, limit: 10 }))].filter(
        (r) => r.anchorRoot !== null,
      );
      expect(assigned).to.have.length(3);
      for (const r of assigned) {
        expect(r.anchorRoot).to.equal(anchor.root);
        expect(r.proof).to.deep.equal(anchor.proofs.find((p) => p.id === r.id)!.proof);
        expect(verifyReadingProof(anchor.root, r.digest, r.proof!)).to.equal(true);
      }
      // a tree of one reading has an empty proof: still "assigned", not null
      const single = anchorOf(await store.unanchored(1), 2_000);
      await store.recordAnchor(single);
      const [one] = (await store.readings({ device: B, limit: 10 })).filter((r) => r.anchorRoot === single.root);
      expect(one.proof).to.deep.equal([]);
      expect(verifyReadingProof(single.root, one.digest, one.proof!)).to.equal(true);
    });

    it("a conflicting anchor (reading already assigned, root already recorded, reading unknown) writes nothing", async function () {
      await store.insertReadings([reading(A, 1n), reading(A, 2n), reading(A, 3n)]);
      const [r1, r2, r3] = await store.unanchored(3);
      const first = anchorOf([r1, r2]);
      await store.recordAnchor(first);
      const overlapping = anchorOf([r2, r3]); // r2 is taken
      const conflict = await rejection(store.recordAnchor(overlapping));
      expect(conflict).to.be.instanceOf(TriadError);
      expect(conflict.code).to.equal("ANCHOR_CONFLICT");
      expect(await store.anchor(overlapping.root)).to.equal(undefined);
      expect((await store.unanchored(10)).map((r) => r.id)).to.deep.equal([r3.id]); // r3 not assigned by the failed attempt
      expect((await store.readings({ device: A, limit: 10 }))[1]).to.deep.include({ anchorRoot: first.root });
      expect((await rejection(store.recordAnchor({ ...anchorOf([r3]), root: first.root }))).code).to.equal("ANCHOR_CONFLICT");
      const unknown = anchorOf([r3]);
      const withUnknown = { ...unknown, proofs: [...unknown.proofs, { id: r3.id + 1000, proof: [] }] };
      expect((await rejection(store.recordAnchor(withUnknown))).code).to.equal("ANCHOR_CONFLICT");
      expect((await store.unanchored(10)).map((r) => r.id)).to.deep.equal([r3.id]);
      expect((await store.pendingAnchors()).map((a) => a.root)).to.deep.equal([first.root]);
      expect((await rejection(store.recordAnchor({ ...unknown, proofs: [] }))).code).to.equal("INVALID_INPUT");
    });

    it("sent, then confirmed (idempotent); pending and newest-first lists follow the lifecycle", async function () {
      await store.insertReadings([1n, 2n, 3n].map((s) => reading(A, s)));
      const [r1, r2, r3] = await store.unanchored(3);
      const a1 = anchorOf([r1], 1_000);
      const a2 = anchorOf([r2], 2_000);
      const a3 = anchorOf([r3], 3_000);
      for (const a of [a1, a2, a3]) await store.recordAnchor(a);
      expect((await store.pendingAnchors()).map((a) => a.root)).to.deep.equal([a1.root, a2.root, a3.root]);
      const tx1 = "0x" + "ab".repeat(32);
      await store.anchorSent(a1.root, tx1);
      expect(await store.anchor(a1.root)).to.deep.include({ status: "pending", txHash: tx1 });
      const tx1b = "0x" + "AC".repeat(32); // re-sent after a restart: the newer transaction is the one to watch
      await store.anchorSent(a1.root, tx1b);
      expect(await store.anchor(a1.root)).to.deep.include({ txHash: tx1b.toLowerCase() });
      const mined = { txHash: tx1b.toLowerCase(), blockNumber: 42, anchoredAt: 1_700_000_123 };
      await store.confirmAnchor(a1.root, mined);
      await store.confirmAnchor(a1.root, mined);
      const confirmed = await store.anchor(a1.root);
      expect(confirmed).to.deep.include({ status: "confirmed", txHash: mined.txHash, blockNumber: 42, anchoredAt: 1_700_000_123 });
      await store.anchorSent(a1.root, "0x" + "cd".repeat(32)); // too late: a confirmed anchor keeps its transaction
      expect(await store.anchor(a1.root)).to.deep.equal(confirmed);
      expect((await store.pendingAnchors()).map((a) => a.root)).to.deep.equal([a2.root, a3.root]);
      expect((await store.anchors({ limit: 10 })).map((a) => a.root)).to.deep.equal([a3.root, a2.root, a1.root]);
      expect((await store.anchors({ limit: 1 })).map((a) => a.root)).to.deep.equal([a3.root]);
      expect((await store.anchors({ limit: 10, status: "confirmed" })).map((a) => a.root)).to.deep.equal([a1.root]);
      expect((await store.anchors({ limit: 10, status: "pending" })).map((a) => a.root)).to.deep.equal([a3.root, a2.root]);
      expect((await rejection(store.anchorSent("0x" + "99".repeat(32), tx1))).code).to.equal("ANCHOR_UNKNOWN");
      expect((await rejection(store.confirmAnchor("0x" + "99".repeat(32), mined))).code).to.equal("ANCHOR_UNKNOWN");
      await store.close();
      store = await open();
      expect(await store.anchor(a1.root)).to.deep.equal(confirmed);
    });

    it("the anchoring lock is exclusive across two store instances on one database, and released when fn settles", async function () {
      const other = await open();
      try {
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let entered!: () => void;
        const inside = new Promise<void>((r) => (entered = r));
        const holder = store.withAnchorLock(async () => {
          entered();
          await held;
          return "done";
        });
        await inside;
        expect(await other.withAnchorLock(async () => "stolen")).to.deep.equal({ ran: false });
        expect(await store.withAnchorLock(async () => "re-entered")).to.deep.equal({ ran: false }); // not re-entrant
        release();
        expect(await holder).to.deep.equal({ ran: true, value: "done" });
        expect(await other.withAnchorLock(async () => "now")).to.deep.equal({ ran: true, value: "now" });
        const failed = await rejection(other.withAnchorLock(async () => Promise.reject(new TriadError("boom", "TEST"))));
        expect(failed.code).to.equal("TEST");
        expect(await store.withAnchorLock(async () => 1)).to.deep.equal({ ran: true, value: 1 }); // a throwing fn released it
      } finally {
        await other.close();
      }
    });
  });
}

const sqlite = (): StoreTarget => ({
  fresh: async () => path.join(tempDir("triad-store-"), "store.sqlite"),
  open: async (file) => SqliteReadingStore.open(file),
});
storeSuite("SQLite", sqlite);

/** One private PostgreSQL cluster for this file (a fresh database per test); started on first use. */
let cluster: Promise<PostgresService> | undefined;
const postgres = () => (cluster ??= startPostgres());
after(async function () {
  if (cluster) await (await cluster).stop();
});
const pgTarget = (): StoreTarget => ({
  fresh: async () => (await postgres()).createDatabase(),
  open: async (url) => PostgresReadingStore.open(url),
});
storeSuite("PostgreSQL", pgTarget);

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

  it("a file of schema version 1 (before anchors) is migrated on open; its readings are kept, unanchored", async function () {
    const file = path.join(tempDir("triad-store-"), "v1.sqlite");
    const store = SqliteReadingStore.open(file);
    await store.insertReadings([reading(A, 1n), reading(A, 2n)]);
    await store.close();
    const raw = new Database(file); // back to what version 1 created
    raw.exec("DROP TABLE anchors; DROP INDEX readings_by_anchor; UPDATE schema_version SET version = 1");
    raw.close();
    const again = SqliteReadingStore.open(file);
    try {
      expect(again.schemaVersion()).to.equal(SCHEMA_VERSION);
      expect((await again.unanchored(10)).map((r) => r.seq)).to.deep.equal([1n, 2n]);
      const anchored = await again.recordAnchor(anchorOf(await again.unanchored(10)));
      expect(anchored.count).to.equal(2);
    } finally {
      await again.close();
    }
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

describe("PostgreSQL store specifics", function () {
  this.timeout(60_000);

  it("gateways starting at once on one empty database migrate it once (advisory lock); a newer schema is refused", async function () {
    const url = await (await postgres()).createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresReadingStore.open(url)));
    try {
      for (const s of stores) expect(await s.schemaVersion()).to.equal(PG_SCHEMA_VERSION);
      expect(PG_SCHEMA_VERSION).to.equal(SCHEMA_VERSION); // one version number per schema, whatever the database
      const pg = await postgres();
      const db = new URL(url).pathname.slice(1);
      expect(await pg.sql("SELECT count(*) FROM schema_version", db)).to.equal("1");
      await pg.sql(`UPDATE schema_version SET version = ${PG_SCHEMA_VERSION + 1}`, db);
      const error = await rejection(PostgresReadingStore.open(url));
      expect(error.code).to.equal("STORE_TOO_NEW");
      expect(error.message).to.match(/newer than this gateway's/);
      await pg.sql(`UPDATE schema_version SET version = ${PG_SCHEMA_VERSION}`, db);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it("an unreachable server, a wrong password or a missing database is one sentence naming host and database", async function () {
    const pg = await postgres();
    const wrongPassword = await rejection(PostgresReadingStore.open(`postgres://${pg.user}:nope@127.0.0.1:${pg.port}/${pg.database}`));
    expect(wrongPassword).to.be.instanceOf(TriadError);
    expect(wrongPassword.code).to.equal("STORE_UNAVAILABLE");
    expect(wrongPassword.message).to.equal(
      `cannot open PostgreSQL database "${pg.database}" at 127.0.0.1:${pg.port}: the user name or password is wrong`,
    );
    const missing = await rejection(PostgresReadingStore.open(`postgres://${pg.user}:${pg.password}@127.0.0.1:${pg.port}/absent`));
    expect(missing.message).to.equal(`cannot open PostgreSQL database "absent" at 127.0.0.1:${pg.port}: the database does not exist`);
    const port = pg.port === 1 ? 2 : 1; // nothing listens on port 1 (privileged, unassigned here)
    const refused = await rejection(PostgresReadingStore.open(`postgres://u:secret@127.0.0.1:${port}/triad`));
    expect(refused.code).to.equal("STORE_UNAVAILABLE");
    expect(refused.message).to.equal(
      `cannot open PostgreSQL database "triad" at 127.0.0.1:${port}: nothing listens there (connection refused)`,
    );
    for (const e of [wrongPassword, missing, refused]) expect(e.message).not.to.include(pg.password).and.not.to.include("\n");
  });

  it("sessions run with synchronous_commit=on even when the database's default is off", async function () {
    const pg = await postgres();
    const url = await pg.createDatabase();
    await pg.sql(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET synchronous_commit = off`);
    const store = await PostgresReadingStore.open(url);
    try {
      const pool = (store as unknown as { pool: { query(sql: string): Promise<{ rows: { synchronous_commit: string }[] }> } }).pool;
      expect((await pool.query("SHOW synchronous_commit")).rows[0].synchronous_commit).to.equal("on");
    } finally {
      await store.close();
    }
  });

  it("a session the server ends in the middle of a transaction fails that transaction, not the process; the next one works", async function () {
    const pg = await postgres();
    const url = await pg.createDatabase();
    const app = `killed_${process.pid}`;
    const store = await PostgresReadingStore.open(`${url}?application_name=${app}`);
    try {
      const failed = await rejection(
        store.transaction(async (tx) => {
          await tx.insertReadings([reading(A, 1n)]);
          // idle in transaction when the server ends the session: the client emits 'error' with no query running
          await pg.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}'`);
          await new Promise((r) => setTimeout(r, 200));
          return tx.insertReadings([reading(A, 2n)]);
        }),
      );
      expect(failed).to.be.instanceOf(Error);
      expect(await store.lastSeq(A)).to.equal(undefined); // nothing of it was committed
      expect((await store.insertReadings([reading(A, 1n)]))[0].outcome).to.equal("stored");
      await store.probeWritable();
    } finally {
      await store.close();
    }
  });

  it("two stores on one database deciding the same readings at once: each stored exactly once, none refused, no deadlock", async function () {
    const url = await (await postgres()).createDatabase();
    const [one, two] = await Promise.all([PostgresReadingStore.open(url), PostgresReadingStore.open(url)]);
    try {
      const devices = newWallets(6);
      const rounds = 15;
      // every round r, of every device: seq 3r reaches both stores, 3r + 2 only store one (after 3r), 3r + 1 only
      // store two (before 3r, devices in the opposite order: a lock order by batch order would deadlock). Whichever
      // store decides a device first, one of its readings arrives after a higher seq was stored: a late gap-fill.
      const outcomes: { store: number; device: string; seq: bigint; outcome: string }[] = [];
      for (let round = 1; round <= rounds; round++) {
        const seq = BigInt(round * 3);
        const shared = devices.map((d) => reading(d, seq));
        const batches = [
          [...shared, ...devices.map((d) => reading(d, seq + 2n))],
          [...shared, ...devices.map((d) => reading(d, seq + 1n))].reverse(),
        ];
        const results = await Promise.all([one.insertReadings(batches[0]), two.insertReadings(batches[1])]);
        results.forEach((res, s) =>
          res.forEach((r, i) => outcomes.push({ store: s, device: batches[s][i].device, seq: batches[s][i].seq, outcome: r.outcome })),
        );
      }
      expect(outcomes.filter((o) => !["stored", "duplicate"].includes(o.outcome))).to.deep.equal([]);
      const last = BigInt(rounds * 3 + 2);
      for (const d of devices) {
        for (let round = 1; round <= rounds; round++) {
          const seq = BigInt(round * 3);
          const of = (s: bigint) =>
            outcomes
              .filter((o) => o.device === d && o.seq === s)
              .map((o) => o.outcome)
              .sort();
          expect(of(seq)).to.deep.equal(["duplicate", "stored"]); // the first to decide stores it, the other finds it
          expect(of(seq + 1n)).to.deep.equal(["stored"]);
          expect(of(seq + 2n)).to.deep.equal(["stored"]);
        }
        const stored = await one.readings({ device: d, limit: 1000 });
        expect(stored.map((r) => r.seq)).to.deep.equal(Array.from({ length: rounds * 3 }, (_, i) => BigInt(i + 3)));
        // every round of every device was stored out of seq order (insertion order is the id's)
        for (let round = 1; round <= rounds; round++) {
          const ofRound = stored.filter((r) => r.seq / 3n === BigInt(round));
          const byId = [...ofRound].sort((a, b) => a.id - b.id).map((r) => r.seq);
          expect(byId, `round ${round}`).not.to.deep.equal(ofRound.map((r) => r.seq));
        }
        expect(await two.lastSeq(d)).to.equal(last);
        const summary = (await one.deviceSummary(d))!;
        expect(summary).to.deep.include({ lastSeq: last, lastTimestamp: reading(d, last).timestamp, readings: rounds * 3 });
      }
      expect(await one.counts()).to.deep.equal({ readings: devices.length * rounds * 3, devices: devices.length });
    } finally {
      await one.close();
      await two.close();
    }
  });
});

function newWallets(n: number): string[] {
  return Array.from({ length: n }, () => new Wallet(Wallet.createRandom().privateKey).address);
}
