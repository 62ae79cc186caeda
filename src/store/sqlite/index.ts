import BetterSqlite3 from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { sql, SqliteDialect, type Kysely } from "kysely";
import { chunks } from "../../util/chunks.ts";
import { VenvflowError, type ErrorCode } from "../../util/errors.ts";
import type { InstanceKey, StoreAdapter, TableRows } from "../adapter.ts";
import type { Database } from "../schema.ts";

/**
 * WAL lets readers (the CLI, other workers) proceed while one writer commits. synchronous=NORMAL in WAL mode
 * survives a killed process (what the sweeper handles) but may lose the last commits on power loss; FULL cost
 * an fsync per transition. busy_timeout makes a second process wait for the write lock instead of failing.
 * better-sqlite3 waits synchronously, so two writers must be two processes, not two connections in one.
 */
export function createSqliteDialect(file: string, busyTimeoutMs: number): SqliteDialect {
  let database: BetterSqlite3.Database;
  try {
    if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
    database = new BetterSqlite3(file, { timeout: busyTimeoutMs });
    // The first statements read the file: a foreign, corrupt or unwritable one fails here.
    enterWal(database, busyTimeoutMs);
    database.pragma("synchronous = NORMAL");
    database.pragma("foreign_keys = ON");
  } catch (error) {
    throw storeError(file, error);
  }
  const guard = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      throw storeError(file, error);
    }
  };
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
          statements.set(text, (statement = guard(() => database.prepare(text))));
        }
        const prepared = statement;
        return {
          reader: prepared.reader,
          all: (parameters: readonly unknown[]) => guard(() => prepared.all(parameters)),
          run: (parameters: readonly unknown[]) => guard(() => prepared.run(parameters)),
          iterate: (parameters: readonly unknown[]) => guard(() => prepared.iterate(parameters)),
        };
      },
    },
  });
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Converting a file to WAL needs it exclusively, and SQLite does not call the busy handler for that conversion:
 * processes opening a new store at the same moment (a run and its workers) failed with "database is locked" in
 * CI, and once in 48 opens of eight processes writing a new file here, with a 5 s busy_timeout. WAL is a property of
 * the file, so a store already converted takes no lock here; otherwise the conversion is retried, with backoff,
 * within the store's busy timeout.
 */
function enterWal(database: BetterSqlite3.Database, budgetMs: number): void {
  const deadline = Date.now() + budgetMs;
  for (let pauseMs = 2; ; pauseMs = Math.min(pauseMs * 2, 50)) {
    try {
      if (database.pragma("journal_mode", { simple: true }) !== "wal") database.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if (!(error instanceof BetterSqlite3.SqliteError && error.code.startsWith("SQLITE_BUSY")) || Date.now() + pauseMs > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
    }
  }
}

/**
 * SQLite's failures as errors that name the file and what to do (a raw SqliteError named neither). A failed
 * transaction is rolled back whole: what was committed before stays, and a new worker resumes the run.
 */
export function storeError(file: string, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  // Its folder could not be made: a file stands where a folder of the path should be, or no permission.
  if (code === "EEXIST" || code === "ENOTDIR" || code === "EACCES" || code === "EROFS") {
    return new VenvflowError("store_cannot_open", `cannot create the folder of the store ${file} (${(error as Error).message})`, {
      fix: "point VENVFLOW_HOME (or VENVFLOW_DATABASE_URL) at a folder this user can write",
      cause: error,
    });
  }
  if (typeof code !== "string" || !code.startsWith("SQLITE_") || code === "SQLITE_CONSTRAINT" || code.startsWith("SQLITE_CONSTRAINT_")) return error;
  const detail = (error as Error).message;
  const where = file === ":memory:" ? "the in-memory store" : `the store ${file}`;
  const known: Record<string, [ErrorCode, string, string]> = {
    SQLITE_FULL: ["store_disk_full", `${where} cannot grow: the disk is full (${detail})`, "free space on that disk, then start the worker again: what was committed is kept and the run resumes"],
    SQLITE_READONLY: ["store_read_only", `${where} is read-only (${detail})`, "make the file and its folder writable by this user, or set VENVFLOW_DATABASE_URL to a writable location"],
    SQLITE_NOTADB: ["store_not_a_database", `${where} is not a SQLite database (${detail})`, "point VENVFLOW_DATABASE_URL (or VENVFLOW_HOME) at a venvflow store, or move this file away to start a new one"],
    SQLITE_CORRUPT: ["store_corrupt", `${where} is corrupt or truncated (${detail})`, "restore it from a backup, or move it away to start a new store (its run history is then gone)"],
    SQLITE_CANTOPEN: ["store_cannot_open", `cannot open ${where} (${detail})`, "check that the path is a file in a folder this user can write"],
    SQLITE_IOERR: ["store_io_error", `reading or writing ${where} failed (${detail})`, "check the disk and the file system holding it"],
  };
  const base = Object.keys(known).find((k) => code === k || code.startsWith(`${k}_`));
  if (!base) return error;
  const [ours, message, fix] = known[base]!;
  return new VenvflowError(ours, message, { fix, cause: error });
}

/** Across processes SQLite has no notifications: `PRAGMA data_version` changes when another connection commits. */
const WATCH_MIN_MS = 5;
const WATCH_MAX_MS = 100;

/** `Date#toISOString()`'s form, so database times and JavaScript times compare as text. */
const NOW = sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

export const sqliteAdapter: StoreAdapter = {
  // Kysely has no migration lock for SQLite, and runs its migrations outside transactions: a run and two workers
  // starting on a new store raced (measured: "table dag_run already exists"). One IMMEDIATE transaction serialises
  // them, and a failed migration leaves nothing behind.
  migrating: (db, fn) => sqliteAdapter.writeTransaction(db, fn),
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
  lockDag: () => Promise.resolve(new Date().toISOString()),
  skipLocked: (query) => query,
  lockInOrder: (query) => query,
  async updatePicked(db, pick, update, records = []) {
    const ids = (await pick.execute()).map((row) => row.id);
    const out = [];
    // One id is `id = ?` to SQLite (no ephemeral table at all): a chained task's usual case.
    for (const part of chunks(ids, 500)) out.push(...(await update(db, part).execute()));
    if (records.length > 0) {
      const keyOf = (row: InstanceKey): string => `${row.dag_id}\u0000${row.run_id}\u0000${row.task_id}\u0000${row.map_index}`;
      const updated = new Set((out as unknown as InstanceKey[]).map(keyOf));
      const filtered = records.map(({ table, rows }) => ({ table, rows: rows.filter((row) => updated.has(keyOf(row as InstanceKey))) }) as TableRows);
      await sqliteAdapter.insertAll(db, filtered);
    }
    return out;
  },
  async insertAll(db, inserts) {
    for (const { table, rows } of inserts) if (rows.length > 0) await db.insertInto(table).values(rows as never).execute();
  },
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
