import { execFileSync } from "node:child_process";
import { lstat, mkdtemp, readdir, readFile, readlink, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listPythons, type ProbedInterpreter } from "../../../src/env/python.ts";
import { createVenv } from "../../../src/env/wheels/index.ts";

let scratch: string;
let pythons: ProbedInterpreter[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "venvflow-venv-"));
  // One interpreter per minor version, pyenv's preferred: sorted last, so the Map keeps it.
  const found = (await listPythons({ home: scratch })).filter((p) => p.major === 3 && p.minor >= 8 && p.minor <= 13);
  pythons = [...new Map(found.sort((a, b) => Number(a.path.includes("/.pyenv/")) - Number(b.path.includes("/.pyenv/"))).map((p) => [p.minor, p])).values()].sort((a, b) => a.minor - b.minor);
  console.log(`venv comparison: ${pythons.map((p) => `${p.version} (${p.path})`).join(", ")}`);
  if (pythons.length === 0) console.log("venv comparison skipped: no pyenv Python 3.8–3.13 on this machine");
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Every entry below `root` (activation scripts left out: venvflow does not write them). */
async function entries(root: string, dir = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (/^bin\/(activate|Activate)/.test(rel)) continue;
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await entries(root, rel)));
  }
  return out.sort();
}

function cfg(text: string): Map<string, string> {
  return new Map(text.trim().split("\n").map((line) => line.split(" = ") as [string, string]));
}

describe("createVenv writes what `python -m venv --without-pip` writes", () => {
  it("for each Python 3.8–3.13 found: same entries, same links, same pyvenv.cfg, and the interpreter sees the environment", async () => {
    for (const python of pythons) {
      const ours = path.join(scratch, `ours-${python.minor}`);
      const real = path.join(scratch, `real-${python.minor}`);
      await createVenv(ours, python);
      execFileSync(python.path, ["-m", "venv", "--without-pip", real]);
      const label = `Python ${python.version}`;
      expect(await entries(ours), label).toEqual(await entries(real));
      for (const entry of await entries(real)) {
        const stat = await lstat(path.join(real, entry));
        if (!stat.isSymbolicLink()) continue;
        expect((await lstat(path.join(ours, entry))).isSymbolicLink(), `${label} ${entry}`).toBe(true);
        // Interpreter links: the same binary (venv links the path it was started as, venvflow the real one).
        if (entry.startsWith("bin/")) expect(await realpath(path.join(ours, entry)), `${label} ${entry}`).toBe(await realpath(path.join(real, entry)));
        else expect(await readlink(path.join(ours, entry)), `${label} ${entry}`).toBe(await readlink(path.join(real, entry)));
      }
      const ourCfg = cfg(await readFile(path.join(ours, "pyvenv.cfg"), "utf8"));
      const realCfg = cfg(await readFile(path.join(real, "pyvenv.cfg"), "utf8"));
      expect([...ourCfg.keys()], label).toEqual([...realCfg.keys()]);
      for (const [key, value] of realCfg) {
        if (key === "command") expect(ourCfg.get(key)).toBe(`${python.path} -m venv --without-pip ${ours}`);
        else expect(ourCfg.get(key), `${label} ${key}`).toBe(value);
      }
      if (realCfg.has("command")) expect(realCfg.get("command")).toMatch(/ -m venv --without-pip /);
      const seen = JSON.parse(execFileSync(path.join(ours, "bin", "python"), ["-c", "import json, sys, site; print(json.dumps([sys.prefix, sys.base_prefix, site.getsitepackages()]))"], { encoding: "utf8" })) as [string, string, string[]];
      expect(seen[0]).toBe(ours);
      expect(seen[1]).not.toBe(ours);
      expect(seen[2]).toContain(path.join(ours, "lib", `python${python.major}.${python.minor}`, "site-packages"));
    }
  });
});
