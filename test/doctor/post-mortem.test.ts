/**
 * Post-mortem: a task that fails with ModuleNotFoundError / ImportError carries the explanation (environment,
 * where the module does exist, whether it was declared, the fix) through runCallable's result and log.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { loadDags } from "../../src/dag/loader.ts";
import { explainFailure, explainImportFailure, failedModule } from "../../src/doctor/index.ts";
import { runDag } from "../../src/engine/index.ts";
import { ensureEnvironment } from "../../src/env/index.ts";
import { runCallable } from "../../src/runtime/index.ts";
import { openStore } from "../../src/store/index.ts";
import { testPipEnv } from "../support/pypi.ts";
import { preferredPython } from "../support/pythons.ts";

/** The version is incidental: the newest installed Python. */
const PYTHON = "3";

/** runCallable with the shared home; the hermetic index reaches pip through PIP_INDEX_URL in this process. */
async function run(source: string, extra: { requirements?: string[]; systemSitePackages?: boolean; pythonVersion?: string; python?: string } = {}) {
  const logPath = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "vf-doctor-pm-")), "call.jsonl");
  const previous = { ...process.env };
  Object.assign(process.env, testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }));
  try {
    const result = await runCallable({
      pythonCallable: { source },
      home: inject("sharedHome"),
      logPath,
      explainFailure,
      ...(extra.python ? { python: extra.python } : { pythonVersion: extra.pythonVersion ?? PYTHON }),
      ...(extra.requirements ? { requirements: extra.requirements } : {}),
      ...(extra.systemSitePackages !== undefined ? { systemSitePackages: extra.systemSitePackages } : {}),
    });
    return { result, log: await fs.readFile(logPath, "utf8") };
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in previous)) delete process.env[key];
    Object.assign(process.env, previous);
  }
}

describe("failedModule", () => {
  it("reads the module out of Python's messages", () => {
    expect(failedModule({ type: "ModuleNotFoundError", message: "No module named 'yaml'" })).toEqual({ module: "yaml" });
    expect(failedModule({ type: "ModuleNotFoundError", message: "No module named 'vf_alpha.sub'" })).toEqual({ module: "vf_alpha.sub" });
    expect(failedModule({ type: "ImportError", message: "cannot import name 'nope' from 'vf_alpha' (/x/vf_alpha/__init__.py)" })).toEqual({ module: "vf_alpha", name: "nope" });
    expect(failedModule({ type: "ValueError", message: "No module named 'yaml'" })).toBeNull();
  });
});

describe("import failures explained by runCallable", () => {
  it("a module no requirement declares, that another venvflow environment has: names that environment and the fix", async () => {
    const other = await ensureEnvironment({ pythonVersion: PYTHON, requirements: ["vf-gamma"] }, { home: inject("sharedHome"), env: testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }) });
    const { result, log } = await run("def f():\n    import vf_gamma\n    return 1\n");
    expect(result.state).toBe("failed");
    expect(result.error?.type).toBe("ModuleNotFoundError");
    expect(result.error?.code).toBe("module_in_other_environment");
    expect(result.error?.message).toContain("No module named 'vf_gamma'");
    expect(result.error?.message).toContain(`environment ${result.env.key?.slice(0, 12)}`);
    expect(result.error?.message).toContain("no requirement declares it");
    expect(result.error?.message).toContain(other.key.slice(0, 12));
    expect(result.error?.fix).toBe('add "vf-gamma" to requirements');
    // The log carries the explanation too (and, through the engine, the store).
    expect(log).toContain("no requirement declares it");
  });

  it("a module only the host has, with systemSitePackages false", async () => {
    const { result } = await run("def f():\n    import pip\n    return pip.__version__\n");
    expect(result.error?.code).toBe("module_host_only");
    expect(result.error?.message).toMatch(/pip \S+ is installed on the host .*, but systemSitePackages is false/);
    expect(result.error?.fix).toBe('add "pip" to requirements, or set systemSitePackages: true to use the host\'s copy');
  });

  it("a module nobody has: the fix names the distribution, not the import name", async () => {
    const { result } = await run("def f():\n    import sklearn\n    return 1\n");
    expect(result.error?.code).toBe("module_not_installed");
    expect(result.error?.fix).toBe('add "scikit-learn" to requirements (the distribution that provides sklearn)');
  });

  it("a name missing from an installed module: a version problem, not a missing package", async () => {
    const { result } = await run("def f():\n    from vf_alpha import main\n    return 1\n", { requirements: ["vf-alpha==1.0.0"] });
    expect(result.error?.type).toBe("ImportError");
    expect(result.error?.code).toBe("import_name_missing");
    expect(result.error?.message).toContain("vf-alpha 1.0.0");
    expect(result.error?.fix).toContain("pin the version of vf-alpha that provides main");
  });

  it("an external interpreter: the fix installs into it", async () => {
    const python = preferredPython;
    const { result } = await run("def f():\n    import vf_beta\n    return 1\n", { python });
    expect(result.error?.code).toMatch(/^module_(not_installed|in_other_environment)$/);
    expect(result.error?.message).toContain(`interpreter ${python}`);
  });

  it("other failures are left as they are", async () => {
    const { result } = await run("def f():\n    raise ValueError('plain')\n");
    expect(result.error?.type).toBe("ValueError");
    expect(result.error?.code).toBeUndefined();
  });
});

describe("through the engine", () => {
  it("the stored task error carries the code, the explanation and the fix", async () => {
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "broken", "import-name-differs.ts");
    const { dags } = await loadDags(file);
    const store = await openStore("sqlite::memory:");
    const previous = { ...process.env };
    Object.assign(process.env, testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }));
    try {
      const summary = await runDag(dags[0]!, { store, home: inject("sharedHome"), pollIntervalMs: 20 });
      const task = summary.tasks.find((t) => t.taskId === "t");
      expect(task?.state).toBe("failed");
      expect(task?.error?.code).toMatch(/^module_(not_installed|in_other_environment)$/);
      expect(task?.error?.message).toContain("no requirement declares it");
      expect(task?.error?.fix).toBe('add "vf-yamlish" to requirements (the distribution that provides yamlish)');
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in previous)) delete process.env[key];
      Object.assign(process.env, previous);
      await store.close();
    }
  });
});

describe("explainImportFailure", () => {
  it("is null for errors that are not import failures", async () => {
    expect(await explainImportFailure({ error: { type: "KeyError", message: "'x'" }, env: { key: null, path: "/", python: preferredPython } })).toBeNull();
  });

  it("says when the declared requirement is named after the import", async () => {
    const explained = await explainImportFailure({
      error: { type: "ModuleNotFoundError", message: "No module named 'sklearn'" },
      env: { key: null, path: "/nonexistent", python: preferredPython },
      requirements: ["sklearn"],
      home: inject("sharedHome"),
    });
    expect(explained?.code).toBe("requirement_provides_other_modules");
    expect(explained?.fix).toBe('require "scikit-learn" instead of "sklearn"');
  });
});
