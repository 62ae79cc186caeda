/** Processes starting at once on a new store (a run and its workers) migrate it once between them. */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";

const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-migrate-race-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("migrating a new SQLite store", () => {
  it("succeeds in every one of four processes that open it at the same moment, and applies each migration once", async () => {
    const file = path.join(dir, "new.db");
    const store = new URL("../../src/store/index.ts", import.meta.url).pathname;
    // Each waits for the same instant, so the four migrations really overlap.
    const at = Date.now() + 1500;
    const script = `import { openStore } from ${JSON.stringify(store)};\nawait new Promise((r) => setTimeout(r, ${at} - Date.now()));\nconst s = await openStore(${JSON.stringify(file)});\nawait s.close();\nconsole.log("ok");`;
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script])));
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value.stdout.trim() : String(o.reason)))).toEqual(["ok", "ok", "ok", "ok"]);
    const opened = await openStore(file);
    try {
      const names = (await opened.db.selectFrom("kysely_migration" as never).select("name" as never).execute()) as { name: string }[];
      expect(new Set(names.map((n) => n.name)).size).toBe(names.length);
      expect(names.length).toBeGreaterThan(0);
    } finally {
      await opened.close();
    }
  }, 60_000);

  it("waits for another process's lock on the new file instead of failing with \"database is locked\"", async () => {
    const file = path.join(dir, "held.db");
    // A real second process holds the file's exclusive lock for a second while this one opens the store.
    const holder = spawn("python3", ["-c", `import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute("BEGIN EXCLUSIVE")\nprint("locked", flush=True)\ntime.sleep(1)\nc.execute("COMMIT")`, file], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    const opened = await openStore(file);
    try {
      expect(await opened.db.selectFrom("kysely_migration" as never).select("name" as never).execute()).not.toHaveLength(0);
    } finally {
      await opened.close();
      holder.kill();
    }
  }, 30_000);
});
