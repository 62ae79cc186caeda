import BetterSqlite3 from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { sql, SqliteDialect, type Kysely } from "kysely";
import type { StoreAdapter } from "../adapter.ts";
import type { Database } from "../schema.ts";

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
  // Kysely prepares every query anew; preparing was a third of the engine's database time per task (measured,
  // bench/engine.ts), and the engine runs a few dozen distinct statements over and over.
  const statements = new Map<string, BetterSqlite3.Statement>();
  return new SqliteDialect({
    database: {
      close: () => database.close(),
      prepare(text: string) {
        let statement = statements.get(text);
        if (!statement) {
          if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
          statements.set(text, (statement = database.prepare(text)));
        }
        return statement;
      },
    },
  });
}

const STATEMENT_CACHE_SIZE = 256;

/** Across processes SQLite has no notifications: `PRAGMA data_version` changes when another connection commits. */
const WATCH_MIN_MS = 5;
const WATCH_MAX_MS = 100;

/** `Date#toISOString()`'s form, so database times and JavaScript times compare as text. */
const NOW = sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

export const sqliteAdapter: StoreAdapter = {
  backend: "sqlite",
  // A deferred transaction that reads first can fail with SQLITE_BUSY when it later writes; IMMEDIATE takes the
  // write lock at BEGIN, which also serialises every writer (so lockDag has nothing to add).
  writeTransaction: (db, fn) =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    }),
  lockDag: () => Promise.resolve(),
  skipLocked: (query) => query,
  lockInOrder: (query) => query,
  nowSql: NOW,
  // SQLite's 'now' is this machine's clock, which every process sharing the file reads too: no query needed.
  now: () => Promise.resolve(new Date().toISOString()),
  notify: () => Promise.resolve(),
  /**
   * An adaptive poll of `data_version`: every 5 ms after a change, backing off to every 100 ms while nothing
   * changes, so another process's commit is seen within 5–100 ms (a pragma read, no disk I/O in WAL mode).
   */
  async watch(db: Kysely<Database>, onTopic) {
    const read = async (): Promise<number> => (await sql<{ data_version: number }>`pragma data_version`.execute(db)).rows[0]!.data_version;
    let last = await read();
    let delay = WATCH_MIN_MS;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async (): Promise<void> => {
      if (stopped) return;
      try {
        const version = await read();
        if (version !== last) {
          last = version;
          delay = WATCH_MIN_MS;
          onTopic("*");
        } else {
          delay = Math.min(WATCH_MAX_MS, delay * 2);
        }
      } catch {
        // A closed store ends the watch; a transient error is retried at the next tick.
      }
      if (!stopped) timer = setTimeout(() => void tick(), delay);
    };
    timer = setTimeout(() => void tick(), delay);
    return async () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};
