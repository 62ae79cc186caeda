/**
 * Spawns the runner through the shared process primitive (its own process group, killed whole on timeout, abort
 * and exit) and streams its output line by line into the attempt's log.
 */
import { runProcessGroup, type GroupOutcome } from "../util/process.ts";
import type { AttemptLog } from "./logs.ts";

/** The runner's logging records arrive on this fd (see runner.py). */
export const LOG_FD = 3;

export type ProcessOutcome = Pick<GroupOutcome, "exitCode" | "signal" | "stopped">;

export function runProcess(options: {
  python: string;
  args: string[];
  /** Written to its stdin, which is then closed. */
  input: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: AttemptLog;
  /** Each line of the log fd. */
  logLine: (line: string) => void;
  /** Aborting it stops the whole group (the caller folds timeouts into it). */
  signal: AbortSignal;
}): Promise<ProcessOutcome> {
  const { log } = options;
  return runProcessGroup({
    command: options.python,
    args: options.args,
    input: options.input,
    cwd: options.cwd,
    env: options.env,
    signal: options.signal,
    lines: {
      1: (line) => log.write("stdout", line),
      2: (line) => log.write("stderr", line),
      [LOG_FD]: options.logLine,
    },
  });
}
