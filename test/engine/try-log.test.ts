/** The lazy log of an in-process try: no file for a silent success, every line (with its own time) otherwise. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LazyTryLog } from "../../src/engine/try-log.ts";
import { readLogLines } from "../../src/runtime/logs.ts";
import type { LogLine } from "../../src/runtime/types.ts";
import { Redactor } from "../../src/util/secrets.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "venvflow-try-log-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (): { log: LazyTryLog; file: string; seen: LogLine[] } => {
  const file = path.join(scratch, `run${n++}`, "task", "attempt=1.log");
  const seen: LogLine[] = [];
  const redactor = new Redactor();
  redactor.add("s3cret");
  return { log: new LazyTryLog(file, redactor, (line) => seen.push(line)), file, seen };
};

describe("LazyTryLog", () => {
  it("writes no file for a try whose lines are all the engine's routine ones, yet reports every line", async () => {
    const { log, file, seen } = fresh();
    log.system("Starting try 1");
    log.system("Marking task as SUCCESS");
    await log.close();
    expect(existsSync(file)).toBe(false);
    expect(readLogLines(file)).toEqual([]);
    expect(seen.map((l) => l.msg)).toEqual(["Starting try 1", "Marking task as SUCCESS"]);
  });

  it("creates the file at the task's first own line, with the lines before it and their times, masked", async () => {
    const { log, file } = fresh();
    log.system("Starting try 1");
    const before = readLogLines(file);
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.write("stdout", "token s3cret");
    log.system("Marking task as SUCCESS");
    await log.close();
    expect(before).toEqual([]);
    const lines = readLogLines(file);
    expect(lines.map((l) => [l.stream, l.msg])).toEqual([
      ["system", "Starting try 1"],
      ["stdout", "token ***"],
      ["system", "Marking task as SUCCESS"],
    ]);
    expect(lines[0]!.ts < lines[1]!.ts).toBe(true);
  });

  it("keeps the lines of a try that warned, or that the engine keeps (it did not succeed)", async () => {
    const warned = fresh();
    warned.log.system("Starting try 1");
    warned.log.system("Try aborted", "WARNING");
    await warned.log.close();
    expect(readLogLines(warned.file).map((l) => l.msg)).toEqual(["Starting try 1", "Try aborted"]);
    const kept = fresh();
    kept.log.system("Skipping: no data today");
    kept.log.keep();
    kept.log.system("Marking task as SKIPPED");
    await kept.log.close();
    expect(readLogLines(kept.file).map((l) => l.msg)).toEqual(["Skipping: no data today", "Marking task as SKIPPED"]);
  });

  it("does not fail the try when its log cannot be written", async () => {
    const blocker = path.join(scratch, "a-file");
    writeFileSync(blocker, "");
    const seen: LogLine[] = [];
    const log = new LazyTryLog(path.join(blocker, "task", "attempt=1.log"), new Redactor(), (line) => seen.push(line));
    expect(() => log.write("stdout", "hello")).not.toThrow();
    await log.close();
    expect(seen.map((l) => l.msg)).toEqual(["hello"]);
  });
});
