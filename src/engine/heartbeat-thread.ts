/**
 * The heartbeater, on a worker thread with its own database connection: a task that keeps the main event loop
 * busy (a long synchronous TypeScript function) no longer stops its worker's heartbeats, so its try is not swept
 * as lost while it runs (issue #9, measured: a 70 s busy loop was swept twice). It refreshes the locks of the ids
 * the main thread gives it and reports the ones it no longer holds.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openStore } from "../store/index.ts";
import { monotonicMs, renewLease, type Lease } from "./fence.ts";
import { heartbeat, type HeldTry } from "./heartbeat.ts";

export interface HeartbeatThreadData {
  /** The store's URL or file, unredacted (it connects with it; it never prints it). */
  target: string;
  workerId: string;
  intervalMs: number;
  /** The lease this thread renews for the fence (fence.ts). */
  lease?: Lease;
}

export type ToHeartbeater = { type: "tries"; tries: HeldTry[] } | { type: "stop" };
export type FromHeartbeater = { type: "ready" } | { type: "lost"; tries: HeldTry[] } | { type: "error"; message: string; code?: string; fix?: string };

const { target, workerId, intervalMs, lease } = workerData as HeartbeatThreadData;
const port = parentPort!;
const store = await openStore(target, { migrate: false, poolSize: 1 });
let tries: HeldTry[] = [];
/** The lease is the start of the last round that succeeded: never younger than a lock that round refreshed. */
const renew = (at: number): void => {
  try {
    if (lease) renewLease(lease, at);
  } catch {
    // a full or read-only temp directory: the lease ages, and the fence acts as if this thread hung
  }
};
renew(monotonicMs());
let beating: Promise<void> | null = null;
let stopped = false;
const beat = (): Promise<void> => (beating ??= beatOnce().finally(() => (beating = null)));
const beatOnce = async (): Promise<void> => {
  if (stopped) return;
  const startedAt = monotonicMs();
  const sent = tries;
  if (sent.length === 0) return renew(startedAt);
  try {
    const held = await heartbeat(store, workerId, sent);
    renew(startedAt);
    const lost = sent.filter((t) => !held.has(t.id));
    if (lost.length > 0) port.postMessage({ type: "lost", tries: lost } satisfies FromHeartbeater);
  } catch (error) {
    if (stopped) return;
    const e = error as { message?: string; code?: unknown; fix?: unknown };
    port.postMessage({ type: "error", message: String(e.message ?? error), ...(typeof e.code === "string" ? { code: e.code } : {}), ...(typeof e.fix === "string" ? { fix: e.fix } : {}) } satisfies FromHeartbeater);
  }
};
const timer = setInterval(() => void beat(), intervalMs);
port.on("message", (message: ToHeartbeater) => {
  if (message.type === "tries") tries = message.tries;
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
