/** `venvflow doctor` and `venvflow env why` from the shell, and doctor on a folder of 50 Python tasks. */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { doctor } from "../../src/doctor/index.ts";
import { runCli } from "../support/cli.ts";
import { testPipEnv } from "../support/pypi.ts";
import { anyPython, versionOf } from "../support/pythons.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

function cliEnv(): NodeJS.ProcessEnv {
  return testPipEnv({ PIP_INDEX_URL: inject("indexUrl"), VENVFLOW_HOME: inject("sharedHome") });
}

describe("venvflow doctor", () => {
  it("exits 1 with each finding, its location and its fix", async () => {
    const { code, stdout } = await runCli(["doctor", path.join(FIXTURES, "broken", "missing-module.ts")], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stdout).toContain("error[module_not_installed] missing_module.t ");
    expect(stdout).toMatch(/tasks\.py:12\n/);
    expect(stdout).toContain('fix: add "vf-alpha" to requirements');
    expect(stdout).toContain("1 error, 0 warnings in 1 Python task (1 DAG)");
  });

  it("--json prints the report; exit 0 when only warnings remain", async () => {
    const { code, stdout } = await runCli(["doctor", path.join(FIXTURES, "broken", "optional-import.ts"), "--json"], { env: cliEnv() });
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { findings: { code: string; severity: string; fix: string }[]; errors: number; warnings: number };
    expect(report.errors).toBe(0);
    expect(report.warnings).toBe(1);
    expect(report.findings[0]).toMatchObject({ code: "optional_module_missing", severity: "warning", fix: 'add "vf-gamma" to requirements if the task should use it' });
  });

  it("exits 0 on clean DAGs", async () => {
    const { code, stdout } = await runCli(["doctor", path.join(FIXTURES, "clean", "declared.ts")], { env: cliEnv() });
    expect(stdout).toContain("0 errors, 0 warnings in 1 Python task (1 DAG)");
    expect(code).toBe(0);
  });

  it("a missing path is an error with a fix", async () => {
    const { code, stderr } = await runCli(["doctor", "/nonexistent/dags"], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stderr).toContain("no DAG file or folder at /nonexistent/dags");
  });
});

describe("venvflow env why", () => {
  const file = (name: string) => path.join(FIXTURES, name);

  it("a module from the task's environment names the distribution", async () => {
    const { code, stdout } = await runCli(["env", "why", file("clean/yamlish-declared.ts"), "t", "yamlish"], { env: cliEnv() });
    expect(stdout).toMatch(/clean_yamlish\.t: yamlish is provided by vf-yamlish 1\.0\.0 in environment [0-9a-f]{12}/);
    expect(code).toBe(0);
  });

  it("stdlib and local modules", async () => {
    const stdlib = await runCli(["env", "why", file("clean/stdlib-local.ts"), "t", "collections.abc", "--json"], { env: cliEnv() });
    expect(JSON.parse(stdlib.stdout).origin).toMatchObject({ source: "stdlib", visible: true });
    const local = await runCli(["env", "why", file("clean/stdlib-local.ts"), "t", "localhelper", "--json"], { env: cliEnv() });
    expect(JSON.parse(local.stdout).origin).toMatchObject({ source: "local", visible: true, location: path.join(FIXTURES, "py", "localhelper.py") });
  });

  it("host only: exit 1, and the fix", async () => {
    const { code, stdout } = await runCli(["env", "why", file("broken/host-only-pip.ts"), "t", "pip"], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stdout).toContain("pip is installed on the host (pip ");
    expect(stdout).toContain('fix: add "pip" to requirements (or set systemSitePackages: true)');
  });

  it("the host's copy, seen through systemSitePackages", async () => {
    const { code, stdout } = await runCli(["env", "why", file("clean/host-visible.ts"), "t", "pip", "--json"], { env: cliEnv() });
    expect(code).toBe(0);
    expect(JSON.parse(stdout).origin).toMatchObject({ source: "host", visible: true, distribution: "pip" });
  });

  it("a module nobody provides names the distribution that would", async () => {
    const { code, stdout } = await runCli(["env", "why", file("broken/import-name-differs.ts"), "t", "yamlish"], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stdout).toContain('fix: add "vf-yamlish" to requirements');
  });

  it("an environment that cannot be built: the findings say why", async () => {
    const { code, stdout } = await runCli(["env", "why", file("broken/version-not-found.ts"), "t", "vf_alpha"], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stdout).toContain("error[version_not_found]");
  });

  it("never shows index credentials", async () => {
    const { code, stdout } = await runCli(["env", "why", file("clean/private-index.ts"), "t", "json", "--json"], { env: cliEnv() });
    expect(code).toBe(0);
    expect(stdout).not.toContain("hunter22");
    expect(JSON.parse(stdout).task.indexUrls).toEqual(["http://ci:***@127.0.0.1:9/simple/"]);
  });

  it("an unknown task id lists the Python tasks", async () => {
    const { code, stderr } = await runCli(["env", "why", file("broken/combined.ts"), "nope", "x"], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stderr).toContain('has no Python task "nope"');
    expect(stderr).toContain("combined.free_and_missing, combined.bad_requirement, combined.uses_yamlish");
  });
});

describe("an import failure from the shell", () => {
  it("venvflow call prints the explanation and the fix", async () => {
    const callable = path.join(FIXTURES, "py", "tasks.py:uses_yamlish");
    const { code, stderr } = await runCli(["call", callable, "--python", "3"], { env: cliEnv() });
    expect(code).toBe(1);
    expect(stderr).toMatch(/failed: ModuleNotFoundError \(module_(not_installed|in_other_environment)\): No module named 'yamlish'\nNo module named 'yamlish' in environment [0-9a-f]{12} \(Python \d+\.\d+\.\d+, /);
    expect(stderr).toContain(`(Python ${versionOf(anyPython)}, `);
    expect(stderr).toContain("no requirement declares it");
    expect(stderr).toContain('fix: add "vf-yamlish" to requirements (the distribution that provides yamlish)');
  });
});

describe("doctor on a folder of 50 Python tasks", () => {
  it("analyzes every callable in one batched process per interpreter", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vf-doctor-50-"));
    const py = ["import json", "", ...Array.from({ length: 50 }, (_, i) => `def task_${i}(x=${i}):\n    import collections\n    import vf_alpha\n    return json.dumps([x, vf_alpha.add(x, 1)])\n`)].join("\n");
    await fs.writeFile(path.join(dir, "tasks.py"), py);
    for (let d = 0; d < 5; d++) {
      const tasks = Array.from({ length: 10 }, (_, i) => `  new PythonVirtualenvOperator({ taskId: "t${i}", pythonCallable: "tasks.py:task_${d * 10 + i}", requirements: ["vf-alpha"], pythonVersion: "3" });`);
      await fs.writeFile(path.join(dir, `dag_${d}.mts`), `import { dag, PythonVirtualenvOperator } from "venvflow";\n\ndag("many_${d}", { schedule: null }, () => {\n${tasks.join("\n")}\n});\n`);
    }
    const options = { home: inject("sharedHome"), env: testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }) };
    await doctor(dir, options); // builds the one shared environment if no earlier test did
    const started = performance.now();
    const report = await doctor(dir, options);
    console.log(`doctor: ${report.tasks} Python tasks in ${report.dags} DAG files, cached environment: ${Math.round(performance.now() - started)} ms`);
    expect(report.tasks).toBe(50);
    expect(report.findings).toEqual([]);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
