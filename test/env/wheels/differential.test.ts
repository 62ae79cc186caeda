/**
 * Differential test: the tree venvflow's installer writes equals pip's (`pip install --no-deps --no-compile` into a
 * real venv), file for file and byte for byte, apart from INSTALLER, RECORD order and the environment's own path in
 * script shebangs. Wheels: vendored real ones, ones built here with console scripts and every `.data` key, and,
 * when the machine's mirror is available, ~20 real wheels from it.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWheelFilename } from "../../../src/env/pep/utils.ts";
import { findPython, listPythons, type ProbedInterpreter } from "../../../src/env/python.ts";
import { installLocked, type LockedWheel } from "../../../src/env/wheels/index.ts";
import { machinePipEnv } from "../../support/machine-pip.ts";
import { hermeticPipEnv } from "../../support/pypi.ts";
import { python as installedPython } from "../../support/pythons.ts";
import { VENDORED_WHEELS } from "../../support/standard-packages.ts";
import { buildWheel } from "../../support/wheels.ts";
import { lockEntry } from "./support.ts";

let scratch: string;
let python: ProbedInterpreter;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "venvflow-diff-"));
  // 3.11 where installed (the machine mirror's native wheels are cp311); the hermetic cases run on any Python.
  python = await findPython(installedPython("3.11") ? "3.11" : "3", { home: scratch });
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface Node {
  kind: "file" | "dir" | "link";
  executable: boolean;
  content?: Buffer;
}

/** The environment's tree minus what differs by design: the interpreter links, pyvenv.cfg, bytecode. */
async function tree(root: string, dir = "", out = new Map<string, Node>()): Promise<Map<string, Node>> {
  for (const entry of await readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (/^bin\/(python|activate|Activate)/.test(rel) || rel === "pyvenv.cfg" || rel === "lib64" || entry.name === "__pycache__") continue;
    const stat = await lstat(path.join(root, rel));
    if (entry.isDirectory()) {
      out.set(rel, { kind: "dir", executable: false });
      await tree(root, rel, out);
    } else if (entry.isSymbolicLink()) out.set(rel, { kind: "link", executable: false });
    else out.set(rel, { kind: "file", executable: (stat.mode & 0o100) !== 0, content: await readFile(path.join(root, rel)) });
  }
  return out;
}

function parseRecord(text: string): Map<string, string> {
  return new Map(text.trim().split("\r\n").map((line) => [line.slice(0, line.indexOf(",")), line.slice(line.indexOf(",") + 1)]));
}

/** Installs `wheels` with pip and with venvflow into sibling environments and compares them. */
async function compareWithPip(label: string, wheels: LockedWheel[], target: ProbedInterpreter = python): Promise<void> {
  const dir = path.join(scratch, label);
  // Same-length paths, so a shebang differs only in the environment's name.
  const ours = path.join(dir, "ours");
  const pips = path.join(dir, "pips");
  execFileSync(target.path, ["-m", "venv", "--without-pip", pips]);
  execFileSync(target.path, ["-m", "pip", "--python", path.join(pips, "bin", "python"), "install", "--no-deps", "--no-compile", "--no-index", ...wheels.map((w) => fileURLToPath(w.wheelUrl))], { env: hermeticPipEnv(), stdio: "pipe" });
  await installLocked({ packages: wheels.map((w) => ({ ...w, directUrl: true })) }, ours, target, { home: path.join(dir, "home") });

  // pip before 23.1 wrote no archive hash into direct_url.json for a local wheel; venvflow writes it, as pip does now.
  const [pipMajor = 0, pipMinor = 0] = (target.pipVersion ?? "99").split(".").map(Number);
  const oldPip = pipMajor < 23 || (pipMajor === 23 && pipMinor < 1);
  const mine = await tree(ours);
  const theirs = await tree(pips);
  expect([...mine.keys()].sort(), label).toEqual([...theirs.keys()].sort());
  const site = `lib/python${target.major}.${target.minor}/site-packages`;
  for (const [rel, node] of theirs) {
    const other = mine.get(rel) as Node;
    expect(other.kind, `${label}: ${rel}`).toBe(node.kind);
    if (node.kind !== "file") continue;
    expect(other.executable, `${label}: ${rel} executable bit`).toBe(node.executable);
    if (rel.endsWith(".dist-info/INSTALLER")) {
      expect(other.content?.toString()).toBe("venvflow\n");
      continue;
    }
    if (rel.endsWith(".dist-info/RECORD")) {
      // RECORD: the same rows, in any order, with pip's CRLF line ends.
      const ourRows = parseRecord(other.content?.toString() ?? "");
      const pipRows = parseRecord(node.content?.toString() ?? "");
      expect([...ourRows.keys()].sort(), `${label}: ${rel}`).toEqual([...pipRows.keys()].sort());
      for (const [file, row] of ourRows) {
        const installed = path.posix.normalize(path.posix.join(site, file));
        if (file.endsWith("/RECORD")) continue;
        // Our RECORD describes what is on disk; where no path is involved it is pip's row exactly.
        const content = mine.get(installed)?.content as Buffer;
        expect(row, `${label}: RECORD row of ${file}`).toBe(`sha256=${createHash("sha256").update(content).digest("base64url")},${content.length}`);
        if (!installed.startsWith("bin/") && !file.endsWith("/INSTALLER") && !(oldPip && file.endsWith("/direct_url.json"))) expect(row, `${label}: RECORD row of ${file}`).toBe(pipRows.get(file));
      }
      continue;
    }
    if (oldPip && rel.endsWith("/direct_url.json")) {
      expect(JSON.parse(other.content?.toString() ?? "").url, `${label}: ${rel}`).toBe(JSON.parse(node.content?.toString() ?? "").url);
      continue;
    }
    const normalize = (buffer: Buffer, env: string): string => buffer.toString("latin1").split(env).join("<ENV>");
    if (rel.startsWith("bin/")) expect(normalize(other.content as Buffer, ours), `${label}: ${rel}`).toBe(normalize(node.content as Buffer, pips));
    else expect((other.content as Buffer).equals(node.content as Buffer), `${label}: ${rel} differs`).toBe(true);
  }
}

describe("venvflow installs the same tree as pip", () => {
  it("vendored wheels and built wheels with console scripts and every .data key; the scripts run", async () => {
    const dist = path.join(scratch, "dist");
    const built = await buildWheel(dist, {
      name: "vf-data",
      version: "1.0",
      files: {
        // Written by hand (not consoleScripts) to have GUI scripts and extras too.
        "vf_data-1.0.dist-info/entry_points.txt": "[console_scripts]\nvf-data-cli = vf_data.cli:main\nvf-data-nested = vf_data.cli:Runner.run [extra]\n\n[gui_scripts]\nvf-data-gui = vf_data.cli:main\n\n[other.group]\nignored = vf_data:nothing\n",
        "vf_data/__init__.py": "",
        "vf_data/cli.py": "import sys\ndef main():\n    print('cli', sys.prefix)\nclass Runner:\n    @staticmethod\n    def run():\n        print('nested')\n",
        "vf_data-1.0.data/scripts/vf-tool": "#!python\nimport sys\nprint('tool', sys.prefix)\n",
        "vf_data-1.0.data/scripts/vf-shell": "#!/bin/sh\necho shell\n",
        "vf_data-1.0.data/headers/vf_data.h": "#define VF 1\n",
        "vf_data-1.0.data/data/share/vf-data/notes.txt": "data file\n",
        "vf_data-1.0.data/purelib/vf_pure.py": "PURE = 1\n",
        "vf_data-1.0.data/platlib/vf_plat.py": "PLAT = 1\n",
      },
    });
    const vendored = VENDORED_WHEELS.filter((w) => !w.includes("tabulate-0.8.10"));
    const wheels = await Promise.all([built, ...vendored].map((w) => lockEntry(w, parseWheelFilename(path.basename(w)).name, String(parseWheelFilename(path.basename(w)).version))));
    await compareWithPip("built", wheels);
    const tabulateOld = VENDORED_WHEELS.find((w) => w.includes("tabulate-0.8.10")) as string;
    await compareWithPip("tabulate-old", [await lockEntry(tabulateOld, "tabulate", "0.8.10")]);

    const env = path.join(scratch, "built", "ours");
    expect(execFileSync(path.join(env, "bin", "vf-data-cli"), { encoding: "utf8" })).toBe(`cli ${env}\n`);
    expect(execFileSync(path.join(env, "bin", "vf-data-nested"), { encoding: "utf8" })).toBe("nested\n");
    expect(execFileSync(path.join(env, "bin", "vf-data-gui"), { encoding: "utf8" })).toBe(`cli ${env}\n`);
    // Not executable (pip keeps the archive's mode, and buildWheel writes 0644), but its shebang names the environment.
    expect((await readFile(path.join(env, "bin", "vf-tool"), "utf8")).split("\n")[0]).toBe(`#!${env}/bin/python`);
    expect(execFileSync(path.join(env, "bin", "python"), [path.join(env, "bin", "vf-tool")], { encoding: "utf8" })).toBe(`tool ${env}\n`);
    expect(execFileSync(path.join(env, "bin", "tabulate"), ["--help"], { encoding: "utf8" })).toContain("Usage: tabulate");
    expect(execFileSync(path.join(env, "bin", "python"), ["-c", "import vf_pure, vf_plat, dill, cloudpickle; print(vf_pure.PURE + vf_plat.PLAT)"], { encoding: "utf8" })).toBe("2\n");
  });

  it("with each Python 3.8–3.13 found and the pip it bundles: a built wheel and a vendored one", async () => {
    // One interpreter per minor version, pyenv's preferred: sorted last, so the Map keeps it.
    const found = (await listPythons({ home: scratch })).filter((p) => p.major === 3 && p.minor >= 8 && p.minor <= 13 && p.pipVersion);
    const pythons = [...new Map(found.sort((a, b) => Number(a.path.includes("/.pyenv/")) - Number(b.path.includes("/.pyenv/"))).map((p) => [p.minor, p])).values()].sort((a, b) => a.minor - b.minor);
    console.log(`per-version comparison: ${pythons.map((p) => `${p.version} (pip ${p.pipVersion})`).join(", ")}`);
    if (pythons.length === 0) console.log("per-version comparison skipped: no pyenv Python 3.8–3.13 with pip on this machine");
    const built = await buildWheel(path.join(scratch, "dist-versions"), {
      name: "vf-versions",
      version: "2.0",
      consoleScripts: { "vf-versions": "vf_versions:main" },
      files: { "vf_versions/__init__.py": "def main():\n    print('versions')\n", "vf_versions-2.0.data/scripts/vf-versions-tool": "#!python\nprint('tool')\n", "vf_versions-2.0.data/data/share/vf.txt": "x\n" },
    });
    const tabulate = VENDORED_WHEELS.find((w) => w.includes("tabulate-0.8.10")) as string; // Requires-Python >=3.7
    for (const target of pythons) {
      await compareWithPip(`python-${target.minor}`, [await lockEntry(built, "vf-versions", "2.0"), await lockEntry(tabulate, "tabulate", "0.8.10")], target);
      expect(execFileSync(path.join(scratch, `python-${target.minor}`, "ours", "bin", "vf-versions"), { encoding: "utf8" })).toBe("versions\n");
    }
  });

  it("real wheels from the machine's mirror; the environment imports them and runs their console scripts", async () => {
    if (python.minor !== 11) {
      console.log(`mirror comparison skipped: the mirror's native wheels are cp311, and Python 3.11 is not installed here (using ${python.version})`);
      return;
    }
    const index = machinePipEnv(python.path).PIP_INDEX_URL ?? "";
    if (!index.startsWith("file://") || !existsSync(fileURLToPath(index))) {
      console.log(`mirror comparison skipped: the machine's pip index (${index || "none"}) is not a local file:// mirror`);
      return;
    }
    // A consistent set, as pip resolves it from the mirror (pydantic pins pydantic-core exactly, for instance).
    const projects = ["requests", "flask", "pydantic", "pyyaml", "jmespath", "jsonpatch", "greenlet", "jupyterlab-pygments", "python-dateutil"];
    const report = path.join(scratch, "mirror-report.json");
    execFileSync(python.path, ["-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", report, ...projects], { env: { ...machinePipEnv(python.path), PIP_EXTRA_INDEX_URL: "" }, stdio: "pipe" });
    const resolved = JSON.parse(await readFile(report, "utf8")) as { install: { download_info: { url: string; archive_info?: { hashes?: { sha256?: string } } }; metadata: { name: string; version: string } }[] };
    const wheels: LockedWheel[] = resolved.install
      .filter((i) => i.download_info.url.endsWith(".whl") && i.download_info.archive_info?.hashes?.sha256)
      .map((i) => ({ name: i.metadata.name, version: i.metadata.version, wheelUrl: i.download_info.url, sha256: i.download_info.archive_info?.hashes?.sha256 as string, requested: true }));
    const missing = resolved.install.filter((i) => !i.download_info.url.endsWith(".whl")).map((i) => i.metadata.name);
    if (missing.length) console.log(`mirror comparison: ${missing.join(", ")} resolved to an sdist; compared the ${wheels.length} wheels`);
    expect(wheels.length).toBeGreaterThanOrEqual(12);
    console.log(`mirror comparison: ${wheels.length} wheels (${wheels.map((w) => `${w.name} ${w.version}`).join(", ")})`);
    await compareWithPip("mirror", wheels);
    const env = path.join(scratch, "mirror", "ours");
    const bin = (name: string): string => path.join(env, "bin", name);
    expect(execFileSync(bin("python"), ["-c", "import requests, flask, pydantic, yaml, jmespath, greenlet, dateutil; print('ok')"], { encoding: "utf8" })).toBe("ok\n");
    expect(execFileSync(bin("flask"), ["--version"], { encoding: "utf8" })).toMatch(/^Python .*\nFlask \d/);
    expect(execFileSync(bin("normalizer"), ["--version"], { encoding: "utf8" })).toMatch(/\d+\.\d+/);
    expect(execFileSync(bin("jp.py"), ["--help"], { encoding: "utf8" })).toContain("usage");
  });
});
