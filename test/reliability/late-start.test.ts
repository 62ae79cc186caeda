/**
 * Issue #9.1: a try is claimed, then its worker does not run for a while before starting it (the event loop was
 * blocked between the claim and the start, so the heartbeat thread never heard of the try) and a sweeper takes the
 * try meanwhile. The worker must not start it: the retry may already run elsewhere.
 */
import BetterSqlite3 from "better-sqlite3";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dag, PythonOperator, type TaskContext } from "../../src/dag/index.ts";
import { runDag } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import { useStores } from "../engine/backends.ts";

describe("a try whose worker stalled between claiming and starting it", () => {
  const stores = useStores("sqlite");

  it("is not started when its lock was swept meanwhile; its next try runs once", async () => {
    const file = path.join(stores.home, "late.db");
    const sweeper = new BetterSqlite3(file);
    let stalled = false;
    const store = await openStore(file, {
      home: stores.home,
      onQuery: (sql) => {
        if (stalled || !sql.includes("try_number + 1")) return;
        stalled = true;
        // The claim is committed; the worker now stalls past a heartbeat and a sweeper requeues the try.
        const until = Date.now() + 800;
        while (Date.now() < until);
        sweeper.prepare("update task_instance set state = 'queued', locked_by = null, locked_at = null where state = 'running'").run();
      },
    });
    const ran: number[] = [];
    const d = dag("late", {}, () => {
      new PythonOperator({
        taskId: "once",
        retries: 1,
        retryDelay: 0,
        pythonCallable: (ctx: TaskContext) => {
          ran.push(ctx.tryNumber);
          return "done";
        },
      });
    });
    try {
      const s = await runDag(d, { store, home: stores.home, heartbeatIntervalMs: 200, lockTimeoutMs: 5000, pollIntervalMs: 50 });
      expect(stalled).toBe(true);
      expect(s.tasks[0]).toMatchObject({ state: "success", tryNumber: 2, returnValue: "done" });
      // Try 1 never ran: only try 2 did.
      expect(ran).toEqual([2]);
      expect(readFileSync(s.tasks[0]!.logPath!.replace("attempt=2", "attempt=1"), "utf8")).toContain("Try 1 not started");
    } finally {
      sweeper.close();
      await store.close();
    }
  });
});
