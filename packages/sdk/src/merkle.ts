import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { InvalidInputError } from "./errors.ts";

/**
 * Merkle trees of reading digests (docs/protocol.md §6): OpenZeppelin StandardMerkleTree with the leaf
 * encoding `["bytes32"]`, leaf value = the reading's EIP-712 digest. `DeviceRegistry.verifyReading` checks proofs
 * of exactly this tree.
 */
export type ReadingTree = StandardMerkleTree<[string]>;

export function buildReadingTree(digests: readonly string[]): ReadingTree {
  if (digests.length === 0) throw new InvalidInputError("a reading batch needs at least one reading");
  return StandardMerkleTree.of(
    digests.map((d) => [d] as [string]),
    ["bytes32"],
  );
}

/** The proof of `digest` in `tree`; throws when the digest is not a leaf. */
export function readingProof(tree: ReadingTree, digest: string): string[] {
  for (const [i, [value]] of tree.entries()) {
    if (value.toLowerCase() === digest.toLowerCase()) return tree.getProof(i);
  }
  throw new InvalidInputError(`reading digest ${digest} is not in this batch`, { digest, root: tree.root });
}

/** Verifies a proof off-chain against a root, the same way the registry does on-chain. */
export function verifyReadingProof(root: string, digest: string, proof: readonly string[]): boolean {
  return StandardMerkleTree.verify(root, ["bytes32"], [digest], [...proof]);
}
