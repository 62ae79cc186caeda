import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPython } from "../../../src/env/python.ts";
import { compileBytecodeInBackground, installLocked, WheelCache, type LockedWheel, type PythonInfo } from "../../../src/env/wheels/index.ts";
import { VenvflowError } from "../../../src/util/errors.ts";
import { startPackageIndex, type PackageIndex } from "../../support/pypi.ts";
import { discoveredPythons } from "../../support/pythons.ts";
import { sha256File } from "./support.ts";

// root ignores permission bits, so the task runs as nobody when the tests run as root, with an interpreter outside
// root's home (pyenv's lives under /root, which nobody cannot enter).
const runsAsRoot = process.getuid?.() === 0;
const pythonNobodyCanRun = discoveredPythons.find((p) => !p.path.startsWith(`${homedir()}/`))?.path;
if (runsAsRoot && !pythonNobodyCanRun) console.warn(`skipped: the read-only cache case runs as nobody and needs a Python outside ${homedir()}; found: ${discoveredPythons.map((p) => p.path).join(", ")}`);

const execFileAsync = promisify(execFile);
const USER = "vf-user";
const PASSWORD = "s3cret-p@ss/word";
const NAMES = ["vf-c-one", "vf-c-two", "vf-c-three", "vf-c-four", "vf-c-five", "vf-c-six"];

let scratch: string;
let python: PythonInfo;
let index: PackageIndex;
const lock = new Map<string, LockedWheel>();

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "venvflow-wcache-"));
  // Directories a non-root user can enter, for the read-only check below.
  await chmod(scratch, 0o755);
  python = await findPython("3", { home: scratch });
  index = await startPackageIndex({
    basicAuth: { username: USER, password: PASSWORD },
    wheels: NAMES.map((name) => ({ name, version: "1.0", consoleScripts: { [`${name}-cli`]: `${name.replace(/-/g, "_")}:main` }, files: { [`${name.replace(/-/g, "_")}/__init__.py`]: `def main():\n    print("${name}")\n` } })),
  });
  const base = index.urlWithCredentials(USER, PASSWORD).replace(/simple\/$/, "files/");
  for (const name of NAMES) {
    const filename = `${name.replace(/-/g, "_")}-1.0-py3-none-any.whl`;
    lock.set(name, { name, version: "1.0", wheelUrl: `${base}${filename}`, sha256: await sha256File(path.join(index.dir, filename)), requested: true });
  }
});
afterAll(async () => {
  await index.close();
  await rm(scratch, { recursive: true, force: true });
});

function pick(...names: string[]): LockedWheel[] {
  return names.map((n) => lock.get(n) as LockedWheel);
}

function downloads(): string[] {
  return index.requests.filter((r) => r.startsWith("/files/"));
}

describe("wheel cache", () => {
  it("downloads over basic auth once, unpacks read-only, and links the next environment from the cache", async () => {
    const home = path.join(scratch, "home-basic");
    const before = downloads().length;
    const first = await installLocked({ packages: pick("vf-c-one", "vf-c-two") }, path.join(scratch, "env-a"), python, { home });
    expect(first.installed.map((d) => [d.name, d.unpacked])).toEqual([["vf-c-one", true], ["vf-c-two", true]]);
    expect(first.installed[0]?.source).not.toContain(PASSWORD);
    const second = await installLocked({ packages: pick("vf-c-two", "vf-c-one") }, path.join(scratch, "env-b"), python, { home });
    expect(second.installed.every((d) => !d.unpacked)).toBe(true);
    expect(downloads().length - before).toBe(2);

    const cache = new WheelCache(home);
    const sha = lock.get("vf-c-one")?.sha256 as string;
    const cached = path.join(cache.treeDir(sha), "vf_c_one", "__init__.py");
    expect((await stat(cached)).mode & 0o777).toBe(0o444);
    const installed = path.join(scratch, "env-b", "lib", `python${python.major}.${python.minor}`, "site-packages", "vf_c_one", "__init__.py");
    expect((await stat(installed)).ino).toBe((await stat(cached)).ino); // hardlinked (ext4 has no reflink)
    expect(execFileSync(path.join(scratch, "env-b", "bin", "vf-c-one-cli"), { encoding: "utf8" })).toBe("vf-c-one\n");
    expect(await readFile(path.join(path.dirname(path.dirname(installed)), "vf_c_one-1.0.dist-info", "INSTALLER"), "utf8")).toBe("venvflow\n");
    expect(existsSync(path.join(path.dirname(path.dirname(installed)), "vf_c_one-1.0.dist-info", "REQUESTED"))).toBe(true);
  });

  it.skipIf(runsAsRoot && !pythonNobodyCanRun)("a task writing into its environment fails loudly instead of changing the cache (as a non-root user)", async () => {
    const home = path.join(scratch, "home-basic");
    const file = path.join(scratch, "env-b", "lib", `python${python.major}.${python.minor}`, "site-packages", "vf_c_one", "__init__.py");
    // Reading works (the file is reachable), writing does not.
    const write = `print(open(${JSON.stringify(file)}).read()); open(${JSON.stringify(file)}, "a").write("corrupted = True\\n")`;
    const asTask = runsAsRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", pythonNobodyCanRun as string] : [python.path];
    const result = await execFileAsync(asTask[0] as string, [...asTask.slice(1), "-c", write]).catch((e: { stderr: string }) => e);
    expect((result as { stdout: string }).stdout).toContain("def main");
    expect((result as { stderr: string }).stderr).toContain("PermissionError");
    const sha = lock.get("vf-c-one")?.sha256 as string;
    expect(await readFile(path.join(new WheelCache(home).treeDir(sha), "vf_c_one", "__init__.py"), "utf8")).not.toContain("corrupted");
  });

  it("never shows the password: wrong credentials give a redacted wheel_download_failed", async () => {
    const wrong = { ...(lock.get("vf-c-three") as LockedWheel) };
    wrong.wheelUrl = wrong.wheelUrl.replace(encodeURIComponent(PASSWORD), "wrong-password-123");
    const error = await installLocked({ packages: [wrong] }, path.join(scratch, "env-wrong"), python, { home: path.join(scratch, "home-wrong") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VenvflowError);
    expect((error as VenvflowError).code).toBe("wheel_download_failed");
    expect((error as VenvflowError).message).toContain("401");
    expect(JSON.stringify((error as VenvflowError).toJSON())).not.toContain("wrong-password-123");
    expect(JSON.stringify((error as VenvflowError).toJSON())).not.toContain(PASSWORD);
  });

  it("concurrent installs of overlapping sets in separate processes unpack and download each wheel exactly once", async () => {
    const home = path.join(scratch, "home-concurrent");
    const sets = [
      ["vf-c-one", "vf-c-two", "vf-c-three", "vf-c-four"],
      ["vf-c-three", "vf-c-four", "vf-c-five", "vf-c-six"],
      ["vf-c-five", "vf-c-six", "vf-c-one", "vf-c-two"],
      ["vf-c-two", "vf-c-four", "vf-c-six", "vf-c-three"],
    ];
    const before = downloads().length;
    const tsx = path.resolve("node_modules", ".bin", "tsx");
    const outputs = await Promise.all(
      sets.map(async (set, i) => {
        const lockFile = path.join(scratch, `lock-${i}.json`);
        await writeFile(lockFile, JSON.stringify(pick(...set)));
        const { stdout } = await execFileAsync(tsx, [path.resolve("test/env/wheels/install-worker.ts"), home, path.join(scratch, `env-c${i}`), lockFile]);
        return JSON.parse(stdout) as string[];
      }),
    );
    const unpacked = outputs.flat();
    expect(unpacked.sort()).toEqual(NAMES.map((n) => lock.get(n)?.sha256).sort());
    expect(downloads().length - before).toBe(NAMES.length);
    for (let i = 0; i < sets.length; i++) {
      const names = (sets[i] as string[]).map((n) => n.replace(/-/g, "_"));
      expect(execFileSync(path.join(scratch, `env-c${i}`, "bin", "python"), ["-c", `import ${names.join(", ")}; print("ok")`], { encoding: "utf8" })).toBe("ok\n");
    }
  });

  it("lists cached wheels with their references and evicts the unreferenced ones", async () => {
    const home = path.join(scratch, "home-gc");
    const keep = path.join(scratch, "env-keep");
    const drop = path.join(scratch, "env-drop");
    await installLocked({ packages: pick("vf-c-one", "vf-c-two") }, keep, python, { home });
    await installLocked({ packages: pick("vf-c-two", "vf-c-three") }, drop, python, { home });
    const cache = new WheelCache(home);
    const refs = Object.fromEntries((await cache.list()).map((w) => [w.name, w.references]));
    expect(refs).toEqual({ "vf-c-one": 1, "vf-c-two": 2, "vf-c-three": 1 });

    await rm(drop, { recursive: true, force: true });
    // Young wheels are kept (an install may not have recorded its references yet).
    expect((await cache.gc()).removed).toEqual([]);
    const dry = await cache.gc({ minAgeMs: 0, dryRun: true });
    expect(dry.removed.map((w) => w.name)).toEqual(["vf-c-three"]);
    expect((await cache.list()).length).toBe(3);
    const result = await cache.gc({ minAgeMs: 0 });
    expect(result.removed.map((w) => w.name)).toEqual(["vf-c-three"]);
    expect(result.freedBytes).toBeGreaterThan(0);
    expect((await cache.list()).map((w) => w.name).sort()).toEqual(["vf-c-one", "vf-c-two"]);
    // The environment that linked the evicted wheels still works: it holds links, not references.
    expect(execFileSync(path.join(keep, "bin", "vf-c-one-cli"), { encoding: "utf8" })).toBe("vf-c-one\n");

    await cache.forgetEnvironment(keep);
    expect((await cache.gc({ minAgeMs: 0 })).removed.map((w) => w.name).sort()).toEqual(["vf-c-one", "vf-c-two"]);
    expect(await readdir(path.join(home, "wheels", "archive"))).toEqual([]);
  });

  it("copies when the cache is on another filesystem (tmpfs), and copies on request", async () => {
    const shm = "/dev/shm";
    const installed = (env: string): string => path.join(env, "lib", `python${python.major}.${python.minor}`, "site-packages", "vf_c_one", "__init__.py");
    if (existsSync(shm)) {
      const home = await mkdtemp(path.join(shm, "venvflow-wcache-"));
      try {
        const env = path.join(scratch, "env-xdev");
        const result = await installLocked({ packages: pick("vf-c-one") }, env, python, { home });
        expect(result.linkMode).toBe("copy");
        const cached = path.join(new WheelCache(home).treeDir(lock.get("vf-c-one")?.sha256 as string), "vf_c_one", "__init__.py");
        expect((await stat(installed(env))).ino).not.toBe((await stat(cached)).ino);
        expect(await readFile(installed(env), "utf8")).toBe(await readFile(cached, "utf8"));
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    } else console.log("cross-filesystem copy check skipped: no /dev/shm on this machine");
    const env = path.join(scratch, "env-copy");
    const result = await installLocked({ packages: pick("vf-c-one") }, env, python, { home: path.join(scratch, "home-basic"), linkMode: "copy" });
    expect(result.linkMode).toBe("copy");
    expect((await stat(installed(env))).nlink).toBe(1);
    expect((await stat(installed(env))).mode & 0o777).toBe(0o444); // copies keep the cache's read-only mode
  });

  it("compiles bytecode in a detached background process", async () => {
    const env = path.join(scratch, "env-a");
    const child = compileBytecodeInBackground(env, python);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    const pycache = path.join(env, "lib", `python${python.major}.${python.minor}`, "site-packages", "vf_c_one", "__pycache__");
    expect((await readdir(pycache)).some((f) => f.endsWith(".pyc"))).toBe(true);
  });

  it("replaces a damaged cache entry (wheel.json gone) by unpacking the wheel again", async () => {
    const home = path.join(scratch, "home-basic");
    const sha = lock.get("vf-c-two")?.sha256 as string;
    await rm(path.join(new WheelCache(home).archiveDir(sha), "wheel.json"));
    const result = await installLocked({ packages: pick("vf-c-two") }, path.join(scratch, "env-repaired"), python, { home });
    expect(result.installed[0]?.unpacked).toBe(true);
    expect(execFileSync(path.join(scratch, "env-repaired", "bin", "vf-c-two-cli"), { encoding: "utf8" })).toBe("vf-c-two\n");
  });

  it("verify finds files changed through a link (as root can) and evicts the damaged wheel", async () => {
    const home = path.join(scratch, "home-verify");
    const env = path.join(scratch, "env-verify");
    await installLocked({ packages: pick("vf-c-one", "vf-c-two") }, env, python, { home });
    const cache = new WheelCache(home);
    expect(await cache.verify()).toEqual([]);
    const file = path.join(env, "lib", `python${python.major}.${python.minor}`, "site-packages", "vf_c_one", "__init__.py");
    await chmod(file, 0o644); // what root's write needs no permission for
    await writeFile(file, "corrupted = True\n", { flag: "a" });
    const sha = lock.get("vf-c-one")?.sha256 as string;
    expect(await cache.verify({ evict: true })).toEqual([{ sha256: sha, filename: "vf_c_one-1.0-py3-none-any.whl", files: ["vf_c_one/__init__.py"] }]);
    expect(await cache.info(sha)).toBeNull();
    const again = await installLocked({ packages: pick("vf-c-one") }, path.join(scratch, "env-verify-2"), python, { home });
    expect(again.installed[0]?.unpacked).toBe(true);
    expect(await cache.verify()).toEqual([]);
  });

  it("refuses a lock entry whose sha256 is not a sha256", async () => {
    const bad = { ...(lock.get("vf-c-one") as LockedWheel), sha256: "abc" };
    const error = await installLocked({ packages: [bad] }, path.join(scratch, "env-bad-sha"), python, { home: path.join(scratch, "home-bad") }).catch((e: unknown) => e);
    expect((error as VenvflowError).code).toBe("wheel_hash_invalid");
  });
});
