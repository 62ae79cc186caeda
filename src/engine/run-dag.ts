import type { DagDefinition, TaskError } from "../dag/model.ts";
import type { LogLine } from "../runtime/types.ts";
import type { Store } from "../store/index.ts";
import type { DagRunRow, RunType } from "../store/schema.ts";
import { VenvflowError } from "../util/errors.ts";
import { isDotSegment, venvflowHome } from "../util/home.ts";
import { manualRunDates } from "./dates.ts";
import { appendLogLine, taskLogPath } from "../runtime/logs.ts";
import { isXComRef } from "../dag/xcom.ts";
import { invokeTask, taskRedactor } from "./execute.ts";
import { mapLists, mappedTask } from "./mapping.ts";
import { getRun, latestRun, loadXComs, summarizeRun, taskInstances, xcomKey } from "./queries.ts";
import { createRun, runTasks, startRun, failRun } from "./transitions.ts";
import type { EngineEvent, RunSummary } from "./types.ts";
import { Worker } from "./worker.ts";

// Airflow's RUN_ID_REGEX; it also keeps run ids safe as log directory names (with "." and ".." refused).
const RUN_ID = /^[A-Za-z0-9_.~:+-]+$/;

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  /** Default: now. */
  logicalDate?: Date;
  /** Default: `manual__<logical date ISO>`. */
  runId?: string;
  runType?: RunType;
}

/** Creates a queued run of `dag` (its task instances in state none) for any worker to pick up. */
export async function triggerRun(store: Store, dag: DagDefinition, opts: TriggerOptions = {}): Promise<DagRunRow> {
  const conf = opts.conf ?? {};
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) {
    throw new VenvflowError("invalid_conf", `the run conf for DAG "${dag.dagId}" must be a JSON object`, { fix: `pass an object, e.g. --conf '{"key": "value"}'` });
  }
  const dates = manualRunDates(dag, opts.logicalDate ?? new Date());
  const runType = opts.runType ?? "manual";
  const runId = opts.runId ?? `${runType}__${dates.logicalDate.toISOString()}`;
  if (!RUN_ID.test(runId) || isDotSegment(runId)) {
    throw new VenvflowError("invalid_run_id", `run id "${runId}" may only contain letters, digits and _ . ~ : + -, and is not "." or ".."`, { fix: "choose another run id" });
  }
  if (await getRun(store.db, dag.dagId, runId)) {
    throw new VenvflowError("run_exists", `DAG "${dag.dagId}" already has a run "${runId}"`, { fix: "pass another logical date or run id" });
  }
  return store.writeTransaction(async (trx, notify) => {
    const run = await createRun(trx, { dagId: dag.dagId, runId, runType, ...dates, conf, tasks: runTasks(dag) }, await store.adapter.now(trx));
    await notify(`run:${dag.dagId}`);
    return run;
  });
}

export interface RunDagOptions extends TriggerOptions {
  store: Store;
  /** Concurrent tries in this process (default 1). */
  workers?: number;
  /** VENVFLOW_HOME (logs). */
  home?: string;
  onEvent?: (event: EngineEvent) => void;
  /**
   * Cancels the run (a signal to `venvflow run`): the running tries are stopped and recorded as failed
   * (`task_cancelled`), then the run fails with its unfinished task instances skipped.
   */
  signal?: AbortSignal;
  /** Worker tuning, mostly for tests. */
  pollIntervalMs?: number;
  heartbeatIntervalMs?: number;
  lockTimeoutMs?: number;
}

/**
 * Triggers a run and works on the DAG in this process until that run is done. Other workers sharing the store
 * may take some of its tasks; this returns when the run is finished either way.
 */
export async function runDag(dag: DagDefinition, opts: RunDagOptions): Promise<RunSummary> {
  const { store } = opts;
  const run = await triggerRun(store, dag, opts);
  const worker = new Worker({
    store,
    dags: [dag],
    slots: opts.workers ?? 1,
    ...(opts.home !== undefined ? { home: opts.home } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
    ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
  });
  const cancel = (): void => worker.cancel(`the run was cancelled (${String(opts.signal?.reason ?? "signal")})`);
  if (opts.signal?.aborted) cancel();
  else opts.signal?.addEventListener("abort", cancel, { once: true });
  try {
    await worker.run({
      until: async () => {
        const state = (await getRun(store.db, dag.dagId, run.run_id))?.state;
        return state === "success" || state === "failed";
      },
    });
  } finally {
    opts.signal?.removeEventListener("abort", cancel);
  }
  if (opts.signal?.aborted) {
    const current = await getRun(store.db, dag.dagId, run.run_id);
    if (current && (current.state === "running" || current.state === "queued")) {
      await store.writeTransaction(async (trx, notify) => {
        const at = await store.adapter.lockDag(trx, dag.dagId);
        if (current.state === "queued") await startRun(trx, current.id, at);
        await failRun(trx, { ...current, state: "running" }, at);
        await notify(`run:${dag.dagId}`);
      });
    }
  }
  return summarizeRun(store, dag.dagId, run.run_id, dag);
}

export interface RunTaskOptions {
  /** Where upstream XComs come from (the DAG's latest run); needed only when the task references some. */
  store?: Store;
  conf?: Record<string, unknown>;
  logicalDate?: Date;
  home?: string;
  onLog?: (line: LogLine) => void;
  signal?: AbortSignal;
  /** A mapped task: which instance to run (default 0); lists mapped from upstream results come from the latest run. */
  mapIndex?: number;
}

export interface TaskTestResult {
  dagId: string;
  taskId: string;
  runId: string;
  state: "success" | "failed" | "skipped";
  returnValue: unknown;
  error: TaskError | null;
  /** What a real run would store: "return_value" and multipleOutputs keys. */
  xcoms: Record<string, unknown>;
  /** Branch tasks: what a real run would skip. */
  skipTaskIds: string[];
  durationMs: number;
  logPath: string;
}

/**
 * `venvflow test`: one try of one task, without its upstream and without recording anything in the store (as
 * `airflow tasks test`). Upstream XComs the task references come from the DAG's latest run.
 */
export async function runTask(dag: DagDefinition, taskId: string, opts: RunTaskOptions = {}): Promise<TaskTestResult> {
  const declared = dag.tasks.get(taskId);
  if (!declared) {
    throw new VenvflowError("task_not_found", `DAG "${dag.dagId}" has no task "${taskId}"`, { fix: `use one of: ${[...dag.tasks.keys()].join(", ")}` });
  }
  let task = declared;
  const mapIndex = declared.mapping ? (opts.mapIndex ?? 0) : -1;
  if (declared.mapping) {
    const latest = opts.store ? await latestRun(opts.store.db, dag.dagId) : undefined;
    const fromRuns = declared.mapping.axes.some((a) => isXComRef(a.source));
    if (fromRuns && (!opts.store || !latest)) {
      throw new VenvflowError("xcom_missing", `task "${taskId}" is mapped over upstream results, but DAG "${dag.dagId}" has no run to take them from`, {
        fix: "run the DAG once (venvflow run FILE), then test the task again",
      });
    }
    task = mappedTask(declared, mapIndex, await mapLists(opts.store?.db, dag, latest?.run_id ?? "", declared));
  }
  let xcoms = new Map<string, unknown>();
  if (task.xcomRefs.length > 0) {
    const refs = task.xcomRefs.map((r) => `"${r.taskId}"."${r.key}"`).join(", ");
    const latest = opts.store ? await latestRun(opts.store.db, dag.dagId) : undefined;
    if (!opts.store || !latest) {
      throw new VenvflowError("xcom_missing", `task "${taskId}" needs upstream results ${refs}, but DAG "${dag.dagId}" has no run to take them from`, {
        fix: "run the DAG once (venvflow run FILE) so its upstream tasks store their results, then test the task again",
      });
    }
    const store = opts.store;
    xcoms = await loadXComs(store.db, dag, latest.run_id, task.xcomRefs);
    const states = new Map((await taskInstances(store.db, dag.dagId, latest.run_id)).map((ti) => [ti.task_id, ti.state]));
    // An upstream that succeeded without storing the key returned None: that pulls as None, as in a real run.
    const missing = task.xcomRefs.filter((r) => !xcoms.has(xcomKey(r)) && states.get(r.taskId) !== "success");
    if (missing.length > 0) {
      const what = missing.map((r) => `"${r.taskId}"."${r.key}" (task ${states.get(r.taskId) ?? "absent"})`).join(", ");
      throw new VenvflowError("xcom_missing", `task "${taskId}" needs ${what} from the latest run "${latest.run_id}" of DAG "${dag.dagId}", which has none`, {
        fix: "run the DAG until those upstream tasks succeed (venvflow run FILE), then test the task again",
      });
    }
  }
  const home = opts.home ?? venvflowHome();
  const dates = manualRunDates(dag, opts.logicalDate ?? new Date());
  const runId = `test__${dates.logicalDate.toISOString()}`;
  const logPath = taskLogPath(home, dag.dagId, runId, taskId, 1, mapIndex);
  const redactor = taskRedactor(task);
  const started = Date.now();
  const line = (msg: string, level?: "INFO" | "ERROR"): void => {
    const written = appendLogLine(logPath, "system", msg, level ?? "INFO", redactor);
    opts.onLog?.(written);
  };
  line(`Testing ${dag.dagId}.${taskId} (no upstream, nothing recorded)`);
  const inv = await invokeTask({
    dag,
    task,
    runId,
    mapIndex,
    tryNumber: 1,
    ...dates,
    conf: opts.conf ?? {},
    xcoms,
    logPath,
    home,
    onLog: opts.onLog ?? (() => {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (inv.error) line(`${inv.error.type}: ${inv.error.message}`, inv.state === "failed" ? "ERROR" : "INFO");
  line(`Task finished: ${inv.state.toUpperCase()}`, inv.state === "failed" ? "ERROR" : "INFO");
  // A test run is only shown, never consumed: its values are masked as a real run's are wherever they are shown.
  return {
    dagId: dag.dagId,
    taskId,
    runId,
    state: inv.state,
    returnValue: redactor.redactValue(inv.returnValue),
    error: inv.error ? (redactor.redactValue(inv.error) as TaskError) : null,
    xcoms: redactor.redactValue(Object.fromEntries(inv.xcoms)) as Record<string, unknown>,
    skipTaskIds: inv.skipTaskIds,
    durationMs: Date.now() - started,
    logPath,
  };
}
