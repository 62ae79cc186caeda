/** `doctor` over DAG files: every Python-callable task of every DAG loaded from a file or folder. */
import { loadDags } from "../dag/loader.ts";
import type { DagDefinition } from "../dag/model.ts";
import { VenvflowError } from "../util/errors.ts";
import { redactUrl } from "../util/secrets.ts";
import { diagnoseTasks, whyModule } from "./diagnose.ts";
import type { DoctorOptions, Finding, ModuleOrigin, PythonTaskInput } from "./types.ts";

export interface DoctorReport {
  findings: Finding[];
  dags: number;
  /** Python tasks checked. */
  tasks: number;
  errors: number;
  warnings: number;
}

function pythonTasks(dags: readonly DagDefinition[]): PythonTaskInput[] {
  return dags.flatMap((dag) =>
    [...dag.tasks.values()].flatMap((task) => (task.python ? [{ dagId: dag.dagId, taskId: task.taskId, file: dag.fileloc, ...task.python }] : [])),
  );
}

/** Checks every Python task in a DAG file or folder (default `dags/`). A DAG file that does not load is a finding. */
export async function doctor(pathOrDir = "dags", options: DoctorOptions = {}): Promise<DoctorReport> {
  const { dags, errors } = await loadDags(pathOrDir);
  const loadFindings: Finding[] = errors.map((e) => ({ code: "dag_load_failed", severity: "error", dagId: "", taskId: "", file: e.file, message: e.message, fix: e.fix ?? "fix the DAG file so it loads (see `venvflow dags list`)" }));
  const tasks = pythonTasks(dags);
  const findings = [...loadFindings, ...(await diagnoseTasks(tasks, options))];
  return {
    findings,
    dags: dags.length,
    tasks: tasks.length,
    errors: findings.filter((f) => f.severity === "error").length,
    warnings: findings.filter((f) => f.severity === "warning").length,
  };
}

/** `venvflow env why FILE TASK_ID MODULE`: where MODULE would come from for that task, or why it cannot be imported. */
export async function whyImport(file: string, taskId: string, module: string, options: DoctorOptions & { dagId?: string } = {}): Promise<{ task: PythonTaskInput; origin: ModuleOrigin | null; findings: Finding[] }> {
  const { dags, errors } = await loadDags(file);
  if (errors.length > 0 && dags.length === 0) {
    throw new VenvflowError("dag_load_failed", `Could not load ${file}: ${errors.map((e) => e.message).join("; ")}`, { fix: errors[0]?.fix ?? "fix the DAG file (see `venvflow dags list`)" });
  }
  const matches = pythonTasks(dags).filter((t) => t.taskId === taskId && (options.dagId === undefined || t.dagId === options.dagId));
  if (matches.length === 0) {
    const known = pythonTasks(dags).map((t) => `${t.dagId}.${t.taskId}`);
    throw new VenvflowError("task_not_found", `${file} has no Python task "${taskId}"`, { fix: known.length ? `Python tasks there: ${known.join(", ")}` : "that file defines no Python-callable tasks" });
  }
  if (matches.length > 1) {
    throw new VenvflowError("task_ambiguous", `${file} has a task "${taskId}" in several DAGs: ${matches.map((m) => m.dagId).join(", ")}`, { fix: "pass --dag DAG_ID" });
  }
  const task = matches[0] as PythonTaskInput;
  const { origin, findings } = await whyModule(task, module, options);
  // The task is shown back (e.g. as JSON): index credentials stay masked.
  const indexUrls = task.indexUrls === undefined ? {} : { indexUrls: (typeof task.indexUrls === "string" ? [task.indexUrls] : task.indexUrls).map(redactUrl) };
  return { task: { ...task, ...indexUrls }, origin, findings };
}
