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

/** A stored reading. `anchorRoot`/`proof` are null until the reading is assigned to a fleet anchor. */
export interface StoredReading extends NewReading {
  /** Insertion order across the whole store (what "not yet anchored" is listed by). */
  id: number;
  /** Root of the fleet anchor the reading belongs to (assigned before the anchor transaction is sent). */
  anchorRoot: string | null;
  /** Merkle proof of `digest` in that anchor's tree (StandardMerkleTree, leaf encoding ["bytes32"]). */
  proof: string[] | null;
}

/**
 * One fleet anchor: a StandardMerkleTree root over the digests of readings `firstId..lastId` (store ids, only the
 * readings assigned to it), sent on-chain by `gateway` as `DeviceRegistry.anchorFleet(root, count, uri)`.
 * Lifecycle: `pending` (readings assigned, transaction maybe sent: `txHash` set once sent) → `confirmed` (mined;
 * `blockNumber`, `anchoredAt` = the block's timestamp). A pending anchor is re-sent or confirmed after a restart;
 * its readings never move to another anchor.
 */
export interface AnchorRecord {
  root: string;
  gateway: string;
  count: number;
  firstId: number;
  lastId: number;
  uri: string;
  status: "pending" | "confirmed";
  txHash: string | null;
  blockNumber: number | null;
  /** Chain time of the anchoring block, seconds; null while pending. */
  anchoredAt: number | null;
  /** When the gateway built the anchor, ms since the epoch. */
  createdAt: number;
}

/** A new anchor about to be recorded, with the proof of each reading assigned to it. */
export interface NewAnchor {
  root: string;
  gateway: string;
  uri: string;
  createdAt: number;
  /** Every reading of the tree: its store id and its proof. All must be unanchored, else nothing is written. */
  proofs: readonly { id: number; proof: string[] }[];
}

/**
 * How far below a device's highest stored seq a reading never stored may still be stored (docs/protocol.md §5.3).
 * Readings of one device overtake each other on their way (two gateways on an MQTT 5 shared subscription, an outbox
 * replayed while new readings are published): an earlier seq that arrives after a later one is a late gap-fill, not a
 * replay, and is stored. Claims stay safe: evidence refuses readings anchored late or with implausible timestamps
 * (§7.3). A reading further below is refused as `seq_not_increasing`.
 */
export const REORDER_WINDOW = 100_000n;

/**
 * Outcome of insert-if-new for one reading, decided per device one transaction at a time:
 *  - stored: no reading under its (device, seq) yet, and its seq is above the device's highest stored seq or at most
 *    {@link REORDER_WINDOW} below it (a late gap-fill: stored in whatever order it arrives);
 *  - duplicate: the very same reading (same seq, timestamp and values) is already stored — idempotent;
 *  - equivocation: another reading is stored under the same seq (recorded as evidence);
 *  - seq_not_increasing: no reading under this seq, but it is more than {@link REORDER_WINDOW} below the device's
 *    highest stored seq.
 */
export type InsertOutcome = "stored" | "duplicate" | "equivocation" | "seq_not_increasing";

/** Whether a reading never stored under `seq` is refused, given the device's highest stored seq. */
export function belowReorderWindow(seq: bigint, lastSeq: bigint | undefined): boolean {
  return lastSeq !== undefined && seq < lastSeq - REORDER_WINDOW;
}

export interface InsertResult {
  outcome: InsertOutcome;
  /** The device's highest stored seq after this insert (a late gap-fill leaves it unchanged). */
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
  /** The highest stored seq (not the last one stored: a late gap-fill is below it). */
  lastSeq: bigint;
  readings: number;
  firstReceivedAt: number;
  /** When the latest-received stored reading arrived, ms since the epoch. */
  lastReceivedAt: number;
  /** The timestamp of the reading stored under `lastSeq`. */
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
  /** The device's highest stored seq, undefined before its first reading. */
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
  /** Stored readings not yet assigned to an anchor, oldest first (by id). */
  unanchored(limit: number): Promise<StoredReading[]>;
  /**
   * Records a pending anchor and assigns its readings (anchor root and proof) in one transaction. Throws
   * TriadError("ANCHOR_CONFLICT") and writes nothing when a reading is already assigned or the root exists.
   */
  recordAnchor(anchor: NewAnchor): Promise<AnchorRecord>;
  /** Notes the transaction that carries a pending anchor (written before waiting for it to be mined). */
  anchorSent(root: string, txHash: string): Promise<void>;
  /** Marks an anchor confirmed (idempotent). */
  confirmAnchor(root: string, mined: { txHash: string; blockNumber: number; anchoredAt: number }): Promise<void>;
  /** One anchor by root. */
  anchor(root: string): Promise<AnchorRecord | undefined>;
  /** Anchors still pending, oldest first. */
  pendingAnchors(): Promise<AnchorRecord[]>;
  /** Anchors newest first (paging: `beforeId`-style by createdAt is enough for the API). */
  anchors(query: { limit: number; status?: AnchorRecord["status"] }): Promise<AnchorRecord[]>;
  /**
   * Runs `fn` only if this instance holds the anchoring lock (one anchoring gateway per database: PostgreSQL advisory
   * lock on a dedicated session, in-process for SQLite's one writer). Resolves `{ ran: false }` at once when another
   * holder has it. The lock is released when `fn` settles or the session dies (a killed gateway frees it).
   */
  withAnchorLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  counts(): Promise<{ readings: number; devices: number }>;
  /** A write round trip (the /healthz probe): throws when the database cannot be written. */
  probeWritable(): Promise<void>;
  close(): Promise<void>;
}
