import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import type { DagDefinition, LogLine, TaskDefinition, TaskExecutionContext, TaskOutcome, XComRef } from "../../src/index.ts";
import { executeTask } from "../../src/engine/execute.ts";
import { VenvflowError } from "../../src/index.ts";

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A hand-made engine context: upstream results come from `xcoms` ("taskId" or "taskId.key"). */
export function makeContext(overrides: Partial<TaskExecutionContext> & { xcoms?: Record<string, unknown> } = {}): TaskExecutionContext & { lines: LogLine[] } {
  const { xcoms = {}, ...rest } = overrides;
  const lines: LogLine[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-dag-test-"));
  scratch.push(dir);
  return {
    dagId: "d",
    taskId: "t",
    runId: "manual__2026-01-02T03:04:05+00:00",
    mapIndex: -1,
    tryNumber: 1,
    logicalDate: new Date("2026-01-02T03:04:05Z"),
    dataIntervalStart: new Date("2026-01-01T03:04:05Z"),
    dataIntervalEnd: new Date("2026-01-02T03:04:05Z"),
    params: { region: "eu" },
    conf: {},
    pullXCom: (ref: XComRef) => (ref.key === "return_value" ? xcoms[ref.taskId] : xcoms[`${ref.taskId}.${ref.key}`]),
    logPath: path.join(dir, "logs", "attempt.jsonl"),
    onLog: (line) => lines.push(line),
    signal: new AbortController().signal,
    home: path.join(dir, "home"),
    lines,
    ...rest,
  };
}

export function logFile(ctx: TaskExecutionContext): LogLine[] {
  return readFileSync(ctx.logPath, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as LogLine);
}

/** The VenvflowError `fn` throws (fails the test when it throws nothing or something else). */
export function caught(fn: () => unknown): VenvflowError {
  try {
    fn();
  } catch (error) {
    if (error instanceof VenvflowError) return error;
    throw error;
  }
  throw new Error("expected a VenvflowError");
}

/** A task of `d` with `execute(ctx)`: one try through the engine's executor for its kind. */
export function taskOf(d: DagDefinition, taskId: string): TaskDefinition & { execute(ctx: TaskExecutionContext): Promise<TaskOutcome> } {
  const task = d.tasks.get(taskId);
  if (!task) throw new Error(`no task ${taskId} in ${d.dagId}`);
  return { ...task, execute: (ctx) => executeTask(d, task, ctx) };
}
