import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runDag, runTask } from "../../src/engine/index.ts";
import { useStores } from "./backends.ts";
import { makeDag, ok, ref } from "./fixtures/dags.ts";

describe("runTask (venvflow test)", () => {
  const stores = useStores("sqlite");
  const dag = () =>
    makeDag("pipeline", [
      { id: "extract", run: (ctx) => ok({ rows: ctx.params.rows }) },
      { id: "transform", upstream: ["extract"], xcomRefs: [ref("extract")], run: (ctx) => ok((ctx.pullXCom(ref("extract")) as { rows: number }).rows * 2) },
      { id: "pick", upstream: ["transform"], kind: "branch_python", run: () => ({ state: "success", branch: ["a"] }) },
      { id: "a", upstream: ["pick"] },
      { id: "b", upstream: ["pick"] },
    ], { params: { rows: 5 } });

  it("runs one task without its upstream, records nothing, and writes a log", async () => {
    const store = await stores.open();
    const r = await runTask(dag(), "extract", { store, home: stores.home, conf: { rows: 7 } });
    expect(r).toMatchObject({ state: "success", returnValue: { rows: 7 }, xcoms: { return_value: { rows: 7 } }, error: null });
    expect(await store.db.selectFrom("dag_run").selectAll().execute()).toEqual([]);
    expect(readFileSync(r.logPath, "utf8")).toMatch(/Testing pipeline\.extract[\s\S]*Task finished: SUCCESS/);
    expect(r.logPath).toMatch(/logs\/pipeline\/test__.*\/extract\.attempt=1\.log$/);
  });

  it("takes upstream XComs from the latest run", async () => {
    const store = await stores.open();
    await runDag(dag(), { store, home: stores.home, conf: { rows: 21 }, pollIntervalMs: 50 });
    const r = await runTask(dag(), "transform", { store, home: stores.home });
    expect(r).toMatchObject({ state: "success", returnValue: 42 });
    expect((await runTask(dag(), "pick", { store, home: stores.home })).skipTaskIds).toEqual(["b"]);
  });

  it("names the missing upstream results when there is no run, or the upstream did not succeed", async () => {
    await expect(runTask(dag(), "transform", { home: stores.home })).rejects.toMatchObject({
      code: "xcom_missing",
      message: expect.stringMatching(/needs upstream results "extract"\."return_value", but DAG "pipeline" has no run/),
    });
    const store = await stores.open();
    const broken = makeDag("pipeline", [
      { id: "extract", run: () => ({ state: "failed", error: { type: "E", message: "x" } }) },
      { id: "transform", upstream: ["extract"], xcomRefs: [ref("extract")] },
    ]);
    await runDag(broken, { store, home: stores.home, pollIntervalMs: 50 });
    await expect(runTask(broken, "transform", { store, home: stores.home })).rejects.toMatchObject({
      code: "xcom_missing",
      message: expect.stringMatching(/needs "extract"\."return_value" \(task failed\) from the latest run "manual__/),
    });
  });

  it("rejects an unknown task id, listing the real ones", async () => {
    await expect(runTask(dag(), "nope")).rejects.toMatchObject({ code: "task_not_found", fix: "use one of: extract, transform, pick, a, b" });
  });

  it("rejects pulling an XCom the task did not declare", async () => {
    const d = makeDag("undeclared", [{ id: "t", pull: [ref("other")], run: (ctx) => ok(ctx.pullXCom(ref("other"))) }]);
    const r = await runTask(d, "t", { home: stores.home });
    expect(r).toMatchObject({ state: "failed", error: { code: "xcom_ref_undeclared" } });
  });
});
