/**
 * Every state change of a run or a task instance, each in one named function. Each writes the new state
 * durably (committed) before the engine acts on it, and each is guarded by the state it leaves (plus, for a
 * running try, the worker holding it and the try number): a transition that lost a race — the sweeper
 * re-queued the try, a run timeout skipped it — changes nothing and reports `false`. Times are the database's.
 *
 * A try that ends settles, in the same transaction, only what it can change: its downstream task instances
 * (their upstream counters, then their trigger rules, cascading skips and failures), the run's completion, and
 * the DAG's queue within maxActiveTasks. Nothing here reads every task instance of a run.
 */
import { randomUUID } from "node:crypto";
import { sql, type Insertable, type Kysely, type RawBuilder } from "kysely";
import type { DagDefinition, TaskError } from "../dag/model.ts";
import type { Notify, Store, TableRows } from "../store/index.ts";
import { UNFINISHED_TASK_STATES, type Database, type DagRunRow, type RunType, type TaskInstanceRow } from "../store/schema.ts";
import { storedXComValue } from "../store/xcom-display.ts";
import { chunks } from "../util/chunks.ts";
import type { Redactor } from "../util/secrets.ts";
import { settleRuns, taskEvent, type Finished, type Settled } from "./settle.ts";
import type { EngineEvent } from "./types.ts";

type Db = Kysely<Database>;

export interface NewRun {
  dagId: string;
  runId: string;
  runType: RunType;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  conf: Record<string, unknown>;
  /** Each task's retries (Airflow's max_tries) and number of upstream tasks, in topological order. */
  tasks: ReadonlyArray<{ taskId: string; retries: number; upstream?: number }>;
}

export const runTasks = (dag: DagDefinition): NewRun["tasks"] =>
  [...dag.tasks.values()].map((t) => ({ taskId: t.taskId, retries: t.retries, upstream: t.upstreamTaskIds.length }));

// Rows per statement: 200 task instances × 12 columns stays far below SQLite's and PostgreSQL's parameter limits.
const CHUNK = 200;

/**
 * (nothing) → run queued, every task instance `none`. Call it inside a write transaction (the run and its task
 * instances appear together); a run id that exists fails on the unique constraint.
 */
export async function createRun(trx: Db, run: NewRun, at: string = new Date().toISOString()): Promise<DagRunRow> {
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
  for (const [n, part] of chunks(run.tasks).entries()) {
    await trx
      .insertInto("task_instance")
      .values(
        part.map((t, i) => ({
          id: randomUUID(),
          dag_id: run.dagId,
          run_id: run.runId,
          task_id: t.taskId,
          priority: n * CHUNK + i,
          state: "none" as const,
          max_tries: t.retries,
          updated_at: at,
          up_total: t.upstream ?? 0,
        })),
      )
      .execute();
  }
  return row;
}

/** Run queued → running (a maxActiveRuns slot is free). */
export async function startRun(trx: Db, runPk: string, at: string): Promise<boolean> {
  const r = await trx.updateTable("dag_run").set({ state: "running", started_at: at }).where("id", "=", runPk).where("state", "=", "queued").executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Run running → success / failed (every task instance finished). */
export async function finishRun(trx: Db, runPk: string, state: "success" | "failed", at: string): Promise<boolean> {
  const r = await trx.updateTable("dag_run").set({ state, ended_at: at }).where("id", "=", runPk).where("state", "=", "running").executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/**
 * Run running → failed, on dagrunTimeout or when the run is cancelled; as Airflow, every unfinished task instance
 * becomes skipped, including running ones (their workers see it at the next heartbeat and abort). Returns the
 * ids that were running, and the rows it skipped.
 */
export async function failRun(trx: Db, run: DagRunRow, at: string = new Date().toISOString()): Promise<{ running: string[]; skipped: TaskInstanceRow[] }> {
  const r = await trx.updateTable("dag_run").set({ state: "failed", ended_at: at }).where("id", "=", run.id).where("state", "=", "running").executeTakeFirst();
  if (r.numUpdatedRows === 0n) return { running: [], skipped: [] };
  const running = await trx
    .selectFrom("task_instance")
    .select("id")
    .where("dag_id", "=", run.dag_id)
    .where("state", "=", "running")
    .where("run_id", "=", run.run_id)
    .execute();
  const skipped = await trx
    .updateTable("task_instance")
    .set({ state: "skipped", ended_at: at, locked_by: null, locked_at: null, next_retry_at: null, updated_at: at })
    .where("dag_id", "=", run.dag_id)
    .where("state", "in", [...UNFINISHED_TASK_STATES])
    .where("run_id", "=", run.run_id)
    .returningAll()
    .execute();
  return { running: running.map((t) => t.id), skipped };
}

/**
 * queued → running, claimed for one worker: `UPDATE … WHERE id IN (candidates) RETURNING *` (adapter.updatePicked),
 * the candidates locked with SKIP LOCKED on PostgreSQL so concurrent claimers skip each other's rows instead of
 * queueing on them (on SQLite the transaction holds the write lock). The try number is incremented here,
 * at claim time (graphile-worker's `attempts`), so a try whose worker dies still counts; the try's log path is
 * built from the row in the same statement.
 */
export interface ClaimOptions {
  workerId: string;
  hostname: string;
  dagIds: readonly string[];
  limit: number;
  logsRoot: string;
}

/** `db`: the store, or a transaction to claim in (a batch of ending tries claims what it queued). */
export async function claimTasks(store: Store, opts: ClaimOptions, db: Db = store.db): Promise<TaskInstanceRow[]> {
  if (opts.limit <= 0 || opts.dagIds.length === 0) return [];
  const now = store.adapter.nowSql;
  const candidates = store.adapter.skipLocked(
    db
      .selectFrom("task_instance")
      .select("id")
      .where("state", "=", "queued")
      .where("dag_id", "in", [...opts.dagIds])
      .orderBy("queued_at")
      .orderBy("id")
      .limit(opts.limit),
  );
  return store.adapter.updatePicked(db, candidates, (db, picked) =>
    db
      .updateTable("task_instance")
      .set({
        state: "running",
        try_number: sql<number>`try_number + 1`,
        locked_by: opts.workerId,
        locked_at: now,
        hostname: opts.hostname,
        started_at: now,
        ended_at: null,
        duration_ms: null,
        next_retry_at: null,
        error: null,
        updated_at: now,
        // taskLogPath's layout; ids were checked when the DAG and the run were made.
        log_path: sql<string>`${opts.logsRoot} || '/' || dag_id || '/' || run_id || '/' || task_id || (case when map_index >= 0 then '.map_index=' || cast(map_index as text) else '' end) || '.attempt=' || cast(try_number + 1 as text) || '.log'`,
      })
      .where("id", "in", picked)
      .where("state", "=", "queued")
      .returningAll(),
  );
}

interface EndTry {
  state: "success" | "failed" | "skipped" | "up_for_retry" | "queued";
  error?: TaskError | null;
  nextRetryAt?: string | null;
  /** The sweeper's guard: only while the lock is still older than this (its worker may have resumed since). */
  lockedBefore?: string;
}

/** The try's row in task_try. */
function tryRecord(ti: TaskInstanceRow, end: EndTry, at: string, durationMs: number | null, error: string | null): Insertable<Database["task_try"]> {
  const requeued = end.state === "queued";
  return {
    dag_id: ti.dag_id,
    run_id: ti.run_id,
    task_id: ti.task_id,
    map_index: ti.map_index,
    try_number: ti.try_number,
    state: requeued ? "failed" : end.state,
    started_at: ti.started_at,
    ended_at: at,
    duration_ms: durationMs,
    worker: ti.locked_by,
    hostname: ti.hostname,
    error,
    log_path: ti.log_path,
  };
}

/** Rows a batch of ending tries inserts together, once its updates are done (one statement per table). */
interface Inserts {
  tries: Array<Insertable<Database["task_try"]>>;
  xcoms: Array<Insertable<Database["xcom"]>>;
}

async function flushInserts(trx: Db, store: Store, inserts: Inserts): Promise<void> {
  const [tries, xcoms] = [chunks(inserts.tries, 100), chunks(inserts.xcoms, 100)];
  for (let i = 0; i < Math.max(tries.length, xcoms.length); i++) {
    await store.adapter.insertAll(trx, [
      { table: "task_try", rows: tries[i] ?? [] },
      { table: "xcom", rows: xcoms[i] ?? [] },
    ]);
  }
  inserts.tries = [];
  inserts.xcoms = [];
}

/** Ends the running try `ti` (guarded by worker and try number) and records it in task_try. */
async function endTry(trx: Db, ti: TaskInstanceRow, end: EndTry, at: string): Promise<boolean> {
  const durationMs = durationOf(ti, at);
  const error = errorText(end);
  const requeued = end.state === "queued";
  const r = await trx
    .updateTable("task_instance")
    .set({
      state: end.state,
      ended_at: requeued ? null : at,
      duration_ms: requeued ? null : durationMs,
      error,
      next_retry_at: end.nextRetryAt ?? null,
      locked_by: null,
      locked_at: null,
      updated_at: at,
      ...(requeued ? { queued_at: at } : {}),
    })
    .where("id", "=", ti.id)
    .where("state", "=", "running")
    .where("try_number", "=", ti.try_number)
    .$if(ti.locked_by !== null, (q) => q.where("locked_by", "=", ti.locked_by))
    .$if(end.lockedBefore !== undefined, (q) => q.where("locked_at", "<", end.lockedBefore as string))
    .executeTakeFirst();
  if (r.numUpdatedRows === 0n) return false;
  await trx.insertInto("task_try").values(tryRecord(ti, end, at, durationMs, error)).execute();
  return true;
}

export interface Transition {
  /** False when the try was settled elsewhere first (swept, run timed out): nothing changed. */
  applied: boolean;
  /** What else changed (downstream decided, run finished, tasks queued), for the worker to report. */
  events: EngineEvent[];
}

const NOT_APPLIED: Transition = { applied: false, events: [] };

/** One transaction ending a try: the change itself, then what it settles. */
async function endAndSettle(store: Store, dag: DagDefinition, ti: TaskInstanceRow, change: (trx: Db, at: string) => Promise<Finished[] | null>, requeued = false): Promise<Transition> {
  return store.writeTransaction(async (trx, notify) => {
    const at = await store.adapter.lockDag(trx, dag.dagId);
    const finished = await change(trx, at);
    if (!finished) return NOT_APPLIED;
    const settled = await settleRuns(trx, { store, dag, at }, new Map([[ti.run_id, finished]]));
    await notifyAll(notify, dag.dagId, settled, requeued);
    // Rows the change itself finished besides the try (a branch's not-followed tasks) come first.
    const own = finished.filter((f) => f.row !== ti).map((f) => taskEvent({ ...f.row, dag_id: ti.dag_id, run_id: ti.run_id, try_number: 0 }, f.state, at));
    return { applied: true, events: [...own, ...settled.events] };
  });
}

/** Other workers hear of claimable work (`work:DAG`) and of a run that changed state (`run:DAG`). */
export async function notifyAll(notify: Notify, dagId: string, settled: Pick<Settled, "queued" | "runFinished">, requeued = false): Promise<void> {
  if (settled.queued > 0 || requeued) await notify(`work:${dagId}`);
  if (settled.runFinished) await notify(`run:${dagId}`);
}

/**
 * running → success, with the try's XComs (replacing an earlier try's) and, for a branch task, the
 * not-followed downstream tasks → skipped, all in one transaction with what they settle.
 */
/** What a successful try stores; `redactor` masks the task's secrets in the values' display copies. */
export interface TrySuccess {
  xcoms: ReadonlyMap<string, unknown>;
  skipTaskIds: readonly string[];
  redactor: Redactor;
}

export function succeedTask(store: Store, dag: DagDefinition, ti: TaskInstanceRow, result: TrySuccess): Promise<Transition> {
  return endAndSettle(store, dag, ti, (trx, at) => succeedInTransaction(trx, ti, result, at));
}

/** How one try ended, for `endTries`. */
export type TryEnd =
  | ({ ti: TaskInstanceRow; state: "success" } & TrySuccess)
  | { ti: TaskInstanceRow; state: "failed"; error: TaskError }
  | { ti: TaskInstanceRow; state: "skipped"; error: TaskError | null }
  | { ti: TaskInstanceRow; state: "up_for_retry"; error: TaskError; delayMs: number };

export interface EndedTries {
  /** Per try, in order: whether it applied and what it changed (the batch's other changes go to the first). */
  results: Array<Transition & { nextRetryAt?: string }>;
  /** What the batch claimed for the worker (with `claim`). */
  claimed: TaskInstanceRow[];
}

/**
 * Ends several tries of one DAG in one transaction (graphile-worker completes jobs in batches): one commit, one
 * DAG lock, one queue fill and one completion check per run for the lot, instead of one of each per try. With
 * `claim`, it also claims work for the worker's freed slots, as graphile-worker's batched get-and-complete: a
 * chain's next task is claimed in the transaction that queued it (a statement, a commit and a wake-up less).
 */
export async function endTries(store: Store, dag: DagDefinition, ends: readonly TryEnd[], claim?: ClaimOptions): Promise<EndedTries> {
  if (ends.length === 0) return { results: [], claimed: [] };
  return store.writeTransaction(async (trx, notify) => {
    const at = await store.adapter.lockDag(trx, dag.dagId);
    // In id order, as heartbeats lock the same rows (no deadlock between the two on PostgreSQL).
    const order = ends.map((end, i) => ({ end, i, change: changeOf(end, at) })).sort((a, b) => (a.end.ti.id < b.end.ti.id ? -1 : a.end.ti.id > b.end.ti.id ? 1 : 0));
    // Each try's record and a first try's results go with the ending statement, for the rows it changes (on
    // PostgreSQL in the statement itself). Measured: with 8 slots, a batch of 8 no-op tries ran 8 + 8 inserts, then
    // one statement of its own; now none.
    const records: Inserts = { tries: [], xcoms: [] };
    for (const { end, change } of order) {
      records.tries.push(tryRecord(end.ti, change, at, durationOf(end.ti, at), errorText(change)));
      if (end.state === "success" && end.ti.try_number === 1) records.xcoms.push(...xcomRows(end.ti, end, at));
    }
    const applied = await endTryRows(trx, store, order.map(({ end, change }) => ({ ti: end.ti, change })), at, records);
    const byRun = new Map<string, Finished[]>();
    const results: Array<Transition & { nextRetryAt?: string }> = new Array(ends.length);
    // A retry's results, which replace its last try's.
    const inserts: Inserts = { tries: [], xcoms: [] };
    for (const { end, i, change } of order) {
      if (!applied.has(end.ti.id)) {
        results[i] = { applied: false, events: [] };
        continue;
      }
      const finished = end.state === "success" ? await recordSuccess(trx, end.ti, end, at, inserts, end.ti.try_number === 1) : end.state === "up_for_retry" ? [] : [{ row: end.ti, state: end.state }];
      const list = byRun.get(end.ti.run_id) ?? [];
      byRun.set(end.ti.run_id, [...list, ...finished]);
      const own = finished.filter((f) => f.row !== end.ti).map((f) => taskEvent({ ...f.row, dag_id: end.ti.dag_id, run_id: end.ti.run_id, try_number: 0 }, f.state, at));
      results[i] = { applied: true, events: own, ...(change.nextRetryAt ? { nextRetryAt: change.nextRetryAt } : {}) };
    }
    // Before settling: expanding a mapped task reads its upstream's XCom.
    await flushInserts(trx, store, inserts);
    const settled = await settleRuns(trx, { store, dag, at }, byRun);
    const claimed = claim ? await claimTasks(store, claim, trx) : [];
    // Work this batch queued and claimed itself is nobody else's to wake up for.
    await notifyAll(notify, dag.dagId, { queued: Math.max(0, settled.queued - claimed.length), runFinished: settled.runFinished });
    results.find((r) => r.applied)?.events.push(...settled.events);
    return { results, claimed };
  });
}

function changeOf(end: TryEnd, at: string): EndTry {
  switch (end.state) {
    case "success":
      return { state: "success" };
    case "up_for_retry":
      return { state: "up_for_retry", error: end.error, nextRetryAt: new Date(Date.parse(at) + end.delayMs).toISOString() };
    default:
      return { state: end.state, error: end.error };
  }
}

const durationOf = (ti: TaskInstanceRow, at: string): number | null => (ti.started_at ? Math.max(0, Date.parse(at) - Date.parse(ti.started_at)) : null);
const errorText = (change: EndTry): string | null => (change.error ? JSON.stringify(change.error) : null);

/**
 * Ends a batch of running tries in one statement (each guarded by its worker and try number, rows locked in id
 * order as heartbeats lock them); returns the ids it changed. Per-try UPDATEs were a round trip each on
 * PostgreSQL: measured, 2,000 of the 5,079 statements of 2,000 no-op tasks.
 */
async function endTryRows(trx: Db, store: Store, rows: ReadonlyArray<{ ti: TaskInstanceRow; change: EndTry }>, at: string, records: Inserts): Promise<Set<string>> {
  const recorded: TableRows[] = [
    { table: "task_try", rows: records.tries },
    { table: "xcom", rows: records.xcoms },
  ];
  const applied = new Set<string>();
  for (const part of chunks(rows, 50)) {
    // One value for the lot, or `CASE id WHEN … THEN … END`; cast, as PostgreSQL types a CASE of parameters text.
    const perRow = <T>(value: (row: (typeof part)[number]) => T, type: "text" | "integer"): T | RawBuilder<T> => {
      const values = part.map(value);
      if (values.every((v) => v === values[0])) return values[0]!;
      return sql<T>`case ${sql.ref("id")} ${sql.join(
        part.map((row, i) => sql`when ${row.ti.id} then cast(${values[i]} as ${sql.raw(type)})`),
        sql` `,
      )} end`;
    };
    const rowsInOrder = store.adapter.lockInOrder(
      trx
        .selectFrom("task_instance")
        .select("id")
        .where("id", "in", part.map((row) => row.ti.id))
        .orderBy("id"),
    );
    const changed = await store.adapter.updatePicked(trx, rowsInOrder, (db, picked) =>
      db
        .updateTable("task_instance")
        .set({
          state: perRow((row) => row.change.state, "text"),
          ended_at: at,
          duration_ms: perRow((row) => durationOf(row.ti, at), "integer"),
          error: perRow((row) => errorText(row.change), "text"),
          next_retry_at: perRow((row) => row.change.nextRetryAt ?? null, "text"),
          locked_by: null,
          locked_at: null,
          updated_at: at,
        })
        .where("id", "in", picked)
        // `(state = 'running') is true`: the same guard, but no index condition. Measured on PostgreSQL at 10,000
        // tasks: it AND-ed `state = 'running'` on ti_claim_idx with the ids and walked every index entry a running
        // row ever had (dead ones stay until vacuum): 0.8 ms a batch, against 0.04 ms by primary key alone.
        .where(sql<boolean>`(${sql.ref("state")} = 'running') is true`)
        .where((eb) =>
          eb.or(part.map(({ ti }) => eb.and([eb("id", "=", ti.id), eb("try_number", "=", ti.try_number), ...(ti.locked_by === null ? [] : [eb("locked_by", "=", ti.locked_by)])]))),
        )
        .returning(["id", "dag_id", "run_id", "task_id", "map_index"]),
      recorded,
    );
    for (const row of changed) applied.add(row.id);
  }
  return applied;
}

async function succeedInTransaction(trx: Db, ti: TaskInstanceRow, result: TrySuccess, at: string): Promise<Finished[] | null> {
  if (!(await endTry(trx, ti, { state: "success" }, at))) return null;
  return recordSuccess(trx, ti, result, at);
}

/** What a successful try leaves besides its state: its XComs (replacing an earlier try's), a branch's skips. */
/** A successful try's results as XCom rows. */
function xcomRows(ti: TaskInstanceRow, result: TrySuccess, at: string): Array<Insertable<Database["xcom"]>> {
  return [...result.xcoms].map(([key, value]) => ({ dag_id: ti.dag_id, run_id: ti.run_id, task_id: ti.task_id, map_index: ti.map_index, key, ...storedXComValue(value, result.redactor), created_at: at }));
}

/** Stores a successful try's results (unless `xcomsRecorded`: the ending statement did) and skips what it branched away from. */
async function recordSuccess(trx: Db, ti: TaskInstanceRow, result: TrySuccess, at: string, inserts?: Inserts, xcomsRecorded = false): Promise<Finished[]> {
  if (!xcomsRecorded) {
    // A first try has no earlier XComs to replace.
    if (ti.try_number > 1) await trx.deleteFrom("xcom").where("dag_id", "=", ti.dag_id).where("run_id", "=", ti.run_id).where("task_id", "=", ti.task_id).where("map_index", "=", ti.map_index).execute();
    const rows = xcomRows(ti, result, at);
    if (inserts) inserts.xcoms.push(...rows);
    else for (const part of chunks(rows)) await trx.insertInto("xcom").values(part).execute();
  }
  const finished: Finished[] = [{ row: ti, state: "success" }];
  for (const part of chunks(result.skipTaskIds)) {
    const skipped = await trx
      .updateTable("task_instance")
      .set({ state: "skipped", ended_at: at, updated_at: at })
      .where("dag_id", "=", ti.dag_id)
      .where("run_id", "=", ti.run_id)
      .where("task_id", "in", part)
      .where("state", "in", ["none", "scheduled", "queued"])
      .returning(["task_id", "map_index"])
      .execute();
    finished.push(...skipped.map((row) => ({ row, state: "skipped" as const })));
  }
  return finished;
}

/** running → failed (no tries left). */
export function failTask(store: Store, dag: DagDefinition, ti: TaskInstanceRow, error: TaskError): Promise<Transition> {
  return endAndSettle(store, dag, ti, async (trx, at) => ((await endTry(trx, ti, { state: "failed", error }, at)) ? [{ row: ti, state: "failed" }] : null));
}

/** running → up_for_retry `delayMs` from now (database time), when a scheduling pass re-queues it. */
export function retryTask(store: Store, dag: DagDefinition, ti: TaskInstanceRow, error: TaskError, delayMs: number): Promise<Transition & { nextRetryAt: string }> {
  let nextRetryAt = "";
  return endAndSettle(store, dag, ti, async (trx, at) => {
    nextRetryAt = new Date(Date.parse(at) + delayMs).toISOString();
    return (await endTry(trx, ti, { state: "up_for_retry", error, nextRetryAt }, at)) ? [] : null;
  }).then((t) => ({ ...t, nextRetryAt }));
}

/** running → skipped: the task itself asked to be skipped (AirflowSkipException, skipOnExitCode). */
export function skipRunningTask(store: Store, dag: DagDefinition, ti: TaskInstanceRow, error: TaskError | null): Promise<Transition> {
  return endAndSettle(store, dag, ti, async (trx, at) => ((await endTry(trx, ti, { state: "skipped", error }, at)) ? [{ row: ti, state: "skipped" }] : null));
}

/**
 * The sweeper: running task instances of these DAGs whose lock (database time) is older than `lockTimeoutMs`
 * belong to a dead worker (a live one refreshes its locks every heartbeat). Each lost try is recorded as failed
 * and the task instance is re-queued at once if it has tries left (Airflow's zombie handling), else failed.
 */
export async function requeueLostTasks(store: Store, dags: readonly DagDefinition[], lockTimeoutMs: number): Promise<Array<{ ti: TaskInstanceRow; state: "queued" | "failed"; events: EngineEvent[] }>> {
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  const cutoff = new Date(Date.parse(await store.now()) - lockTimeoutMs).toISOString();
  const lost = await store.db
    .selectFrom("task_instance")
    .selectAll()
    .where("state", "=", "running")
    .where("dag_id", "in", [...byId.keys()])
    .where("locked_at", "<", cutoff)
    .execute();
  const changed: Array<{ ti: TaskInstanceRow; state: "queued" | "failed"; events: EngineEvent[] }> = [];
  for (const ti of lost) {
    const error: TaskError = {
      type: "WorkerLost",
      code: "worker_lost",
      message: `worker ${ti.locked_by ?? "?"} on ${ti.hostname ?? "?"} stopped heartbeating during try ${ti.try_number} (lock older than ${lockTimeoutMs} ms)`,
    };
    const state = ti.try_number <= ti.max_tries ? "queued" : "failed";
    const t = await endAndSettle(
      store,
      byId.get(ti.dag_id)!,
      ti,
      async (trx, at) => {
        if (!(await endTry(trx, ti, { state, error, lockedBefore: cutoff }, at))) return null;
        return state === "failed" ? [{ row: ti, state }] : [];
      },
      state === "queued",
    );
    if (t.applied) changed.push({ ti, state, events: t.events });
  }
  return changed;
}
