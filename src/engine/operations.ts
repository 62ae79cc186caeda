/**
 * What an operator does to DAGs, runs and task instances from the server, the UI or the CLI (Airflow's pause,
 * trigger, mark run failed, clear, mark success/failed). Each is one named, guarded change in one write
 * transaction; the scheduler and workers pick the result up on their next pass. A try that is running when its
 * task instance is cleared or marked loses its lock: its worker sees that at the next heartbeat and aborts it.
 */
import type { SerializedDag } from "../dag/serialize.ts";
import { withDagTables } from "../store/dag-tables.ts";
import type { Store } from "../store/index.ts";
import type { Kysely } from "kysely";
import type { Database, DagRunRow, TaskInstanceRow, TaskState } from "../store/schema.ts";
import { chunks } from "../util/chunks.ts";
import { VenvflowError } from "../util/errors.ts";
import { getRun } from "./queries.ts";
import { scheduleIntervalsBetween } from "./dates.ts";
import { triggerRun, type TriggerOptions } from "./run-dag.ts";
import { resettleRun } from "./settle.ts";
import { createRun, notifyAll, runTasks } from "./transitions.ts";
import { dagShape, getStoredDag } from "./serialized-dags.ts";

/** Pauses or unpauses a DAG the store knows; returns whether anything changed. */
export async function setDagPaused(store: Store, dagId: string, paused: boolean): Promise<boolean> {
  await getStoredDag(store, dagId);
  const r = await withDagTables(store.db)
    .updateTable("serialized_dag")
    .set({ is_paused: paused ? 1 : 0 })
    .where("dag_id", "=", dagId)
    .where("is_paused", "=", paused ? 0 : 1)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

const jsonType = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * The run conf checked against the DAG's params (Airflow's params are defaults; a conf key naming one must
 * have the default's JSON type). Keys that name no param pass through, as in Airflow.
 */
export function validateConf(dag: SerializedDag, conf: unknown): Record<string, unknown> {
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) {
    throw new VenvflowError("invalid_conf", `the run conf for DAG "${dag.dagId}" must be a JSON object, got ${jsonType(conf)}`, { fix: `pass an object, e.g. {"key": "value"}` });
  }
  const record = conf as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (!Object.hasOwn(dag.params, key)) continue;
    const expected = jsonType(dag.params[key]);
    if (expected !== "null" && jsonType(value) !== expected) {
      throw new VenvflowError("invalid_conf", `param "${key}" of DAG "${dag.dagId}" is ${expected === "array" ? "an" : "a"} ${expected} (default ${JSON.stringify(dag.params[key])}), got ${jsonType(value)}`, {
        fix: `pass a ${expected} for "${key}", or leave it out to use the default`,
        details: { param: key, expected, got: jsonType(value) },
      });
    }
  }
  return record;
}

/** Triggers a run of a stored DAG (no user code imported), its conf checked against the params. */
export async function triggerStoredDag(store: Store, dagId: string, opts: TriggerOptions & { conf?: unknown } = {}): Promise<DagRunRow> {
  const { dag } = await getStoredDag(store, dagId);
  const conf = validateConf(dag, opts.conf ?? {});
  return triggerRun(store, dagShape(dag), { ...opts, conf });
}

/** A backfill creates at most this many runs: a longer range is almost always a typo in a date. */
export const MAX_BACKFILL_RUNS = 1000;

export interface BackfillOptions {
  start: Date;
  end: Date;
  conf?: unknown;
}

/**
 * Airflow's backfill: one queued run (type "backfill") per schedule interval whose logical date falls in
 * [start, end], skipping logical dates that already have a run of any type. The runs start as the scheduler
 * starts queued runs, oldest first within maxActiveRuns; they do not move the schedule's own position.
 */
export async function backfillRuns(store: Store, dagId: string, opts: BackfillOptions): Promise<{ created: DagRunRow[]; existing: number }> {
  const { dag } = await getStoredDag(store, dagId);
  for (const [what, date] of [["start", opts.start], ["end", opts.end]] as const) {
    if (Number.isNaN(date.getTime())) {
      throw new VenvflowError("invalid_backfill_range", `the backfill ${what} for DAG "${dagId}" is not a valid date`, { fix: "pass an ISO-8601 date such as 2026-01-31T00:00:00Z" });
    }
  }
  if (opts.start > opts.end) {
    throw new VenvflowError("invalid_backfill_range", `the backfill start ${opts.start.toISOString()} of DAG "${dagId}" is after its end ${opts.end.toISOString()}`, {
      fix: "pass a start at or before the end",
    });
  }
  const conf = validateConf(dag, opts.conf ?? {});
  const shape = dagShape(dag);
  const intervals = scheduleIntervalsBetween(shape, opts.start, opts.end, MAX_BACKFILL_RUNS + 1);
  if (intervals === null) {
    throw new VenvflowError("backfill_without_schedule", `DAG "${dagId}" has no cron schedule (schedule ${JSON.stringify(dag.schedule)}), so there are no intervals to backfill`, {
      fix: "give the DAG a cron schedule (e.g. \"@daily\"), or trigger single runs with `venvflow trigger --logical-date`",
    });
  }
  if (intervals.length > MAX_BACKFILL_RUNS) {
    throw new VenvflowError("backfill_range_too_long", `backfilling DAG "${dagId}" from ${opts.start.toISOString()} to ${opts.end.toISOString()} would create more than ${MAX_BACKFILL_RUNS} runs`, {
      fix: `split the range into parts of at most ${MAX_BACKFILL_RUNS} schedule intervals`,
    });
  }
  const runId = (start: Date): string => `backfill__${start.toISOString()}`;
  return store.writeTransaction(async (trx, notify) => {
    // Under the DAG's lock, like the scheduler's run creation: two backfills never create the same run.
    const at = await store.adapter.lockDag(trx, dagId);
    const taken = new Set<string>();
    if (intervals.length > 0) {
      const rows = await trx
        .selectFrom("dag_run")
        .select(["run_id", "logical_date"])
        .where("dag_id", "=", dagId)
        .where((eb) =>
          eb.or([
            eb.and([eb("logical_date", ">=", opts.start.toISOString()), eb("logical_date", "<=", opts.end.toISOString())]),
            eb("run_id", "in", intervals.map((i) => runId(i.start))),
          ]),
        )
        .execute();
      for (const row of rows) taken.add(row.logical_date).add(row.run_id);
    }
    const created: DagRunRow[] = [];
    for (const i of intervals) {
      if (taken.has(i.start.toISOString()) || taken.has(runId(i.start))) continue;
      created.push(await createRun(trx, { dagId, runId: runId(i.start), runType: "backfill", logicalDate: i.start, dataIntervalStart: i.start, dataIntervalEnd: i.end, conf, tasks: runTasks(shape) }, at));
    }
    if (created.length > 0) await notify(`run:${dagId}`);
    return { created, existing: intervals.length - created.length };
  });
}

async function requireRun(store: Store, dagId: string, runId: string): Promise<DagRunRow> {
  const run = await getRun(store.db, dagId, runId);
  if (!run) throw new VenvflowError("run_not_found", `no run "${runId}" of DAG "${dagId}" in ${store.url}`, { fix: "list runs with `venvflow runs list`" });
  return run;
}

/**
 * Cancels a queued or running run (Airflow's "mark run failed"): the run fails, running tries fail (their
 * workers abort at the next heartbeat), and task instances that had not finished are skipped.
 */
export async function cancelRun(store: Store, dagId: string, runId: string): Promise<{ cancelled: boolean; state: DagRunRow["state"] }> {
  const run = await requireRun(store, dagId, runId);
  return store.writeTransaction(async (trx, notify) => {
    const at = await store.adapter.lockDag(trx, dagId);
    const r = await trx.updateTable("dag_run").set({ state: "failed", ended_at: at }).where("id", "=", run.id).where("state", "in", ["queued", "running"]).executeTakeFirst();
    if (r.numUpdatedRows === 0n) return { cancelled: false, state: run.state };
    const unlock = { ended_at: at, locked_by: null, locked_at: null, next_retry_at: null, updated_at: at };
    await trx.updateTable("task_instance").set({ state: "failed", ...unlock }).where("dag_id", "=", dagId).where("run_id", "=", runId).where("state", "=", "running").execute();
    await trx
      .updateTable("task_instance")
      .set({ state: "skipped", ...unlock })
      .where("dag_id", "=", dagId)
      .where("run_id", "=", runId)
      .where("state", "in", ["none", "scheduled", "queued", "up_for_retry"])
      .execute();
    await notify(`run:${dagId}`);
    return { cancelled: true, state: "failed" };
  });
}

export interface RelativesOptions {
  /** Also every task downstream of the chosen ones (transitively). */
  downstream?: boolean;
  /** Also every task upstream of the chosen ones (transitively). */
  upstream?: boolean;
  /**
   * Only these map indexes of the chosen tasks, which must be mapped (as Airflow clears or marks one mapped
   * instance); the relatives `downstream` and `upstream` add are taken whole.
   */
  mapIndexes?: readonly number[];
}

type ChosenRow = Pick<TaskInstanceRow, "id" | "task_id" | "map_index" | "try_number" | "state">;

/** The task instances of a run that `taskIds`, their relatives and `mapIndexes` choose. */
async function chosenInstances(trx: Kysely<Database>, dag: SerializedDag, runId: string, taskIds: readonly string[], opts: RelativesOptions): Promise<ChosenRow[]> {
  const ids = withRelatives(dag, taskIds, opts);
  const rows = await trx.selectFrom("task_instance").select(["id", "task_id", "map_index", "try_number", "state"]).where("dag_id", "=", dag.dagId).where("run_id", "=", runId).where("task_id", "in", ids).execute();
  if (opts.mapIndexes === undefined || opts.mapIndexes.length === 0) return rows;
  const wanted = new Set(opts.mapIndexes);
  for (const taskId of taskIds) {
    const indexes = rows.filter((row) => row.task_id === taskId).map((row) => row.map_index);
    const missing = [...wanted].filter((index) => !indexes.includes(index));
    if (missing.length === 0) continue;
    const mapped = indexes.some((index) => index >= 0);
    throw new VenvflowError("map_index_not_found", `task "${taskId}" of run "${runId}" has no map index ${missing.join(", ")}`, {
      fix: mapped ? `its map indexes are 0 to ${Math.max(...indexes)}` : "the task is not mapped: leave out the map index",
    });
  }
  const named = new Set(taskIds);
  return rows.filter((row) => !named.has(row.task_id) || wanted.has(row.map_index));
}

/** The chosen tasks plus, as asked, their transitive downstream and upstream, in the DAG's topological order. */
export function withRelatives(dag: SerializedDag, taskIds: readonly string[], opts: RelativesOptions): string[] {
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  for (const id of taskIds) {
    if (!byId.has(id)) throw new VenvflowError("task_not_found", `DAG "${dag.dagId}" has no task "${id}"`, { fix: `use one of: ${[...byId.keys()].join(", ")}` });
  }
  const chosen = new Set(taskIds);
  const walk = (direction: "upstreamTaskIds" | "downstreamTaskIds"): void => {
    const stack = [...taskIds];
    while (stack.length > 0) {
      for (const next of byId.get(stack.pop() as string)?.[direction] ?? []) {
        if (!chosen.has(next)) {
          chosen.add(next);
          stack.push(next);
        }
      }
    }
  };
  if (opts.downstream) walk("downstreamTaskIds");
  if (opts.upstream) walk("upstreamTaskIds");
  return dag.tasks.map((t) => t.taskId).filter((id) => chosen.has(id));
}

/**
 * Clears task instances so they run again (Airflow's clear): state back to none, their stored results deleted,
 * each given its retries again (max_tries = tries so far + retries), and a finished run back to queued so the
 * scheduler re-evaluates it.
 */
export async function clearTaskInstances(store: Store, dagId: string, runId: string, taskIds: readonly string[], opts: RelativesOptions = {}): Promise<string[]> {
  const { dag } = await getStoredDag(store, dagId);
  const run = await requireRun(store, dagId, runId);
  withRelatives(dag, taskIds, opts); // unknown task ids fail before the transaction
  const retries = new Map(dag.tasks.map((t) => [t.taskId, t.retries]));
  return store.writeTransaction(async (trx, notify) => {
    const at = await store.adapter.lockDag(trx, dagId);
    const rows = await chosenInstances(trx, dag, runId, taskIds, opts);
    for (const row of rows) {
      await trx
        .updateTable("task_instance")
        .set({
          state: "none",
          max_tries: row.try_number + (retries.get(row.task_id) ?? 0),
          queued_at: null,
          started_at: null,
          ended_at: null,
          duration_ms: null,
          locked_by: null,
          locked_at: null,
          next_retry_at: null,
          error: null,
          updated_at: at,
        })
        .where("id", "=", row.id)
        .execute();
      await trx.deleteFrom("xcom").where("dag_id", "=", dagId).where("run_id", "=", runId).where("task_id", "=", row.task_id).where("map_index", "=", row.map_index).execute();
    }
    if (rows.length > 0) {
      // A finished run runs again; the cleared tasks are decided at once from their upstream's states.
      await trx.updateTable("dag_run").set({ state: "running", ended_at: null }).where("id", "=", run.id).where("state", "in", ["success", "failed"]).execute();
      await notifyAll(notify, dagId, await resettleRun(trx, { store, dag: dagShape(dag), runId, at }));
    }
    return rows.map((r) => r.task_id).filter((id, i, all) => all.indexOf(id) === i);
  });
}

/**
 * Marks task instances success or failed (Airflow's mark success / mark failed), with their relatives as asked.
 * Task instances already in that state are left alone. An unfinished run is left to the scheduler; a finished
 * one goes back to running so the scheduler settles the rest and recomputes its state.
 */
export async function markTaskInstances(
  store: Store,
  dagId: string,
  runId: string,
  taskIds: readonly string[],
  state: Extract<TaskState, "success" | "failed">,
  opts: RelativesOptions = {},
): Promise<string[]> {
  const { dag } = await getStoredDag(store, dagId);
  const run = await requireRun(store, dagId, runId);
  withRelatives(dag, taskIds, opts); // unknown task ids fail before the transaction
  return store.writeTransaction(async (trx, notify) => {
    const at = await store.adapter.lockDag(trx, dagId);
    const chosen = (await chosenInstances(trx, dag, runId, taskIds, opts)).filter((row) => row.state !== state);
    const changed: Array<{ task_id: string }> = [];
    for (const part of chunks(chosen.map((row) => row.id))) {
      changed.push(
        ...(await trx
          .updateTable("task_instance")
          .set({ state, ended_at: at, locked_by: null, locked_at: null, next_retry_at: null, updated_at: at })
          .where("id", "in", part)
          .where("state", "!=", state)
          .returning("task_id")
          .execute()),
      );
    }
    if (changed.length > 0) {
      // A finished run is reopened; what the marks decide downstream (and the run's end) is settled now.
      if (run.state === "success" || run.state === "failed") await trx.updateTable("dag_run").set({ state: "running", ended_at: null }).where("id", "=", run.id).execute();
      await notifyAll(notify, dagId, await resettleRun(trx, { store, dag: dagShape(dag), runId, at }));
    }
    return changed.map((r) => r.task_id).filter((id, i, all) => all.indexOf(id) === i);
  });
}
