import pg from "pg";
import { PostgresDialect } from "kysely";

export function createPostgresDialect(url: string, poolSize: number): PostgresDialect {
  return new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: poolSize }) });
}
