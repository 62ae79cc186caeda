import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SerializedDag, SerializedTask } from "../../src/dag/serialize.ts";
import { cancelRun, clearTaskInstances, markTaskInstances, setDagPaused, triggerStoredDag, validateConf, withRelatives } from "../../src/engine/operations.ts";
import { listImportErrors, listStoredDags, pausedDagIds, recordParse } from "../../src/engine/serialized-dags.ts";
import { openStore, type Store } from "../../src/store/index.ts";

const task = (taskId: string, upstream: string[], downstream: string[]): SerializedTask => ({
  taskId,
  kind: "bash",
  upstreamTaskIds: upstream,
  downstreamTaskIds: downstream,
  triggerRule: "all_success",
  retries: 1,
  retryDelayMs: 0,
  executionTimeoutMs: null,
  doc: null,
  multipleOutputs: false,
  mapping: null,
  callable: null,
  environment: null,
});

// a → b → c, a → d
const DAG: SerializedDag = {
  dagId: "ops",
  fileloc: "/dags/ops.ts",
  description: null,
  schedule: null,
  timezone: "UTC",
  startDate: null,
  endDate: null,
  catchup: false,
  maxActiveRuns: 16,
  maxActiveTasks: 16,
  params: { n: 1, name: "x", flags: [], anything: null },
  tags: [],
  dagrunTimeoutMs: null,
  tasks: [task("a", [], ["b", "d"]), task("b", ["a"], ["c"]), task("c", ["b"], []), task("d", ["a"], [])],
};

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-ops-"));
  store = await openStore(path.join(dir, "store.db"), { home: dir });
  await recordParse(store, { dags: [{ dag: DAG, source: "// ops" }], errors: [] });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const states = async (runId: string): Promise<Record<string, string>> =>
  Object.fromEntries((await store.db.selectFrom("task_instance").select(["task_id", "state"]).where("run_id", "=", runId).execute()).map((r) => [r.task_id, r.state]));

describe("engine operations", () => {
  it("walks downstream and upstream relatives in topological order", () => {
    expect(withRelatives(DAG, ["b"], {})).toEqual(["b"]);
    expect(withRelatives(DAG, ["b"], { downstream: true })).toEqual(["b", "c"]);
    expect(withRelatives(DAG, ["c"], { upstream: true })).toEqual(["a", "b", "c"]);
    expect(withRelatives(DAG, ["a"], { downstream: true })).toEqual(["a", "b", "c", "d"]);
    expect(() => withRelatives(DAG, ["zz"], {})).toThrow(/DAG "ops" has no task "zz"/);
  });

  it("checks conf values against the params' types", () => {
    expect(validateConf(DAG, { n: 2, name: "y", flags: [1], anything: { a: 1 }, extra: true })).toEqual({ n: 2, name: "y", flags: [1], anything: { a: 1 }, extra: true });
    expect(() => validateConf(DAG, { n: "2" })).toThrow(/param "n" of DAG "ops" is a number .* got string/);
    expect(() => validateConf(DAG, { flags: {} })).toThrow(/param "flags" of DAG "ops" is an array/);
    expect(() => validateConf(DAG, [1])).toThrow(/must be a JSON object, got array/);
  });

  it("clears, marks and cancels with guarded changes", async () => {
    const run = await triggerStoredDag(store, "ops", { runId: "r1" });
    expect(run.state).toBe("queued");
    await expect(triggerStoredDag(store, "ops", { runId: "r1" })).rejects.toThrow(/already has a run "r1"/);
    await expect(triggerStoredDag(store, "nope")).rejects.toMatchObject({ code: "dag_not_found" });

    expect(await markTaskInstances(store, "ops", "r1", ["a"], "success", { downstream: true })).toEqual(["a", "b", "c", "d"]);
    expect(await markTaskInstances(store, "ops", "r1", ["a"], "success")).toEqual([]);
    await store.db.updateTable("dag_run").set({ state: "success" }).where("run_id", "=", "r1").execute();
    await store.db.insertInto("xcom").values({ dag_id: "ops", run_id: "r1", task_id: "c", key: "return_value", value: "1", created_at: new Date().toISOString() }).execute();
    await store.db.updateTable("task_instance").set({ try_number: 2 }).where("task_id", "=", "c").execute();

    expect(await clearTaskInstances(store, "ops", "r1", ["b"], { downstream: true })).toEqual(["b", "c"]);
    // b's upstream succeeded: b is decided at once and queued; c waits for b.
    expect(await states("r1")).toEqual({ a: "success", b: "queued", c: "none", d: "success" });
    const c = await store.db.selectFrom("task_instance").selectAll().where("task_id", "=", "c").executeTakeFirstOrThrow();
    expect(c.max_tries).toBe(3); // two tries so far, plus its retries again
    expect(await store.db.selectFrom("xcom").selectAll().where("task_id", "=", "c").execute()).toEqual([]);
    expect((await store.db.selectFrom("dag_run").select("state").where("run_id", "=", "r1").executeTakeFirstOrThrow()).state).toBe("running");
    // Their upstream counters say what is done now (a succeeded; b was cleared), for the run's start to decide them.
    const counters = await store.db.selectFrom("task_instance").select(["task_id", "up_success"]).where("run_id", "=", "r1").where("task_id", "in", ["b", "c"]).orderBy("task_id").execute();
    expect(counters).toEqual([{ task_id: "b", up_success: 1 }, { task_id: "c", up_success: 0 }]);

    // Clearing in an active run leaves the run as it is.
    await store.db.updateTable("dag_run").set({ state: "running", started_at: "2026-01-01T00:00:00.000Z" }).where("run_id", "=", "r1").execute();
    await clearTaskInstances(store, "ops", "r1", ["d"]);
    expect(await store.db.selectFrom("dag_run").select(["state", "started_at"]).where("run_id", "=", "r1").executeTakeFirstOrThrow()).toEqual({ state: "running", started_at: "2026-01-01T00:00:00.000Z" });
    // …and decides the cleared task at once: its upstream a succeeded, so it is queued for a worker.
    expect((await states("r1")).d).toBe("queued");

    await store.db.updateTable("task_instance").set({ state: "running", locked_by: "w1" }).where("task_id", "=", "b").execute();
    expect(await cancelRun(store, "ops", "r1")).toEqual({ cancelled: true, state: "failed" });
    expect(await states("r1")).toEqual({ a: "success", b: "failed", c: "skipped", d: "skipped" });
    expect(await cancelRun(store, "ops", "r1")).toEqual({ cancelled: false, state: "failed" });
    await expect(cancelRun(store, "ops", "nope")).rejects.toMatchObject({ code: "run_not_found" });
  });

  it("marking settles the downstream and finishes the run when nothing is left", async () => {
    await triggerStoredDag(store, "ops", { runId: "m1" });
    await store.db.updateTable("dag_run").set({ state: "running", started_at: new Date().toISOString() }).where("run_id", "=", "m1").execute();
    expect(await markTaskInstances(store, "ops", "m1", ["a"], "failed")).toEqual(["a"]);
    expect(await states("m1")).toEqual({ a: "failed", b: "upstream_failed", c: "upstream_failed", d: "upstream_failed" });
    expect((await store.db.selectFrom("dag_run").select("state").where("run_id", "=", "m1").executeTakeFirstOrThrow()).state).toBe("failed");
    expect(await markTaskInstances(store, "ops", "m1", ["a"], "success")).toEqual(["a"]);
    // a's downstream was already decided (upstream_failed) and is left as it is, as in Airflow (mark with downstream,
    // or clear, to change it): nothing is unfinished, so the run is settled again at once, failed by its leaves.
    expect(await states("m1")).toEqual({ a: "success", b: "upstream_failed", c: "upstream_failed", d: "upstream_failed" });
    expect((await store.db.selectFrom("dag_run").select("state").where("run_id", "=", "m1").executeTakeFirstOrThrow()).state).toBe("failed");
    expect(await markTaskInstances(store, "ops", "m1", ["a"], "success", { downstream: true })).toEqual(["b", "c", "d"]);
    expect((await store.db.selectFrom("dag_run").select("state").where("run_id", "=", "m1").executeTakeFirstOrThrow()).state).toBe("success");
  });

  it("pauses, and keeps pause flags and a broken file's DAG across parses", async () => {
    expect(await setDagPaused(store, "ops", true)).toBe(true);
    expect(await setDagPaused(store, "ops", true)).toBe(false);
    await recordParse(store, { dags: [], errors: [{ file: "/dags/ops.ts", code: "dag_import_failed", message: "boom" }] });
    expect((await listStoredDags(store)).map((d) => [d.dag.dagId, d.paused])).toEqual([["ops", true]]);
    expect((await listImportErrors(store)).map((e) => e.message)).toEqual(["boom"]);
    expect(await pausedDagIds(store)).toEqual(new Set(["ops"]));
    // The file loads again, without the DAG: it is gone from the list, its history stays.
    await recordParse(store, { dags: [], errors: [] });
    expect(await listStoredDags(store)).toEqual([]);
    expect((await listStoredDags(store, { includeRemoved: true }))[0]?.removedAt).toMatch(/^\d{4}-/);
    await expect(setDagPaused(store, "nope", true)).rejects.toMatchObject({ code: "dag_not_found" });
  });
});
