import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { claimTasks, createRun } from "../../src/engine/transitions.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { BACKENDS, useStores } from "../engine/backends.ts";

describe("openStore", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "venvflow-store-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("defaults to a WAL SQLite file under VENVFLOW_HOME with a busy timeout", async () => {
    const saved = process.env.VENVFLOW_DATABASE_URL;
    delete process.env.VENVFLOW_DATABASE_URL;
    try {
      const store = await openStore(undefined, { home });
      expect(store.backend).toBe("sqlite");
      expect(store.url).toBe(path.join(home, "venvflow.db"));
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
      const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(store.db);
      expect([mode.rows[0]!.journal_mode, busy.rows[0]!.timeout]).toEqual(["wal", 10_000]);
      await store.close();
    } finally {
      if (saved !== undefined) process.env.VENVFLOW_DATABASE_URL = saved;
    }
  });

  it("takes VENVFLOW_DATABASE_URL, accepts sqlite: URLs, and migrates idempotently", async () => {
    const file = path.join(home, "nested", "other.db");
    const saved = process.env.VENVFLOW_DATABASE_URL;
    process.env.VENVFLOW_DATABASE_URL = `sqlite:${file}`;
    try {
      const a = await openStore(undefined, { home });
      expect(a.url).toBe(`sqlite:${file}`);
      await a.close();
      const b = await openStore(file);
      const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(b.db);
      expect(migrations.rows.map((r) => r.name)).toEqual(["0001_init", "0002_map_index", "0003_serialized_dags", "0004_xcom_display", "0005_drop_claim_index", "0006_drop_run_task_state_index"]);
      await b.close();
    } finally {
      if (saved === undefined) delete process.env.VENVFLOW_DATABASE_URL;
      else process.env.VENVFLOW_DATABASE_URL = saved;
    }
  });

  it("rejects an unsupported URL without echoing its password", async () => {
    await expect(openStore("mysql://root:hunter22@db/x")).rejects.toMatchObject({
      code: "invalid_database_url",
      message: expect.stringContaining("mysql://root:***@db/x"),
    });
  });

  it("reports an unreachable PostgreSQL with the URL redacted", async () => {
    const err = await openStore("postgres://u:s3cret-pw@127.0.0.1:1/db").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "store_migration_failed" });
    expect(String((err as Error).message)).not.toContain("s3cret-pw");
  });
});

describe.each(BACKENDS)("claiming on %s", (backend) => {
  const stores = useStores(backend);

  async function queued(store: Store, n: number): Promise<void> {
    const tasks = Array.from({ length: n }, (_, i) => ({ taskId: `t${i}`, retries: 0 }));
    const at = new Date();
    await store.writeTransaction((trx) => createRun(trx, { dagId: "claims", runId: "r", runType: "manual", logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at, conf: {}, tasks }));
    await store.db.updateTable("task_instance").set({ state: "queued", queued_at: at.toISOString() }).execute();
  }

  it("hands each queued task instance to exactly one of many concurrent claimers on separate connections", async () => {
    const url = await stores.newUrl();
    const owner = await openStore(url, { home: stores.home });
    await queued(owner, 300);
    // SQLite serializes writers in one process through one connection (better-sqlite3 waits synchronously);
    // PostgreSQL gets 6 pools, contending through SKIP LOCKED.
    const claimers = backend === "postgres" ? await Promise.all(Array.from({ length: 6 }, () => openStore(url, { home: stores.home, poolSize: 2 }))) : [owner];
    try {
      const got: string[][] = claimers.map(() => []);
      await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const store = claimers[i % claimers.length]!;
          while (true) {
            const rows = await claimTasks(store, { workerId: `w${i}`, hostname: "h", dagIds: ["claims"], limit: 7, logsRoot: "/logs" });
            if (rows.length === 0) break;
            got[i % claimers.length]!.push(...rows.map((r) => r.task_id));
          }
        }),
      );
      const all = got.flat();
      expect(all).toHaveLength(300);
      expect(new Set(all).size).toBe(300);
      const rows = await owner.db.selectFrom("task_instance").select(["state", "try_number", "log_path"]).execute();
      expect(rows.every((r) => r.state === "running" && r.try_number === 1 && r.log_path?.startsWith("/logs/claims/r/t") && r.log_path.endsWith(".attempt=1.log"))).toBe(true);
      if (backend === "postgres") expect(got.filter((g) => g.length > 0).length).toBeGreaterThan(1);
    } finally {
      for (const c of new Set([...claimers, owner])) await c.close();
    }
  });

  it("claims only the DAGs a worker has loaded, and nothing when no slot is free", async () => {
    const store = await stores.open();
    await queued(store, 3);
    expect(await claimTasks(store, { workerId: "w", hostname: "h", dagIds: ["other"], limit: 5, logsRoot: "/x" })).toEqual([]);
    expect(await claimTasks(store, { workerId: "w", hostname: "h", dagIds: ["claims"], limit: 0, logsRoot: "/x" })).toEqual([]);
    expect(await claimTasks(store, { workerId: "w", hostname: "h", dagIds: ["claims"], limit: 2, logsRoot: "/x" })).toHaveLength(2);
  });

  it("rolls back a write transaction that throws", async () => {
    const store = await stores.open();
    await expect(
      store.writeTransaction(async (trx) => {
        const at = new Date().toISOString();
        await trx.insertInto("dag_run").values({ id: "x", dag_id: "d", run_id: "r", state: "queued", run_type: "manual", logical_date: at, data_interval_start: at, data_interval_end: at, conf: "{}", queued_at: at, started_at: null, ended_at: null }).execute();
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await store.db.selectFrom("dag_run").selectAll().execute()).toEqual([]);
  });
});
