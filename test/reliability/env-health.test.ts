/** Issue #9.11: an environment whose interpreter disappeared is reported and rebuilt, not a `spawn … ENOENT`. */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, symlink, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureEnvironment, listEnvironments } from "../../src/env/index.ts";
import type { BuildProgress, EnvSpecInput } from "../../src/env/types.ts";
import { testPipEnv } from "../support/pypi.ts";

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-health-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const spec = (): EnvSpecInput => ({ installer: "pip", pythonVersion: "3", requirements: ["vf-alpha==1.0.0"], indexUrls: [inject("indexUrl")] });

describe("environment health", () => {
  it("an environment whose bin/python was deleted is listed as broken and rebuilt on next use", async () => {
    const env = await ensureEnvironment(spec(), { home, env: testPipEnv() });
    await unlink(env.python);
    const [listed] = await listEnvironments({ home });
    expect(listed?.problem).toMatch(/interpreter .*bin\/python is missing/);

    const events: BuildProgress[] = [];
    const rebuilt = await ensureEnvironment(spec(), { home, env: testPipEnv(), onProgress: (e) => events.push(e) });
    expect(rebuilt.key).toBe(env.key);
    expect(events.map((e) => e.message)).toContainEqual(expect.stringMatching(/^rebuilding: its interpreter .* is missing/));
    expect(execFileSync(rebuilt.python, ["-c", "import vf_alpha; print(vf_alpha.__version__)"], { encoding: "utf8" }).trim()).toBe("1.0.0");
    expect((await listEnvironments({ home }))[0]?.problem).toBeUndefined();
  });

  it("an interpreter link left dangling by an uninstalled base Python is named as such", async () => {
    const env = await ensureEnvironment(spec(), { home, env: testPipEnv() });
    await unlink(env.python);
    await symlink("/nonexistent/python3.99", env.python);
    const [listed] = await listEnvironments({ home });
    expect(listed?.problem).toMatch(/no longer exists \(the base Python was uninstalled\)/);
  });
});
