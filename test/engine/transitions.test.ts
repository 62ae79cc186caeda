/** Each transition is guarded by the state it leaves: a loser of a race changes nothing. */
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { heartbeat } from "../../src/engine/heartbeat.ts";
import { claimTasks, createRun, endTries, failTask, requeueLostTasks, retryTask, succeedTask, failRun } from "../../src/engine/transitions.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { Redactor } from "../../src/util/secrets.ts";
import { BACKENDS, useStores } from "./backends.ts";
import { makeDag } from "./fixtures/dags.ts";

const DAG = makeDag("d", [{ id: "t" }]);

async function oneClaimed(store: Store, retries = 1) {
  const at = new Date();
  const run = await store.writeTransaction((trx) => createRun(trx, { dagId: "d", runId: "r", runType: "manual", logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, conf: {}, tasks: [{ taskId: "t", retries }] }));
  await store.db.updateTable("dag_run").set({ state: "running", started_at: at.toISOString() }).execute();
  await store.db.updateTable("task_instance").set({ state: "queued", queued_at: at.toISOString() }).execute();
  const [ti] = await claimTasks(store, { workerId: "w1", hostname: "h", dagIds: ["d"], limit: 1, logsRoot: "/tmp/logs" });
  return { run: { ...run, state: "running" as const }, ti: ti! };
}

const tiRow = (store: Store) => store.db.selectFrom("task_instance").selectAll().executeTakeFirstOrThrow();

describe.each(BACKENDS)("transitions on %s", (backend) => {
  const stores = useStores(backend);

  it("a try swept as lost cannot then succeed: no state change, no XCom", async () => {
    const store = await stores.open();
    const { ti } = await oneClaimed(store);
    await new Promise((r) => setTimeout(r, 5));
    expect((await requeueLostTasks(store, [DAG], 0)).map((c) => c.state)).toEqual(["queued"]);
    expect((await succeedTask(store, DAG, ti, { xcoms: new Map([["return_value", 1]]), skipTaskIds: [], redactor: new Redactor() })).applied).toBe(false);
    expect((await failTask(store, DAG, ti, { type: "E", message: "late" })).applied).toBe(false);
    expect(await heartbeat(store, "w1", [{ id: ti.id, tryNumber: ti.try_number }])).toEqual(new Set());
    expect(await tiRow(store)).toMatchObject({ state: "queued", locked_by: null, try_number: 1 });
    expect(await store.db.selectFrom("xcom").selectAll().execute()).toEqual([]);
    // The next claim is try 2, by whoever takes it.
    const [again] = await claimTasks(store, { workerId: "w2", hostname: "h", dagIds: ["d"], limit: 1, logsRoot: "/tmp/logs" });
    expect(again).toMatchObject({ try_number: 2, locked_by: "w2", error: null });
  });

  it("a hung worker's old try is fenced by its try number even when the same worker claimed the task again", async () => {
    const store = await stores.open();
    const { ti } = await oneClaimed(store);
    await new Promise((r) => setTimeout(r, 5));
    await requeueLostTasks(store, [DAG], 0);
    const [again] = await claimTasks(store, { workerId: "w1", hostname: "h", dagIds: ["d"], limit: 1, logsRoot: "/tmp/logs" });
    expect(again).toMatchObject({ try_number: 2, locked_by: "w1" });
    // The heartbeat of try 1 reports it lost (its row is try 2's); try 2's is held.
    expect(await heartbeat(store, "w1", [{ id: ti.id, tryNumber: 1 }])).toEqual(new Set());
    expect(await heartbeat(store, "w1", [{ id: ti.id, tryNumber: 2 }])).toEqual(new Set([ti.id]));
    // Try 1's late completion changes nothing: try 2 is still running.
    expect((await succeedTask(store, DAG, ti, { xcoms: new Map([["return_value", "stale"]]), skipTaskIds: [], redactor: new Redactor() })).applied).toBe(false);
    expect(await tiRow(store)).toMatchObject({ state: "running", try_number: 2, locked_by: "w1" });
    expect(await store.db.selectFrom("xcom").selectAll().execute()).toEqual([]);
  });

  it("a try of a timed-out run cannot be retried or succeed", async () => {
    const store = await stores.open();
    const { run, ti } = await oneClaimed(store);
    expect((await failRun(store.db, run)).running).toEqual([ti.id]);
    expect((await retryTask(store, DAG, ti, { type: "E", message: "x" }, 0)).applied).toBe(false);
    expect((await succeedTask(store, DAG, ti, { xcoms: new Map(), skipTaskIds: [], redactor: new Redactor() })).applied).toBe(false);
    expect(await tiRow(store)).toMatchObject({ state: "skipped" });
    expect((await store.db.selectFrom("dag_run").select("state").executeTakeFirstOrThrow()).state).toBe("failed");
  });

  it("ends a batch of tries in one statement: each its own state, error and retry time; one lost to another worker is left alone", async () => {
    const store = await stores.open();
    const wide = makeDag("b", ["ok", "bad", "again", "lost"].map((id) => ({ id, retries: 1 })));
    const at = new Date();
    await store.writeTransaction((trx) => createRun(trx, { dagId: "b", runId: "r", runType: "manual", logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, conf: {}, tasks: ["ok", "bad", "again", "lost"].map((taskId) => ({ taskId, retries: 1 })) }));
    await store.db.updateTable("dag_run").set({ state: "running", started_at: at.toISOString() }).execute();
    await store.db.updateTable("task_instance").set({ state: "queued", queued_at: at.toISOString() }).execute();
    const claimed = await claimTasks(store, { workerId: "w1", hostname: "h", dagIds: ["b"], limit: 4, logsRoot: "/tmp/logs" });
    const byTask = new Map(claimed.map((ti) => [ti.task_id, ti]));
    // "lost" was swept and claimed again by w2 meanwhile: w1's outcome for it must not apply.
    await store.db.updateTable("task_instance").set({ locked_by: "w2", try_number: 2 }).where("task_id", "=", "lost").execute();
    const { results } = await endTries(store, wide, [
      { ti: byTask.get("ok")!, state: "success", xcoms: new Map([["return_value", 7]]), skipTaskIds: [], redactor: new Redactor() },
      // Durations differ per row (a CASE of integers, which PostgreSQL must be told are integers).
      { ti: { ...byTask.get("bad")!, started_at: new Date(Date.parse(byTask.get("bad")!.started_at!) - 5000).toISOString() }, state: "failed", error: { type: "E", message: "bad" } },
      { ti: byTask.get("again")!, state: "up_for_retry", error: { type: "E", message: "again" }, delayMs: 60_000 },
      { ti: byTask.get("lost")!, state: "success", xcoms: new Map([["return_value", 1]]), skipTaskIds: [], redactor: new Redactor() },
    ]);
    expect(results.map((r) => r.applied)).toEqual([true, true, true, false]);
    const rows = new Map((await store.db.selectFrom("task_instance").selectAll().execute()).map((r) => [r.task_id, r]));
    expect(rows.get("ok")).toMatchObject({ state: "success", error: null, next_retry_at: null, locked_by: null });
    expect(JSON.parse(rows.get("bad")!.error!)).toEqual({ type: "E", message: "bad" });
    expect(rows.get("bad")!.state).toBe("failed");
    expect(rows.get("again")).toMatchObject({ state: "up_for_retry", next_retry_at: results[2]!.nextRetryAt });
    expect(Date.parse(rows.get("again")!.next_retry_at!) - Date.parse(rows.get("again")!.ended_at!)).toBe(60_000);
    expect(rows.get("lost")).toMatchObject({ state: "running", locked_by: "w2", try_number: 2 });
    expect(rows.get("bad")!.duration_ms).toBeGreaterThanOrEqual(5000);
    for (const id of ["ok", "again"]) expect(rows.get(id)!.duration_ms).toBeLessThan(5000);
    const tries = await store.db.selectFrom("task_try").select(["task_id", "state"]).orderBy("task_id").execute();
    expect(tries).toEqual([{ task_id: "again", state: "up_for_retry" }, { task_id: "bad", state: "failed" }, { task_id: "ok", state: "success" }]);
    expect(await store.db.selectFrom("xcom").select(["task_id", "value"]).execute()).toEqual([{ task_id: "ok", value: "7" }]);
  });

  it("ends a second try in a batch: its results replace the first try's, and both tries are recorded", async () => {
    const store = await stores.open();
    const d = makeDag("c", [{ id: "t", retries: 1 }]);
    const at = new Date();
    await store.writeTransaction((trx) => createRun(trx, { dagId: "c", runId: "r", runType: "manual", logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, conf: {}, tasks: [{ taskId: "t", retries: 1 }] }));
    await store.db.updateTable("dag_run").set({ state: "running", started_at: at.toISOString() }).execute();
    const requeue = () => store.db.updateTable("task_instance").set({ state: "queued", queued_at: new Date().toISOString() }).execute();
    const success = (value: number) => ({ state: "success" as const, xcoms: new Map([["return_value", value]]), skipTaskIds: [], redactor: new Redactor() });
    await requeue();
    const [first] = await claimTasks(store, { workerId: "w1", hostname: "h", dagIds: ["c"], limit: 1, logsRoot: "/tmp/logs" });
    expect((await endTries(store, d, [{ ti: first!, ...success(1) }])).results[0]!.applied).toBe(true);
    // Cleared and run again: try 2.
    await requeue();
    const [second] = await claimTasks(store, { workerId: "w1", hostname: "h", dagIds: ["c"], limit: 1, logsRoot: "/tmp/logs" });
    expect(second!.try_number).toBe(2);
    expect((await endTries(store, d, [{ ti: second!, ...success(2) }])).results[0]!.applied).toBe(true);
    expect(await store.db.selectFrom("xcom").select(["key", "value"]).execute()).toEqual([{ key: "return_value", value: "2" }]);
    expect(await store.db.selectFrom("task_try").select(["try_number", "state"]).orderBy("try_number").execute()).toEqual([
      { try_number: 1, state: "success" },
      { try_number: 2, state: "success" },
    ]);
  });

  it("only the claiming worker's heartbeat refreshes the lock", async () => {
    const store = await stores.open();
    const { ti } = await oneClaimed(store);
    expect(await heartbeat(store, "someone_else", [{ id: ti.id, tryNumber: ti.try_number }])).toEqual(new Set());
    expect(await heartbeat(store, "w1", [{ id: ti.id, tryNumber: ti.try_number }])).toEqual(new Set([ti.id]));
    expect((await succeedTask(store, DAG, ti, { xcoms: new Map([["return_value", { ok: true }]]), skipTaskIds: [], redactor: new Redactor() })).applied).toBe(true);
    expect((await succeedTask(store, DAG, ti, { xcoms: new Map(), skipTaskIds: [], redactor: new Redactor() })).applied).toBe(false);
    const xcom = await store.db.selectFrom("xcom").select(["key", "value"]).execute();
    expect(xcom).toEqual([{ key: "return_value", value: '{"ok":true}' }]);
  });
});

describe("the sweeper on sqlite", () => {
  const stores = useStores("sqlite");

  it("leaves a try whose worker refreshed its lock between the sweep's read and its write", async () => {
    const url = await stores.newUrl();
    const setup = await openStore(url, { home: stores.home });
    await oneClaimed(setup);
    await new Promise((r) => setTimeout(r, 20));
    // The worker resumes right after the sweeper read its lock as stale: its heartbeat lands before the sweep writes.
    const resumed = new BetterSqlite3(url);
    const sweeper = await openStore(url, {
      home: stores.home,
      onQuery: (sql) => {
        if (sql.includes('"locked_at" <') && sql.startsWith("select")) resumed.prepare("update task_instance set locked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 second')").run();
      },
    });
    try {
      expect(await requeueLostTasks(sweeper, [DAG], 10)).toEqual([]);
      expect(await tiRow(setup)).toMatchObject({ state: "running", try_number: 1, locked_by: "w1" });
    } finally {
      resumed.close();
      await sweeper.close();
      await setup.close();
    }
  });
});
