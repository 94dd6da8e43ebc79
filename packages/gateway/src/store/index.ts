import type { DatabaseConfig } from "../config.ts";
import { PostgresReadingStore } from "./postgres.ts";
import { SqliteReadingStore } from "./sqlite.ts";
import type { ReadingStore } from "./types.ts";

export * from "./types.ts";
export { SqliteReadingStore, SCHEMA_VERSION } from "./sqlite.ts";
export { PostgresReadingStore, PG_SCHEMA_VERSION } from "./postgres.ts";

/**
 * Opens (creating and migrating) the store the configuration names: a SQLite file, or a PostgreSQL database
 * (postgres:// URL; several gateways may share one). Throws a one-line TriadError when the database cannot be opened.
 */
export async function openStore(config: DatabaseConfig): Promise<ReadingStore> {
  if (config.kind === "sqlite") return SqliteReadingStore.open(config.file);
  return PostgresReadingStore.open(config.url);
}
