/**
 * Runs the runner as the leader of its own process group, so a timeout or an abort can kill everything the
 * callable started (grandchildren included), and streams its output line by line into the attempt's log.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { AttemptLog } from "./logs.ts";

/** Time between SIGTERM and SIGKILL when a task is stopped. */
const KILL_GRACE_MS = 2_000;
/** The runner's logging records arrive on this fd (see runner.py). */
export const LOG_FD = 3;

export interface ProcessOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** True when the signal stopped the process. */
  stopped: boolean;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

function lines(stream: Readable | null, onLine: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  const reader = createInterface({ input: stream, crlfDelay: Infinity });
  reader.on("line", onLine);
  return new Promise((resolve) => reader.once("close", resolve));
}

export async function runProcess(options: {
  python: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: AttemptLog;
  /** Aborting it stops the whole group (the caller folds timeouts into it). */
  signal: AbortSignal;
}): Promise<ProcessOutcome> {
  const { log } = options;
  const child = spawn(options.python, options.args, {
    cwd: options.cwd,
    env: options.env,
    detached: true, // own process group: kill(-pid) reaches the callable's subprocesses too
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    if (stopped || child.pid === undefined) return;
    stopped = true;
    killGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => child.pid !== undefined && killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
  };
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener("abort", onAbort, { once: true });

  const drained = Promise.all([
    lines(child.stdout, (line) => log.write("stdout", line)),
    lines(child.stderr, (line) => log.write("stderr", line)),
    lines(child.stdio[LOG_FD] as Readable | null, (line) => log.record(line)),
  ]);
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    // Whatever the callable left running would hold our pipes open and outlive the task: end the group.
    if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    await drained;
    return { exitCode: exit.code, signal: exit.signal, stopped };
  } finally {
    clearTimeout(killTimer);
    options.signal.removeEventListener("abort", onAbort);
  }
}
