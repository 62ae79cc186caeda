/**
 * #10 items 4 and 5, in doctor and in the post-mortem alike: a module-level import the callable does not use (the
 * seed's lesson: move it into the function that uses it, or split the module), and an environment variable that is
 * set where venvflow runs but not passed to a task with inheritEnv false.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { diagnoseTasks, explainFailure, type PythonTaskInput } from "../../src/doctor/index.ts";
import { runCallable } from "../../src/runtime/index.ts";
import type { CallableOptions } from "../../src/runtime/types.ts";
import { testPipEnv } from "../support/pypi.ts";

const PY_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "py");
const options = () => ({ home: inject("sharedHome"), env: testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }) });
const input = (taskId: string, callable: string, extra: Partial<PythonTaskInput> = {}): PythonTaskInput => ({
  dagId: "ux",
  taskId,
  file: path.join(PY_DIR, "dag.ts"),
  pythonCallable: callable,
  baseDir: PY_DIR,
  pythonVersion: "3",
  ...extra,
});

/** runCallable with the shared home, the hermetic index in this process's environment and `vars` set in it. */
async function call(options: Partial<CallableOptions>, vars: Record<string, string> = {}) {
  const logPath = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "vf-ux-pm-")), "call.jsonl");
  const previous = { ...process.env };
  Object.assign(process.env, testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }), vars);
  try {
    return await runCallable({ pythonCallable: "x.py:f", baseDir: PY_DIR, home: inject("sharedHome"), logPath, pythonVersion: "3", explainFailure, ...options });
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in previous)) delete process.env[key];
    Object.assign(process.env, previous);
    await fs.rm(path.dirname(logPath), { recursive: true, force: true });
  }
}

const NOTE = "the import is at module level of shared_module.py:3 and unused by the callable summarize";
const MOVE = 'or move "import vf_beta" into the function that uses it (or split the module) so that summarize does not import it';

describe("a module-level import the callable does not use", () => {
  it("doctor names FILE:LINE, says the callable does not use it, and offers both fixes", async () => {
    const findings = await diagnoseTasks([input("summarize", "shared_module.py:summarize"), input("enrich", "shared_module.py:enrich")], options());
    const summarize = findings.find((f) => f.taskId === "summarize");
    expect(summarize).toMatchObject({ code: "module_not_installed", line: 3 });
    expect(summarize!.message).toContain(NOTE);
    expect(summarize!.fix).toBe(`add "vf-beta" to requirements, ${MOVE}`);
    // enrich does use it: the plain fix only.
    const enrich = findings.find((f) => f.taskId === "enrich");
    expect(enrich).toMatchObject({ code: "module_not_installed", fix: 'add "vf-beta" to requirements' });
  });

  it("the post-mortem of the failed call says the same", async () => {
    const result = await call({ pythonCallable: "shared_module.py:summarize", opArgs: [[1, 2]] });
    expect(result.state).toBe("failed");
    expect(result.error?.type).toBe("ModuleNotFoundError");
    expect(result.error?.message).toContain(NOTE);
    expect(result.error?.fix).toMatch(/^add "vf-beta" to requirements/);
    expect(result.error?.fix).toContain(MOVE);
    const used = await call({ pythonCallable: "shared_module.py:enrich", opArgs: [[1]] });
    expect(used.error?.message).not.toContain("unused by the callable");
  });
});

describe("environment variables a task is not given", () => {
  it("doctor warns for each variable read without a default while inheritEnv is false and envVars lacks it", async () => {
    const findings = await diagnoseTasks(
      [
        input("isolated", "reads_env.py:token_for", { inheritEnv: false, envVarNames: ["VF_UX_REGION"] }),
        input("inherits", "reads_env.py:token_for"),
      ],
      options(),
    );
    const isolated = findings.filter((f) => f.taskId === "isolated");
    expect(isolated).toEqual([
      expect.objectContaining({
        code: "env_var_not_passed",
        severity: "warning",
        line: 6,
        message: "token_for reads the environment variable VF_UX_TOKEN (line 6), but inheritEnv is false and envVars does not set it: os.environ[...] will raise KeyError",
        fix: expect.stringMatching(/^add VF_UX_TOKEN to envVars .*, or set inheritEnv: true$/),
      }),
    ]);
    expect(findings.filter((f) => f.taskId === "inherits")).toEqual([]);
  });

  it("the KeyError of a variable set where venvflow runs but not passed is explained", async () => {
    const result = await call({ pythonCallable: "reads_env.py:token_for", opArgs: ["db"], inheritEnv: false }, { VF_UX_TOKEN: "s3cr3t" });
    expect(result.state).toBe("failed");
    expect(result.error).toMatchObject({ type: "KeyError", code: "env_var_not_passed", fix: "add VF_UX_TOKEN to envVars (or { secret: … } when it is one), or set inheritEnv: true" });
    expect(result.error?.message).toContain("VF_UX_TOKEN is set where venvflow runs but not passed to the task");
    // Not set anywhere: a plain KeyError, no claim about the parent.
    const unset = await call({ pythonCallable: "reads_env.py:token_for", opArgs: ["db"], inheritEnv: false });
    expect(unset.error).toMatchObject({ type: "KeyError" });
    expect(unset.error?.code).toBeUndefined();
  });
});
