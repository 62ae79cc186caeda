import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

// See src/store/dag-tables.ts. Portable column types only, as 0001.
export const serializedDags: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("serialized_dag")
      .addColumn("dag_id", "text", (c) => c.primaryKey())
      .addColumn("fileloc", "text", (c) => c.notNull())
      .addColumn("data", "text", (c) => c.notNull())
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("is_paused", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("removed_at", "text")
      .addColumn("parsed_at", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("dag_import_error")
      .addColumn("file", "text", (c) => c.primaryKey())
      .addColumn("code", "text", (c) => c.notNull())
      .addColumn("message", "text", (c) => c.notNull())
      .addColumn("at", "text", (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ["dag_import_error", "serialized_dag"]) await db.schema.dropTable(table).execute();
  },
};
