import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { acquireEnvironment, ensureEnvironment, gcEnvironments, listEnvironments, removeEnvironment } from "../../src/env/index.ts";
import type { Environment } from "../../src/env/types.ts";
import { testPipEnv } from "../support/pypi.ts";

let home: string;
const DAY = 86_400_000;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-gc-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

async function envFor(requirement: string): Promise<Environment> {
  return ensureEnvironment({ installer: "pip", pythonVersion: "3", requirements: [requirement], indexUrls: [inject("indexUrl")] }, { home, env: testPipEnv() });
}

async function age(env: Environment, days: number): Promise<void> {
  const when = new Date(Date.now() - days * DAY);
  await utimes(path.join(env.path, ".venvflow", "last-used"), when, when);
}

describe("eviction", () => {
  it("tracks last use, evicts by age and by total size, least recently used first, never one in use", async () => {
    const old = await envFor("vf-alpha==1.0.0");
    const middle = await envFor("vf-alpha==1.1.0");
    const fresh = await envFor("vf-gamma");
    await age(old, 40);
    await age(middle, 10);

    const listed = await listEnvironments({ home });
    expect(listed.map((e) => e.key)).toEqual([fresh.key, middle.key, old.key]);

    const dry = await gcEnvironments({ home, olderThanMs: 30 * DAY, dryRun: true });
    expect(dry.removed.map((r) => r.key)).toEqual([old.key]);
    expect((await listEnvironments({ home })).length).toBe(3);

    const byAge = await gcEnvironments({ home, olderThanMs: 30 * DAY });
    expect(byAge.removed.map((r) => r.key)).toEqual([old.key]);
    expect((await listEnvironments({ home })).map((e) => e.key)).toEqual([fresh.key, middle.key]);

    // A task holds `middle`: a size limit that would evict everything keeps it.
    const lease = await acquireEnvironment({ installer: "pip", pythonVersion: "3", requirements: ["vf-alpha==1.1.0"], indexUrls: [inject("indexUrl")] }, { home, env: testPipEnv() });
    expect(lease.env.key).toBe(middle.key);
    await age(middle, 10); // acquiring counts as a use; make it the LRU again
    const bySize = await gcEnvironments({ home, maxTotalBytes: 0 });
    expect(bySize.kept).toEqual([{ key: middle.key, reason: expect.stringMatching(/in use by pid \d+/) as unknown as string }]);
    expect(bySize.removed.map((r) => r.key)).toEqual([fresh.key]);
    await expect(removeEnvironment(middle.key, { home })).rejects.toMatchObject({ code: "env_in_use" });

    await lease.release();
    expect((await gcEnvironments({ home, maxTotalBytes: 0 })).removed.map((r) => r.key)).toEqual([middle.key]);
    expect(await listEnvironments({ home })).toEqual([]);
  });

  it("rm removes by key prefix and rejects unknown or malformed keys", async () => {
    const env = await envFor("vf-yamlish");
    await expect(removeEnvironment("zz", { home })).rejects.toMatchObject({ code: "invalid_env_key" });
    await expect(removeEnvironment("abcdef0123", { home })).rejects.toMatchObject({ code: "env_not_found" });
    expect((await removeEnvironment(env.key.slice(0, 8), { home })).key).toBe(env.key);
    expect(await listEnvironments({ home })).toEqual([]);
  });
});
