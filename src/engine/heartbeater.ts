/**
 * Keeps a worker's locks fresh: on a worker thread (heartbeat-thread.ts) so a busy event loop does not stop the
 * heartbeats; in the loop itself only for an in-memory SQLite store, which another connection cannot open.
 */
import { Worker as Thread } from "node:worker_threads";
import type { Store } from "../store/index.ts";
import { VenvflowError, isErrorCode } from "../util/errors.ts";
import type { Lease } from "./fence.ts";
import { heartbeat, type HeldTry } from "./heartbeat.ts";
import type { FromHeartbeater, ToHeartbeater } from "./heartbeat-thread.ts";

export interface Heartbeater {
  /** Settles once the heartbeats run (rejects when they cannot start; `onError` hears of it too). */
  started: Promise<void>;
  /** The tries this worker is running now. */
  setTries(tries: readonly HeldTry[]): void;
  stop(): Promise<void>;
}

export interface HeartbeaterOptions {
  store: Store;
  workerId: string;
  intervalMs: number;
  /** The fence's lease the heartbeat thread renews (fence.ts); none for an in-memory store (no other process). */
  lease?: Lease;
  /** Tries whose lock this worker no longer holds (swept, or the run timed out). */
  onLost(tries: HeldTry[]): void;
  onError(error: unknown): void;
}

// From src/ under tsx or vitest the thread is the .ts file (Node strips its types); from dist/, the .js one.
const THREAD = new URL(`./heartbeat-thread${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);

/** False for an in-memory SQLite store: no other connection can open it, so it heartbeats in the loop. */
export function heartbeatsOnThread(store: Store): boolean {
  return !/(^|:)(:memory:)$/.test(store.target);
}

/**
 * Started threads waiting for their next worker. Starting one costs ~200 ms (a new isolate loading the store layer,
 * measured on the dev machine) — most of a short `runDag` — so a finished worker's thread is kept for the next one
 * for a while (unref'd: it never keeps a finished program alive).
 */
const idle: Thread[] = [];
/** Each thread's board of the running tries (see TriesBoard). */
const boards = new WeakMap<Thread, TriesBoard>();
const IDLE_THREAD_MS = 60_000;
const idleTimers = new Map<Thread, NodeJS.Timeout>();

function takeThread(): { thread: Thread; ready: Promise<void> } {
  const kept = idle.pop();
  if (kept) {
    clearTimeout(idleTimers.get(kept));
    idleTimers.delete(kept);
    return { thread: kept, ready: Promise.resolve() };
  }
  // Not the parent's loaders (tsx) where Node strips the thread's types itself: starting it through tsx took
  // ~0.3 s of CPU more — measured, a quarter of a 1,000-task chain's CPU on the 2-core dev machine.
  const board = new TriesBoard();
  const thread = new Thread(THREAD, { execArgv: process.features.typescript ? [] : process.execArgv, workerData: { board: board.buffer } });
  boards.set(thread, board);
  thread.unref();
  // Between workers nobody listens; a crash then only means the thread is not reused.
  thread.on("error", () => undefined);
  thread.once("exit", () => {
    const at = idle.indexOf(thread);
    if (at >= 0) idle.splice(at, 1);
  });
  const ready = new Promise<void>((resolve, reject) => {
    thread.once("error", reject);
    thread.once("message", (message: FromHeartbeater) => (message.type === "ready" ? resolve() : reject(new Error("the heartbeat thread did not start"))));
  });
  return { thread, ready };
}

function keepThread(thread: Thread): void {
  idle.push(thread);
  const timer = setTimeout(() => {
    idleTimers.delete(thread);
    const at = idle.indexOf(thread);
    if (at >= 0) idle.splice(at, 1);
    void thread.terminate();
  }, IDLE_THREAD_MS);
  timer.unref();
  idleTimers.set(thread, timer);
}

/** The thread's answer to `start` or `stop`: its next message of that type (an error message rejects). */
function answer(thread: Thread, type: "started" | "stopped"): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (message: FromHeartbeater): void => {
      if (message.type !== type && message.type !== "error") return;
      thread.off("message", onMessage);
      thread.off("exit", onExit);
      if (message.type === "error") reject(new VenvflowError(message.code !== undefined && isErrorCode(message.code) ? message.code : "heartbeat_failed", message.message, message.fix ? { fix: message.fix } : {}));
      else resolve();
    };
    const onExit = (): void => reject(new Error("the heartbeat thread exited"));
    thread.on("message", onMessage);
    thread.once("exit", onExit);
  });
}

/**
 * Starts beating without waiting for the thread: a new one takes ~200 ms to start (see `idle`), which was the
 * first fifth of a 1,000-task chain (measured, bench/engine.ts). Nothing needs it sooner: the first beat is due
 * `intervalMs` after the claims it refreshes, and the fence's lease is fresh from joining. A thread that fails to
 * start fails the worker through `onError`, like any failed beat.
 */
export function startHeartbeater(opts: HeartbeaterOptions): Heartbeater {
  if (!heartbeatsOnThread(opts.store)) return inLoop(opts);
  const { thread, ready } = takeThread();
  const send = (message: ToHeartbeater): void => thread.postMessage(message);
  // The thread handles its messages in order, from the first it receives after loading: `start` can go now.
  const started = Promise.all([ready, answer(thread, "started")]).then(() => undefined);
  send({ type: "start", job: { target: opts.store.target, workerId: opts.workerId, intervalMs: opts.intervalMs, ...(opts.lease ? { lease: opts.lease } : {}) } });
  let stopping = false;
  started.catch((error: unknown) => {
    if (!stopping) opts.onError(error);
  });
  const onError = (error: Error): void => {
    if (!stopping) opts.onError(error);
  };
  const onMessage = (message: FromHeartbeater): void => {
    if (stopping) return;
    if (message.type === "lost") opts.onLost(message.tries);
    else if (message.type === "error") opts.onError(new VenvflowError(message.code !== undefined && isErrorCode(message.code) ? message.code : "heartbeat_failed", `heartbeat failed: ${message.message}`, message.fix ? { fix: message.fix } : {}));
  };
  thread.on("error", onError);
  thread.on("message", onMessage);
  const board = boards.get(thread)!;
  board.publish([]);
  return {
    started,
    // No message per change: the running set changes twice per try, and a message (a structured clone, a wake-up of
    // the thread) cost 0.1–0.4 ms a try, measured in chains of tasks. The thread reads the board when it beats.
    setTries: (tries) => {
      if (!board.publish(tries)) send({ type: "tries", tries: [...tries] });
    },
    stop: async () => {
      stopping = true;
      thread.off("error", onError);
      thread.off("message", onMessage);
      // A thread whose start failed is not kept: it may not even have loaded.
      if (!(await started.then(() => true, () => false))) return void (await thread.terminate());
      const stopped = answer(thread, "stopped");
      send({ type: "stop" });
      let late: NodeJS.Timeout | undefined;
      const kept = await Promise.race([stopped.then(() => true, () => false), new Promise<boolean>((resolve) => (late = setTimeout(() => resolve(false), 2000)))]);
      clearTimeout(late);
      if (kept) keepThread(thread);
      else await thread.terminate();
    },
  };
}

/**
 * The running tries, shared with the thread without messages: JSON in a SharedArrayBuffer behind a sequence number
 * (odd while the main thread writes; the thread reads until it saw the same even number before and after). Too many
 * tries for it: -1 as the length, and the list goes as a message instead.
 */
export class TriesBoard {
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8 + 64 * 1024)) {
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, 2);
    this.bytes = new Uint8Array(buffer, 8);
  }

  /** False when the list does not fit (it is then marked as sent by message). */
  publish(tries: readonly HeldTry[]): boolean {
    const data = encoder.encode(JSON.stringify(tries));
    const fits = data.length <= this.bytes.length;
    Atomics.add(this.header, 0, 1);
    if (fits) this.bytes.set(data);
    Atomics.store(this.header, 1, fits ? data.length : -1);
    Atomics.add(this.header, 0, 1);
    return fits;
  }

  /** The list last published, or null when it went as a message. */
  read(): HeldTry[] | null {
    for (;;) {
      const before = Atomics.load(this.header, 0);
      if (before % 2 === 1) continue;
      const length = Atomics.load(this.header, 1);
      const text = length < 0 ? null : decoder.decode(this.bytes.slice(0, length));
      if (Atomics.load(this.header, 0) === before) return text === null ? null : (JSON.parse(text) as HeldTry[]);
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function inLoop(opts: HeartbeaterOptions): Heartbeater {
  let tries: readonly HeldTry[] = [];
  const timer = setInterval(() => {
    const sent = tries;
    heartbeat(opts.store, opts.workerId, sent).then(
      (held) => {
        const lost = sent.filter((t) => !held.has(t.id));
        if (lost.length > 0) opts.onLost(lost);
      },
      (error: unknown) => opts.onError(error),
    );
  }, opts.intervalMs);
  return {
    setTries: (next) => {
      tries = [...next];
    },
    started: Promise.resolve(),
    stop: async () => clearInterval(timer),
  };
}
