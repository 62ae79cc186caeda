import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hermeticPipEnv, startPackageIndex, testPipEnv, unreachableIndexUrl, type PackageIndex } from "./pypi.ts";
import { STANDARD_WHEELS, VENDORED_WHEELS } from "./standard-packages.ts";
import { anyPython, pythonOrSkip } from "./pythons.ts";
import { buildWheel, readWheelMetadata, type WheelSpec } from "./wheels.ts";

// Any Python does for the index itself; the per-version cases need that version and skip without it.
const PY = anyPython;
const PY38 = pythonOrSkip("3.8", "the index's Python 3.8 cases (dill's data-requires-python, pip 3.8's configuration)");
const PY39 = pythonOrSkip("3.9", "installing the vendored wheels on Python 3.9");
const PY313 = pythonOrSkip("3.13", "installing the vendored wheels and reading pip's configuration on Python 3.13");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

// Asynchronous on purpose: a per-test index runs in this process and must keep serving while pip waits on it.
function run(file: string, args: string[], env: NodeJS.ProcessEnv = testPipEnv()): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { env, encoding: "utf8", timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "venvflow-pypi-test-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let venvCount = 0;
/** A fresh venv without pip; pip runs from the base interpreter with `--python`. Returns the venv's python. */
async function freshVenv(basePython: string): Promise<string> {
  const dir = join(scratch, `venv-${venvCount++}`);
  const created = await run(basePython, ["-m", "venv", "--without-pip", dir]);
  expect(created.stderr).toBe("");
  return join(dir, "bin", "python");
}

function pipInstall(basePython: string, venvPython: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  return run(basePython, ["-m", "pip", "--python", venvPython, "install", ...args], env);
}

async function installedVersions(venvPython: string): Promise<Record<string, string>> {
  const code = "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))";
  const result = await run(venvPython, ["-c", code]);
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as Record<string, string>;
}

const SAMPLE: WheelSpec = {
  name: "Vf.Sample_Pkg",
  version: "1.2.3",
  tag: "py2.py3-none-any",
  summary: "a sample",
  requiresPython: ">=3.8,<4",
  providesExtra: ["fast"],
  requiresDist: ['vf-alpha>=1.1,<2', 'vf-gamma; extra == "fast"', 'vf-delta; python_version < "3.0"'],
  consoleScripts: { "vf-sample": "vf_sample_pkg:main" },
  files: {
    "vf_sample_pkg/__init__.py": 'def main():\n    print("sample says hi")\n',
    "vf_sample_pkg/data.txt": "payload\n",
    "vf_helper.py": "X = 1\n",
  },
};

describe("buildWheel", () => {
  it("names the file with the normalized name and tag triple, and writes reproducible bytes", async () => {
    const first = await buildWheel(join(scratch, "a"), SAMPLE);
    const second = await buildWheel(join(scratch, "b"), SAMPLE);
    expect(first.endsWith("/vf_sample_pkg-1.2.3-py2.py3-none-any.whl")).toBe(true);
    expect(await readFile(first)).toEqual(await readFile(second));
  });

  it("writes a zip Python accepts, with RECORD hashes and sizes that match every entry", async () => {
    const wheel = await buildWheel(join(scratch, "check"), SAMPLE);
    const tested = await run(PY, ["-m", "zipfile", "-t", wheel]);
    expect(tested.code).toBe(0);
    const verify = `
import base64, hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
record = [n for n in names if n.endswith(".dist-info/RECORD")][0]
rows = [line.split(",") for line in z.read(record).decode().splitlines()]
assert sorted(r[0] for r in rows) == sorted(names), (rows, names)
for path, digest, size in rows:
    if path == record:
        assert digest == "" and size == "", (digest, size)
        continue
    data = z.read(path)
    expected = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert digest == expected and int(size) == len(data), path
assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
print(z.read("vf_sample_pkg-1.2.3.dist-info/WHEEL").decode())
print(z.read("vf_sample_pkg-1.2.3.dist-info/top_level.txt").decode())
`;
    const result = await run(PY, ["-c", verify, wheel]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("Root-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n");
    expect(result.stdout).toContain("vf_helper\nvf_sample_pkg\n");
  });

  it("installs, and importlib.metadata reads back its metadata, extras, markers and entry points", async () => {
    const wheel = await buildWheel(join(scratch, "install"), SAMPLE);
    const venv = await freshVenv(PY);
    const installed = await pipInstall(PY, venv, ["--no-index", "--no-deps", wheel]);
    expect(installed.code, installed.stderr).toBe(0);
    const read = `
import importlib.metadata as m, json
d = m.distribution("vf-sample-pkg")
print(json.dumps({
  "name": d.metadata["Name"], "version": d.version, "summary": d.metadata["Summary"],
  "requiresPython": d.metadata["Requires-Python"], "extras": d.metadata.get_all("Provides-Extra"),
  "requires": d.requires, "scripts": [(e.name, e.value) for e in d.entry_points if e.group == "console_scripts"],
}))
`;
    const result = await run(venv, ["-c", read]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({
      name: "Vf.Sample_Pkg",
      version: "1.2.3",
      summary: "a sample",
      requiresPython: ">=3.8,<4",
      extras: ["fast"],
      requires: SAMPLE.requiresDist,
      scripts: [["vf-sample", "vf_sample_pkg:main"]],
    });
    const script = await run(join(venv, "..", "vf-sample"), []);
    expect(script.stdout).toBe("sample says hi\n");
  });

  it("defaults the package to <import_name>/__init__.py holding __version__", async () => {
    const wheel = await buildWheel(join(scratch, "default"), { name: "vf-defaulted", version: "0.1.0" });
    const read = `import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("vf_defaulted/__init__.py").decode())`;
    expect((await run(PY, ["-c", read, wheel])).stdout).toBe('__version__ = "0.1.0"\n\n');
    expect(await readWheelMetadata(wheel)).toContain("Name: vf-defaulted\nVersion: 0.1.0\n");
  });
});

describe("startPackageIndex", () => {
  let index: PackageIndex;
  beforeAll(async () => {
    index = await startPackageIndex({ wheels: [SAMPLE, { name: "vf-other", version: "2.0" }] });
  });
  afterAll(async () => {
    await index.close();
  });

  it("serves a PEP 503 root listing and project pages with sha256 fragments and escaped requires-python", async () => {
    expect(index.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/simple\/$/);
    const root = await (await fetch(index.url)).text();
    expect(root).toContain('<a href="vf-other/">vf-other</a>');
    expect(root).toContain('<a href="vf-sample-pkg/">vf-sample-pkg</a>');

    const page = await (await fetch(`${index.url}vf-sample-pkg/`)).text();
    const wheelBytes = await readFile(join(index.dir, "vf_sample_pkg-1.2.3-py2.py3-none-any.whl"));
    const sha = createHash("sha256").update(wheelBytes).digest("hex");
    expect(page).toContain(
      `<a href="../../files/vf_sample_pkg-1.2.3-py2.py3-none-any.whl#sha256=${sha}" data-requires-python="&gt;=3.8,&lt;4">`,
    );
    const file = await fetch(new URL(`../../files/vf_sample_pkg-1.2.3-py2.py3-none-any.whl`, `${index.url}x/`));
    expect(Buffer.from(await file.arrayBuffer())).toEqual(wheelBytes);
  });

  it("redirects non-normalized names, 404s unknown projects, and records request paths in order", async () => {
    const before = index.requests.length;
    const redirected = await fetch(`${index.url}Vf_Sample.Pkg`, { redirect: "manual" });
    expect(redirected.status).toBe(301);
    expect(redirected.headers.get("location")).toBe("/simple/vf-sample-pkg/");
    expect((await fetch(`${index.url}nope/`)).status).toBe(404);
    expect(index.requests.slice(before)).toEqual(["/simple/Vf_Sample.Pkg", "/simple/nope/"]);
  });

  it("unreachableIndexUrl points at a loopback port that refuses connections", async () => {
    const url = await unreachableIndexUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/simple\/$/);
    await expect(fetch(url)).rejects.toThrow();
  });
});

describe("pip against the run-wide index", () => {
  const indexUrl = inject("indexUrl");

  it("resolves extras and markers: vf-beta[fast] brings vf-alpha 1.1.0 and vf-gamma, never vf-delta", async () => {
    const venv = await freshVenv(PY);
    const result = await pipInstall(PY, venv, ["--index-url", indexUrl, "vf-beta[fast]", "vf-yamlish", "vf-pre"]);
    expect(result.code, result.stderr).toBe(0);
    const versions = await installedVersions(venv);
    expect(versions).toEqual({
      "vf-beta": "1.0.0",
      "vf-alpha": "1.1.0",
      "vf-gamma": "0.5.0",
      "vf-yamlish": "1.0.0",
      "vf-pre": "1.0.0",
    });
    const script = await run(join(venv, "..", "vf-alpha"), []);
    expect(script.stdout).toBe("1.1.0\n");
    const imported = await run(venv, ["-c", "import yamlish, vf_alpha; print(yamlish.__version__, vf_alpha.add(2, 3))"]);
    expect(imported.stdout).toBe("1.0.0 5\n");
  });

  it("fails vf-native with pip's 'No matching distribution' (only a Windows wheel exists)", async () => {
    const venv = await freshVenv(PY);
    const result = await pipInstall(PY, venv, ["--index-url", indexUrl, "vf-native"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("No matching distribution found for vf-native");
  });

  it.each(
    ([["3.8", PY38, ["cloudpickle"]], ["3.9", PY39, ["cloudpickle", "dill"]], ["3.13", PY313, ["cloudpickle", "dill"]]] as const).flatMap(([label, python, packages]) =>
      python ? [[label, python, [...packages]] as const] : [],
    ),
  )("installs and imports the vendored real wheels on Python %s", async (_label, python, packages) => {
    const venv = await freshVenv(python);
    const result = await pipInstall(python, venv, ["--index-url", indexUrl, ...packages]);
    expect(result.code, result.stderr).toBe(0);
    const roundTrip = packages
      .map((p) => `import ${p}; assert ${p}.loads(${p}.dumps(lambda x: x + 1))(1) == 2`)
      .join("; ");
    const imported = await run(venv, ["-c", `${roundTrip}; print("ok")`]);
    expect(imported.stdout, imported.stderr).toBe("ok\n");
  });

  it.skipIf(!PY38)("refuses dill on Python 3.8 because of its data-requires-python", async () => {
    const venv = await freshVenv(PY38!);
    const result = await pipInstall(PY38!, venv, ["--index-url", indexUrl, "dill"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("No matching distribution found for dill");
  });

  it("serves every standard and vendored distribution", async () => {
    const root = await (await fetch(indexUrl)).text();
    const vendored = VENDORED_WHEELS.map((file) => basename(file).split("-")[0]!);
    expect(new Set(vendored)).toEqual(new Set(["cloudpickle", "dill", "tabulate"]));
    for (const name of new Set([...STANDARD_WHEELS.map((w) => w.name), ...vendored])) expect(root).toContain(`<a href="${name}/">`);
  });
});

describe("basic-auth index", () => {
  let index: PackageIndex;
  beforeAll(async () => {
    index = await startPackageIndex({
      wheels: [{ name: "vf-secret", version: "1.0.0" }],
      basicAuth: { username: "ci user", password: "p@ss:word" },
    });
  });
  afterAll(async () => {
    await index.close();
  });

  it("refuses pip without credentials and serves it with urlWithCredentials", async () => {
    const venv = await freshVenv(PY);
    const refused = await pipInstall(PY, venv, ["--index-url", index.url, "vf-secret"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("No matching distribution found for vf-secret");
    expect((await fetch(`${index.url}vf-secret/`)).status).toBe(401);

    const url = index.urlWithCredentials("ci user", "p@ss:word");
    expect(url).toMatch(/^http:\/\/ci%20user:p%40ss%3Aword@127\.0\.0\.1:\d+\/simple\/$/);
    const served = await pipInstall(PY, venv, ["--index-url", url, "vf-secret"]);
    expect(served.code, served.stderr).toBe(0);
    expect(await installedVersions(venv)).toEqual({ "vf-secret": "1.0.0" });
  });
});

describe("hermeticPipEnv", () => {
  it("drops pip, uv and Python path variables and sets the hermetic ones", () => {
    const env = hermeticPipEnv(
      {
        PATH: "/bin",
        PIP_INDEX_URL: "https://example.invalid/simple",
        PIP_FIND_LINKS: "/opt/wheels",
        UV_INDEX_URL: "https://example.invalid/simple",
        VIRTUAL_ENV: "/somewhere",
        PYTHONPATH: "/x",
        PYTHONHOME: "/y",
        PYTHONSTARTUP: "/z",
      },
      { PIP_CACHE_DIR: "/tmp/cache" },
    );
    expect(env).toEqual({
      PATH: "/bin",
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
      PIP_CONFIG_FILE: "/dev/null",
      PIP_DISABLE_PIP_VERSION_CHECK: "1",
      PIP_NO_INPUT: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      VENVFLOW_BYTECODE: "0",
      PIP_CACHE_DIR: "/tmp/cache",
    });
    expect(hermeticPipEnv({}).PIP_NO_CACHE_DIR).toBe("1");
  });

  it.each(([["3.8", PY38], ["3.13", PY313]] as const).flatMap(([label, python]) => (python ? [[label, python] as const] : [])))(
    "leaves pip %s no configuration file to read (pip config list shows only its own variables)",
    async (_label, python) => {
      // Global (XDG_CONFIG_DIRS) and user (XDG_CONFIG_HOME) config files that pip would normally read.
      const xdg = join(scratch, "xdg");
      const files: [string, string][] = [
        ["site", "[global]\nindex-url = http://global.invalid/\n"],
        ["user", "[install]\npre = true\n"],
      ];
      for (const [kind, body] of files) {
        await mkdir(join(xdg, kind, "pip"), { recursive: true });
        await writeFile(join(xdg, kind, "pip", "pip.conf"), body);
      }
      const base = { ...process.env, XDG_CONFIG_DIRS: join(xdg, "site"), XDG_CONFIG_HOME: join(xdg, "user") };
      const hermetic = hermeticPipEnv(base);
      const control = { ...hermetic };
      delete control.PIP_CONFIG_FILE;

      // The control proves the assertion below can fail: without PIP_CONFIG_FILE=/dev/null pip reads both files.
      const read = await run(python, ["-m", "pip", "config", "list"], control);
      expect(read.stdout).toContain("global.index-url='http://global.invalid/'");
      expect(read.stdout).toContain("install.pre='true'");

      const ignored = await run(python, ["-m", "pip", "config", "list"], hermetic);
      expect(ignored.code).toBe(0);
      expect(ignored.stdout.trim().split("\n").sort()).toEqual([
        ":env:.config-file='/dev/null'",
        ":env:.disable-pip-version-check='1'",
        ":env:.no-cache-dir='1'",
        ":env:.no-input='1'",
      ]);
    },
  );
});
