import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPython, listPythons } from "../../src/env/python.ts";
import { VenvflowError } from "../../src/util/errors.ts";

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-py-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const SUPPORTED = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"];

describe("Python discovery", () => {
  it("finds every supported minor version on this machine, and reports the missing ones", async () => {
    const found = await listPythons({ home });
    const have = new Set(found.map((p) => `${p.major}.${p.minor}`));
    const missing = SUPPORTED.filter((v) => !have.has(v));
    if (missing.length) console.warn(`Python versions not installed on this machine (their tests use what is found): ${missing.join(", ")}`);
    expect(found.length).toBeGreaterThan(0);
    for (const p of found) {
      expect(path.isAbsolute(p.path)).toBe(true);
      expect(p.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(p.implementation).toBe("cpython");
    }
  });

  it.each(SUPPORTED)("resolves %s to a matching interpreter with its full version and real path", async (version) => {
    const found = await listPythons({ home });
    if (!found.some((p) => `${p.major}.${p.minor}` === version)) {
      console.warn(`Python ${version} is not installed here; checking the error instead`);
      await expect(findPython(version, { home })).rejects.toThrow(/No Python/);
      return;
    }
    const python = await findPython(version, { home });
    expect(`${python.major}.${python.minor}`).toBe(version);
    expect(python.version.startsWith(`${version}.`)).toBe(true);
  });

  it("accepts a full version and an absolute path", async () => {
    const any = (await listPythons({ home })).find((p) => p.major === 3 && p.minor >= 8);
    expect(any).toBeDefined();
    const byVersion = await findPython(any!.version, { home });
    expect(byVersion.version).toBe(any!.version);
    const byPath = await findPython(any!.path, { home });
    expect(byPath.path).toBe(any!.path);
    expect(byPath.source).toBe("explicit");
  });

  it("with pyenv's shims on PATH, the default is pyenv's selected version", async () => {
    const root = path.join(process.env.HOME ?? "/root", ".pyenv");
    const selected = (await listPythons({ home })).find((p) => p.source === "pyenv" && p.path.startsWith(path.join(root, "versions", "3.12")));
    if (!selected) {
      console.warn("no pyenv Python 3.12 on this machine: the shim case is not exercised");
      return;
    }
    const version = path.relative(path.join(root, "versions"), selected.path).split(path.sep)[0]!;
    const env = { ...process.env, PYENV_ROOT: root, PYENV_VERSION: version, PATH: `${path.join(root, "shims")}${path.delimiter}/usr/bin` };
    const python = await findPython(undefined, { home, env });
    expect(python.version).toBe(version);
    expect(python.source).toBe("path");
  });

  it('"3" picks the newest Python 3', async () => {
    const newest = (await listPythons({ home })).filter((p) => p.major === 3).map((p) => p.version);
    const python = await findPython("3", { home });
    for (const v of newest) expect(v.localeCompare(python.version, undefined, { numeric: true })).toBeLessThanOrEqual(0);
  });

  it("an unknown version is an error listing the interpreters found", async () => {
    const error = await findPython("3.99", { home }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VenvflowError);
    expect((error as VenvflowError).code).toBe("python_not_found");
    expect((error as VenvflowError).message).toMatch(/No Python 3\.99 interpreter was found \(found: \d+\.\d+\.\d+ \(\//);
    expect((error as VenvflowError).fix).toMatch(/install Python 3\.99/);
  });

  it.each([
    ["3.x", "invalid_python_version"],
    ["bin/python3", "invalid_python_version"],
    ["/nonexistent/python3", "python_not_found"],
    ["/etc/hostname", "python_not_found"],
  ])("rejects %s with %s", async (request, code) => {
    await expect(findPython(request, { home })).rejects.toMatchObject({ code });
  });

  it("rejects interpreters older than 3.8 with the reason", async () => {
    const old = (await listPythons({ home })).find((p) => p.major === 3 && p.minor < 8);
    if (!old) {
      console.warn("no Python older than 3.8 is installed here; nothing to reject");
      return;
    }
    await expect(findPython(`${old.major}.${old.minor}`, { home })).rejects.toMatchObject({ code: "python_unsupported" });
  });

  it("caches probes on disk keyed by real path, size and mtime", async () => {
    const found = await listPythons({ home });
    const target = found[0]!;
    const file = path.join(home, "cache", "interpreters.json");
    const cache = JSON.parse(await readFile(file, "utf8")) as Record<string, { info: { version: string } }>;
    expect(cache[target.path]?.info.version).toBe(target.version);
    // A doctored entry is believed while the binary is unchanged: proof that no interpreter ran again.
    cache[target.path]!.info.version = "3.99.0";
    await writeFile(file, JSON.stringify(cache));
    // A different PATH spelling bypasses the in-process memo, as a new process would.
    const again = await listPythons({ home, env: { ...process.env, PATH: `${process.env.PATH}${path.delimiter}` } });
    expect(again.find((p) => p.path === target.path)?.version).toBe("3.99.0");
    await rm(file);
  });
});
