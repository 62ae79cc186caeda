import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

// Only portable column types (text, integer), so the same migration runs on SQLite and PostgreSQL.
export const init: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("dag_run")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("run_type", "text", (c) => c.notNull())
      .addColumn("logical_date", "text", (c) => c.notNull())
      .addColumn("data_interval_start", "text", (c) => c.notNull())
      .addColumn("data_interval_end", "text", (c) => c.notNull())
      .addColumn("conf", "text", (c) => c.notNull())
      .addColumn("queued_at", "text", (c) => c.notNull())
      .addColumn("started_at", "text")
      .addColumn("ended_at", "text")
      .addUniqueConstraint("dag_run_dag_id_run_id_key", ["dag_id", "run_id"])
      .execute();
    await db.schema.createIndex("dag_run_state_idx").on("dag_run").columns(["dag_id", "state"]).execute();

    await db.schema
      .createTable("task_instance")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("try_number", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("max_tries", "integer", (c) => c.notNull())
      .addColumn("queued_at", "text")
      .addColumn("started_at", "text")
      .addColumn("ended_at", "text")
      .addColumn("duration_ms", "integer")
      .addColumn("locked_by", "text")
      .addColumn("locked_at", "text")
      .addColumn("hostname", "text")
      .addColumn("next_retry_at", "text")
      .addColumn("error", "text")
      .addColumn("log_path", "text")
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addUniqueConstraint("task_instance_dag_id_run_id_task_id_key", ["dag_id", "run_id", "task_id"])
      .addForeignKeyConstraint("task_instance_run_fk", ["dag_id", "run_id"], "dag_run", ["dag_id", "run_id"], (c) =>
        c.onDelete("cascade"),
      )
      .execute();
    // Claims scan queued rows in queue order; the sweeper scans running rows by lock age.
    await db.schema.createIndex("task_instance_state_idx").on("task_instance").columns(["state", "queued_at"]).execute();

    await db.schema
      .createTable("task_try")
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("try_number", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("started_at", "text")
      .addColumn("ended_at", "text", (c) => c.notNull())
      .addColumn("duration_ms", "integer")
      .addColumn("worker", "text")
      .addColumn("hostname", "text")
      .addColumn("error", "text")
      .addColumn("log_path", "text")
      .addPrimaryKeyConstraint("task_try_pk", ["dag_id", "run_id", "task_id", "try_number"])
      .addForeignKeyConstraint("task_try_run_fk", ["dag_id", "run_id"], "dag_run", ["dag_id", "run_id"], (c) => c.onDelete("cascade"))
      .execute();

    await db.schema
      .createTable("xcom")
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("xcom_pk", ["dag_id", "run_id", "task_id", "key"])
      .addForeignKeyConstraint("xcom_run_fk", ["dag_id", "run_id"], "dag_run", ["dag_id", "run_id"], (c) => c.onDelete("cascade"))
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ["xcom", "task_try", "task_instance", "dag_run"]) await db.schema.dropTable(table).execute();
  },
};
