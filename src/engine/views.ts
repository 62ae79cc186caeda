/** The read models of the server's API (src/server): store rows turned into what a page shows, times as ISO strings. */
import { Cron } from "croner";
import type { TaskError } from "../dag/model.ts";
import { getRun, listRuns, taskInstances, taskTries } from "./queries.ts";
import { getStoredDag, listImportErrors, listStoredDags, type StoredDag } from "./serialized-dags.ts";
import { readLogLines } from "../runtime/logs.ts";
import type { LogLine } from "../runtime/types.ts";
import type { Store } from "../store/index.ts";
import type { DagRunRow, RunState, TaskInstanceRow, TaskState } from "../store/schema.ts";
import { displayedValue } from "../store/xcom-display.ts";
import { VenvflowError } from "../util/errors.ts";

const parseError = (text: string | null): TaskError | null => (text === null ? null : (JSON.parse(text) as TaskError));

export function runView(run: DagRunRow): Record<string, unknown> {
  return {
    dagId: run.dag_id,
    runId: run.run_id,
    state: run.state,
    runType: run.run_type,
    logicalDate: run.logical_date,
    dataIntervalStart: run.data_interval_start,
    dataIntervalEnd: run.data_interval_end,
    conf: JSON.parse(run.conf) as unknown,
    queuedAt: run.queued_at,
    startedAt: run.started_at,
    endedAt: run.ended_at,
  };
}

/** The next time a cron schedule fires (a scheduled run is created then); null for manual or unparsable ones. */
function nextRunAt(stored: StoredDag): string | null {
  const { schedule, timezone } = stored.dag;
  if (schedule === null || schedule === "@once" || schedule === "@continuous" || stored.paused) return null;
  try {
    return new Cron(schedule, { timezone, paused: true }).nextRun()?.toISOString() ?? null;
  } catch {
    return null;
  }
}

export async function dagList(store: Store): Promise<Record<string, unknown>> {
  const [stored, errors] = await Promise.all([listStoredDags(store), listImportErrors(store)]);
  const errorByFile = new Map(errors.map((e) => [e.file, e]));
  const dags = [];
  for (const s of stored) {
    const recent = await listRuns(store, { dagId: s.dag.dagId, limit: 10 });
    const loadError = errorByFile.get(s.dag.fileloc);
    dags.push({
      dagId: s.dag.dagId,
      description: s.dag.description,
      fileloc: s.dag.fileloc,
      schedule: s.dag.schedule,
      tags: s.dag.tags,
      taskCount: s.dag.tasks.length,
      paused: s.paused,
      nextRunAt: nextRunAt(s),
      recentRuns: recent.map((r) => ({ runId: r.run_id, state: r.state, logicalDate: r.logical_date })),
      loadError: loadError ? { code: loadError.code, message: loadError.message, at: loadError.at } : null,
    });
  }
  return { dags, importErrors: errors.map((e) => ({ file: e.file, code: e.code, message: e.message, at: e.at })) };
}

export async function dagDetail(store: Store, dagId: string): Promise<Record<string, unknown>> {
  const s = await getStoredDag(store, dagId);
  const loadError = (await listImportErrors(store)).find((e) => e.file === s.dag.fileloc) ?? null;
  return { ...s.dag, paused: s.paused, removedAt: s.removedAt, parsedAt: s.parsedAt, nextRunAt: nextRunAt(s), loadError };
}

/**
 * Airflow's summary state of a mapped task's instances: the first state in this order that any instance is in
 * (a failure shows before progress, progress before a finished success).
 */
const GROUP_STATE_ORDER: readonly TaskState[] = ["failed", "upstream_failed", "up_for_retry", "queued", "scheduled", "running", "none", "skipped", "success"];

export interface MappedSummary {
  /** The group's state (`groupState` of its instances). */
  state: TaskState;
  count: number;
  /** How many instances are in each state (only states that occur). */
  states: Partial<Record<TaskState, number>>;
  /** The highest try of any instance. */
  tryNumber: number;
}

export function groupState(states: readonly TaskState[]): TaskState {
  return GROUP_STATE_ORDER.find((s) => states.includes(s)) ?? "none";
}

/** The expanded (map_index ≥ 0) task instances of one run, summarized per task id. */
export function summarizeMapped(rows: readonly Pick<TaskInstanceRow, "task_id" | "map_index" | "state" | "try_number">[]): Map<string, MappedSummary> {
  const out = new Map<string, MappedSummary>();
  const states = new Map<string, TaskState[]>();
  for (const ti of rows) {
    if (ti.map_index < 0) continue;
    const summary = out.get(ti.task_id) ?? { state: "none", count: 0, states: {}, tryNumber: 0 };
    out.set(ti.task_id, summary);
    summary.count++;
    summary.states[ti.state] = (summary.states[ti.state] ?? 0) + 1;
    summary.tryNumber = Math.max(summary.tryNumber, ti.try_number);
    states.set(ti.task_id, [...(states.get(ti.task_id) ?? []), ti.state]);
  }
  for (const [taskId, summary] of out) summary.state = groupState(states.get(taskId) ?? []);
  return out;
}

interface GridCell {
  state: TaskState;
  tryNumber: number;
  /** Present for a mapped task: `state` is then the group's and `tryNumber` the highest. */
  mapped?: { count: number; states: Partial<Record<TaskState, number>> };
}

/** Runs × tasks: the latest runs (newest first) and each task's state and try, a mapped task's by count. */
export async function dagGrid(store: Store, dagId: string, limit: number): Promise<Record<string, unknown>> {
  const { dag } = await getStoredDag(store, dagId);
  const runs = await listRuns(store, { dagId, limit });
  const tis =
    runs.length === 0
      ? []
      : await store.db
          .selectFrom("task_instance")
          .select(["run_id", "task_id", "map_index", "state", "try_number"])
          .where("dag_id", "=", dagId)
          .where("run_id", "in", runs.map((r) => r.run_id))
          .execute();
  const rowsByRun = new Map<string, typeof tis>();
  for (const ti of tis) rowsByRun.set(ti.run_id, [...(rowsByRun.get(ti.run_id) ?? []), ti]);
  const cellsOf = (rows: typeof tis): Record<string, GridCell> => {
    const cells: Record<string, GridCell> = {};
    for (const ti of rows) if (ti.map_index < 0) cells[ti.task_id] = { state: ti.state, tryNumber: ti.try_number };
    for (const [taskId, m] of summarizeMapped(rows)) cells[taskId] = { state: m.state, tryNumber: m.tryNumber, mapped: { count: m.count, states: m.states } };
    return cells;
  };
  return {
    dagId,
    tasks: dag.tasks.map((t) => ({ taskId: t.taskId, kind: t.kind, upstreamTaskIds: t.upstreamTaskIds, mapped: t.mapping !== null })),
    runs: runs.map((r) => ({ ...runView(r), taskInstances: cellsOf(rowsByRun.get(r.run_id) ?? []) })),
  };
}

export async function runList(store: Store, opts: { dagId?: string; state?: RunState; limit?: number }): Promise<Record<string, unknown>[]> {
  return (await listRuns(store, opts)).map(runView);
}

export async function requireRun(store: Store, dagId: string, runId: string): Promise<DagRunRow> {
  const run = await getRun(store.db, dagId, runId);
  if (!run) throw new VenvflowError("run_not_found", `no run "${runId}" of DAG "${dagId}"`, { fix: "pick a run from the DAG's run list" });
  return run;
}

const EXECUTING = /^Executing .* \((?:environment ([0-9a-f]+)|external interpreter)\)$/;
const ENV_PHASE = /^environment ([0-9a-f]+) (\w+):/;

/** What a try's log says about its environment: which one, whether it was cached, and when the task itself began. */
export interface TryEnvironment {
  /** 12-hex prefix of the environment key; null for an external interpreter or a non-Python task. */
  envKeyPrefix: string | null;
  /** True when the environment was already built (a cache hit), false when this try built it, null if unknown. */
  cacheHit: boolean | null;
  envStartedAt: string | null;
  executionStartedAt: string | null;
}

export function tryEnvironment(lines: readonly LogLine[]): TryEnvironment {
  const out: TryEnvironment = { envKeyPrefix: null, cacheHit: null, envStartedAt: null, executionStartedAt: null };
  for (const line of lines) {
    if (line.stream !== "system") continue;
    const phase = ENV_PHASE.exec(line.msg);
    if (phase) {
      out.envStartedAt ??= line.ts;
      out.envKeyPrefix = phase[1] as string;
      if (phase[2] === "cached") out.cacheHit ??= true;
      else if (phase[2] === "create" || phase[2] === "install") out.cacheHit = false;
      continue;
    }
    const exec = EXECUTING.exec(line.msg);
    if (exec) {
      out.executionStartedAt = line.ts;
      if (exec[1]) out.envKeyPrefix = exec[1];
    }
  }
  return out;
}

function tiView(ti: TaskInstanceRow): Record<string, unknown> {
  return {
    taskId: ti.task_id,
    /** -1 for an unmapped task (Airflow's convention), else the instance's index in its task's expansion. */
    mapIndex: ti.map_index,
    state: ti.state,
    tryNumber: ti.try_number,
    maxTries: ti.max_tries,
    queuedAt: ti.queued_at,
    startedAt: ti.started_at,
    endedAt: ti.ended_at,
    durationMs: ti.duration_ms,
    hostname: ti.hostname,
    nextRetryAt: ti.next_retry_at,
    error: parseError(ti.error),
  };
}

/**
 * A run with its task instances in the DAG's order (a mapped task's by map index), each with its waterfall
 * segments (queued, environment, execution), and `mapped`: each mapped task's group state and counts.
 */
export async function runDetail(store: Store, dagId: string, runId: string): Promise<Record<string, unknown>> {
  const run = await requireRun(store, dagId, runId);
  const stored = await getStoredDag(store, dagId).catch(() => null);
  const order = new Map((stored?.dag.tasks ?? []).map((t, i) => [t.taskId, i]));
  const tis = (await taskInstances(store.db, dagId, runId)).sort((a, b) => (order.get(a.task_id) ?? 1e9) - (order.get(b.task_id) ?? 1e9));
  const tasks = [];
  for (const ti of tis) {
    const env = tryEnvironment(readLogLines(ti.log_path));
    tasks.push({ ...tiView(ti), environment: env });
  }
  return { ...runView(run), taskInstances: tasks, mapped: Object.fromEntries(summarizeMapped(tis)) };
}

/**
 * One task instance: `mapIndex` picks an instance of a mapped task (required for one, refused for an unmapped
 * one, as `venvflow logs --map-index` does).
 */
export async function requireTaskInstance(store: Store, dagId: string, runId: string, taskId: string, mapIndex?: number): Promise<TaskInstanceRow> {
  const instances = await store.db.selectFrom("task_instance").selectAll().where("dag_id", "=", dagId).where("run_id", "=", runId).where("task_id", "=", taskId).orderBy("map_index").execute();
  if (instances.length === 0) throw new VenvflowError("task_not_found", `run "${runId}" of DAG "${dagId}" has no task "${taskId}"`, { fix: "pick a task from the run's task list" });
  const mapped = instances.some((t) => t.map_index >= 0);
  if (mapped && mapIndex === undefined) {
    throw new VenvflowError("map_index_required", `task "${taskId}" of run "${runId}" is mapped into ${instances.length} instances`, {
      fix: `add ?mapIndex=N (0 to ${instances.length - 1})`,
      details: { mapIndexes: instances.map((t) => t.map_index), states: instances.map((t) => t.state) },
    });
  }
  const ti = instances.find((t) => t.map_index === (mapIndex ?? -1));
  if (!ti) {
    throw new VenvflowError("map_index_not_found", `task "${taskId}" of run "${runId}" has no map index ${mapIndex}`, {
      fix: mapped ? `its map indexes are 0 to ${instances.length - 1}` : "the task is not mapped: leave out mapIndex",
    });
  }
  return ti;
}

export async function taskDetail(store: Store, dagId: string, runId: string, taskId: string, mapIndex?: number): Promise<Record<string, unknown>> {
  await requireRun(store, dagId, runId);
  const ti = await requireTaskInstance(store, dagId, runId, taskId, mapIndex);
  const stored = await getStoredDag(store, dagId).catch(() => null);
  const task = stored?.dag.tasks.find((t) => t.taskId === taskId) ?? null;
  const xcoms = await store.db.selectFrom("xcom").select(["key", "value", "display_value", "created_at"]).where("dag_id", "=", dagId).where("run_id", "=", runId).where("task_id", "=", taskId).where("map_index", "=", ti.map_index).orderBy("key").execute();
  const tries = await taskTries(store.db, dagId, runId, taskId, ti.map_index);
  const returnValue = xcoms.find((x) => x.key === "return_value");
  return {
    ...tiView(ti),
    dagId,
    runId,
    task,
    environment: tryEnvironment(readLogLines(ti.log_path)),
    hasReturnValue: returnValue !== undefined,
    returnValue: returnValue ? displayedValue(returnValue) : null,
    xcoms: xcoms.map((x) => ({ key: x.key, value: displayedValue(x), createdAt: x.created_at })),
    tries: tries.map((t) => ({
      tryNumber: t.try_number,
      state: t.state,
      startedAt: t.started_at,
      endedAt: t.ended_at,
      durationMs: t.duration_ms,
      hostname: t.hostname,
      error: parseError(t.error),
    })),
  };
}

/** The log path of a try (default: the current one) of a task instance (`mapIndex` for a mapped task's). */
export async function tryLogPath(store: Store, dagId: string, runId: string, taskId: string, tryNumber?: number, mapIndex?: number): Promise<{ path: string | null; tryNumber: number; finished: () => Promise<boolean> }> {
  const ti = await requireTaskInstance(store, dagId, runId, taskId, mapIndex);
  const wanted = tryNumber ?? ti.try_number;
  const isCurrent = wanted === ti.try_number;
  let logPath = isCurrent ? ti.log_path : null;
  if (!isCurrent) {
    const past = (await taskTries(store.db, dagId, runId, taskId, ti.map_index)).find((t) => t.try_number === wanted);
    if (!past) throw new VenvflowError("try_not_found", `task "${taskId}" of run "${runId}" has no try ${wanted}`, { fix: `tries so far: 1 to ${ti.try_number}` });
    logPath = past.log_path;
  }
  return {
    path: logPath,
    tryNumber: wanted,
    finished: async () => {
      if (!isCurrent) return true;
      const now = await store.db.selectFrom("task_instance").select(["state", "try_number"]).where("id", "=", ti.id).executeTakeFirst();
      return !now || now.try_number !== wanted || !["running", "queued"].includes(now.state);
    },
  };
}
