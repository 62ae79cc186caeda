import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { LogLine } from "../runtime/types.ts";
import { pathInside } from "../util/home.ts";

/** `VENVFLOW_HOME/logs/<dag_id>/<run_id>/<task_id>/attempt=<n>.log`, one file per try (Airflow's layout). */
export function taskLogPath(home: string, dagId: string, runId: string, taskId: string, tryNumber: number): string {
  return pathInside(path.join(home, "logs"), dagId, runId, taskId, `attempt=${tryNumber}.log`);
}

/**
 * Appends engine lines (state changes, errors) to a try's log. Synchronous O_APPEND writes of one line each, so
 * they interleave whole with the lines the task's own writer appends to the same file.
 */
export function appendSystemLog(logPath: string, msg: string, level: "INFO" | "WARNING" | "ERROR" = "INFO"): LogLine {
  const line: LogLine = { ts: new Date().toISOString(), stream: "system", level, msg };
  mkdirSync(path.dirname(logPath), { recursive: true });
  appendFileSync(logPath, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  return line;
}
