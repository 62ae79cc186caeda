import pg from "pg";
import { createHash } from "node:crypto";
import { PostgresDialect, sql, type PostgresPool, type PostgresPoolClient, type QueryCreator, type RawBuilder } from "kysely";
import type { StoreAdapter, TableRows } from "../adapter.ts";
import type { Database } from "../schema.ts";

export function createPostgresDialect(url: string, poolSize: number): PostgresDialect {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A connection the server drops while idle or closing (restart, admin termination) emits "error"; unhandled,
  // that crashes the worker. The pool discards such clients and queries in flight still reject with the error.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const kyselyPool: PostgresPool = {
    options: pool.options,
    end: () => pool.end(),
    async connect() {
      const client = await pool.connect();
      const query = deferringBegin((text, values) => client.query(preparedQuery(text, values)), (text) => client.query(text));
      return { query, release: (destroy?: boolean) => client.release(destroy) } as unknown as PostgresPoolClient;
    },
  };
  return new PostgresDialect({ pool: kyselyPool });
}

/**
 * A transaction's `begin` goes with its first statement when that one has no parameters (one simple-protocol query,
 * `begin; <statement>`): a transition's first statement is its DAG's lock (`lockDag`), so that is one round trip
 * less per transaction — measured at 10,000 no-op tasks, a batch of 8 ending tries was 8 round trips and ~4.9 ms.
 * A statement with parameters goes after a `begin` of its own; `commit` or `rollback` of a transaction that ran
 * nothing sends nothing.
 */
export function deferringBegin(
  extended: (text: string, values: readonly unknown[]) => Promise<pg.QueryResult>,
  simple: (text: string) => Promise<pg.QueryResult | pg.QueryResult[]>,
): (text: string, values: readonly unknown[]) => Promise<pg.QueryResult> {
  let beginPending = false;
  const nothing = (command: string): pg.QueryResult => ({ command, rowCount: null, oid: 0, rows: [], fields: [] });
  return async (text, values) => {
    if (/^\s*begin\s*$/i.test(text) && values.length === 0) {
      beginPending = true;
      return nothing("BEGIN");
    }
    if (!beginPending) return extended(text, values);
    beginPending = false;
    if (/^\s*(commit|rollback)\s*$/i.test(text)) return nothing(text.trim().toUpperCase());
    if (values.length > 0) {
      await simple("begin");
      return extended(text, values);
    }
    const results = await simple(`begin; ${text}`);
    return Array.isArray(results) ? results.at(-1)! : results;
  };
}

/**
 * Statements as named prepared statements, one per SQL text (each connection parses and plans it once, then
 * binds): the engine runs a few dozen statements over and over, and planning its CTE updates took ~0.2 ms each
 * (EXPLAIN ANALYZE at 10,000 tasks), several per batch of ending tries. Only plain DML of up to 100 parameters
 * (a run's bulk inserts vary in shape and are few): a transaction's `begin` or a migration's DDL goes as it is.
 */
const names = new Map<string, string>();
function preparedQuery(text: string, values: readonly unknown[]): pg.QueryConfig {
  if (values.length > 100 || !/^\s*(select|insert|update|delete|with)\b/i.test(text)) return { text, values: [...values] };
  let name = names.get(text);
  if (name === undefined) {
    name = `vf_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    if (names.size >= 4096) names.clear();
    names.set(text, name);
  }
  return { name, text, values: [...values] };
}

/**
 * `INSERT … SELECT` of `rows` given as one JSON parameter (json_populate_recordset), optionally filtered: one
 * statement text whatever the number of rows, so it is prepared once. A VALUES list per batch size was a new text to
 * parse and plan for most batches (over 100 parameters are never prepared): 0.54 ms a batch of ending tries at
 * 10,000 tasks, the costliest statement of the batch.
 */
function insertRows(table: TableRows["table"], rows: TableRows["rows"], filter: RawBuilder<unknown> = sql``): RawBuilder<unknown> {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row).filter((key) => (row as Record<string, unknown>)[key] !== undefined)))].map((c) => sql.ref(c));
  return sql`insert into ${sql.table(table)} (${sql.join(columns)}) select ${sql.join(columns)} from json_populate_recordset(null::${sql.table(table)}, ${JSON.stringify(rows)}::json) ${filter}`;
}

const CHANNEL = "venvflow";
/** `Date#toISOString()`'s form, so database times and JavaScript times compare as text. */
const NOW = sql<string>`to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export function postgresAdapter(url: string): StoreAdapter {
  return {
    backend: "postgres",
    writeTransaction: (db, fn) => db.transaction().execute(fn),
    // Kysely's migrator takes an advisory lock and runs each migration in a transaction on PostgreSQL.
    migrating: (db, fn) => fn(db),
    // A transaction-scoped advisory lock per DAG: released at commit or rollback, whatever happens. PostgreSQL
    // evaluates a select list in order: the time is read once the lock is held. The DAG id goes as a literal (DAG
    // ids are letters, digits, dashes, dots and underscores; sql.lit quotes it anyway): a statement without
    // parameters travels with the transaction's `begin` (deferringBegin).
    async lockDag(trx, dagId) {
      const { rows } = await sql<{ now: string }>`select pg_advisory_xact_lock(hashtext(${sql.lit(`venvflow:${dagId}`)})) as locked, ${NOW} as now`.execute(trx);
      return rows[0]!.now;
    },
    skipLocked: (query) => query.forUpdate().skipLocked(),
    lockInOrder: (query) => query.forUpdate(),
    async updatePicked(db, pick, update, records = []) {
      const picked = sql<string>`(select "picked"."id" from "picked")`;
      const recorded = records.filter(({ rows }) => rows.length > 0);
      // The CTE's table is the update's only addition to the schema, reached through `picked` alone.
      if (recorded.length === 0) return update(db.with((w) => w("picked").materialized(), () => pick) as unknown as QueryCreator<Database>, picked).execute();
      const updated = sql`(select "dag_id", "run_id", "task_id", "map_index" from "updated")`;
      const inserts = recorded.map(({ table, rows }, i) => sql`${sql.raw(`"recorded_${i}"`)} as (${insertRows(table, rows, sql`where ("dag_id", "run_id", "task_id", "map_index") in ${updated}`)})`);
      const { rows } = await sql<Awaited<ReturnType<ReturnType<typeof update>["execute"]>>[number]>`with "picked" as materialized (${pick}), "updated" as (${update(db, picked)}), ${sql.join(inserts)} select * from "updated"`.execute(db);
      return rows;
    },
    async insertAll(db, inserts) {
      const statements = inserts.filter(({ rows }) => rows.length > 0).map(({ table, rows }) => insertRows(table, rows));
      const last = statements.pop();
      if (!last) return;
      // Every insert but the last a data-modifying CTE: one round trip for all of them.
      const ctes = statements.map((statement, i) => sql`${sql.raw(`"inserted_${i}"`)} as (${statement})`);
      await (ctes.length === 0 ? last : sql`with ${sql.join(ctes)} ${last}`).execute(db);
    },
    nowSql: NOW,
    async now(db) {
      const { rows } = await sql<{ now: string }>`select ${NOW} as now`.execute(db);
      return rows[0]!.now;
    },
    // Delivered to every listener when the transaction commits, and not at all if it rolls back.
    async notify(trx, topic) {
      await sql`select pg_notify(${CHANNEL}, ${topic})`.execute(trx);
    },
    /** LISTEN on a connection of its own (a pooled one would be handed to other queries). */
    async watch(_db, onTopic) {
      const client = new pg.Client({ connectionString: url });
      client.on("error", () => {});
      client.on("notification", (message) => onTopic(message.payload ?? "*"));
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      return async () => {
        await client.end().catch(() => {});
      };
    },
  };
}
