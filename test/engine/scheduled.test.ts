import { describe, expect, it } from "vitest";
import { triggerRun, Worker } from "../../src/engine/index.ts";
import { backfillRuns, setDagPaused } from "../../src/engine/operations.ts";
import { scheduleDag } from "../../src/engine/scheduler.ts";
import { recordParse } from "../../src/engine/serialized-dags.ts";
import { serializeDag } from "../../src/dag/serialize.ts";
import { openStore } from "../../src/store/index.ts";
import { BACKENDS, useStores } from "./backends.ts";
import { makeDag } from "./fixtures/dags.ts";

describe.each(BACKENDS)("scheduled runs on %s", (backend) => {
  const stores = useStores(backend);

  it("two scheduling workers create each due run of a cron schedule once, with its data interval, and run it", async () => {
    const url = await stores.newUrl();
    const a = await openStore(url, { home: stores.home });
    // Two connections on PostgreSQL; on SQLite two workers in one process share one (see src/store/sqlite).
    const b = backend === "postgres" ? await openStore(url, { home: stores.home }) : a;
    const startDate = new Date(Math.floor(Date.now() / 1000) * 1000 - 3000);
    const dag = makeDag("every_second", [{ id: "tick" }], { schedule: "* * * * * *", startDate, catchup: true });
    const done = async (): Promise<boolean> => {
      const runs = await a.db.selectFrom("dag_run").select("state").where("state", "=", "success").execute();
      return runs.length >= 5;
    };
    try {
      const options = { dags: [dag], home: stores.home, pollIntervalMs: 50, createScheduledRuns: true };
      await Promise.all([new Worker({ store: a, ...options }).run({ until: done }), new Worker({ store: b, ...options }).run({ until: done })]);
      const runs = await a.db.selectFrom("dag_run").selectAll().orderBy("data_interval_start").execute();
      expect(runs.length).toBeGreaterThanOrEqual(5);
      runs.forEach((run, i) => {
        const start = new Date(startDate.getTime() + i * 1000).toISOString();
        expect(run).toMatchObject({ run_id: `scheduled__${start}`, run_type: "scheduled", logical_date: start, data_interval_start: start });
        expect(Date.parse(run.data_interval_end) - Date.parse(run.data_interval_start)).toBe(1000);
      });
    } finally {
      if (b !== a) await b.close();
      await a.close();
    }
  });

  it("passes over the intervals a backfill already ran, and creates the others", async () => {
    const store = await stores.open();
    const day = 86_400_000;
    const midnight = Math.floor(Date.now() / day) * day;
    const dag = makeDag("daily_backfilled", [{ id: "tick" }], { schedule: "0 0 * * *", startDate: new Date(midnight - 4 * day), catchup: true });
    await recordParse(store, { dags: [{ dag: serializeDag(dag), source: "" }], errors: [] });
    const iso = (daysAgo: number): string => new Date(midnight - daysAgo * day).toISOString();
    // The interval starting three days ago ran as a backfill before the scheduler came to it.
    const { created } = await backfillRuns(store, dag.dagId, { start: new Date(iso(3)), end: new Date(iso(3)) });
    expect(created.map((r) => r.run_id)).toEqual([`backfill__${iso(3)}`]);
    await scheduleDag(store, dag, { createScheduledRuns: true });
    const runs = await store.db.selectFrom("dag_run").select(["run_id", "logical_date"]).orderBy("logical_date").execute();
    expect(runs.map((r) => r.run_id)).toEqual([`scheduled__${iso(4)}`, `backfill__${iso(3)}`, `scheduled__${iso(2)}`, `scheduled__${iso(1)}`]);
    // The next pass creates nothing more (today's interval has not ended).
    await scheduleDag(store, dag, { createScheduledRuns: true });
    expect(await store.db.selectFrom("dag_run").select("run_id").execute()).toHaveLength(4);
  });

  it("a worker without createScheduledRuns creates none", async () => {
    const store = await stores.open();
    const dag = makeDag("every_second", [{ id: "tick" }], { schedule: "* * * * * *", startDate: new Date(Date.now() - 5000), catchup: true });
    let loops = 0;
    await new Worker({ store, dags: [dag], home: stores.home, pollIntervalMs: 20 }).run({ until: async () => ++loops > 5 });
    expect(await store.db.selectFrom("dag_run").selectAll().execute()).toEqual([]);
  });

  it("a paused DAG gets no scheduled run and its triggered run does not advance; unpausing lets both proceed", async () => {
    const store = await stores.open();
    const dag = makeDag("paused_every_second", [{ id: "tick" }], { schedule: "* * * * * *", startDate: new Date(Date.now() - 3000), catchup: false });
    await recordParse(store, { dags: [{ dag: serializeDag(dag), source: "" }], errors: [] });
    expect(await setDagPaused(store, dag.dagId, true)).toBe(true);
    const manual = await triggerRun(store, dag, { runId: "manual_while_paused" });
    const runs = () => store.db.selectFrom("dag_run").select(["run_id", "run_type", "state"]).orderBy("run_id").execute();
    let passes = 0;
    const options = { store, dags: [dag], home: stores.home, pollIntervalMs: 20, createScheduledRuns: true };
    await new Worker(options).run({ until: async () => ++passes > 10 });
    expect(await runs()).toEqual([{ run_id: manual.run_id, run_type: "manual", state: "queued" }]);
    const started = await store.db.selectFrom("task_instance").select("task_id").where("run_id", "=", manual.run_id).where("started_at", "is not", null).execute();
    expect(started).toEqual([]);

    await setDagPaused(store, dag.dagId, false);
    await new Worker(options).run({
      until: async () => {
        const all = await runs();
        return all.some((r) => r.run_type === "scheduled" && r.state === "success") && all.some((r) => r.run_id === manual.run_id && r.state === "success");
      },
    });
    expect((await runs()).filter((r) => r.state === "success").length).toBeGreaterThanOrEqual(2);
  });
});
