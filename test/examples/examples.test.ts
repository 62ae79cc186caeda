// Every example in examples/ is run here, through the CLI, as a newcomer would run it.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { findPython } from "../../src/env/index.ts";
import { runCli } from "../support/cli.ts";
import { machinePipEnv, machineVersions } from "../support/machine-pip.ts";
import { testPipEnv } from "../support/pypi.ts";

interface RunJson {
  dagId: string;
  state: string;
  tasks: { taskId: string; state: string; returnValue: unknown; error: { type: string; message: string; fix?: string } | null }[];
}

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-examples-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** The examples declare no index: like users, they rely on pip's configuration, here the hermetic test index. */
async function run(file: string, env = testPipEnv({ VENVFLOW_HOME: home, PIP_INDEX_URL: inject("indexUrl") })): Promise<{ code: number; json: RunJson }> {
  const result = await runCli(["run", file, "--json"], { env });
  try {
    return { code: result.code, json: JSON.parse(result.stdout) as RunJson };
  } catch {
    throw new Error(`venvflow run ${file} printed no JSON:\n${result.stdout}\n${result.stderr}`);
  }
}

const task = (json: RunJson, id: string) => json.tasks.find((t) => t.taskId === id)!;

describe("examples", () => {
  it("hello: a Python task in its own environment feeds a TypeScript task", async () => {
    const { code, json } = await run("examples/hello/hello.ts");
    expect(code).toBe(0);
    expect(json.state).toBe("success");
    const greet = task(json, "greet").returnValue as { greeting: string; interpreter: string };
    expect(greet.greeting).toBe("Hello, venvflow!");
    expect(greet.interpreter.startsWith(path.join(home, "envs"))).toBe(true);
    expect(task(json, "announce").returnValue).toMatch(/^Hello, venvflow! \(Python 3\.\d+\.\d+\)$/);
  });

  it("seed 1: importing a package the environment lacks fails clearly", async () => {
    const { code, json } = await run("examples/seed/missing-package.ts");
    expect(code).toBe(1);
    const render = task(json, "render");
    expect(render.state).toBe("failed");
    expect(render.error?.type).toBe("ModuleNotFoundError");
    expect(render.error?.message).toMatch(/No module named 'tabulate' in environment [0-9a-f]{12} .*: no requirement declares it/);
    expect(render.error?.fix).toBe('add "tabulate" to requirements');
  });

  it("seed 2: the same callable with the package in requirements succeeds", async () => {
    const { code, json } = await run("examples/seed/with-requirements.ts");
    expect(code).toBe(0);
    expect(task(json, "render").returnValue).toMatch(/city\s+temperature[\s\S]*Paris\s+21[\s\S]*Oslo\s+9/);
  });

  it("seed 3: a host package is reached through systemSitePackages", async () => {
    const { code, json } = await run("examples/seed/system-site-packages.ts");
    expect(code).toBe(0);
    expect(task(json, "host_pip").returnValue).toMatch(/^\d+\.\d+/);
  });

  it("pipeline: numpy 1.26 and numpy 2 in one run, and a TypeScript report", async () => {
    const python = await findPython("3.11").catch(() => null);
    if (!python) {
      console.warn("examples/pipeline needs Python 3.11 (its numpy wheels are cp311): not run here");
      return;
    }
    // This example uses real numpy from pip's own configuration; a machine whose index lacks it cannot run it.
    const machineEnv = machinePipEnv(python.path);
    const versions = machineVersions(python.path, "numpy", machineEnv);
    if (!versions?.includes("1.26.4") || !versions.some((v) => /^2\.([1-9]|\d\d)/.test(v))) {
      console.warn(`pip's configured index has no numpy 1.26.4 and 2.1+ for Python 3.11 (found: ${versions?.join(", ") ?? "none"}): examples/pipeline not run`);
      return;
    }
    const reports = await mkdtemp(path.join(tmpdir(), "venvflow-reports-"));
    const { code, json } = await run("examples/pipeline/pipeline.ts", { ...machineEnv, VENVFLOW_HOME: home, VENVFLOW_REPORT_DIR: reports });
    expect(code).toBe(0);
    expect((task(json, "sensor_stats").returnValue as { numpy: string }).numpy).toBe("1.26.4");
    expect((task(json, "forecast").returnValue as { numpy: string }).numpy).toMatch(/^2\./);
    const report = await readFile(task(json, "report").returnValue as string, "utf8");
    expect(report).toMatch(/mean 4\.38, product 346\.5 \(numpy 1\.26\.4\)/);
    expect(report).toMatch(/forecast 6, 6\.65, 7\.3 \(numpy 2\./);
    await rm(reports, { recursive: true, force: true });
  });
});
