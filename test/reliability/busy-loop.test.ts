/**
 * Issue #9.2: heartbeats do not wait for a free event loop. A TypeScript task that blocks the loop refreshes its
 * lock all the same (the heartbeater runs on a worker thread): read from another connection while it blocks.
 */
import BetterSqlite3 from "better-sqlite3";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dag, task } from "../../src/dag/index.ts";
import { runDag } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import { useStores } from "../engine/backends.ts";

describe("a task that keeps the event loop busy", () => {
  const stores = useStores("sqlite");

  it("keeps its lock fresh and is not swept, though the loop is blocked longer than the lock timeout", async () => {
    const file = path.join(stores.home, "busy.db");
    const store = await openStore(file, { home: stores.home });
    const seen: string[] = [];
    const d = dag("busy", {}, () => {
      task(function spin() {
        const reader = new BetterSqlite3(file, { readonly: true });
        const until = Date.now() + 2500;
        while (Date.now() < until) {
          const row = reader.prepare("select locked_at from task_instance where task_id = 'spin'").get() as { locked_at: string | null };
          if (row.locked_at && seen.at(-1) !== row.locked_at) seen.push(row.locked_at);
        }
        reader.close();
        return "done";
      })();
    });
    try {
      const s = await runDag(d, { store, home: stores.home, heartbeatIntervalMs: 200, lockTimeoutMs: 1000, pollIntervalMs: 50 });
      expect(s.tasks[0]).toMatchObject({ state: "success", tryNumber: 1, returnValue: "done" });
      // The claim's lock time, then refreshes every ~200 ms while the loop never yielded.
      expect(seen.length).toBeGreaterThanOrEqual(5);
      const gaps = seen.slice(1).map((t, i) => Date.parse(t) - Date.parse(seen[i]!));
      expect(Math.max(...gaps)).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  });
});
