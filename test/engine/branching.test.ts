import { describe, expect, it } from "vitest";
import { runDag, type RunSummary } from "../../src/engine/index.ts";
import { BACKENDS, useStores } from "./backends.ts";
import { makeDag, type TaskSpec } from "./fixtures/dags.ts";

const states = (s: RunSummary): Record<string, string> => Object.fromEntries(s.tasks.map((t) => [t.taskId, t.state]));
const branch = (choice: string[] | null): TaskSpec["run"] => () => ({ state: "success", returnValue: choice, branch: choice });

describe.each(BACKENDS)("branching on %s", (backend) => {
  const stores = useStores(backend);
  const run = async (specs: TaskSpec[]) => runDag(makeDag(`branch_${Math.random().toString(36).slice(2, 8)}`, specs), { store: await stores.open(), home: stores.home, pollIntervalMs: 50 });

  it("skips the branch not chosen and everything below it; a none_failed_min_one_success join runs", async () => {
    const s = await run([
      { id: "pick", kind: "branch_python", run: branch(["a"]) },
      { id: "a", upstream: ["pick"] },
      { id: "a2", upstream: ["a"] },
      { id: "b", upstream: ["pick"] },
      { id: "b2", upstream: ["b"] },
      { id: "join", upstream: ["a2", "b2"], triggerRule: "none_failed_min_one_success" },
      { id: "strict_join", upstream: ["a2", "b2"] },
    ]);
    expect(states(s)).toEqual({ pick: "success", a: "success", a2: "success", b: "skipped", b2: "skipped", join: "success", strict_join: "skipped" });
    expect(s.state).toBe("success");
  });

  it("does not skip a task directly downstream of the branch that is also downstream of the chosen task", async () => {
    // branch → join and branch → a → join, choosing a: Airflow's skip_all_except keeps join.
    const s = await run([
      { id: "pick", kind: "branch_python", run: branch(["a"]) },
      { id: "a", upstream: ["pick"] },
      { id: "b", upstream: ["pick"] },
      { id: "join", upstream: ["pick", "a"] },
    ]);
    expect(states(s)).toEqual({ pick: "success", a: "success", b: "skipped", join: "success" });
  });

  it("follows several branches at once", async () => {
    const s = await run([
      { id: "pick", kind: "branch_python", run: branch(["a", "c"]) },
      { id: "a", upstream: ["pick"] },
      { id: "b", upstream: ["pick"] },
      { id: "c", upstream: ["pick"] },
    ]);
    expect(states(s)).toEqual({ pick: "success", a: "success", b: "skipped", c: "success" });
  });

  it("skips every downstream task when the branch returns None", async () => {
    const s = await run([
      { id: "pick", kind: "branch_python", run: branch(null) },
      { id: "a", upstream: ["pick"] },
      { id: "b", upstream: ["pick"] },
      { id: "after", upstream: ["a", "b"], triggerRule: "none_failed_min_one_success" },
    ]);
    expect(states(s)).toEqual({ pick: "success", a: "skipped", b: "skipped", after: "skipped" });
    expect(s.state).toBe("success");
  });

  it("fails a branch task that chose a task not directly downstream, naming it", async () => {
    const s = await run([
      { id: "pick", kind: "branch_python", run: branch(["a", "nope", "deep"]) },
      { id: "a", upstream: ["pick"] },
      { id: "deep", upstream: ["a"] },
    ]);
    expect(states(s)).toEqual({ pick: "failed", a: "upstream_failed", deep: "upstream_failed" });
    expect(s.tasks[0]!.error).toMatchObject({ code: "invalid_branch", message: expect.stringMatching(/'branch_task_ids' must contain only task ids directly downstream of "pick"\. Invalid tasks found: \{'nope', 'deep'\}\.$/), fix: 'return one of "a", a list of them, or None' });
    expect(s.state).toBe("failed");
  });
});
