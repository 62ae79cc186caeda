/**
 * venvflow's own installer as the default: builds from the hermetic index with real wheels and a real Python,
 * hands to pip (saying why) what it cannot do, and its wheels are garbage-collected with the environments.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEnvironment, gcEnvironments, removeEnvironment } from "../../src/env/index.ts";
import type { BuildProgress, EnvSpecInput } from "../../src/env/types.ts";
import { WheelCache } from "../../src/env/wheels/index.ts";
import { startPackageIndex, testPipEnv, unreachableIndexUrl, type PackageIndex } from "../support/pypi.ts";
import { anyPython, versionOf } from "../support/pythons.ts";
import { STANDARD_WHEELS } from "../support/standard-packages.ts";

const run = promisify(execFile);
const pythonVersion = versionOf(anyPython).split(".").slice(0, 2).join(".");
let home: string;
let index: PackageIndex;
const work: string[] = [];

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-installer-"));
  index = await startPackageIndex({ wheels: STANDARD_WHEELS });
});
afterAll(async () => {
  await index.close();
  for (const dir of [home, ...work]) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

function build(spec: EnvSpecInput, events: BuildProgress[] = [], output: string[] = [], options: { home?: string; env?: NodeJS.ProcessEnv } = {}) {
  return ensureEnvironment({ pythonVersion, indexUrls: [index.url], ...spec }, { home: options.home ?? home, env: options.env ?? testPipEnv(), onProgress: (e) => events.push(e), onOutput: (l) => output.push(l) });
}

/**
 * A source distribution whose build backend is in the tree (PEP 517 `backend-path`), so pip builds it with
 * nothing from an index: what an sdist-only project looks like to an installer.
 */
async function sdistOnlyIndex(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "venvflow-sdist-index-"));
  work.push(root);
  const src = path.join(root, "src", "vf_sdist_only-1.0.0");
  await mkdir(path.join(src, "vf_sdist_only"), { recursive: true });
  await writeFile(path.join(src, "vf_sdist_only", "__init__.py"), 'VALUE = "built from source"\n');
  await writeFile(path.join(src, "pyproject.toml"), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
  await writeFile(path.join(src, "PKG-INFO"), "Metadata-Version: 2.1\nName: vf-sdist-only\nVersion: 1.0.0\n");
  await writeFile(
    path.join(src, "backend.py"),
    `import base64, hashlib, os, zipfile
NAME, VERSION = "vf_sdist_only", "1.0.0"
DIST = f"{NAME}-{VERSION}.dist-info"
METADATA = "Metadata-Version: 2.1\\nName: vf-sdist-only\\nVersion: 1.0.0\\n"
def _record(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode() + "," + str(len(data))
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {f"{NAME}/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(), f"{DIST}/METADATA": METADATA.encode(),
             f"{DIST}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    record = "".join(f"{n},{_record(d)}\\n" for n, d in files.items()) + f"{DIST}/RECORD,,\\n"
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
        z.writestr(f"{DIST}/RECORD", record)
    return name
`,
  );
  const archive = path.join(root, "files", "vf_sdist_only-1.0.0.tar.gz");
  await mkdir(path.dirname(archive), { recursive: true });
  await run("tar", ["-czf", archive, "-C", path.join(root, "src"), "vf_sdist_only-1.0.0"]);
  const sha = createHash("sha256").update(await readFile(archive)).digest("hex");
  await mkdir(path.join(root, "simple", "vf-sdist-only"), { recursive: true });
  await writeFile(path.join(root, "simple", "vf-sdist-only", "index.html"), `<!DOCTYPE html><html><body><a href="../../files/vf_sdist_only-1.0.0.tar.gz#sha256=${sha}">vf_sdist_only-1.0.0.tar.gz</a></body></html>\n`);
  await writeFile(path.join(root, "simple", "index.html"), '<!DOCTYPE html><html><body><a href="vf-sdist-only/">vf-sdist-only</a></body></html>\n');
  return `file://${path.join(root, "simple")}/`;
}

describe("venvflow's installer (the default)", () => {
  it("builds an environment from wheels and runs Python in it; the lock records sources and hashes", async () => {
    const events: BuildProgress[] = [];
    const output: string[] = [];
    const env = await build({ requirements: ["vf-beta[fast]"] }, events, output);
    expect(env.installer.name).toBe("venvflow");
    expect((await run(env.python, ["-c", "import vf_beta, vf_alpha, vf_gamma; print(vf_alpha.__version__)"])).stdout.trim()).toBe("1.1.0");
    expect((await run(path.join(env.path, "bin", "vf-alpha"), [])).stdout.trim()).toBe("1.1.0");
    expect(env.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
    for (const p of env.lock) {
      expect(p.source).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/vf_/);
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(env.lock.find((p) => p.name === "vf-beta")?.requested).toBe(true);
    expect(env.lock.find((p) => p.name === "vf-alpha")?.requested).toBe(false);
    expect(output.some((l) => /installed 3 wheels \(3 downloaded and unpacked/.test(l))).toBe(true);
    expect(events.some((e) => e.phase === "install" && /with venvflow/.test(e.message))).toBe(true);
    // No pip in the environment, and files linked from the cache are read-only.
    await expect(run(env.python, ["-c", "import pip"])).rejects.toThrow(/No module named .?pip/);
    // (Checked by mode: root, as in CI containers, writes through any mode.)
    const linked = (await run(env.python, ["-c", "import vf_alpha, os; print(oct(os.stat(vf_alpha.__file__).st_mode & 0o222))"])).stdout.trim();
    expect(linked).toBe("0o0");
  });

  it("compiles bytecode after publishing, in the background, unless VENVFLOW_BYTECODE=0", async () => {
    const own = await mkdtemp(path.join(tmpdir(), "venvflow-installer-pyc-"));
    work.push(own);
    const env = await build({ requirements: ["vf-gamma"] }, [], [], { home: own, env: testPipEnv({ VENVFLOW_BYTECODE: "1" }) });
    const pycache = path.join(env.path, "lib", `python${pythonVersion}`, "site-packages", "vf_gamma", "__pycache__");
    let compiled: string[] = [];
    for (let i = 0; i < 200 && compiled.length === 0; i++) {
      compiled = await readdir(pycache).catch(() => []);
      if (compiled.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(compiled.some((f) => f.startsWith("__init__.") && f.endsWith(".pyc"))).toBe(true);
    const off = await build({ requirements: ["vf-gamma==0.5.0"] }, [], [], { home: own });
    await new Promise((r) => setTimeout(r, 500));
    expect(await readdir(path.join(off.path, "lib", `python${pythonVersion}`, "site-packages", "vf_gamma")).catch(() => [])).toEqual(["__init__.py"]);
  });

  it("hands a direct URL requirement to pip, printing why, and the key names pip", async () => {
    const output: string[] = [];
    const events: BuildProgress[] = [];
    const wheelUrl = `${index.url.replace(/simple\/$/, "files/")}vf_gamma-0.5.0-py3-none-any.whl`;
    const env = await build({ requirements: [`vf-gamma @ ${wheelUrl}`] }, events, output);
    expect(env.installer.name).toBe("pip");
    expect(output.some((l) => /using pip .* instead of venvflow's installer: vf-gamma @ http:\/\/127\.0\.0\.1:\d+\/files\/vf_gamma-0\.5\.0-py3-none-any\.whl \(requirements\[0\]\) is a direct reference/.test(l))).toBe(true);
    expect(events.some((e) => /instead of venvflow's installer/.test(e.message))).toBe(true);
    expect(await readFile(env.buildLogPath, "utf8")).toMatch(/instead of venvflow's installer: .*direct reference/);
    expect((await run(env.python, ["-c", "import vf_gamma; print(vf_gamma.__version__)"])).stdout.trim()).toBe("0.5.0");
  });

  it("hands a pip option it does not understand to pip, printing why", async () => {
    const output: string[] = [];
    const env = await build({ requirements: ["vf-alpha==1.0.0"], pipInstallOptions: ["--no-binary", ":none:"] }, [], output);
    expect(env.installer.name).toBe("pip");
    expect(output.join("\n")).toMatch(/the pip option --no-binary is not one venvflow's installer understands/);
  });

  it("hands an sdist-only project to pip at install time, printing why; pip builds it", async () => {
    const sdistIndex = await sdistOnlyIndex();
    const output: string[] = [];
    const env = await build({ requirements: ["vf-sdist-only"], indexUrls: [sdistIndex] }, [], output);
    expect(output.join("\n")).toMatch(/falling back to pip [\d.]+: vf_sdist_only-1\.0\.0\.tar\.gz is a source distribution that must be built/);
    expect(env.installer.name).toBe("pip");
    expect((await run(env.python, ["-c", "import vf_sdist_only; print(vf_sdist_only.VALUE)"])).stdout.trim()).toBe("built from source");
  });

  it("hands the install to pip when one of several indexes is unreachable (pip skips it), printing why", async () => {
    const down = await unreachableIndexUrl();
    const output: string[] = [];
    const env = await build({ requirements: ["vf-alpha==1.0.0"], indexUrls: [down, index.url] }, [], output, { env: testPipEnv({ PIP_RETRIES: "0" }) });
    expect(output.join("\n")).toMatch(/falling back to pip [\d.]+: the index http:\/\/127\.0\.0\.1:\d+\/simple\/? is unreachable; pip skips it and uses the others/);
    expect(env.installer.name).toBe("pip");
    expect(env.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.0.0"]);
  });

  it("explains a resolution failure with the resolver's own error", async () => {
    await expect(build({ requirements: ["vf-conflict-a", "vf-conflict-b"] })).rejects.toMatchObject({ code: "env_build_failed", message: expect.stringMatching(/vf-alpha/) });
    await expect(build({ requirements: ["vf-no-such-project"] })).rejects.toMatchObject({ code: "env_build_failed", reason: "no_matching_distribution" });
  });

  it("installs from an index with credentials and writes them nowhere: build log, environment metadata, progress", async () => {
    const secured = await startPackageIndex({ wheels: STANDARD_WHEELS.filter((w) => w.name === "vf-gamma"), basicAuth: { username: "ci", password: "Sup3r-Secret-Token" } });
    try {
      const output: string[] = [];
      const events: BuildProgress[] = [];
      // A home of its own: the shared one has this very wheel cached (same sha256) and would not fetch it.
      const ownHome = await mkdtemp(path.join(tmpdir(), "venvflow-installer-auth-"));
      work.push(ownHome);
      const env = await build({ requirements: ["vf-gamma"], indexUrls: [secured.urlWithCredentials("ci", "Sup3r-Secret-Token")] }, events, output, { home: ownHome });
      expect(env.installer.name).toBe("venvflow");
      expect(env.lock[0]?.source).toMatch(/^http:\/\/ci:\*\*\*@127\.0\.0\.1:\d+\/files\/vf_gamma-0\.5\.0-py3-none-any\.whl$/);
      const written = [await readFile(env.buildLogPath, "utf8"), await readFile(path.join(env.path, "venvflow-env.json"), "utf8"), output.join("\n"), JSON.stringify(events)];
      for (const text of written) expect(text).not.toContain("Sup3r-Secret-Token");
      // The wheel itself was fetched with the index's credentials (the index refuses requests without them).
      expect(secured.requests.some((r) => r.startsWith("/files/vf_gamma"))).toBe(true);
    } finally {
      await secured.close();
    }
  });

  it("stops at VENVFLOW_BUILD_TIMEOUT while resolving against an index that never answers", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/simple/`;
      const started = Date.now();
      const error = await ensureEnvironment({ pythonVersion, requirements: ["vf-alpha"], indexUrls: [url] }, { home, env: testPipEnv({ VENVFLOW_BUILD_TIMEOUT: "2" }) }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "build_timeout", message: expect.stringMatching(/timed out after 2 s while resolving and installing the requirements/) as unknown });
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("drops an environment's wheel references when it is removed, and gc evicts unreferenced wheels", async () => {
    const gcHome = await mkdtemp(path.join(tmpdir(), "venvflow-installer-gc-"));
    work.push(gcHome);
    const kept = await build({ requirements: ["vf-gamma"] }, [], [], { home: gcHome });
    const dropped = await build({ requirements: ["vf-alpha==2.0.0"] }, [], [], { home: gcHome });
    const wheels = new WheelCache(gcHome);
    expect((await wheels.list()).map((w) => `${w.filename}:${w.references}`)).toEqual(["vf_alpha-2.0.0-py3-none-any.whl:1", "vf_gamma-0.5.0-py3-none-any.whl:1"]);
    await removeEnvironment(dropped.key, { home: gcHome });
    expect((await wheels.list()).map((w) => `${w.filename}:${w.references}`)).toEqual(["vf_alpha-2.0.0-py3-none-any.whl:0", "vf_gamma-0.5.0-py3-none-any.whl:1"]);
    const dry = await gcEnvironments({ home: gcHome, wheelMinAgeMs: 0, dryRun: true });
    expect(dry.wheels.removed.map((w) => w.filename)).toEqual(["vf_alpha-2.0.0-py3-none-any.whl"]);
    expect((await wheels.list()).length).toBe(2);
    const result = await gcEnvironments({ home: gcHome, wheelMinAgeMs: 0 });
    expect(result.wheels.removed.map((w) => w.filename)).toEqual(["vf_alpha-2.0.0-py3-none-any.whl"]);
    expect(result.wheels.freedBytes).toBeGreaterThan(0);
    expect((await wheels.list()).map((w) => w.filename)).toEqual(["vf_gamma-0.5.0-py3-none-any.whl"]);
    // The kept environment still works (environments hold links, not references into the cache).
    expect((await run(kept.python, ["-c", "import vf_gamma; print(vf_gamma.__version__)"])).stdout.trim()).toBe("0.5.0");
  });
});
