import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { runProcessGroup } from "../util/process.ts";
import { TaskLog } from "./context.ts";
import { callInProcess } from "./function.ts";
import type { TaskExecutionContext, TaskOutcome, XComRef } from "./model.ts";
import { BaseOperator, failedOutcome, type TaskOptions } from "./operator.ts";
import { resolveRefs, type XComArg } from "./xcom.ts";

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

  protected async run(ctx: TaskExecutionContext): Promise<TaskOutcome> {
    const log = new TaskLog(ctx);
    let tempDir: string | null = null;
    try {
      const command = await this.#command(ctx, log);
      let cwd: string;
      if (this.config.cwd === undefined) {
        cwd = tempDir = await mkdtemp(path.join(os.tmpdir(), "venvflow-bash-"));
      } else {
        cwd = path.resolve(path.dirname(this.dag.fileloc), this.config.cwd as string);
        const info = await stat(cwd).catch(() => null);
        if (!info?.isDirectory()) {
          throw new VenvflowError("invalid_cwd", `${this.where()}: cwd "${cwd}" is not an existing directory`, { fix: "create it, or change cwd" });
        }
      }
      return await this.#spawn(command, cwd, ctx, log);
    } catch (error) {
      log.write("system", error instanceof Error ? error.message : String(error), "ERROR");
      return failedOutcome(error);
    } finally {
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      await log.close();
    }
  }

  async #command(ctx: TaskExecutionContext, log: TaskLog): Promise<string> {
    const given = this.config.bashCommand;
    const command =
      typeof given === "function"
        ? await callInProcess(this, ctx, log, given as (...args: never[]) => unknown, this.config.opArgs)
        : resolveRefs(given, (ref: XComRef) => ctx.pullXCom(ref));
    if (typeof command !== "string" || command.trim() === "") {
      throw new VenvflowError("invalid_bash_command", `${this.where()}: the bash command must be a non-empty string, got ${JSON.stringify(command) ?? String(command)}`, {
        fix: "return or pass the command line to run",
      });
    }
    return command;
  }

  #env(ctx: TaskExecutionContext): NodeJS.ProcessEnv {
    const own = this.config.env === undefined ? undefined : (resolveRefs(this.config.env, (ref: XComRef) => ctx.pullXCom(ref)) as Record<string, unknown>);
    const base = own === undefined ? { ...process.env } : this.config.appendEnv === true ? { ...process.env, ...own } : { ...own };
    return {
      ...Object.fromEntries(Object.entries(base).map(([key, value]) => [key, value === undefined ? undefined : String(value)])),
      // Airflow exports AIRFLOW_CTX_*; the same facts under venvflow's name.
      VENVFLOW_CTX_DAG_ID: ctx.dagId,
      VENVFLOW_CTX_TASK_ID: ctx.taskId,
      VENVFLOW_CTX_RUN_ID: ctx.runId,
      VENVFLOW_CTX_LOGICAL_DATE: ctx.logicalDate.toISOString(),
      VENVFLOW_CTX_TRY_NUMBER: String(ctx.tryNumber),
    };
  }

  async #spawn(command: string, cwd: string, ctx: TaskExecutionContext, log: TaskLog): Promise<TaskOutcome> {
    const skipCodes = this.config.skipOnExitCode === undefined ? [99] : this.config.skipOnExitCode === null ? [] : [this.config.skipOnExitCode].flat() as number[];
    log.write("system", `Running command: ['bash', '-c', ${JSON.stringify(command)}]`, "INFO");
    let lastLine = "";
    // The shared primitive: its own process group, so an abort (the engine folds executionTimeout into it) stops
    // what the command started too, and nothing it left behind outlives it.
    const outcome = await runProcessGroup({
      command: "bash",
      args: ["-c", command],
      cwd,
      env: this.#env(ctx),
      signal: ctx.signal,
      lines: {
        1: (line) => {
          lastLine = line.trimEnd();
          log.write("stdout", line);
        },
        2: (line) => log.write("stderr", line),
      },
    });
    log.write("system", `Command exited with return code ${outcome.exitCode ?? outcome.signal ?? "none (it was not started)"}`, "INFO");
    return this.#outcome(outcome.exitCode, outcome.signal, lastLine, skipCodes, ctx);
  }

  #outcome(code: number | null, signal: NodeJS.Signals | null, lastLine: string, skipCodes: readonly number[], ctx: TaskExecutionContext): TaskOutcome {
    if (ctx.signal.aborted) {
      const reason = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : String(ctx.signal.reason);
      return { state: "failed", error: { type: "VenvflowError", code: "aborted", message: `${this.where()}: aborted (${reason}); the command was stopped` } };
    }
    if (code !== null && skipCodes.includes(code)) return { state: "skipped" };
    if (code === 0) return { state: "success", returnValue: lastLine };
    return {
      state: "failed",
      error: {
        type: "AirflowException",
        code: "bash_command_failed",
        message:
          code === null
            ? `${this.where()}: Bash command failed. The command was killed by ${signal}.`
            : `${this.where()}: Bash command failed. The command returned a non-zero exit code ${code}.`,
        fix: "read the task log for the command's output",
      },
    };
  }
}
