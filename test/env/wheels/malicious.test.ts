import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPython } from "../../../src/env/python.ts";
import { installLocked, type PythonInfo } from "../../../src/env/wheels/index.ts";
import { VenvflowError } from "../../../src/util/errors.ts";
import { craftWheel, lockEntry, wheelBasics, type CraftOptions } from "./support.ts";

let scratch: string;
let python: PythonInfo;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "venvflow-evil-"));
  python = await findPython("3", { home: scratch });
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
/** Installs one crafted wheel into a fresh environment with a fresh cache; returns the error it raised. */
async function refused(files: Record<string, string>, options: CraftOptions & { filename?: string } = {}): Promise<{ error: VenvflowError; home: string }> {
  const dir = path.join(scratch, `case-${counter++}`);
  const filename = options.filename ?? "evil-1.0-py3-none-any.whl";
  const wheel = await craftWheel(path.join(dir, "dist"), filename, files, options);
  const home = path.join(dir, "home");
  const error = await installLocked({ packages: [await lockEntry(wheel, "evil", "1.0")] }, path.join(dir, "env"), python, { home }).then(
    () => {
      throw new Error("the wheel was installed");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VenvflowError);
  // Nothing of a refused wheel stays in the cache, complete or half-unpacked.
  expect(await readdir(path.join(home, "wheels", "archive")).catch(() => [])).toEqual([]);
  expect(await readdir(path.join(home, "wheels", "tmp")).catch(() => [])).toEqual([]);
  // Nor does the half-created environment, or its references.
  expect(existsSync(path.join(dir, "env"))).toBe(false);
  expect(await readdir(path.join(home, "wheels", "refs")).catch(() => [])).toEqual([]);
  return { error: error as VenvflowError, home };
}

const basics = wheelBasics("evil", "1.0");

describe("malicious and broken wheels are refused", () => {
  it("refuses a path escaping the target with '..' (zip-slip) and writes nothing outside", async () => {
    const { error, home } = await refused({ ...basics, "evil/__init__.py": "", "../../escaped.py": "print('pwned')\n" });
    expect(error.code).toBe("wheel_unsafe_path");
    expect(error.message).toContain("../../escaped.py");
    expect(error.fix).toBeTruthy();
    expect(existsSync(path.join(home, "escaped.py"))).toBe(false);
    expect(existsSync(path.join(home, "wheels", "escaped.py"))).toBe(false);
  });

  it("refuses an absolute path", async () => {
    const target = path.join(scratch, "absolute-escape.py");
    const { error } = await refused({ ...basics, [target]: "print('pwned')\n" });
    expect(error.code).toBe("wheel_unsafe_path");
    expect(error.message).toContain("absolute path");
    expect(existsSync(target)).toBe(false);
  });

  it("refuses a backslash path and a '..' hidden in a .data directory", async () => {
    expect((await refused({ ...basics, "evil\\..\\..\\x.py": "" })).error.code).toBe("wheel_unsafe_path");
    const { error } = await refused({ ...basics, "evil-1.0.data/data/../../../x.py": "" });
    expect(error.code).toBe("wheel_unsafe_path");
  });

  it("refuses a symbolic link entry", async () => {
    const { error } = await refused({ ...basics, "evil/link": "/etc/passwd" }, { modes: { "evil/link": 0o120777 } });
    expect(error.code).toBe("wheel_unsafe_path");
    expect(error.message).toContain("symbolic link");
  });

  it("refuses a file whose hash does not match RECORD, and a file RECORD does not list", async () => {
    const tampered = await refused({ ...basics, "evil/__init__.py": "x = 2\n" }, { recordOverrides: { "evil/__init__.py": "evil/__init__.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,6" } });
    expect(tampered.error.code).toBe("wheel_record_mismatch");
    expect(tampered.error.message).toContain("evil/__init__.py");
    const smuggled = await refused({ ...basics, "evil/__init__.py": "", "evil/smuggled.py": "" }, { recordOverrides: { "evil/smuggled.py": "omit" } });
    expect(smuggled.error.code).toBe("wheel_record_mismatch");
    expect(smuggled.error.message).toContain("evil/smuggled.py");
  });

  it("refuses a corrupt zip (truncated, and not a zip at all)", async () => {
    const dir = path.join(scratch, "corrupt");
    const good = await craftWheel(path.join(dir, "good"), "evil-1.0-py3-none-any.whl", { ...basics, "evil/__init__.py": "x = 1\n".repeat(500) });
    const bytes = await readFile(good);
    for (const [label, content] of [["truncated", bytes.subarray(0, Math.floor(bytes.length / 2))], ["garbage", Buffer.from("this is not a zip file at all\n".repeat(20))]] as const) {
      const file = path.join(dir, label, "evil-1.0-py3-none-any.whl");
      await rm(path.dirname(file), { recursive: true, force: true });
      await import("node:fs/promises").then((fs) => fs.mkdir(path.dirname(file), { recursive: true }));
      await writeFile(file, content);
      const error = await installLocked({ packages: [await lockEntry(file, "evil", "1.0")] }, path.join(dir, label, "env"), python, { home: path.join(dir, label, "home") }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VenvflowError);
      expect((error as VenvflowError).code, label).toBe("wheel_corrupt");
    }
  });

  it("refuses a wheel without RECORD, with a foreign .dist-info, or an unknown .data key", async () => {
    const noRecord = await refused({ ...basics, "evil-1.0.dist-info/RECORD": "" });
    expect(noRecord.error.code).toBe("wheel_record_mismatch");
    const foreign = await refused({ ...wheelBasics("other", "1.0"), "other/__init__.py": "" });
    expect(foreign.error.code).toBe("wheel_corrupt");
    expect(foreign.error.message).toContain(".dist-info");
    const badKey = await refused({ ...basics, "evil-1.0.data/nowhere/x.txt": "" });
    expect(badKey.error.code).toBe("wheel_corrupt");
    expect(badKey.error.message).toContain("nowhere");
  });

  it("large wheels are checked the same way: RECORD mismatch, corrupt deflate data", async () => {
    const many: Record<string, string> = { ...basics, "evil/__init__.py": "" };
    for (let i = 0; i < 150; i++) many[`evil/m${i}.py`] = `VALUE = ${i}\n`.repeat(50);
    const ok = await craftWheel(path.join(scratch, "large-ok"), "evil-1.0-py3-none-any.whl", many);
    const env = path.join(scratch, "large-ok", "env");
    await installLocked({ packages: [await lockEntry(ok, "evil", "1.0")] }, env, python, { home: path.join(scratch, "large-ok", "home") });
    expect(await readFile(path.join(env, "lib", `python${python.major}.${python.minor}`, "site-packages", "evil", "m149.py"), "utf8")).toBe("VALUE = 149\n".repeat(50));

    const mismatch = await refused(many, { recordOverrides: { "evil/m77.py": "evil/m77.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,600" } });
    expect(mismatch.error.code).toBe("wheel_record_mismatch");
    expect(mismatch.error.message).toContain("evil/m77.py");

    const dir = path.join(scratch, "large-corrupt");
    const file = await craftWheel(dir, "evil-1.0-py3-none-any.whl", many);
    const bytes = await readFile(file);
    const name = Buffer.from("evil/m42.py");
    const at = bytes.indexOf(name); // the local header's copy comes first
    const start = at + name.length + bytes.readUInt16LE(at - 30 + 28);
    bytes.fill(0xff, start, start + 4); // deflate block type 11: reserved, always an error
    await writeFile(file, bytes);
    const error = await installLocked({ packages: [await lockEntry(file, "evil", "1.0")] }, path.join(dir, "env"), python, { home: path.join(dir, "home") }).catch((e: unknown) => e);
    expect((error as VenvflowError).code).toBe("wheel_corrupt");
    expect((error as VenvflowError).message).toContain("evil/m42.py");
  });

  it("refuses an entry point that is not module:function", async () => {
    const { error } = await refused({ ...basics, "evil-1.0.dist-info/entry_points.txt": "[console_scripts]\nevil = not a target\n" });
    expect(error.code).toBe("wheel_invalid_entry_point");
  });

  it("refuses a wheel whose tags do not fit the interpreter, before reading it", async () => {
    const dir = path.join(scratch, "incompatible");
    const missing = pathToFileURL(path.join(dir, "evil-1.0-cp27-cp27mu-manylinux1_x86_64.whl")).href;
    const error = await installLocked({ packages: [{ name: "evil", version: "1.0", wheelUrl: missing, sha256: "0".repeat(64), requested: true }] }, path.join(dir, "env"), python, { home: path.join(dir, "home") }).catch((e: unknown) => e);
    expect((error as VenvflowError).code).toBe("wheel_incompatible");
    expect((error as VenvflowError).message).toContain("cp27");
    expect(existsSync(path.join(dir, "env"))).toBe(false);
  });

  it("refuses a wheel whose sha256 differs from the lock's", async () => {
    const dir = path.join(scratch, "hash");
    const wheel = await craftWheel(dir, "evil-1.0-py3-none-any.whl", { ...basics, "evil/__init__.py": "" });
    const entry = { ...(await lockEntry(wheel, "evil", "1.0")), sha256: "f".repeat(64) };
    const error = await installLocked({ packages: [entry] }, path.join(dir, "env"), python, { home: path.join(dir, "home") }).catch((e: unknown) => e);
    expect((error as VenvflowError).code).toBe("wheel_hash_mismatch");
    expect((error as VenvflowError).message).toContain("f".repeat(64));
  });
});

describe("bad locks and targets are refused", () => {
  async function goodWheel(): Promise<string> {
    return craftWheel(path.join(scratch, "good"), "evil-1.0-py3-none-any.whl", { ...basics, "evil/__init__.py": "" });
  }
  async function installError(packages: Parameters<typeof installLocked>[0]["packages"], envDir = path.join(scratch, `bad-${counter++}`), target: PythonInfo = python): Promise<VenvflowError> {
    const error = await installLocked({ packages }, envDir, target, { home: path.join(scratch, "bad-home") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VenvflowError);
    return error as VenvflowError;
  }

  it("accepts RECORD hashes in another strong algorithm (sha512), and checks them", async () => {
    const content = "x = 1\n";
    const sha512 = createHash("sha512").update(content).digest("base64url");
    const good = await craftWheel(path.join(scratch, "sha512"), "evil-1.0-py3-none-any.whl", { ...basics, "evil/__init__.py": content }, { recordOverrides: { "evil/__init__.py": `evil/__init__.py,sha512=${sha512},6` } });
    await installLocked({ packages: [await lockEntry(good, "evil", "1.0")] }, path.join(scratch, "sha512-env"), python, { home: path.join(scratch, "sha512-home") });
    const bad = await refused({ ...basics, "evil/__init__.py": content }, { recordOverrides: { "evil/__init__.py": `evil/__init__.py,sha512=${sha512.replace(/^./, "A")},6` } });
    expect(bad.error.code).toBe("wheel_record_mismatch");
    const weak = await refused({ ...basics, "evil/__init__.py": content }, { recordOverrides: { "evil/__init__.py": `evil/__init__.py,md5=${createHash("md5").update(content).digest("base64url")},6` } });
    expect(weak.error.code).toBe("wheel_record_mismatch");
  });

  it("one bad wheel among good ones: the environment is removed once every running install has settled", async () => {
    const dir = path.join(scratch, "mixed");
    const good = await Promise.all(["one", "two", "three", "four", "five"].map(async (n) => lockEntry(await craftWheel(path.join(dir, "dist"), `good_${n}-1.0-py3-none-any.whl`, { ...wheelBasics(`good_${n}`, "1.0"), [`good_${n}/__init__.py`]: "x = 1\n".repeat(2000) }), `good-${n}`, "1.0")));
    const bad = { ...(await lockEntry(await goodWheel(), "evil", "1.0")), sha256: "e".repeat(64) };
    const env = path.join(dir, "env");
    const error = await installError([good[0], good[1], bad, good[2], good[3], good[4]] as typeof good, env);
    expect(error.code).toBe("wheel_hash_mismatch");
    expect(existsSync(env)).toBe(false);
  });

  it("refuses a package locked twice, or to another project's wheel", async () => {
    const entry = await lockEntry(await goodWheel(), "evil", "1.0");
    expect((await installError([entry, { ...entry, name: "Evil" }])).code).toBe("lock_duplicate_package");
    const other = await installError([{ ...entry, name: "other" }]);
    expect(other.code).toBe("lock_wheel_mismatch");
    expect(other.message).toContain("a wheel of evil");
  });

  it("refuses a URL that is not a wheel, and a scheme it cannot fetch", async () => {
    const entry = await lockEntry(await goodWheel(), "evil", "1.0");
    expect((await installError([{ ...entry, wheelUrl: "file:///tmp/evil-1.0.tar.gz" }])).code).toBe("invalid_wheel_filename");
    expect((await installError([{ ...entry, wheelUrl: "evil-1.0-py3-none-any.whl" }])).code).toBe("wheel_url_invalid");
    const ftp = await installError([{ ...entry, wheelUrl: "ftp://user:hunter22@example.invalid/evil-1.0-py3-none-any.whl" }]);
    expect(ftp.code).toBe("wheel_download_failed");
    expect(ftp.message).not.toContain("hunter22");
  });

  it("refuses to install over an existing environment, and interpreters other than CPython", async () => {
    const entry = await lockEntry(await goodWheel(), "evil", "1.0");
    const env = path.join(scratch, "twice");
    await installLocked({ packages: [entry] }, env, python, { home: path.join(scratch, "bad-home") });
    expect((await installError([entry], env)).code).toBe("venv_exists");
    const pypy: PythonInfo = { ...python, implementation: "pypy" };
    expect((await installError([entry], path.join(scratch, "pypy"), pypy)).code).toBe("venv_unsupported_python");
  });
});
