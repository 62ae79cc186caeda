/**
 * The probe of issue #9 found a Python task past its executionTimeout explained as "the run was cancelled": the
 * error of a timed-out try says it timed out, whichever launcher or executor stopped it, and gives a fix.
 */
import { describe, expect, it } from "vitest";
import { BashOperator, dag, ExternalPythonOperator } from "../../src/dag/index.ts";
import { runDag } from "../../src/engine/index.ts";
import { useStores } from "../engine/backends.ts";
import { anyPython } from "../support/pythons.ts";

describe("a try past its executionTimeout", () => {
  const stores = useStores("sqlite");

  it.each([
    ["a Python task", () => new ExternalPythonOperator({ taskId: "t", python: anyPython, executionTimeout: "500ms", pythonCallable: { source: "import time\ndef f():\n    time.sleep(60)\n" } })],
    ["a Bash task", () => new BashOperator({ taskId: "t", executionTimeout: "500ms", bashCommand: "sleep 60" })],
  ])("%s fails with execution_timeout, says so and gives a fix", async (_what, make) => {
    const store = await stores.open();
    const s = await runDag(dag("timeout", {}, () => void make()), { store, home: stores.home });
    const error = s.tasks[0]!.error!;
    expect(error).toMatchObject({ type: "AirflowTaskTimeout", code: "execution_timeout", fix: "raise executionTimeout, or make the task faster" });
    expect(error.message).toContain('exceeded its executionTimeout of 500 ms');
    expect(error.message).not.toContain("cancelled");
  });
});
