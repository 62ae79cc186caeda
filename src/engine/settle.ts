/**
 * What a finished task instance can change, and nothing more: its downstream rows' upstream counters, the
 * trigger rules of those still in state `none` (cascading the skips and upstream failures they decide, and
 * expanding mapped tasks), the DAG's queue within maxActiveTasks, and whether the run is now finished. Each step
 * is an indexed read or write of a bounded number of rows, so a task's scheduling cost does not grow with the
 * size of its run.
 */
import { sql, type Kysely } from "kysely";
import type { DagDefinition, TaskDefinition } from "../dag/model.ts";
import type { Store } from "../store/index.ts";
import { UNFINISHED_TASK_STATES, type Database, type RunState, type TaskInstanceRow, type TaskState } from "../store/schema.ts";
import { chunks } from "../util/chunks.ts";
import { expandMappedTask } from "./mapping.ts";
import { evaluateTriggerRule, type UpstreamCounts } from "./trigger-rules.ts";
import type { EngineEvent, TaskEvent } from "./types.ts";

type Db = Kysely<Database>;

export interface SettleContext {
  store: Store;
  dag: DagDefinition;
  runId: string;
  /** The database time of the transaction. */
  at: string;
}

type DagContext = Omit<SettleContext, "runId">;

export interface Settled {
  events: EngineEvent[];
  /** How many task instances this queued. */
  queued: number;
  runFinished: boolean;
}

export interface Finished {
  row: Pick<TaskInstanceRow, "task_id" | "map_index">;
  state: TaskState;
}

const COUNTER: Partial<Record<TaskState, "up_success" | "up_failed" | "up_upstream_failed" | "up_skipped">> = {
  success: "up_success",
  failed: "up_failed",
  upstream_failed: "up_upstream_failed",
  skipped: "up_skipped",
};

const positions = new WeakMap<DagDefinition, Map<string, number>>();
function positionOf(dag: DagDefinition, taskId: string): number {
  let map = positions.get(dag);
  if (!map) positions.set(dag, (map = new Map([...dag.tasks.keys()].map((id, i) => [id, i]))));
  return map.get(taskId) ?? Number.MAX_SAFE_INTEGER;
}

export function taskEvent(ti: Pick<TaskInstanceRow, "dag_id" | "run_id" | "task_id" | "map_index" | "try_number">, state: TaskState, at: string): TaskEvent {
  return { type: "task", dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, ...(ti.map_index >= 0 ? { mapIndex: ti.map_index } : {}), state, tryNumber: ti.try_number, at };
}

export function runEvent(dagId: string, runId: string, state: RunState, at: string): EngineEvent {
  return { type: "run", dagId, runId, state, at };
}

/** Settles what `finished` (task instances that just reached a finished state) changes. */
export function settleDownstream(trx: Db, ctx: SettleContext, finished: readonly Finished[]): Promise<Settled> {
  return settleRuns(trx, ctx, new Map([[ctx.runId, finished]]));
}

/**
 * The same for a batch of tries ending together, of any runs of one DAG: each run's downstream is decided, then
 * the DAG's queue is filled once and each run's completion checked once.
 */
export async function settleRuns(trx: Db, ctx: DagContext, finishedByRun: ReadonlyMap<string, readonly Finished[]>): Promise<Settled> {
  const settled: Settled = { events: [], queued: 0, runFinished: false };
  for (const [runId, finished] of finishedByRun) {
    const pending = new Pending(ctx.dag);
    await propagate(trx, { ...ctx, runId }, finished, pending);
    await decide(trx, { ...ctx, runId }, pending, settled);
  }
  settled.queued = await queueScheduled(trx, ctx.store, ctx.dag, ctx.at, settled.events);
  // A run that just had a row scheduled, queued or mapped is not finished: no need to look (in a chain, that was
  // one statement in twelve per task).
  const live = new Set(settled.events.filter((e) => e.type === "mapped" || (e.type === "task" && (e.state === "scheduled" || e.state === "queued"))).map((e) => e.runId));
  for (const [runId, finished] of finishedByRun) {
    if (finished.length > 0 && !live.has(runId) && (await finishRunIfDone(trx, { ...ctx, runId }, settled.events))) settled.runFinished = true;
  }
  return settled;
}

/** A run just started: its tasks without upstream are decided (they always may run). */
export async function settleRunStart(trx: Db, ctx: SettleContext): Promise<Settled> {
  const settled: Settled = { events: [], queued: 0, runFinished: false };
  const pending = new Pending(ctx.dag);
  for (const task of ctx.dag.tasks.values()) if (task.upstreamTaskIds.length === 0) pending.add(task.taskId);
  await decide(trx, ctx, pending, settled);
  settled.queued = await queueScheduled(trx, ctx.store, ctx.dag, ctx.at, settled.events);
  settled.runFinished = await finishRunIfDone(trx, ctx, settled.events);
  return settled;
}

/**
 * After a person changed states by hand (clear, mark success / failed): every waiting instance's upstream counters
 * are counted again from its upstream instances' states, and every waiting task is decided again. This reads the
 * whole run, which is fine for an operator's action; the hot path (a try ending) never comes here.
 */
export async function resettleRun(trx: Db, ctx: SettleContext): Promise<Settled> {
  const rows = await trx.selectFrom("task_instance").select(["id", "task_id", "state"]).where("dag_id", "=", ctx.dag.dagId).where("run_id", "=", ctx.runId).execute();
  const byTask = new Map<string, typeof rows>();
  for (const row of rows) byTask.set(row.task_id, [...(byTask.get(row.task_id) ?? []), row]);
  const pending = new Pending(ctx.dag);
  for (const task of ctx.dag.tasks.values()) {
    const waiting = (byTask.get(task.taskId) ?? []).filter((row) => row.state === "none");
    if (waiting.length === 0) continue;
    const counts = { up_total: 0, up_success: 0, up_failed: 0, up_upstream_failed: 0, up_skipped: 0 };
    for (const upstream of task.upstreamTaskIds) {
      for (const row of byTask.get(upstream) ?? []) {
        counts.up_total++;
        const column = COUNTER[row.state];
        if (column) counts[column]++;
      }
    }
    for (const part of chunks(waiting.map((row) => row.id))) await trx.updateTable("task_instance").set(counts).where("id", "in", part).execute();
    pending.add(task.taskId);
  }
  const settled: Settled = { events: [], queued: 0, runFinished: false };
  await decide(trx, ctx, pending, settled);
  settled.queued = await queueScheduled(trx, ctx.store, ctx.dag, ctx.at, settled.events);
  settled.runFinished = await finishRunIfDone(trx, ctx, settled.events);
  return settled;
}

/** Adds each finished instance to its downstream rows' counters; those tasks are then to be decided. */
async function propagate(trx: Db, ctx: SettleContext, finished: readonly Finished[], pending: Pending): Promise<void> {
  const byTask = new Map<string, Map<string, number>>();
  for (const { row, state } of finished) {
    const column = COUNTER[state];
    if (!column) continue;
    let counts = byTask.get(row.task_id);
    if (!counts) byTask.set(row.task_id, (counts = new Map()));
    counts.set(column, (counts.get(column) ?? 0) + 1);
  }
  for (const [taskId, counts] of byTask) {
    const downstream = ctx.dag.tasks.get(taskId)?.downstreamTaskIds ?? [];
    if (downstream.length === 0) continue;
    // RETURNING the rows as changed: they are exactly the rows `decide` would read next (saves that read).
    const rows = await trx
      .updateTable("task_instance")
      .set((eb) => Object.fromEntries([...counts].map(([column, n]) => [column, eb(eb.ref(column as "up_success"), "+", n)])))
      .where("dag_id", "=", ctx.dag.dagId)
      .where("run_id", "=", ctx.runId)
      .where("task_id", "in", [...downstream])
      .where("state", "=", "none")
      .returning(DECIDE_COLUMNS)
      .execute();
    for (const id of downstream) {
      pending.add(id);
      pending.known.set(id, []);
    }
    for (const row of rows) pending.known.get(row.task_id)?.push(row);
  }
}

/** What deciding a waiting row needs. */
const DECIDE_COLUMNS = ["id", "dag_id", "run_id", "task_id", "map_index", "try_number", "up_total", "up_success", "up_failed", "up_upstream_failed", "up_skipped"] as const;
type DecideRow = Pick<TaskInstanceRow, (typeof DECIDE_COLUMNS)[number]>;

function countsOf(row: Pick<TaskInstanceRow, "up_total" | "up_success" | "up_failed" | "up_upstream_failed" | "up_skipped">): UpstreamCounts {
  const done = row.up_success + row.up_failed + row.up_upstream_failed + row.up_skipped;
  return { total: row.up_total, success: row.up_success, failed: row.up_failed, upstreamFailed: row.up_upstream_failed, skipped: row.up_skipped, done };
}

/**
 * Tasks waiting to be decided, taken in topological order (a min-heap on the task's position): a decision then
 * cascades to its downstream in the same pass. A scan for the minimum made a run's start quadratic — measured:
 * 0.8 s of CPU to start a run of 10,000 independent tasks.
 */
class Pending {
  private readonly heap: number[] = [];
  private readonly ids = new Map<number, string>();
  private readonly dag: DagDefinition;
  /** A task's waiting rows as the last statement that changed them returned them (none: read them). */
  readonly known = new Map<string, DecideRow[]>();

  constructor(dag: DagDefinition) {
    this.dag = dag;
  }

  get size(): number {
    return this.heap.length;
  }

  add(taskId: string): void {
    const pos = positionOf(this.dag, taskId);
    if (this.ids.has(pos)) return;
    this.ids.set(pos, taskId);
    const heap = this.heap;
    let i = heap.push(pos) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= pos) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = pos;
  }

  pop(): string {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= heap.length) break;
        if (child + 1 < heap.length && heap[child + 1]! < heap[child]!) child++;
        if (heap[child]! >= last) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    const id = this.ids.get(top)!;
    this.ids.delete(top);
    return id;
  }
}

/**
 * Decides pending tasks in topological order. Tasks without upstream are decided together (one read and one
 * write per 200): nothing decided in this pass can change them, and a run's start decides all of them at once.
 */
async function decide(trx: Db, ctx: SettleContext, pending: Pending, settled: Settled): Promise<void> {
  while (pending.size > 0) {
    const first = pending.pop();
    const batch = [first];
    if (ctx.dag.tasks.get(first)?.upstreamTaskIds.length === 0) {
      const later: string[] = [];
      while (pending.size > 0) {
        const id = pending.pop();
        (ctx.dag.tasks.get(id)?.upstreamTaskIds.length === 0 ? batch : later).push(id);
      }
      for (const id of later) pending.add(id);
    }
    for (const part of chunks(batch)) await decideTasks(trx, ctx, part, pending, settled);
  }
}

async function decideTasks(trx: Db, ctx: SettleContext, taskIds: readonly string[], pending: Pending, settled: Settled): Promise<void> {
  const known = taskIds.length === 1 ? pending.known.get(taskIds[0]!) : undefined;
  for (const id of taskIds) pending.known.delete(id);
  const rows =
    known ??
    (await trx
      .selectFrom("task_instance")
      .select(DECIDE_COLUMNS)
      .where("dag_id", "=", ctx.dag.dagId)
      .where("run_id", "=", ctx.runId)
      .$call((q) => (taskIds.length === 1 ? q.where("task_id", "=", taskIds[0]!) : q.where("task_id", "in", [...taskIds])))
      .where("state", "=", "none")
      .execute());
  if (taskIds.length > 1) rows.sort((a, b) => positionOf(ctx.dag, a.task_id) - positionOf(ctx.dag, b.task_id) || a.map_index - b.map_index);
  const finished: Finished[] = [];
  const decided = new Map<"scheduled" | "skipped" | "upstream_failed", typeof rows>();
  for (const row of rows) {
    const task = ctx.dag.tasks.get(row.task_id);
    if (!task) continue;
    const decision = evaluateTriggerRule(task.triggerRule, countsOf(row));
    if (decision === "wait") continue;
    if (decision === "run" && task.mapping && row.map_index === -1) {
      finished.push(...(await expand(trx, ctx, task, row, settled, pending)));
      continue;
    }
    const state = decision === "run" ? "scheduled" : decision;
    let list = decided.get(state);
    if (!list) decided.set(state, (list = []));
    list.push(row);
  }
  // One statement per decision, not per row: a run's first pass decides every root task at once.
  for (const [state, list] of decided) {
    const changed = new Set(await setStates(trx, list.map((r) => r.id), "none", state, ctx.at));
    for (const row of list) {
      if (!changed.has(row.id)) continue;
      settled.events.push(taskEvent(row, state, ctx.at));
      if (state !== "scheduled") finished.push({ row, state });
    }
  }
  await propagate(trx, ctx, finished, pending);
}

/**
 * The mapped task may run: its placeholder (map index -1) becomes map index 0 and n-1 more instances are
 * created, all scheduled; an empty expansion skips the placeholder (Airflow); a list that cannot be mapped
 * fails it. Downstream counters grow by the instances added.
 */
async function expand(trx: Db, ctx: SettleContext, task: TaskDefinition, placeholder: Pick<TaskInstanceRow, "id" | "dag_id" | "run_id" | "task_id" | "map_index" | "try_number">, settled: Settled, pending: Pending): Promise<Finished[]> {
  const result = await expandMappedTask(trx, ctx.dag, ctx.runId, task);
  if ("error" in result) {
    await trx.updateTable("task_instance").set({ state: "failed", ended_at: ctx.at, updated_at: ctx.at, error: JSON.stringify(result.error) }).where("id", "=", placeholder.id).execute();
    settled.events.push({ ...taskEvent(placeholder, "failed", ctx.at), error: result.error });
    return [{ row: placeholder, state: "failed" }];
  }
  if (result.length === 0) {
    await setState(trx, placeholder.id, "none", "skipped", ctx.at);
    settled.events.push(taskEvent(placeholder, "skipped", ctx.at));
    return [{ row: placeholder, state: "skipped" }];
  }
  const full = await trx.selectFrom("task_instance").selectAll().where("id", "=", placeholder.id).executeTakeFirstOrThrow();
  await trx.updateTable("task_instance").set({ state: "scheduled", map_index: 0, updated_at: ctx.at }).where("id", "=", placeholder.id).execute();
  const { id: _id, ...template } = full;
  const more = Array.from({ length: result.length - 1 }, (_, i) => ({ ...template, id: crypto.randomUUID(), map_index: i + 1, state: "scheduled" as const, updated_at: ctx.at }));
  for (let i = 0; i < more.length; i += 100) await trx.insertInto("task_instance").values(more.slice(i, i + 100)).execute();
  if (result.length > 1 && task.downstreamTaskIds.length > 0) {
    await trx
      .updateTable("task_instance")
      .set((eb) => ({ up_total: eb(eb.ref("up_total"), "+", result.length - 1) }))
      .where("dag_id", "=", ctx.dag.dagId)
      .where("run_id", "=", ctx.runId)
      .where("task_id", "in", [...task.downstreamTaskIds])
      .where("state", "=", "none")
      .execute();
    for (const id of task.downstreamTaskIds) pending.known.delete(id);
  }
  settled.events.push({ type: "mapped", dagId: ctx.dag.dagId, runId: ctx.runId, taskId: task.taskId, count: result.length, at: ctx.at });
  return [];
}

async function setState(trx: Db, id: string, from: TaskState, to: TaskState, at: string): Promise<boolean> {
  return (await setStates(trx, [id], from, to, at)).length > 0;
}

/** from → to for the rows still in `from`; returns their ids. */
async function setStates(trx: Db, ids: readonly string[], from: TaskState, to: TaskState, at: string): Promise<string[]> {
  const finished = to === "skipped" || to === "upstream_failed" || to === "failed";
  const out: string[] = [];
  for (const part of chunks(ids)) {
    const rows = await trx
      .updateTable("task_instance")
      .set({ state: to, updated_at: at, ...(finished ? { ended_at: at } : {}) })
      .where("id", "in", part)
      .where("state", "=", from)
      .returning("id")
      .execute();
    out.push(...rows.map((r) => r.id));
  }
  return out;
}


/** scheduled → queued, in priority order, while the DAG has fewer than maxActiveTasks queued or running. */
export async function queueScheduled(trx: Db, store: Store, dag: DagDefinition, at: string, events: EngineEvent[]): Promise<number> {
  // The free slots (maxActiveTasks less the DAG's queued and running rows) are the LIMIT of the pick, in priority
  // order, with no count read first; a per-try transaction ran three statements for this before.
  const picked = trx
    .selectFrom("task_instance")
    .select("id")
    .where("dag_id", "=", dag.dagId)
    .where("state", "=", "scheduled")
    .orderBy("run_id")
    .orderBy("priority")
    .orderBy("map_index")
    // CASE, not max()/greatest(): the one spelling both backends share; a negative LIMIT means "no limit" on
    // SQLite and is an error on PostgreSQL.
    .limit(sql<number>`(select case when ${dag.maxActiveTasks} - count(*) > 0 then ${dag.maxActiveTasks} - count(*) else 0 end from task_instance where dag_id = ${dag.dagId} and state in ('queued', 'running'))`);
  const queued = await store.adapter.updatePicked(trx, picked, (db, ids) =>
    db
      .updateTable("task_instance")
      .set({ state: "queued", queued_at: at, updated_at: at })
      .where("id", "in", ids)
      .where("state", "=", "scheduled")
      .returning(["dag_id", "run_id", "task_id", "map_index", "try_number"]),
  );
  for (const ti of queued) events.push(taskEvent(ti, "queued", at));
  return queued.length;
}

/** Airflow: the run fails when a leaf task failed or is upstream_failed, else it succeeds once nothing is unfinished. */
async function finishRunIfDone(trx: Db, ctx: SettleContext, events: EngineEvent[]): Promise<boolean> {
  const unfinished = await trx
    .selectFrom("task_instance")
    .select("id")
    .where("dag_id", "=", ctx.dag.dagId)
    .where("state", "in", [...UNFINISHED_TASK_STATES])
    .where("run_id", "=", ctx.runId)
    .limit(1)
    .executeTakeFirst();
  if (unfinished) return false;
  const failed = await trx
    .selectFrom("task_instance")
    .select("task_id")
    .distinct()
    .where("dag_id", "=", ctx.dag.dagId)
    .where("state", "in", ["failed", "upstream_failed"])
    .where("run_id", "=", ctx.runId)
    .execute();
  const leafFailed = failed.some((r) => (ctx.dag.tasks.get(r.task_id)?.downstreamTaskIds.length ?? 0) === 0);
  const state = leafFailed ? "failed" : "success";
  const r = await trx.updateTable("dag_run").set({ state, ended_at: ctx.at }).where("dag_id", "=", ctx.dag.dagId).where("run_id", "=", ctx.runId).where("state", "=", "running").executeTakeFirst();
  if (r.numUpdatedRows === 0n) return false;
  events.push(runEvent(ctx.dag.dagId, ctx.runId, state, ctx.at));
  return true;
}
