import { BaseOperator, type TaskOptions } from "./operator.ts";
import type { BranchResult } from "./python.ts";

const SKIP_BRAND = Symbol.for("venvflow.TaskSkipped");

/** Thrown by a TypeScript callable to mark its task skipped (Airflow's AirflowSkipException). */
export class TaskSkipped extends Error {
  readonly [SKIP_BRAND] = true;

  constructor(reason = "skipped by the task") {
    super(reason);
    this.name = "TaskSkipped";
  }
}

/** By brand, not instanceof: a DAG file's "venvflow" may be another module instance than the engine's. */
export function isTaskSkipped(error: unknown): error is Error {
  return error instanceof Error && (error as Error & { [SKIP_BRAND]?: boolean })[SKIP_BRAND] === true;
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
}

/** Airflow's BranchPythonOperator for TypeScript: the function returns the downstream task id(s) to follow. */
export class BranchPythonOperator extends BaseOperator<BranchResult> {
  constructor(options: PythonOperatorOptions<BranchResult | Promise<BranchResult>>) {
    super("branch_python", options, ["opArgs"]);
  }
}

