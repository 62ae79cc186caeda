/**
 * `venvflow`: the authoring API, what a DAG file imports. Loading it loads no database driver, no store, no engine
 * and no DAG loader (tests check it). Each other layer has its own entry point (package.json "exports"):
 * `venvflow/engine`, `venvflow/store`, `venvflow/env`, `venvflow/runtime`, `venvflow/doctor`, `venvflow/loader`.
 */
export { dag, SCHEDULE_PRESETS, type DagContext, type DagOptions, type Schedule } from "./dag/builder.ts";
export { BaseOperator, type TaskOptions } from "./dag/operator.ts";
export {
  PythonVirtualenvOperator,
  ExternalPythonOperator,
  BranchPythonVirtualenvOperator,
  BranchExternalPythonOperator,
  type PythonVirtualenvOperatorOptions,
  type ExternalPythonOperatorOptions,
  type BranchResult,
} from "./dag/python.ts";
export { PythonOperator, TaskSkipped, type PythonOperatorOptions } from "./dag/function.ts";
export { BashOperator, type BashOperatorOptions } from "./dag/bash.ts";
export { EmptyOperator } from "./dag/empty.ts";
export { task, type TaskFactory, type RefableArgs, type ArgsOf, type VirtualenvTaskOptions, type ExternalPythonTaskOptions, type BashTaskOptions, type FunctionTaskOptions } from "./dag/taskflow.ts";
export { chain } from "./dag/edges.ts";
export { XComArg, type DependencyNode, type Refable } from "./dag/xcom.ts";
export type { TaskContext } from "./dag/context.ts";
export type * from "./dag/model.ts";
// Task options name these (serializers, env vars, log lines); types only, nothing loads.
export type * from "./runtime/types.ts";
export type { Duration } from "./util/duration.ts";
export { VenvflowError } from "./util/errors.ts";
