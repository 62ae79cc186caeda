/** Airflow's BashOperator: `bash -c command`; the last line of stdout is the return value. */
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import type { BashCommandOptions, TaskOutcome, XComRef } from "../../dag/model.ts";
import { resolveRefs } from "../../dag/xcom.ts";
import { VenvflowError } from "../../util/errors.ts";
import { runProcessGroup } from "../../util/process.ts";
import { ownedTempDir } from "../../util/scratch.ts";
import { callFunction } from "./function.ts";
import type { ExecutionContext, TaskExecutor } from "./types.ts";

async function commandOf(options: BashCommandOptions, ctx: ExecutionContext): Promise<string> {
  const given = options.bashCommand;
  const command = typeof given === "function" ? await callFunction(given, options.opArgs, ctx) : resolveRefs(given, (ref: XComRef) => ctx.pullXCom(ref));
  if (typeof command !== "string" || command.trim() === "") {
    throw new VenvflowError("invalid_bash_command", `${ctx.where}: the bash command must be a non-empty string, got ${JSON.stringify(command) ?? String(command)}`, {
      fix: "return or pass the command line to run",
    });
  }
  return command;
}

function envOf(options: BashCommandOptions, ctx: ExecutionContext): NodeJS.ProcessEnv {
  const own = options.env === undefined ? undefined : (resolveRefs(options.env, (ref: XComRef) => ctx.pullXCom(ref)) as Record<string, unknown>);
  const base = own === undefined ? { ...process.env } : options.appendEnv === true ? { ...process.env, ...own } : { ...own };
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

async function runCommand(options: BashCommandOptions, command: string, cwd: string, ctx: ExecutionContext): Promise<TaskOutcome> {
  const skipCodes = options.skipOnExitCode === undefined ? [99] : options.skipOnExitCode === null ? [] : [options.skipOnExitCode].flat();
  const log = ctx.log;
  log.system(`Running command: ['bash', '-c', ${JSON.stringify(command)}]`);
  let lastLine = "";
  // The one process primitive: its own process group, so an abort (the engine folds executionTimeout into it) stops
  // what the command started too, SIGKILL after the grace, and nothing it left behind outlives it.
  const outcome = await runProcessGroup({
    command: "bash",
    args: ["-c", command],
    cwd,
    env: envOf(options, ctx),
    signal: ctx.signal,
    lines: {
      1: (line) => {
        lastLine = line.trimEnd();
        log.write("stdout", line);
      },
      2: (line) => log.write("stderr", line),
    },
  });
  log.system(`Command exited with return code ${outcome.exitCode ?? outcome.signal ?? "none (it was not started)"}`);
  return outcomeOf(outcome.exitCode, outcome.signal, lastLine, skipCodes, ctx);
}

function outcomeOf(code: number | null, signal: NodeJS.Signals | null, lastLine: string, skipCodes: readonly number[], ctx: ExecutionContext): TaskOutcome {
  if (ctx.signal.aborted) {
    const reason = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : String(ctx.signal.reason);
    return { state: "failed", error: { type: "VenvflowError", code: "aborted", message: `${ctx.where}: aborted (${reason}); the command was stopped` } };
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
          ? `${ctx.where}: Bash command failed. The command was killed by ${signal}.`
          : `${ctx.where}: Bash command failed. The command returned a non-zero exit code ${code}.`,
      fix: "read the task log for the command's output",
    },
  };
}

export const bashExecutor: TaskExecutor<"bash"> = {
  stopsOnAbort: true,
  async execute(task, ctx) {
    let tempDir: string | null = null;
    try {
      const command = await commandOf(task.options, ctx);
      let cwd: string;
      if (task.options.cwd === undefined) {
        cwd = tempDir = ownedTempDir("bash");
      } else {
        cwd = path.resolve(path.dirname(ctx.dag.fileloc), task.options.cwd);
        const info = await stat(cwd).catch(() => null);
        if (!info?.isDirectory()) {
          throw new VenvflowError("invalid_cwd", `${ctx.where}: cwd "${cwd}" is not an existing directory`, { fix: "create it, or change cwd" });
        }
      }
      return await runCommand(task.options, command, cwd, ctx);
    } finally {
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    }
  },
};
