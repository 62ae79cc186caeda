import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveSpec } from "../../src/env/spec.ts";
import { testPipEnv } from "../support/pypi.ts";
import { anyPython, discoveredPythons, versionOf } from "../support/pythons.ts";

// The key's interpreter case compares the newest Python with another supported one, when this machine has one.
const other = discoveredPythons.find((p) => p.major === 3 && p.minor >= 8 && p.version !== versionOf(anyPython))?.path;
if (!other) console.warn(`spec.test.ts: the key's change with the interpreter is not checked: only Python ${versionOf(anyPython)} is installed here`);

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
    const a = await resolve({ pythonVersion: "3", requirements: ["vf-alpha>=1.0,<2", "vf-beta[fast]==1.0.0"] });
    const b = await resolve({ pythonVersion: "3", requirements: ["VF_Beta [FAST] == 1.0.0", "Vf.Alpha <2 , >=1.0", "vf-alpha>=1.0,<2"] });
    expect(b.key).toBe(a.key);
    expect(a.key).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes with the interpreter, the requirements, system site packages and the indexes", async () => {
    const base = await resolve({ pythonVersion: "3", requirements: ["vf-alpha"] });
    const keys = new Set([
      base.key,
      // Another interpreter where one is installed; else a stand-in key, so the other six are still compared.
      other ? (await resolve({ pythonVersion: other, requirements: ["vf-alpha"] })).key : "no other interpreter",
      (await resolve({ pythonVersion: "3", requirements: ["vf-alpha==1.0.0"] })).key,
      (await resolve({ pythonVersion: "3", requirements: ["vf-alpha"], systemSitePackages: true })).key,
      (await resolve({ pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: ["https://a.example/simple"] })).key,
      (await resolve({ pythonVersion: "3", requirements: ["vf-alpha"], pipInstallOptions: ["--no-deps"] })).key,
      (await resolve({ pythonVersion: "3", requirements: ["vf-alpha"] }, testPipEnv({ PIP_INDEX_URL: "https://b.example/simple" }))).key,
    ]);
    expect(keys.size).toBe(7);
    const canonical = JSON.parse(base.canonical) as { python: { path: string; version: string }; installer: { name: string; version: string } };
    expect(canonical.python.version).toBe(versionOf(anyPython));
    expect(canonical.installer.name).toBe("pip");
    expect(canonical.installer.version).toMatch(/^\d+\.\d+/);
  });

  it("includes what nested requirement files say, not their paths", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "venvflow-spec-files-"));
    await writeFile(path.join(dir, "r.txt"), "vf-alpha==1.1.0\n");
    const fromFile = await resolve({ pythonVersion: "3", requirements: "r.txt", baseDir: dir });
    const fromList = await resolve({ pythonVersion: "3", requirements: ["vf-alpha==1.1.0"] });
    expect(fromFile.key).toBe(fromList.key);
    await writeFile(path.join(dir, "r.txt"), "vf-alpha==1.0.0\n");
    expect((await resolve({ pythonVersion: "3", requirements: "r.txt", baseDir: dir })).key).not.toBe(fromFile.key);
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps credentials out of the key and the canonical form", async () => {
    const one = await resolve({ pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: ["https://me:password-one@idx.example/simple"] });
    const two = await resolve({ pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: ["https://me:password-two@idx.example/simple"] });
    expect(one.key).toBe(two.key); // rotating a password must not rebuild every environment
    expect(one.canonical).not.toContain("password-one");
    expect(one.canonical).toContain("https://me:***@idx.example/simple");
    expect(one.redactor.redact("Looking in indexes: https://me:password-one@idx.example/simple")).toBe("Looking in indexes: https://me:***@idx.example/simple");
    const viaEnv = await resolve({ pythonVersion: "3", requirements: ["vf-alpha"] }, testPipEnv({ PIP_EXTRA_INDEX_URL: "https://tok-abc123@x.example/simple" }));
    expect(viaEnv.canonical).not.toContain("tok-abc123");
  });

  it("rejects unknown options and malformed index URLs", async () => {
    await expect(resolve({ pythonVersion: "3", requirement: ["x"] } as never)).rejects.toMatchObject({ code: "invalid_env_spec" });
    await expect(resolve({ pythonVersion: "3", indexUrls: ["not a url"] })).rejects.toMatchObject({ code: "invalid_index_url" });
    await expect(resolve({ pythonVersion: "3", installer: "conda" as never })).rejects.toMatchObject({ code: "invalid_installer" });
  });
});
