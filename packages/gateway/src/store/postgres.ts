/**
 * The PostgreSQL {@link ReadingStore} (node-postgres, one pool): the same schema semantics, outcomes and tests as the
 * SQLite store, for several gateways sharing one database (an MQTT 5 shared subscription splits the devices' readings
 * among them).
 *
 * Schema and migrations are in code, with the SAME version numbers as SQLite's (version 2 = readings + anchors on
 * both). Opening migrates under `pg_advisory_xact_lock`, so two gateways starting at once do not race: the second
 * waits, then finds the schema current. seq and timestamp are uint64 in NUMERIC(20, 0) (orders numerically; values
 * travel as decimal strings); ids and milliseconds are BIGINT. A reading's proof is BYTEA, its 32-byte nodes
 * concatenated.
 *
 * Durability: every session runs with synchronous_commit=on (whatever the server's default), so a resolved write is
 * in the server's fsynced WAL. `transaction()` is BEGIN/COMMIT on one pooled client; the ingest pipeline's batches
 * make them group commits.
 *
 * Concurrency (two gateways, or two transactions of one): insert-if-new takes a transaction-scoped advisory lock per
 * device of the batch, in sorted order (no deadlock between two batches), before it reads the device's state, so a
 * device's readings are decided one transaction at a time: a reading is stored once whichever gateway decides it
 * first (the other finds it: duplicate), a late gap-fill is decided against the committed highest seq (the reorder
 * window of ./types.ts), and `UNIQUE (device, seq)` stays the backstop. Readings of one device are therefore stored in
 * arrival order, not necessarily in seq order (two gateways of a shared subscription overtake each other); the device
 * row's `last_seq` only grows. `tx.lastSeq` takes the same lock (a read-then-write transaction does not lose an
 * update). Rejection counters are upserted in sorted key order for the same reason.
 *
 * Insertion ids come from an identity column: concurrent transactions may commit ids out of order, so a reading with
 * a lower id can appear after a higher one was listed by `unanchored()`; it is listed (and anchored) later. An
 * anchor's `firstId..lastId` therefore bounds its readings without implying that every id in between is in it.
 *
 * The anchoring lock is `pg_try_advisory_lock` on a dedicated session (not a pooled client), held while `fn` runs:
 * released when fn settles, when the store closes, or by the server when the session dies (a killed gateway).
 */
import pg from "pg";
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
     id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     device      TEXT NOT NULL,
     seq         NUMERIC(20, 0) NOT NULL,
     timestamp   NUMERIC(20, 0) NOT NULL,
     vals        TEXT NOT NULL,
     signature   TEXT NOT NULL,
     digest      TEXT NOT NULL,
     received_at BIGINT NOT NULL,
     anchor_root TEXT,
     proof       BYTEA,
     UNIQUE (device, seq)
   );
   CREATE INDEX readings_by_time ON readings (device, timestamp);
   CREATE INDEX readings_unanchored ON readings (id) WHERE anchor_root IS NULL;
   CREATE TABLE devices (
     device      TEXT PRIMARY KEY,
     last_seq    NUMERIC(20, 0) NOT NULL,
     readings    BIGINT NOT NULL,
     first_at    BIGINT NOT NULL,
     last_at     BIGINT NOT NULL,
     last_ts     NUMERIC(20, 0) NOT NULL
   );
   CREATE TABLE equivocations (
     id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     device        TEXT NOT NULL,
     seq           NUMERIC(20, 0) NOT NULL,
     stored_digest TEXT NOT NULL,
     digest        TEXT NOT NULL,
     timestamp     NUMERIC(20, 0) NOT NULL,
     vals          TEXT NOT NULL,
     signature     TEXT NOT NULL,
     received_at   BIGINT NOT NULL,
     UNIQUE (device, seq, digest)
   );
   CREATE TABLE rejections (
     device      TEXT NOT NULL,
     reason      TEXT NOT NULL,
     count       BIGINT NOT NULL,
     last_at     BIGINT NOT NULL,
     last_detail TEXT NOT NULL,
     PRIMARY KEY (device, reason)
   );
   CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at BIGINT NOT NULL);`,
  `CREATE TABLE anchors (
     id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     root         TEXT NOT NULL UNIQUE,
     gateway      TEXT NOT NULL,
     count        BIGINT NOT NULL,
     first_id     BIGINT NOT NULL,
     last_id      BIGINT NOT NULL,
     uri          TEXT NOT NULL,
     status       TEXT NOT NULL CHECK (status IN ('pending', 'confirmed')),
     tx_hash      TEXT,
     block_number BIGINT,
     anchored_at  BIGINT,
     created_at   BIGINT NOT NULL
   );
   CREATE INDEX anchors_pending ON anchors (created_at, id) WHERE status = 'pending';
   CREATE INDEX anchors_by_created ON anchors (created_at, id);
   CREATE INDEX readings_by_anchor ON readings (anchor_root) WHERE anchor_root IS NOT NULL;`,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Advisory lock keys (two-int form, its own key space): "TRIA" + what is locked. */
const LOCK_CLASS = 0x54524941;
const MIGRATION_LOCK = 1;
const ANCHOR_LOCK = 2;
/** Per-device locks use their own class, keyed by hashtext(device) (a collision only serialises two devices). */
const DEVICE_LOCK_CLASS = 0x54524944;

const NO_DEVICE = ""; // rejections whose topic named no device
const U64_MAX = (2n ** 64n - 1n).toString();

interface ReadingRow {
  id: string;
  device: string;
  seq: string;
  timestamp: string;
  vals: string;
  signature: string;
  digest: string;
  received_at: string;
  anchor_root: string | null;
  proof: Buffer | null;
}

function toStored(row: ReadingRow): StoredReading {
  return {
    id: Number(row.id),
    device: row.device,
    seq: BigInt(row.seq),
    timestamp: BigInt(row.timestamp),
    values: (JSON.parse(row.vals) as string[]).map(BigInt),
    signature: row.signature,
    digest: row.digest,
    receivedAt: Number(row.received_at),
    anchorRoot: row.anchor_root,
    proof: row.proof === null ? null : unpackProof(row.proof),
  };
}

/** The server and database of a URL, without credentials (for messages). */
function where(url: string): { host: string; database: string } {
  try {
    const u = new URL(url);
    return {
      host: u.host || u.searchParams.get("host") || "localhost",
      database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "(default)",
    };
  } catch {
    return { host: "(unparsable URL)", database: "?" };
  }
}

/** One sentence for a connection failure, naming host and database (never the password). */
function unavailable(url: string, error: unknown): TriadError {
  const { host, database } = where(url);
  const e = error as { code?: string; message?: string };
  const reason =
    e.code === "28P01" || e.code === "28000"
      ? "the user name or password is wrong"
      : e.code === "3D000"
        ? "the database does not exist"
        : e.code === "ECONNREFUSED"
          ? "nothing listens there (connection refused)"
          : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN"
            ? "the host name does not resolve"
            : (e.message ?? String(error)).split("\n")[0];
  return new TriadError(
    `cannot open PostgreSQL database "${database}" at ${host}: ${reason}`,
    "STORE_UNAVAILABLE",
    { host, database },
    { cause: error },
  );
}

type Queryable = Pick<pg.PoolClient, "query">;

export class PostgresReadingStore implements ReadingStore {
  readonly kind = "postgres" as const;
  private closed = false;
  /** Sessions holding the anchoring lock (ended on close). */
  private readonly lockSessions = new Set<pg.Client>();
  private lastPoolError: Error | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.ClientConfig,
    readonly url: string,
  ) {
    pool.on("error", (error) => {
      // an idle client lost its connection (server restart, killed session): the pool replaces it on next use
      this.lastPoolError = error;
    });
  }

  /**
   * Connects to `url` (postgres://user:password@host:port/database; `?application_name=` and `?sslmode=` are
   * honoured), migrates the schema under an advisory lock and returns the store. Throws a one-line TriadError
   * (STORE_UNAVAILABLE) when the server cannot be reached or refuses the credentials, STORE_TOO_NEW when the schema is
   * newer than this gateway's.
   */
  static async open(url: string, options: { poolSize?: number; connectTimeoutMs?: number } = {}): Promise<PostgresReadingStore> {
    const config: pg.ClientConfig = {
      connectionString: url,
      fallback_application_name: "triad-gateway",
      options: "-c synchronous_commit=on",
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    };
    const pool = new pg.Pool({ ...config, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
    pool.on("error", () => undefined); // until the store installs its own
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw unavailable(url, error);
    }
    const lost = () => undefined; // a connection ended by the server fails the migration's query (handled below)
    client.on("error", lost);
    try {
      await PostgresReadingStore.migrate(client, url);
    } catch (error) {
      client.release(true);
      await pool.end().catch(() => undefined);
      throw error instanceof TriadError ? error : unavailable(url, error);
    }
    client.off("error", lost);
    client.release();
    return new PostgresReadingStore(pool, config, url);
  }

  private static async migrate(client: pg.PoolClient, url: string): Promise<void> {
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_CLASS, MIGRATION_LOCK]);
      await client.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      const row = (await client.query<{ version: number }>("SELECT version FROM schema_version")).rows[0];
      const current = row?.version ?? 0;
      if (current > MIGRATIONS.length) {
        const { host, database } = where(url);
        throw new TriadError(
          `PostgreSQL database "${database}" at ${host} has schema version ${current}, newer than this gateway's ${MIGRATIONS.length}`,
          "STORE_TOO_NEW",
        );
      }
      for (let v = current; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]);
      if (row) await client.query("UPDATE schema_version SET version = $1", [MIGRATIONS.length]);
      else await client.query("INSERT INTO schema_version (version) VALUES ($1)", [MIGRATIONS.length]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }

  /** The schema version of the database. */
  async schemaVersion(): Promise<number> {
    return (await this.q<{ version: number }>(this.pool, "SELECT version FROM schema_version"))[0].version;
  }

  private async q<R extends pg.QueryResultRow>(db: Queryable, sql: string, params: unknown[] = []): Promise<R[]> {
    if (this.closed) throw new TriadError("the reading store is closed", "STORE_CLOSED");
    return (await db.query<R>(sql, params)).rows;
  }

  transaction<T>(fn: (tx: ReadingStoreTx) => Promise<T>): Promise<T> {
    return this.onClient(async (client, broken) => {
      await client.query("BEGIN");
      try {
        const result = await fn(this.txOn(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(broken); // a connection that cannot roll back is dropped from the pool
        throw error;
      }
    });
  }

  private txOn(client: pg.PoolClient): ReadingStoreTx {
    return {
      insertReadings: (readings) => this.insertOn(client, readings),
      recordRejections: (rejections) => this.rejectOn(client, rejections),
      lastSeq: async (device) => {
        const d = getAddress(device);
        await this.lockDevices(client, [d]);
        return this.lastSeqOn(client, d);
      },
    };
  }

  /**
   * Transaction-scoped advisory locks on `devices`, taken in the order of their keys (two batches never wait on each
   * other in a cycle, even when two devices share a key).
   */
  private async lockDevices(client: Queryable, devices: readonly string[]): Promise<void> {
    await this.q(
      client,
      `SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT hashtext(d) AS k FROM unnest($2::text[]) AS d ORDER BY k) AS s`,
      [DEVICE_LOCK_CLASS, [...new Set(devices)]],
    );
  }

  private async lastSeqOn(db: Queryable, device: string): Promise<bigint | undefined> {
    const row = (await this.q<{ last_seq: string }>(db, "SELECT last_seq FROM devices WHERE device = $1", [device]))[0];
    return row && BigInt(row.last_seq);
  }

  /**
   * Insert-if-new of a batch in five statements whatever its size: lock the batch's devices, read their state and
   * the readings stored under the batch's (device, seq) pairs, decide every reading in order in memory (exactly as
   * SQLite does row by row), then write the new readings, the device summaries and the equivocations.
   */
  private async insertOn(client: pg.PoolClient, readings: readonly NewReading[]): Promise<InsertResult[]> {
    if (readings.length === 0) return [];
    const batch = readings.map((r) => ({ ...r, device: checksumAddress(r.device) })); // memoised EIP-55
    const devices = [...new Set(batch.map((r) => r.device))];
    await this.lockDevices(client, devices);
    const lastSeq = new Map<string, bigint>();
    for (const row of await this.q<{ device: string; last_seq: string }>(
      client,
      "SELECT device, last_seq FROM devices WHERE device = ANY($1::text[])",
      [devices],
    )) {
      lastSeq.set(row.device, BigInt(row.last_seq));
    }
    const key = (device: string, seq: bigint) => `${device}/${seq}`;
    const storedDigest = new Map<string, string>();
    for (const row of await this.q<{ device: string; seq: string; digest: string }>(
      client,
      // one index lookup per pair (LATERAL … LIMIT 1 is not flattened into a join): never a scan of the table, however
      // large it grows
      `SELECT k.device, k.seq, r.digest FROM unnest($1::text[], $2::numeric[]) AS k(device, seq)
       CROSS JOIN LATERAL (SELECT digest FROM readings WHERE device = k.device AND seq = k.seq LIMIT 1) AS r`,
      [batch.map((r) => r.device), batch.map((r) => r.seq.toString())],
    )) {
      storedDigest.set(key(row.device, BigInt(row.seq)), row.digest);
    }
    const out: InsertResult[] = [];
    const toStore: (NewReading & { device: string })[] = [];
    const equivocations = new Map<string, { r: NewReading; stored: string }>();
    // per device: the highest seq this batch stored and its timestamp, how many it stored, first and latest receipt
    const summaries = new Map<string, { top: bigint; topTs: bigint; count: number; firstAt: number; lastAt: number }>();
    for (const r of batch) {
      const last = lastSeq.get(r.device);
      const existing = storedDigest.get(key(r.device, r.seq));
      if (existing !== undefined) {
        if (existing === r.digest) out.push({ outcome: "duplicate", lastSeq: last!, storedDigest: existing });
        else {
          equivocations.set(`${key(r.device, r.seq)}/${r.digest}`, { r, stored: existing });
          out.push({ outcome: "equivocation", lastSeq: last!, storedDigest: existing });
        }
      } else if (belowReorderWindow(r.seq, last)) {
        out.push({ outcome: "seq_not_increasing", lastSeq: last! });
      } else {
        // new: above the device's highest seq, or a late gap-fill within the reorder window
        toStore.push(r);
        storedDigest.set(key(r.device, r.seq), r.digest);
        const highest = last === undefined || r.seq > last ? r.seq : last;
        lastSeq.set(r.device, highest);
        const s = summaries.get(r.device);
        if (!s) summaries.set(r.device, { top: r.seq, topTs: r.timestamp, count: 1, firstAt: r.receivedAt, lastAt: r.receivedAt });
        else {
          s.count++;
          s.lastAt = Math.max(s.lastAt, r.receivedAt);
          if (r.seq > s.top) Object.assign(s, { top: r.seq, topTs: r.timestamp });
        }
        out.push({ outcome: "stored", lastSeq: highest });
      }
    }
    if (toStore.length > 0) {
      await this.q(
        client,
        `INSERT INTO readings (device, seq, timestamp, vals, signature, digest, received_at)
         SELECT device, seq, ts, vals, sig, digest, at
         FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::text[], $5::text[], $6::text[], $7::bigint[])
           WITH ORDINALITY AS t(device, seq, ts, vals, sig, digest, at, n)
         ORDER BY n`,
        [
          toStore.map((r) => r.device),
          toStore.map((r) => r.seq.toString()),
          toStore.map((r) => r.timestamp.toString()),
          toStore.map((r) => JSON.stringify(r.values.map(String))),
          toStore.map((r) => r.signature),
          toStore.map((r) => r.digest),
          toStore.map((r) => r.receivedAt),
        ],
      );
      const rows = [...summaries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      await this.q(
        client,
        `INSERT INTO devices (device, last_seq, readings, first_at, last_at, last_ts)
         SELECT * FROM unnest($1::text[], $2::numeric[], $3::bigint[], $4::bigint[], $5::bigint[], $6::numeric[])
         ON CONFLICT (device) DO UPDATE SET last_seq = GREATEST(devices.last_seq, excluded.last_seq),
           readings = devices.readings + excluded.readings, last_at = GREATEST(devices.last_at, excluded.last_at),
           last_ts = CASE WHEN excluded.last_seq > devices.last_seq THEN excluded.last_ts ELSE devices.last_ts END`,
        [
          rows.map(([d]) => d),
          rows.map(([, s]) => s.top.toString()),
          rows.map(([, s]) => s.count),
          rows.map(([, s]) => s.firstAt),
          rows.map(([, s]) => s.lastAt),
          rows.map(([, s]) => s.topTs.toString()),
        ],
      );
    }
    if (equivocations.size > 0) {
      const list = [...equivocations.values()];
      await this.q(
        client,
        `INSERT INTO equivocations (device, seq, stored_digest, digest, timestamp, vals, signature, received_at)
         SELECT * FROM unnest($1::text[], $2::numeric[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::text[], $8::bigint[])
         ON CONFLICT (device, seq, digest) DO NOTHING`,
        [
          list.map(({ r }) => r.device),
          list.map(({ r }) => r.seq.toString()),
          list.map(({ stored }) => stored),
          list.map(({ r }) => r.digest),
          list.map(({ r }) => r.timestamp.toString()),
          list.map(({ r }) => JSON.stringify(r.values.map(String))),
          list.map(({ r }) => r.signature),
          list.map(({ r }) => r.receivedAt),
        ],
      );
    }
    return out;
  }

  private async rejectOn(client: Queryable, rejections: readonly RejectionRecord[]): Promise<void> {
    if (rejections.length === 0) return;
    // One row per (device, reason) (an upsert may not touch a row twice), written in key order (no deadlock).
    const rows = new Map<string, { device: string; reason: string; count: number; at: number; detail: string }>();
    for (const r of rejections) {
      const device = r.device ? getAddress(r.device) : NO_DEVICE;
      const k = `${device}\u0000${r.reason}`;
      const row = rows.get(k);
      if (row) Object.assign(row, { count: row.count + 1, at: r.at, detail: r.detail.slice(0, 500) });
      else rows.set(k, { device, reason: r.reason, count: 1, at: r.at, detail: r.detail.slice(0, 500) });
    }
    const sorted = [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    await this.q(
      client,
      `INSERT INTO rejections (device, reason, count, last_at, last_detail)
       SELECT device, reason, count, at, detail
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) WITH ORDINALITY AS t(device, reason, count, at, detail, n)
       ORDER BY n
       ON CONFLICT (device, reason) DO UPDATE SET count = rejections.count + excluded.count, last_at = excluded.last_at,
         last_detail = excluded.last_detail`,
      [
        sorted.map((r) => r.device),
        sorted.map((r) => r.reason),
        sorted.map((r) => r.count),
        sorted.map((r) => r.at),
        sorted.map((r) => r.detail),
      ],
    );
  }

  insertReadings(readings: readonly NewReading[]): Promise<InsertResult[]> {
    return this.transaction((tx) => tx.insertReadings(readings));
  }

  recordRejections(rejections: readonly RejectionRecord[]): Promise<void> {
    return this.transaction((tx) => tx.recordRejections(rejections));
  }

  lastSeq(device: string): Promise<bigint | undefined> {
    return this.lastSeqOn(this.pool, getAddress(device));
  }

  async readings(q: ReadingQuery): Promise<StoredReading[]> {
    const rows = await this.q<ReadingRow>(
      this.pool,
      `SELECT * FROM readings WHERE device = $1 AND timestamp >= $2 AND timestamp <= $3 AND seq > $4 ORDER BY seq LIMIT $5`,
      [getAddress(q.device), (q.from ?? 0n).toString(), (q.to ?? BigInt(U64_MAX)).toString(), (q.afterSeq ?? -1n).toString(), q.limit],
    );
    return rows.map(toStored);
  }

  async deviceSummary(device: string): Promise<DeviceSummary | undefined> {
    const d = getAddress(device);
    const row = (
      await this.q<{
        last_seq: string;
        readings: string;
        first_at: string;
        last_at: string;
        last_ts: string;
        equivocations: string;
      }>(
        this.pool,
        "SELECT *, (SELECT count(*) FROM equivocations e WHERE e.device = d.device) AS equivocations FROM devices d WHERE d.device = $1",
        [d],
      )
    )[0];
    if (!row) return undefined;
    return {
      device: d,
      lastSeq: BigInt(row.last_seq),
      readings: Number(row.readings),
      firstReceivedAt: Number(row.first_at),
      lastReceivedAt: Number(row.last_at),
      lastTimestamp: BigInt(row.last_ts),
      equivocations: Number(row.equivocations),
      rejections: await this.rejectionCounts(d),
    };
  }

  async equivocations(device: string): Promise<Equivocation[]> {
    const rows = await this.q<ReadingRow & { stored_digest: string }>(
      this.pool,
      "SELECT * FROM equivocations WHERE device = $1 ORDER BY id",
      [getAddress(device)],
    );
    return rows.map((row) => ({
      device: row.device,
      seq: BigInt(row.seq),
      storedDigest: row.stored_digest,
      conflicting: {
        device: row.device,
        seq: BigInt(row.seq),
        timestamp: BigInt(row.timestamp),
        values: (JSON.parse(row.vals) as string[]).map(BigInt),
        signature: row.signature,
        digest: row.digest,
        receivedAt: Number(row.received_at),
      },
    }));
  }

  async rejectionCounts(device?: string): Promise<Partial<Record<RejectionReason, number>>> {
    const rows =
      device === undefined
        ? await this.q<{ reason: string; n: string }>(this.pool, "SELECT reason, sum(count) AS n FROM rejections GROUP BY reason")
        : await this.q<{ reason: string; n: string }>(this.pool, "SELECT reason, count AS n FROM rejections WHERE device = $1", [
            getAddress(device),
          ]);
    const out: Partial<Record<RejectionReason, number>> = {};
    for (const row of rows)
      if ((REJECTION_REASONS as readonly string[]).includes(row.reason)) out[row.reason as RejectionReason] = Number(row.n);
    return out;
  }

  async unanchored(limit: number): Promise<StoredReading[]> {
    return (await this.q<ReadingRow>(this.pool, "SELECT * FROM readings WHERE anchor_root IS NULL ORDER BY id LIMIT $1", [limit])).map(
      toStored,
    );
  }

  async recordAnchor(anchor: NewAnchor): Promise<AnchorRecord> {
    const { root, gateway, firstId, lastId } = checkNewAnchor(anchor);
    const ids = anchor.proofs.map((p) => p.id);
    const proofs = anchor.proofs.map((p) => packProof(p.proof));
    return this.onClient(async (client, broken) => {
      await client.query("BEGIN");
      try {
        const inserted = await this.q<AnchorRow>(
          client,
          `INSERT INTO anchors (root, gateway, count, first_id, last_id, uri, status, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (root) DO NOTHING RETURNING *`,
          [root, gateway, ids.length, firstId, lastId, anchor.uri, anchor.createdAt],
        );
        if (inserted.length === 0) throw new TriadError(`anchor ${root} is already recorded`, "ANCHOR_CONFLICT", { root });
        // Row locks on the assigned readings: a concurrent recordAnchor over the same readings waits, then finds them taken.
        const assigned = await this.q<{ id: string }>(
          client,
          `UPDATE readings r SET anchor_root = $1, proof = k.proof
           FROM unnest($2::bigint[], $3::bytea[]) AS k(id, proof)
           WHERE r.id = k.id AND r.anchor_root IS NULL RETURNING r.id`,
          [root, ids, proofs],
        );
        if (assigned.length !== ids.length || new Set(ids).size !== ids.length) {
          const done = new Set(assigned.map((a) => Number(a.id)));
          const id = ids.find((i) => !done.has(i)) ?? ids.find((i, n) => ids.indexOf(i) !== n);
          throw new TriadError(`reading ${id} is already anchored or not stored: anchor ${root} not recorded`, "ANCHOR_CONFLICT", {
            root,
            id,
          });
        }
        await client.query("COMMIT");
        return toAnchor(inserted[0]);
      } catch (error) {
        await client.query("ROLLBACK").catch(broken);
        throw error;
      }
    });
  }

  /**
   * Runs `fn` on a client checked out of the pool. A checked-out client has no listener of the pool's: when the server
   * ends its connection (a restart, a killed session) it would emit an unhandled 'error'. Here that marks the client
   * broken (so does `fn` through `broken`), its next query fails, and it is destroyed on release, not reused.
   */
  private async onClient<T>(fn: (client: pg.PoolClient, broken: (error: Error) => void) => Promise<T>): Promise<T> {
    if (this.closed) throw new TriadError("the reading store is closed", "STORE_CLOSED");
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(this.url, error);
    }
    let failure: Error | undefined;
    const broken = (error: Error) => void (failure ??= error);
    client.on("error", broken);
    try {
      return await fn(client, broken);
    } finally {
      client.off("error", broken);
      client.release(failure ?? false);
    }
  }

  private async knownAnchor(root: string): Promise<string> {
    const r = word(root, "anchor root");
    if ((await this.q(this.pool, "SELECT 1 FROM anchors WHERE root = $1", [r])).length === 0)
      throw new TriadError(`no anchor ${r} in the store`, "ANCHOR_UNKNOWN", { root: r });
    return r;
  }

  async anchorSent(root: string, txHash: string): Promise<void> {
    const hash = word(txHash, "transaction hash");
    await this.q(this.pool, "UPDATE anchors SET tx_hash = $1 WHERE root = $2 AND status = 'pending'", [hash, await this.knownAnchor(root)]);
  }

  async confirmAnchor(root: string, mined: { txHash: string; blockNumber: number; anchoredAt: number }): Promise<void> {
    const hash = word(mined.txHash, "transaction hash");
    await this.q(this.pool, "UPDATE anchors SET status = 'confirmed', tx_hash = $1, block_number = $2, anchored_at = $3 WHERE root = $4", [
      hash,
      mined.blockNumber,
      mined.anchoredAt,
      await this.knownAnchor(root),
    ]);
  }

  async anchor(root: string): Promise<AnchorRecord | undefined> {
    if (!isWord(root)) return undefined;
    const row = (await this.q<AnchorRow>(this.pool, "SELECT * FROM anchors WHERE root = $1", [root.toLowerCase()]))[0];
    return row && toAnchor(row);
  }

  async pendingAnchors(): Promise<AnchorRecord[]> {
    return (await this.q<AnchorRow>(this.pool, "SELECT * FROM anchors WHERE status = 'pending' ORDER BY created_at, id")).map(toAnchor);
  }

  async anchors(query: { limit: number; status?: AnchorRecord["status"] }): Promise<AnchorRecord[]> {
    const rows = query.status
      ? await this.q<AnchorRow>(this.pool, "SELECT * FROM anchors WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2", [
          query.status,
          query.limit,
        ])
      : await this.q<AnchorRow>(this.pool, "SELECT * FROM anchors ORDER BY created_at DESC, id DESC LIMIT $1", [query.limit]);
    return rows.map(toAnchor);
  }

  async withAnchorLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.closed) throw new TriadError("the reading store is closed", "STORE_CLOSED");
    const session = new pg.Client(this.config);
    session.on("error", () => undefined); // the session died: the server released the lock; fn's own writes still check
    try {
      await session.connect();
    } catch (error) {
      throw unavailable(this.url, error);
    }
    this.lockSessions.add(session);
    try {
      const { rows } = await session.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS locked", [LOCK_CLASS, ANCHOR_LOCK]);
      if (!rows[0].locked) return { ran: false };
      try {
        return { ran: true, value: await fn() };
      } finally {
        await session.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_CLASS, ANCHOR_LOCK]).catch(() => undefined);
      }
    } finally {
      this.lockSessions.delete(session);
      await session.end().catch(() => undefined);
    }
  }

  async counts(): Promise<{ readings: number; devices: number }> {
    const row = (
      await this.q<{ readings: string; devices: string }>(
        this.pool,
        "SELECT (SELECT count(*) FROM readings) AS readings, (SELECT count(*) FROM devices) AS devices",
      )
    )[0];
    return { readings: Number(row.readings), devices: Number(row.devices) };
  }

  async probeWritable(): Promise<void> {
    try {
      await this.q(this.pool, "INSERT INTO health (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at", [Date.now()]);
    } catch (error) {
      if (error instanceof TriadError) throw error;
      throw unavailable(this.url, error ?? this.lastPoolError);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const session of this.lockSessions) await session.end().catch(() => undefined);
    await this.pool.end();
  }
}
