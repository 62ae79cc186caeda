import { spawn } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runCli } from "../support/cli.ts";
import { testPipEnv } from "../support/pypi.ts";
import { FIXTURE_DAGS, enc, waitFor } from "./helpers.ts";

let root: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "venvflow-server-cli-"));
  await cp(FIXTURE_DAGS, path.join(root, "dags"), { recursive: true });
  env = testPipEnv({ VENVFLOW_HOME: path.join(root, "home"), VENVFLOW_DATABASE_URL: path.join(root, "home", "venvflow.db") });
  delete env.VENVFLOW_SERVER_TOKEN;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("venvflow server (CLI)", () => {
  it("prints its URL, serves, and on SIGTERM lets the running try finish before exiting", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "src/cli/main.ts"), "server", path.join(root, "dags"), "--port", "0", "--slots", "2"], { env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      const url = await waitFor("the printed URL", async () => /venvflow server: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)?.[1], 90_000);
      const get = async (p: string): Promise<any> => (await fetch(new URL(p, url))).json(); // eslint-disable-line @typescript-eslint/no-explicit-any -- test-side JSON
      expect(await get("/api/health")).toEqual({ ok: true, store: "sqlite" });
      const triggered = await runCli(["trigger", "slow", "--json"], { env });
      expect(triggered.code, triggered.stderr).toBe(0);
      const runId = (JSON.parse(triggered.stdout) as { runId: string }).runId;
      await waitFor("tick to run", async () => (await get(`/api/dags/slow/runs/${enc(runId)}/tasks/tick`)).state === "running");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stderr).toContain("stopping: waiting for running tries");
      const summary = await runCli(["runs", "show", runId, "--json"], { env });
      const tick = (JSON.parse(summary.stdout) as { tasks: Array<{ taskId: string; state: string }> }).tasks.find((t) => t.taskId === "tick");
      expect(tick?.state).toBe("success");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("explains bad arguments", async () => {
    const port = await runCli(["server", path.join(root, "dags"), "--port", "http"], { env });
    expect(port.code).toBe(1);
    expect(port.stderr).toContain('--port must be a positive integer, got "http"');
    const folder = await runCli(["server", path.join(root, "nope"), "--port", "0"], { env });
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain("no DAG file or folder at");
    const conf = await runCli(["trigger", "shop", "--conf", '{"count": "many"}'], { env });
    expect(conf.code).toBe(1);
    expect(conf.stderr).toContain('param "count" of DAG "shop" is a number');
    const clear = await runCli(["clear", "shop", "no_such_run", "extract"], { env });
    expect(clear.code).toBe(1);
    expect(clear.stderr).toContain('no run "no_such_run" of DAG "shop"');
    const index = await runCli(["clear", "shop", "no_such_run", "extract", "--map-index", "-1"], { env });
    expect(index.code).toBe(1);
    expect(index.stderr).toContain('--map-index must be 0 or more, got "-1"');
  });
});
