/** Python callables through the runtime: in a cached virtualenv, or an existing interpreter (and their branch kinds). */
import path from "node:path";
import type { PythonCallableTaskOptions, TaskOutcome, XComRef } from "../../dag/model.ts";
import { resolveRefs } from "../../dag/xcom.ts";
import { prewarmCallable, runCallable } from "../../runtime/index.ts";
import type { CallableResult } from "../../runtime/types.ts";
import { branchOutcome } from "./branch.ts";
import { pythonRunContext } from "./context.ts";
import type { ExecutionContext, PrewarmContext, TaskExecutor } from "./types.ts";

/** Relative callable and requirement-file paths are relative to the DAG file, wherever the engine runs. */
function baseDirOf(options: PythonCallableTaskOptions, dag: PrewarmContext["dag"]): string {
  return path.resolve(path.dirname(dag.fileloc), options.baseDir ?? ".");
}

function call(options: PythonCallableTaskOptions, executionTimeoutMs: number | null, ctx: ExecutionContext): Promise<CallableResult> {
  const pull = (ref: XComRef): unknown => ctx.pullXCom(ref);
  return runCallable({
    ...options,
    baseDir: baseDirOf(options, ctx.dag),
    ...(options.opArgs === undefined ? {} : { opArgs: resolveRefs(options.opArgs, pull) as unknown[] }),
    ...(options.opKwargs === undefined ? {} : { opKwargs: resolveRefs(options.opKwargs, pull) as Record<string, unknown> }),
    ...(executionTimeoutMs === null ? {} : { executionTimeout: `${executionTimeoutMs}ms` }),
    context: pythonRunContext(ctx),
    onLog: (line) => ctx.onLog(line),
    logPath: ctx.logPath,
    signal: ctx.signal,
    home: ctx.home,
    ...(ctx.explainFailure === undefined ? {} : { explainFailure: ctx.explainFailure }),
  });
}

function toOutcome(result: CallableResult): TaskOutcome {
  const outcome: TaskOutcome = { state: result.state, returnValue: result.returnValue };
  if (result.error) {
    const { type, message, traceback, code, fix } = result.error;
    outcome.error = { type, message, traceback, ...(code === undefined ? {} : { code }), ...(fix === undefined ? {} : { fix }) };
  }
  return outcome;
}

type PythonKind = "python_virtualenv" | "external_python";
type BranchKind = "branch_python_virtualenv" | "branch_external_python";

/** The task's environment built and leased and its warm interpreter started, so its first try forks as fast as the rest. */
async function prewarm(task: { options: PythonCallableTaskOptions }, ctx: PrewarmContext): Promise<void> {
  const { opArgs: _args, opKwargs: _kwargs, ...options } = task.options;
  const warmOptions = { ...options, baseDir: baseDirOf(task.options, ctx.dag), home: ctx.home };
  // 40 chained tasks of one callable made 40 identical preloads, each a lookup here and a request to the zygote,
  // beside the run's first tries (measured in bench/sequential.ts).
  if (!ctx.first(JSON.stringify(warmOptions))) return;
  await prewarmCallable(warmOptions, { signal: ctx.signal }).catch(() => false);
}

const pythonExecutor: TaskExecutor<PythonKind> = {
  stopsOnAbort: true,
  execute: async (task, ctx) => toOutcome(await call(task.options, task.executionTimeoutMs, ctx)),
  prewarm,
};

const branchExecutor: TaskExecutor<BranchKind> = {
  stopsOnAbort: true,
  prewarm,
  async execute(task, ctx) {
    const result = await call(task.options, task.executionTimeoutMs, ctx);
    return result.state === "success" ? branchOutcome(ctx, result.returnValue) : toOutcome(result);
  },
};

export const pythonExecutors: { readonly [K in PythonKind | BranchKind]: TaskExecutor<K> } = {
  python_virtualenv: pythonExecutor,
  external_python: pythonExecutor,
  branch_python_virtualenv: branchExecutor,
  branch_external_python: branchExecutor,
};
