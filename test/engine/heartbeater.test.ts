/**
 * The heartbeat thread (src/engine/heartbeater.ts): kept for the next worker once one stops, it must then serve that
 * worker's store and tries, not the last one's.
 */
import { describe, expect, it } from "vitest";
import { startHeartbeater } from "../../src/engine/heartbeater.ts";
import { claimTasks, createRun } from "../../src/engine/transitions.ts";
import type { HeldTry } from "../../src/engine/heartbeat.ts";
import type { Store } from "../../src/store/index.ts";
import { eventually } from "../support/eventually.ts";
import { BACKENDS, useStores } from "./backends.ts";

async function claimedTry(store: Store, workerId: string): Promise<HeldTry> {
  const at = new Date("2026-01-01T00:00:00Z");
  await store.writeTransaction((trx) => createRun(trx, { dagId: "d", runId: "r", runType: "manual", logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, conf: {}, tasks: [{ taskId: "t", retries: 0 }] }));
  await store.db.updateTable("dag_run").set({ state: "running", started_at: at.toISOString() }).execute();
  await store.db.updateTable("task_instance").set({ state: "queued", queued_at: at.toISOString() }).execute();
  const [ti] = await claimTasks(store, { workerId, hostname: "h", dagIds: ["d"], limit: 1, logsRoot: "/tmp/logs" });
  // An old lock: only a heartbeat makes it new again.
  await store.db.updateTable("task_instance").set({ locked_at: "2000-01-01T00:00:00.000Z" }).execute();
  return { id: ti!.id, tryNumber: ti!.try_number };
}

const lockedAt = async (store: Store): Promise<string | null> => (await store.db.selectFrom("task_instance").select("locked_at").executeTakeFirstOrThrow()).locked_at;

describe.each(BACKENDS)("the heartbeat thread on %s", (backend) => {
  const stores = useStores(backend);

  it("serves one worker after another, each on its own store, and reports the next one's lost tries", async () => {
    const [first, second] = [await stores.open(), await stores.open()];
    const one = await claimedTry(first, "w1");
    const a = startHeartbeater({ store: first, workerId: "w1", intervalMs: 30, onLost: () => undefined, onError: () => undefined });
    try {
      await a.started;
      a.setTries([one]);
      expect(await eventually(async () => (await lockedAt(first))! > "2001")).toBe(true);
    } finally {
      await a.stop();
    }

    const two = await claimedTry(second, "w2");
    const lost: HeldTry[][] = [];
    const errors: unknown[] = [];
    const b = startHeartbeater({ store: second, workerId: "w2", intervalMs: 30, onLost: (tries) => lost.push(tries), onError: (error) => errors.push(error) });
    try {
      await b.started;
      b.setTries([two]);
      expect(await eventually(async () => (await lockedAt(second))! > "2001")).toBe(true);
      // The first store is left alone now: its lock stays as the test sets it.
      await first.db.updateTable("task_instance").set({ locked_at: "2000-01-01T00:00:00.000Z" }).execute();
      // A try this worker does not hold is reported lost to this worker.
      const foreign = { id: "not-claimed-here", tryNumber: 1 };
      b.setTries([two, foreign]);
      expect(await eventually(async () => lost.length > 0)).toBe(true);
      expect(lost[0]).toEqual([foreign]);
    } finally {
      await b.stop();
    }
    expect(errors).toEqual([]);
    expect(await lockedAt(first)).toBe("2000-01-01T00:00:00.000Z");
  });
});

describe("a heartbeat thread that cannot reach its store", () => {
  it("fails the worker through onError, with the store's password redacted, and stops cleanly", async () => {
    const errors: unknown[] = [];
    // Nothing listens on port 1: the thread's connection is refused at its first beat.
    const store = { target: "postgresql://venvflow:hunter2secret@127.0.0.1:1/none" } as Store;
    const beating = startHeartbeater({ store, workerId: "w", intervalMs: 30, onLost: () => undefined, onError: (error) => errors.push(error) });
    beating.setTries([{ id: "ti", tryNumber: 1 }]);
    expect(await eventually(async () => errors.length > 0)).toBe(true);
    await beating.stop();
    const message = String((errors[0] as Error).message);
    expect(message).toMatch(/heartbeat failed/);
    expect(message).not.toContain("hunter2secret");
  });
});

describe("the tries board", () => {
  it("hands the last list published to the reader, and says when a list too long for it went as a message", async () => {
    const { TriesBoard } = await import("../../src/engine/heartbeater.ts");
    const board = new TriesBoard(new SharedArrayBuffer(8 + 64));
    const reader = new TriesBoard(board.buffer);
    expect(board.publish([{ id: "a", tryNumber: 1 }])).toBe(true);
    expect(board.publish([{ id: "b", tryNumber: 2 }])).toBe(true);
    expect(reader.read()).toEqual([{ id: "b", tryNumber: 2 }]);
    expect(board.publish(Array.from({ length: 5 }, (_, i) => ({ id: `task-instance-${i}`, tryNumber: 1 })))).toBe(false);
    expect(reader.read()).toBeNull();
  });
});
