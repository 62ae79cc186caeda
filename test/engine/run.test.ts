import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runDag, triggerRun, Worker, type EngineEvent, type RunSummary } from "../../src/engine/index.ts";
import type { LogLine } from "../../src/runtime/types.ts";
import { openStore } from "../../src/store/index.ts";
import { BACKENDS, useStores } from "./backends.ts";
import { fail, makeDag, ok, ref, skip, sleep } from "./fixtures/dags.ts";

const byTask = (s: RunSummary): Record<string, string> => Object.fromEntries(s.tasks.map((t) => [t.taskId, t.state]));
const readLog = (file: string): LogLine[] => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as LogLine);

describe.each(BACKENDS)("runDag on %s", (backend) => {
  const stores = useStores(backend);
  const fast = { pollIntervalMs: 50, heartbeatIntervalMs: 200 };

  it("runs a linear DAG, passing XComs and multipleOutputs to downstream tasks", async () => {
    const store = await stores.open();
    const dag = makeDag("xcoms", [
      { id: "extract", run: () => ok([1, 2, 3]) },
      { id: "split", upstream: ["extract"], multipleOutputs: true, xcomRefs: [ref("extract")], run: (ctx) => {
        const xs = ctx.pullXCom(ref("extract")) as number[];
        return ok({ total: xs.reduce((a, b) => a + b, 0), count: xs.length });
      } },
      { id: "load", upstream: ["split"], xcomRefs: [ref("split", "total"), ref("split", "count"), ref("split")], run: (ctx) =>
        ok({ mean: (ctx.pullXCom(ref("split", "total")) as number) / (ctx.pullXCom(ref("split", "count")) as number), whole: ctx.pullXCom(ref("split")) }) },
      { id: "nothing", upstream: ["load"], run: () => ok(undefined) },
    ]);
    const events: EngineEvent[] = [];
    const summary = await runDag(dag, { store, home: stores.home, onEvent: (e) => events.push(e), ...fast });
    expect(summary.state).toBe("success");
    expect(summary.tasks.map((t) => t.taskId)).toEqual(["extract", "split", "load", "nothing"]);
    expect(summary.tasks.map((t) => t.returnValue)).toEqual([[1, 2, 3], { total: 6, count: 3 }, { mean: 2, whole: { total: 6, count: 3 } }, undefined]);
    const keys = await store.db.selectFrom("xcom").select(["task_id", "key"]).where("run_id", "=", summary.runId).orderBy("task_id").orderBy("key").execute();
    expect(keys).toEqual([
      { task_id: "extract", key: "return_value" },
      { task_id: "load", key: "return_value" },
      { task_id: "split", key: "count" },
      { task_id: "split", key: "return_value" },
      { task_id: "split", key: "total" },
    ]);
    expect(events.filter((e) => e.type === "run").map((e) => (e as { state: string }).state)).toEqual(["running", "success"]);
    const extract = events.filter((e) => e.type === "task" && e.taskId === "extract").map((e) => (e as { state: string }).state);
    expect(extract).toEqual(["scheduled", "queued", "running", "success"]);
  });

  it("fails a multipleOutputs task that returns a non-object, and a task returning unserializable data", async () => {
    const store = await stores.open();
    const dag = makeDag("bad_returns", [
      { id: "list", multipleOutputs: true, run: () => ok([1, 2]) },
      { id: "bigint", run: () => ok({ n: 10n }) },
    ]);
    const s = await runDag(dag, { store, home: stores.home, ...fast });
    expect(s.state).toBe("failed");
    expect(s.tasks.map((t) => [t.state, t.error?.code])).toEqual([
      ["failed", "multiple_outputs_not_dict"],
      ["failed", "xcom_not_serializable"],
    ]);
  });

  it("gives tasks params (DAG defaults, overridden by matching conf keys), conf, dates and a per-try log", async () => {
    const store = await stores.open();
    let seen: Record<string, unknown> = {};
    const dag = makeDag("ctx", [{ id: "show", run: (ctx) => {
      seen = { params: ctx.params, conf: ctx.conf, logicalDate: ctx.logicalDate.toISOString(), start: ctx.dataIntervalStart.toISOString(), end: ctx.dataIntervalEnd.toISOString(), tryNumber: ctx.tryNumber, runId: ctx.runId };
      ctx.log("shown");
      return ok();
    } }, { id: "quiet" }], { params: { region: "eu", limit: 10 }, schedule: "0 6 * * *" });
    const s = await runDag(dag, { store, home: stores.home, conf: { limit: 99, extra: true }, logicalDate: new Date("2026-03-10T08:00:00Z"), ...fast });
    expect(s.state).toBe("success");
    expect(seen).toEqual({
      params: { region: "eu", limit: 99 },
      conf: { limit: 99, extra: true },
      logicalDate: "2026-03-10T08:00:00.000Z",
      start: "2026-03-09T06:00:00.000Z",
      end: "2026-03-10T06:00:00.000Z",
      tryNumber: 1,
      runId: "manual__2026-03-10T08:00:00.000Z",
    });
    expect(s.conf).toEqual({ limit: 99, extra: true });
    const logPath = s.tasks[0]!.logPath!;
    expect(logPath).toBe(`${stores.home}/logs/ctx/manual__2026-03-10T08:00:00.000Z/show.attempt=1.log`);
    const lines = readLog(logPath);
    expect(lines.map((l) => l.stream)).toEqual(["system", "log", "system", "system"]);
    expect(lines[0]!.msg).toMatch(/^Starting try 1 of 1 of ctx\.show/);
    expect(lines[1]!.msg).toBe("shown");
    expect(lines.at(-1)!.msg).toBe("Marking task as SUCCESS");
    // An in-process try that succeeds without a word of its own writes no file (src/engine/try-log.ts).
    expect(s.tasks[1]).toMatchObject({ taskId: "quiet", state: "success" });
    expect(existsSync(s.tasks[1]!.logPath!)).toBe(false);
  });

  it("retries a failing task with its delay, then succeeds; each try has its own log and history row", async () => {
    const store = await stores.open();
    const tries: Array<{ n: number; at: number }> = [];
    const dag = makeDag("retries", [{ id: "flaky", retries: 3, retryDelayMs: 150, run: (ctx) => {
      tries.push({ n: ctx.tryNumber, at: Date.now() });
      if (ctx.tryNumber < 3) throw new Error(`try ${ctx.tryNumber} broke`);
      return ok("third time");
    } }]);
    const s = await runDag(dag, { store, home: stores.home, ...fast });
    expect(s.state).toBe("success");
    expect(s.tasks[0]).toMatchObject({ state: "success", tryNumber: 3, maxTries: 3, returnValue: "third time", error: null });
    expect(tries.map((t) => t.n)).toEqual([1, 2, 3]);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(150);
    const history = await store.db.selectFrom("task_try").select(["try_number", "state", "error"]).where("run_id", "=", s.runId).orderBy("try_number").execute();
    expect(history.map((h) => [h.try_number, h.state])).toEqual([[1, "up_for_retry"], [2, "up_for_retry"], [3, "success"]]);
    expect(JSON.parse(history[0]!.error!)).toMatchObject({ type: "Error", message: "try 1 broke" });
    const first = readLog(s.tasks[0]!.logPath!.replace("attempt=3", "attempt=1"));
    expect(first.map((l) => l.msg).join("\n")).toMatch(/Error: try 1 broke[\s\S]*Marking task as UP_FOR_RETRY; try 2 not before/);
  });

  it("fails a task when its retries run out, and its downstream becomes upstream_failed", async () => {
    const store = await stores.open();
    const dag = makeDag("exhausted", [
      { id: "bad", retries: 1, run: () => fail("always") },
      { id: "after", upstream: ["bad"] },
      { id: "cleanup", upstream: ["bad"], triggerRule: "all_done" },
    ]);
    const s = await runDag(dag, { store, home: stores.home, ...fast });
    expect(s.state).toBe("failed");
    expect(byTask(s)).toEqual({ bad: "failed", after: "upstream_failed", cleanup: "success" });
    expect(s.tasks[0]).toMatchObject({ tryNumber: 2, error: { type: "RuntimeError", message: "always" } });
  });

  it("records a task's own skip, and a run whose failed task is not a leaf succeeds (Airflow's leaf rule)", async () => {
    const store = await stores.open();
    const dag = makeDag("leafrule", [
      { id: "skipper", run: () => skip() },
      { id: "bad", run: () => fail() },
      { id: "finally", upstream: ["bad", "skipper"], triggerRule: "all_done" },
    ]);
    const s = await runDag(dag, { store, home: stores.home, ...fast });
    expect(byTask(s)).toEqual({ skipper: "skipped", bad: "failed", finally: "success" });
    expect(s.state).toBe("success");
  });

  it("aborts a try at its executionTimeout: up_for_retry, then failed", async () => {
    const store = await stores.open();
    let aborted = 0;
    const dag = makeDag("timeout", [{ id: "slow", retries: 1, executionTimeoutMs: 200, run: async (ctx) => {
      await sleep(10_000, ctx.signal);
      if (ctx.signal.aborted) aborted++;
      return ok();
    } }, { id: "ignores_signal", executionTimeoutMs: 200, run: async () => {
      await sleep(1500);
      return ok();
    } }]);
    const started = Date.now();
    const s = await runDag(dag, { store, home: stores.home, workers: 2, ...fast });
    // Well below the 5 s the second task would take if the engine waited for it (margin for loaded CI machines).
    expect(Date.now() - started).toBeLessThan(4000);
    expect(s.state).toBe("failed");
    expect(s.tasks.map((t) => [t.taskId, t.state, t.tryNumber, t.error?.type, t.error?.code])).toEqual([
      ["slow", "failed", 2, "AirflowTaskTimeout", "execution_timeout"],
      ["ignores_signal", "failed", 1, "AirflowTaskTimeout", "execution_timeout"],
    ]);
    expect(aborted).toBe(2);
  });

  it("fails the run at its dagrunTimeout, aborting running tasks and skipping the rest", async () => {
    const store = await stores.open();
    let abortedWith: unknown = null;
    const dag = makeDag("runtimeout", [
      { id: "quick" },
      { id: "slow", upstream: ["quick"], run: async (ctx) => {
        await sleep(10_000, ctx.signal);
        abortedWith = ctx.signal.reason;
        return ok();
      } },
      { id: "never", upstream: ["slow"] },
    ], { dagrunTimeoutMs: 400 });
    const s = await runDag(dag, { store, home: stores.home, ...fast });
    expect(s.state).toBe("failed");
    expect(byTask(s)).toEqual({ quick: "success", slow: "skipped", never: "skipped" });
    expect(String(abortedWith)).toMatch(/dagrunTimeout/);
    expect(s.durationMs).toBeLessThan(8000);
  });

  it("keeps at most maxActiveTasks tries running", async () => {
    const store = await stores.open();
    let now = 0;
    let peak = 0;
    const work = async (): Promise<ReturnType<typeof ok>> => {
      peak = Math.max(peak, ++now);
      await sleep(40);
      now--;
      return ok();
    };
    const dag = makeDag("limited", Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, run: work })), { maxActiveTasks: 3 });
    const s = await runDag(dag, { store, home: stores.home, workers: 8, ...fast });
    expect(s.state).toBe("success");
    expect(peak).toBe(3);
  });

  it("runs at most `workers` tries at once, counting what batches of ending tries claim", async () => {
    const store = await stores.open();
    let now = 0;
    let peak = 0;
    const work = async (ctx: { taskId: string }): Promise<ReturnType<typeof ok>> => {
      peak = Math.max(peak, ++now);
      // Uneven lengths, so tries end in batches of different sizes while others run.
      await sleep(5 + (Number(ctx.taskId.slice(1)) % 4) * 7);
      now--;
      return ok();
    };
    const dag = makeDag("slots", Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, run: work })), { maxActiveTasks: 64 });
    const s = await runDag(dag, { store, home: stores.home, workers: 3, ...fast });
    expect(s.state).toBe("success");
    expect(s.tasks.every((t) => t.tryNumber === 1)).toBe(true);
    expect(peak).toBe(3);
  });

  it("keeps at most maxActiveRuns runs running", async () => {
    const store = await stores.open();
    const spans: Array<[number, number]> = [];
    const dag = makeDag("one_at_a_time", [{ id: "a", run: async () => { const s = Date.now(); await sleep(60); spans.push([s, Date.now()]); return ok(); } }, { id: "b", upstream: ["a"] }], { maxActiveRuns: 1 });
    await triggerRun(store, dag, { logicalDate: new Date("2026-01-01T00:00:00Z") });
    await triggerRun(store, dag, { logicalDate: new Date("2026-01-02T00:00:00Z") });
    const worker = new Worker({ store, dags: [dag], slots: 4, home: stores.home, ...fast });
    await worker.run({ until: async () => (await store.db.selectFrom("dag_run").select("state").where("state", "not in", ["success", "failed"]).execute()).length === 0 });
    const runs = await store.db.selectFrom("dag_run").selectAll().orderBy("logical_date").execute();
    expect(runs.map((r) => r.state)).toEqual(["success", "success"]);
    expect(Date.parse(runs[1]!.started_at!)).toBeGreaterThanOrEqual(Date.parse(runs[0]!.ended_at!));
    expect(spans[1]![0]).toBeGreaterThanOrEqual(spans[0]![1]);
  });

  it("runs a 500-task DAG (wide and deep) to success with every task run once, in dependency order", async () => {
    const store = await stores.open();
    const order: string[] = [];
    const run = (ctx: { taskId: string }) => {
      order.push(ctx.taskId);
      return ok(ctx.taskId);
    };
    // 10 chains of 40 (deep) fanning out of a root, plus a fan of 98 (wide), joined at the end.
    const specs = [{ id: "root", run }];
    for (let c = 0; c < 10; c++) for (let i = 0; i < 40; i++) specs.push({ id: `c${c}_${i}`, upstream: [i === 0 ? "root" : `c${c}_${i - 1}`], run } as never);
    for (let w = 0; w < 98; w++) specs.push({ id: `w${w}`, upstream: ["root"], run } as never);
    specs.push({ id: "join", upstream: [...Array.from({ length: 10 }, (_, c) => `c${c}_39`), ...Array.from({ length: 98 }, (_, w) => `w${w}`)], run } as never);
    expect(specs).toHaveLength(500);
    const dag = makeDag("big", specs, { maxActiveTasks: 64 });
    const s = await runDag(dag, { store, home: stores.home, workers: 8, ...fast });
    expect(s.state).toBe("success");
    expect(s.tasks.every((t) => t.state === "success" && t.tryNumber === 1)).toBe(true);
    expect(order).toHaveLength(500);
    expect(new Set(order).size).toBe(500);
    const pos = new Map(order.map((id, i) => [id, i]));
    for (const task of dag.tasks.values()) for (const up of task.upstreamTaskIds) expect(pos.get(up)!).toBeLessThan(pos.get(task.taskId)!);
  });

  it("rejects a duplicate run id and a non-object conf", async () => {
    const store = await stores.open();
    const dag = makeDag("dupe", [{ id: "a" }]);
    await triggerRun(store, dag, { runId: "r1" });
    await expect(triggerRun(store, dag, { runId: "r1" })).rejects.toMatchObject({ code: "run_exists" });
    await expect(triggerRun(store, dag, { runId: "../etc" })).rejects.toMatchObject({ code: "invalid_run_id" });
    await expect(triggerRun(store, dag, { conf: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({ code: "invalid_conf" });
  });
});

describe("Worker options", () => {
  it("rejects an empty DAG list and a bad slot count", async () => {
    const store = await openStore("sqlite::memory:");
    expect(() => new Worker({ store, dags: [] })).toThrow(expect.objectContaining({ code: "no_dags" }));
    expect(() => new Worker({ store, dags: [makeDag("d", [{ id: "a" }])], slots: 0 })).toThrow(expect.objectContaining({ code: "invalid_worker_slots" }));
    await store.close();
  });
});
