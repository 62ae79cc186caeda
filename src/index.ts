// Public API of venvflow. Each layer exports through here; nothing else is public.
export { VenvflowError } from "./util/errors.ts";
export type { Duration } from "./util/duration.ts";
export type * from "./env/types.ts";
export {
  ensureEnvironment,
  acquireEnvironment,
  findPython,
  listPythons,
  listEnvironments,
  showEnvironment,
  removeEnvironment,
  gcEnvironments,
  resolveSpec,
  EnvBuildError,
  type EnvironmentDetails,
  type GcOptions,
  type GcResult,
} from "./env/index.ts";
export type * from "./runtime/types.ts";
export type * from "./dag/model.ts";
export * from "./dag/index.ts";
export { runCallable, inspectCallable, resolveCallable, isOpaquePythonValue, RUNNER_PROTOCOL, SERIALIZERS, type OpaquePythonValue, type CallableSignature, type CallableTarget } from "./runtime/index.ts";
export * as pep from "./env/pep/index.ts";
export { openStore, migrate, TASK_STATES, RUN_STATES, FINISHED_TASK_STATES, type Store, type OpenStoreOptions, type Backend, type TaskState, type RunState, type RunType, type DagRunRow, type TaskInstanceRow, type TaskTryRow } from "./store/index.ts";
export {
  runDag,
  runTask,
  triggerRun,
  Worker,
  evaluateTriggerRule,
  retryDelayMs,
  manualRunDates,
  summarizeRun,
  listRuns,
  findRun,
  type RunDagOptions,
  type RunTaskOptions,
  type TaskTestResult,
  type TriggerOptions,
  type WorkerOptions,
  type EngineEvent,
  type RunSummary,
  type TaskSummary,
} from "./engine/index.ts";
export { doctor, whyImport, diagnoseTasks, whyModule, explainImportFailure, FINDING_CODES, type DoctorReport, type DoctorOptions, type Finding, type FindingCode, type ModuleOrigin, type PythonTaskInput, type ImportFailureContext, type ImportFailureExplanation } from "./doctor/index.ts";
