import { InvalidInputError } from "./errors.ts";
import type { SignedReading } from "./eip712.ts";
import type { AnchoredReading } from "./market.ts";

/**
 * `triad.dataset/v1`: how a seller ships device-signed readings to a buyer (the plaintext of a Dataset listing), so
 * the buyer can check every reading against its anchored Merkle root (`verifyAnchoredReadings`).
 * Integers are decimal strings, as in evidence bundles.
 */
export interface ReadingDatasetFile {
  schema: "triad.dataset/v1";
  chainId: number;
  registry: string;
  sensorSchema: string;
  batches: {
    root: string;
    readings: { device: string; seq: string; timestamp: string; values: string[]; signature: string; proof: string[] }[];
  }[];
}

export function buildReadingDataset(args: {
  chainId: number;
  registry: string;
  sensorSchema: string;
  batches: { root: string; entries: readonly AnchoredReading[] }[];
}): ReadingDatasetFile {
  return {
    schema: "triad.dataset/v1",
    chainId: args.chainId,
    registry: args.registry,
    sensorSchema: args.sensorSchema,
    batches: args.batches.map((b) => ({
      root: b.root,
      readings: b.entries.map(({ reading, proof }) => ({
        device: reading.device,
        seq: reading.seq.toString(),
        timestamp: reading.timestamp.toString(),
        values: reading.values.map(String),
        signature: reading.signature,
        proof,
      })),
    })),
  };
}

/** Parses a `triad.dataset/v1` file back into batches of anchored readings; a malformed file gets a clear error. */
export function parseReadingDataset(bytes: Uint8Array): {
  file: ReadingDatasetFile;
  batches: { root: string; readings: AnchoredReading[] }[];
} {
  let file: ReadingDatasetFile;
  try {
    file = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new InvalidInputError("the dataset is not valid JSON", {}, { cause });
  }
  if (file?.schema !== "triad.dataset/v1" || !Array.isArray(file.batches)) {
    throw new InvalidInputError(`not a triad.dataset/v1 file (schema "${String(file?.schema)}")`);
  }
  const batches = file.batches.map((b, bi) => ({
    root: b.root,
    readings: b.readings.map((r, ri): AnchoredReading => {
      try {
        const reading: SignedReading = {
          device: r.device,
          seq: BigInt(r.seq),
          timestamp: BigInt(r.timestamp),
          values: r.values.map((v) => BigInt(v)),
          signature: r.signature,
        };
        return { reading, proof: r.proof };
      } catch (cause) {
        throw new InvalidInputError(`dataset batch ${bi} reading ${ri} is malformed`, { batch: bi, reading: ri }, { cause });
      }
    }),
  }));
  return { file, batches };
}
