import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveSpec } from "../../src/env/spec.ts";
import { testPipEnv } from "../support/pypi.ts";

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-spec-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const resolve = (input: Parameters<typeof resolveSpec>[0], env = testPipEnv()) => resolveSpec({ installer: "pip", ...input }, { home, env });

describe("environment spec and key", () => {
  it("is the same for equivalent spellings and orders", async () => {
    const a = await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha>=1.0,<2", "vf-beta[fast]==1.0.0"] });
    const b = await resolve({ pythonVersion: "3.11", requirements: ["VF_Beta [FAST] == 1.0.0", "Vf.Alpha <2 , >=1.0", "vf-alpha>=1.0,<2"] });
    expect(b.key).toBe(a.key);
    expect(a.key).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes with the interpreter, the requirements, system site packages and the indexes", async () => {
    const base = await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"] });
    const keys = new Set([
      base.key,
      (await resolve({ pythonVersion: "3.12", requirements: ["vf-alpha"] })).key,
      (await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha==1.0.0"] })).key,
      (await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"], systemSitePackages: true })).key,
      (await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"], indexUrls: ["https://a.example/simple"] })).key,
      (await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"], pipInstallOptions: ["--no-deps"] })).key,
      (await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"] }, testPipEnv({ PIP_INDEX_URL: "https://b.example/simple" }))).key,
    ]);
    expect(keys.size).toBe(7);
    const canonical = JSON.parse(base.canonical) as { python: { path: string; version: string }; installer: { name: string; version: string } };
    expect(canonical.python.version).toMatch(/^3\.11\./);
    expect(canonical.installer.name).toBe("pip");
    expect(canonical.installer.version).toMatch(/^\d+\.\d+/);
  });

  it("includes what nested requirement files say, not their paths", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "venvflow-spec-files-"));
    await writeFile(path.join(dir, "r.txt"), "vf-alpha==1.1.0\n");
    const fromFile = await resolve({ pythonVersion: "3.11", requirements: "r.txt", baseDir: dir });
    const fromList = await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha==1.1.0"] });
    expect(fromFile.key).toBe(fromList.key);
    await writeFile(path.join(dir, "r.txt"), "vf-alpha==1.0.0\n");
    expect((await resolve({ pythonVersion: "3.11", requirements: "r.txt", baseDir: dir })).key).not.toBe(fromFile.key);
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps credentials out of the key and the canonical form", async () => {
    const one = await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"], indexUrls: ["https://me:password-one@idx.example/simple"] });
    const two = await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"], indexUrls: ["https://me:password-two@idx.example/simple"] });
    expect(one.key).toBe(two.key); // rotating a password must not rebuild every environment
    expect(one.canonical).not.toContain("password-one");
    expect(one.canonical).toContain("https://me:***@idx.example/simple");
    expect(one.redactor.redact("Looking in indexes: https://me:password-one@idx.example/simple")).toBe("Looking in indexes: https://me:***@idx.example/simple");
    const viaEnv = await resolve({ pythonVersion: "3.11", requirements: ["vf-alpha"] }, testPipEnv({ PIP_EXTRA_INDEX_URL: "https://tok-abc123@x.example/simple" }));
    expect(viaEnv.canonical).not.toContain("tok-abc123");
  });

  it("rejects unknown options and malformed index URLs", async () => {
    await expect(resolve({ pythonVersion: "3.11", requirement: ["x"] } as never)).rejects.toMatchObject({ code: "invalid_env_spec" });
    await expect(resolve({ pythonVersion: "3.11", indexUrls: ["not a url"] })).rejects.toMatchObject({ code: "invalid_index_url" });
    await expect(resolve({ pythonVersion: "3.11", installer: "conda" as never })).rejects.toMatchObject({ code: "invalid_installer" });
  });
});
