/** In-process TypeScript functions (`PythonOperator`, `task()`, `task.branch()`). */
import type { TsFunctionOptions, TaskOutcome, XComRef } from "../../dag/model.ts";
import { resolveRefs } from "../../dag/xcom.ts";
import { branchOutcome } from "./branch.ts";
import { openTaskConsole } from "./console.ts";
import { preview, typescriptTaskContext } from "./context.ts";
import type { ExecutionContext, TaskExecutor } from "./types.ts";

/** Calls `fn(...args, ctx)` with references to upstream results resolved. */
export async function callFunction(fn: (...args: never[]) => unknown, args: unknown[] | undefined, ctx: ExecutionContext): Promise<unknown> {
  const resolved = resolveRefs(args ?? [], (ref: XComRef) => ctx.pullXCom(ref)) as unknown[];
  return (fn as (...args: unknown[]) => unknown)(...resolved, typescriptTaskContext(ctx));
}

async function run(options: TsFunctionOptions, ctx: ExecutionContext): Promise<unknown> {
  // console.log inside the function goes to this try's log, as a Python task's print() does.
  const taskConsole = openTaskConsole((stream, msg) => ctx.log.write(stream, msg));
  let value: unknown;
  try {
    value = await taskConsole.run(() => Promise.resolve().then(() => callFunction(options.pythonCallable, options.opArgs, ctx)));
  } finally {
    taskConsole.close();
  }
  ctx.log.system(`Done. Returned value was: ${preview(value)}`);
  return value;
}

export const functionExecutor: TaskExecutor<"python"> = {
  stopsOnAbort: false,
  async execute(task, ctx): Promise<TaskOutcome> {
    return { state: "success", returnValue: await run(task.options, ctx) };
  },
};

export const branchFunctionExecutor: TaskExecutor<"branch_python"> = {
  stopsOnAbort: false,
  async execute(task, ctx): Promise<TaskOutcome> {
    return branchOutcome(ctx, await run(task.options, ctx));
  },
};
