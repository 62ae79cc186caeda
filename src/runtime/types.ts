import type { Duration } from "../util/duration.ts";
import type { Launcher } from "./launcher.ts";

/** "path/to/file.py:function" (relative to `baseDir`, or absolute), or inline source. */
export type PythonCallable = string | { source: string; name?: string };

export type Serializer = "json" | "pickle" | "cloudpickle" | "dill";

/** An env var whose value is masked in every log line, error and file venvflow writes. */
export interface SecretValue {
  secret: string;
}

/** Run-context values a callable receives when it names them as parameters (or takes `**kwargs`). */
export interface RunContext {
  dag_id?: string;
  task_id?: string;
  run_id?: string;
  logical_date?: string;
  ds?: string;
  ds_nodash?: string;
  ts?: string;
  data_interval_start?: string;
  data_interval_end?: string;
  params?: Record<string, unknown>;
  conf?: Record<string, unknown>;
  try_number?: number;
}

export interface LogLine {
  /** ISO-8601 time the line was read. */
  ts: string;
  stream: "stdout" | "stderr" | "log" | "system";
  /** Python logging level name for stream "log" (and "INFO"/"ERROR" for system lines). */
  level?: string;
  logger?: string;
  msg: string;
}

/** What an explainer of a failed import is told: the error, where the callable ran, and what the task declared. */
export interface FailureContext {
  /** The failed call's error, as the runner reported it. */
  error: { type: string; message: string; traceback?: string };
  /** The callable, when it is a file: a failing import at module level of it is checked against what it uses. */
  callable?: { path: string; name: string };
  /** The task's process environment as declared: whether it inherits venvflow's, and the names envVars sets. */
  inheritEnv?: boolean;
  envVarNames?: string[];
  /** Where it ran: `CallableResult.env` (key null for an external interpreter). */
  env: { key: string | null; path: string; python: string };
  /** The task's declared requirements (list or file path) and options. */
  requirements?: string[] | string;
  systemSitePackages?: boolean;
  baseDir?: string;
  /** The task's index URLs; unset: PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, asked which distribution provides the module. */
  indexUrls?: string[] | string;
  /** VENVFLOW_HOME override. */
  home?: string;
}

/**
 * Explains a failed call: a ModuleNotFoundError / ImportError, or a KeyError of an environment variable the task was
 * not given (doctor's `explainFailure` is the one venvflow ships; the engine and `venvflow call` pass it, so the runtime
 * never imports doctor). Null: nothing to add.
 */
export type FailureExplainer = (context: FailureContext) => Promise<{ code: string; message: string; fix: string } | null>;

export interface CallableOptions {
  pythonCallable: PythonCallable;
  /** Directory a relative callable path is resolved against (the declaring file's directory). Default: cwd. */
  baseDir?: string;
  opArgs?: unknown[];
  opKwargs?: Record<string, unknown>;
  requirements?: string[] | string;
  pythonVersion?: string;
  systemSitePackages?: boolean;
  pipInstallOptions?: string[];
  indexUrls?: string[] | string;
  serializer?: Serializer;
  stringArgs?: string[];
  envVars?: Record<string, string | SecretValue>;
  inheritEnv?: boolean;
  skipOnExitCode?: number | number[];
  executionTimeout?: Duration;
  showReturnValueInLogs?: boolean;
  cwd?: string;
  /** ExternalPythonOperator semantics: an absolute path to an existing interpreter, used as is. */
  python?: string;
  context?: RunContext;
  onLog?: (line: LogLine) => void;
  /** Where the attempt's log goes (JSON lines). Default: a file under VENVFLOW_HOME/logs/calls. */
  logPath?: string;
  signal?: AbortSignal;
  /** VENVFLOW_HOME override. */
  home?: string;
  /** Modules to import before the callable starts (in a warm interpreter: once, before it forks). */
  preload?: string[];
  /** false: start a fresh interpreter for this task even where warm interpreters are on (docs/runtime.md). */
  warm?: boolean;
  /** How the attempt starts (src/runtime/launcher.ts); overrides `warm`. */
  launcher?: Launcher;
  /** Called when the callable fails to import something; its explanation joins the error (message, code, fix). */
  explainFailure?: FailureExplainer;
}

export interface CallableError {
  type: string;
  message: string;
  traceback: string;
  /** Stable code for venvflow's own failures (e.g. "timeout", "env_build_failed"). */
  code?: string;
  fix?: string;
}

export interface CallableResult {
  state: "success" | "failed" | "skipped";
  returnValue: unknown;
  error?: CallableError;
  exitCode: number | null;
  durationMs: number;
  logPath: string;
  env: { key: string | null; path: string; python: string };
}
