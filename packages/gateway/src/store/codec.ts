/**
 * Encodings both stores share: 32-byte words (anchor roots, transaction hashes, proof nodes) as lower-case 0x-hex,
 * proofs packed as the concatenation of their 32-byte nodes (32 bytes a node instead of ~69 characters of JSON),
 * the checks of a new anchor, and the mapping of an `anchors` row.
 */
import { getAddress } from "ethers";
import { TriadError } from "@triad/sdk";
import type { AnchorRecord, NewAnchor } from "./types.ts";

const WORD = /^0x[0-9a-fA-F]{64}$/;

export function isWord(value: string): boolean {
  return WORD.test(value);
}

/** `value` lower-cased; throws INVALID_INPUT unless it is 32 bytes of 0x-hex. */
export function word(value: string, what: string): string {
  if (!WORD.test(value)) throw new TriadError(`${what} must be 32 bytes of 0x-hex, got "${value}"`, "INVALID_INPUT", { [what]: value });
  return value.toLowerCase();
}

/** A proof as the concatenation of its 32-byte nodes. */
export function packProof(proof: readonly string[]): Buffer {
  return Buffer.concat(proof.map((node) => Buffer.from(word(node, "proof node").slice(2), "hex")));
}

export function unpackProof(packed: Uint8Array): string[] {
  const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const out: string[] = [];
  for (let at = 0; at < bytes.length; at += 32) out.push("0x" + bytes.subarray(at, at + 32).toString("hex"));
  return out;
}

/** The checks of a new anchor before it touches a database; its normalised root and gateway and its id range. */
export function checkNewAnchor(anchor: NewAnchor): { root: string; gateway: string; firstId: number; lastId: number } {
  const root = word(anchor.root, "anchor root");
  if (anchor.proofs.length === 0) throw new TriadError(`anchor ${root} has no readings`, "INVALID_INPUT", { root });
  let firstId = Infinity;
  let lastId = -Infinity;
  for (const { id } of anchor.proofs) {
    firstId = Math.min(firstId, id);
    lastId = Math.max(lastId, id);
  }
  return { root, gateway: getAddress(anchor.gateway), firstId, lastId };
}

/** A row of `anchors` (PostgreSQL's BIGINT arrives as a string). */
export interface AnchorRow {
  root: string;
  gateway: string;
  count: number | string;
  first_id: number | string;
  last_id: number | string;
  uri: string;
  status: "pending" | "confirmed";
  tx_hash: string | null;
  block_number: number | string | null;
  anchored_at: number | string | null;
  created_at: number | string;
}

export function toAnchor(row: AnchorRow): AnchorRecord {
  return {
    root: row.root,
    gateway: row.gateway,
    count: Number(row.count),
    firstId: Number(row.first_id),
    lastId: Number(row.last_id),
    uri: row.uri,
    status: row.status,
    txHash: row.tx_hash,
    blockNumber: row.block_number === null ? null : Number(row.block_number),
    anchoredAt: row.anchored_at === null ? null : Number(row.anchored_at),
    createdAt: Number(row.created_at),
  };
}
