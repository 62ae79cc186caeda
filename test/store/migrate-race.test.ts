/** Processes starting at once on a new store (a run and its workers) migrate it once between them. */
import { execFile } from "node:child_process";
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
});
