/**
 * runCallable building (or reusing) an environment: PythonVirtualenvOperator semantics over the hermetic index.
 * Environments live in the run's shared VENVFLOW_HOME, so identical specs across tests and files are cache hits.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { explainFailure } from "../../src/doctor/explain.ts";
import { removeEnvironment } from "../../src/env/index.ts";
import { prewarmCallable, runCallable, WarmPool } from "../../src/runtime/index.ts";
import type { CallableOptions } from "../../src/runtime/types.ts";
import { testPipEnv } from "../support/pypi.ts";
import { anyPython, pythonOrSkip, versionOf } from "../support/pythons.ts";
import { readLog, scratch, removeScratch, LAUNCH_MODES, useLaunchMode } from "./helpers.ts";

afterAll(removeScratch);

const home = inject("sharedHome");
const indexUrl = inject("indexUrl");
let saved: NodeJS.ProcessEnv;

// The installer inherits this process's environment: make it the hermetic one for this file (its own fork).
beforeAll(() => {
  saved = { ...process.env };
  const hermetic = testPipEnv();
  for (const key of Object.keys(process.env)) if (!(key in hermetic)) delete process.env[key];
  Object.assign(process.env, hermetic);
});
afterAll(() => {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, saved);
});

function run(source: string, options: Partial<CallableOptions> = {}) {
  return runCallable({ pythonCallable: { source }, pythonVersion: "3", indexUrls: [indexUrl], home, ...options });
}

const VERSION = "import vf_alpha\ndef f():\n    return vf_alpha.__version__\n";

describe.each(LAUNCH_MODES)("%s launcher", (mode) => {
  useLaunchMode(mode);

  describe("environments", () => {
    it("runs with no requirements (test_no_requirements)", async () => {
      const result = await run("import sys\ndef f():\n    return [sys.prefix != sys.base_prefix, sys.version_info[:2]]\n");
      expect(result).toMatchObject({ state: "success", returnValue: [true, versionOf(anyPython).split(".").slice(0, 2).map(Number)] });
      expect(result.env.key).toMatch(/^[0-9a-f]+$/);
      expect(result.env.python.startsWith(result.env.path)).toBe(true);
    });

    it.each([
      ["pinned", ["vf-alpha==1.0.0"], "1.0.0"],
      ["unpinned", ["vf-alpha"], "2.0.0"],
      ["range", ["vf-alpha>=1.0,<2"], "1.1.0"],
    ])("installs %s requirements (test_with_requirements_pinned, test_unpinned_requirements, test_range_requirements)", async (_label, requirements, version) => {
      expect((await run(VERSION, { requirements })).returnValue).toBe(version);
    });

    it("installs a requirements file relative to baseDir (test_requirements_file)", async () => {
      const dir = await scratch();
      await writeFile(join(dir, "requirements.txt"), "# pinned for the test\nvf-alpha==1.1.0\n");
      expect((await run(VERSION, { requirements: "requirements.txt", baseDir: dir })).returnValue).toBe("1.1.0");
    });

    for (const pythonVersion of ["3.9", "3.13"]) {
      it.skipIf(!pythonOrSkip(pythonVersion, `runtime's "uses pythonVersion ${pythonVersion}" case`))(`uses pythonVersion ${pythonVersion} rather than the default`, async () => {
        const result = await run("import sys\ndef f():\n    return '%d.%d' % sys.version_info[:2]\n", { pythonVersion });
        expect(result.returnValue).toBe(pythonVersion);
      });
    }

    it("hides the base interpreter's packages by default (test_no_system_site_packages)", async () => {
      const result = await run("def f():\n    import pip\n    return pip.__version__\n", { explainFailure });
      expect(result.state).toBe("failed");
      // Python's message first; the next line is doctor's explanation (the host has pip, the environment does not).
      expect(result.error).toMatchObject({ type: "ModuleNotFoundError", code: "module_host_only" });
      expect(result.error?.message.split("\n")[0]).toBe("No module named 'pip'");
    });

    it("shows them with systemSitePackages (test_system_site_packages)", async () => {
      const result = await run("def f():\n    import pip\n    return pip.__version__\n", { systemSitePackages: true });
      expect(result.state).toBe("success");
      expect(result.returnValue).toMatch(/^\d+\.\d+/);
    });

    it.each(["cloudpickle", "dill"] as const)("adds %s to the requirements for its serializer (test_add_cloudpickle, test_add_dill)", async (serializer) => {
      const source = `import ${serializer}\ndef f():\n    return {'lib': ${serializer}.__name__, 'fn': lambda x: x}\n`;
      const result = await run(source, { serializer });
      expect(result.state).toBe("success");
      const value = result.returnValue as { lib: string; fn: { serializer: string; type: string } };
      expect(value.lib).toBe(serializer);
      expect(value.fn).toMatchObject({ __venvflow__: "pickle", serializer, type: "function" });
      // The lambda survives the round trip into the next task.
      const next = await run("def f(holder):\n    return holder['fn'](21) * 2\n", { serializer, opArgs: [value] });
      expect(next.returnValue).toBe(42);
    });

    it("adds the serializer to a requirements file too", async () => {
      const dir = await scratch();
      await writeFile(join(dir, "requirements.txt"), "vf-alpha==1.0.0\n");
      const result = await run("import cloudpickle, vf_alpha\ndef f():\n    return vf_alpha.__version__\n", { requirements: "requirements.txt", baseDir: dir, serializer: "cloudpickle" });
      expect(result.returnValue).toBe("1.0.0");
    });

    it("fails with the builder's explanation when the environment cannot be built, without running the callable", async () => {
      const result = await run("def f():\n    print('ran')\n", { requirements: ["vf-alpha==9.9.9"] });
      expect(result.state).toBe("failed");
      expect(result.exitCode).toBeNull();
      expect(result.error).toMatchObject({ type: "VenvflowError", code: "env_build_failed" });
      expect(result.error?.message).toContain("vf-alpha");
      expect((await readLog(result.logPath)).some((l) => l.stream === "stdout")).toBe(false);
    });

    it("counts the environment build against executionTimeout", async () => {
      // pip's build takes seconds; venvflow's installer can link this one small wheel within the 50 ms.
      process.env.VENVFLOW_INSTALLER = "pip";
      const result = await run("def f():\n    print('ran')\n", { requirements: ["vf-gamma==0.5.0"], pythonVersion: "3", executionTimeout: "50ms" }).finally(() => delete process.env.VENVFLOW_INSTALLER);
      expect(result.state).toBe("failed");
      expect(result.error).toMatchObject({ code: "timeout" });
      expect((await readLog(result.logPath)).some((l) => l.stream === "stdout")).toBe(false);
    });

    it("masks index credentials in the log and the result", async () => {
      const password = "pa55-w0rd-xyz";
      const withCredentials = indexUrl.replace("http://", `http://builder:${password}@`);
      const result = await run(VERSION, { requirements: ["vf-alpha==1.0.0"], indexUrls: [withCredentials] });
      expect(result.returnValue).toBe("1.0.0");
      const log = JSON.stringify(await readLog(result.logPath));
      expect(log).not.toContain(password);
      expect(JSON.stringify(result)).not.toContain(password);
    });
  });
});

describe("warm interpreters and the environment cache", () => {
  it("a warm interpreter holds a lease on its environment, so it cannot be removed underneath it", async () => {
    const pool = new WarmPool();
    try {
      const result = await run(VERSION, { requirements: ["vf-alpha==1.0.0"], launcher: pool });
      expect(result.returnValue).toBe("1.0.0");
      await expect(removeEnvironment(result.env.key!, { home })).rejects.toMatchObject({ code: "env_in_use" });
      // The next attempt takes the memoised path: same environment, no new lease needed.
      expect((await run(VERSION, { requirements: ["vf-alpha==1.0.0"], launcher: pool })).env.key).toBe(result.env.key);
    } finally {
      await pool.close();
    }
  });

  it("prewarmCallable readies the environment and its zygote, with the callable's imports loaded, before any attempt", async () => {
    const pool = new WarmPool();
    try {
      const options = { pythonCallable: { source: "import decimal, vf_alpha\ndef f():\n    return vf_alpha.__version__\n" }, pythonVersion: "3", indexUrls: [indexUrl], home, requirements: ["vf-alpha==1.0.0"], launcher: pool };
      // Only what is built, unless asked to build.
      expect(await prewarmCallable({ ...options, requirements: ["vf-alpha==1.0.0", "vf-beta"] })).toBe(false);
      expect(pool.stats()).toEqual([]);
      expect(await prewarmCallable(options, { build: true })).toBe(true);
      const [zygote] = pool.stats();
      expect(zygote).toMatchObject({ forks: 0 });
      // Imported in the zygote already: decimal's C extension is mapped into it.
      expect(await readFile(`/proc/${zygote!.pid}/maps`, "utf8")).toContain("_decimal");
      const result = await runCallable(options);
      expect(result.returnValue).toBe("1.0.0");
      await expect(removeEnvironment(result.env.key!, { home })).rejects.toMatchObject({ code: "env_in_use" });
      expect(pool.stats()).toEqual([expect.objectContaining({ pid: zygote!.pid, forks: 1 })]);
      // Asked again, it finds it warm: nothing new starts.
      expect(await prewarmCallable(options)).toBe(true);
      expect(pool.stats()).toHaveLength(1);
      expect(await prewarmCallable({ ...options, launcher: undefined, warm: false })).toBe(false);
    } finally {
      await pool.close();
    }
  });
});
