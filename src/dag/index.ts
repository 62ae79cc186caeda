// The DAG authoring API, re-exported from the package root.
export { dag, taskWhere, SCHEDULE_PRESETS, type DagContext, type DagOptions, type Schedule } from "./builder.ts";
export { BaseOperator, type TaskOptions } from "./operator.ts";
export {
  PythonVirtualenvOperator,
  ExternalPythonOperator,
  BranchPythonVirtualenvOperator,
  BranchExternalPythonOperator,
  type PythonVirtualenvOperatorOptions,
  type ExternalPythonOperatorOptions,
  type BranchResult,
} from "./python.ts";
export { PythonOperator, BranchPythonOperator, TaskSkipped, isTaskSkipped, type PythonOperatorOptions } from "./function.ts";
export { BashOperator, type BashOperatorOptions } from "./bash.ts";
export { EmptyOperator } from "./empty.ts";
export { task, type TaskFactory, type RefableArgs, type ArgsOf, type VirtualenvTaskOptions, type ExternalPythonTaskOptions, type BashTaskOptions, type FunctionTaskOptions } from "./taskflow.ts";
export { chain } from "./edges.ts";
export { XComArg, type DependencyNode, type Refable } from "./xcom.ts";
export type { TaskContext } from "./context.ts";
export { loadDags, loadDag, type DagLoadError, type LoadDagsResult } from "./loader.ts";
