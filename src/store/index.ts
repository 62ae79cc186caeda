import { EventEmitter } from "node:events";
import path from "node:path";
import { Kysely, type LogEvent } from "kysely";
import { VenvflowError } from "../util/errors.ts";
import { venvflowHome } from "../util/home.ts";
import { redactUrl } from "../util/secrets.ts";
import type { Backend, StoreAdapter } from "./adapter.ts";
import type { Database } from "./schema.ts";

export type * from "./schema.ts";
export type { Backend, StoreAdapter, TableRows } from "./adapter.ts";
export { FINISHED_TASK_STATES, TASK_STATES, RUN_STATES, UNFINISHED_TASK_STATES } from "./schema.ts";

/** Inside a write transaction: wake the workers watching `topic` once the transaction commits. */
export type Notify = (topic: string) => Promise<void>;

export interface Store {
  readonly db: Kysely<Database>;
  /** For display (`worker … store sqlite:…`); what differs per backend is in `adapter`. */
  readonly backend: Backend;
  readonly adapter: StoreAdapter;
  /** The database URL with any password masked. */
  readonly url: string;
  /** What it was opened with, password included: to open it again (another thread); never to display. */
  readonly target: string;
  /**
   * Runs `fn` in a transaction that holds the write lock from its first statement: `BEGIN IMMEDIATE` on
   * SQLite, a plain transaction on PostgreSQL, where row locks and `SKIP LOCKED` do the serializing. Never nest
   * these. Topics passed to `notify` reach this process's watchers and (PostgreSQL) every other's after commit.
   */
  writeTransaction<T>(fn: (trx: Kysely<Database>, notify: Notify) => Promise<T>): Promise<T>;
  /** The database's clock (ISO-8601 UTC): lock, heartbeat, sweep and retry times all come from it. */
  now(): Promise<string>;
  /** Calls `onTopic` for every topic notified by a commit, in this process or (as the backend allows) another. */
  watch(onTopic: (topic: string) => void): Promise<() => Promise<void>>;
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
  /** Called with every statement run (its SQL, parameters and duration): for tracing, and the query-plan tests. */
  onQuery?: (sql: string, parameters: readonly unknown[], durationMs: number) => void;
}

/**
 * Opens the store: `url`, else `VENVFLOW_DATABASE_URL`, else `VENVFLOW_HOME/venvflow.db`.
 * `postgres://…` / `postgresql://…` select PostgreSQL; `sqlite:PATH`, `sqlite::memory:` or a plain path select SQLite.
 */
export async function openStore(url?: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const home = opts.home ?? venvflowHome();
  const target = url ?? process.env.VENVFLOW_DATABASE_URL ?? path.join(home, "venvflow.db");
  let adapter: StoreAdapter;
  let db: Kysely<Database>;
  // Each backend (and the migrations) loaded only when used: the heartbeat thread starts with a fresh isolate, and
  // pg and the migration files were 60 ms of its ~200 ms start (measured).
  if (/^postgres(ql)?:\/\//i.test(target)) {
    const { createPostgresDialect, postgresAdapter } = await import("./postgres/index.ts");
    adapter = postgresAdapter(target);
    db = new Kysely<Database>({ dialect: createPostgresDialect(target, opts.poolSize ?? 10), ...logOption(opts) });
  } else if (/^[a-z][a-z0-9+.-]+:\/\//i.test(target)) {
    throw new VenvflowError("invalid_database_url", `unsupported database URL "${redactUrl(target)}"`, {
      fix: "use postgres://user:password@host:port/db, sqlite:/path/to/file.db, or a file path",
    });
  } else {
    const { createSqliteDialect, sqliteAdapter } = await import("./sqlite/index.ts");
    adapter = sqliteAdapter;
    const file = target.startsWith("sqlite:") ? target.slice("sqlite:".length) : target;
    db = new Kysely<Database>({ dialect: createSqliteDialect(file === ":memory:" ? file : path.resolve(file), opts.busyTimeoutMs ?? 10_000), ...logOption(opts) });
  }
  const store = makeStore(db, adapter, redactUrl(target), target);
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

function logOption(opts: OpenStoreOptions): { log?: (event: LogEvent) => void } {
  const onQuery = opts.onQuery;
  return onQuery ? { log: (event) => onQuery(event.query.sql, event.query.parameters, event.queryDurationMillis) } : {};
}

function makeStore(db: Kysely<Database>, adapter: StoreAdapter, url: string, target: string): Store {
  // In-process wake-ups: a commit here reaches this process's watchers at once, whatever the backend.
  const local = new EventEmitter().setMaxListeners(0);
  const stops = new Set<() => Promise<void>>();
  return {
    db,
    backend: adapter.backend,
    adapter,
    url,
    target,
    async writeTransaction(fn) {
      const topics = new Set<string>();
      const result = await adapter.writeTransaction(db, (trx) =>
        fn(trx, async (topic) => {
          if (!topics.has(topic)) await adapter.notify(trx, topic);
          topics.add(topic);
        }),
      );
      for (const topic of topics) local.emit("topic", topic);
      return result;
    },
    now: () => adapter.now(db),
    async watch(onTopic) {
      local.on("topic", onTopic);
      const stopRemote = await adapter.watch(db, onTopic);
      const stop = async (): Promise<void> => {
        stops.delete(stop);
        local.off("topic", onTopic);
        await stopRemote();
      };
      stops.add(stop);
      return stop;
    },
    async close() {
      await Promise.all([...stops].map((stop) => stop()));
      await db.destroy();
    },
  };
}

/** Applies pending migrations; concurrent migrators (two workers starting at once) are serialized by Kysely's lock. */
export async function migrate(store: Store): Promise<void> {
  const [{ Migrator }, { migrationProvider }] = await Promise.all([import("kysely/migration"), import("./migrations/index.ts")]);
  type Outcome = Awaited<ReturnType<InstanceType<typeof Migrator>["migrateToLatest"]>>;
  // Thrown inside so that the adapter's transaction rolls back, and caught here.
  class Failed {
    readonly outcome: Outcome;
    constructor(outcome: Outcome) {
      this.outcome = outcome;
    }
  }
  const { error, results } = await store.adapter
    .migrating(store.db, async (db) => {
      const outcome = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
      if (outcome.error) throw new Failed(outcome);
      return outcome;
    })
    .catch((thrown: unknown) => {
      if (thrown instanceof Failed) return thrown.outcome;
      throw thrown;
    });
  if (error) {
    // A store that cannot be used at all (foreign, corrupt, read-only file) says so itself.
    if (error instanceof VenvflowError) throw error;
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new VenvflowError("store_migration_failed", `migrating the store at ${store.url} failed at ${failed}: ${String(error)}`, {
      fix: "check that the database is reachable and writable, and that no newer venvflow has migrated it",
      cause: error,
    });
  }
}
