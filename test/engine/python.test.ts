/** The engine with the real authoring API and real Python tasks in real (cached) virtualenvs. */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dag, task } from "../../src/dag/index.ts";
import { runDag } from "../../src/engine/index.ts";
import type { LogLine } from "../../src/runtime/types.ts";
import { useStores } from "./backends.ts";

describe("runDag with Python tasks", () => {
  const stores = useStores("sqlite");

  it("passes a Python result to a TypeScript task, records Python errors, and kills a Python try at its executionTimeout", async () => {
    const module = path.join(stores.home, "tasks.py");
    writeFileSync(
      module,
      [
        "import time",
        "def double(x):",
        "    print('doubling', x)",
        "    return x * 2",
        "def boom():",
        "    raise ValueError('bad input')",
        "def slow():",
        "    time.sleep(60)",
      ].join("\n"),
    );
    const definition = dag("python_flow", { params: { start: 21 } }, () => {
      const double = task.virtualenv<[number], number>({ pythonVersion: "3" }, `${module}:double`);
      const addOne = task(function add_one(n: number) {
        return n + 1;
      });
      addOne(double(21));
      task.virtualenv({ pythonVersion: "3" }, `${module}:boom`)();
      task.virtualenv({ pythonVersion: "3", executionTimeout: 1 }, `${module}:slow`)();
    });
    const started = Date.now();
    const s = await runDag(definition, { store: await stores.open(), home: stores.home, workers: 3, pollIntervalMs: 50 });
    expect(Date.now() - started).toBeLessThan(30_000);
    const byId = Object.fromEntries(s.tasks.map((t) => [t.taskId, t]));
    expect(byId.double).toMatchObject({ state: "success", returnValue: 42 });
    expect(byId.add_one).toMatchObject({ state: "success", returnValue: 43 });
    expect(byId.boom).toMatchObject({ state: "failed", error: { type: "ValueError", message: expect.stringContaining("bad input") } });
    expect(byId.slow).toMatchObject({ state: "failed", error: { type: "AirflowTaskTimeout" } });
    expect(s.state).toBe("failed");
    // The task's own lines and the engine's system lines share the try's log.
    const lines = readFileSync(byId.double!.logPath!, "utf8").trim().split("\n").map((l) => JSON.parse(l) as LogLine);
    expect(lines[0]!.msg).toMatch(/^Starting try 1 of 1 of python_flow\.double/);
    expect(lines.some((l) => l.stream === "stdout" && l.msg === "doubling 21")).toBe(true);
    expect(lines.at(-1)!.msg).toBe("Marking task as SUCCESS");
  });
});
