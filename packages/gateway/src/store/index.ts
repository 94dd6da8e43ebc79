import type { DatabaseConfig } from "../config.ts";
import { TriadError } from "@triad/sdk";
import { SqliteReadingStore } from "./sqlite.ts";
import type { ReadingStore } from "./types.ts";

export * from "./types.ts";
export { SqliteReadingStore, SCHEMA_VERSION } from "./sqlite.ts";

/** Opens (creating and migrating) the store the configuration names. */
export async function openStore(config: DatabaseConfig): Promise<ReadingStore> {
  if (config.kind === "sqlite") return SqliteReadingStore.open(config.file);
  // The seam: a PostgreSQL implementation of ReadingStore (pg, one pool, the same schema and migrations) plugs in here.
  throw new TriadError(
    `PostgreSQL (${new URL(config.url).host}) is not supported by this build of the gateway yet: use sqlite:<file>`,
    "UNSUPPORTED_DATABASE",
  );
}
