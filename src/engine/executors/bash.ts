/** Airflow's BashOperator: `bash -c command`; the last line of stdout is the return value. */
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { BashCommandOptions, TaskOutcome, XComRef } from "../../dag/model.ts";
import { resolveRefs } from "../../dag/xcom.ts";
import { VenvflowError } from "../../util/errors.ts";
import { callFunction } from "./function.ts";
import type { ExecutionContext, TaskExecutor } from "./types.ts";

/** Grace period between SIGTERM and SIGKILL when a command is aborted. */
const KILL_GRACE_MS = 5000;

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

function runCommand(options: BashCommandOptions, command: string, cwd: string, ctx: ExecutionContext): Promise<TaskOutcome> {
  const skipCodes = options.skipOnExitCode === undefined ? [99] : options.skipOnExitCode === null ? [] : [options.skipOnExitCode].flat();
  const log = ctx.log;
  log.system(`Running command: ['bash', '-c', ${JSON.stringify(command)}]`);
  // Its own process group, so an abort also stops what the command started.
  const child = spawn("bash", ["-c", command], { cwd, env: envOf(options, ctx), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let lastLine = "";
  const stdoutDone = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on("line", (line) => {
      lastLine = line.trimEnd();
      log.write("stdout", line);
    });
    lines.on("close", resolve);
  });
  const stderrDone = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stderr, crlfDelay: Infinity });
    lines.on("line", (line) => log.write("stderr", line));
    lines.on("close", resolve);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  const onAbort = (): void => {
    kill("SIGTERM");
    killTimer = setTimeout(() => kill("SIGKILL"), KILL_GRACE_MS);
  };
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener("abort", onAbort, { once: true });
  return new Promise<TaskOutcome>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      ctx.signal.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      void Promise.all([stdoutDone, stderrDone]).then(() => {
        log.system(`Command exited with return code ${code ?? signal}`);
        resolve(outcomeOf(code, signal, lastLine, skipCodes, ctx));
      });
    });
  });
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
        cwd = tempDir = await mkdtemp(path.join(os.tmpdir(), "venvflow-bash-"));
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
