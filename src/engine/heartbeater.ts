/**
 * Keeps a worker's locks fresh: on a worker thread (heartbeat-thread.ts) so a busy event loop does not stop the
 * heartbeats; in the loop itself only for an in-memory SQLite store, which another connection cannot open.
 */
import { Worker as Thread } from "node:worker_threads";
import type { Store } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { heartbeat } from "./heartbeat.ts";
import type { FromHeartbeater, HeartbeatThreadData, ToHeartbeater } from "./heartbeat-thread.ts";

export interface Heartbeater {
  /** The task instances this worker is running now. */
  setIds(ids: readonly string[]): void;
  stop(): Promise<void>;
}

export interface HeartbeaterOptions {
  store: Store;
  workerId: string;
  intervalMs: number;
  /** Ids whose lock this worker no longer holds (swept, or the run timed out). */
  onLost(ids: string[]): void;
  onError(error: unknown): void;
}

// From src/ under tsx or vitest the thread is the .ts file (Node strips its types); from dist/, the .js one.
const THREAD = new URL(`./heartbeat-thread${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);

export async function startHeartbeater(opts: HeartbeaterOptions): Promise<Heartbeater> {
  if (/(^|:)(:memory:)$/.test(opts.store.target)) return inLoop(opts);
  const thread = new Thread(THREAD, { workerData: { target: opts.store.target, workerId: opts.workerId, intervalMs: opts.intervalMs } satisfies HeartbeatThreadData });
  thread.unref();
  await new Promise<void>((resolve, reject) => {
    thread.once("error", reject);
    thread.once("message", (message: FromHeartbeater) => (message.type === "ready" ? resolve() : reject(new Error("the heartbeat thread did not start"))));
  });
  thread.on("error", (error) => opts.onError(error));
  thread.on("message", (message: FromHeartbeater) => {
    if (message.type === "lost") opts.onLost(message.ids);
    else if (message.type === "error") opts.onError(new VenvflowError(message.code ?? "heartbeat_failed", `heartbeat failed: ${message.message}`, message.fix ? { fix: message.fix } : {}));
  });
  const send = (message: ToHeartbeater): void => thread.postMessage(message);
  return {
    setIds: (ids) => send({ type: "ids", ids: [...ids] }),
    stop: async () => {
      const exited = new Promise<void>((resolve) => thread.once("exit", () => resolve()));
      send({ type: "stop" });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      await thread.terminate();
    },
  };
}

function inLoop(opts: HeartbeaterOptions): Heartbeater {
  let ids: readonly string[] = [];
  const timer = setInterval(() => {
    const sent = ids;
    heartbeat(opts.store, opts.workerId, sent).then(
      (held) => {
        const lost = sent.filter((id) => !held.has(id));
        if (lost.length > 0) opts.onLost(lost);
      },
      (error: unknown) => opts.onError(error),
    );
  }, opts.intervalMs);
  return {
    setIds: (next) => {
      ids = [...next];
    },
    stop: async () => clearInterval(timer),
  };
}
