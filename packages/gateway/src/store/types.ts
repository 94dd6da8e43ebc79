/**
 * The gateway's repository: one interface for every database. The SQLite implementation (./sqlite.ts) is the
 * embedded default; a PostgreSQL implementation is a drop-in (same methods, same tests: test/store.test.ts runs its
 * suite against whatever `openStore` returns). Every method is asynchronous for that reason, even where SQLite
 * answers synchronously.
 *
 * Durability contract: when a write method's promise resolves, the write is on disk (SQLite: WAL with
 * synchronous=FULL). The MQTT ingest acknowledges a reading only after that.
 */
import type { RejectionReason, SignedReading } from "@triad/sdk";

/** A verified reading about to be stored. */
export interface NewReading extends SignedReading {
  /** The reading's EIP-712 digest (the leaf of the fleet anchor's Merkle tree). */
  digest: string;
  /** When the gateway received it, ms since the epoch. */
  receivedAt: number;
}

/** A stored reading. `anchorRoot`/`proof` stay null until fleet anchoring lands (the next slice). */
export interface StoredReading extends NewReading {
  /** Insertion order across the whole store (what "not yet anchored" is listed by). */
  id: number;
  anchorRoot: string | null;
  proof: string[] | null;
}

/**
 * Outcome of insert-if-new for one reading:
 *  - stored: new, and its seq is above every seq stored for the device;
 *  - duplicate: the very same reading (same seq, timestamp and values) is already stored — idempotent;
 *  - equivocation: another reading is stored under the same seq (recorded as evidence);
 *  - seq_not_increasing: no reading under this seq, but a higher seq is already stored.
 */
export type InsertOutcome = "stored" | "duplicate" | "equivocation" | "seq_not_increasing";

export interface InsertResult {
  outcome: InsertOutcome;
  /** The device's last stored seq after this insert. */
  lastSeq: bigint;
  /** For duplicate / equivocation: the digest stored under that seq. */
  storedDigest?: string;
}

export interface Equivocation {
  device: string;
  seq: bigint;
  storedDigest: string;
  /** The conflicting reading as received. */
  conflicting: NewReading;
}

/** A refused reading, counted per (device, reason); `device` undefined when the topic named none. */
export interface RejectionRecord {
  device?: string;
  reason: RejectionReason;
  detail: string;
  at: number;
}

export interface DeviceSummary {
  device: string;
  lastSeq: bigint;
  readings: number;
  firstReceivedAt: number;
  lastReceivedAt: number;
  lastTimestamp: bigint;
  equivocations: number;
  rejections: Partial<Record<RejectionReason, number>>;
}

export interface ReadingQuery {
  device: string;
  /** Inclusive bounds on the reading's own timestamp, seconds. */
  from?: bigint;
  to?: bigint;
  /** At most this many, in seq order. */
  limit: number;
  /** Only readings with seq above this (paging). */
  afterSeq?: bigint;
}

/** What may run inside one transaction. */
export interface ReadingStoreTx {
  /** Insert-if-new of each reading in order (a later reading of the batch sees the earlier ones). */
  insertReadings(readings: readonly NewReading[]): Promise<InsertResult[]>;
  recordRejections(rejections: readonly RejectionRecord[]): Promise<void>;
  lastSeq(device: string): Promise<bigint | undefined>;
}

export interface ReadingStore extends ReadingStoreTx {
  readonly kind: "sqlite" | "postgres";
  /** Runs `fn` in one transaction: all of its writes are committed durably together, or none (fn threw). */
  transaction<T>(fn: (tx: ReadingStoreTx) => Promise<T>): Promise<T>;
  readings(query: ReadingQuery): Promise<StoredReading[]>;
  deviceSummary(device: string): Promise<DeviceSummary | undefined>;
  equivocations(device: string): Promise<Equivocation[]>;
  /** Counts of refused readings per reason (all devices, or one). */
  rejectionCounts(device?: string): Promise<Partial<Record<RejectionReason, number>>>;
  /** Stored readings not yet anchored, oldest first (the fleet anchoring seam). */
  unanchored(limit: number): Promise<StoredReading[]>;
  counts(): Promise<{ readings: number; devices: number }>;
  /** A write round trip (the /healthz probe): throws when the database cannot be written. */
  probeWritable(): Promise<void>;
  close(): Promise<void>;
}
