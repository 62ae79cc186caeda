/**
 * Issue #9.1: SIGTERM/SIGINT to `venvflow run` cancels its running tries — the Bash task's whole process group is
 * killed, the try is recorded failed (task_cancelled), the run fails with its other tasks skipped — and exits 130.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findRun, summarizeRun, taskTries } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import { isAlive } from "../../src/util/process.ts";
import { REPO_ROOT } from "../support/cli.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-signals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a signal to venvflow run", () => {
  it("kills the running tries' process groups, records them, fails the run and exits 130", async () => {
    const pids = path.join(dir, "pids");
    const dagFile = path.join(dir, "slow.mts");
    writeFileSync(
      dagFile,
      `import { BashOperator, dag, EmptyOperator } from "venvflow";
export default dag("slow", {}, () => {
  const sh = new BashOperator({ taskId: "sh", retries: 2, bashCommand: "echo $$ >> ${pids}; (sleep 60; echo grandchild) & echo $! >> ${pids}; wait" });
  sh.setDownstream(new EmptyOperator({ taskId: "after" }));
});
`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, VENVFLOW_HOME: path.join(dir, "home") };
    delete env.VENVFLOW_DATABASE_URL;
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "src/cli/main.ts"), "run", dagFile, "--run-id", "cancel_me"], { env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      for (let i = 0; i < 600 && !(existsSync(pids) && readFileSync(pids, "utf8").trim().split("\n").length >= 2); i++) await new Promise((r) => setTimeout(r, 50));
      const started = readFileSync(pids, "utf8").trim().split("\n").map(Number);
      expect(started.every(isAlive)).toBe(true);
      child.kill("SIGTERM");
      expect(await exited).toBe(130);
      expect(stderr).toContain("SIGTERM: cancelling the run's tries");
      // The command and the job it put in the background are gone: the group was killed.
      for (let i = 0; i < 100 && started.some(isAlive); i++) await new Promise((r) => setTimeout(r, 50));
      expect(started.filter(isAlive)).toEqual([]);
      const store = await openStore(undefined, { home: env.VENVFLOW_HOME! });
      try {
        const run = await findRun(store, "cancel_me");
        const summary = await summarizeRun(store, run.dag_id, run.run_id);
        expect(summary.state).toBe("failed");
        expect(Object.fromEntries(summary.tasks.map((t) => [t.taskId, t.state]))).toEqual({ after: "skipped", sh: "skipped" });
        const tries = await taskTries(store.db, "slow", "cancel_me", "sh");
        expect(tries).toHaveLength(1);
        expect(JSON.parse(tries[0]!.error!)).toMatchObject({ code: "task_cancelled" });
      } finally {
        await store.close();
      }
    } finally {
      child.kill("SIGKILL");
    }
  });
});
