/**
 * What a person reads (#10): the explanation and fix of a failure under the task in `run`, `runs show` and `logs`
 * (import failures and environment builds alike), return values and run order in summaries, `--latest` and partial
 * run ids, no colour when piped, `--json` on `logs` and `worker`, and the `call --arg` hint.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, inject, it } from "vitest";
import { colorsFor, paint } from "../../src/cli/common.ts";
import { REPO_ROOT, runCli } from "../support/cli.ts";
import { testPipEnv } from "../support/pypi.ts";
import { anyPython, versionOf } from "../support/pythons.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-cli-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Environments shared with the rest of the suite; runs in a store of this file's own.
const env = (): NodeJS.ProcessEnv => {
  const e = testPipEnv({ PIP_INDEX_URL: inject("indexUrl"), VENVFLOW_HOME: inject("sharedHome"), VENVFLOW_DATABASE_URL: `sqlite:${path.join(dir, "runs.db")}` });
  delete e.NO_COLOR;
  return e;
};
const cli = (...args: string[]) => runCli(args, { env: env() });
const file = (name: string, source: string): string => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, source);
  return p;
};

file(
  "tasks.py",
  `def needs_alpha(data):
    import vf_alpha
    return vf_alpha.__name__


def hello():
    return "hi"
`,
);
// Alphabetical order (a, m, z) is not the run order (z, a, m).
const MISSING = file(
  "missing.mts",
  `import { dag, task } from "venvflow";
dag("ux_missing", {}, () => {
  const zFirst = task(function z_first() { return { rows: 3, note: "a value long enough to be cut in the summary table" }; });
  const alpha = task.virtualenv({ taskId: "a_needs_alpha" }, "tasks.py:needs_alpha");
  const after = task(function m_after(x: unknown) { return x; });
  after(alpha(zFirst()));
});
`,
);
const BUILD = file(
  "build.mts",
  `import { dag, task } from "venvflow";
dag("ux_build", {}, () => {
  task.virtualenv({ taskId: "native", requirements: ["vf-native"], pythonVersion: "3" }, "tasks.py:hello")();
});
`,
);

const CONSOLE = file(
  "console.mts",
  `import { dag, task } from "venvflow";
dag("ux_console", {}, () => {
  const left = task(async function left() { console.log("from left", { n: 1 }); await new Promise((r) => setTimeout(r, 50)); console.error("left again"); return 1; });
  const right = task(async function right() { await new Promise((r) => setTimeout(r, 10)); console.info("from right"); return 2; });
  left();
  right();
});
`,
);

const ESC = "\u001b[";

describe("failures explained where the user looks", () => {
  it("run: the explanation and the fix under the failed task, tasks in run order with short return values, no colour when piped", async () => {
    const run = await cli("run", MISSING);
    expect(run.code).toBe(1);
    const rows = run.stdout.split("\n").filter((l) => /^(z_first|a_needs_alpha|m_after)\s/.test(l));
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(["z_first", "a_needs_alpha", "m_after"]);
    expect(rows[0]).toMatch(/^z_first\s+success\s+1\s+\S+\s+\{"rows":3,"note":"a value long enough t…$/);
    expect(run.stdout).toMatch(/^a_needs_alpha\s+failed\s+1\s+\S+\s+ModuleNotFoundError: No module named 'vf_alpha'\n {4}No module named 'vf_alpha' in environment [0-9a-f]{12} .*no requirement declares it\n {4}fix: add "vf-alpha" to requirements$/m);
    expect(run.stderr).toMatch(/a_needs_alpha: failed\n {4}ModuleNotFoundError \(module_not_installed\): No module named 'vf_alpha'\n[\s\S]*fix: add "vf-alpha" to requirements/);
    expect(run.stdout + run.stderr).not.toContain(ESC);
  });

  it("runs show --latest and a part of the run id: the same explanation and fix", async () => {
    const latest = await cli("runs", "show", "--latest", "--dag", "ux_missing");
    expect(latest.code).toBe(0);
    expect(latest.stdout).toMatch(/^Run manual__\S+ of ux_missing: failed/);
    expect(latest.stdout).toMatch(/^a_needs_alpha\s+failed[^\n]*\n {4}No module named 'vf_alpha' in environment [^\n]*\n {4}fix: add "vf-alpha" to requirements$/m);
    const runId = /^Run (\S+) of/.exec(latest.stdout)![1]!;
    const part = runId.slice(-13);
    const byPart = await cli("runs", "show", part);
    expect(byPart.stdout).toContain(`Run ${runId} of ux_missing`);
    const none = await cli("runs", "show");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no run id given\n {2}fix: pass a run id \(a unique part of it is enough\), or --latest/);
  });

  it("logs: the fix as a log line; --json; a task that never ran says why", async () => {
    const logs = await cli("logs", "--latest", "a_needs_alpha", "--dag", "ux_missing");
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/\nNo module named 'vf_alpha' in environment [0-9a-f]{12} /);
    expect(logs.stdout.trimEnd().split("\n").at(-1)).toMatch(/^\S+ system ERROR fix: add "vf-alpha" to requirements$/);
    const json = JSON.parse((await cli("logs", "--latest", "a_needs_alpha", "--dag", "ux_missing", "--json")).stdout) as { lines: { msg: string }[]; error: { code: string; fix: string } };
    expect(json.error).toMatchObject({ code: "module_not_installed", fix: 'add "vf-alpha" to requirements' });
    expect(json.lines.at(-1)).toMatchObject({ msg: 'fix: add "vf-alpha" to requirements' });
    const skipped = await cli("logs", "--latest", "m_after", "--dag", "ux_missing");
    expect(skipped.code).toBe(1);
    expect(skipped.stderr).toMatch(/task "m_after" of run "\S+" never ran because an upstream task failed, so it has no log\n {2}fix: find the failed upstream task with: venvflow runs show /);
    expect(skipped.stderr).not.toContain("wait until it runs");
  });

  it("an environment that cannot be built: the cause and the fix in run, runs show and logs", async () => {
    const run = await cli("run", BUILD);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/native: environment [0-9a-f]{12} install: /);
    // venvflow's installer (the default) names the only file the index has and why it does not fit.
    expect(run.stdout).toMatch(/^native\s+failed[^\n]*vf-native only as vf_native-1\.0\.0-cp39-cp39-win_amd64\.whl[^\n]*\n(?: {4}[^\n]*\n)* {4}fix: use a pythonVersion and platform one of those files supports/m);
    const shown = await cli("runs", "show", "--latest", "--dag", "ux_build");
    expect(shown.stdout).toMatch(/\n {4}fix: use a pythonVersion and platform one of those files supports/);
    const logs = await cli("logs", "--latest", "native", "--dag", "ux_build");
    expect(logs.stdout).toMatch(/system ERROR fix: use a pythonVersion and platform one of those files supports/);
  });

  it("env list --dags: which DAG task uses which environment", async () => {
    const shown = await cli("dags", "show", MISSING, "--json");
    const key = (JSON.parse(shown.stdout) as { tasks: { taskId: string; environment?: { key: string; built: boolean } }[] }).tasks.find((t) => t.taskId === "a_needs_alpha")!.environment!;
    expect(key.built).toBe(true);
    const listed = JSON.parse((await cli("env", "list", "--dags", MISSING, "--json")).stdout) as { key: string; usedBy?: string[]; requirements: string[] }[];
    expect(listed.find((e) => e.key === key.key)).toMatchObject({ usedBy: ["ux_missing.a_needs_alpha"], requirements: [] });
    const text = await cli("env", "list", "--dags", MISSING);
    expect(text.stdout).toMatch(new RegExp(`^${key.key.slice(0, 12)}\\s+3\\.\\d+\\.\\d+\\s+-\\s+.*ux_missing\\.a_needs_alpha$`, "m"));
  });

  it("dags show: each Python task's Python, requirements and environment", async () => {
    const shown = await cli("dags", "show", BUILD);
    expect(shown.stdout).toMatch(/native\s+\[python_virtualenv\]\n\s+Python \d+\.\d+\.\d+, vf-native → environment [0-9a-f]{12} \(not built yet\)/);
    expect(shown.stdout).toContain(`Python ${versionOf(anyPython)}, vf-native`);
  });
});

describe("the rest of what a person reads", () => {
  it("console.log of a TypeScript task goes to that task's log, not to the terminal", async () => {
    const run = await cli("run", CONSOLE);
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/from left|from right|left again/);
    const left = await cli("logs", "--latest", "left", "--dag", "ux_console");
    expect(left.stdout).toMatch(/ stdout from left \{ n: 1 \}\n[\s\S]* stderr left again\n/);
    expect(left.stdout).not.toContain("from right");
    const right = await cli("logs", "--latest", "right", "--dag", "ux_console");
    expect(right.stdout).toMatch(/ stdout from right\n/);
    expect(right.stdout).not.toContain("left");
  });

  it("colours only on a terminal, and never with NO_COLOR", () => {
    const tty = Object.assign(new Writable(), { isTTY: true }) as unknown as NodeJS.WriteStream;
    const pipe = new Writable() as unknown as NodeJS.WriteStream;
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      expect(colorsFor(tty)).toBe(true);
      expect(paint(tty)("red", "failed")).toBe(`${ESC}31mfailed${ESC}39m`);
      expect(paint(pipe)("red", "failed")).toBe("failed");
      process.env.NO_COLOR = "1";
      expect(paint(tty)("red", "failed")).toBe("failed");
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });

  it("worker --json: load errors as JSON lines, then the error as JSON", async () => {
    file("broken/bad.mts", `throw new Error("boom at import");\n`);
    const worker = await cli("worker", path.join(dir, "broken"), "--json");
    expect(worker.code).toBe(1);
    const [loadError = "", ...rest] = worker.stdout.split("\n");
    expect(JSON.parse(loadError)).toMatchObject({ type: "load_error", code: "dag_import_failed" });
    expect(JSON.parse(rest.join("\n"))).toMatchObject({ error: { code: "no_dags" } });
  });

  it("relative FILE.py: against the DAG file's folder in a DAG, the working directory for call; the resolved path when missing", async () => {
    const dagFile = file("nested/dag.mts", `import { dag, task } from "venvflow";\ndag("ux_paths", {}, () => { task.virtualenv({ taskId: "t" }, "py/missing.py:f")(); });\n`);
    const run = await cli("run", dagFile);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`Callable file ${path.join(dir, "nested", "py", "missing.py")} does not exist`);
    expect(run.stdout).toContain(`fix: check the path; relative paths resolve against ${path.join(dir, "nested")}`);
    // From another working directory: the built CLI (runCli's `--import tsx` resolves only from the repository).
    const fromDir = (args: string[]) => new Promise<{ stdout: string; stderr: string }>((resolve) => execFile(process.execPath, [path.join(REPO_ROOT, "bin", "venvflow.js"), ...args], { cwd: dir, env: env() }, (_e, stdout, stderr) => resolve({ stdout, stderr })));
    const found = await fromDir(["call", "tasks.py:hello", "--json"]);
    expect(JSON.parse(found.stdout)).toMatchObject({ state: "success", returnValue: "hi" });
    const missing = await fromDir(["call", "nested/missing.py:f"]);
    expect(missing.stderr).toContain(`error: Callable file ${path.join(dir, "nested", "missing.py")} does not exist\n  fix: check the path; relative paths resolve against ${dir}`);
  });

  it("call --arg that is not JSON: says which one and how to quote it", async () => {
    const call = await cli("call", `${path.join(dir, "tasks.py")}:needs_alpha`, "--arg", "1", "--arg", "{n: 3}");
    expect(call.code).toBe(1);
    expect(call.stderr).toMatch(/the 2nd --arg \(\{n: 3\}\) is not valid JSON/);
    expect(call.stderr).toContain(`fix: give JSON and quote it for the shell, e.g. --arg '{"n": 3}', --arg 3 or --arg '"text"'`);
    expect(call.stderr).not.toContain("#");
  });
});
