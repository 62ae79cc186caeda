/**
 * `venvflow lock` and builds from pylock.toml, through the CLI with real wheels, a real Python and the hermetic
 * index (its request log shows whether anything was resolved).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePylock } from "../../src/env/pylock.ts";
import { runCli } from "../support/cli.ts";
import { startPackageIndex, testPipEnv, type PackageIndex } from "../support/pypi.ts";
import { python } from "../support/pythons.ts";
import { STANDARD_WHEELS } from "../support/standard-packages.ts";

const run = promisify(execFile);
const python311 = python("3.11");
const dirs: string[] = [];
let oldIndex: PackageIndex;
let newIndex: PackageIndex;
let dagDir: string;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function dagText(betaRequirement: string): string {
  return `import { dag, PythonVirtualenvOperator } from "venvflow";
dag("lockdemo", { schedule: null }, () => {
  new PythonVirtualenvOperator({ taskId: "a", pythonCallable: "job.py:versions", requirements: [${JSON.stringify(betaRequirement)}], pythonVersion: "3.11" });
  new PythonVirtualenvOperator({ taskId: "b", pythonCallable: "job.py:versions", requirements: [${JSON.stringify(betaRequirement)}], pythonVersion: "3.11" });
  new PythonVirtualenvOperator({ taskId: "c", pythonCallable: "job.py:gamma", requirements: ["vf-gamma"], pythonVersion: "3.11" });
});
`;
}

/** The CLI with a VENVFLOW_HOME and an index given the way a machine's pip configuration gives it (not in the DAG). */
function cli(args: string[], home: string, index: PackageIndex, extra: Record<string, string> = {}) {
  return runCli(args, { env: testPipEnv({ VENVFLOW_HOME: home, PIP_INDEX_URL: index.url, ...extra }) });
}

const pages = (index: PackageIndex, from: number) => index.requests.slice(from).filter((r) => !r.startsWith("/files/"));

beforeAll(async () => {
  // The "old" index has what the lock is made from; the "new" one has newer vf-alpha and vf-gamma releases.
  const gammaNew = { name: "vf-gamma", version: "0.6.0" };
  oldIndex = await startPackageIndex({ wheels: STANDARD_WHEELS.filter((w) => !(w.name === "vf-alpha" && w.version === "2.0.0")) });
  newIndex = await startPackageIndex({ wheels: [...STANDARD_WHEELS, gammaNew] });
  dagDir = await tempDir("venvflow-lock-dags-");
  await writeFile(path.join(dagDir, "flow.ts"), dagText("vf-beta[fast]"));
  // A lock another tool wrote (an sdist venvflow cannot install) sits beside them: it must not break anything.
  await writeFile(path.join(dagDir, "pylock.toml"), `lock-version = "1.0"\ncreated-by = "pip"\n\n[[packages]]\nname = "other"\nversion = "1.0"\nsdist = { name = "other-1.0.tar.gz", url = "https://example.invalid/other-1.0.tar.gz", hashes = { sha256 = "${"0".repeat(64)}" } }\n`);
  await writeFile(path.join(dagDir, "job.py"), "def versions():\n    import vf_alpha, vf_gamma\n    return [vf_alpha.__version__, vf_gamma.__version__]\n\ndef gamma():\n    import vf_gamma\n    return vf_gamma.__version__\n");
});
afterAll(async () => {
  await oldIndex.close();
  await newIndex.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe.skipIf(!python311)("lockfiles", () => {
  if (!python311) console.warn("no Python 3.11 on this machine: lockfile tests skipped");

  it("writes one PEP 751 lock per distinct environment beside the DAG file, with hashes, valid for packaging.pylock", async () => {
    const home = await tempDir("venvflow-lock-home-");
    const result = await cli(["lock", path.join(dagDir, "flow.ts")], home, oldIndex);
    expect(result.code, result.stderr).toBe(0);
    const locks = (await readdir(dagDir)).filter((n) => n.startsWith("pylock.") && n !== "pylock.toml").sort();
    expect(locks).toEqual(["pylock.flow-lockdemo-a.toml", "pylock.flow-lockdemo-c.toml"]);
    expect(result.stdout).toMatch(/wrote \S*pylock\.flow-lockdemo-a\.toml {2}\(3 packages; lockdemo\.a, lockdemo\.b\)/);
    const lock = parsePylock(await readFile(path.join(dagDir, locks[0] as string), "utf8"));
    expect(lock.packages.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
    for (const p of lock.packages) expect(p.wheels[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lock.venvflow?.requirements).toEqual(["vf-beta[fast]"]);
    const check = `import pathlib, sys, tomllib\nfrom packaging.pylock import Pylock, is_valid_pylock_path\nfor f in sys.argv[1:]:\n    assert is_valid_pylock_path(pathlib.Path(f)), f\n    Pylock.from_dict(tomllib.load(open(f, "rb")))\nprint("valid")`;
    expect((await run(python311 as string, ["-c", check, ...locks.map((l) => path.join(dagDir, l))])).stdout.trim()).toBe("valid");
  });

  it("builds from the lock in a fresh VENVFLOW_HOME with no resolution: the index serves wheel files only, the key is the same", async () => {
    const first = await tempDir("venvflow-lock-home-");
    const second = await tempDir("venvflow-lock-home-");
    const before = oldIndex.requests.length;
    const a = await cli(["env", "build", path.join(dagDir, "flow.ts"), "--json"], first, oldIndex);
    expect(a.code).toBe(0);
    expect(pages(oldIndex, before)).toEqual([]);
    const b = await cli(["env", "build", path.join(dagDir, "flow.ts"), "--json", "--frozen"], second, oldIndex);
    expect(b.code).toBe(0);
    expect(pages(oldIndex, before)).toEqual([]);
    const envsA = JSON.parse(a.stdout) as { key: string; python: string; lock: { name: string; version: string }[]; installer: { name: string } }[];
    const envsB = JSON.parse(b.stdout) as typeof envsA;
    expect(envsB.map((e) => e.key)).toEqual(envsA.map((e) => e.key));
    expect(envsB[0]?.installer.name).toBe("venvflow");
    expect(envsB[0]?.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
    expect(await readFile((envsB[0] as unknown as { buildLogPath: string }).buildLogPath, "utf8")).toMatch(/using the lock .*pylock\.flow-lockdemo-a\.toml \(3 packages\)\n(.|\n)*installing 3 locked wheels/);
    expect((await run(envsB[0]?.python as string, ["-c", "import vf_alpha; print(vf_alpha.__version__)"])).stdout.trim()).toBe("1.1.0");
    // Against an index with newer versions the lock still decides: nothing is resolved, nothing drifts.
    const third = await tempDir("venvflow-lock-home-");
    const beforeNew = newIndex.requests.length;
    const c = await cli(["env", "build", path.join(dagDir, "flow.ts"), "--json", "--frozen"], third, newIndex);
    expect(c.code).toBe(0);
    expect(pages(newIndex, beforeNew)).toEqual([]);
    expect((JSON.parse(c.stdout) as typeof envsA)[0]?.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
  });

  it("env build --lock-file installs a named lock for an ad-hoc spec, and says when it no longer matches", async () => {
    const home = await tempDir("venvflow-lock-home-");
    const lockFile = path.join(dagDir, "pylock.flow-lockdemo-a.toml");
    const before = oldIndex.requests.length;
    const used = await cli(["env", "build", "--python", "3.11", "-r", "vf-beta[fast]", "--lock-file", lockFile], home, oldIndex);
    expect(used.code, used.stderr).toBe(0);
    expect(used.stderr).toMatch(/using the lock .*pylock\.flow-lockdemo-a\.toml \(3 packages\)/);
    expect(pages(oldIndex, before)).toEqual([]);
    const stale = await cli(["env", "build", "--python", "3.11", "-r", "vf-gamma", "--lock-file", lockFile], home, oldIndex);
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.stderr).toMatch(/the lock pylock\.flow-lockdemo-a\.toml: added vf-gamma; removed vf-beta\[fast\] — not used, resolving instead/);
  });

  it("pip, when selected, installs the lock's versions (as constraints) even where the index has newer ones", async () => {
    const home = await tempDir("venvflow-lock-home-");
    const result = await cli(["env", "build", path.join(dagDir, "flow.ts"), "--json", "--frozen"], home, newIndex, { VENVFLOW_INSTALLER: "pip" });
    expect(result.code, result.stderr).toBe(0);
    const envs = JSON.parse(result.stdout) as { installer: { name: string }; lock: { name: string; version: string }[]; canonicalSpec: string }[];
    expect(envs[0]?.installer.name).toBe("pip");
    expect(envs[0]?.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
    expect(envs[2]?.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-gamma==0.5.0"]);
    expect(envs[0]?.canonicalSpec).toMatch(/locked pins: vf-alpha==1\.1\.0, vf-beta==1\.0\.0, vf-gamma==0\.5\.0/);
  });

  it("runs the DAG from the lock with --frozen", async () => {
    const home = await tempDir("venvflow-lock-home-");
    const result = await cli(["run", path.join(dagDir, "flow.ts"), "--frozen", "--json"], home, newIndex);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/"state":\s*"success"/);
    expect(result.stdout).toContain("1.1.0");
  });

  it("--frozen fails with a clear error when the requirements no longer match the lock, or there is none", async () => {
    const home = await tempDir("venvflow-lock-home-");
    await writeFile(path.join(dagDir, "changed.ts"), dagText("vf-beta"));
    const mismatch = await cli(["env", "build", path.join(dagDir, "changed.ts"), "--frozen", "--json"], home, oldIndex);
    expect(mismatch.code).toBe(1);
    const { error } = JSON.parse(mismatch.stdout) as { error: { code: string; message: string; fix: string } };
    expect(error.code).toBe("lock_mismatch");
    expect(error.message).toMatch(/requirements no longer match the lock: pylock\.flow-lockdemo-a\.toml: added vf-beta; removed vf-beta\[fast\]/);
    expect(error.fix).toMatch(/venvflow lock/);
    // Without --frozen the same build resolves (and says nothing about other environments' locks).
    const free = await cli(["env", "build", path.join(dagDir, "changed.ts"), "--json"], home, oldIndex);
    expect(free.code).toBe(0);
    const emptyDir = await tempDir("venvflow-lock-nolock-");
    await writeFile(path.join(emptyDir, "flow.ts"), dagText("vf-beta"));
    const missing = await runCli(["env", "build", path.join(emptyDir, "flow.ts"), "--json"], { env: testPipEnv({ VENVFLOW_HOME: home, PIP_INDEX_URL: oldIndex.url, VENVFLOW_FROZEN: "1" }) });
    expect(missing.stdout, missing.stderr).toMatch(/"code": "lock_missing"/);
    await rm(path.join(dagDir, "changed.ts"));
  });

  it("lock keeps locked versions; --upgrade NAME moves only that package; --upgrade moves everything", async () => {
    const home = await tempDir("venvflow-lock-home-");
    const versions = async () => parsePylock(await readFile(path.join(dagDir, "pylock.flow-lockdemo-a.toml"), "utf8")).packages.map((p) => `${p.name}==${p.version}`);
    const same = await cli(["lock", path.join(dagDir, "flow.ts")], home, oldIndex);
    expect(same.stdout).toMatch(/unchanged \S*pylock\.flow-lockdemo-a\.toml/);
    // The new index has vf-gamma 0.6.0: a plain lock keeps 0.5.0.
    const kept = await cli(["lock", path.join(dagDir, "flow.ts")], home, newIndex);
    expect(kept.code).toBe(0);
    expect(await versions()).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
    const one = await cli(["lock", path.join(dagDir, "flow.ts"), "--upgrade", "vf-gamma"], home, newIndex);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/vf-gamma 0\.5\.0 → 0\.6\.0/);
    // vf-alpha 2.0.0 exists on the new index but vf-beta needs <2: it stays 1.1.0 either way; gamma moved alone.
    expect(await versions()).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.6.0"]);
    const lockC = parsePylock(await readFile(path.join(dagDir, "pylock.flow-lockdemo-c.toml"), "utf8"));
    expect(lockC.packages.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-gamma==0.6.0"]);
    // A requirement change re-locks that environment in the same file.
    await writeFile(path.join(dagDir, "flow.ts"), dagText("vf-alpha<1.1"));
    const changed = await cli(["lock", path.join(dagDir, "flow.ts"), "--upgrade"], home, newIndex);
    expect(changed.code).toBe(0);
    expect(await versions()).toEqual(["vf-alpha==1.0.0"]);
    await writeFile(path.join(dagDir, "flow.ts"), dagText("vf-beta[fast]"));
  });
});
