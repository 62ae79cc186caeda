import pg from "pg";
import { PostgresDialect } from "kysely";

export function createPostgresDialect(url: string, poolSize: number): PostgresDialect {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A connection the server drops while idle or closing (restart, admin termination) emits "error"; unhandled,
  // that crashes the worker. The pool discards such clients and queries in flight still reject with the error.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return new PostgresDialect({ pool });
}
