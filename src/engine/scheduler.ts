/**
 * One scheduling pass over a DAG's active runs, in one write transaction: create due scheduled runs (when
 * asked), start queued runs within
 * maxActiveRuns, fail runs past dagrunTimeout, settle `none` task instances by their trigger rules, queue
 * scheduled and due retries within maxActiveTasks, and finish runs whose task instances are all done.
 * Any worker may run it; on PostgreSQL a per-DAG advisory lock serializes passes (on SQLite, BEGIN IMMEDIATE
 * already does), so two workers never both hand out the last maxActiveTasks slot.
 */
import { sql, type Kysely } from "kysely";
import type { DagDefinition } from "../dag/model.ts";
import type { Store } from "../store/index.ts";
import { FINISHED_TASK_STATES, type Database, type RunState, type TaskInstanceRow, type TaskState } from "../store/schema.ts";
import { nextScheduledInterval } from "./dates.ts";
import { createRun, finishRun, markUpstreamFailed, queueTasks, runTasks, scheduleTasks, skipTasks, startRun, timeoutRun } from "./transitions.ts";
import { countUpstream, evaluateTriggerRule } from "./trigger-rules.ts";
import type { EngineEvent } from "./types.ts";

export interface SchedulePassResult {
  events: EngineEvent[];
  /** Task instances a run timeout took from running: whoever executes them must abort. */
  abortIds: string[];
  /** When something next becomes due (a retry, a run timeout), epoch ms. */
  nextDueAt: number | null;
}

// Catching up a long-idle schedule creates at most this many runs per pass, so one pass stays short.
const MAX_SCHEDULED_RUNS_PER_PASS = 20;

/** With `createScheduledRuns`, the pass first creates the DAG's due scheduled runs (Airflow's scheduler role). */
export async function scheduleDag(store: Store, dag: DagDefinition, opts: { createScheduledRuns?: boolean } = {}): Promise<SchedulePassResult> {
  const events: EngineEvent[] = [];
  const abortIds: string[] = [];
  let nextDueAt: number | null = null;
  const due = (t: number): void => {
    nextDueAt = nextDueAt === null ? t : Math.min(nextDueAt, t);
  };
  await store.writeTransaction(async (trx) => {
    if (store.backend === "postgres") await sql`select pg_advisory_xact_lock(hashtext(${`venvflow:${dag.dagId}`}))`.execute(trx);
    if (opts.createScheduledRuns) {
      // Under the per-DAG lock, so two workers never create the same scheduled run.
      let lastEnd = await lastScheduledIntervalEnd(trx, dag.dagId);
      for (let i = 0; i < MAX_SCHEDULED_RUNS_PER_PASS; i++) {
        const next = nextScheduledInterval(dag, lastEnd, new Date());
        if (!next) break;
        const runId = `scheduled__${next.start.toISOString()}`;
        await createRun(trx, { dagId: dag.dagId, runId, runType: "scheduled", logicalDate: next.start, dataIntervalStart: next.start, dataIntervalEnd: next.end, conf: {}, tasks: runTasks(dag) });
        events.push(runEvent(dag.dagId, runId, "queued"));
        lastEnd = next.end;
      }
    }
    const runs = await trx
      .selectFrom("dag_run")
      .selectAll()
      .where("dag_id", "=", dag.dagId)
      .where("state", "in", ["queued", "running"])
      .orderBy("logical_date")
      .orderBy("queued_at")
      .execute();
    let runningRuns = runs.filter((r) => r.state === "running").length;
    for (const run of runs) {
      if (run.state !== "queued" || runningRuns >= dag.maxActiveRuns) continue;
      if (await startRun(trx, run.id)) {
        run.state = "running";
        run.started_at = new Date().toISOString();
        runningRuns++;
        events.push(runEvent(dag.dagId, run.run_id, "running"));
      }
    }
    const active = runs.filter((r) => r.state === "running");
    if (active.length === 0) return;
    const rows = await trx
      .selectFrom("task_instance")
      .selectAll()
      .where("dag_id", "=", dag.dagId)
      .where("run_id", "in", active.map((r) => r.run_id))
      .execute();
    const byRun = new Map<string, Map<string, TaskInstanceRow>>();
    for (const row of rows) {
      let m = byRun.get(row.run_id);
      if (!m) byRun.set(row.run_id, (m = new Map()));
      m.set(row.task_id, row);
    }
    const now = Date.now();
    let activeTasks = rows.filter((r) => r.state === "queued" || r.state === "running").length;
    const toQueue: TaskInstanceRow[] = [];

    for (const run of active) {
      const tis = byRun.get(run.run_id) ?? new Map<string, TaskInstanceRow>();
      if (dag.dagrunTimeoutMs !== null && run.started_at) {
        const deadline = Date.parse(run.started_at) + dag.dagrunTimeoutMs;
        if (deadline <= now) {
          const wasRunning = await timeoutRun(trx, run);
          abortIds.push(...wasRunning);
          activeTasks -= [...tis.values()].filter((t) => t.state === "queued" || t.state === "running").length;
          for (const ti of tis.values()) if (!FINISHED_TASK_STATES.has(ti.state)) events.push(taskEvent(ti, "skipped"));
          events.push(runEvent(dag.dagId, run.run_id, "failed"));
          continue;
        }
        due(deadline);
      }
      const states = new Map<string, TaskState>([...tis].map(([id, ti]) => [id, ti.state]));
      const decided = { scheduled: [] as TaskInstanceRow[], skipped: [] as TaskInstanceRow[], upstream_failed: [] as TaskInstanceRow[] };
      // Topological order: a decision made here is seen by the task's downstream in the same pass.
      for (const [taskId, task] of dag.tasks) {
        const ti = tis.get(taskId);
        if (!ti || ti.state !== "none") continue;
        const decision = evaluateTriggerRule(task.triggerRule, countUpstream(task.upstreamTaskIds.map((u) => states.get(u) ?? "none")));
        if (decision === "wait") continue;
        const state = decision === "run" ? "scheduled" : decision;
        states.set(taskId, state);
        decided[state].push(ti);
      }
      const applied = [
        ...(await scheduleTasks(trx, decided.scheduled.map((t) => t.id))),
        ...(await skipTasks(trx, decided.skipped.map((t) => t.id))),
        ...(await markUpstreamFailed(trx, decided.upstream_failed.map((t) => t.id))),
      ];
      const appliedSet = new Set(applied);
      for (const [state, list] of Object.entries(decided) as Array<[TaskState, TaskInstanceRow[]]>) {
        for (const ti of list) {
          if (!appliedSet.has(ti.id)) continue;
          ti.state = state;
          events.push(taskEvent(ti, state));
        }
      }
      for (const taskId of dag.tasks.keys()) {
        const ti = tis.get(taskId);
        if (!ti) continue;
        if (ti.state === "scheduled") toQueue.push(ti);
        else if (ti.state === "up_for_retry" && ti.next_retry_at) {
          const at = Date.parse(ti.next_retry_at);
          if (at <= now) toQueue.push(ti);
          else due(at);
        }
      }
      if ([...tis.values()].every((ti) => FINISHED_TASK_STATES.has(ti.state))) {
        // Airflow: the run fails when a leaf task failed or is upstream_failed, else it succeeds.
        const leafFailed = [...dag.tasks.values()].some(
          (t) => t.downstreamTaskIds.length === 0 && ["failed", "upstream_failed"].includes(tis.get(t.taskId)?.state ?? ""),
        );
        const state = leafFailed ? "failed" : "success";
        if (await finishRun(trx, run.id, state)) events.push(runEvent(dag.dagId, run.run_id, state));
      }
    }

    const slots = Math.max(0, dag.maxActiveTasks - activeTasks);
    const picked = toQueue.slice(0, slots);
    const queued = new Set(await queueTasks(trx, picked.map((t) => t.id)));
    for (const ti of picked) if (queued.has(ti.id)) events.push(taskEvent(ti, "queued"));
  });
  return { events, abortIds, nextDueAt };
}

/** The end of the DAG's latest scheduled run's data interval (null before its first scheduled run). */
export async function lastScheduledIntervalEnd(db: Kysely<Database>, dagId: string): Promise<Date | null> {
  const row = await db
    .selectFrom("dag_run")
    .select((eb) => eb.fn.max("data_interval_end").as("end"))
    .where("dag_id", "=", dagId)
    .where("run_type", "=", "scheduled")
    .executeTakeFirst();
  return row?.end ? new Date(row.end) : null;
}

function runEvent(dagId: string, runId: string, state: RunState): EngineEvent {
  return { type: "run", dagId, runId, state, at: new Date().toISOString() };
}

function taskEvent(ti: TaskInstanceRow, state: TaskState): EngineEvent {
  return { type: "task", dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, state, tryNumber: ti.try_number, at: new Date().toISOString() };
}
