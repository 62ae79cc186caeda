/**
 * Asking a package index which distribution provides an import, on a private index of this file's own
 * (with credentials), and a requirement named after the import that installs something else.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { diagnoseTasks, explainImportFailure } from "../../src/doctor/index.ts";
import { distributionsProviding } from "../../src/doctor/index-lookup.ts";
import { startPackageIndex, testPipEnv, unreachableIndexUrl, type PackageIndex } from "../support/pypi.ts";
import { preferredPython, pythonOrSkip } from "../support/pythons.ts";

let index: PackageIndex;
let privateIndex: PackageIndex;
let dir: string;

beforeAll(async () => {
  index = await startPackageIndex({
    wheels: [
      // Named after an import it does not provide (like the PyPI projects "sklearn" or "jwt" once were).
      { name: "yamlfake", version: "1.0.0", importName: "yamlfake_core" },
      { name: "acme-yamlfake", version: "2.0.0", importName: "yamlfake" },
      { name: "acme-tools", version: "1.0.0", files: { "acme_cli.py": "X = 1\n", "acme_lib/__init__.py": "" } },
      { name: "vf-newpy", version: "1.0.0", requiresPython: ">=3.13" },
    ],
  });
  privateIndex = await startPackageIndex({ wheels: [{ name: "corp-widgets", version: "1.0.0", importName: "widgets" }], basicAuth: { username: "ci", password: "s3cr3t" } });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "vf-doctor-lookup-"));
  await fs.writeFile(path.join(dir, "job.py"), "def run():\n    import yamlfake\n    return yamlfake.__name__\n");
});

afterAll(async () => {
  await index.close();
  await privateIndex.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe("distributionsProviding", () => {
  it("reads import names from the wheels of the projects whose name contains the module's", async () => {
    expect(await distributionsProviding(index.url, "yamlfake")).toEqual(["acme-yamlfake"]);
    expect(await distributionsProviding(index.url, "yamlfake_core")).toEqual([]);
  });

  it("reads only projects whose name contains the module's: a module named unlike its project is not found", async () => {
    // acme-tools installs acme_lib, but "acme-lib" is not part of its name: the table or the module's own name answers then.
    expect(await distributionsProviding(index.url, "acme_lib")).toEqual([]);
    expect(await distributionsProviding(index.url, "tools")).toEqual([]);
  });

  it("sends the credentials of the index URL, and answers null when the index cannot say", async () => {
    expect(await distributionsProviding(privateIndex.urlWithCredentials("ci", "s3cr3t"), "widgets")).toEqual(["corp-widgets"]);
    expect(await distributionsProviding(privateIndex.url, "widgets")).toBeNull();
    expect(await distributionsProviding(await unreachableIndexUrl(), "widgets")).toBeNull();
    expect(await distributionsProviding("file:///nonexistent/venvflow/simple", "widgets")).toBeNull();
    // PyPI's listing is far too large to read: no request is even made.
    expect(await distributionsProviding("https://pypi.org/simple/", "yaml")).toBeNull();
  });
});

describe("post-mortem lookups", () => {
  it("ask the task's index which distribution provides the missing module", async () => {
    const explained = await explainImportFailure({
      error: { type: "ModuleNotFoundError", message: "No module named 'widgets'" },
      env: { key: null, path: "/nonexistent", python: preferredPython },
      indexUrls: [privateIndex.urlWithCredentials("ci", "s3cr3t")],
      home: inject("sharedHome"),
    });
    expect(explained).toMatchObject({ code: "module_not_installed", module: "widgets", fix: `install "corp-widgets" (the distribution that provides widgets) into ${preferredPython}` });
  });
});

describe("a requirement named after the import", () => {
  it("is installed, provides something else, and the fix names the distribution that does provide it", async () => {
    const findings = await diagnoseTasks(
      [{ dagId: "d", taskId: "t", file: path.join(dir, "dag.ts"), pythonCallable: "job.py:run", baseDir: dir, requirements: ["yamlfake"], pythonVersion: "3", indexUrls: [index.url] }],
      { home: inject("sharedHome"), env: testPipEnv() },
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: "requirement_provides_other_modules", module: "yamlfake", line: 2, file: path.join(dir, "job.py"), fix: 'require "acme-yamlfake" instead of "yamlfake"' });
    expect(findings[0]?.message).toContain('the requirement "yamlfake" is installed but does not provide the module yamlfake (it provides yamlfake_core)');
  });

  it("with index lookups off, the fix falls back to finding the distribution", async () => {
    const findings = await diagnoseTasks(
      [{ dagId: "d", taskId: "t", file: path.join(dir, "dag.ts"), pythonCallable: "job.py:run", baseDir: dir, requirements: ["yamlfake"], pythonVersion: "3", indexUrls: [index.url] }],
      { home: inject("sharedHome"), env: testPipEnv(), indexLookup: false },
    );
    expect(findings[0]?.fix).toBe('find the distribution that provides yamlfake and require it instead of "yamlfake"');
  });

  it.skipIf(!pythonOrSkip("3.12", "the index-lookup case of a project that requires Python 3.13 (asked for on 3.12)"))("a project whose only files require a newer Python", async () => {
    const findings = await diagnoseTasks(
      [{ dagId: "d", taskId: "t", file: path.join(dir, "dag.ts"), pythonCallable: "job.py:run", baseDir: dir, requirements: ["vf-newpy"], pythonVersion: "3.12", indexUrls: [index.url] }],
      { home: inject("sharedHome"), env: testPipEnv() },
    );
    expect(findings).toEqual([expect.objectContaining({ code: "no_compatible_wheel", message: expect.stringContaining("vf_newpy-1.0.0-py3-none-any.whl") as unknown, fix: expect.stringContaining("use a pythonVersion those files support (they may require a newer Python)") as unknown })]);
  });

  it("inputs without a DAG file: plain { callable, spec } tasks", async () => {
    const findings = await diagnoseTasks([{ dagId: "adhoc", taskId: "inline", file: "(api)", pythonCallable: { source: "def f():\n    import widgets\n    return widgets\n" }, baseDir: dir, pythonVersion: "3", indexUrls: [privateIndex.urlWithCredentials("ci", "s3cr3t")] }], {
      home: inject("sharedHome"),
      env: testPipEnv(),
    });
    expect(findings).toEqual([
      expect.objectContaining({ code: "module_not_installed", file: "(api)", line: 2, fix: 'add "corp-widgets" to requirements (the distribution that provides widgets; its name differs from the import name)' }),
    ]);
    expect(JSON.stringify(findings)).not.toContain("s3cr3t");
  });
});
