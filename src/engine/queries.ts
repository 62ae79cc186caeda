/** Read-only views of the store for the engine, the CLI (and later the server) and tests. */
import { sql, type Kysely } from "kysely";
import type { DagDefinition, TaskError, XComRef } from "../dag/model.ts";
import type { Store } from "../store/index.ts";
import type { Database, DagRunRow, RunState, TaskInstanceRow, TaskTryRow } from "../store/schema.ts";
import { displayedValue } from "../store/xcom-display.ts";
import { VenvflowError } from "../util/errors.ts";
import type { RunSummary, TaskSummary } from "./types.ts";

export const xcomKey = (ref: Pick<XComRef, "taskId" | "key">): string => `${ref.taskId}\u0000${ref.key}`;

export async function getRun(db: Kysely<Database>, dagId: string, runId: string): Promise<DagRunRow | undefined> {
  return db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).executeTakeFirst();
}

/** Finds a run by run id alone (the CLI's `logs RUN_ID`); errors when the id is unknown or ambiguous. */
export async function findRun(store: Store, runId: string, dagId?: string): Promise<DagRunRow> {
  const rows = await store.db
    .selectFrom("dag_run")
    .selectAll()
    .where("run_id", "=", runId)
    .$if(dagId !== undefined, (q) => q.where("dag_id", "=", dagId as string))
    .execute();
  if (rows.length === 1) return rows[0] as DagRunRow;
  if (rows.length === 0) {
    throw new VenvflowError("run_not_found", `no run "${runId}"${dagId ? ` of DAG "${dagId}"` : ""} in ${store.url}`, {
      fix: "list runs with `venvflow runs list`",
    });
  }
  throw new VenvflowError("run_ambiguous", `run id "${runId}" exists for several DAGs: ${rows.map((r) => r.dag_id).join(", ")}`, {
    fix: "pass --dag DAG_ID",
  });
}

export async function listRuns(store: Store, opts: { dagId?: string; state?: RunState; limit?: number } = {}): Promise<DagRunRow[]> {
  return store.db
    .selectFrom("dag_run")
    .selectAll()
    .$if(opts.dagId !== undefined, (q) => q.where("dag_id", "=", opts.dagId as string))
    .$if(opts.state !== undefined, (q) => q.where("state", "=", opts.state as RunState))
    .orderBy("queued_at", "desc")
    .orderBy("id")
    .limit(opts.limit ?? 50)
    .execute();
}

/** The most recent run of a DAG by logical date (ties: the later-created). */
export async function latestRun(db: Kysely<Database>, dagId: string): Promise<DagRunRow | undefined> {
  return db.selectFrom("dag_run").selectAll().where("dag_id", "=", dagId).orderBy("logical_date", "desc").orderBy("queued_at", "desc").limit(1).executeTakeFirst();
}

export async function taskInstances(db: Kysely<Database>, dagId: string, runId: string): Promise<TaskInstanceRow[]> {
  return db.selectFrom("task_instance").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).orderBy("task_id").orderBy("map_index").execute();
}

export async function taskTries(db: Kysely<Database>, dagId: string, runId: string, taskId: string, mapIndex = -1): Promise<TaskTryRow[]> {
  return db
    .selectFrom("task_try")
    .selectAll()
    .where("dag_id", "=", dagId)
    .where("run_id", "=", runId)
    .where("task_id", "=", taskId)
    .where("map_index", "=", mapIndex)
    .orderBy("try_number")
    .execute();
}

/**
 * The stored XComs of a run for the given refs, keyed by `xcomKey`; refs with nothing stored are absent. A ref
 * to a mapped task yields the list of its instances' values in map-index order (Airflow's lazy sequence: the
 * instances that stored nothing are left out).
 */
export async function loadXComs(db: Kysely<Database>, dag: DagDefinition, runId: string, refs: readonly XComRef[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  if (refs.length === 0) return out;
  const wanted = new Set(refs.map(xcomKey));
  const rows = await db
    .selectFrom("xcom")
    .select(["task_id", "key", "map_index", "value"])
    .where("dag_id", "=", dag.dagId)
    .where("run_id", "=", runId)
    .where("task_id", "in", [...new Set(refs.map((r) => r.taskId))])
    .orderBy("task_id")
    .orderBy("key")
    .orderBy("map_index")
    .execute();
  for (const row of rows) {
    const key = xcomKey({ taskId: row.task_id, key: row.key });
    if (!wanted.has(key)) continue;
    const value: unknown = JSON.parse(row.value);
    if (dag.tasks.get(row.task_id)?.mapping) {
      const list = (out.get(key) as unknown[] | undefined) ?? [];
      list.push(value);
      out.set(key, list);
    } else {
      out.set(key, value);
    }
  }
  return out;
}

export interface TaskLogLocation {
  dagId: string;
  runId: string;
  path: string;
  tryNumber: number;
  /** Whether that try is still running (its log may grow). */
  live(): Promise<boolean>;
  /** The try's error, end and host, once it has ended. */
  outcome(): Promise<{ error: TaskError | null; endedAt: string | null; hostname: string | null }>;
}

/** Why a task that never started has no log, by its state. */
function neverRan(taskId: string, runId: string, state: string): VenvflowError {
  const show = `venvflow runs show ${runId}`;
  if (state === "skipped") return new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" was skipped before it started (by a branch, a trigger rule or a skipped upstream task), so it has no log`, { fix: `see which upstream task decided it with: ${show}` });
  if (state === "upstream_failed") return new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" never ran because an upstream task failed, so it has no log`, { fix: `find the failed upstream task with: ${show}` });
  return new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" has not started yet (state ${state}), so it has no log`, { fix: `wait until it runs (follow it with --follow once it is running), or see the run with: ${show}` });
}

/**
 * Where a try's log is (`venvflow logs RUN TASK [--try N] [--map-index I]`): the last try unless one is named. `runRef`
 * is a run id, a unique part of one, or "latest".
 */
export async function findTaskLog(store: Store, opts: { runRef: string; taskId: string; dagId?: string; tryNumber?: number; mapIndex?: number }): Promise<TaskLogLocation> {
  const { taskId } = opts;
  const run = await resolveRunRef(store, opts.runRef, opts.dagId);
  const runId = run.run_id;
  const instances = await store.db.selectFrom("task_instance").selectAll().where("dag_id", "=", run.dag_id).where("run_id", "=", run.run_id).where("task_id", "=", taskId).orderBy("map_index").execute();
  if (instances.length === 0) throw new VenvflowError("task_not_found", `run "${runId}" of DAG "${run.dag_id}" has no task "${taskId}"`, { fix: `see its tasks with: venvflow runs show ${runId}` });
  const mapped = instances.some((t) => t.map_index >= 0);
  if (mapped && opts.mapIndex === undefined) {
    throw new VenvflowError("map_index_required", `task "${taskId}" of run "${runId}" is mapped into ${instances.length} instances`, {
      fix: `pass --map-index N (0 to ${instances.length - 1})`,
    });
  }
  const ti = instances.find((t) => t.map_index === (opts.mapIndex ?? -1));
  if (!ti) {
    throw new VenvflowError("map_index_not_found", `task "${taskId}" of run "${runId}" has no map index ${opts.mapIndex}`, {
      fix: mapped ? `its map indexes are 0 to ${instances.length - 1}` : "the task is not mapped: leave out --map-index",
    });
  }
  if (ti.try_number === 0) throw neverRan(taskId, runId, ti.state);
  const wanted = opts.tryNumber ?? ti.try_number;
  const isCurrent = wanted === ti.try_number && ti.log_path !== null;
  const pastTry = async () => (await taskTries(store.db, run.dag_id, runId, taskId, ti.map_index)).find((t) => t.try_number === wanted);
  const past = isCurrent ? undefined : await pastTry();
  const logPath = isCurrent ? ti.log_path : past?.log_path;
  if (!logPath) {
    throw new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" has no try ${wanted}`, { fix: `its tries are 1 to ${ti.try_number}` });
  }
  const live = async (): Promise<boolean> => {
    const now = await store.db.selectFrom("task_instance").select(["state", "try_number"]).where("id", "=", ti.id).executeTakeFirst();
    return now?.state === "running" && now.try_number === wanted;
  };
  const outcome = async (): Promise<{ error: TaskError | null; endedAt: string | null; hostname: string | null }> => {
    const row = await pastTry();
    return { error: row?.error ? (JSON.parse(row.error) as TaskError) : null, endedAt: row?.ended_at ?? null, hostname: row?.hostname ?? null };
  };
  return { dagId: run.dag_id, runId, path: logPath, tryNumber: wanted, live, outcome };
}

export async function summarizeRun(store: Store, dagId: string, runId: string, dag?: DagDefinition): Promise<RunSummary> {
  const run = await getRun(store.db, dagId, runId);
  if (!run) throw new VenvflowError("run_not_found", `no run "${runId}" of DAG "${dagId}" in ${store.url}`, { fix: "list runs with `venvflow runs list`" });
  const tis = await taskInstances(store.db, dagId, runId);
  const returns = await store.db
    .selectFrom("xcom")
    .select(["task_id", "map_index", "value", "display_value"])
    .where("dag_id", "=", dagId)
    .where("run_id", "=", runId)
    .where("key", "=", "return_value")
    .execute();
  const returnByInstance = new Map(returns.map((r) => [`${r.task_id}\u0000${r.map_index}`, displayedValue(r)]));
  if (dag) {
    const order = new Map([...dag.tasks.keys()].map((id, i) => [id, i]));
    tis.sort((a, b) => (order.get(a.task_id) ?? Infinity) - (order.get(b.task_id) ?? Infinity) || a.map_index - b.map_index);
  }
  const date = (s: string | null): Date | null => (s === null ? null : new Date(s));
  const tasks: TaskSummary[] = tis.map((ti) => ({
    taskId: ti.task_id,
    mapIndex: ti.map_index,
    state: ti.state,
    tryNumber: ti.try_number,
    maxTries: ti.max_tries,
    startedAt: date(ti.started_at),
    endedAt: date(ti.ended_at),
    durationMs: ti.duration_ms,
    returnValue: returnByInstance.get(`${ti.task_id}\u0000${ti.map_index}`),
    error: ti.error === null ? null : (JSON.parse(ti.error) as TaskError),
    logPath: ti.log_path,
  }));
  return {
    dagId,
    runId,
    state: run.state,
    runType: run.run_type,
    logicalDate: new Date(run.logical_date),
    dataIntervalStart: new Date(run.data_interval_start),
    dataIntervalEnd: new Date(run.data_interval_end),
    conf: JSON.parse(run.conf) as Record<string, unknown>,
    startedAt: date(run.started_at),
    endedAt: date(run.ended_at),
    durationMs: run.started_at && run.ended_at ? Date.parse(run.ended_at) - Date.parse(run.started_at) : null,
    tasks,
  };
}

/**
 * The run a person means: "latest" (the newest queued, of `dagId` if given), an exact run id, or a unique part of
 * one (e.g. `10:48:26` of `manual__2026-11-27T10:48:26.128Z`).
 */
export async function resolveRunRef(store: Store, ref: string, dagId?: string): Promise<DagRunRow> {
  if (ref === "latest") {
    const [newest] = await listRuns(store, { limit: 1, ...(dagId === undefined ? {} : { dagId }) });
    if (!newest) throw new VenvflowError("run_not_found", `no runs${dagId ? ` of DAG "${dagId}"` : ""} in ${store.url}`, { fix: "start one with `venvflow run FILE`" });
    return newest;
  }
  const exact = await store.db
    .selectFrom("dag_run")
    .select("id")
    .where("run_id", "=", ref)
    .$if(dagId !== undefined, (q) => q.where("dag_id", "=", dagId as string))
    .executeTakeFirst();
  if (exact) return findRun(store, ref, dagId);
  const like = `%${ref.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const partial = await store.db
    .selectFrom("dag_run")
    .selectAll()
    .where(sql<boolean>`run_id like ${like} escape '\\'`)
    .$if(dagId !== undefined, (q) => q.where("dag_id", "=", dagId as string))
    .orderBy("queued_at", "desc")
    .limit(6)
    .execute();
  if (partial.length === 1) return partial[0] as DagRunRow;
  if (partial.length === 0) return findRun(store, ref, dagId);
  throw new VenvflowError("run_ambiguous", `"${ref}" is part of several run ids: ${partial.slice(0, 5).map((r) => `${r.dag_id}/${r.run_id}`).join(", ")}${partial.length > 5 ? ", …" : ""}`, {
    fix: "give more of the run id, add --dag DAG_ID, or use --latest",
  });
}
