/**
 * The contract between the authoring API (src/dag) and the engine (src/engine): a loaded DAG is a
 * `DagDefinition`, plain data. Each `TaskDefinition` is declarative — its kind and its validated options — and
 * the engine runs one try of it through the executor registered for its kind (src/engine/executors).
 * The authoring API never runs a task; an executor never touches the store.
 */
import type { EnvSpecInput } from "../env/types.ts";
import type { CallableOptions, FailureExplainer, LogLine, PythonCallable, Serializer } from "../runtime/types.ts";

export const TRIGGER_RULES = [
  "all_success",
  "all_failed",
  "all_done",
  "all_skipped",
  "one_success",
  "one_failed",
  "one_done",
  "none_failed",
  "none_failed_min_one_success",
  "none_skipped",
  "always",
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

export type TaskKind =
  | "python_virtualenv"
  | "external_python"
  | "branch_python_virtualenv"
  | "branch_external_python"
  | "python"
  | "branch_python"
  | "bash"
  | "empty";

/** Python-callable tasks: the runtime's callable options as declared (upstream references unresolved). */
export type PythonCallableTaskOptions = Omit<CallableOptions, "context" | "onLog" | "logPath" | "signal" | "home" | "executionTimeout">;

/** In-process TypeScript functions, called as `pythonCallable(...opArgs, ctx)`. */
export interface TsFunctionOptions {
  pythonCallable: (...args: never[]) => unknown;
  opArgs?: unknown[];
}

export interface BashCommandOptions {
  /** The command, a reference to one, or a function returning it (called as `bashCommand(...opArgs, ctx)`). */
  bashCommand: string | XComRef | ((...args: never[]) => unknown);
  opArgs?: unknown[];
  env?: Record<string, string | XComRef>;
  appendEnv?: boolean;
  /** Relative to the DAG file's folder. */
  cwd?: string;
  skipOnExitCode?: number | number[] | null;
}

/** The options each kind declares (the options every task shares are fields of `TaskDefinition`). */
export interface TaskOptionsByKind {
  python_virtualenv: PythonCallableTaskOptions;
  external_python: PythonCallableTaskOptions;
  branch_python_virtualenv: PythonCallableTaskOptions;
  branch_external_python: PythonCallableTaskOptions;
  python: TsFunctionOptions;
  branch_python: TsFunctionOptions;
  bash: BashCommandOptions;
  empty: Record<string, never>;
}

/** A reference to an upstream task's result (`op.output`, a TaskFlow call's return, or `ref.get("k")`). */
export interface XComRef {
  readonly kind: "xcom_ref";
  readonly taskId: string;
  /** "return_value", or a key of a `multipleOutputs` result. */
  readonly key: string;
}

export interface TaskExecutionContext {
  dagId: string;
  taskId: string;
  runId: string;
  /** A mapped task instance's index; -1 when the task is not mapped. */
  mapIndex: number;
  /** 1 for the first try. */
  tryNumber: number;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** The stored value an upstream reference points to (the engine has loaded every ref in `xcomRefs`). */
  pullXCom(ref: XComRef): unknown;
  /** Where this try's log goes (JSON lines), and a live sink for each line. */
  logPath: string;
  onLog(line: LogLine): void;
  /** Aborted on execution timeout, run timeout or cancellation. */
  signal: AbortSignal;
  /** VENVFLOW_HOME for this engine. */
  home: string;
  /** Explains a Python task's failed import (the engine passes doctor's; the dag layer sits below doctor). */
  explainFailure?: FailureExplainer;
}

export interface TaskError {
  type: string;
  message: string;
  traceback?: string;
  code?: string;
  fix?: string;
}

export interface TaskOutcome {
  state: "success" | "failed" | "skipped";
  returnValue?: unknown;
  error?: TaskError;
  /**
   * Branch tasks only: the directly-downstream task ids to follow; `null` skips all downstream.
   * The branch executor has already checked the ids are directly downstream.
   */
  branch?: string[] | null;
}

/** A Python-callable task's callable and interpreter options, as declared (paths resolved against `baseDir`). */
export interface PythonTaskSpec {
  pythonCallable: PythonCallable;
  /** Absolute directory relative callable and requirements paths resolve against. */
  baseDir: string;
  serializer?: Serializer;
  requirements?: string[] | string;
  pythonVersion?: string;
  systemSitePackages?: boolean;
  pipInstallOptions?: string[];
  indexUrls?: string[] | string;
  /** ExternalPython tasks: the existing interpreter. */
  python?: string;
  /** false: the task's process starts from an empty environment (plus envVars). */
  inheritEnv?: boolean;
  /** The names envVars sets (never the values: they may be secrets). */
  envVarNames?: string[];
}

/**
 * Where each item of a mapped list goes in the options of one mapped task instance: an option (`expand`), a
 * positional argument (`opArgs[arg]`, TaskFlow's `expand`), or — `expandKwargs` — the item holds options
 * (`"options"`, an operator's), or the call's remaining arguments (`"args"`, TaskFlow's: a list of positional
 * arguments, or an object of keyword arguments for a Python callable).
 */
export type MapTarget = { field: string } | { arg: number } | { kwargs: "options" | "args" };

/** One list a task is mapped over: literal, or an upstream task's result known only at run time. */
export interface MapAxis {
  source: readonly unknown[] | XComRef;
  target: MapTarget;
}

/**
 * Airflow's dynamic task mapping: one task instance per item — per combination of items with several lists
 * (the first list varies slowest) — with map indexes 0, 1, … in that order.
 */
export interface TaskMapping {
  axes: readonly MapAxis[];
  /** A list longer than this fails the task that produced it (default 1024, as Airflow's max_map_length). */
  maxMapLength: number;
}

interface TaskDefinitionBase {
  taskId: string;
  upstreamTaskIds: readonly string[];
  downstreamTaskIds: readonly string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
  executionTimeoutMs: number | null;
  doc?: string;
  /** A dict result is also stored key by key (Airflow's multiple_outputs). */
  multipleOutputs: boolean;
  /** Every upstream result this task's arguments reference. */
  xcomRefs: readonly XComRef[];
  /** Virtualenv tasks: the environment they run in (for `venvflow env build FILE` and `venvflow doctor`). */
  environment?: EnvSpecInput;
  /** Python-callable tasks: the callable and what decides its interpreter (for `venvflow doctor`). */
  python?: PythonTaskSpec;
  /** Mapped tasks (`expand`, `expandKwargs`): what the task is mapped over. */
  mapping?: TaskMapping;
}

/** A task of kind K (or of one of the kinds in K). */
export type TaskOf<K extends TaskKind> = TaskDefinitionBase & { kind: K; options: Readonly<TaskOptionsByKind[K]> };

/** One task: what it is (`kind`) and its options; the engine's executor for that kind runs it. */
export type TaskDefinition = { [K in TaskKind]: TaskOf<K> }[TaskKind];

export interface DagDefinition {
  dagId: string;
  /** Absolute path of the file that defined it. */
  fileloc: string;
  description?: string;
  /** Cron expression or preset ("@daily"), or null for manual runs only. */
  schedule: string | null;
  timezone: string;
  startDate: Date | null;
  endDate: Date | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  params: Record<string, unknown>;
  tags: string[];
  dagrunTimeoutMs: number | null;
  /** In topological order. */
  tasks: ReadonlyMap<string, TaskDefinition>;
}
