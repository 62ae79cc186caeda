import path from "node:path";
import { ENV_BUILD_OPTIONS, type EnvSpecInput } from "../env/types.ts";
import { environmentSpecFor, runCallable } from "../runtime/index.ts";
import type { CallableOptions, CallableResult } from "../runtime/types.ts";
import type { PythonTaskSpec, TaskExecutionContext, TaskKind, TaskOutcome, XComRef } from "./model.ts";
import { BaseOperator, type TaskOptions } from "./operator.ts";
import { COMMON_TASK_KEYS } from "./options.ts";
import { pythonRunContext } from "./context.ts";
import { resolveRefs } from "./xcom.ts";

/** Supplied per try by the engine, or (executionTimeout) a task option. */
type RunTimeFields = "context" | "onLog" | "logPath" | "signal" | "home" | "executionTimeout" | "explainFailure" | "launcher";
/** Options that build an environment: meaningless for an existing interpreter, as in Airflow. */
type EnvBuildFields = (typeof ENV_BUILD_OPTIONS)[number];

export type PythonVirtualenvOperatorOptions = TaskOptions & Omit<CallableOptions, RunTimeFields | "python">;
export type ExternalPythonOperatorOptions = TaskOptions & Omit<CallableOptions, RunTimeFields | EnvBuildFields | "python"> & {
  /** Absolute path of an existing interpreter, used as is. */
  python: string;
};

/** A branch callable's result: a task id, a list of ids, or None (skip every downstream task). */
export type BranchResult = string | string[] | null;

/** A Python callable run through the runtime in a cached virtualenv or an existing interpreter. */
abstract class PythonCallableOperator<R> extends BaseOperator<R> {
  protected constructor(kind: TaskKind, options: object) {
    super(kind, options, ["opArgs", "opKwargs"]);
  }

  override get pythonSpec(): PythonTaskSpec {
    const c = this.config as Omit<CallableOptions, RunTimeFields>;
    const fields = ["serializer", ...ENV_BUILD_OPTIONS, "python"] as const;
    return {
      pythonCallable: c.pythonCallable,
      baseDir: path.resolve(path.dirname(this.dag.fileloc), c.baseDir ?? "."),
      ...Object.fromEntries(fields.filter((key) => c[key] !== undefined).map((key) => [key, c[key]])),
      ...(c.inheritEnv === undefined ? {} : { inheritEnv: c.inheritEnv }),
      ...(c.envVars === undefined ? {} : { envVarNames: Object.keys(c.envVars) }),
    };
  }

  /** Virtualenv tasks: the spec runCallable builds from these options, so `venvflow env build FILE` gets the same key. */
  override get environmentSpec(): EnvSpecInput | undefined {
    if (this.kind !== "python_virtualenv" && this.kind !== "branch_python_virtualenv") return undefined;
    const c = this.config as Omit<CallableOptions, RunTimeFields>;
    return environmentSpecFor(c, path.resolve(path.dirname(this.dag.fileloc), c.baseDir ?? "."));
  }

  protected call(ctx: TaskExecutionContext): Promise<CallableResult> {
    const callable = Object.fromEntries(Object.entries(this.config).filter(([key]) => !COMMON_TASK_KEYS.has(key))) as Omit<CallableOptions, RunTimeFields>;
    const pull = (ref: XComRef): unknown => ctx.pullXCom(ref);
    const dagDir = path.dirname(this.dag.fileloc);
    return runCallable({
      ...callable,
      // Relative callable and requirement-file paths are relative to the DAG file, wherever the engine runs.
      baseDir: path.resolve(dagDir, callable.baseDir ?? "."),
      ...(callable.opArgs === undefined ? {} : { opArgs: resolveRefs(callable.opArgs, pull) as unknown[] }),
      ...(callable.opKwargs === undefined ? {} : { opKwargs: resolveRefs(callable.opKwargs, pull) as Record<string, unknown> }),
      ...(this.executionTimeoutMs === null ? {} : { executionTimeout: `${this.executionTimeoutMs}ms` }),
      context: pythonRunContext(ctx),
      onLog: (line) => ctx.onLog(line),
      logPath: ctx.logPath,
      signal: ctx.signal,
      home: ctx.home,
      ...(ctx.explainFailure === undefined ? {} : { explainFailure: ctx.explainFailure }),
    });
  }

  protected async run(ctx: TaskExecutionContext): Promise<TaskOutcome> {
    return toOutcome(await this.call(ctx));
  }
}

function toOutcome(result: CallableResult): TaskOutcome {
  const outcome: TaskOutcome = { state: result.state, returnValue: result.returnValue };
  if (result.error) {
    const { type, message, traceback, code, fix } = result.error;
    outcome.error = { type, message, traceback, ...(code === undefined ? {} : { code }), ...(fix === undefined ? {} : { fix }) };
  }
  return outcome;
}

/** `R`: what the callable returns, for typed references (`op.output`). */
export class PythonVirtualenvOperator<R = unknown> extends PythonCallableOperator<R> {
  constructor(options: PythonVirtualenvOperatorOptions) {
    super("python_virtualenv", options);
  }
}

/** `R`: what the callable returns, for typed references (`op.output`). */
export class ExternalPythonOperator<R = unknown> extends PythonCallableOperator<R> {
  constructor(options: ExternalPythonOperatorOptions) {
    super("external_python", options);
  }
}

/** Python's repr and type name of a JSON value, for Airflow-style "Invalid tasks found" messages. */
function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "string") return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
  return String(value);
}

function pyType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  return Array.isArray(value) ? "list" : "dict";
}

/**
 * Airflow's BaseBranchOperator check: the callable returned a task id, a list of ids, or None, and every id is
 * directly downstream. Anything else fails the task with the offending values.
 */
export function branchOutcome(task: BaseOperator, returned: unknown): TaskOutcome {
  if (returned === null || returned === undefined) return { state: "success", returnValue: null, branch: null };
  const ids = Array.isArray(returned) ? (returned as unknown[]) : [returned];
  const downstream = [...task.downstreamTaskIds];
  const fix = downstream.length > 0 ? `return one of ${downstream.map((id) => `"${id}"`).join(", ")}, a list of them, or None` : "the branch task has no downstream tasks: add some, or return None";
  const notStrings = ids.filter((id) => typeof id !== "string");
  if (notStrings.length > 0) {
    const found = `{${[...new Set(notStrings.map((id) => `(${pyRepr(id)}, '${pyType(id)}')`))].join(", ")}}`;
    return {
      state: "failed",
      returnValue: returned,
      error: { type: "AirflowException", code: "invalid_branch", fix, message: `${task.where()}: 'branch_task_ids' expected all task IDs are strings. Invalid tasks found: ${found}.` },
    };
  }
  const invalid = [...new Set(ids as string[])].filter((id) => !task.downstreamTaskIds.has(id));
  if (invalid.length > 0) {
    return {
      state: "failed",
      returnValue: returned,
      error: {
        type: "AirflowException",
        code: "invalid_branch",
        fix,
        message: `${task.where()}: 'branch_task_ids' must contain only task ids directly downstream of "${task.taskId}". Invalid tasks found: {${invalid.map(pyRepr).join(", ")}}.`,
      },
    };
  }
  return { state: "success", returnValue: returned, branch: [...new Set(ids as string[])] };
}

function branchResult(operator: BaseOperator<unknown>, result: CallableResult): TaskOutcome {
  return result.state === "success" ? branchOutcome(operator, result.returnValue) : toOutcome(result);
}

/** Follows only the directly-downstream task ids its callable returns; the others are skipped. */
export class BranchPythonVirtualenvOperator extends PythonCallableOperator<BranchResult> {
  constructor(options: PythonVirtualenvOperatorOptions) {
    super("branch_python_virtualenv", options);
  }

  protected override async run(ctx: TaskExecutionContext): Promise<TaskOutcome> {
    return branchResult(this, await this.call(ctx));
  }
}

/** Follows only the directly-downstream task ids its callable returns; the others are skipped. */
export class BranchExternalPythonOperator extends PythonCallableOperator<BranchResult> {
  constructor(options: ExternalPythonOperatorOptions) {
    super("branch_external_python", options);
  }

  protected override async run(ctx: TaskExecutionContext): Promise<TaskOutcome> {
    return branchResult(this, await this.call(ctx));
  }
}
