/**
 * The heartbeater, on a worker thread with its own database connection: a task that keeps the main event loop
 * busy (a long synchronous TypeScript function) no longer stops its worker's heartbeats, so its try is not swept
 * as lost while it runs (issue #9, measured: a 70 s busy loop was swept twice). It refreshes the locks of the ids
 * the main thread gives it and reports the ones it no longer holds.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openStore } from "../store/index.ts";
import { heartbeat } from "./heartbeat.ts";

export interface HeartbeatThreadData {
  /** The store's URL or file, unredacted (it connects with it; it never prints it). */
  target: string;
  workerId: string;
  intervalMs: number;
}

export type ToHeartbeater = { type: "ids"; ids: string[] } | { type: "stop" };
export type FromHeartbeater = { type: "ready" } | { type: "lost"; ids: string[] } | { type: "error"; message: string; code?: string; fix?: string };

const { target, workerId, intervalMs } = workerData as HeartbeatThreadData;
const port = parentPort!;
const store = await openStore(target, { migrate: false, poolSize: 1 });
let ids: string[] = [];
let beating: Promise<void> | null = null;
let stopped = false;
const beat = (): Promise<void> => (beating ??= beatOnce().finally(() => (beating = null)));
const beatOnce = async (): Promise<void> => {
  if (stopped || ids.length === 0) return;
  const sent = ids;
  try {
    const held = await heartbeat(store, workerId, sent);
    const lost = sent.filter((id) => !held.has(id));
    if (lost.length > 0) port.postMessage({ type: "lost", ids: lost } satisfies FromHeartbeater);
  } catch (error) {
    if (stopped) return;
    const e = error as { message?: string; code?: unknown; fix?: unknown };
    port.postMessage({ type: "error", message: String(e.message ?? error), ...(typeof e.code === "string" ? { code: e.code } : {}), ...(typeof e.fix === "string" ? { fix: e.fix } : {}) } satisfies FromHeartbeater);
  }
};
const timer = setInterval(() => void beat(), intervalMs);
port.on("message", (message: ToHeartbeater) => {
  if (message.type === "ids") ids = message.ids;
  else {
    // The beat in flight finishes first: closing under it would report a closed connection as a failure.
    stopped = true;
    clearInterval(timer);
    void Promise.resolve(beating)
      .then(() => store.close())
      .finally(() => port.close());
  }
});
port.postMessage({ type: "ready" } satisfies FromHeartbeater);
