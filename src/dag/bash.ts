import type { TaskOptions } from "./operator.ts";
import { BaseOperator } from "./operator.ts";
import type { XComArg } from "./xcom.ts";

export interface BashOperatorOptions extends TaskOptions {
  /**
   * The command (`bash -c`), a reference to an upstream string, or a function called at run time as
   * `bashCommand(...opArgs, ctx)` that returns it (what `task.bash` builds).
   */
  bashCommand: string | XComArg<string> | ((...args: never[]) => string | Promise<string>);
  /** Arguments of a `bashCommand` function; references to upstream results are resolved first. */
  opArgs?: unknown[];
  /** The command's whole environment, unless `appendEnv` adds it to the engine's. Values may be references. */
  env?: Record<string, string | XComArg<string>>;
  appendEnv?: boolean;
  /** Working directory (relative to the DAG file's folder). Default: a temporary directory, removed afterwards. */
  cwd?: string;
  /** Exit codes that mark the task skipped. Default 99, as Airflow; null for none. */
  skipOnExitCode?: number | number[] | null;
}

/** Airflow's BashOperator: runs `bash -c command`; the last line of stdout is the return value. */
export class BashOperator extends BaseOperator<string> {
  constructor(options: BashOperatorOptions) {
    super("bash", options, ["bashCommand", "env", "opArgs"]);
  }
}
