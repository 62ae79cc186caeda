import pg from "pg";
import { PostgresDialect, sql } from "kysely";
import type { StoreAdapter } from "../adapter.ts";

export function createPostgresDialect(url: string, poolSize: number): PostgresDialect {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A connection the server drops while idle or closing (restart, admin termination) emits "error"; unhandled,
  // that crashes the worker. The pool discards such clients and queries in flight still reject with the error.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return new PostgresDialect({ pool });
}

const CHANNEL = "venvflow";
/** `Date#toISOString()`'s form, so database times and JavaScript times compare as text. */
const NOW = sql<string>`to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export function postgresAdapter(url: string): StoreAdapter {
  return {
    backend: "postgres",
    writeTransaction: (db, fn) => db.transaction().execute(fn),
    // A transaction-scoped advisory lock per DAG: released at commit or rollback, whatever happens. PostgreSQL
    // evaluates a select list in order: the time is read once the lock is held.
    async lockDag(trx, dagId) {
      const { rows } = await sql<{ now: string }>`select pg_advisory_xact_lock(hashtext(${`venvflow:${dagId}`})) as locked, ${NOW} as now`.execute(trx);
      return rows[0]!.now;
    },
    skipLocked: (query) => query.forUpdate().skipLocked(),
    lockInOrder: (query) => query.forUpdate(),
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
