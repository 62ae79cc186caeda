/**
 * Clearing or marking one instance of a mapped task (Airflow's clear / mark on a mapped task instance), on both
 * backends: only the chosen map indexes change, relatives asked for are taken whole, and a map index the task does
 * not have is refused with the indexes it has.
 */
import { describe, expect, it } from "vitest";
import { dag, PythonOperator, task } from "../../src/dag/index.ts";
import { serializeDag } from "../../src/dag/serialize.ts";
import { runDag, summarizeRun, Worker } from "../../src/engine/index.ts";
import { clearTaskInstances, markTaskInstances } from "../../src/engine/operations.ts";
import { recordParse } from "../../src/engine/serialized-dags.ts";
import type { Store } from "../../src/store/index.ts";
import { BACKENDS, useStores } from "./backends.ts";

const fast = { pollIntervalMs: 50, heartbeatIntervalMs: 200 };

function mapped() {
  return dag("clear_mapped", {}, () => {
    const doubled = PythonOperator.partial({ taskId: "double", pythonCallable: (x: number) => x * 2 }).expand({ opArgs: [[1], [2], [3]] });
    task(function total(xs: unknown[]) {
      return xs.reduce((a: number, b) => a + Number(b), 0);
    })(doubled);
    new PythonOperator({ taskId: "single", pythonCallable: () => 1 });
  });
}

const instances = async (store: Store, runId: string) =>
  Object.fromEntries(
    (await store.db.selectFrom("task_instance").select(["task_id", "map_index", "state", "try_number"]).where("run_id", "=", runId).execute()).map((r) => [
      `${r.task_id}${r.map_index >= 0 ? `[${r.map_index}]` : ""}`,
      `${r.state}/${r.try_number}`,
    ]),
  );

describe.each(BACKENDS)("one instance of a mapped task on %s", (backend) => {
  const stores = useStores(backend);

  it("clears only the chosen map index (and its downstream whole), which then runs again", async () => {
    const store = await stores.open();
    const d = mapped();
    await recordParse(store, { dags: [{ dag: serializeDag(d), source: "// test" }], errors: [] });
    const first = await runDag(d, { store, home: stores.home, workers: 4, ...fast });
    expect(first.state).toBe("success");

    const cleared = await clearTaskInstances(store, d.dagId, first.runId, ["double"], { mapIndexes: [1], downstream: true });
    expect(cleared).toEqual(["double", "total"]);
    // Decided at once: the cleared instance has no upstream, so it is queued; its downstream waits for it.
    expect(await instances(store, first.runId)).toMatchObject({ "double[0]": "success/1", "double[1]": "queued/1", "double[2]": "success/1", total: "none/1", single: "success/1" });
    // The other instances keep their results.
    const xcoms = await store.db.selectFrom("xcom").select(["task_id", "map_index"]).where("run_id", "=", first.runId).orderBy("task_id").orderBy("map_index").execute();
    expect(xcoms).toEqual([
      { task_id: "double", map_index: 0 },
      { task_id: "double", map_index: 2 },
      { task_id: "single", map_index: -1 },
    ]);

    const done = async () => (await store.db.selectFrom("dag_run").select("state").where("run_id", "=", first.runId).executeTakeFirstOrThrow()).state !== "running";
    await new Worker({ store, dags: [d], home: stores.home, ...fast }).run({ until: done });
    const again = await summarizeRun(store, d.dagId, first.runId, d);
    expect(again.state).toBe("success");
    expect(await instances(store, first.runId)).toMatchObject({ "double[0]": "success/1", "double[1]": "success/2", "double[2]": "success/1", total: "success/2" });
    expect(again.tasks.find((t) => t.taskId === "total")?.returnValue).toBe(12);
  });

  it("marks only the chosen map index, and refuses a map index the task does not have or an unmapped task's", async () => {
    const store = await stores.open();
    const d = mapped();
    await recordParse(store, { dags: [{ dag: serializeDag(d), source: "// test" }], errors: [] });
    const run = await runDag(d, { store, home: stores.home, workers: 4, ...fast });

    expect(await markTaskInstances(store, d.dagId, run.runId, ["double"], "failed", { mapIndexes: [2] })).toEqual(["double"]);
    expect(await instances(store, run.runId)).toMatchObject({ "double[0]": "success/1", "double[1]": "success/1", "double[2]": "failed/1" });

    await expect(clearTaskInstances(store, d.dagId, run.runId, ["double"], { mapIndexes: [7] })).rejects.toMatchObject({ code: "map_index_not_found", message: expect.stringContaining("no map index 7"), fix: "its map indexes are 0 to 2" });
    await expect(markTaskInstances(store, d.dagId, run.runId, ["single"], "success", { mapIndexes: [0] })).rejects.toMatchObject({ code: "map_index_not_found", fix: expect.stringContaining("not mapped") });
    // Nothing changed by the refused requests.
    expect(await instances(store, run.runId)).toMatchObject({ "double[2]": "failed/1", single: "success/1" });
  });
});
