import { sql, type Kysely } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * Dynamic task mapping (a task instance per map index, Airflow's `map_index`, -1 when unmapped), per-row
 * upstream counters and the indexes the incremental scheduler's queries need. Runs in flight when this migration
 * runs keep their states; their counters start at 0, so finish them with the venvflow that started them. The keys change, which SQLite cannot ALTER: each table is rebuilt
 * (create, copy, drop, rename), which runs the same on PostgreSQL.
 */
export const mapIndex: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("task_instance_v2")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("map_index", "integer", (c) => c.notNull().defaultTo(-1))
      .addColumn("priority", "integer", (c) => c.notNull().defaultTo(0))
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
      // How many upstream task instances there are and how each finished: a task finishing updates only its
      // downstream rows' counters, and their trigger rules are decided from these, never from a scan of the run.
      .addColumn("up_total", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("up_success", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("up_failed", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("up_upstream_failed", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("up_skipped", "integer", (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint("task_instance_key", ["dag_id", "run_id", "task_id", "map_index"])
      .addForeignKeyConstraint("task_instance_run_fk2", ["dag_id", "run_id"], "dag_run", ["dag_id", "run_id"], (c) => c.onDelete("cascade"))
      .execute();
    await sql`insert into task_instance_v2 (id, dag_id, run_id, task_id, state, try_number, max_tries, queued_at, started_at, ended_at, duration_ms, locked_by, locked_at, hostname, next_retry_at, error, log_path, updated_at)
      select id, dag_id, run_id, task_id, state, try_number, max_tries, queued_at, started_at, ended_at, duration_ms, locked_by, locked_at, hostname, next_retry_at, error, log_path, updated_at from task_instance`.execute(db);
    await db.schema.dropTable("task_instance").execute();
    await db.schema.alterTable("task_instance_v2").renameTo("task_instance").execute();
    // Claims: queued rows in queue order. The sweeper reads running rows through the same index.
    await db.schema.createIndex("ti_claim_idx").on("task_instance").columns(["state", "queued_at", "id"]).execute();
    // Per task of a run: its instances still in state none, unfinished siblings of a mapped instance, upstream counts.
    await db.schema.createIndex("ti_run_task_state_idx").on("task_instance").columns(["dag_id", "run_id", "task_id", "state"]).execute();
    // Per DAG: active tries (maxActiveTasks), scheduled ones in priority order, due retries, and a run's unfinished rows.
    await db.schema.createIndex("ti_dag_state_idx").on("task_instance").columns(["dag_id", "state", "run_id", "priority", "map_index"]).execute();

    await db.schema
      .createTable("task_try_v2")
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("map_index", "integer", (c) => c.notNull().defaultTo(-1))
      .addColumn("try_number", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("started_at", "text")
      .addColumn("ended_at", "text", (c) => c.notNull())
      .addColumn("duration_ms", "integer")
      .addColumn("worker", "text")
      .addColumn("hostname", "text")
      .addColumn("error", "text")
      .addColumn("log_path", "text")
      .addPrimaryKeyConstraint("task_try_key", ["dag_id", "run_id", "task_id", "map_index", "try_number"])
      .addForeignKeyConstraint("task_try_run_fk2", ["dag_id", "run_id"], "dag_run", ["dag_id", "run_id"], (c) => c.onDelete("cascade"))
      .execute();
    await sql`insert into task_try_v2 (dag_id, run_id, task_id, try_number, state, started_at, ended_at, duration_ms, worker, hostname, error, log_path)
      select dag_id, run_id, task_id, try_number, state, started_at, ended_at, duration_ms, worker, hostname, error, log_path from task_try`.execute(db);
    await db.schema.dropTable("task_try").execute();
    await db.schema.alterTable("task_try_v2").renameTo("task_try").execute();

    await db.schema
      .createTable("xcom_v2")
      .addColumn("dag_id", "text", (c) => c.notNull())
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("map_index", "integer", (c) => c.notNull().defaultTo(-1))
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      // A mapped task's values of one key are read together, in map-index order.
      .addPrimaryKeyConstraint("xcom_key", ["dag_id", "run_id", "task_id", "key", "map_index"])
      .addForeignKeyConstraint("xcom_run_fk2", ["dag_id", "run_id"], "dag_run", ["dag_id", "run_id"], (c) => c.onDelete("cascade"))
      .execute();
    await sql`insert into xcom_v2 (dag_id, run_id, task_id, key, value, created_at) select dag_id, run_id, task_id, key, value, created_at from xcom`.execute(db);
    await db.schema.dropTable("xcom").execute();
    await db.schema.alterTable("xcom_v2").renameTo("xcom").execute();
  },

  async down(): Promise<void> {
    throw new Error("0002_map_index cannot be undone: mapped task instances have no place in the 0001 schema");
  },
};
