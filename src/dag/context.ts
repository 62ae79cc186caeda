import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";
import type { LogLine, RunContext } from "../runtime/types.ts";
import type { TaskExecutionContext } from "./model.ts";

/** What an in-process TypeScript callable receives as its last argument. */
export interface TaskContext {
  dagId: string;
  taskId: string;
  runId: string;
  tryNumber: number;
  logicalDate: Date;
  /** `logicalDate` as YYYY-MM-DD (UTC), as Airflow's `ds`. */
  ds: string;
  dsNodash: string;
  /** `logicalDate` in Airflow's `ts` form, e.g. "2026-01-01T00:00:00+00:00". */
  ts: string;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** Aborted on execution timeout, run timeout or cancellation. */
  signal: AbortSignal;
  /** Writes one line to the task's log. */
  log(msg: string, level?: "DEBUG" | "INFO" | "WARNING" | "ERROR"): void;
}

/** Python's `datetime.isoformat()` for a UTC datetime, which is what Airflow passes as `ts`. */
export function airflowIso(date: Date): string {
  const ms = date.getUTCMilliseconds();
  return `${date.toISOString().slice(0, 19)}${ms === 0 ? "" : `.${String(ms).padStart(3, "0")}000`}+00:00`;
}

/** The run-context values a Python callable may name as parameters. */
export function pythonRunContext(ctx: TaskExecutionContext): RunContext {
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

/** One try's log for the in-process operators: JSON lines to `ctx.logPath`, each also sent to `ctx.onLog`. */
export class TaskLog {
  readonly #ctx: TaskExecutionContext;
  readonly #out: WriteStream;

  constructor(ctx: TaskExecutionContext) {
    this.#ctx = ctx;
    mkdirSync(path.dirname(ctx.logPath), { recursive: true });
    this.#out = createWriteStream(ctx.logPath, { flags: "a" });
  }

  write(stream: LogLine["stream"], msg: string, level?: string): void {
    const line: LogLine = { ts: new Date().toISOString(), stream, ...(level === undefined ? {} : { level }), msg };
    this.#out.write(`${JSON.stringify(line)}\n`);
    this.#ctx.onLog(line);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#out.once("error", reject);
      this.#out.end(resolve);
    });
  }

  taskContext(): TaskContext {
    const ctx = this.#ctx;
    const run = pythonRunContext(ctx);
    return {
      dagId: ctx.dagId,
      taskId: ctx.taskId,
      runId: ctx.runId,
      tryNumber: ctx.tryNumber,
      logicalDate: ctx.logicalDate,
      ds: run.ds!,
      dsNodash: run.ds_nodash!,
      ts: run.ts!,
      dataIntervalStart: ctx.dataIntervalStart,
      dataIntervalEnd: ctx.dataIntervalEnd,
      params: ctx.params,
      conf: ctx.conf,
      signal: ctx.signal,
      log: (msg, level = "INFO") => this.write("log", msg, level),
    };
  }
}

/** A value as one log line ("Done. Returned value was: …"), whatever it holds. */
export function preview(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
