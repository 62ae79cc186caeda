import { VenvflowError } from "../util/errors.ts";
import { openTaskConsole } from "./console.ts";
import { preview, TaskLog } from "./context.ts";
import type { TaskExecutionContext, TaskOutcome, XComRef } from "./model.ts";
import { BaseOperator, failedOutcome, type TaskOptions } from "./operator.ts";
import { resolveRefs } from "./xcom.ts";

const SKIP_BRAND = Symbol.for("venvflow.TaskSkipped");

/** Thrown by a TypeScript callable to mark its task skipped (Airflow's AirflowSkipException). */
export class TaskSkipped extends Error {
  readonly [SKIP_BRAND] = true;

  constructor(reason = "skipped by the task") {
    super(reason);
    this.name = "TaskSkipped";
  }
}

function isSkip(error: unknown): error is Error {
  return error instanceof Error && (error as Error & { [SKIP_BRAND]?: boolean })[SKIP_BRAND] === true;
}

/** Rejects as soon as `signal` aborts: an in-process function cannot be killed, so its try is abandoned. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, where: string): Promise<T> {
  const aborted = (): VenvflowError =>
    new VenvflowError("aborted", `${where}: aborted (${signal.reason instanceof Error ? signal.reason.message : String(signal.reason)})`);
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Calls `fn(...args, ctx)` with the task's arguments resolved, logging the outcome the way Airflow does. */
export async function callInProcess(
  task: BaseOperator,
  ctx: TaskExecutionContext,
  log: TaskLog,
  fn: (...args: never[]) => unknown,
  args: unknown,
): Promise<unknown> {
  const resolved = resolveRefs(args ?? [], (ref: XComRef) => ctx.pullXCom(ref)) as unknown[];
  const call = fn as (...args: unknown[]) => unknown;
  const taskConsole = openTaskConsole((stream, msg) => log.write(stream, msg));
  try {
    return await untilAborted(taskConsole.run(() => Promise.resolve().then(() => call(...resolved, log.taskContext()))), ctx.signal, task.where());
  } finally {
    taskConsole.close();
  }
}

export interface PythonOperatorOptions<R> extends TaskOptions {
  /** An in-process TypeScript function, called as `pythonCallable(...opArgs, ctx)`. */
  pythonCallable: (...args: never[]) => R;
  /** Its arguments; references to upstream results are resolved first. */
  opArgs?: unknown[];
}

/** Airflow's PythonOperator for TypeScript: runs a function in the engine's process. */
export class PythonOperator<R = unknown> extends BaseOperator<Awaited<R>> {
  constructor(options: PythonOperatorOptions<R>) {
    super("python", options, ["opArgs"]);
  }

  protected async run(ctx: TaskExecutionContext): Promise<TaskOutcome> {
    const log = new TaskLog(ctx);
    try {
      const value = await callInProcess(this, ctx, log, this.config.pythonCallable as (...args: never[]) => unknown, this.config.opArgs);
      log.write("system", `Done. Returned value was: ${preview(value)}`, "INFO");
      return { state: "success", returnValue: value };
    } catch (error) {
      if (isSkip(error)) {
        log.write("system", `Skipping: ${error.message}`, "INFO");
        return { state: "skipped" };
      }
      log.write("system", error instanceof Error ? (error.stack ?? error.message) : String(error), "ERROR");
      return failedOutcome(error);
    } finally {
      await log.close();
    }
  }
}
