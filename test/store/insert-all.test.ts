/**
 * adapter.insertAll: several tables' rows in one statement on PostgreSQL (its rows as one JSON parameter per table),
 * one insert a table on SQLite. What goes in comes back exactly: quotes, backslashes, newlines, non-ASCII text,
 * JSON-looking text, nulls and integers.
 */
import { describe, expect, it } from "vitest";
import { createRun } from "../../src/engine/transitions.ts";
import { BACKENDS, useStores } from "../engine/backends.ts";

const TRICKY = ["it's \"quoted\"", "back\\slash \\n not a newline", "two\nlines\ttab", "ünïcødé 漢字 🐍", '{"looks": ["like", "json"]}', ""];

describe.each(BACKENDS)("insertAll on %s", (backend) => {
  const stores = useStores(backend);

  it("stores every row of every table as given, and nothing for a table without rows", async () => {
    const store = await stores.open();
    const at = new Date("2026-01-01T00:00:00Z");
    await store.writeTransaction((trx) => createRun(trx, { dagId: "d", runId: "r", runType: "manual", logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, conf: {}, tasks: [{ taskId: "t", retries: 0 }] }));
    const tries = TRICKY.map((text, i) => ({
      dag_id: "d", run_id: "r", task_id: "t", map_index: i - 1, try_number: 1, state: "failed" as const, started_at: null, ended_at: at.toISOString(),
      duration_ms: i * 1000, worker: text, hostname: null, error: text, log_path: `/logs/${text}`,
    }));
    const xcoms = TRICKY.map((text, i) => ({ dag_id: "d", run_id: "r", task_id: "t", map_index: i - 1, key: `k${i}`, value: JSON.stringify(text), display_value: i % 2 ? null : text, created_at: at.toISOString() }));
    await store.writeTransaction((trx) => store.adapter.insertAll(trx, [{ table: "task_try", rows: tries }, { table: "xcom", rows: xcoms }, { table: "task_try", rows: [] }]));
    expect(await store.db.selectFrom("task_try").selectAll().orderBy("map_index").execute()).toEqual(tries);
    expect(await store.db.selectFrom("xcom").select(["dag_id", "run_id", "task_id", "map_index", "key", "value", "display_value", "created_at"]).orderBy("map_index").execute()).toEqual(xcoms);
    await store.writeTransaction((trx) => store.adapter.insertAll(trx, [{ table: "xcom", rows: [] }]));
    expect(await store.db.selectFrom("xcom").select("key").execute()).toHaveLength(TRICKY.length);
  });
});
