/** Dynamic task mapping with Airflow's semantics, on both backends. */
import { describe, expect, it } from "vitest";
import { BashOperator, dag, EmptyOperator, PythonOperator, task } from "../../src/dag/index.ts";
import type { DagDefinition } from "../../src/dag/model.ts";
import { findTaskLog, runDag, type RunSummary } from "../../src/engine/index.ts";
import { findPython } from "../../src/env/index.ts";
import { readLogLines } from "../../src/runtime/logs.ts";
import { BACKENDS, useStores } from "./backends.ts";

const fast = { pollIntervalMs: 50, heartbeatIntervalMs: 200 };
const states = (s: RunSummary): string[] => s.tasks.map((t) => `${t.taskId}${t.mapIndex >= 0 ? `[${t.mapIndex}]` : ""}:${t.state}`);
const returned = (s: RunSummary, taskId: string): unknown => s.tasks.find((t) => t.taskId === taskId)?.returnValue;

describe.each(BACKENDS)("dynamic task mapping on %s", (backend) => {
  const stores = useStores(backend);
  const run = async (d: DagDefinition, workers = 4) => runDag(d, { store: await stores.open(), home: stores.home, workers, ...fast });

  it("maps an operator over a literal list and hands downstream the results in map-index order", async () => {
    const d = dag("map_literal", {}, () => {
      const doubled = PythonOperator.partial({ taskId: "double", pythonCallable: async (x: number) => {
        await new Promise((r) => setTimeout(r, (5 - x) * 5));
        return x * 2;
      } }).expand({ opArgs: [[1], [2], [3], [4]] });
      task(function total(xs: unknown[]) {
        return xs;
      })(doubled);
    });
    const s = await run(d);
    expect(s.state).toBe("success");
    expect(states(s)).toEqual(["double[0]:success", "double[1]:success", "double[2]:success", "double[3]:success", "total:success"]);
    expect(returned(s, "total")).toEqual([2, 4, 6, 8]);
  });

  it("maps TaskFlow calls over an upstream's result, with partial() and a cross product", async () => {
    const d = dag("map_flow", {}, () => {
      const nums = task(function nums() {
        return [1, 2, 3];
      })();
      const add = task(function add(a: number, b: number) {
        return a + b;
      });
      const collect = task(function collect(xs: number[]) {
        return xs;
      });
      collect.override({ taskId: "partial" })(add.partial(10).expand(nums));
      collect.override({ taskId: "product" })(add.override({ taskId: "pairs" }).expand([1, 2], [10, 20]));
      collect.override({ taskId: "kwargs" })(add.override({ taskId: "rows" }).expandKwargs([[1, 1], [2, 2]]));
    });
    const s = await run(d);
    expect(s.state).toBe("success");
    expect(returned(s, "partial")).toEqual([11, 12, 13]);
    expect(returned(s, "product")).toEqual([11, 21, 12, 22]);
    expect(returned(s, "kwargs")).toEqual([2, 4]);
  });

  it("skips a task mapped over an empty list, and its downstream by trigger rule", async () => {
    const d = dag("map_empty", {}, () => {
      const none = task(function none(): number[] {
        return [];
      })();
      const each = task(function each(x: number) {
        return x;
      }).expand(none);
      each.setDownstream(new EmptyOperator({ taskId: "strict" }));
      each.setDownstream(new EmptyOperator({ taskId: "lenient", triggerRule: "all_done" }));
    });
    const s = await run(d);
    expect(states(s)).toEqual(["none:success", "each:skipped", "strict:skipped", "lenient:success"]);
    expect(s.state).toBe("success");
  });

  it("fails the task whose result cannot be mapped (not a list, or longer than maxMapLength), with a clear error", async () => {
    const d = dag("map_bad", { maxMapLength: 3 }, () => {
      const many = task(function many() {
        return [1, 2, 3, 4];
      })();
      const one = task(function one() {
        return 7;
      })();
      const each = task(function each(x: number) {
        return x;
      });
      each.expand(many);
      each.expand(one);
    });
    const s = await run(d);
    const byId = new Map(s.tasks.map((t) => [t.taskId, t]));
    expect(byId.get("many")!.error).toMatchObject({ code: "map_length_exceeded", message: expect.stringContaining("cannot map over 4 items: more than maxMapLength (3)"), fix: expect.stringContaining("maxMapLength") });
    expect(byId.get("one")!.error).toMatchObject({ code: "map_source_not_list", message: expect.stringContaining("must be a list") });
    expect(states(s)).toEqual(["many:failed", "one:failed", "each:upstream_failed", "each__1:upstream_failed"]);
    expect(() =>
      dag("map_literal_too_long", { maxMapLength: 2 }, () => {
        PythonOperator.partial({ taskId: "x", pythonCallable: () => 1 }).expand({ opArgs: [[1], [2], [3]] });
      }),
    ).toThrow(expect.objectContaining({ code: "map_length_exceeded" }));
    expect(() =>
      dag("map_unknown_option", {}, () => {
        BashOperator.partial({ taskId: "x" }).expand({ nope: ["a"] } as never);
      }),
    ).toThrow(expect.objectContaining({ code: "invalid_expand", fix: expect.stringContaining("bashCommand") }));
  });

  it("retries each map index on its own, and keeps each index's log apart", async () => {
    const tries = new Map<number, number>();
    const d = dag("map_retry", {}, () => {
      const flaky = task({ retries: 1, retryDelay: 0 }, function flaky(x: number, ctx: { tryNumber: number; log(m: string): void }) {
        tries.set(x, ctx.tryNumber);
        ctx.log(`item ${x}`);
        if (x === 1 && ctx.tryNumber === 1) throw new Error("first try of item 1 fails");
        return x;
      });
      flaky.expand([0, 1, 2]);
      BashOperator.partial({ taskId: "say" }).expandKwargs([{ bashCommand: "echo a" }, { bashCommand: "echo b" }]);
    });
    const store = await stores.open();
    const s = await runDag(d, { store, home: stores.home, workers: 2, ...fast });
    expect(s.state).toBe("success");
    expect(s.tasks.filter((t) => t.taskId === "flaky").map((t) => t.tryNumber)).toEqual([1, 2, 1]);
    expect(s.tasks.filter((t) => t.taskId === "say").map((t) => t.returnValue)).toEqual(["a", "b"]);
    await expect(findTaskLog(store, { runRef: s.runId, taskId: "flaky" })).rejects.toMatchObject({ code: "map_index_required", fix: "pass --map-index N (0 to 2)" });
    await expect(findTaskLog(store, { runRef: s.runId, taskId: "flaky", mapIndex: 5 })).rejects.toMatchObject({ code: "map_index_not_found" });
    const log = await findTaskLog(store, { runRef: s.runId, taskId: "flaky", mapIndex: 1 });
    expect(log.tryNumber).toBe(2);
    expect(log.path).toContain("/flaky.map_index=1.attempt=2.log");
    expect(readLogLines(log.path).some((l) => l.msg === "item 1")).toBe(true);
    const first = await findTaskLog(store, { runRef: s.runId, taskId: "flaky", mapIndex: 1, tryNumber: 1 });
    expect(readLogLines(first.path).some((l) => l.msg.includes("first try of item 1 fails"))).toBe(true);
  });

  it("maps an external-Python task with expandKwargs (keyword arguments)", async () => {
    const python = await findPython("3");
    const d = dag("map_python", {}, () => {
      const rows = task.externalPython({ python: python.path }, { source: "def scale(x, factor=1):\n    return x * factor\n" });
      task(function collect(xs: unknown[]) {
        return xs;
      })(rows.partial(10).expandKwargs([{ factor: 2 }, { factor: 3 }]));
    });
    const s = await run(d, 2);
    expect(s.state).toBe("success");
    expect(returned(s, "collect")).toEqual([20, 30]);
  });
});
