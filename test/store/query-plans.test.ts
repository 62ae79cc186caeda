/**
 * Every statement the engine runs while it works — captured from real runs (wide, mapped, branching, retrying),
 * not copied here — is served by an index on both backends: no full scan of task_instance, task_try or xcom,
 * whose size grows with the runs (dag_run stays small and is read by its own indexes too).
 */
import { sql, type Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { dag, EmptyOperator, PythonOperator, task } from "../../src/dag/index.ts";
import { findTaskLog, listRuns, runDag, summarizeRun } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import type { Database } from "../../src/store/schema.ts";
import { BACKENDS, useStores } from "../engine/backends.ts";

const GROWING = ["task_instance", "task_try", "xcom"];

function workload() {
  return dag("plans", { maxMapLength: 2000 }, () => {
    const items = task(function items() {
      return Array.from({ length: 300 }, (_, i) => i);
    })();
    const each = task({ retries: 1, retryDelay: 0 }, function each(x: number, ctx: { tryNumber: number }) {
      if (x === 7 && ctx.tryNumber === 1) throw new Error("retry me");
      return x;
    }).expand(items);
    const pick = task.branch(function pick() {
      return "kept";
    })();
    pick.setDownstream([new EmptyOperator({ taskId: "kept" }), new EmptyOperator({ taskId: "dropped" })]);
    const wide = Array.from({ length: 200 }, (_, i) => new PythonOperator({ taskId: `w${i}`, pythonCallable: () => i }));
    const join = task(function join(xs: unknown[]) {
      return xs.length;
    })(each);
    for (const w of wide) w.setDownstream(join);
  });
}

async function explain(db: Kysely<Database>, backend: string, text: string, parameters: readonly unknown[]): Promise<string> {
  const statement = { sql: `${backend === "postgres" ? "explain" : "explain query plan"} ${text}`, parameters, query: { kind: "RawNode" } } as never;
  const { rows } = await db.executeQuery<Record<string, unknown>>(statement);
  return rows.map((r) => String(r["QUERY PLAN"] ?? r.detail ?? JSON.stringify(r))).join("\n");
}

describe.each(BACKENDS)("query plans on %s", (backend) => {
  const stores = useStores(backend);

  it("serves every statement of a run (and of the CLI's reads) from an index", async () => {
    const url = await stores.newUrl();
    const seen = new Map<string, readonly unknown[]>();
    const store = await openStore(url, { home: stores.home, onQuery: (text, parameters) => seen.set(text, parameters) });
    try {
      const s = await runDag(workload(), { store, home: stores.home, workers: 8, pollIntervalMs: 50 });
      expect(s.state).toBe("success");
      await summarizeRun(store, "plans", s.runId);
      await listRuns(store, { dagId: "plans" });
      await findTaskLog(store, { runRef: s.runId, taskId: "each", mapIndex: 7 });
      if (backend === "postgres") {
        await sql`analyze`.execute(store.db);
        // Whether an index *can* serve the statement, not whether this small table makes a scan cheaper.
        await sql`set enable_seqscan = off`.execute(store.db);
      }
      const scans: string[] = [];
      let checked = 0;
      for (const [text, parameters] of seen) {
        if (!/^\s*(select|update|delete|with)/i.test(text) || !GROWING.some((t) => text.includes(`"${t}"`))) continue;
        const plan = await explain(store.db, backend, text, parameters);
        checked++;
        const full = backend === "postgres" ? GROWING.some((t) => new RegExp(`Seq Scan on ${t}\\b`).test(plan)) : GROWING.some((t) => new RegExp(`\\bSCAN ${t}\\b(?! USING (COVERING )?INDEX)`).test(plan));
        if (full) scans.push(`${text}\n${plan}`);
      }
      expect(checked).toBeGreaterThan(15);
      expect(scans).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
