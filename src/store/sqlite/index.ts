import BetterSqlite3 from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { SqliteDialect } from "kysely";

/**
 * WAL lets readers (the CLI, other workers) proceed while one writer commits. synchronous=NORMAL in WAL mode
 * survives a killed process (what the sweeper handles) but may lose the last commits on power loss; FULL cost
 * an fsync per transition. busy_timeout makes a second process wait for the write lock instead of failing.
 * better-sqlite3 waits synchronously, so two writers must be two processes, not two connections in one.
 */
export function createSqliteDialect(file: string, busyTimeoutMs: number): SqliteDialect {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const database = new BetterSqlite3(file);
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma(`busy_timeout = ${busyTimeoutMs}`);
  database.pragma("foreign_keys = ON");
  return new SqliteDialect({ database });
}
