/**
 * The SQLite {@link ReadingStore} (better-sqlite3): one file, WAL journal with synchronous=FULL, so a committed
 * transaction survives a crash of the process or of the machine (the WAL is fsynced at every commit). The schema is
 * created and migrated in code (`schema_version` holds the version reached).
 *
 * seq and timestamp are uint64: SQLite's INTEGER is int64, so both are stored as 20-digit zero-padded decimal text,
 * which orders and compares like the numbers. Values are a JSON array of decimal strings.
 *
 * better-sqlite3 is synchronous; every method still takes an async mutex so a transaction that awaits (the interface
 * allows it, for PostgreSQL's sake) never interleaves with another caller's statements on the one connection.
 *
 * Anchors (migration 2): an `anchors` table; each assigned reading carries its anchor's root (0x-hex text, joinable
 * with `anchors.root`) and its Merkle proof as a BLOB of the concatenated 32-byte nodes (32 bytes a node instead of
 * ~69 characters of JSON). The anchoring lock is in-process, keyed by the database file: SQLite has one writer per
 * file, so one process owns a file and every store instance opened on it in that process shares the lock.
 */
import Database from "better-sqlite3";
import { mkdirSync, realpathSync } from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { checksumAddress, REJECTION_REASONS, TriadError, type RejectionReason } from "@triad/sdk";
import { checkNewAnchor, isWord, packProof, toAnchor, unpackProof, word, type AnchorRow } from "./codec.ts";
import type {
  AnchorRecord,
  DeviceSummary,
  Equivocation,
  InsertResult,
  NewAnchor,
  NewReading,
  ReadingQuery,
  ReadingStore,
  ReadingStoreTx,
  RejectionRecord,
  StoredReading,
} from "./types.ts";
import { belowReorderWindow } from "./types.ts";

/** Migrations in order; migration i brings the schema from version i to i + 1. Never edit one that shipped. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE readings (
     id          INTEGER PRIMARY KEY,
     device      TEXT NOT NULL,
     seq         TEXT NOT NULL,
     timestamp   TEXT NOT NULL,
     vals        TEXT NOT NULL,
     signature   TEXT NOT NULL,
     digest      TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     anchor_root TEXT,
     proof       TEXT,
     UNIQUE (device, seq)
   );
   CREATE INDEX readings_by_time ON readings (device, timestamp);
   CREATE INDEX readings_unanchored ON readings (id) WHERE anchor_root IS NULL;
   CREATE TABLE devices (
     device      TEXT PRIMARY KEY,
     last_seq    TEXT NOT NULL,
     readings    INTEGER NOT NULL,
     first_at    INTEGER NOT NULL,
     last_at     INTEGER NOT NULL,
     last_ts     TEXT NOT NULL
   );
   CREATE TABLE equivocations (
     id            INTEGER PRIMARY KEY,
     device        TEXT NOT NULL,
     seq           TEXT NOT NULL,
     stored_digest TEXT NOT NULL,
     digest        TEXT NOT NULL,
     timestamp     TEXT NOT NULL,
     vals          TEXT NOT NULL,
     signature     TEXT NOT NULL,
     received_at   INTEGER NOT NULL,
     UNIQUE (device, seq, digest)
   );
   CREATE TABLE rejections (
     device      TEXT NOT NULL,
     reason      TEXT NOT NULL,
     count       INTEGER NOT NULL,
     last_at     INTEGER NOT NULL,
     last_detail TEXT NOT NULL,
     PRIMARY KEY (device, reason)
   );
   CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);`,
  `CREATE TABLE anchors (
     id           INTEGER PRIMARY KEY,
     root         TEXT NOT NULL UNIQUE,
     gateway      TEXT NOT NULL,
     count        INTEGER NOT NULL,
     first_id     INTEGER NOT NULL,
     last_id      INTEGER NOT NULL,
     uri          TEXT NOT NULL,
     status       TEXT NOT NULL CHECK (status IN ('pending', 'confirmed')),
     tx_hash      TEXT,
     block_number INTEGER,
     anchored_at  INTEGER,
     created_at   INTEGER NOT NULL
   );
   CREATE INDEX anchors_pending ON anchors (created_at, id) WHERE status = 'pending';
   CREATE INDEX anchors_by_created ON anchors (created_at, id);
   CREATE INDEX readings_by_anchor ON readings (anchor_root) WHERE anchor_root IS NOT NULL;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

const pad = (n: bigint) => n.toString().padStart(20, "0");
const unpad = (s: string) => BigInt(s);
const NO_DEVICE = ""; // rejections whose topic named no device

/** What one insert batch knows and did of one device. */
interface DeviceInBatch {
  /** The highest seq stored for the device, this batch's readings included. */
  last: bigint | undefined;
  /** The highest seq this batch stored, with its timestamp (the device row's last_seq / last_ts). */
  top: { seq: bigint; timestamp: bigint } | undefined;
  stored: number;
  firstAt: number;
  lastAt: number;
}

interface ReadingRow {
  id: number;
  device: string;
  seq: string;
  timestamp: string;
  vals: string;
  signature: string;
  digest: string;
  received_at: number;
  anchor_root: string | null;
  proof: Buffer | string | null;
}

/** Anchoring locks held in this process, by database file (SQLite's withAnchorLock). */
const heldAnchorLocks = new Set<string>();

function toStored(row: ReadingRow): StoredReading {
  return {
    id: row.id,
    device: row.device,
    seq: unpad(row.seq),
    timestamp: unpad(row.timestamp),
    values: (JSON.parse(row.vals) as string[]).map(BigInt),
    signature: row.signature,
    digest: row.digest,
    receivedAt: row.received_at,
    anchorRoot: row.anchor_root,
    proof: row.proof === null ? null : typeof row.proof === "string" ? (JSON.parse(row.proof) as string[]) : unpackProof(row.proof),
  };
}

export class SqliteReadingStore implements ReadingStore {
  readonly kind = "sqlite" as const;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly s;
  private readonly tx: ReadingStoreTx;
  /** The file's real path: every instance opened on one file shares its anchoring lock. */
  private readonly lockKey: string;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    this.lockKey = realpathSync(file);
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      bySeq: p("SELECT digest FROM readings WHERE device = ? AND seq = ?"),
      deviceLast: p("SELECT last_seq FROM devices WHERE device = ?"),
      insert: p("INSERT INTO readings (device, seq, timestamp, vals, signature, digest, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      upsertDevice: p(
        // last_seq only grows (a batch of late gap-fills stores seqs below it); last_ts is the timestamp at last_seq
        `INSERT INTO devices (device, last_seq, readings, first_at, last_at, last_ts) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (device) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), readings = readings + excluded.readings,
           last_at = max(last_at, excluded.last_at),
           last_ts = CASE WHEN excluded.last_seq > last_seq THEN excluded.last_ts ELSE last_ts END`,
      ),
      equivocate: p(
        `INSERT OR IGNORE INTO equivocations (device, seq, stored_digest, digest, timestamp, vals, signature, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      reject: p(
        `INSERT INTO rejections (device, reason, count, last_at, last_detail) VALUES (?, ?, 1, ?, ?)
         ON CONFLICT (device, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at, last_detail = excluded.last_detail`,
      ),
      range: p(`SELECT * FROM readings WHERE device = ? AND timestamp >= ? AND timestamp <= ? AND seq > ? ORDER BY seq LIMIT ?`),
      device: p("SELECT * FROM devices WHERE device = ?"),
      equivocationCount: p("SELECT count(*) AS n FROM equivocations WHERE device = ?"),
      equivocations: p("SELECT * FROM equivocations WHERE device = ? ORDER BY id"),
      rejectionsAll: p("SELECT reason, sum(count) AS n FROM rejections GROUP BY reason"),
      rejectionsOf: p("SELECT reason, count AS n FROM rejections WHERE device = ?"),
      unanchored: p("SELECT * FROM readings WHERE anchor_root IS NULL ORDER BY id LIMIT ?"),
      counts: p("SELECT (SELECT count(*) FROM readings) AS readings, (SELECT count(*) FROM devices) AS devices"),
      health: p("INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at"),
      anchorByRoot: p("SELECT * FROM anchors WHERE root = ?"),
      insertAnchor: p(
        `INSERT INTO anchors (root, gateway, count, first_id, last_id, uri, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
      ),
      assign: p("UPDATE readings SET anchor_root = ?, proof = ? WHERE id = ? AND anchor_root IS NULL"),
      anchorSent: p("UPDATE anchors SET tx_hash = ? WHERE root = ? AND status = 'pending'"),
      confirmAnchor: p("UPDATE anchors SET status = 'confirmed', tx_hash = ?, block_number = ?, anchored_at = ? WHERE root = ?"),
      pendingAnchors: p("SELECT * FROM anchors WHERE status = 'pending' ORDER BY created_at, id"),
      anchorsAll: p("SELECT * FROM anchors ORDER BY created_at DESC, id DESC LIMIT ?"),
      anchorsOf: p("SELECT * FROM anchors WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?"),
    };
    this.tx = {
      insertReadings: async (readings) => this.insertSync(readings),
      recordRejections: async (rejections) => this.rejectSync(rejections),
      lastSeq: async (device) => this.lastSeqSync(device),
    };
  }

  /** Opens `file` (creating its folder and the file), sets WAL + synchronous=FULL and migrates the schema. */
  static open(file: string): SqliteReadingStore {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const db = new Database(file);
    try {
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (String(mode).toLowerCase() !== "wal")
        throw new TriadError(`SQLite ${file}: cannot switch to WAL (journal_mode is ${mode})`, "STORE_UNAVAILABLE");
      db.pragma("synchronous = FULL");
      db.pragma("busy_timeout = 5000");
      db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      const row = db.prepare("SELECT version FROM schema_version").get() as { version: number } | undefined;
      const current = row?.version ?? 0;
      if (current > MIGRATIONS.length) {
        throw new TriadError(
          `SQLite ${file} has schema version ${current}, newer than this gateway's ${MIGRATIONS.length}`,
          "STORE_TOO_NEW",
        );
      }
      db.transaction(() => {
        for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]);
        if (row) db.prepare("UPDATE schema_version SET version = ?").run(MIGRATIONS.length);
        else db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(MIGRATIONS.length);
      }).immediate();
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteReadingStore(db, file);
  }

  /** The schema version of the open file. */
  schemaVersion(): number {
    return (this.db.prepare("SELECT version FROM schema_version").get() as { version: number }).version;
  }

  private exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.lock.then(() => {
      if (this.closed) throw new TriadError("the reading store is closed", "STORE_CLOSED");
      return fn();
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  transaction<T>(fn: (tx: ReadingStoreTx) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.tx);
        this.db.exec("COMMIT");
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  private lastSeqSync(device: string): bigint | undefined {
    const row = this.s.deviceLast.get(checksumAddress(device)) as { last_seq: string } | undefined;
    return row && unpad(row.last_seq);
  }

  /**
   * The ingest's hot path (one call per group commit). `devices.last_seq` is the highest seq stored for a device, so
   * a reading above it is new (no lookup of its seq) and only one at or below it is looked up (duplicate,
   * equivocation, a late gap-fill within REORDER_WINDOW of ./types.ts, or too low). Each device's highest seq is read
   * once per batch and then followed here, and its row in `devices` is written once per batch, not once per reading.
   * Readings are decided under SQLite's one writer (BEGIN IMMEDIATE), so no other gateway decides a device meanwhile.
   */
  private insertSync(readings: readonly NewReading[]): InsertResult[] {
    const out: InsertResult[] = [];
    const batch = new Map<string, DeviceInBatch>();
    for (const r of readings) {
      const device = checksumAddress(r.device);
      let d = batch.get(device);
      if (!d) {
        d = { last: this.lastSeqSync(device), top: undefined, stored: 0, firstAt: 0, lastAt: 0 };
        batch.set(device, d);
      }
      const last = d.last;
      const seq = pad(r.seq);
      const existing = last !== undefined && r.seq <= last ? (this.s.bySeq.get(device, seq) as { digest: string } | undefined) : undefined;
      if (existing) {
        if (existing.digest === r.digest) out.push({ outcome: "duplicate", lastSeq: last!, storedDigest: existing.digest });
        else {
          const vals = JSON.stringify(r.values.map(String));
          this.s.equivocate.run(device, seq, existing.digest, r.digest, pad(r.timestamp), vals, r.signature, r.receivedAt);
          out.push({ outcome: "equivocation", lastSeq: last!, storedDigest: existing.digest });
        }
      } else if (belowReorderWindow(r.seq, last)) {
        out.push({ outcome: "seq_not_increasing", lastSeq: last! });
      } else {
        this.s.insert.run(device, seq, pad(r.timestamp), JSON.stringify(r.values.map(String)), r.signature, r.digest, r.receivedAt);
        if (d.stored === 0) d.firstAt = r.receivedAt;
        d.stored++;
        d.lastAt = Math.max(d.lastAt, r.receivedAt);
        if (d.top === undefined || r.seq > d.top.seq) d.top = { seq: r.seq, timestamp: r.timestamp };
        if (last === undefined || r.seq > last) d.last = r.seq;
        out.push({ outcome: "stored", lastSeq: d.last! });
      }
    }
    for (const [device, d] of batch)
      if (d.top) this.s.upsertDevice.run(device, pad(d.top.seq), d.stored, d.firstAt, d.lastAt, pad(d.top.timestamp));
    return out;
  }

  private rejectSync(rejections: readonly RejectionRecord[]): void {
    for (const r of rejections) {
      this.s.reject.run(r.device ? checksumAddress(r.device) : NO_DEVICE, r.reason, r.at, r.detail.slice(0, 500));
    }
  }

  insertReadings(readings: readonly NewReading[]): Promise<InsertResult[]> {
    return this.transaction((tx) => tx.insertReadings(readings));
  }

  recordRejections(rejections: readonly RejectionRecord[]): Promise<void> {
    return this.transaction((tx) => tx.recordRejections(rejections));
  }

  lastSeq(device: string): Promise<bigint | undefined> {
    return this.exclusive(() => this.lastSeqSync(device));
  }

  readings(q: ReadingQuery): Promise<StoredReading[]> {
    return this.exclusive(() =>
      (
        this.s.range.all(
          getAddress(q.device),
          pad(q.from ?? 0n),
          pad(q.to ?? 2n ** 64n - 1n),
          q.afterSeq === undefined ? "" : pad(q.afterSeq),
          q.limit,
        ) as ReadingRow[]
      ).map(toStored),
    );
  }

  deviceSummary(device: string): Promise<DeviceSummary | undefined> {
    return this.exclusive(() => {
      const d = getAddress(device);
      const row = this.s.device.get(d) as
        { device: string; last_seq: string; readings: number; first_at: number; last_at: number; last_ts: string } | undefined;
      if (!row) return undefined;
      return {
        device: d,
        lastSeq: unpad(row.last_seq),
        readings: row.readings,
        firstReceivedAt: row.first_at,
        lastReceivedAt: row.last_at,
        lastTimestamp: unpad(row.last_ts),
        equivocations: (this.s.equivocationCount.get(d) as { n: number }).n,
        rejections: this.rejectionCountsSync(d),
      };
    });
  }

  equivocations(device: string): Promise<Equivocation[]> {
    return this.exclusive(() =>
      (this.s.equivocations.all(getAddress(device)) as (ReadingRow & { stored_digest: string })[]).map((row) => ({
        device: row.device,
        seq: unpad(row.seq),
        storedDigest: row.stored_digest,
        conflicting: {
          device: row.device,
          seq: unpad(row.seq),
          timestamp: unpad(row.timestamp),
          values: (JSON.parse(row.vals) as string[]).map(BigInt),
          signature: row.signature,
          digest: row.digest,
          receivedAt: row.received_at,
        },
      })),
    );
  }

  private rejectionCountsSync(device?: string): Partial<Record<RejectionReason, number>> {
    const rows = (device === undefined ? this.s.rejectionsAll.all() : this.s.rejectionsOf.all(device)) as { reason: string; n: number }[];
    const out: Partial<Record<RejectionReason, number>> = {};
    for (const row of rows) if ((REJECTION_REASONS as readonly string[]).includes(row.reason)) out[row.reason as RejectionReason] = row.n;
    return out;
  }

  rejectionCounts(device?: string): Promise<Partial<Record<RejectionReason, number>>> {
    return this.exclusive(() => this.rejectionCountsSync(device === undefined ? undefined : getAddress(device)));
  }

  unanchored(limit: number): Promise<StoredReading[]> {
    return this.exclusive(() => (this.s.unanchored.all(limit) as ReadingRow[]).map(toStored));
  }

  recordAnchor(anchor: NewAnchor): Promise<AnchorRecord> {
    return this.exclusive(() => {
      const { root, gateway, firstId, lastId } = checkNewAnchor(anchor);
      const proofs = anchor.proofs.map(({ id, proof }) => ({ id, packed: packProof(proof) }));
      this.db
        .transaction(() => {
          if (this.s.anchorByRoot.get(root)) throw new TriadError(`anchor ${root} is already recorded`, "ANCHOR_CONFLICT", { root });
          this.s.insertAnchor.run(root, gateway, proofs.length, firstId, lastId, anchor.uri, anchor.createdAt);
          for (const { id, packed } of proofs) {
            if (this.s.assign.run(root, packed, id).changes !== 1) {
              throw new TriadError(`reading ${id} is already anchored or not stored: anchor ${root} not recorded`, "ANCHOR_CONFLICT", {
                root,
                id,
              });
            }
          }
        })
        .immediate();
      return toAnchor(this.s.anchorByRoot.get(root) as AnchorRow);
    });
  }

  private knownAnchor(root: string): string {
    const r = word(root, "anchor root");
    if (!this.s.anchorByRoot.get(r)) throw new TriadError(`no anchor ${r} in the store`, "ANCHOR_UNKNOWN", { root: r });
    return r;
  }

  anchorSent(root: string, txHash: string): Promise<void> {
    return this.exclusive(() => {
      this.s.anchorSent.run(word(txHash, "transaction hash"), this.knownAnchor(root));
    });
  }

  confirmAnchor(root: string, mined: { txHash: string; blockNumber: number; anchoredAt: number }): Promise<void> {
    return this.exclusive(() => {
      this.s.confirmAnchor.run(word(mined.txHash, "transaction hash"), mined.blockNumber, mined.anchoredAt, this.knownAnchor(root));
    });
  }

  anchor(root: string): Promise<AnchorRecord | undefined> {
    return this.exclusive(() => {
      const row = isWord(root) ? (this.s.anchorByRoot.get(root.toLowerCase()) as AnchorRow | undefined) : undefined;
      return row && toAnchor(row);
    });
  }

  pendingAnchors(): Promise<AnchorRecord[]> {
    return this.exclusive(() => (this.s.pendingAnchors.all() as AnchorRow[]).map(toAnchor));
  }

  anchors(query: { limit: number; status?: AnchorRecord["status"] }): Promise<AnchorRecord[]> {
    return this.exclusive(() =>
      ((query.status ? this.s.anchorsOf.all(query.status, query.limit) : this.s.anchorsAll.all(query.limit)) as AnchorRow[]).map(toAnchor),
    );
  }

  async withAnchorLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.closed) throw new TriadError("the reading store is closed", "STORE_CLOSED");
    const key = this.lockKey;
    if (heldAnchorLocks.has(key)) return { ran: false };
    heldAnchorLocks.add(key);
    try {
      return { ran: true, value: await fn() };
    } finally {
      heldAnchorLocks.delete(key);
    }
  }

  counts(): Promise<{ readings: number; devices: number }> {
    return this.exclusive(() => this.s.counts.get() as { readings: number; devices: number });
  }

  probeWritable(): Promise<void> {
    return this.exclusive(() => {
      this.s.health.run(Date.now());
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.exclusive(() => {
      this.closed = true;
      this.db.close();
    });
  }
}
