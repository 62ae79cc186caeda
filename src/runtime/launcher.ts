/**
 * The launcher seam: how one attempt of a callable starts in its interpreter. `spawnLauncher` starts a fresh
 * interpreter per attempt; `src/runtime/warm.ts` forks it from a warm interpreter of the same environment. Both run
 * the same runner.py with the same call directory, log streams and process-group rules, so `runCallable` does not
 * care which one ran the attempt. Adding a launcher: implement `Launcher` and return it from `chooseLauncher`.
 */
import { fileURLToPath } from "node:url";
import type { CallableTarget } from "./callable.ts";
import type { AttemptLog } from "./logs.ts";
import { LOG_FD, runProcess, type ProcessOutcome } from "./process.ts";

// Python files are not compiled: from src/runtime/ and dist/runtime/ alike, this points at the shipped source.
export const RUNNER = fileURLToPath(new URL("../../src/runtime/runner.py", import.meta.url));

export { LOG_FD, type ProcessOutcome };

/** Everything a launcher needs to start one attempt. */
export interface Attempt {
  /** The interpreter to run in (the environment's, or the external one). */
  python: string;
  /** Environment key (null for an external interpreter). */
  envKey: string | null;
  /** Holds control.json; the runner writes result.json there. */
  callDir: string;
  cwd: string;
  /** The attempt's whole environment (what `inheritEnv` and `envVars` make of it). */
  env: NodeJS.ProcessEnv;
  callable: CallableTarget;
  /** Modules the task asks to have imported before it starts (`preload` option). */
  preload: readonly string[];
  log: AttemptLog;
  /** Aborting it stops the attempt's whole process group (timeouts are folded into it). */
  signal: AbortSignal;
}

export interface Launcher {
  readonly name: string;
  /** Runs the attempt to its end; rejects only when it could not be started at all. */
  launch(attempt: Attempt): Promise<ProcessOutcome>;
}

/** A fresh interpreter per attempt: `<python> runner.py <call-dir>`. Works everywhere. */
export const spawnLauncher: Launcher = {
  name: "spawn",
  launch: (attempt) => runProcess({ python: attempt.python, args: [RUNNER, attempt.callDir], cwd: attempt.cwd, env: attempt.env, log: attempt.log, signal: attempt.signal }),
};
