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
