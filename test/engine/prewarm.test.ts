/**
 * A worker starts the warm interpreters of the Python tasks it serves before any try (issue #11): their
 * environments built, nothing built for it.
 */
import { describe, expect, it } from "vitest";
import { dag, PythonVirtualenvOperator } from "../../src/dag/index.ts";
import { runDag, Worker } from "../../src/engine/index.ts";
import { listEnvironments } from "../../src/env/index.ts";
import { warmPool } from "../../src/runtime/index.ts";
import { anyPython } from "../support/pythons.ts";
import { eventually } from "../support/eventually.ts";
import { BACKENDS, useStores } from "./backends.ts";

describe.each(BACKENDS)("prewarming on %s", (backend) => {
  const stores = useStores(backend);

  it("starts the zygote of a built environment's task before any run, preloads each distinct callable once, and builds nothing that is not built", async () => {
    const store = await stores.open();
    const built = dag("prewarm_built", { schedule: null }, () => {
      // Three tasks of one callable and a fourth of another: two preloads, not four.
      for (const taskId of ["t", "u", "v"]) new PythonVirtualenvOperator({ taskId, pythonCallable: { source: "import decimal\ndef f():\n    return 1\n" }, pythonVersion: anyPython });
      new PythonVirtualenvOperator({ taskId: "w", pythonCallable: { source: "import fractions\ndef g():\n    return 2\n" }, pythonVersion: anyPython });
    });
    const unbuilt = dag("prewarm_unbuilt", { schedule: null }, () => {
      new PythonVirtualenvOperator({ taskId: "t", pythonCallable: { source: "def f():\n    return 1\n" }, pythonVersion: anyPython, requirements: ["never-built-here"] });
    });
    // A first run builds the environment; then no zygote is left, as after a restart.
    expect((await runDag(built, { store, home: stores.home })).state).toBe("success");
    await warmPool().close();
    expect(warmPool().stats()).toEqual([]);

    const worker = new Worker({ store, dags: [built, unbuilt], home: stores.home, pollIntervalMs: 50 });
    const working = worker.run();
    try {
      expect(await eventually(() => warmPool().stats()[0]?.preloads === 2, 20_000)).toBe(true);
      expect(warmPool().stats()).toEqual([expect.objectContaining({ forks: 0, preloads: 2 })]);
    } finally {
      worker.stop();
      await working;
      await warmPool().close();
    }
    // The prewarm of the unbuilt one (finished: run() waits for it) built nothing.
    expect(await listEnvironments({ home: stores.home })).toHaveLength(1);
  });
});
