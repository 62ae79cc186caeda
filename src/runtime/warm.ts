/**
 * Warm interpreters: the fork launcher. Per interpreter and attempt environment, one "zygote" (zygote.py) has the
 * runner and the tasks' modules imported and forks a child per attempt. Measured on the 2-core dev machine
 * (Python 3.11): a fresh interpreter costs ~11 ms before the runner even starts, a fork of a warm one ~1 ms, and a
 * task importing pandas ~270 ms fresh against a few ms forked (bench/warm.ts prints both).
 *
 * The child is a new session (timeouts and aborts kill its whole tree, as with spawn), gets the attempt's cwd and
 * exactly the attempt's environment variables, and writes its stdout, stderr and logging records to three
 * connections on a Unix socket this process listens on, tagged with a per-attempt random token.
 *
 * Lifecycle: a zygote starts on first use, is retired after `maxForks` forks or above `maxRssBytes`, stops after
 * `idleMs` without work, at most `maxZygotes` live at once (least recently used out first), and exits when this
 * process dies (PR_SET_PDEATHSIG on Linux, its control pipe's EOF and a parent-pid check everywhere).
 * PR_SET_PDEATHSIG follows the *thread* that spawned: launch from the main thread (or a thread that lives as long
 * as the pool), never from a short-lived worker thread, or the zygote dies with that thread.
 */
import { fileURLToPath } from "node:url";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { ownedTempPath, sweepDeadOwners } from "../util/scratch.ts";
import { DRAIN_AFTER_EXIT_MS, killGroup, settleWithin, stopGroup, trackGroup, untrackGroup } from "../util/process.ts";
import { ResultReader, spawnLauncher, type Attempt, type LaunchOutcome, type Launcher } from "./launcher.ts";
import type { AttemptLog } from "./logs.ts";

const ZYGOTE = fileURLToPath(new URL("../../src/runtime/zygote.py", import.meta.url));
const STREAMS = ["stdout", "stderr", "log"] as const;
const EXIT_REPORT = "__venvflow_exit__";

export interface WarmPoolOptions {
  /** Forks before a zygote is replaced (its heap only grows). Default 500. */
  maxForks?: number;
  /** RSS above which a zygote is replaced. Default 1 GiB. */
  maxRssBytes?: number;
  /** A zygote without work for this long exits. Default 5 minutes. */
  idleMs?: number;
  /** Live zygotes at most; the least recently used one goes first. Default 4. */
  maxZygotes?: number;
}

/** Anything held for as long as a zygote lives (the lease on its environment). */
export interface Holding {
  release(): Promise<void>;
}

interface Started {
  pid: number;
  /** The token of the child's three connections to this process (see accept). */
  streams: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

type ForkAnswer = { started: Started } | { unsafe: string } | { died: string } | { preloaded: true };

/** What a zygote is started for: an attempt, or a task's future attempts (`prewarm`, which has no log). */
type WarmTarget = Pick<Attempt, "python" | "env" | "cwd" | "callable" | "preload" | "signal"> & { log: AttemptLog | null };

interface PendingFork {
  answer(value: ForkAnswer): void;
  exited?: (value: { code: number | null; signal: NodeJS.Signals | null }) => void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(os.constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]));

/** One warm interpreter and its children. */
class Zygote {
  readonly pid: number;
  readonly ready: Promise<void>;
  forks = 0;
  /** Preload requests it had (a worker prewarming its DAGs asks once per distinct task). */
  preloads = 0;
  lastUsed = Date.now();
  retired = false;
  running = 0;
  readonly holdings: Holding[] = [];
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly pending = new Map<number, PendingFork>();
  private nextId = 1;
  private deathReason: string | null = null;
  private leaving: Promise<void> | null = null;
  /** Resolves once the process is gone and its pipes are closed. */
  readonly gone: Promise<void>;
  private markGone: () => void = () => undefined;
  /** The attempt its stderr (import warnings while preloading) belongs to: the one that asked last. */
  private currentLog: AttemptLog | null = null;

  constructor(python: string, socketPath: string, denied: readonly string[], attempt: WarmTarget) {
    this.child = spawn(python, [ZYGOTE, String(process.pid), socketPath, JSON.stringify(denied)], {
      cwd: attempt.cwd,
      env: attempt.env,
      detached: true, // not in the terminal's process group: Ctrl-C reaches the worker, which then stops its tasks
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.pid = this.child.pid ?? -1;
    if (this.pid > 0) trackGroup(this.pid, null); // the engine's fence kills it (and so its children) when the host hangs
    this.currentLog = attempt.log;
    this.gone = new Promise<void>((resolve) => (this.markGone = resolve));
    this.child.unref();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) (stream as unknown as net.Socket).unref?.();
    this.child.stdin.on("error", () => undefined);
    this.child.stdin.write(`${JSON.stringify({ op: "env", env: stringEnv(attempt.env) })}\n`);
    createInterface({ input: this.child.stderr, crlfDelay: Infinity }).on("line", (line) => this.currentLog?.write("stderr", line));
    let markReady: () => void = () => undefined;
    let failReady: (error: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on("line", (line) => {
      let message: { ready?: boolean; id?: number; pid?: number; streams?: string; exit?: number | null; signal?: number | null; unsafe?: string; preloaded?: boolean };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return this.currentLog?.write("stderr", line); // not protocol: something wrote to the zygote's own stdout fd
      }
      if (message.ready) return markReady();
      const pending = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!pending || message.id === undefined) return;
      if (message.unsafe !== undefined) {
        this.pending.delete(message.id);
        pending.answer({ unsafe: message.unsafe });
      } else if (message.preloaded) {
        this.pending.delete(message.id);
        pending.answer({ preloaded: true });
      } else if (message.pid !== undefined) {
        const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => (pending.exited = resolve));
        pending.answer({ started: { pid: message.pid, streams: message.streams ?? "", exit } });
      } else if ("exit" in message) {
        this.pending.delete(message.id);
        pending.exited?.({ code: message.exit ?? null, signal: message.signal == null ? null : (SIGNAL_NAMES.get(message.signal) ?? "SIGKILL") });
      }
    });
    const onGone = (why: string): void => {
      untrackGroup(this.pid);
      this.deathReason ??= why;
      this.retired = true;
      failReady(new Error(this.deathReason));
      // Its children die with it (PR_SET_PDEATHSIG): an attempt that was running ends as killed.
      for (const pending of this.pending.values()) {
        pending.answer({ died: this.deathReason });
        pending.exited?.({ code: null, signal: "SIGKILL" });
      }
      this.pending.clear();
      this.markGone();
    };
    this.child.once("error", (error) => onGone(`it could not start: ${error.message}`));
    // "close", not "exit": the exit reports of its last children may still be in its stdout pipe at "exit".
    this.child.once("close", (code, signal) => onGone(`it exited (${signal ?? `code ${code}`})`));
  }

  get alive(): boolean {
    return this.deathReason === null;
  }

  /** Asks for a child running `attempt`; answers once it runs (or why it does not). */
  fork(attempt: Attempt): Promise<ForkAnswer> {
    this.forks++;
    this.currentLog = attempt.log;
    // No environment variables: a zygote serves exactly one set (see zygoteKey), sent once when it started.
    return this.ask({ op: "fork", control: attempt.control, cwd: attempt.cwd, preload: attempt.preload });
  }

  /** Imports what `target`'s attempts will (its callable's imports and `preload`), forking nothing. */
  preload(target: WarmTarget): Promise<ForkAnswer> {
    this.preloads++;
    const callable = target.callable.kind === "file" ? { kind: "file", path: target.callable.path } : { kind: "inline", source: target.callable.source };
    return this.ask({ op: "preload", callable, preload: target.preload });
  }

  private ask(request: Record<string, unknown>): Promise<ForkAnswer> {
    if (!this.alive) return Promise.resolve({ died: this.deathReason ?? "it is gone" });
    const id = this.nextId++;
    this.lastUsed = Date.now();
    const answer = new Promise<ForkAnswer>((resolve) => this.pending.set(id, { answer: resolve }));
    this.child.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    return answer;
  }

  rssBytes(): number | null {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"));
      return match ? Number(match[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  /** Ends it now (a zygote that never became ready has no children to wait for). */
  kill(): void {
    killGroup(this.pid, "SIGKILL");
  }

  /**
   * No new forks; it exits once its running children ended (at once when idle). Resolves when it is gone and what
   * it held (its environment lease) is released.
   */
  retire(): Promise<void> {
    if (this.leaving) return this.leaving;
    this.retired = true;
    if (this.alive) this.child.stdin.write(`${JSON.stringify({ op: "retire" })}\n`);
    const holdings = this.holdings.splice(0);
    this.leaving = this.gone.then(async () => void (await Promise.all(holdings.map((h) => h.release().catch(() => undefined)))));
    return this.leaving;
  }
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

type StreamName = (typeof STREAMS)[number];

/**
 * A child's three connections, by the token they carry. A spare child connects long before it has an attempt, and
 * a child may write before its fork answer is read here: lines wait in `early` until the attempt is attached.
 */
interface ChildStreams {
  sockets: net.Socket[];
  closedCount: number;
  early: [StreamName, string][];
  sinks: Record<StreamName, (line: string) => void> | null;
  /** Resolves once the child's three connections arrived and closed. */
  allClosed: Promise<void>;
  markAllClosed(): void;
}

/** What the attempt learns from its child's streams. */
interface AttemptReports {
  /** Resolves with the exit code the child reported on its log stream just before exiting. */
  reported: Promise<number>;
  /** The runner's result frame, once it arrived. */
  results: ResultReader;
}

/** How long the connections of a child that ended without an attempt (a discarded spare) are remembered. */
const UNCLAIMED_STREAMS_MS = 30_000;

/** The fork launcher: one warm interpreter per interpreter and attempt environment. */
export class WarmPool implements Launcher {
  readonly name = "fork";
  private readonly options: Required<WarmPoolOptions>;
  private readonly zygotes = new Map<string, Zygote>();
  /** Per zygote key: modules whose import started a thread, and so are never preloaded there again. */
  private readonly denied = new Map<string, Set<string>>();
  /** Per zygote key: denied modules no attempt's log has mentioned yet. */
  private readonly untold = new Map<string, string[]>();
  private readonly children = new Map<string, ChildStreams>();
  private server: net.Server | null = null;
  private socketPath: string | null = null;
  private listening: Promise<string> | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Retired zygotes not gone yet. */
  private readonly leaving = new Set<Zygote>();

  constructor(options: WarmPoolOptions = {}) {
    this.options = { maxForks: 500, maxRssBytes: 1024 ** 3, idleMs: 5 * 60_000, maxZygotes: 4, ...options };
  }

  /** The zygotes alive now (for benchmarks and diagnostics). */
  stats(): { key: string; pid: number; forks: number; preloads: number; rssBytes: number | null }[] {
    return [...this.zygotes.entries()].filter(([, z]) => z.alive).map(([key, z]) => ({ key, pid: z.pid, forks: z.forks, preloads: z.preloads, rssBytes: z.rssBytes() }));
  }

  /** Keeps `holding` (an environment lease) until the zygote for `attempt` is gone; false when there is none. */
  hold(attempt: Pick<Attempt, "python" | "env">, holding: Holding): boolean {
    const zygote = this.zygotes.get(zygoteKey(attempt));
    if (!zygote?.alive || zygote.retired) return false;
    zygote.holdings.push(holding);
    return true;
  }

  /** True while a live zygote serves this interpreter and environment and holds a lease on it (see `hold`). */
  warmFor(attempt: Pick<Attempt, "python" | "env">): boolean {
    const zygote = this.zygotes.get(zygoteKey(attempt));
    return zygote !== undefined && zygote.alive && !zygote.retired && zygote.holdings.length > 0;
  }

  async launch(attempt: Attempt): Promise<LaunchOutcome> {
    // While an attempt runs, this keeps the event loop alive (the zygote's pipes and the socket are unref'd so an
    // idle pool never holds a finished program open).
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      for (let tries = 0; tries < 3; tries++) {
        let zygote: Zygote;
        try {
          zygote = await this.zygoteFor(attempt);
        } catch (error) {
          attempt.log.system(`warm interpreter unavailable (${(error as Error).message}); starting a fresh interpreter`, "WARNING");
          return await spawnLauncher.launch(attempt);
        }
        this.tell(attempt);
        const answer = await zygote.fork(attempt);
        if ("started" in answer) return await this.follow(answer.started, attempt, zygote);
        if ("unsafe" in answer) {
          this.deny(zygote, attempt, answer.unsafe);
          continue;
        }
        // The zygote died before the child ran: this attempt must not fail for it.
        attempt.log.system(`the warm interpreter died (${"died" in answer ? answer.died : "it answered out of turn"}); starting a fresh interpreter for this attempt`, "WARNING");
        return await spawnLauncher.launch(attempt);
      }
      return await spawnLauncher.launch(attempt);
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * Starts (or reuses) the zygote `target`'s attempts will fork from and has it import what they import, so the
   * first attempt is as fast as the next. False when it could not (the attempt will then say why).
   */
  async prewarm(target: WarmTarget): Promise<boolean> {
    for (let tries = 0; tries < 3; tries++) {
      let zygote: Zygote;
      try {
        zygote = await this.zygoteFor(target);
      } catch {
        return false;
      }
      const answer = await zygote.preload(target);
      if ("preloaded" in answer) return true;
      if (!("unsafe" in answer)) return false;
      this.deny(zygote, target, answer.unsafe);
    }
    return false;
  }

  /** `module` started a thread when `zygote` imported it: never preloaded there again, and that zygote goes. */
  private deny(zygote: Zygote, target: Pick<Attempt, "python" | "env">, module: string): void {
    const key = zygoteKey(target);
    const denied = this.denied.get(key) ?? new Set<string>();
    denied.add(module);
    this.denied.set(key, denied);
    this.untold.set(key, [...(this.untold.get(key) ?? []), module]);
    this.retire(zygote);
  }

  /** Says once, in the log of the next attempt that forks there (a prewarm has no log), which modules were dropped. */
  private tell(attempt: Attempt): void {
    const key = zygoteKey(attempt);
    for (const module of this.untold.get(key) ?? []) {
      attempt.log.system(`importing ${module} starts a thread, which makes forking unsafe: it is not preloaded in this environment's warm interpreter`, "WARNING");
    }
    this.untold.delete(key);
  }

  /** Stops every zygote and releases their leases (they also exit on their own when this process ends). */
  async close(): Promise<void> {
    const zygotes = [...this.zygotes.values(), ...this.leaving];
    this.zygotes.clear();
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
    // A zygote waits for its running children; past this, it is killed (with them).
    const deadline = setTimeout(() => zygotes.forEach((zygote) => zygote.kill()), CLOSE_GRACE_MS);
    await Promise.all(zygotes.map((zygote) => zygote.retire()));
    clearTimeout(deadline);
    this.server?.close();
    if (this.socketPath) rmSync(this.socketPath, { force: true });
    this.server = null;
    this.listening = null;
  }

  /** Retires `zygote`, keeping track of it until it is gone (so `close` can wait for it). */
  private retire(zygote: Zygote): void {
    this.leaving.add(zygote);
    void zygote.retire().then(() => this.leaving.delete(zygote));
  }

  private async follow(started: Started, attempt: Attempt, zygote: Zygote): Promise<LaunchOutcome> {
    zygote.running++;
    trackGroup(started.pid); // the engine's fence may kill it from elsewhere (src/engine/fence.ts)
    const streams = this.streamsOf(started.streams);
    const reports = this.attach(streams, started.streams, attempt);
    let stopped = false;
    let cancelKill = (): void => undefined;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      cancelKill = stopGroup(started.pid);
    };
    if (attempt.signal.aborted) stop();
    else attempt.signal.addEventListener("abort", stop, { once: true });
    try {
      // Whichever comes first: the child's own report (no wait for the zygote to be scheduled and reap it, which on a
      // busy machine is the slowest hop), or the zygote's (a child killed by a signal reports nothing).
      const exit = await Promise.race([started.exit, reports.reported.then((code) => ({ code, signal: null }))]);
      // Whatever the callable left in its session would outlive the task: end the group.
      killGroup(started.pid, "SIGKILL");
      await settleWithin(streams.allClosed, DRAIN_AFTER_EXIT_MS, () => streams.sockets.forEach((socket) => socket.destroy()));
      return { exitCode: exit.code, signal: exit.signal, stopped, report: reports.results.report };
    } finally {
      cancelKill();
      untrackGroup(started.pid);
      attempt.signal.removeEventListener("abort", stop);
      this.children.delete(started.streams);
      zygote.running--;
      zygote.lastUsed = Date.now();
      this.retireIfSpent(zygote);
    }
  }

  private retireIfSpent(zygote: Zygote): void {
    if (zygote.retired) return;
    const rss = zygote.forks % 20 === 0 ? zygote.rssBytes() : null;
    if (zygote.forks >= this.options.maxForks || (rss !== null && rss > this.options.maxRssBytes)) this.retire(zygote);
  }

  /** Routes a child's streams to `attempt`'s log, its early lines first; reads its exit report and result frame. */
  private attach(streams: ChildStreams, token: string, attempt: Attempt): AttemptReports {
    const { log, control } = attempt;
    const results = new ResultReader(control, log);
    let report: (code: number) => void = () => undefined;
    const reported = new Promise<number>((resolve) => (report = resolve));
    // The child's last log line: its exit code, tagged with its streams' token (see zygote.py).
    const exitReport = `{"${EXIT_REPORT}": `;
    const onLogLine = (line: string): void => {
      if (line.startsWith(exitReport)) {
        try {
          const frame = JSON.parse(line) as { [EXIT_REPORT]?: number; token?: string };
          if (frame.token === token && typeof frame[EXIT_REPORT] === "number") return report(frame[EXIT_REPORT]);
        } catch {
          // not our frame: an ordinary line of the log stream
        }
      }
      results.line(line);
    };
    streams.sinks = { stdout: (line) => log.write("stdout", line), stderr: (line) => log.write("stderr", line), log: onLogLine };
    for (const [name, line] of streams.early.splice(0)) streams.sinks[name](line);
    return { reported, results };
  }

  private streamsOf(token: string): ChildStreams {
    let streams = this.children.get(token);
    if (!streams) {
      let markAllClosed = (): void => undefined;
      const allClosed = new Promise<void>((resolve) => (markAllClosed = resolve));
      streams = { sockets: [], closedCount: 0, early: [], sinks: null, allClosed, markAllClosed };
      this.children.set(token, streams);
    }
    return streams;
  }

  private async zygoteFor(attempt: WarmTarget): Promise<Zygote> {
    const key = zygoteKey(attempt);
    let zygote = this.zygotes.get(key);
    if (zygote && (!zygote.alive || zygote.retired)) {
      this.zygotes.delete(key);
      zygote = undefined;
    }
    if (!zygote) {
      const socketPath = await this.listen();
      while (this.zygotes.size >= this.options.maxZygotes) {
        const [oldestKey, oldest] = [...this.zygotes.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0] as [string, Zygote];
        this.retire(oldest);
        this.zygotes.delete(oldestKey);
      }
      zygote = new Zygote(attempt.python, socketPath, [...(this.denied.get(key) ?? [])], attempt);
      this.zygotes.set(key, zygote);
      this.watchIdle();
    }
    await readyWithin(zygote, attempt.signal);
    return zygote;
  }

  private watchIdle(): void {
    if (this.idleTimer) return;
    this.idleTimer = setInterval(() => {
      for (const [key, zygote] of this.zygotes) {
        if (zygote.running === 0 && Date.now() - zygote.lastUsed > this.options.idleMs) {
          this.retire(zygote);
          this.zygotes.delete(key);
        }
      }
      if (this.zygotes.size === 0 && this.idleTimer) {
        clearInterval(this.idleTimer);
        this.idleTimer = null;
      }
    }, Math.min(this.options.idleMs, 30_000));
    this.idleTimer.unref();
  }

  private listen(): Promise<string> {
    this.listening ??= new Promise<string>((resolve, reject) => {
      sweepDeadOwners(); // sockets (and scratch) of pools whose process died without cleaning up (kill -9)
      const socketPath = `${ownedTempPath("warm")}.sock`; // named with this pid: swept once this process is gone
      const server = net.createServer((socket) => this.accept(socket));
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.unref();
        this.server = server;
        this.socketPath = socketPath;
        process.once("exit", () => rmSync(socketPath, { force: true }));
        resolve(socketPath);
      });
    });
    return this.listening;
  }

  /**
   * A child's connection: its first line names the child (its streams' token) and the stream; the rest is that
   * stream. The socket is reachable by this user only (a Unix socket needs write permission on its file).
   */
  private accept(socket: net.Socket): void {
    socket.on("error", () => undefined);
    socket.unref(); // a spare's connections are open while it waits: they must not keep a finished program alive
    const reader = createInterface({ input: socket, crlfDelay: Infinity });
    let deliver: ((line: string) => void) | null = null;
    reader.on("line", (line) => {
      if (deliver) return deliver(line);
      const [token = "", name = ""] = line.split(" ");
      if (!/^[0-9a-f]{24}$/.test(token) || !(STREAMS as readonly string[]).includes(name)) {
        socket.destroy(); // not one of ours
        return;
      }
      const stream = name as StreamName;
      const streams = this.streamsOf(token);
      streams.sockets.push(socket);
      deliver = (text) => (streams.sinks ? streams.sinks[stream](text) : void streams.early.push([stream, text]));
      reader.once("close", () => {
        if (++streams.closedCount !== STREAMS.length) return;
        streams.markAllClosed();
        // A spare discarded unused ends without an attempt; a fast child may end before its fork answer is read.
        if (!streams.sinks) setTimeout(() => !streams.sinks && this.children.delete(token), UNCLAIMED_STREAMS_MS).unref();
      });
    });
  }
}



/** Zygotes are per interpreter and per exact environment variables: a fork inherits what its zygote started with. */
function zygoteKey(attempt: Pick<Attempt, "python" | "env">): string {
  let envHash = envHashes.get(attempt.env);
  if (envHash === undefined) {
    const env = Object.entries(stringEnv(attempt.env)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    envHash = createHash("sha256").update(JSON.stringify(env)).digest("hex");
    envHashes.set(attempt.env, envHash);
  }
  return `${attempt.python}\u0000${envHash}`;
}

/** An attempt's key is asked for several times (lease, dispatch): hashed once per environment object. */
const envHashes = new WeakMap<NodeJS.ProcessEnv, string>();

/** A zygote imports the runner and nothing else before it is ready: far below this even on a loaded machine. */
const START_TIMEOUT_MS = 30_000;
/** How long `close` lets running attempts finish before their zygote (and they) are killed. */
const CLOSE_GRACE_MS = 10_000;

/** Waits for the zygote to be ready; an abort or a zygote that does not answer in time is a start failure. */
async function readyWithin(zygote: Zygote, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort = (): void => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`it did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    onAbort = () => reject(new Error("the attempt was stopped while it started"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([zygote.ready, failed]);
  } catch (error) {
    void zygote.retire();
    zygote.kill();
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

let defaultPool: WarmPool | null = null;

/** The process-wide pool `runCallable` uses when warm interpreters are on. */
export function warmPool(): WarmPool {
  defaultPool ??= new WarmPool();
  return defaultPool;
}
