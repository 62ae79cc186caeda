/** The run-time views of a try's context that the callables receive. */
import type { TaskContext } from "../../dag/context.ts";
import type { RunContext } from "../../runtime/types.ts";
import type { ExecutionContext } from "./types.ts";

/** Python's `datetime.isoformat()` for a UTC datetime, which is what Airflow passes as `ts`. */
export function airflowIso(date: Date): string {
  const ms = date.getUTCMilliseconds();
  return `${date.toISOString().slice(0, 19)}${ms === 0 ? "" : `.${String(ms).padStart(3, "0")}000`}+00:00`;
}

/** The run-context values a Python callable may name as parameters. */
export function pythonRunContext(ctx: ExecutionContext): RunContext {
  const ds = ctx.logicalDate.toISOString().slice(0, 10);
  return {
    dag_id: ctx.dagId,
    task_id: ctx.taskId,
    run_id: ctx.runId,
    logical_date: airflowIso(ctx.logicalDate),
    ds,
    ds_nodash: ds.replaceAll("-", ""),
    ts: airflowIso(ctx.logicalDate),
    data_interval_start: airflowIso(ctx.dataIntervalStart),
    data_interval_end: airflowIso(ctx.dataIntervalEnd),
    params: ctx.params,
    conf: ctx.conf,
    try_number: ctx.tryNumber,
  };
}

/** What an in-process TypeScript callable receives as its last argument. */
export function typescriptTaskContext(ctx: ExecutionContext): TaskContext {
  const ds = ctx.logicalDate.toISOString().slice(0, 10);
  return {
    dagId: ctx.dagId,
    taskId: ctx.taskId,
    runId: ctx.runId,
    tryNumber: ctx.tryNumber,
    logicalDate: ctx.logicalDate,
    ds,
    dsNodash: ds.replaceAll("-", ""),
    ts: airflowIso(ctx.logicalDate),
    dataIntervalStart: ctx.dataIntervalStart,
    dataIntervalEnd: ctx.dataIntervalEnd,
    params: ctx.params,
    conf: ctx.conf,
    signal: ctx.signal,
    log: (msg, level = "INFO") => ctx.log.write("log", msg, { level }),
  };
}

/** A value as one log line ("Done. Returned value was: …"), whatever it holds. */
export function preview(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
