/**
 * The one `Database` interface both backends share. Timestamps are ISO-8601 UTC text (`Date#toISOString()`):
 * fixed width, so they sort and compare as text on SQLite and PostgreSQL alike and one query path serves both.
 * JSON columns are text holding JSON for the same reason.
 */
import type { ColumnType, Insertable, Selectable } from "kysely";

/** Airflow's task instance states; "none" is Airflow's `None` (created, upstream not done). */
export const TASK_STATES = [
  "none",
  "scheduled",
  "queued",
  "running",
  "success",
  "failed",
  "skipped",
  "upstream_failed",
  "up_for_retry",
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States a task instance never leaves. */
export const FINISHED_TASK_STATES: ReadonlySet<TaskState> = new Set(["success", "failed", "skipped", "upstream_failed"]);

/** States a task instance is still to leave. */
export const UNFINISHED_TASK_STATES = ["none", "scheduled", "queued", "running", "up_for_retry"] as const satisfies readonly TaskState[];

export const RUN_STATES = ["queued", "running", "success", "failed"] as const;
export type RunState = (typeof RUN_STATES)[number];

export type RunType = "manual" | "scheduled" | "backfill" | "test";

export interface DagRunTable {
  id: string;
  dag_id: string;
  run_id: string;
  state: RunState;
  run_type: RunType;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  /** JSON object. */
  conf: string;
  queued_at: string;
  started_at: string | null;
  ended_at: string | null;
}

export interface TaskInstanceTable {
  id: string;
  dag_id: string;
  run_id: string;
  task_id: string;
  /** Airflow's map_index: -1 for an unmapped task (and a mapped one not yet expanded), else 0, 1, … */
  map_index: ColumnType<number, number | undefined, number>;
  /** The task's position in the DAG's topological order: scheduled instances are queued in this order. */
  priority: ColumnType<number, number | undefined, number>;
  state: TaskState;
  /** Tries started so far: 0 until first claimed, then the current (or last) try. */
  try_number: ColumnType<number, number | undefined, number>;
  /** Airflow's max_tries: the task's `retries`; a failed try N is retried while N <= max_tries. */
  max_tries: number;
  queued_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  locked_by: string | null;
  locked_at: string | null;
  hostname: string | null;
  next_retry_at: string | null;
  /** JSON `TaskError`. */
  error: string | null;
  log_path: string | null;
  updated_at: string;
  /** Upstream task instances, and how many of them finished in each state (what trigger rules decide on). */
  up_total: ColumnType<number, number | undefined, number>;
  up_success: ColumnType<number, number | undefined, number>;
  up_failed: ColumnType<number, number | undefined, number>;
  up_upstream_failed: ColumnType<number, number | undefined, number>;
  up_skipped: ColumnType<number, number | undefined, number>;
}

/** One row per finished try: the history `venvflow logs --try` and `runs show` read. */
export interface TaskTryTable {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: ColumnType<number, number | undefined, number>;
  try_number: number;
  state: TaskState;
  started_at: string | null;
  ended_at: string;
  duration_ms: number | null;
  worker: string | null;
  hostname: string | null;
  error: string | null;
  log_path: string | null;
}

export interface XComTable {
  dag_id: string;
  run_id: string;
  task_id: string;
  key: string;
  map_index: ColumnType<number, number | undefined, number>;
  /** JSON. */
  value: string;
  /** JSON: `value` with its task's secrets masked, when that changes it (src/store/xcom-display.ts). */
  display_value: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
}

export interface Database {
  dag_run: DagRunTable;
  task_instance: TaskInstanceTable;
  task_try: TaskTryTable;
  xcom: XComTable;
}

export type DagRunRow = Selectable<DagRunTable>;
export type TaskInstanceRow = Selectable<TaskInstanceTable>;
export type TaskTryRow = Selectable<TaskTryTable>;
export type XComRow = Selectable<XComTable>;
export type NewTaskInstance = Insertable<TaskInstanceTable>;
