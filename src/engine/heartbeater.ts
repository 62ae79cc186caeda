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
  const thread = new Thread(THREAD, { execArgv: process.features.typescript ? [] : process.execArgv });
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

export async function startHeartbeater(opts: HeartbeaterOptions): Promise<Heartbeater> {
  if (!heartbeatsOnThread(opts.store)) return inLoop(opts);
  const { thread, ready } = takeThread();
  await ready;
  const send = (message: ToHeartbeater): void => thread.postMessage(message);
  const started = answer(thread, "started");
  send({ type: "start", job: { target: opts.store.target, workerId: opts.workerId, intervalMs: opts.intervalMs, ...(opts.lease ? { lease: opts.lease } : {}) } });
  try {
    await started;
  } catch (error) {
    keepThread(thread); // the store could not be opened; the thread itself is fine
    throw error;
  }
  let stopping = false;
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
  // The running set changes twice per try, and a message cost a quarter-millisecond (measured with no-op tasks).
  // A new try is sent at once (it may block the loop right after its claim); ended ones at most every 50 ms — a
  // finished try reported "lost" is no longer running, and aborting it does nothing.
  const keyOf = (t: HeldTry): string => `${t.id}#${t.tryNumber}`;
  let sent = new Set<string>();
  let latest: readonly HeldTry[] | null = null;
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (latest) {
      send({ type: "tries", tries: [...latest] });
      sent = new Set(latest.map(keyOf));
    }
    latest = null;
  };
  return {
    setTries: (tries) => {
      latest = tries;
      if (tries.some((t) => !sent.has(keyOf(t)))) flush();
      else timer ??= setTimeout(flush, 50);
    },
    stop: async () => {
      stopping = true;
      if (timer) clearTimeout(timer);
      thread.off("error", onError);
      thread.off("message", onMessage);
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
    stop: async () => clearInterval(timer),
  };
}
