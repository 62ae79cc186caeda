/**
 * Every state change of a run or a task instance, each in one named function. Each writes the new state
 * durably (committed) before the engine acts on it, and each is guarded by the state it leaves (plus, for a
 * running try, the worker holding it and the try number): a transition that lost a race — the sweeper
 * re-queued the try, a run timeout skipped it — changes nothing and reports `false`.
 */
import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { DagDefinition, TaskError } from "../dag/model.ts";
import type { Store } from "../store/index.ts";
import type { Database, DagRunRow, RunType, TaskInstanceRow, TaskState } from "../store/schema.ts";

type Db = Kysely<Database>;

const nowIso = (): string => new Date().toISOString();

export interface NewRun {
  dagId: string;
  runId: string;
  runType: RunType;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  conf: Record<string, unknown>;
  /** Task id → retries (Airflow's max_tries), in topological order. */
  tasks: ReadonlyArray<{ taskId: string; retries: number }>;
}

export const runTasks = (dag: DagDefinition): NewRun["tasks"] => [...dag.tasks.values()].map((t) => ({ taskId: t.taskId, retries: t.retries }));

// Rows per INSERT: 200 task instances × 9 columns stays far below SQLite's and PostgreSQL's parameter limits.
const INSERT_CHUNK = 200;

/**
 * (nothing) → run queued, every task instance `none`. Call it inside a write transaction (the run and its task
 * instances appear together); a run id that exists fails on the unique constraint.
 */
export async function createRun(trx: Db, run: NewRun): Promise<DagRunRow> {
  const at = nowIso();
  const row = await trx
    .insertInto("dag_run")
    .values({
      id: randomUUID(),
      dag_id: run.dagId,
      run_id: run.runId,
      state: "queued",
      run_type: run.runType,
      logical_date: run.logicalDate.toISOString(),
      data_interval_start: run.dataIntervalStart.toISOString(),
      data_interval_end: run.dataIntervalEnd.toISOString(),
      conf: JSON.stringify(run.conf),
      queued_at: at,
      started_at: null,
      ended_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  for (let i = 0; i < run.tasks.length; i += INSERT_CHUNK) {
    await trx
      .insertInto("task_instance")
      .values(
        run.tasks.slice(i, i + INSERT_CHUNK).map((t) => ({
          id: randomUUID(),
          dag_id: run.dagId,
          run_id: run.runId,
          task_id: t.taskId,
          state: "none" as const,
          max_tries: t.retries,
          queued_at: null,
          started_at: null,
          ended_at: null,
          duration_ms: null,
          locked_by: null,
          locked_at: null,
          hostname: null,
          next_retry_at: null,
          error: null,
          log_path: null,
          updated_at: at,
        })),
      )
      .execute();
  }
  return row;
}

/** Run queued → running (a maxActiveRuns slot is free). */
export async function startRun(trx: Db, runPk: string): Promise<boolean> {
  const r = await trx.updateTable("dag_run").set({ state: "running", started_at: nowIso() }).where("id", "=", runPk).where("state", "=", "queued").executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Run running → success / failed (every task instance finished). */
export async function finishRun(trx: Db, runPk: string, state: "success" | "failed"): Promise<boolean> {
  const r = await trx.updateTable("dag_run").set({ state, ended_at: nowIso() }).where("id", "=", runPk).where("state", "=", "running").executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/**
 * Run running → failed on dagrunTimeout; as Airflow, every unfinished task instance becomes skipped, including
 * running ones (their workers see it at the next heartbeat and abort). Returns the ids that were running.
 */
export async function timeoutRun(trx: Db, run: DagRunRow): Promise<string[]> {
  const at = nowIso();
  const r = await trx.updateTable("dag_run").set({ state: "failed", ended_at: at }).where("id", "=", run.id).where("state", "=", "running").executeTakeFirst();
  if (r.numUpdatedRows === 0n) return [];
  const running = await trx
    .selectFrom("task_instance")
    .select("id")
    .where("dag_id", "=", run.dag_id)
    .where("run_id", "=", run.run_id)
    .where("state", "=", "running")
    .execute();
  await trx
    .updateTable("task_instance")
    .set({ state: "skipped", ended_at: at, locked_by: null, locked_at: null, next_retry_at: null, updated_at: at })
    .where("dag_id", "=", run.dag_id)
    .where("run_id", "=", run.run_id)
    .where("state", "in", ["none", "scheduled", "queued", "running", "up_for_retry"])
    .execute();
  return running.map((t) => t.id);
}

async function setFrom(trx: Db, ids: readonly string[], from: readonly TaskState[], to: TaskState, extra: { queued_at?: string; ended_at?: string } = {}): Promise<string[]> {
  if (ids.length === 0) return [];
  const at = nowIso();
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
    const rows = await trx
      .updateTable("task_instance")
      .set({ state: to, updated_at: at, ...extra })
      .where("id", "in", ids.slice(i, i + INSERT_CHUNK))
      .where("state", "in", [...from])
      .returning("id")
      .execute();
    out.push(...rows.map((r) => r.id));
  }
  return out;
}

/** none → scheduled: the trigger rule is met; waiting for a maxActiveTasks slot. */
export function scheduleTasks(trx: Db, ids: readonly string[]): Promise<string[]> {
  return setFrom(trx, ids, ["none"], "scheduled");
}

/** none → skipped: the trigger rule can no longer be met because of skipped/succeeded upstream tasks. */
export function skipTasks(trx: Db, ids: readonly string[]): Promise<string[]> {
  return setFrom(trx, ids, ["none"], "skipped", { ended_at: nowIso() });
}

/** none → upstream_failed: an upstream failure means the trigger rule can no longer be met. */
export function markUpstreamFailed(trx: Db, ids: readonly string[]): Promise<string[]> {
  return setFrom(trx, ids, ["none"], "upstream_failed", { ended_at: nowIso() });
}

/** scheduled, or up_for_retry whose next_retry_at has passed → queued: claimable by any worker. */
export function queueTasks(trx: Db, ids: readonly string[]): Promise<string[]> {
  return setFrom(trx, ids, ["scheduled", "up_for_retry"], "queued", { queued_at: nowIso() });
}

/**
 * queued → running, claimed for one worker: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
 * RETURNING *` on PostgreSQL, so concurrent claimers skip each other's rows instead of queueing on them; on
 * SQLite the same statement inside BEGIN IMMEDIATE, which serializes claimers. The try number is incremented
 * here, at claim time (graphile-worker's `attempts`), so a try whose worker dies still counts.
 */
export async function claimTasks(
  store: Store,
  opts: { workerId: string; hostname: string; dagIds: readonly string[]; limit: number; logPath: (ti: TaskInstanceRow) => string },
): Promise<TaskInstanceRow[]> {
  if (opts.limit <= 0 || opts.dagIds.length === 0) return [];
  return store.writeTransaction(async (trx) => {
    const at = nowIso();
    // The candidates are a MATERIALIZED CTE, not `IN (subquery)`: PostgreSQL may re-run an IN subquery per outer
    // row, and a re-run skips the rows this statement already updated and locks further ones — measured: a
    // limit of 2 claimed 3 rows.
    const claimed = await trx
      .with(
        (w) => w("candidates").materialized(),
        (db) =>
          db
            .selectFrom("task_instance")
            .select("id")
            .where("state", "=", "queued")
            .where("dag_id", "in", [...opts.dagIds])
            .orderBy("queued_at")
            .orderBy("id")
            .limit(opts.limit)
            .$if(store.backend === "postgres", (q) => q.forUpdate().skipLocked()),
      )
      .updateTable("task_instance")
      .set({
        state: "running",
        try_number: sql<number>`try_number + 1`,
        locked_by: opts.workerId,
        locked_at: at,
        hostname: opts.hostname,
        started_at: at,
        ended_at: null,
        duration_ms: null,
        next_retry_at: null,
        error: null,
        updated_at: at,
      })
      .where("id", "in", (eb) => eb.selectFrom("candidates").select("candidates.id"))
      .where("state", "=", "queued")
      .returningAll()
      .execute();
    for (const ti of claimed) {
      ti.log_path = opts.logPath(ti);
      await trx.updateTable("task_instance").set({ log_path: ti.log_path }).where("id", "=", ti.id).execute();
    }
    return claimed;
  });
}

/** Refreshes the locks this worker holds; returns the ids it still holds (any other was swept or skipped). */
export async function heartbeat(store: Store, workerId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await store.db
    .updateTable("task_instance")
    .set({ locked_at: nowIso() })
    .where("id", "in", [...ids])
    .where("state", "=", "running")
    .where("locked_by", "=", workerId)
    .returning("id")
    .execute();
  return new Set(rows.map((r) => r.id));
}

interface EndTry {
  state: "success" | "failed" | "skipped" | "up_for_retry" | "queued";
  error?: TaskError | null;
  nextRetryAt?: string | null;
}

/** Ends the running try `ti` (guarded by worker and try number) and records it in task_try. */
async function endTry(trx: Db, ti: TaskInstanceRow, end: EndTry): Promise<boolean> {
  const at = new Date();
  const endedAt = at.toISOString();
  const durationMs = ti.started_at ? at.getTime() - Date.parse(ti.started_at) : null;
  const error = end.error ? JSON.stringify(end.error) : null;
  const requeued = end.state === "queued";
  const r = await trx
    .updateTable("task_instance")
    .set({
      state: end.state,
      ended_at: requeued ? null : endedAt,
      duration_ms: requeued ? null : durationMs,
      error,
      next_retry_at: end.nextRetryAt ?? null,
      locked_by: null,
      locked_at: null,
      updated_at: endedAt,
      ...(requeued ? { queued_at: endedAt } : {}),
    })
    .where("id", "=", ti.id)
    .where("state", "=", "running")
    .where("try_number", "=", ti.try_number)
    .$if(ti.locked_by !== null, (q) => q.where("locked_by", "=", ti.locked_by))
    .executeTakeFirst();
  if (r.numUpdatedRows === 0n) return false;
  await trx
    .insertInto("task_try")
    .values({
      dag_id: ti.dag_id,
      run_id: ti.run_id,
      task_id: ti.task_id,
      try_number: ti.try_number,
      state: requeued ? "failed" : end.state,
      started_at: ti.started_at,
      ended_at: endedAt,
      duration_ms: durationMs,
      worker: ti.locked_by,
      hostname: ti.hostname,
      error,
      log_path: ti.log_path,
    })
    .execute();
  return true;
}

/**
 * running → success, with the try's XComs (replacing an earlier try's) and, for a branch task, the
 * not-followed downstream tasks → skipped, all in one transaction.
 */
export async function succeedTask(store: Store, ti: TaskInstanceRow, result: { xcoms: ReadonlyMap<string, unknown>; skipTaskIds: readonly string[] }): Promise<boolean> {
  return store.writeTransaction(async (trx) => {
    if (!(await endTry(trx, ti, { state: "success" }))) return false;
    await trx.deleteFrom("xcom").where("dag_id", "=", ti.dag_id).where("run_id", "=", ti.run_id).where("task_id", "=", ti.task_id).execute();
    const at = nowIso();
    const rows = [...result.xcoms].map(([key, value]) => ({
      dag_id: ti.dag_id,
      run_id: ti.run_id,
      task_id: ti.task_id,
      key,
      value: JSON.stringify(value),
      created_at: at,
    }));
    if (rows.length > 0) await trx.insertInto("xcom").values(rows).execute();
    if (result.skipTaskIds.length > 0) {
      await trx
        .updateTable("task_instance")
        .set({ state: "skipped", ended_at: at, updated_at: at })
        .where("dag_id", "=", ti.dag_id)
        .where("run_id", "=", ti.run_id)
        .where("task_id", "in", [...result.skipTaskIds])
        .where("state", "in", ["none", "scheduled", "queued"])
        .execute();
    }
    return true;
  });
}

/** running → failed (no tries left). */
export function failTask(store: Store, ti: TaskInstanceRow, error: TaskError): Promise<boolean> {
  return store.writeTransaction((trx) => endTry(trx, ti, { state: "failed", error }));
}

/** running → up_for_retry until `nextRetryAt`, when the scheduler re-queues it. */
export function retryTask(store: Store, ti: TaskInstanceRow, error: TaskError, nextRetryAt: Date): Promise<boolean> {
  return store.writeTransaction((trx) => endTry(trx, ti, { state: "up_for_retry", error, nextRetryAt: nextRetryAt.toISOString() }));
}

/** running → skipped: the task itself asked to be skipped (AirflowSkipException, skipOnExitCode). */
export function skipRunningTask(store: Store, ti: TaskInstanceRow, error: TaskError | null): Promise<boolean> {
  return store.writeTransaction((trx) => endTry(trx, ti, { state: "skipped", error }));
}

/**
 * The sweeper: running task instances whose lock is older than `lockTimeoutMs` belong to a dead worker (a live
 * one refreshes its locks every heartbeat). Each lost try is recorded as failed and the task instance is
 * re-queued at once if it has tries left (Airflow's zombie handling), else failed. Returns what it changed.
 */
export async function requeueLostTasks(store: Store, lockTimeoutMs: number): Promise<Array<{ ti: TaskInstanceRow; state: "queued" | "failed" }>> {
  const cutoff = new Date(Date.now() - lockTimeoutMs).toISOString();
  return store.writeTransaction(async (trx) => {
    const lost = await trx
      .selectFrom("task_instance")
      .selectAll()
      .where("state", "=", "running")
      .where("locked_at", "<", cutoff)
      .$if(store.backend === "postgres", (q) => q.forUpdate().skipLocked())
      .execute();
    const changed: Array<{ ti: TaskInstanceRow; state: "queued" | "failed" }> = [];
    for (const ti of lost) {
      const error: TaskError = {
        type: "WorkerLost",
        code: "worker_lost",
        message: `worker ${ti.locked_by ?? "?"} on ${ti.hostname ?? "?"} stopped heartbeating during try ${ti.try_number} (lock older than ${lockTimeoutMs} ms)`,
      };
      const state = ti.try_number <= ti.max_tries ? "queued" : "failed";
      if (await endTry(trx, ti, { state, error })) changed.push({ ti, state });
    }
    return changed;
  });
}
