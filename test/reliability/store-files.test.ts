/**
 * Issue #9.10: a foreign, corrupt, truncated, read-only or full SQLite store is a clear error naming the file
 * and the fix, never a raw SqliteError; what was committed before stays.
 */
import { chmodSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { dag, EmptyOperator, PythonOperator } from "../../src/dag/index.ts";
import { listRuns, runDag } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";

const home = mkdtempSync(path.join(os.tmpdir(), "venvflow-store-files-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const small = () => dag("small", {}, () => void new EmptyOperator({ taskId: "t" }));

describe("unusable SQLite store files", () => {
  it("names a file that is not a SQLite database, with the fix", async () => {
    const file = path.join(home, "foreign.db");
    writeFileSync(file, "this is a text file, not a database\n".repeat(40));
    await expect(openStore(file, { home })).rejects.toMatchObject({ code: "store_not_a_database", message: expect.stringContaining(file), fix: expect.stringContaining("VENVFLOW_DATABASE_URL") });
  });

  it("names a store whose folder cannot be made (a file stands in its path), with the fix", async () => {
    const blocker = path.join(home, "a-file");
    writeFileSync(blocker, "x");
    const file = path.join(blocker, "venvflow.db");
    await expect(openStore(file, { home })).rejects.toMatchObject({ code: "store_cannot_open", message: expect.stringContaining(file), fix: expect.stringContaining("VENVFLOW_HOME") });
  });

  it("names a truncated store as corrupt", async () => {
    const file = path.join(home, "truncated.db");
    const store = await openStore(file, { home });
    await runDag(dag("wide", {}, () => void Array.from({ length: 200 }, (_, i) => new PythonOperator({ taskId: `t${i}`, pythonCallable: () => "x".repeat(200) }))), { store, home, workers: 4 });
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(store.db);
    await store.close();
    truncateSync(file, 8192);
    const error = await openStore(file, { home }).then(
      async (s) => listRuns(s).finally(() => s.close()),
      (e: unknown) => e,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: expect.stringMatching(/^store_(corrupt|not_a_database)$/), message: expect.stringContaining(file) });
  });

  it("names a full disk and keeps what was committed", async () => {
    const file = path.join(home, "full.db");
    const store = await openStore(file, { home });
    try {
      await runDag(small(), { store, home, runId: "before" });
      const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(store.db);
      // SQLite's own limit on the file's pages: past it, writes fail exactly as on a full disk (SQLITE_FULL).
      await sql.raw(`pragma max_page_count = ${rows[0]!.page_count}`).execute(store.db);
      const wide = dag("grow", {}, () => void Array.from({ length: 300 }, (_, i) => new PythonOperator({ taskId: `t${i}`, pythonCallable: () => "y".repeat(500) })));
      await expect(runDag(wide, { store, home, workers: 4 })).rejects.toMatchObject({ code: "store_disk_full", message: expect.stringContaining(file), fix: expect.stringContaining("free space") });
      expect((await listRuns(store)).map((r) => [r.run_id, r.state])).toContainEqual(["before", "success"]);
    } finally {
      await store.close();
    }
  });

  it.runIf(process.getuid?.() !== 0)("names a read-only store", async () => {
    const dir = mkdtempSync(path.join(home, "ro-"));
    const file = path.join(dir, "ro.db");
    await (await openStore(file, { home })).close();
    chmodSync(file, 0o444);
    chmodSync(dir, 0o555);
    try {
      const store = await openStore(file, { home }).catch((e: unknown) => e);
      const error = store instanceof Error ? store : await runDag(small(), { store: store as Awaited<ReturnType<typeof openStore>>, home }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "store_read_only", message: expect.stringContaining(file) });
    } finally {
      chmodSync(dir, 0o755);
    }
  });
  if (process.getuid?.() === 0) console.log("store-files: read-only case skipped: running as root, file permissions do not stop writes");
});
