/** Issue #9.8: "." and ".." are not ids, and no path built from an id leaves its folder. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmptyOperator, dag } from "../../src/dag/index.ts";
import { triggerRun } from "../../src/engine/run-dag.ts";
import { taskLogPath } from "../../src/runtime/logs.ts";
import { openStore } from "../../src/store/index.ts";
import { pathInside } from "../../src/util/home.ts";
import { caught } from "../dag/helpers.ts";
import { runCli } from "../support/cli.ts";
import { makeDag } from "../engine/fixtures/dags.ts";

const home = mkdtempSync(path.join(os.tmpdir(), "venvflow-ids-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("ids that would name a directory", () => {
  it.each([".", ".."])('refuses the DAG id "%s"', (id) => {
    const error = caught(() => dag(id, {}, () => {}));
    expect([error.code, error.fix]).toEqual(["invalid_dag_id", expect.stringContaining('not "." or ".."')]);
  });

  it.each([".", ".."])('refuses the task id "%s"', (id) => {
    const error = caught(() => dag("ok", {}, () => void new EmptyOperator({ taskId: id })));
    expect(error.code).toBe("invalid_task_id");
  });

  it.each([".", ".."])('refuses the run id "%s"', async (id) => {
    const store = await openStore(path.join(home, `ids-${id.length}.db`), { home });
    try {
      await expect(triggerRun(store, makeDag("d", [{ id: "a" }]), { runId: id })).rejects.toMatchObject({ code: "invalid_run_id" });
    } finally {
      await store.close();
    }
  });

  it("refuses an empty --run-id on the command line (it used to mean the default)", async () => {
    const dagFile = path.join(home, "empty-run-id.mts");
    writeFileSync(dagFile, 'import { dag, EmptyOperator } from "venvflow";\nexport default dag("e", {}, () => { new EmptyOperator({ taskId: "t" }); });\n');
    const r = await runCli(["run", dagFile, "--run-id", ""], { env: { ...process.env, VENVFLOW_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('run id "" may only contain');
  });

  it("never builds a log path outside VENVFLOW_HOME/logs", () => {
    expect(taskLogPath(home, "d", "r", "t", 1)).toBe(path.join(home, "logs", "d", "r", "t.attempt=1.log"));
    for (const [dagId, runId, taskId] of [["..", "..", "t"], ["d", "..", ".."], ["a/../../..", "r", "t"], ["/etc", "r", "t"]] as const) {
      expect(() => taskLogPath(home, dagId, runId, taskId, 1)).toThrow(expect.objectContaining({ code: "invalid_path_id" }));
    }
  });

  it("pathInside accepts nested ids and refuses escapes", () => {
    expect(pathInside(home, "a.b", "c-d")).toBe(path.join(home, "a.b", "c-d"));
    expect(() => pathInside(home, "x", "../../y")).toThrow(/would lead outside/);
  });
});
