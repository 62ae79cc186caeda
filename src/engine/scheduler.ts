/**
 * One scheduling pass over a DAG, in one write transaction holding the DAG's lock: create due scheduled runs
 * (when asked), start queued runs within maxActiveRuns (deciding their first tasks), fail runs past
 * dagrunTimeout, reschedule retries whose delay has passed, and queue scheduled task instances within
 * maxActiveTasks. What a finished try changes is settled by the try's own transition (settle.ts), so a pass
 * reads only runs and the few rows its indexes point at: its cost does not grow with the number of tasks.
 */
import type { Kysely } from "kysely";
import type { DagDefinition } from "../dag/model.ts";
import type { Store } from "../store/index.ts";
import type { Database } from "../store/schema.ts";
import { nextScheduledInterval } from "./dates.ts";
import { queueScheduled, runEvent, settleRunStart, taskEvent } from "./settle.ts";
import { createRun, notifyAll, runTasks, startRun, failRun } from "./transitions.ts";
import type { EngineEvent } from "./types.ts";

export interface SchedulePassResult {
  events: EngineEvent[];
  /** Task instances a run timeout took from running: whoever executes them must abort. */
  abortIds: string[];
  /** In how many ms something next becomes due (a retry, a run timeout), by the database's clock. */
  nextDueInMs: number | null;
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
  let nowMs = 0;
  await store.writeTransaction(async (trx, notify) => {
    const at = await store.adapter.lockDag(trx, dag.dagId);
    nowMs = Date.parse(at);
    if (opts.createScheduledRuns) {
      // Under the per-DAG lock, so two workers never create the same scheduled run.
      let lastEnd = await lastScheduledIntervalEnd(trx, dag.dagId);
      // A logical date has one run (as in Airflow): an interval a backfill or a trigger already ran is passed over.
      // Read once, and only when an interval is due (rarely, next to every pass).
      let taken: Set<string> | null = null;
      for (let created = 0; created < MAX_SCHEDULED_RUNS_PER_PASS; ) {
        const next = nextScheduledInterval(dag, lastEnd, new Date(at));
        if (!next) break;
        taken ??= await logicalDatesFrom(trx, dag.dagId, next.start, new Date(at));
        lastEnd = next.end;
        if (taken.has(next.start.toISOString())) continue;
        created++;
        const runId = `scheduled__${next.start.toISOString()}`;
        await createRun(trx, { dagId: dag.dagId, runId, runType: "scheduled", logicalDate: next.start, dataIntervalStart: next.start, dataIntervalEnd: next.end, conf: {}, tasks: runTasks(dag) }, at);
        events.push(runEvent(dag.dagId, runId, "queued", at));
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
    let queued = 0;
    let runFinished = false;
    for (const run of runs) {
      if (run.state !== "queued" || runningRuns >= dag.maxActiveRuns) continue;
      if (!(await startRun(trx, run.id, at))) continue;
      run.state = "running";
      run.started_at = at;
      runningRuns++;
      events.push(runEvent(dag.dagId, run.run_id, "running", at));
      const settled = await settleRunStart(trx, { store, dag, runId: run.run_id, at });
      events.push(...settled.events);
      queued += settled.queued;
      runFinished ||= settled.runFinished;
    }
    for (const run of runs) {
      if (run.state !== "running" || dag.dagrunTimeoutMs === null || !run.started_at) continue;
      const deadline = Date.parse(run.started_at) + dag.dagrunTimeoutMs;
      if (deadline > nowMs) {
        due(deadline);
        continue;
      }
      const { running, skipped } = await failRun(trx, run, at);
      abortIds.push(...running);
      for (const ti of skipped) events.push(taskEvent(ti, "skipped", at));
      events.push(runEvent(dag.dagId, run.run_id, "failed", at));
      runFinished = true;
    }
    const retries = await trx
      .updateTable("task_instance")
      .set({ state: "scheduled", updated_at: at })
      .where("dag_id", "=", dag.dagId)
      .where("state", "=", "up_for_retry")
      .where("next_retry_at", "<=", at)
      .returning(["dag_id", "run_id", "task_id", "map_index", "try_number"])
      .execute();
    for (const ti of retries) events.push(taskEvent(ti, "scheduled", at));
    const later = await trx
      .selectFrom("task_instance")
      .select((eb) => eb.fn.min("next_retry_at").as("next"))
      .where("dag_id", "=", dag.dagId)
      .where("state", "=", "up_for_retry")
      .executeTakeFirst();
    if (later?.next) due(Date.parse(later.next));
    queued += await queueScheduled(trx, store, dag, at, events);
    await notifyAll(notify, dag.dagId, { queued, runFinished });
  });
  return { events, abortIds, nextDueInMs: nextDueAt === null ? null : Math.max(0, (nextDueAt as number) - nowMs) };
}

/** The end of the DAG's latest scheduled run's data interval (null before its first scheduled run). */
/** The logical dates of the DAG's runs (of any type) from `start` to `end`. */
async function logicalDatesFrom(db: Kysely<Database>, dagId: string, start: Date, end: Date): Promise<Set<string>> {
  const rows = await db.selectFrom("dag_run").select("logical_date").where("dag_id", "=", dagId).where("logical_date", ">=", start.toISOString()).where("logical_date", "<=", end.toISOString()).execute();
  return new Set(rows.map((row) => row.logical_date));
}

export async function lastScheduledIntervalEnd(db: Kysely<Database>, dagId: string): Promise<Date | null> {
  const row = await db
    .selectFrom("dag_run")
    .select((eb) => eb.fn.max("data_interval_end").as("end"))
    .where("dag_id", "=", dagId)
    .where("run_type", "=", "scheduled")
    .executeTakeFirst();
  return row?.end ? new Date(row.end) : null;
}
