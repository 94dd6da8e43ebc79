/**
 * The device agent's state on disk: one SQLite file (WAL, `synchronous=FULL`, so every commit is fsync'd) holding
 * each device's next seq and the outbox of signed readings not yet acknowledged by the broker.
 *
 * The seq is reserved by its own committed transaction BEFORE the reading is signed, and the signed reading is
 * appended by a second one: a crash between the two leaves a gap in the seqs, never a re-used seq. A reading leaves
 * the outbox only when the broker's PUBACK for it arrived.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { TriadError } from "@triad/sdk";

/** The outbox is full: the reading was refused before a seq was reserved (nothing signed, nothing lost). */
export class OutboxFullError extends TriadError {
  override readonly name = "OutboxFullError";
  constructor(readonly size: number) {
    super(`the outbox is full (${size} readings waiting for the broker): reading refused`, "OUTBOX_FULL", { size });
  }
}

/** The state file belongs to another chain or registry than the agent's configuration. */
export class StateMismatchError extends TriadError {
  override readonly name = "StateMismatchError";
}

export interface OutboxRow {
  id: number;
  device: string;
  seq: bigint;
  payload: string;
}

export const DEFAULT_MAX_OUTBOX = 100_000;

export class DeviceStore {
  readonly file: string;
  readonly maxOutbox: number;
  private readonly db: Database.Database;
  private size: number;
  private readonly stmts;

  constructor(file: string, options: { maxOutbox?: number } = {}) {
    this.maxOutbox = options.maxOutbox ?? DEFAULT_MAX_OUTBOX;
    if (!Number.isInteger(this.maxOutbox) || this.maxOutbox < 1)
      throw new RangeError(`maxOutbox must be a positive integer, got ${this.maxOutbox}`);
    mkdirSync(path.dirname(file), { recursive: true });
    this.file = file;
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS devices (
        device   TEXT PRIMARY KEY,   -- checksummed address
        chain_id TEXT NOT NULL,
        registry TEXT NOT NULL,
        next_seq INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE IF NOT EXISTS outbox (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- append order = seq order per device
        device  TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        payload TEXT NOT NULL,                      -- the wire JSON (encodeWireReading)
        UNIQUE (device, seq)
      ) STRICT;
    `);
    this.stmts = {
      device: this.db.prepare("SELECT chain_id AS chainId, registry, next_seq AS nextSeq FROM devices WHERE device = ?").safeIntegers(true),
      insertDevice: this.db.prepare("INSERT INTO devices (device, chain_id, registry, next_seq) VALUES (?, ?, ?, ?)"),
      reserve: this.db
        .prepare("UPDATE devices SET next_seq = next_seq + 1 WHERE device = ? RETURNING next_seq - 1 AS seq")
        .safeIntegers(true),
      append: this.db.prepare("INSERT INTO outbox (device, seq, payload) VALUES (?, ?, ?)"),
      pending: this.db.prepare("SELECT id, device, seq, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?"),
      remove: this.db.prepare("DELETE FROM outbox WHERE id = ?"),
      count: this.db.prepare("SELECT count(*) AS n FROM outbox"),
    };
    this.stmts.pending.safeIntegers(true);
    this.size = (this.stmts.count.get() as { n: number }).n;
  }

  /**
   * Registers `device` (first seq `firstSeq`, default 1) or checks that the stored state belongs to the same chain
   * and registry (a state file is never shared between EIP-712 domains).
   */
  ensureDevice(device: string, chainId: bigint, registry: string, firstSeq = 1n): bigint {
    const row = this.stmts.device.get(device) as { chainId: string; registry: string; nextSeq: bigint } | undefined;
    if (!row) {
      this.stmts.insertDevice.run(device, chainId.toString(), registry.toLowerCase(), firstSeq);
      return firstSeq;
    }
    if (row.chainId !== chainId.toString() || row.registry !== registry.toLowerCase()) {
      throw new StateMismatchError(
        `the state in ${this.file} for device ${device} belongs to chain ${row.chainId} registry ${row.registry}, not chain ${chainId} registry ${registry.toLowerCase()}: use another state directory`,
        "STATE_MISMATCH",
      );
    }
    return row.nextSeq;
  }

  /** The next seq `device` would use (for reports). */
  nextSeq(device: string): bigint {
    const row = this.stmts.device.get(device) as { nextSeq: bigint } | undefined;
    return row?.nextSeq ?? 1n;
  }

  /**
   * Durably reserves one seq for each device of `devices` (one committed, fsync'd transaction), refusing the whole
   * batch with {@link OutboxFullError} when the outbox cannot take it.
   */
  reserve(devices: readonly string[]): bigint[] {
    if (this.size + devices.length > this.maxOutbox) throw new OutboxFullError(this.size);
    return this.db.transaction(() =>
      devices.map((d) => {
        const row = this.stmts.reserve.get(d) as { seq: bigint } | undefined;
        if (!row) throw new TriadError(`device ${d} is not registered in ${this.file}`, "UNKNOWN_DEVICE");
        return row.seq;
      }),
    )();
  }

  /** Appends signed readings to the outbox (one committed transaction). */
  append(entries: readonly { device: string; seq: bigint; payload: string }[]): void {
    this.db.transaction(() => {
      for (const e of entries) this.stmts.append.run(e.device, e.seq, e.payload);
    })();
    this.size += entries.length;
  }

  /** Up to `limit` outbox rows after row `afterId`, in append order. */
  pending(afterId: number, limit: number): OutboxRow[] {
    return (this.stmts.pending.all(afterId, limit) as { id: bigint; device: string; seq: bigint; payload: string }[]).map((r) => ({
      ...r,
      id: Number(r.id),
    }));
  }

  /** Removes acknowledged rows. */
  remove(ids: readonly number[]): void {
    if (ids.length === 0) return;
    let removed = 0;
    this.db.transaction(() => {
      for (const id of ids) removed += this.stmts.remove.run(id).changes;
    })();
    this.size -= removed;
  }

  /** Readings waiting in the outbox. */
  get outboxSize(): number {
    return this.size;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
