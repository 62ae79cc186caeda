/**
 * One try of one task: build its context, run it through the executor of its kind under its execution timeout
 * and any outside abort, and turn whatever happened into a checked outcome (XComs to store, branch skips) that
 * a transition records. Every kind shares this path: the abort race, error → TaskError and the result checks
 * live here once.
 */
import { taskWhere } from "../dag/builder.ts";
import { isTaskSkipped } from "../dag/function.ts";
import type { DagDefinition, TaskDefinition, TaskError, TaskExecutionContext, TaskOutcome, XComRef } from "../dag/model.ts";
import { maxResultBytes } from "../runtime/index.ts";
import { AttemptLog, callableRedactor } from "../runtime/logs.ts";
import type { FailureExplainer, LogLine } from "../runtime/types.ts";
import { VenvflowError } from "../util/errors.ts";
import { Redactor } from "../util/secrets.ts";
import { EXECUTORS, type ExecutionContext, type ExecutorRegistry, type TaskExecutor } from "./executors/index.ts";
import { checkMapSource } from "./mapping.ts";
import type { TryLog } from "./try-log.ts";
import { xcomKey } from "./queries.ts";

export interface InvokeInput {
  dag: DagDefinition;
  task: TaskDefinition;
  runId: string;
  tryNumber: number;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  conf: Record<string, unknown>;
  /** A mapped instance's index (its `task` already holds that instance's options); -1 when not mapped. */
  mapIndex?: number;
  /** Upstream values by `xcomKey`. */
  xcoms: ReadonlyMap<string, unknown>;
  logPath: string;
  home: string;
  onLog(line: LogLine): void;
  /** Aborts the try from outside (run timeout, lost lock, worker shutdown); its reason becomes the error. */
  signal?: AbortSignal;
  executors?: ExecutorRegistry;
  /** The try's log when the caller keeps it open (its owner closes it). */
  log?: TryLog;
}

export interface Invocation {
  state: TaskOutcome["state"];
  error: TaskError | null;
  returnValue: unknown;
  /** XComs to store on success: "return_value" and, with multipleOutputs, each key. */
  xcoms: Map<string, unknown>;
  /** Branch tasks: the downstream tasks not followed. */
  skipTaskIds: string[];
}

/** Airflow's params: the DAG's defaults, overridden by the run conf's keys that name a param. */
export function resolveParams(dag: DagDefinition, conf: Record<string, unknown>): Record<string, unknown> {
  const params = cloneRecord(dag.params);
  for (const key of Object.keys(params)) if (Object.hasOwn(conf, key)) params[key] = conf[key];
  return params;
}

/**
 * Each try gets its own copy (a task may change it). structuredClone has a fixed cost of tens of µs — measured in
 * a profile of 1,000 chained no-op tasks, 4% of their CPU — so the usual empty params and conf are not cloned.
 */
function cloneRecord(record: Record<string, unknown>): Record<string, unknown> {
  for (const _ in record) return structuredClone(record);
  return {};
}

/** Doctor's post-mortem of a failed import, loaded only when a task fails that way. */
const explainFailure: FailureExplainer = async (context) => (await import("../doctor/explain.ts")).explainFailure(context);

/** What a task's log masks: the secrets its options declare (a Python task's secret envVars, index credentials). */
export function taskRedactor(task: TaskDefinition): Redactor {
  return "envVars" in task.options || "indexUrls" in task.options ? callableRedactor(task.options) : new Redactor();
}

export async function invokeTask(input: InvokeInput): Promise<Invocation> {
  const { dag, task } = input;
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    task.executionTimeoutMs === null
      ? null
      : setTimeout(() => {
          timedOut = true;
          controller.abort(
            new VenvflowError("execution_timeout", `task "${task.taskId}" exceeded its executionTimeout of ${task.executionTimeoutMs} ms`, { fix: "raise executionTimeout, or make the task faster" }),
          );
        }, task.executionTimeoutMs);
  const onOuterAbort = (): void => controller.abort(input.signal?.reason);
  if (input.signal?.aborted) onOuterAbort();
  else input.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const declared = new Set(task.xcomRefs.map(xcomKey));
  const ctx: TaskExecutionContext = {
    dagId: dag.dagId,
    taskId: task.taskId,
    runId: input.runId,
    mapIndex: input.mapIndex ?? -1,
    tryNumber: input.tryNumber,
    logicalDate: input.logicalDate,
    dataIntervalStart: input.dataIntervalStart,
    dataIntervalEnd: input.dataIntervalEnd,
    params: resolveParams(dag, input.conf),
    conf: cloneRecord(input.conf),
    pullXCom(ref: XComRef): unknown {
      const key = xcomKey(ref);
      if (!declared.has(key)) {
        throw new VenvflowError("xcom_ref_undeclared", `task "${task.taskId}" pulled "${ref.taskId}"."${ref.key}", which is not among its xcomRefs`, {
          fix: "reference the upstream output in the task's arguments so the engine loads it",
        });
      }
      // Airflow: an upstream that returned None (or did not run, under all_done) pulls as None.
      return input.xcoms.has(key) ? input.xcoms.get(key) : null;
    },
    logPath: input.logPath,
    onLog: input.onLog,
    signal: controller.signal,
    home: input.home,
    explainFailure,
  };

  let outcome: TaskOutcome;
  try {
    outcome = await executeTask(dag, task, ctx, input.executors, input.log);
  } finally {
    if (timer) clearTimeout(timer);
    input.signal?.removeEventListener("abort", onOuterAbort);
  }
  if (timedOut && outcome.state !== "failed") {
    outcome = { state: "failed", error: toTaskError(controller.signal.reason) };
  }
  if (timedOut && outcome.error) outcome.error.type = "AirflowTaskTimeout";
  return toInvocation(dag, task, outcome);
}

/**
 * Runs one try through the executor of the task's kind: never throws (a thrown error becomes a failed outcome,
 * a thrown TaskSkipped a skipped one); an abort ends work that cannot be stopped at once; a success's result is
 * checked (JSON, multipleOutputs) before anyone stores it.
 */
export async function executeTask(dag: DagDefinition, task: TaskDefinition, base: TaskExecutionContext, executors: ExecutorRegistry = EXECUTORS, openLog?: TryLog): Promise<TaskOutcome> {
  const where = taskWhere(dag, task.taskId);
  let log: AttemptLog | null = null;
  const executor = executors[task.kind] as TaskExecutor;
  const ctx: ExecutionContext = {
    ...base,
    dag,
    where,
    get log(): TryLog {
      // In-process kinds write a few lines each: direct writes; a stream only for work that streams output.
      if (openLog) return openLog;
      return (log ??= new AttemptLog(base.logPath, taskRedactor(task), base.onLog));
    },
  };
  const { signal } = base;
  let outcome: TaskOutcome;
  try {
    const work = Promise.resolve().then(() => executor.execute(task as never, ctx));
    // An in-process function may ignore the signal; the race ends its try at once regardless.
    const result = executor.stopsOnAbort ? await work : await Promise.race([work, abortOf(signal)]);
    outcome = result === "aborted" ? { state: "failed", error: abortError(where, signal.reason) } : result;
    // An executor that stopped its work on the abort says so in its words; the engine's reason keeps its code.
    if (signal.aborted && outcome.state === "failed" && outcome.error && signal.reason instanceof VenvflowError) {
      outcome.error = { ...outcome.error, code: signal.reason.code, ...(signal.reason.fix ? { fix: signal.reason.fix } : {}) };
    }
  } catch (error) {
    if (isTaskSkipped(error)) {
      ctx.log.system(`Skipping: ${error.message}`);
      outcome = { state: "skipped" };
    } else {
      outcome = { state: "failed", error: signal.aborted ? abortError(where, signal.reason) : toTaskError(error) };
    }
  } finally {
    await (log as AttemptLog | null)?.close();
  }
  return checkResult(dag, where, task, outcome);
}

function abortOf(signal: AbortSignal): Promise<"aborted"> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
}

/** The engine's own reasons (timeouts, lost locks) keep their code; any other reason is an "aborted" error. */
function abortError(where: string, reason: unknown): TaskError {
  if (reason instanceof VenvflowError) return toTaskError(reason);
  return { type: "VenvflowError", code: "aborted", message: `${where}: aborted (${reason instanceof Error ? reason.message : String(reason)})` };
}

/**
 * A successful result is checked before anyone stores it, by the rules Python results follow (the runner's
 * `json.dumps(allow_nan=False)` and its size cap): plain JSON data only — no NaN or ±Infinity, no Map, Set, Date,
 * class instance or function that JSON.stringify would silently turn into something else or drop.
 */
function checkResult(dag: DagDefinition, where: string, task: TaskDefinition, outcome: TaskOutcome): TaskOutcome {
  if (outcome.state !== "success") return outcome;
  const value = outcome.returnValue;
  const fail = (type: string, code: string, message: string, fix: string): TaskOutcome => ({ state: "failed", returnValue: value, error: { type, code, message, fix } });
  if (value !== undefined && value !== null) {
    const problem = jsonProblem(value, "the result");
    if (problem) return fail("VenvflowError", "xcom_not_serializable", `${where}: returned a value that is not JSON data: ${problem}`, "return JSON data (objects, arrays, strings, finite numbers, booleans, null); encode anything else yourself");
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      return fail("VenvflowError", "xcom_not_serializable", `${where}: returned a value that is not JSON-serializable: ${(error as Error).message}`, "return JSON data (objects, arrays, strings, numbers, booleans, null)");
    }
    const limit = maxResultBytes();
    const size = Buffer.byteLength(text);
    if (size > limit) {
      return fail("VenvflowError", "result_too_large", `${where}: the return value is ${size} bytes once serialized, over the ${limit}-byte limit`, "return something smaller (write large data to a file and return its path), or raise VENVFLOW_MAX_RESULT_BYTES");
    }
  }
  if (task.multipleOutputs && (typeof value !== "object" || value === null || Array.isArray(value))) {
    const got = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    return fail("TypeError", "multiple_outputs_not_dict", `${where}: returned ${got}, but multipleOutputs needs a dict (object) result`, "return a dict, or drop multipleOutputs");
  }
  const keys = task.multipleOutputs && value !== null && typeof value === "object" ? ["return_value", ...Object.keys(value)] : ["return_value"];
  for (const key of keys) {
    const mapError = checkMapSource(dag, task, key, key === "return_value" ? value : (value as Record<string, unknown>)[key]);
    if (mapError) return { state: "failed", returnValue: value, error: mapError };
  }
  return outcome;
}

/** Why `value` is not plain JSON data (null when it is); `at` names where in the value. */
function jsonProblem(value: unknown, at: string, depth = 0): string | null {
  if (depth > 1000) return `${at} is nested more than 1000 levels deep`;
  if (value === null || typeof value === "string" || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : `${at} is ${value} (JSON has no NaN or Infinity)`;
  // undefined is TypeScript's "absent" (an optional member): it stays absent (null in a list), as JSON has it.
  if (typeof value === "undefined") return null;
  if (typeof value === "function") return `${at} is a function`;
  if (typeof value === "bigint") return `${at} is a bigint`;
  if (typeof value === "symbol") return `${at} is a symbol`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${at}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return `${at} is a ${(value as object).constructor?.name ?? "non-plain object"}`;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const problem = jsonProblem(item, `${at}.${key}`, depth + 1);
    if (problem) return problem;
  }
  return null;
}

function toInvocation(dag: DagDefinition, task: TaskDefinition, outcome: TaskOutcome): Invocation {
  const inv: Invocation = { state: outcome.state, error: outcome.error ?? null, returnValue: outcome.returnValue, xcoms: new Map(), skipTaskIds: [] };
  if (outcome.state !== "success") return inv;
  const value = outcome.returnValue;
  // Airflow pushes no return_value XCom for None.
  if (value !== undefined && value !== null) {
    inv.xcoms.set("return_value", value);
    if (task.multipleOutputs) for (const [key, v] of Object.entries(value)) inv.xcoms.set(key, v);
  }
  if (outcome.branch !== undefined) inv.skipTaskIds = branchSkips(dag, task, outcome.branch ?? []);
  return inv;
}

/**
 * Airflow's SkipMixin.skip_all_except: the directly-downstream tasks not chosen are skipped — except those
 * that are also downstream of a chosen task (branch → join and branch → a → join, choosing a, runs join).
 */
export function branchSkips(dag: DagDefinition, task: TaskDefinition, chosen: readonly string[]): string[] {
  const follow = new Set<string>();
  const stack = [...chosen];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (follow.has(id)) continue;
    follow.add(id);
    stack.push(...(dag.tasks.get(id)?.downstreamTaskIds ?? []));
  }
  return task.downstreamTaskIds.filter((id) => !follow.has(id));
}

export function toTaskError(error: unknown): TaskError {
  if (error instanceof VenvflowError) {
    return { type: error.name, code: error.code, message: error.message, ...(error.fix ? { fix: error.fix } : {}), ...(error.stack ? { traceback: error.stack } : {}) };
  }
  if (error instanceof Error) return { type: error.name, message: error.message, ...(error.stack ? { traceback: error.stack } : {}) };
  return { type: "Error", message: String(error) };
}
