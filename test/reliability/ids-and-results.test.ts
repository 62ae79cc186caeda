/**
 * Issue #9.8: ids "." and ".." are refused, and no path built from ids leaves VENVFLOW_HOME.
 * Issue #9.14 (TypeScript side): a TS task's result follows the rules a Python result does — JSON data only
 * (no NaN/±Infinity, Map, Set, class instance, function or undefined silently changed or dropped), within the
 * same size cap.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dag, EmptyOperator, task } from "../../src/dag/index.ts";
import { runDag, triggerRun } from "../../src/engine/index.ts";
import { taskLogPath } from "../../src/runtime/logs.ts";
import { useStores } from "../engine/backends.ts";

describe("ids that would lead paths out of VENVFLOW_HOME", () => {
  const stores = useStores("sqlite");

  it("refuses DAG, task and run ids '.' and '..', and writes nothing above the home", async () => {
    for (const id of [".", ".."]) {
      expect(() => dag(id, {}, () => {})).toThrow(expect.objectContaining({ code: "invalid_dag_id", fix: expect.stringContaining('not "." or ".."') }));
      expect(() => dag("ok", {}, () => void new EmptyOperator({ taskId: id }))).toThrow(expect.objectContaining({ code: "invalid_task_id" }));
    }
    const d = dag("paths", {}, () => void new EmptyOperator({ taskId: "t" }));
    const store = await stores.open();
    for (const runId of [".", ".."]) await expect(triggerRun(store, d, { runId })).rejects.toMatchObject({ code: "invalid_run_id" });
    expect(() => taskLogPath(stores.home, "paths", "..", "..", 1)).toThrow(expect.objectContaining({ code: "invalid_path_id" }));
    // Dots inside an id stay legal (Airflow allows them), and stay inside the logs folder.
    const s = await runDag(dag("a.b", {}, () => void new EmptyOperator({ taskId: "c..d" })), { store, home: stores.home, runId: "x..y" });
    expect(s.state).toBe("success");
    expect(path.relative(path.join(stores.home, "logs"), s.tasks[0]!.logPath!).startsWith("..")).toBe(false);
    expect(readdirSync(path.dirname(stores.home)).filter((f) => f === "logs")).toEqual([]);
  });
});

describe("TypeScript task results follow the Python result rules", () => {
  const stores = useStores("sqlite");
  const saved = process.env.VENVFLOW_MAX_RESULT_BYTES;
  afterEach(() => {
    if (saved === undefined) delete process.env.VENVFLOW_MAX_RESULT_BYTES;
    else process.env.VENVFLOW_MAX_RESULT_BYTES = saved;
  });

  it("fails NaN, Infinity, Map, Set, Date, functions and oversized results, naming where; undefined stays absent", async () => {
    process.env.VENVFLOW_MAX_RESULT_BYTES = "1000";
    const cases: Record<string, () => unknown> = {
      nan: () => ({ ratio: Number.NaN }),
      inf: () => [1, Number.POSITIVE_INFINITY],
      map: () => new Map([["a", 1]]),
      set: () => ({ tags: new Set(["x"]) }),
      date: () => new Date(0),
      fn: () => ({ callback: () => 1 }),
      absent: () => ({ missing: undefined, kept: 1 }),
      big: () => "x".repeat(2000),
      fine: () => ({ n: 1.5, list: [null, true, "s"], nested: { ok: 1 } }),
    };
    const d = dag("ts_results", {}, () => {
      for (const [id, fn] of Object.entries(cases)) task({ taskId: id }, fn)();
    });
    const s = await runDag(d, { store: await stores.open(), home: stores.home, workers: 4 });
    const error = (id: string) => s.tasks.find((t) => t.taskId === id)!.error;
    expect(error("nan")).toMatchObject({ code: "xcom_not_serializable", message: expect.stringContaining("the result.ratio is NaN (JSON has no NaN or Infinity)") });
    expect(error("inf")!.message).toContain("the result[1] is Infinity");
    expect(error("map")!.message).toContain("the result is a Map");
    expect(error("set")!.message).toContain("the result.tags is a Set");
    expect(error("date")!.message).toContain("the result is a Date");
    expect(error("fn")!.message).toContain("the result.callback is a function");
    expect(s.tasks.find((t) => t.taskId === "absent")).toMatchObject({ state: "success", returnValue: { kept: 1 } });
    expect(error("big")).toMatchObject({ code: "result_too_large", message: expect.stringContaining("over the 1000-byte limit"), fix: expect.stringContaining("VENVFLOW_MAX_RESULT_BYTES") });
    expect(s.tasks.find((t) => t.taskId === "fine")).toMatchObject({ state: "success", returnValue: { n: 1.5, list: [null, true, "s"], nested: { ok: 1 } } });
    expect(existsSync(stores.home)).toBe(true);
  });
});
