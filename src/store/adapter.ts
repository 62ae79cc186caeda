/**
 * What differs between the backends, behind one interface (as Kysely's `DialectAdapter`): how a write
 * transaction takes its lock, how scheduling on one DAG is serialised among workers, how claimers skip each
 * other's rows, the database's clock, and how a commit wakes workers in other processes. The engine uses only
 * this; it never asks which backend it runs on.
 */
import type { Insertable, Kysely, QueryCreator, RawBuilder, SelectQueryBuilder, UpdateQueryBuilder } from "kysely";
import type { Database } from "./schema.ts";

export type Backend = "sqlite" | "postgres";

/** Rows for one table (`insertAll`). */
export type TableRows = { [T in keyof Database]: { table: T; rows: ReadonlyArray<Insertable<Database[T]>> } }[keyof Database];

/** The key `updatePicked`'s records are matched on: one task instance. */
export interface InstanceKey {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
}

/** What `updatePicked` hands its update to restrict it with: the picked ids, or a subquery yielding them. */
export type PickedIds = readonly string[] | RawBuilder<string>;

export interface StoreAdapter {
  readonly backend: Backend;
  /** Runs `fn` in a transaction that holds the write lock from its first statement. */
  writeTransaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Runs the migrations `fn` applies so that processes starting at once on a new store apply them once, and a
   * failure leaves nothing half done where the database allows it.
   */
  migrating<T>(db: Kysely<Database>, fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Serialises scheduling decisions on one DAG until the enclosing transaction ends; returns the database's time
   * once the lock is held (what `now` returns: one round trip for both on the hot path of every batch).
   */
  lockDag(trx: Kysely<Database>, dagId: string): Promise<string>;
  /** Claim candidates: rows another claimer has locked are skipped, not waited for. */
  skipLocked<O>(query: SelectQueryBuilder<Database, "task_instance", O>): SelectQueryBuilder<Database, "task_instance", O>;
  /** Rows to update, locked in the query's order (PostgreSQL), so two updaters of the same rows cannot deadlock. */
  lockInOrder<O>(query: SelectQueryBuilder<Database, "task_instance", O>): SelectQueryBuilder<Database, "task_instance", O>;
  /**
   * Runs `update` on exactly the task instances `pick` selects (passed through skipLocked or lockInOrder where rows
   * need locks); `update` restricts its statement with `.where("id", "in", picked)`. One statement on PostgreSQL,
   * the pick a MATERIALIZED CTE: an IN subquery may be re-run per outer row, and a re-run skips the rows the
   * statement already updated and locks further ones (measured: a limit of 2 claimed 3 rows). On SQLite the pick's
   * ids are read first: its write transaction already excludes other writers, and each CTE or IN subquery builds
   * an ephemeral table, ~50 µs apiece (measured: three per chained task, a fifth of the engine's cost per task).
   *
   * `records`: rows inserted only for the task instances the update changed, matched on dag_id, run_id, task_id and
   * map_index (which `update` must return) — on PostgreSQL in the same statement (a batch of ending tries records
   * its tries and results without a round trip of its own: one of six per batch).
   */
  updatePicked<R>(
    db: Kysely<Database>,
    pick: SelectQueryBuilder<Database, "task_instance", { id: string }>,
    update: (db: QueryCreator<Database>, picked: PickedIds) => UpdateQueryBuilder<Database, "task_instance", "task_instance", R>,
    records?: readonly TableRows[],
  ): Promise<R[]>;
  /**
   * Inserts rows into several tables (tables without rows are left out): one statement on PostgreSQL, every insert
   * but the last a data-modifying CTE — a batch of ending tries records its tries and its results in one round
   * trip, not two; one statement a table on SQLite, whose CTEs cannot modify (and which has no round trips).
   */
  insertAll(db: Kysely<Database>, inserts: readonly TableRows[]): Promise<void>;
  /** The database's clock as an SQL expression (for a statement that must not take a second round trip). */
  readonly nowSql: RawBuilder<string>;
  /** The database's clock as ISO-8601 UTC text (the `Date#toISOString()` form every timestamp column holds). */
  now(db: Kysely<Database>): Promise<string>;
  /** Tells other processes, when `trx` commits, that `topic` changed. */
  notify(trx: Kysely<Database>, topic: string): Promise<void>;
  /**
   * Calls `onTopic` when another process commits a change (with its topic where the backend carries one, else
   * "*"). Returns the function that stops watching.
   */
  watch(db: Kysely<Database>, onTopic: (topic: string) => void): Promise<() => Promise<void>>;
}
