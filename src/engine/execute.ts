/**
 * One try of one task: build its context, call `execute` under its execution timeout and any outside abort,
 * and turn whatever happened into a checked outcome (XComs to store, branch skips) that a transition records.
 */
import type { DagDefinition, TaskDefinition, TaskError, TaskExecutionContext, TaskOutcome, XComRef } from "../dag/model.ts";
import type { FailureExplainer, LogLine } from "../runtime/types.ts";
import { VenvflowError } from "../util/errors.ts";
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
  /** Upstream values by `xcomKey`. */
  xcoms: ReadonlyMap<string, unknown>;
  logPath: string;
  home: string;
  onLog(line: LogLine): void;
  /** Aborts the try from outside (run timeout, lost lock, worker shutdown); its reason becomes the error. */
  signal?: AbortSignal;
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
  const params = structuredClone(dag.params);
  for (const key of Object.keys(params)) if (Object.hasOwn(conf, key)) params[key] = conf[key];
  return params;
}

/** Doctor's post-mortem of a failed import, loaded only when a task fails that way. */
const explainFailure: FailureExplainer = async (context) => (await import("../doctor/explain.ts")).explainFailure(context);

export async function invokeTask(input: InvokeInput): Promise<Invocation> {
  const { dag, task } = input;
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    task.executionTimeoutMs === null
      ? null
      : setTimeout(() => {
          timedOut = true;
          controller.abort(new VenvflowError("execution_timeout", `task "${task.taskId}" exceeded its executionTimeout of ${task.executionTimeoutMs} ms`));
        }, task.executionTimeoutMs);
  const onOuterAbort = (): void => controller.abort(input.signal?.reason);
  if (input.signal?.aborted) onOuterAbort();
  else input.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const declared = new Set(task.xcomRefs.map(xcomKey));
  const ctx: TaskExecutionContext = {
    dagId: dag.dagId,
    taskId: task.taskId,
    runId: input.runId,
    tryNumber: input.tryNumber,
    logicalDate: input.logicalDate,
    dataIntervalStart: input.dataIntervalStart,
    dataIntervalEnd: input.dataIntervalEnd,
    params: resolveParams(dag, input.conf),
    conf: structuredClone(input.conf),
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

  // A plain TS execute may ignore the signal; the race makes an abort end the try at once regardless.
  const aborted = new Promise<"aborted">((resolve) => {
    if (controller.signal.aborted) resolve("aborted");
    else controller.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  let outcome: TaskOutcome;
  try {
    const result = await Promise.race([Promise.resolve().then(() => task.execute(ctx)), aborted]);
    outcome = result === "aborted" ? { state: "failed", error: toTaskError(controller.signal.reason) } : result;
  } catch (error) {
    outcome = { state: "failed", error: toTaskError(controller.signal.aborted ? controller.signal.reason : error) };
  } finally {
    if (timer) clearTimeout(timer);
    input.signal?.removeEventListener("abort", onOuterAbort);
  }
  if (timedOut && outcome.state !== "failed") {
    outcome = { state: "failed", error: toTaskError(controller.signal.reason) };
  }
  if (timedOut && outcome.error) outcome.error.type = "AirflowTaskTimeout";
  return checkOutcome(dag, task, outcome);
}

function checkOutcome(dag: DagDefinition, task: TaskDefinition, outcome: TaskOutcome): Invocation {
  const base = { state: outcome.state, error: outcome.error ?? null, returnValue: outcome.returnValue, xcoms: new Map<string, unknown>(), skipTaskIds: [] as string[] };
  if (outcome.state !== "success") return base;
  const fail = (code: string, message: string, fix: string): Invocation => ({ ...base, state: "failed", error: { type: "VenvflowError", code, message, fix } });

  const value = outcome.returnValue;
  // Airflow pushes no return_value XCom for None.
  if (value !== undefined && value !== null) {
    try {
      JSON.stringify(value);
    } catch (error) {
      return fail("xcom_not_serializable", `task "${task.taskId}" returned a value that is not JSON-serializable: ${(error as Error).message}`, "return JSON data (objects, arrays, strings, numbers, booleans, null)");
    }
    base.xcoms.set("return_value", value);
    if (task.multipleOutputs) {
      if (typeof value !== "object" || Array.isArray(value)) {
        return fail("multiple_outputs_not_dict", `task "${task.taskId}" has multipleOutputs but returned ${Array.isArray(value) ? "an array" : typeof value}`, "return an object (a dict in Python), or turn multipleOutputs off");
      }
      for (const [key, v] of Object.entries(value)) base.xcoms.set(key, v);
    }
  }

  if (outcome.branch !== undefined) {
    const chosen = outcome.branch ?? [];
    const invalid = chosen.filter((id) => !task.downstreamTaskIds.includes(id));
    if (invalid.length > 0) {
      return fail(
        "invalid_branch",
        `branch task "${task.taskId}" chose ${invalid.map((id) => `"${id}"`).join(", ")}, which ${invalid.length === 1 ? "is not a task" : "are not tasks"} directly downstream of it (${task.downstreamTaskIds.join(", ") || "none"})`,
        "return the task_id (or list of task_ids) of direct downstream tasks, or None to skip them all",
      );
    }
    base.skipTaskIds = branchSkips(dag, task, chosen);
  }
  return base;
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
