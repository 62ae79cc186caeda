import { describe, expect, it } from "vitest";
import { Worker } from "../../src/engine/index.ts";
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

  it("a worker without createScheduledRuns creates none", async () => {
    const store = await stores.open();
    const dag = makeDag("every_second", [{ id: "tick" }], { schedule: "* * * * * *", startDate: new Date(Date.now() - 5000), catchup: true });
    let loops = 0;
    await new Worker({ store, dags: [dag], home: stores.home, pollIntervalMs: 20 }).run({ until: async () => ++loops > 5 });
    expect(await store.db.selectFrom("dag_run").selectAll().execute()).toEqual([]);
  });
});
