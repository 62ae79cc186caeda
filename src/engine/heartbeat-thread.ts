/**
 * The heartbeater, on a worker thread with its own database connection: a task that keeps the main event loop
 * busy (a long synchronous TypeScript function) no longer stops its worker's heartbeats, so its try is not swept
 * as lost while it runs (issue #9, measured: a 70 s busy loop was swept twice). It refreshes the locks of the tries
 * the main thread gives it, reports the ones it no longer holds, and renews the fence's lease. A thread serves one
 * worker at a time (`start` … `stop`) and is then kept for the next one (heartbeater.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import { openStore, type Store } from "../store/index.ts";
import { monotonicMs, renewLease, type Lease } from "./fence.ts";
import { heartbeat, type HeldTry } from "./heartbeat.ts";
import { TriesBoard } from "./heartbeater.ts";

/** What one worker asks of the thread, from `start` to `stop`. */
export interface HeartbeatJob {
  /** The store's URL or file, unredacted (it connects with it; it never prints it). */
  target: string;
  workerId: string;
  intervalMs: number;
  /** The lease this thread renews for the fence (fence.ts). */
  lease?: Lease;
}

export type ToHeartbeater = { type: "start"; job: HeartbeatJob } | { type: "tries"; tries: HeldTry[] } | { type: "stop" };
export type FromHeartbeater =
  | { type: "ready" }
  | { type: "started" }
  | { type: "stopped" }
  | { type: "lost"; tries: HeldTry[] }
  | { type: "error"; message: string; code?: string; fix?: string };

const port = parentPort!;
const board = new TriesBoard((workerData as { board: SharedArrayBuffer }).board);

/** One worker's heartbeats: its store connection, its tries, its timer. */
class Beating {
  private readonly job: HeartbeatJob;
  private readonly store: Store;
  private tries: HeldTry[] = [];
  private beating: Promise<void> | null = null;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  constructor(job: HeartbeatJob, store: Store) {
    this.job = job;
    this.store = store;
    this.renew(monotonicMs());
    this.timer = setInterval(() => void this.beat(), job.intervalMs);
  }

  /** Tries too many for the board (heartbeater.ts TriesBoard). */
  setTries(tries: HeldTry[]): void {
    this.tries = tries;
  }

  /** The beat in flight finishes first: closing under it would report a closed connection as a failure. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.resolve(this.beating);
    await this.store.close();
  }

  /** The lease is the start of the last round that succeeded: never younger than a lock that round refreshed. */
  private renew(at: number): void {
    try {
      if (this.job.lease) renewLease(this.job.lease, at);
    } catch {
      // a full or read-only temp directory: the lease ages, and the fence acts as if this thread hung
    }
  }

  private beat(): Promise<void> {
    return (this.beating ??= this.beatOnce().finally(() => (this.beating = null)));
  }

  private async beatOnce(): Promise<void> {
    if (this.stopped) return;
    const startedAt = monotonicMs();
    const sent = board.read() ?? this.tries;
    if (sent.length === 0) return this.renew(startedAt);
    try {
      const held = await heartbeat(this.store, this.job.workerId, sent);
      this.renew(startedAt);
      const lost = sent.filter((t) => !held.has(t.id));
      if (lost.length > 0) port.postMessage({ type: "lost", tries: lost } satisfies FromHeartbeater);
    } catch (error) {
      if (!this.stopped) port.postMessage(errorMessage(error));
    }
  }
}

function errorMessage(error: unknown): FromHeartbeater {
  const e = error as { message?: string; code?: unknown; fix?: unknown };
  return { type: "error", message: String(e.message ?? error), ...(typeof e.code === "string" ? { code: e.code } : {}), ...(typeof e.fix === "string" ? { fix: e.fix } : {}) };
}

let current: Beating | null = null;
// Messages are handled one at a time, in order: a `stop` completes before the next worker's `start`.
let queue: Promise<void> = Promise.resolve();
port.on("message", (message: ToHeartbeater) => {
  queue = queue.then(async () => {
    if (message.type === "tries") {
      current?.setTries(message.tries);
    } else if (message.type === "start") {
      try {
        current = new Beating(message.job, await openStore(message.job.target, { migrate: false, poolSize: 1 }));
        port.postMessage({ type: "started" } satisfies FromHeartbeater);
      } catch (error) {
        port.postMessage(errorMessage(error));
      }
    } else {
      await current?.stop().catch(() => undefined);
      current = null;
      port.postMessage({ type: "stopped" } satisfies FromHeartbeater);
    }
  });
});
port.postMessage({ type: "ready" } satisfies FromHeartbeater);
