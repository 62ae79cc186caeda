import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { enc, startTestServer, waitFor, type TestServer } from "./helpers.ts";

let pg: TestPostgres;
let t: TestServer;

beforeAll(async () => {
  pg = await startPostgres();
  t = await startTestServer({ dbUrl: await pg.createDatabase() });
});
afterAll(async () => {
  await t?.close();
  await pg?.stop();
});

describe("venvflow server on PostgreSQL", () => {
  it("records the DAGs, runs a triggered run, clears and pauses", async () => {
    expect((await t.api("/api/health")).body.store).toBe("postgres");
    expect((await t.api("/api/dags")).body.dags).toHaveLength(5);
    const run = (await t.api("/api/dags/shop/runs", { method: "POST", body: { conf: { count: 3 } } })).body;
    const done = await waitFor("the run", async () => {
      const r = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}`)).body;
      return r.state === "success" ? r : undefined;
    }, 120_000);
    expect(done.taskInstances.map((x: { state: string }) => x.state)).toEqual(["success", "success", "success"]);
    expect((await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/report`)).body.returnValue).toBe("items: 3");
    expect((await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/report/clear`, { method: "POST", body: {} })).body.cleared).toEqual(["report"]);
    await waitFor("report's second try", async () => {
      const ti = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/report`)).body;
      return ti.state === "success" && ti.tryNumber === 2;
    });
    expect((await t.api("/api/dags/shop", { method: "PATCH", body: { paused: true } })).body.paused).toBe(true);
  });
});
