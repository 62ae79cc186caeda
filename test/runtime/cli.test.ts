/** `venvflow call`, run as a real CLI process (Node runs the TypeScript sources directly). */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { CallableResult } from "../../src/runtime/types.ts";
import { testPipEnv } from "../support/pypi.ts";
import { anyPython, pythonOrSkip } from "../support/pythons.ts";
import { PYTHON, scratch, removeScratch, LAUNCH_MODES, useLaunchMode } from "./helpers.ts";

afterAll(removeScratch);

const python312 = pythonOrSkip("3.12", "`venvflow call --python 3.12`");

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await scratch();
  await writeFile(
    join(dir, "tasks.py"),
    "def add(a, b, c=0):\n    print('adding')\n    return a + b + c\n\ndef boom():\n    raise RuntimeError('boom')\n\ndef version():\n    import vf_alpha\n    return vf_alpha.__version__\n",
  );
});

function venvflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = testPipEnv({ VENVFLOW_HOME: inject("sharedHome"), ...(process.env.VENVFLOW_WARM === undefined ? {} : { VENVFLOW_WARM: process.env.VENVFLOW_WARM }) });
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, "call", ...args], { cwd: dir, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe.each(LAUNCH_MODES)("%s launcher", (mode) => {
  useLaunchMode(mode);

  describe("venvflow call", () => {
    it("runs FILE.py:function with --arg and --kwargs in an interpreter given by path, printing the value", async () => {
      const out = await venvflow(["tasks.py:add", "--python", PYTHON, "--arg", "1", "--arg", "2", "--kwargs", '{"c": 3}']);
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toBe(6);
      expect(out.stderr).toContain("stdout: adding");
    });

    it.skipIf(!python312)("builds an environment from --python VERSION, --requirement and --index-url; --json prints the CallableResult", async () => {
      const out = await venvflow(["tasks.py:version", "--python", "3.12", "-r", "vf-alpha==1.0.0", "--index-url", inject("indexUrl"), "--json"]);
      expect(out.code).toBe(0);
      const result = JSON.parse(out.stdout) as CallableResult;
      expect(result).toMatchObject({ state: "success", returnValue: "1.0.0", exitCode: 0 });
      expect(result.env.key).toMatch(/^[0-9a-f]+$/);
    });

    it("builds from an interpreter path when --python PATH comes with requirements", async () => {
      const out = await venvflow(["tasks.py:version", "--python", anyPython, "-r", "vf-alpha==1.1.0", "--index-url", inject("indexUrl"), "--json"]);
      expect(out.code).toBe(0);
      const result = JSON.parse(out.stdout) as CallableResult;
      expect(result.returnValue).toBe("1.1.0");
      expect(result.env.key).not.toBeNull();
      expect(result.env.python).not.toBe(anyPython);
    });

    it("exits 1 with the Python error when the callable fails", async () => {
      const out = await venvflow(["tasks.py:boom", "--python", PYTHON]);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("failed: RuntimeError: boom");
    });

    it("exits 1 with the error and its fix for a function that is not there", async () => {
      const out = await venvflow(["tasks.py:absent", "--python", PYTHON]);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("has no top-level function named absent");
      expect(out.stderr).toContain("fix: choose one of: add, boom, version");
    });

    it("exits 1 for an --arg that is not JSON", async () => {
      const out = await venvflow(["tasks.py:add", "--python", PYTHON, "--arg", "{oops"]);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("--arg ({oops) is not valid JSON");
      expect(out.stderr).toContain("fix: give JSON and quote it for the shell");
    });
  });
});
