import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEnvironment, listEnvironments } from "../../src/env/index.ts";
import type { EnvSpecInput } from "../../src/env/types.ts";
import { testPipEnv } from "../support/pypi.ts";
import { buildWheel } from "../support/wheels.ts";

let home: string;
let links: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-refresh-"));
  links = await mkdtemp(path.join(tmpdir(), "venvflow-links-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(links, { recursive: true, force: true });
});

describe("--refresh", () => {
  it("re-resolves unpinned requirements into a new environment without touching the one in use", async () => {
    await buildWheel(links, { name: "vf-moving", version: "1.0.0" });
    const spec: EnvSpecInput = { installer: "pip", pythonVersion: "3", requirements: ["vf-moving"], indexUrls: [], pipInstallOptions: ["--find-links", links] };
    const options = { home, env: testPipEnv() };
    const first = await ensureEnvironment(spec, options);
    expect(first.lock.map((p) => p.version)).toEqual(["1.0.0"]);

    // A new release appears: the cached environment stays frozen until asked to refresh (a lock, not a surprise).
    await buildWheel(links, { name: "vf-moving", version: "1.1.0" });
    expect((await ensureEnvironment(spec, options)).key).toBe(first.key);

    const refreshed = await ensureEnvironment(spec, { ...options, refresh: true });
    expect(refreshed.key).not.toBe(first.key);
    expect(refreshed.lock.map((p) => p.version)).toEqual(["1.1.0"]);
    // The old environment is untouched and still published; the spec now maps to the refreshed one.
    expect((await listEnvironments(options)).map((e) => e.key).sort()).toEqual([first.key, refreshed.key].sort());
    expect((await ensureEnvironment(spec, options)).key).toBe(refreshed.key);

    // Nothing new upstream: refresh is a no-op.
    expect((await ensureEnvironment(spec, { ...options, refresh: true })).key).toBe(refreshed.key);
  });
});
