import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BashOperator, dag, PythonOperator } from "../../src/dag/index.ts";
import { runDag } from "../../src/engine/index.ts";
import { appendLogLine, followLog, formatLogLine, readLogLines, taskLogPath } from "../../src/runtime/logs.ts";
import { useStores } from "./backends.ts";

const scratch = mkdtempSync(path.join(os.tmpdir(), "venvflow-logs-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the task-log module", () => {
  it("keeps every log path inside VENVFLOW_HOME/logs", () => {
    expect(taskLogPath("/h", "d", "r", "t", 2)).toBe("/h/logs/d/r/t.attempt=2.log");
    expect(taskLogPath("/h", "d", "r", "t", 1, 3)).toBe("/h/logs/d/r/t.map_index=3.attempt=1.log");
    for (const bad of ["..", ".", "a/../../x", ""]) {
      expect(() => taskLogPath("/h", "d", bad, "t", 1)).toThrow(expect.objectContaining({ code: "invalid_path_id" }));
      expect(() => taskLogPath("/h", bad, "r", "t", 1)).toThrow(expect.objectContaining({ code: "invalid_path_id" }));
    }
  });

  it("masks URL credentials in the engine's own lines, formats and follows a log", async () => {
    const file = path.join(scratch, "one.log");
    appendLogLine(file, "system", "index https://me:hunter22@example.org/simple failed", "ERROR");
    expect(readLogLines(file)[0]).toMatchObject({ stream: "system", level: "ERROR", msg: "index https://me:***@example.org/simple failed" });
    expect(formatLogLine(JSON.stringify({ ts: "T", stream: "stdout", msg: "hi" }))).toBe("T stdout hi");
    expect(formatLogLine("not json")).toBe("not json");
    let writes = 3;
    const seen: string[] = [];
    const count = await followLog(file, (raw) => seen.push(JSON.parse(raw).msg as string), {
      pollMs: 5,
      live: async () => {
        if (writes-- <= 0) return false;
        appendFileSync(file, `${JSON.stringify({ ts: "T", stream: "stdout", msg: `line ${writes}` })}\n{"partial`);
        appendFileSync(file, `":1}\n`);
        return true;
      },
    });
    expect(count).toBe(7);
    // Whole lines only, each once, in order: a line the writer is midway through waits for its end.
    expect(seen).toEqual(["index https://me:***@example.org/simple failed", "line 2", undefined, "line 1", undefined, "line 0", undefined]);
  });
});

describe("task logs of a run", () => {
  const stores = useStores("sqlite");

  it("mask secrets in what Bash and TypeScript tasks print", async () => {
    const d = dag("masked", {}, () => {
      new BashOperator({ taskId: "sh", bashCommand: "echo fetching https://bot:s3cret-token@example.org/x" });
      new PythonOperator({ taskId: "ts", pythonCallable: (ctx: { log(m: string): void }) => ctx.log("using https://bot:s3cret-token@example.org/y") });
    });
    const s = await runDag(d, { store: await stores.open(), home: stores.home, workers: 2 });
    expect(s.state).toBe("success");
    for (const t of s.tasks) {
      const text = readLogLines(t.logPath!).map((l) => l.msg).join("\n");
      expect(text).toContain("bot:***@example.org");
      expect(text).not.toContain("s3cret-token");
    }
  });
});
