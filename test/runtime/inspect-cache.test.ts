import { chmod, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPython } from "../../src/env/index.ts";
import { inspectCallable, resolveCallable } from "../../src/runtime/index.ts";

let dir: string;
let python: string;
let calls: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "venvflow-inspect-"));
  calls = path.join(dir, "calls.log");
  // An interpreter that counts its starts: proof of when the static check really runs.
  python = path.join(dir, "counting-python");
  await writeFile(python, `#!/bin/sh\necho x >> ${JSON.stringify(calls)}\nexec ${JSON.stringify((await findPython("3")).path)} "$@"\n`);
  await chmod(python, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const starts = async () => (await readFile(calls, "utf8").catch(() => "")).split("\n").filter(Boolean).length;

describe("the callable check", () => {
  it("runs once per callable content, and again when a file callable changes", async () => {
    const inline = await resolveCallable({ source: "def f(a, b=1):\n    return a\n" }, dir);
    const first = await inspectCallable(inline, python);
    expect(await inspectCallable(inline, python)).toEqual(first);
    expect(await starts()).toBe(1);

    const file = path.join(dir, "job.py");
    await writeFile(file, "def job(x):\n    return x\n");
    const target = await resolveCallable("job.py:job", dir);
    await inspectCallable(target, python);
    await inspectCallable(target, python);
    expect(await starts()).toBe(2);

    // An edit (new content, new mtime) is checked afresh: a syntax error is never hidden by the cache.
    await writeFile(file, "def job(x):\n    return (x\n");
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    await expect(inspectCallable(target, python)).rejects.toMatchObject({ code: "callable_syntax_error" });
    await expect(inspectCallable(target, python)).rejects.toMatchObject({ code: "callable_syntax_error" });
    expect(await starts()).toBe(4);
  });
});
