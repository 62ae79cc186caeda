import type { PythonCallable } from "../runtime/types.ts";
import { VenvflowError } from "../util/errors.ts";
import { BashOperator, type BashOperatorOptions } from "./bash.ts";
import type { TaskContext } from "./context.ts";
import { BranchPythonOperator, PythonOperator, type PythonOperatorOptions } from "./function.ts";
import type { MapAxis } from "./model.ts";
import { currentDag, type BaseOperator } from "./operator.ts";
import { authoring, type PendingMapping } from "./state.ts";
import {
  BranchExternalPythonOperator,
  BranchPythonVirtualenvOperator,
  ExternalPythonOperator,
  PythonVirtualenvOperator,
  type BranchResult,
  type ExternalPythonOperatorOptions,
  type PythonVirtualenvOperatorOptions,
} from "./python.ts";
import type { Refable, XComArg } from "./xcom.ts";

/** TaskFlow options: the operator's, with the id optional (inferred from the function's name). */
type Flow<O, Given extends keyof O> = Omit<O, "taskId" | Given> & { taskId?: string };
export type VirtualenvTaskOptions = Flow<PythonVirtualenvOperatorOptions, "pythonCallable" | "opArgs">;
export type ExternalPythonTaskOptions = Flow<ExternalPythonOperatorOptions, "pythonCallable" | "opArgs">;
export type BashTaskOptions = Flow<BashOperatorOptions, "bashCommand" | "opArgs">;
export type FunctionTaskOptions = Flow<PythonOperatorOptions<unknown>, "pythonCallable" | "opArgs">;

/** Each argument may be a value or a reference to an upstream result (also nested in arrays and objects). */
export type RefableArgs<A extends unknown[]> = { [K in keyof A]: Refable<A[K]> };

/** A TypeScript function's parameters without the trailing TaskContext, which the engine supplies. */
export type ArgsOf<F extends (...args: never[]) => unknown> = Parameters<F> extends [...infer A, TaskContext] ? A : Parameters<F>;

/** A list to map over: literal, or an upstream task's result (a list known only at run time). */
export type MapSource<T> = readonly T[] | XComArg<readonly T[]> | XComArg<unknown>;

/** Airflow's mapped TaskFlow calls: one task instance per item; the result is the list of their results. */
export interface MappedCall<R> {
  /** One instance per item of each list (the cross product, first list slowest), each item as the next argument. */
  expand(...lists: MapSource<unknown>[]): XComArg<R[]>;
  /** One instance per item, each item the remaining argument list (or, for a Python callable, an object of keyword arguments). */
  expandKwargs(items: MapSource<readonly unknown[] | Record<string, unknown>>): XComArg<R[]>;
}

/** Calling it inside a `dag()` callback creates a task and returns a reference to its result. */
export interface TaskFactory<A extends unknown[], R, O> extends MappedCall<R> {
  (...args: RefableArgs<A>): XComArg<R>;
  /** The same task with some options changed, e.g. `extract.override({ taskId: "extract_eu" })(…)`. */
  override(options: Partial<O>): TaskFactory<A, R, O>;
  /** Fixes the leading arguments every mapped instance shares: `add.partial(10).expand([1, 2, 3])`. */
  partial(...args: unknown[]): MappedCall<R>;
}

function factory<A extends unknown[], R, O extends { taskId?: string }>(
  what: string,
  options: O,
  inferredId: string | undefined,
  create: (taskId: string, args: unknown[], options: O) => BaseOperator,
): TaskFactory<A, R, O> {
  const make = (args: unknown[], mapping?: PendingMapping): BaseOperator => {
    const dag = currentDag(what);
    const requested = options.taskId ?? inferredId;
    if (!requested) {
      throw new VenvflowError("missing_task_id", `${dag.where()}: cannot infer a task id for ${what}`, {
        fix: "name the function (or the Python callable), or pass taskId",
      });
    }
    // As Airflow's get_unique_task_id: calling the same TaskFlow function again adds __1, __2, …
    const taskId = dag.uniqueTaskId(requested);
    authoring.mapping = mapping ?? null;
    try {
      return create(taskId, args, options);
    } finally {
      authoring.mapping = null;
    }
  };
  const mapped = (fixed: unknown[]): MappedCall<R> => ({
    // Each mapped argument's place holds null until the engine puts the instance's item there.
    expand: (...lists) =>
      make([...fixed, ...lists.map(() => null)], { axes: lists.map((source, i) => ({ source: source as MapAxis["source"], target: { arg: fixed.length + i } })), supplied: [] }).output as XComArg<R[]>,
    expandKwargs: (items) => make(fixed, { axes: [{ source: items as MapAxis["source"], target: { kwargs: "args" } }], supplied: [] }).output as XComArg<R[]>,
  });
  const call = (...args: RefableArgs<A>): XComArg<R> => make(args).output as XComArg<R>;
  return Object.assign(call, {
    override: (more: Partial<O>) => factory<A, R, O>(what, { ...options, ...more }, inferredId, create),
    partial: (...fixed: unknown[]) => mapped(fixed),
    ...mapped([]),
  });
}

/** The function name of "path/file.py:function", or of inline source (its `name`, else its first `def`). */
function pythonName(callable: PythonCallable): string | undefined {
  if (typeof callable === "string") {
    const colon = callable.lastIndexOf(":");
    return colon > 1 ? callable.slice(colon + 1) || undefined : undefined;
  }
  if (typeof callable !== "object" || callable === null) return undefined;
  return callable.name ?? /^(?:async\s+)?def\s+([A-Za-z_]\w*)/m.exec(callable.source)?.[1];
}

function functionTask<F extends (...args: never[]) => unknown>(fn: F): TaskFactory<ArgsOf<F>, Awaited<ReturnType<F>>, FunctionTaskOptions>;
function functionTask<F extends (...args: never[]) => unknown>(options: FunctionTaskOptions, fn: F): TaskFactory<ArgsOf<F>, Awaited<ReturnType<F>>, FunctionTaskOptions>;
function functionTask<F extends (...args: never[]) => unknown>(
  fnOrOptions: F | FunctionTaskOptions,
  maybeFn?: F,
): TaskFactory<ArgsOf<F>, Awaited<ReturnType<F>>, FunctionTaskOptions> {
  const [options, fn] = typeof fnOrOptions === "function" ? [{}, fnOrOptions] : [fnOrOptions, maybeFn];
  if (typeof fn !== "function") {
    throw new VenvflowError("invalid_task_options", "task() needs a function", { fix: "task(fn) or task({ …options }, fn)" });
  }
  return factory("task()", options, fn.name || undefined, (taskId, args, opts) => new PythonOperator({ ...opts, taskId, pythonCallable: fn, opArgs: args }));
}

type BranchFn = (...args: never[]) => BranchResult | Promise<BranchResult>;

function branch<F extends BranchFn>(fn: F): TaskFactory<ArgsOf<F>, BranchResult, FunctionTaskOptions>;
function branch<F extends BranchFn>(options: FunctionTaskOptions, fn: F): TaskFactory<ArgsOf<F>, BranchResult, FunctionTaskOptions>;
function branch<F extends BranchFn>(fnOrOptions: F | FunctionTaskOptions, maybeFn?: F): TaskFactory<ArgsOf<F>, BranchResult, FunctionTaskOptions> {
  const [options, fn] = typeof fnOrOptions === "function" ? [{}, fnOrOptions] : [fnOrOptions, maybeFn];
  if (typeof fn !== "function") {
    throw new VenvflowError("invalid_task_options", "task.branch() needs a function that returns the task id(s) to follow", { fix: "task.branch((…args) => \"task_id\")" });
  }
  return factory("task.branch()", options, fn.name || undefined, (taskId, args, opts) => new BranchPythonOperator({ ...opts, taskId, pythonCallable: fn, opArgs: args }));
}

function virtualenv<A extends unknown[] = unknown[], R = unknown>(options: VirtualenvTaskOptions, pythonCallable: PythonCallable): TaskFactory<A, R, VirtualenvTaskOptions> {
  return factory("task.virtualenv()", options, pythonName(pythonCallable), (taskId, args, opts) => new PythonVirtualenvOperator({ ...opts, taskId, pythonCallable, opArgs: args }));
}

function externalPython<A extends unknown[] = unknown[], R = unknown>(options: ExternalPythonTaskOptions, pythonCallable: PythonCallable): TaskFactory<A, R, ExternalPythonTaskOptions> {
  return factory("task.externalPython()", options, pythonName(pythonCallable), (taskId, args, opts) => new ExternalPythonOperator({ ...opts, taskId, pythonCallable, opArgs: args }));
}

function branchVirtualenv<A extends unknown[] = unknown[]>(options: VirtualenvTaskOptions, pythonCallable: PythonCallable): TaskFactory<A, BranchResult, VirtualenvTaskOptions> {
  return factory("task.branchVirtualenv()", options, pythonName(pythonCallable), (taskId, args, opts) => new BranchPythonVirtualenvOperator({ ...opts, taskId, pythonCallable, opArgs: args }));
}

function branchExternalPython<A extends unknown[] = unknown[]>(options: ExternalPythonTaskOptions, pythonCallable: PythonCallable): TaskFactory<A, BranchResult, ExternalPythonTaskOptions> {
  return factory("task.branchExternalPython()", options, pythonName(pythonCallable), (taskId, args, opts) => new BranchExternalPythonOperator({ ...opts, taskId, pythonCallable, opArgs: args }));
}

type CommandFn = (...args: never[]) => string | Promise<string>;

function bash<F extends CommandFn>(fn: F): TaskFactory<ArgsOf<F>, string, BashTaskOptions>;
function bash<F extends CommandFn>(options: BashTaskOptions, fn: F): TaskFactory<ArgsOf<F>, string, BashTaskOptions>;
function bash<F extends CommandFn>(fnOrOptions: F | BashTaskOptions, maybeFn?: F): TaskFactory<ArgsOf<F>, string, BashTaskOptions> {
  const [options, fn] = typeof fnOrOptions === "function" ? [{}, fnOrOptions] : [fnOrOptions, maybeFn];
  if (typeof fn !== "function") {
    throw new VenvflowError("invalid_task_options", "task.bash() needs a function that returns the command", { fix: "task.bash((…args) => `command`)" });
  }
  return factory("task.bash()", options, fn.name || undefined, (taskId, args, opts) => new BashOperator({ ...opts, taskId, bashCommand: fn, opArgs: args }));
}

/**
 * TaskFlow: `task(fn)` runs a TypeScript function in-process (`task.branch(fn)` one that picks the downstream
 * tasks to follow); `task.virtualenv`, `task.externalPython`,
 * `task.branchVirtualenv`, `task.branchExternalPython` run a Python callable; `task.bash` runs the command its
 * function returns. Each returns a factory; calling it inside a DAG adds a task and returns its result's reference.
 */
export const task = Object.assign(functionTask, { branch, virtualenv, externalPython, branchVirtualenv, branchExternalPython, bash });
