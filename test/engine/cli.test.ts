import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDag } from "../../src/dag/loader.ts";
import { triggerRun } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import { REPO_ROOT, runCli } from "../support/cli.ts";
import { sleep } from "./fixtures/dags.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-cli-engine-"));
// The default store: the SQLite file in this VENVFLOW_HOME, whatever the machine's environment says.
const env: NodeJS.ProcessEnv = { ...process.env, VENVFLOW_HOME: path.join(dir, "home") };
delete env.VENVFLOW_DATABASE_URL;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The CLI runs from the repo root (its --import tsx resolves there); DAG files live in the temp dir.
const cli = (...args: string[]) => runCli(args, { env });
const file = (name: string, source: string): string => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, source);
  return p;
};

const FLOW = file(
  "flow.mts",
  `import { dag, task } from "venvflow";
dag("flow", { schedule: "@daily", params: { n: 2 }, description: "numbers" }, () => {
  const extract = task(function extract(ctx) { return [1, 2, 3].map((x) => x * ctx.params.n); });
  const total = task({ retries: 1, retryDelay: 0 }, function total(xs) { return xs.reduce((a, b) => a + b, 0); });
  total(extract());
});
`,
);
const FAILING = file(
  "failing.mts",
  `import { dag, task } from "venvflow";
dag("failing", {}, () => {
  const bad = task(function bad() { throw new Error("no database today"); });
  const after = task(function after(x) { return x; });
  after(bad());
});
`,
);
const SLOW = file(
  "slow.mts",
  `import { dag, task } from "venvflow";
dag("slow", {}, () => {
  task(async function slow() { for (let i = 0; i < 6; i++) { console.log("tick " + i); await new Promise((r) => setTimeout(r, 150)); } return "done"; })();
});
`,
);

describe("venvflow run / test / dags / runs / logs", () => {
  it("run: live states on stderr, a summary table, exit 0; --json with params overridden by --conf", async () => {
    const text = await cli("run", FLOW);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/TASK\s+STATE\s+TRY\s+DURATION/);
    expect(text.stdout).toMatch(/^extract\s+success\s+1/m);
    expect(text.stdout).toMatch(/Run manual__\S+ of flow: success/);
    expect(text.stderr).toMatch(/extract: running \(try 1\)[\s\S]*total: success/);

    const json = await cli("run", FLOW, "--json", "--conf", '{"n": 10}', "--logical-date", "2026-02-03T10:00:00Z");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      dagId: "flow",
      runId: "manual__2026-02-03T10:00:00.000Z",
      state: "success",
      dataIntervalStart: "2026-02-02T00:00:00.000Z",
      dataIntervalEnd: "2026-02-03T00:00:00.000Z",
      tasks: [
        { taskId: "extract", state: "success", tryNumber: 1, returnValue: [10, 20, 30], error: null },
        { taskId: "total", state: "success", tryNumber: 1, returnValue: 60, error: null },
      ],
    });
  });

  it("run: exit 1 when the run fails, naming the error; bad --conf is a clear error", async () => {
    const failed = await cli("run", FAILING);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^bad\s+failed\s+1\s+\S+\s+Error: no database today/m);
    expect(failed.stdout).toMatch(/Run \S+ of failing: failed/);
    const bad = await cli("run", FLOW, "--conf", "[1]", "--json");
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: "invalid_conf" } });
  });

  it("test: one task with upstream results from the latest run, or a clear error when there is none", async () => {
    // The latest run by logical date is the first one (now, n=2), not the backdated one with n=10.
    const ok = await cli("test", FLOW, "total", "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ state: "success", returnValue: 12 });
    const missing = await cli("test", FAILING, "after");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/task "after" needs "bad"\."return_value" \(task failed\) from the latest run "manual__/);
    const none = await cli("test", SLOW, "nope");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/DAG "slow" has no task "nope"[\s\S]*fix: use one of: slow/);
  });

  it("dags list and show, with load errors reported and exit 1", async () => {
    const broken = path.join(dir, "broken");
    file("broken/ok.mts", `import { dag, task } from "venvflow";\ndag("fine", {}, () => { task(function a() { return 1; })(); });\n`);
    file("broken/bad.mts", `throw new Error("syntax? no, boom");\n`);
    const listed = await cli("dags", "list", broken);
    expect(listed.code).toBe(1);
    expect(listed.stdout).toMatch(/^fine\s+1\s+-\s+/m);
    expect(listed.stderr).toMatch(/bad\.mts.*boom/);
    const json = JSON.parse((await cli("dags", "list", broken, "--json")).stdout) as { dags: { dagId: string }[]; errors: { file: string }[] };
    expect(json.dags.map((d) => d.dagId)).toEqual(["fine"]);
    expect(json.errors).toHaveLength(1);
    const shown = await cli("dags", "show", FLOW);
    expect(shown.stdout).toMatch(/^flow — numbers/);
    expect(shown.stdout).toMatch(/extract\s+\[python\] → total/);
    expect(shown.stdout).toMatch(/total\s+\[python, retries=1\]/);
  });

  it("runs list / show, and logs of a try", async () => {
    const runs = JSON.parse((await cli("runs", "list", "--dag", "flow", "--json")).stdout) as { runId: string; state: string }[];
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.every((r) => r.state === "success")).toBe(true);
    const shown = await cli("runs", "show", "manual__2026-02-03T10:00:00.000Z");
    expect(shown.stdout).toMatch(/Run manual__2026-02-03T10:00:00.000Z of flow: success/);
    expect(shown.stdout).toMatch(/conf\s+\{"n":10\}/);
    // extract printed nothing and succeeded: its try wrote no file, and its log reads as empty.
    const logs = await cli("logs", "manual__2026-02-03T10:00:00.000Z", "extract");
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe("");
    const noTry = await cli("logs", "manual__2026-02-03T10:00:00.000Z", "extract", "--try", "3");
    expect(noTry.code).toBe(1);
    expect(noTry.stderr).toMatch(/has no try 3/);
    const unknown = await cli("runs", "show", "nope");
    expect(unknown.stderr).toMatch(/no run "nope"/);
  });

  it("logs --follow prints a running try's lines until it ends", async () => {
    const run = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "src/cli/main.ts"), "run", SLOW, "--run-id", "follow_me"], { env, cwd: REPO_ROOT, stdio: "ignore" });
    const exited = new Promise((resolve) => run.once("exit", resolve));
    let followed = { code: 1, stdout: "", stderr: "" };
    for (let i = 0; i < 100; i++) {
      followed = await cli("logs", "follow_me", "slow", "--follow");
      if (followed.code === 0) break;
      await sleep(100);
    }
    await exited;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/Starting try 1[\s\S]*Marking task as SUCCESS/);
  });

  it("worker: works on runs triggered elsewhere until SIGTERM, then exits 0", async () => {
    const store = await openStore(undefined, { home: env.VENVFLOW_HOME! });
    const worker = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "src/cli/main.ts"), "worker", dir, "--slots", "2"], { env, cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    worker.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once("exit", resolve));
    try {
      const dag = await loadDag(FLOW);
      const run = await triggerRun(store, dag, { runId: "from_elsewhere", conf: { n: 5 } });
      let state = run.state as string;
      for (let i = 0; i < 300 && state !== "success" && state !== "failed"; i++) {
        await sleep(100);
        state = (await store.db.selectFrom("dag_run").select("state").where("run_id", "=", "from_elsewhere").executeTakeFirstOrThrow()).state;
      }
      expect(state).toBe("success");
      const total = await store.db.selectFrom("xcom").select("value").where("run_id", "=", "from_elsewhere").where("task_id", "=", "total").executeTakeFirstOrThrow();
      expect(JSON.parse(total.value)).toBe(30);
      worker.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/worker \S+: \d+ DAG\(s\), 2 slot\(s\)[\s\S]*flow\.total \(from_elsewhere\): success[\s\S]*stopping/);
    } finally {
      worker.kill("SIGKILL");
      await store.close();
    }
  });
});
