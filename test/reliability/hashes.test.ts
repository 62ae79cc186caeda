/**
 * Issue #9.12, found again by the probe: `--hash` lines (pip-compile --generate-hashes output) failed as invalid
 * requirements with venvflow's own installer (the default). They install, and a wrong hash fails naming the package.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureEnvironment } from "../../src/env/index.ts";
import { IndexClient } from "../../src/env/resolver/index.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { testPipEnv } from "../support/pypi.ts";

let home: string;
const indexUrl = inject("indexUrl");
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-hashes-"));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe("--hash lines with venvflow's installer", () => {
  it("install when the hash matches, and fail naming the package when it does not", async () => {
    const [file] = (await new IndexClient({ indexUrls: [indexUrl], cacheDir: null }).files("vf-alpha")).filter((f) => f.filename.startsWith("vf_alpha-1.0.0-"));
    const good = path.join(home, "good.txt");
    await writeFile(good, `vf-alpha==1.0.0 \\\n    --hash=sha256:${file?.sha256 as string}\n`);
    const env = await ensureEnvironment({ installer: "venvflow", pythonVersion: "3", requirements: good, indexUrls: [indexUrl] }, { home, env: testPipEnv() });
    expect(env.lock).toEqual([expect.objectContaining({ name: "vf-alpha", version: "1.0.0", sha256: file?.sha256 })]);

    const wrong = path.join(home, "wrong.txt");
    await writeFile(wrong, `vf-alpha==1.0.0 --hash=sha256:${"0".repeat(64)}\n`);
    const error = await ensureEnvironment({ installer: "venvflow", pythonVersion: "3", requirements: wrong, indexUrls: [indexUrl] }, { home, env: testPipEnv() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VenvflowError);
    expect((error as VenvflowError).details.reason).toBe("hash_mismatch");
    expect((error as VenvflowError).message).toContain("vf-alpha");
  }, 120_000);
});
