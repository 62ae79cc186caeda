/**
 * A worker: schedules the runs of the DAGs it has loaded, claims their queued task instances from the store,
 * executes them in up to `slots` concurrent tries, heartbeats its locks and sweeps locks of dead workers. Any
 * number of workers (processes, machines) can share one store; claiming guarantees one executor per try.
 *
 * It does not poll for work: a commit that queues work or changes a run wakes it — at once in this process,
 * by LISTEN/NOTIFY from other processes on PostgreSQL, and within 5–100 ms by SQLite's `data_version` watch.
 * A periodic pass (`pollIntervalMs`) remains for what no commit announces: a cron schedule or a retry coming due.
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type { DagDefinition, TaskDefinition, TaskError } from "../dag/model.ts";
import { appendLogLine } from "../runtime/logs.ts";
import type { LogLine } from "../runtime/types.ts";
import type { Store } from "../store/index.ts";
import type { DagRunRow, TaskInstanceRow, TaskState } from "../store/schema.ts";
import { VenvflowError } from "../util/errors.ts";
import { venvflowHome } from "../util/home.ts";
import { groupOwner, killGroupsOf } from "../util/process.ts";
import { sweepDeadOwners } from "../util/scratch.ts";
import { Redactor } from "../util/secrets.ts";
import { nextScheduledInterval } from "./dates.ts";
import { invokeTask, taskRedactor, toTaskError } from "./execute.ts";
import { mapLists, mappedTask, XComCache } from "./mapping.ts";
import { getRun, loadXComs } from "./queries.ts";
import { retryDelayMs } from "./retry.ts";
import { lastScheduledIntervalEnd, scheduleDag } from "./scheduler.ts";
import { pausedDagIds } from "./serialized-dags.ts";
import { fencedSince, joinFence, monotonicMs } from "./fence.ts";
import { heartbeat, type HeldTry } from "./heartbeat.ts";
import { heartbeatsOnThread, startHeartbeater, type Heartbeater } from "./heartbeater.ts";
import { LazyTryLog } from "./try-log.ts";
import { claimTasks, endTries, failTask, requeueLostTasks, type ClaimOptions, type Transition, type TryEnd } from "./transitions.ts";
import type { EngineEvent } from "./types.ts";
import { prewarmDags } from "./executors/index.ts";

export interface WorkerOptions {
  store: Store;
  dags: readonly DagDefinition[];
  /** Concurrent tries in this process (default 1). */
  slots?: number;
  /** Default `<hostname>:<pid>:<random>`. */
  workerId?: string;
  /** VENVFLOW_HOME (logs). */
  home?: string;
  /** How often to run a scheduling pass when nothing wakes the worker (default 1000 ms). */
  pollIntervalMs?: number;
  /** How often to refresh the locks of running tries, from a worker thread (default 2000 ms). */
  heartbeatIntervalMs?: number;
  /**
   * A lock not refreshed for this long (database time) belongs to a dead worker and is swept (default 10 000 ms:
   * five missed heartbeats; with sweeps every 5 s at most, a lost try is found within 15 s).
   */
  lockTimeoutMs?: number;
  onEvent?: (event: EngineEvent) => void;
  /** Also create the runs the DAGs' cron schedules make due (Airflow's scheduler); default false. */
  createScheduledRuns?: boolean;
  /**
   * Start the warm interpreters of the Python tasks of `dags` whose environments are built, in the background, so
   * their first tries fork as fast as the next ones (default true; nothing is built for it).
   */
  prewarm?: boolean;
}

interface Running {
  tryNumber: number;
  /** Names the try's process groups (src/util/process.ts `groupOwner`). */
  owner: string;
  /** Monotonic ms when the try started (to tell whether the fence acted during it). */
  startedAt: number;
  /**
   * The heartbeat thread learned of the try later than a heartbeat after its claim (this process did not run in
   * between): its lock may have been swept before it was ever refreshed, so it is checked before the try starts.
   */
  lateStart: boolean;
  controller: AbortController;
  done: Promise<void>;
  /** Appends a system line to the try's log (set once the try's log is open). */
  log?: (msg: string, level?: "INFO" | "WARNING" | "ERROR") => void;
}

export class Worker {
  readonly id: string;
  private readonly store: Store;
  private readonly dags: Map<string, DagDefinition>;
  private readonly slots: number;
  private readonly home: string;
  private readonly pollIntervalMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly lockTimeoutMs: number;
  private readonly onEvent: (event: EngineEvent) => void;
  private readonly createScheduledRuns: boolean;
  private readonly prewarm: boolean;
  private readonly hostname = os.hostname();
  private readonly running = new Map<string, Running>();
  private heartbeater: Heartbeater = { started: Promise.resolve(), setTries: () => {}, stop: async () => {} };
  private readonly xcomCache = new XComCache();
  private readonly flushing = new Set<string>();
  /** Slots promised to claims in flight. */
  private reserved = 0;
  private readonly completions = new Map<string, Array<{ end: TryEnd; resolve: (t: Transition & { nextRetryAt?: string }) => void; reject: (error: unknown) => void }>>();
  private stopping = false;
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private failure: unknown = null;
  private lastSweep = 0;
  private passWanted = true;
  /**
   * Claimable work may exist: set by every wake-up topic and scheduling pass, cleared by a claim that found less
   * than it asked for. A try ending wakes the loop too, and claiming then anyway was half of a chain's claims,
   * each finding nothing (measured: 2,001 claim statements for 1,000 chained tasks).
   */
  private claimWanted = true;
  /** A run changed state since `until` was last asked (asking reads the store; most wake-ups change no run). */
  private runsChanged = true;
  private readonly runs = new Map<string, DagRunRow>();
  private lastPass = 0;
  /** When the next retry or run timeout comes due (local epoch ms). */
  private nextDueAt: number | null = null;
  /**
   * DAGs paused in the store (`venvflow pause`, the server's toggle), read once per scheduling pass: a paused DAG
   * gets no new runs, its runs are not advanced and its queued tries are not claimed, as in Airflow. An unpause
   * announces no commit, so it takes effect within one `pollIntervalMs`.
   */
  private paused: ReadonlySet<string> = new Set();

  constructor(opts: WorkerOptions) {
    const slots = opts.slots ?? 1;
    if (!Number.isInteger(slots) || slots < 1) {
      throw new VenvflowError("invalid_worker_slots", `worker slots must be a positive integer, got ${slots}`, { fix: "pass workers: 1 or more" });
    }
    if (opts.dags.length === 0) {
      throw new VenvflowError("no_dags", "a worker needs at least one DAG to work on", { fix: "pass the DAGs loaded from your DAG folder (loadDags)" });
    }
    this.store = opts.store;
    this.dags = new Map(opts.dags.map((d) => [d.dagId, d]));
    this.slots = slots;
    this.id = opts.workerId ?? `${this.hostname}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.home = opts.home ?? venvflowHome();
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 2000;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 10_000;
    const onEvent = opts.onEvent ?? (() => {});
    this.onEvent = (event) => {
      if (event.type === "run") this.runsChanged = true;
      onEvent(event);
    };
    this.createScheduledRuns = opts.createScheduledRuns ?? false;
    this.prewarm = opts.prewarm ?? true;
  }

  /** Works until `stop()`, or until `until()` answers true; waits for its running tries before returning. */
  async run(opts: { until?: () => Promise<boolean> } = {}): Promise<void> {
    // What killed venvflow processes left in the temp directory (their call directories, fences) goes first.
    sweepDeadOwners();
    // Another process can sweep this worker's tries only when it has a thread to heartbeat them from (fence.ts).
    const fence = heartbeatsOnThread(this.store) ? joinFence(this.lockTimeoutMs) : null;
    this.heartbeater = startHeartbeater({
      store: this.store,
      workerId: this.id,
      intervalMs: this.heartbeatIntervalMs,
      ...(fence ? { lease: fence.lease } : {}),
      onLost: (tries) => tries.forEach((t) => this.lost(t)),
      onError: (error) => {
        this.failure ??= error;
        this.wake();
      },
    });
    const prewarming = new AbortController();
    let prewarmed = Promise.resolve();
    let stopWatching = async (): Promise<void> => {};
    try {
      stopWatching = await this.store.watch((topic) => this.onTopic(topic));
      if (this.prewarm) prewarmed = prewarmDags(this.dags.values(), this.home, prewarming.signal);
      while (!this.stopping) {
        const now = Date.now();
        if (this.passWanted || now - this.lastPass >= this.pollIntervalMs || (this.nextDueAt !== null && this.nextDueAt <= now)) await this.schedulingPass();
        if (Date.now() - this.lastSweep >= Math.min(this.lockTimeoutMs, this.pollIntervalMs * 5)) await this.sweep();
        await this.claim();
        if (this.failure) throw this.failure;
        if (opts.until && this.runsChanged) {
          this.runsChanged = false;
          if (await opts.until()) break;
        }
        const wakeAt = Math.min(this.lastPass + this.pollIntervalMs, this.nextDueAt ?? Infinity);
        await this.sleep(Math.max(0, wakeAt - Date.now()));
      }
    } finally {
      prewarming.abort();
      // No more claims (batches of ending tries claim too); wait until none is left, as a batch in flight may still
      // start what it claimed.
      this.stopping = true;
      while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((r) => r.done));
      await prewarmed;
      await stopWatching();
      await this.heartbeater.stop();
      fence?.leave();
    }
    if (this.failure) throw this.failure;
  }

  /** `work:DAG` — claimable work appeared; `run:DAG` (or "*", a change of unknown kind) — a pass may have work. */
  private onTopic(topic: string): void {
    const [kind, dagId] = topic.split(/:(.*)/s, 2) as [string, string | undefined];
    if (dagId !== undefined && !this.dags.has(dagId)) return;
    if (kind !== "work") this.passWanted = this.runsChanged = true;
    this.claimWanted = true;
    this.wake();
  }

  private async schedulingPass(): Promise<void> {
    this.passWanted = false;
    this.claimWanted = true;
    this.runsChanged = true;
    this.lastPass = Date.now();
    this.nextDueAt = null;
    this.paused = await pausedDagIds(this.store);
    for (const dag of await this.dagsToSchedule()) {
      const pass = await scheduleDag(this.store, dag, { createScheduledRuns: this.createScheduledRuns });
      pass.events.forEach(this.onEvent);
      for (const id of pass.abortIds) this.abort(id, "the run exceeded its dagrunTimeout");
      if (pass.nextDueInMs !== null) this.nextDueAt = Math.min(this.nextDueAt ?? Infinity, Date.now() + pass.nextDueInMs);
    }
  }

  private async claim(): Promise<void> {
    if (!this.claimWanted) return;
    const claim = this.claimOptions(0);
    if (!claim) return;
    this.claimWanted = false;
    let claimed: TaskInstanceRow[];
    try {
      claimed = await claimTasks(this.store, claim);
    } catch (error) {
      this.reserved -= claim.limit;
      throw error;
    }
    this.started(claim, claimed);
  }

  /**
   * A claim for the free slots (plus `ending`, tries about to end) of the unpaused DAGs, its slots reserved until
   * `started`, as claims may run concurrently (the loop's, and each DAG's batch of ending tries); null: no slot.
   */
  private claimOptions(ending: number): (ClaimOptions & { startedAt: number }) | null {
    const free = this.slots - this.running.size - this.reserved + ending;
    const dagIds = [...this.dags.keys()].filter((id) => !this.paused.has(id));
    if (free <= 0 || dagIds.length === 0 || this.stopping) return null;
    this.reserved += free;
    return { workerId: this.id, hostname: this.hostname, dagIds, limit: free, logsRoot: path.resolve(this.home, "logs"), startedAt: monotonicMs() };
  }

  /** Starts what a claim returned (and frees its reservation); one that got all it asked for may have left more. */
  private started(claim: ClaimOptions & { startedAt: number }, claimed: readonly TaskInstanceRow[]): void {
    this.reserved -= claim.limit;
    if (claimed.length >= claim.limit) this.claimWanted = true;
    for (const ti of claimed) this.start(ti, claim.startedAt);
  }

  /**
   * Unpaused DAGs with active runs, or with a scheduled run due: plain reads first, so an idle worker takes no
   * write lock (on SQLite, BEGIN IMMEDIATE blocks every other writer).
   */
  private async dagsToSchedule(): Promise<DagDefinition[]> {
    const active = [...this.dags.keys()].filter((id) => !this.paused.has(id));
    if (active.length === 0) return [];
    const ids = new Set(
      (
        await this.store.db
          .selectFrom("dag_run")
          .select("dag_id")
          .distinct()
          .where("dag_id", "in", active)
          .where("state", "in", ["queued", "running"])
          .execute()
      ).map((r) => r.dag_id),
    );
    if (this.createScheduledRuns) {
      const now = new Date(await this.store.now());
      for (const dag of this.dags.values()) {
        if (ids.has(dag.dagId) || dag.schedule === null || this.paused.has(dag.dagId)) continue;
        if (nextScheduledInterval(dag, await lastScheduledIntervalEnd(this.store.db, dag.dagId), now)) ids.add(dag.dagId);
      }
    }
    return [...ids].map((id) => this.dags.get(id) as DagDefinition);
  }

  /** Stops claiming; `run()` returns once the running tries end. */
  stop(): void {
    this.stopping = true;
    this.wake();
  }

  /**
   * Stops claiming and cancels the running tries (their processes are stopped: process groups killed, scratch
   * removed by the executors); each is recorded as failed with `task_cancelled`, and retried where retries remain,
   * as Airflow does with a task that receives SIGTERM. `run()` returns once they are recorded.
   */
  cancel(reason: string): void {
    this.stopping = true;
    for (const running of this.running.values()) running.controller.abort(new VenvflowError("task_cancelled", reason, { fix: "run it again (venvflow run), or let a worker retry it" }));
    this.wake();
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Sleeps up to `ms`; a `wake()` during the sleep ends it, and one since the last sleep skips it. */
  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = null;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private abort(id: string, reason: string): void {
    this.running.get(id)?.controller.abort(new VenvflowError("task_aborted", reason));
  }

  /**
   * A try this worker runs is no longer its own (swept while this worker did not heartbeat — it hung or was stopped
   * — or its run timed out): its processes are foreign now and are killed at once, without the grace a cancel gets,
   * since its retry may already run elsewhere. Its outcome is discarded (the store rejects it anyway: a try ends
   * only where its worker and try number still hold).
   */
  private lost(t: HeldTry): void {
    const running = this.running.get(t.id);
    if (!running || running.tryNumber !== t.tryNumber) return;
    const killed = killGroupsOf(running.owner);
    const reason = `try ${t.tryNumber} is no longer this worker's (its lock was swept while this worker did not heartbeat, or its run timed out)`;
    running.log?.(`${reason}; ${killed.length > 0 ? `killed its process groups ${killed.join(", ")}` : "it has no process left"}`, "WARNING");
    running.controller.abort(new VenvflowError("task_aborted", reason));
  }

  private async sweep(): Promise<void> {
    this.lastSweep = Date.now();
    for (const { ti, state, events } of await requeueLostTasks(this.store, [...this.dags.values()], this.lockTimeoutMs)) {
      if (ti.log_path) appendLogLine(ti.log_path, "system", `Worker ${ti.locked_by ?? "?"} stopped heartbeating; try ${ti.try_number} is lost; task instance ${state}`, "ERROR", this.taskRedactor(ti));
      this.onEvent({ type: "task", dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, ...mapIndexOf(ti), state, tryNumber: ti.try_number, at: new Date().toISOString() });
      events.forEach(this.onEvent);
    }
  }

  /**
   * Ends a try together with the others of its DAG that end in the same tick: one transaction for the batch
   * (measured: per-try transactions were most of the engine's cost per no-op task).
   */
  private complete(dag: DagDefinition, end: TryEnd): Promise<Transition & { nextRetryAt?: string }> {
    return new Promise((resolve, reject) => {
      const batch = this.completions.get(dag.dagId) ?? [];
      batch.push({ end, resolve, reject });
      this.completions.set(dag.dagId, batch);
      if (batch.length === 1 && !this.flushing.has(dag.dagId)) setImmediate(() => void this.flush(dag));
    });
  }

  /**
   * One batch in flight per DAG: tries ending meanwhile wait for the next. Concurrent batches of one DAG only
   * queued on its lock — measured on PostgreSQL (10,000 no-op tasks): taking the lock averaged 0.9 ms a batch.
   */
  private async flush(dag: DagDefinition): Promise<void> {
    const batch = this.completions.get(dag.dagId) ?? [];
    this.completions.delete(dag.dagId);
    this.flushing.add(dag.dagId);
    // The batch's tries are about done: their slots are free for what the batch claims.
    const claim = this.claimOptions(batch.length);
    try {
      const { results, claimed } = await endTries(this.store, dag, batch.map((b) => b.end), claim ?? undefined);
      batch.forEach((b, i) => b.resolve(results[i]!));
      if (claim) this.started(claim, claimed);
    } catch (error) {
      if (claim) this.reserved -= claim.limit;
      for (const b of batch) b.reject(error);
    } finally {
      this.flushing.delete(dag.dagId);
      if (this.completions.has(dag.dagId)) setImmediate(() => void this.flush(dag));
    }
  }

  /** A run's dates and conf never change: read once per run, not once per try. */
  private async runOf(ti: TaskInstanceRow): Promise<DagRunRow | undefined> {
    const key = `${ti.dag_id}\u0000${ti.run_id}`;
    let run = this.runs.get(key);
    if (!run) {
      run = await getRun(this.store.db, ti.dag_id, ti.run_id);
      if (!run) return undefined;
      if (this.runs.size >= 64) this.runs.delete(this.runs.keys().next().value as string);
      this.runs.set(key, run);
    }
    return run;
  }

  private taskRedactor(ti: TaskInstanceRow): Redactor {
    const task = this.dags.get(ti.dag_id)?.tasks.get(ti.task_id);
    return task ? taskRedactor(task) : new Redactor();
  }

  private start(ti: TaskInstanceRow, claimStartedAt: number): void {
    const controller = new AbortController();
    const now = monotonicMs();
    const running: Running = {
      tryNumber: ti.try_number,
      owner: `${this.id}|${ti.id}|${ti.try_number}`,
      startedAt: now,
      lateStart: now - claimStartedAt > this.heartbeatIntervalMs,
      controller,
      done: Promise.resolve(),
    };
    running.done = groupOwner
      .run(running.owner, () => this.execute(ti, running))
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        // A try swept while this worker hung may end after the same task's next try started here.
        if (this.running.get(ti.id) === running) this.running.delete(ti.id);
        this.heartbeater.setTries(this.heldTries());
        this.wake();
      });
    this.running.set(ti.id, running);
    this.heartbeater.setTries(this.heldTries());
  }

  private heldTries(): HeldTry[] {
    return [...this.running].map(([id, r]) => ({ id, tryNumber: r.tryNumber }));
  }

  private async execute(ti: TaskInstanceRow, running: Running): Promise<void> {
    const signal = running.controller.signal;
    const dag = this.dags.get(ti.dag_id) as DagDefinition;
    const logPath = ti.log_path as string;
    const base = { dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, ...mapIndexOf(ti), tryNumber: ti.try_number };
    const redactor = this.taskRedactor(ti);
    const onLog = (line: LogLine): void => this.onEvent({ type: "log", ...base, line });
    // An in-process task's lines and the engine's share one lazily created log (try-log.ts: a silent successful
    // try writes no file); a task run by a process writes its own file, so the engine appends per line.
    const declaredKind = dag.tasks.get(ti.task_id)?.kind;
    const shared = declaredKind === "python" || declaredKind === "branch_python" || declaredKind === "empty" ? new LazyTryLog(logPath, redactor, onLog) : null;
    const log = (msg: string, level: "INFO" | "WARNING" | "ERROR" = "INFO"): void => {
      if (shared) shared.system(msg, level);
      else onLog(appendLogLine(logPath, "system", msg, level, redactor, path.join(this.home, "logs")));
    };
    running.log = log;
    try {
      await this.runTry(ti, dag, signal, { base, log, onLog, shared, redactor, startedAt: running.startedAt, lateStart: running.lateStart });
    } finally {
      await shared?.close();
    }
  }

  private async runTry(
    ti: TaskInstanceRow,
    dag: DagDefinition,
    signal: AbortSignal,
    io: {
      base: { dagId: string; runId: string; taskId: string; mapIndex?: number; tryNumber: number };
      log: (msg: string, level?: "INFO" | "WARNING" | "ERROR") => void;
      onLog: (line: LogLine) => void;
      shared: LazyTryLog | null;
      redactor: Redactor;
      startedAt: number;
      lateStart: boolean;
    },
  ): Promise<void> {
    const { base, log, onLog, shared, redactor } = io;
    const logPath = ti.log_path as string;
    const emit = (state: TaskState, error?: TaskError): void => this.onEvent({ type: "task", ...base, state, at: new Date().toISOString(), ...(error ? { error } : {}) });
    const report = (t: Transition): boolean => {
      t.events.forEach(this.onEvent);
      return t.applied;
    };
    emit("running");
    const name = `${ti.dag_id}.${ti.task_id}${ti.map_index >= 0 ? `[${ti.map_index}]` : ""}`;
    log(`Starting try ${ti.try_number} of ${ti.max_tries + 1} of ${name} (run ${ti.run_id}) on ${this.hostname}, worker ${this.id}`);

    const declared = dag.tasks.get(ti.task_id);
    const run = await this.runOf(ti);
    if (!declared || !run) {
      const error = toTaskError(
        new VenvflowError("task_not_found", `DAG "${ti.dag_id}" as loaded by worker ${this.id} has no task "${ti.task_id}"`, {
          fix: "make every worker load the same version of the DAG file",
        }),
      );
      log(`${error.type}: ${error.message}`, "ERROR");
      if (report(await failTask(this.store, dag, ti, error))) emit("failed", error);
      return;
    }
    let task: TaskDefinition = declared;
    let prepareError: TaskError | null = null;
    try {
      if (declared.mapping) task = mappedTask(declared, ti.map_index, await mapLists(this.store.db, dag, ti.run_id, declared, this.xcomCache));
    } catch (error) {
      prepareError = toTaskError(error);
    }
    // Refreshing the lock here also tells whether it is still this worker's: a swept try is not started at all.
    if (io.lateStart && !prepareError && !(await heartbeat(this.store, this.id, [{ id: ti.id, tryNumber: ti.try_number }])).has(ti.id)) {
      log(`Try ${ti.try_number} not started: this worker did not run for a while after claiming it, and its lock was swept meanwhile`, "WARNING");
      return;
    }
    let inv = prepareError
      ? { state: "failed" as const, error: prepareError, returnValue: undefined, xcoms: new Map<string, unknown>(), skipTaskIds: [] }
      : await invokeTask({
          dag,
          task,
          runId: ti.run_id,
          mapIndex: ti.map_index,
          tryNumber: ti.try_number,
          logicalDate: new Date(run.logical_date),
          dataIntervalStart: new Date(run.data_interval_start),
          dataIntervalEnd: new Date(run.data_interval_end),
          conf: JSON.parse(run.conf) as Record<string, unknown>,
          xcoms: await loadXComs(this.store.db, dag, ti.run_id, task.xcomRefs),
          logPath,
          home: this.home,
          onLog,
          signal,
          ...(shared ? { log: shared } : {}),
        });

    const fenced = inv.state === "failed" ? fencedSince(io.startedAt) : null;
    if (fenced) {
      const error: TaskError = {
        type: "VenvflowError",
        code: "task_fenced",
        message: `this worker's process ${fenced.reason}, so the fence killed the try's processes before another worker could retry it`,
        fix: "find out why the worker hung (stopped, swapping, a frozen container); the try is retried where retries remain",
      };
      inv = { ...inv, error };
    }
    if (signal.aborted && !isCancellation(signal.reason)) {
      // Someone else already settled this try (run timeout, sweeper); its outcome is not ours to record.
      log(`Try aborted: ${(signal.reason as Error).message}`, "WARNING");
      return;
    }
    // A try that did not succeed keeps its log, whatever it printed.
    if (inv.state !== "success") shared?.keep();
    if (inv.error) log(`${inv.error.type}: ${inv.error.message}${inv.error.traceback ? `\n${inv.error.traceback}` : ""}`, inv.state === "failed" ? "ERROR" : "INFO");
    let end: TryEnd;
    // The stored error is shown as is (runs show, API, UI) and feeds no task: it is stored masked.
    const maskedError = inv.error ? (redactor.redactValue(inv.error) as TaskError) : null;
    if (inv.state === "success") end = { ti, state: "success", xcoms: inv.xcoms, skipTaskIds: inv.skipTaskIds, redactor };
    else if (inv.state === "skipped") end = { ti, state: "skipped", error: maskedError };
    else {
      const error = maskedError ?? { type: "Error", message: "the task failed without an error" };
      end =
        ti.try_number <= ti.max_tries
          ? { ti, state: "up_for_retry", error, delayMs: retryDelayMs(task, ti.try_number, { dagId: ti.dag_id, taskId: ti.task_id, logicalDate: run.logical_date }) }
          : { ti, state: "failed", error };
    }
    const result = await this.complete(dag, end);
    const applied = result.applied;
    if (applied) {
      if (end.state === "success") {
        log("Marking task as SUCCESS");
        emit("success");
        for (const taskId of end.skipTaskIds) log(`Branch not followed: skipping ${taskId}`);
      } else if (end.state === "skipped") {
        log("Marking task as SKIPPED");
        emit("skipped");
      } else if (end.state === "up_for_retry") {
        log(`Marking task as UP_FOR_RETRY; try ${ti.try_number + 1} not before ${result.nextRetryAt} (in ${end.delayMs} ms)`, "WARNING");
        emit("up_for_retry", end.error);
        this.nextDueAt = Math.min(this.nextDueAt ?? Infinity, Date.now() + end.delayMs);
      } else {
        log("Marking task as FAILED", "ERROR");
        emit("failed", end.error);
      }
    }
    report(result);
    if (!applied) log(`Outcome ${inv.state} discarded: the task instance was changed elsewhere while it ran`, "WARNING");
  }
}

/** This worker cancelled the try itself (a signal): its outcome is still the worker's to record. */
function isCancellation(reason: unknown): boolean {
  return reason instanceof VenvflowError && reason.code === "task_cancelled";
}

function mapIndexOf(ti: Pick<TaskInstanceRow, "map_index">): { mapIndex?: number } {
  return ti.map_index >= 0 ? { mapIndex: ti.map_index } : {};
}
