/**
 * The one way venvflow starts and stops a child process (Python tasks, Bash tasks, installers): the child leads
 * its own process group, its output arrives line by line, and a timeout or an abort sends SIGTERM to the whole
 * group, then SIGKILL after a grace period. When the leader exits, whatever it left in its group is killed too, so
 * nothing a task started outlives it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/** Time between SIGTERM and SIGKILL when a process group is stopped (Bash tasks, Python tasks, installers alike). */
const KILL_GRACE_MS = 2_000;
/**
 * How long the pipes may stay open once the leader exited and its group was killed: a daemon that escaped into its
 * own session can hold them forever, and the end of a task must not wait on it (reading what is still buffered in
 * a pipe takes microseconds, so this only cuts off writers that are still alive).
 */
export const DRAIN_AFTER_EXIT_MS = 1_000;

/**
 * True while a process with this pid is running on this host (EPERM: it exists but belongs to someone
 * else). A zombie counts as dead: it holds nothing, and in containers whose init does not reap orphans
 * (as on the machines this was written on) a killed process can stay a zombie indefinitely.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (process.platform !== "linux") return true;
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; comm may contain spaces and parentheses, so split after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false; // exited between the two checks
  }
}

/** Sends `signal` to every process of the group led by `pid`; a group that is already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

/**
 * SIGTERM to the group now, SIGKILL to it after `graceMs`. Returns a cancel for the pending SIGKILL (call it once
 * the leader is known dead and its group was killed anyway).
 */
export function stopGroup(pid: number, graceMs = KILL_GRACE_MS): () => void {
  killGroup(pid, "SIGTERM");
  const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
  timer.unref();
  return () => clearTimeout(timer);
}

/**
 * The live process groups this process started (a task's, an installer's), each with the owner it was started
 * for: whatever `groupOwner.run(owner, …)` wraps (the engine runs each try in one). The worker kills a try's groups
 * at once when the try is no longer its own (swept while the worker hung), and its fence (src/engine/fence.ts)
 * mirrors them to files another process can kill them from.
 */
export const groupOwner = new AsyncLocalStorage<string>();
const liveGroups = new Map<number, string | null>();
let groupObserver: { added(pid: number): void; removed(pid: number): void } | null = null;

/**
 * Records `pid` as the leader of a live group (call right after spawning it), of the current owner; `null` for a
 * group that serves many (a warm interpreter).
 */
export function trackGroup(pid: number, owner: string | null = groupOwner.getStore() ?? null): void {
  liveGroups.set(pid, owner);
  groupObserver?.added(pid);
}

/** The group led by `pid` is gone. */
export function untrackGroup(pid: number): void {
  if (liveGroups.delete(pid)) groupObserver?.removed(pid);
}

/** Told of every group tracked from now on (and of those live now); one observer per process. */
export function observeGroups(observer: { added(pid: number): void; removed(pid: number): void } | null): void {
  groupObserver = observer;
  if (observer) for (const pid of liveGroups.keys()) observer.added(pid);
}

/** SIGKILLs at once every live group started for `owner`; returns their leaders' pids. */
export function killGroupsOf(owner: string): number[] {
  const pids = [...liveGroups].filter(([, o]) => o === owner).map(([pid]) => pid);
  for (const pid of pids) killGroup(pid, "SIGKILL");
  return pids;
}

/** Calls `onLine` for every line of `stream`; resolves when it closes. */
function streamLines(stream: Readable | null | undefined, onLine: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  const reader = createInterface({ input: stream, crlfDelay: Infinity });
  reader.on("line", onLine);
  return new Promise((resolve) => reader.once("close", resolve));
}

export interface GroupOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** True when a timeout or an abort stopped the group. */
  stopped: boolean;
  /** True when it was the timeout. */
  timedOut: boolean;
}

export interface GroupProcessOptions {
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Line handlers by fd: 1 stdout, 2 stderr, 3+ extra pipes the child writes to. Unlisted fds are ignored. */
  lines?: Record<number, (line: string) => void>;
  /** Written to stdin, then closed; stdin is /dev/null without it. */
  input?: string;
  /** Aborting stops the whole group. */
  signal?: AbortSignal;
  timeoutMs?: number;
  graceMs?: number;
  /** Called with the leader's pid once it is running (the installer records it in its build lock). */
  onSpawn?: (pid: number) => void;
}

/**
 * Runs `command` as the leader of a new process group and resolves when it has exited and its group is gone.
 * A failure to start (ENOENT, EACCES) rejects.
 */
export async function runProcessGroup(options: GroupProcessOptions): Promise<GroupOutcome> {
  const handlers = options.lines ?? {};
  const fds = Object.keys(handlers).map(Number);
  const width = Math.max(3, ...fds.map((fd) => fd + 1));
  const stdio = Array.from({ length: width }, (_unused, fd) => (fd === 0 ? (options.input === undefined ? "ignore" : "pipe") : fd in handlers ? "pipe" : "ignore"));
  if (options.signal?.aborted) return { exitCode: null, signal: null, stopped: true, timedOut: false };
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    detached: true, // own process group: kill(-pid) reaches the child's subprocesses too
    stdio: stdio as ("pipe" | "ignore")[],
  });
  if (child.pid !== undefined) trackGroup(child.pid);
  if (options.onSpawn) child.once("spawn", () => child.pid !== undefined && options.onSpawn?.(child.pid));
  let stopped = false;
  let timedOut = false;
  let cancelKill = (): void => undefined;
  const stop = (): void => {
    if (stopped || child.pid === undefined) return;
    stopped = true;
    cancelKill = stopGroup(child.pid, options.graceMs);
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = !stopped;
          stop();
        }, options.timeoutMs);
  if (options.input !== undefined) {
    // A child that dies at once closes stdin early; its exit status already tells the story.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input);
  }
  const streams = fds.map((fd) => child.stdio[fd] as Readable | null);
  const drained = Promise.all(fds.map((fd, i) => streamLines(streams[i], handlers[fd] as (line: string) => void)));
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    // Whatever the leader left running would hold our pipes open and outlive it: end the group.
    if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    await settleWithin(drained, DRAIN_AFTER_EXIT_MS, () => streams.forEach((stream) => stream?.destroy()));
    return { exitCode: exit.code, signal: exit.signal, stopped, timedOut };
  } finally {
    clearTimeout(timer);
    cancelKill();
    options.signal?.removeEventListener("abort", stop);
    if (child.pid !== undefined) untrackGroup(child.pid);
  }
}

/** Waits for `promise` at most `ms`, then calls `onLate` and resolves. */
export async function settleWithin(promise: Promise<unknown>, ms: number, onLate: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  try {
    if ((await Promise.race([promise.then(() => "done" as const), late])) === "late") onLate();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For a child whose parent holds its stdin open and never writes to it: exits when that pipe ends (the parent died,
 * kill -9 included). The pipe does not keep the child's event loop alive.
 */
export function exitWithParent(code = 1): void {
  process.stdin.on("end", () => process.exit(code));
  process.stdin.on("error", () => process.exit(code));
  process.stdin.resume();
  (process.stdin as { unref?: () => void }).unref?.();
}
