import path from "node:path";
import { Kysely, sql } from "kysely";
import { Migrator } from "kysely/migration";
import { VenvflowError } from "../util/errors.ts";
import { venvflowHome } from "../util/home.ts";
import { redactUrl } from "../util/secrets.ts";
import { migrationProvider } from "./migrations/index.ts";
import { createPostgresDialect } from "./postgres/index.ts";
import type { Database } from "./schema.ts";
import { createSqliteDialect } from "./sqlite/index.ts";

export type * from "./schema.ts";
export { FINISHED_TASK_STATES, TASK_STATES, RUN_STATES } from "./schema.ts";

export type Backend = "sqlite" | "postgres";

export interface Store {
  readonly db: Kysely<Database>;
  readonly backend: Backend;
  /** The database URL with any password masked. */
  readonly url: string;
  /**
   * Runs `fn` in a transaction that holds the write lock from its first statement: `BEGIN IMMEDIATE` on
   * SQLite (a deferred transaction that reads first can fail with SQLITE_BUSY when it later writes), a plain
   * transaction on PostgreSQL, where row locks and `SKIP LOCKED` do the serializing. Never nest these.
   */
  writeTransaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** VENVFLOW_HOME, for the default SQLite file. */
  home?: string;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** How long SQLite waits for another process's write lock (default 10 s). */
  busyTimeoutMs?: number;
}

/**
 * Opens the store: `url`, else `VENVFLOW_DATABASE_URL`, else `VENVFLOW_HOME/venvflow.db`.
 * `postgres://…` / `postgresql://…` select PostgreSQL; `sqlite:PATH`, `sqlite::memory:` or a plain path select SQLite.
 */
export async function openStore(url?: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const home = opts.home ?? venvflowHome();
  const target = url ?? process.env.VENVFLOW_DATABASE_URL ?? path.join(home, "venvflow.db");
  let backend: Backend;
  let db: Kysely<Database>;
  if (/^postgres(ql)?:\/\//i.test(target)) {
    backend = "postgres";
    db = new Kysely<Database>({ dialect: createPostgresDialect(target, opts.poolSize ?? 10) });
  } else if (/^[a-z][a-z0-9+.-]+:\/\//i.test(target)) {
    throw new VenvflowError("invalid_database_url", `unsupported database URL "${redactUrl(target)}"`, {
      fix: "use postgres://user:password@host:port/db, sqlite:/path/to/file.db, or a file path",
    });
  } else {
    backend = "sqlite";
    const file = target.startsWith("sqlite:") ? target.slice("sqlite:".length) : target;
    db = new Kysely<Database>({ dialect: createSqliteDialect(file === ":memory:" ? file : path.resolve(file), opts.busyTimeoutMs ?? 10_000) });
  }
  const store = makeStore(db, backend, redactUrl(target));
  if (opts.migrate ?? true) {
    try {
      await migrate(store);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}

function makeStore(db: Kysely<Database>, backend: Backend, url: string): Store {
  const writeTransaction = backend === "postgres"
    ? <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> => db.transaction().execute(fn)
    : <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
        db.connection().execute(async (conn) => {
          await sql`begin immediate`.execute(conn);
          try {
            const result = await fn(conn);
            await sql`commit`.execute(conn);
            return result;
          } catch (error) {
            await sql`rollback`.execute(conn);
            throw error;
          }
        });
  return { db, backend, url, writeTransaction, close: () => db.destroy() };
}

/** Applies pending migrations; concurrent migrators (two workers starting at once) are serialized by Kysely's lock. */
export async function migrate(store: Store): Promise<void> {
  const { error, results } = await new Migrator({ db: store.db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new VenvflowError("store_migration_failed", `migrating the store at ${store.url} failed at ${failed}: ${String(error)}`, {
      fix: "check that the database is reachable and writable, and that no newer venvflow has migrated it",
      cause: error,
    });
  }
}
