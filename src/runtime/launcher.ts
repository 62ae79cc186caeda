/**
 * The launcher seam: how one attempt of a callable starts in its interpreter. `spawnLauncher` starts a fresh
 * interpreter per attempt; `src/runtime/warm.ts` forks it from a warm interpreter of the same environment. Both run
 * the same runner.py with the same control object, log streams, result frame and process-group rules, so
 * `runCallable` does not care which one ran the attempt. Adding a launcher: implement `Launcher` and return it from
 * `launcherFor` (src/runtime/index.ts).
 */
import { fileURLToPath } from "node:url";
import { VenvflowError } from "../util/errors.ts";
import type { CallableTarget } from "./callable.ts";
import type { AttemptLog } from "./logs.ts";
import { LOG_FD, runProcess, type ProcessOutcome } from "./process.ts";
import type { CallableError } from "./types.ts";

// Python files are not compiled: from src/runtime/ and dist/runtime/ alike, this points at the shipped source.
export const RUNNER = fileURLToPath(new URL("../../src/runtime/runner.py", import.meta.url));

/** Version of the control object and result frame exchanged with runner.py (its docstring describes both). */
export const RUNNER_PROTOCOL = 2;

export { LOG_FD, type ProcessOutcome };

/** What runner.py needs for one attempt: on its stdin (spawn) or in the fork request (warm). */
export interface RunnerControl {
  protocol: number;
  /** Random per attempt: the result frame carries it back, so a line the callable prints cannot pass for one. */
  token: string;
  callable: { kind: "file"; path: string; name: string } | { kind: "inline"; source: string; name: string };
  serializer: string;
  args: unknown[];
  kwargs: unknown;
  stringArgs: string[];
  maxResultBytes: number;
  logFd: number;
}

/** Everything a launcher needs to start one attempt. */
export interface Attempt {
  /** The interpreter to run in (the environment's, or the external one). */
  python: string;
  /** Environment key (null for an external interpreter). */
  envKey: string | null;
  control: RunnerControl;
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

/** What the runner reported: its result, a frame that broke the rules, or nothing (it exited before reporting). */
export type RunnerReport = { ok: true; value: unknown } | { ok: false; error: CallableError } | VenvflowError | null;

export interface LaunchOutcome extends ProcessOutcome {
  report: RunnerReport;
}

export interface Launcher {
  readonly name: string;
  /** Runs the attempt to its end; rejects only when it could not be started at all. */
  launch(attempt: Attempt): Promise<LaunchOutcome>;
}

const RESULT_FRAME = "__venvflow_result__";
const RESULT_PREFIX = `{"${RESULT_FRAME}": `;
/** The result frame's envelope around the value, whose own size the runner already capped. */
const ENVELOPE_BYTES = 4096;

/**
 * Reads the runner's log fd: logging records go to the attempt's log; the result frame (the last line the runner
 * writes there, tagged with the attempt's token) becomes the report.
 */
export class ResultReader {
  report: RunnerReport = null;
  private readonly control: RunnerControl;
  private readonly log: AttemptLog;

  constructor(control: RunnerControl, log: AttemptLog) {
    this.control = control;
    this.log = log;
  }

  /** Handles one line of the log fd; true when it was the result frame. */
  line(raw: string): boolean {
    if (!raw.startsWith(RESULT_PREFIX)) {
      this.log.record(raw);
      return false;
    }
    // Checked before parsing: a runaway frame must not be loaded blindly (UTF-16 length ≤ UTF-8 bytes).
    if (raw.length > this.control.maxResultBytes + ENVELOPE_BYTES && Buffer.byteLength(raw) > this.control.maxResultBytes + ENVELOPE_BYTES) {
      this.report = new VenvflowError("result_too_large", `The result frame is ${Buffer.byteLength(raw)} bytes, over the ${this.control.maxResultBytes}-byte limit`, {
        fix: "return something smaller (write large data to a file and return its path), or raise VENVFLOW_MAX_RESULT_BYTES",
      });
      return true;
    }
    let frame: { [RESULT_FRAME]?: { protocol?: unknown; ok?: unknown; value?: unknown; error?: CallableError }; token?: unknown };
    try {
      frame = JSON.parse(raw) as typeof frame;
    } catch {
      this.log.record(raw);
      return false;
    }
    const payload = frame[RESULT_FRAME];
    if (frame.token !== this.control.token || typeof payload !== "object" || payload === null) {
      this.log.record(raw); // printed by the callable, not the runner's frame
      return false;
    }
    if (payload.protocol !== RUNNER_PROTOCOL) {
      this.report = new VenvflowError("protocol_mismatch", `runner.py answered with protocol ${String(payload.protocol)}, expected ${RUNNER_PROTOCOL}`, { fix: "reinstall venvflow" });
    } else {
      this.report = payload.ok === true ? { ok: true, value: payload.value } : { ok: false, error: payload.error as CallableError };
    }
    return true;
  }
}

/** A fresh interpreter per attempt: `<python> runner.py`, the control object on its stdin. Works everywhere. */
export const spawnLauncher: Launcher = {
  name: "spawn",
  launch: async (attempt) => {
    const reader = new ResultReader(attempt.control, attempt.log);
    const outcome = await runProcess({
      python: attempt.python,
      args: [RUNNER],
      input: JSON.stringify(attempt.control),
      cwd: attempt.cwd,
      env: attempt.env,
      log: attempt.log,
      logLine: (line) => void reader.line(line),
      signal: attempt.signal,
    });
    return { ...outcome, report: reader.report };
  },
};
