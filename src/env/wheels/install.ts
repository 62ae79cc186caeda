/**
 * Installing a locked set of wheels into a new environment: the environment is created (without Python)
 * while the wheels are fetched and unpacked into the cache in parallel, and each wheel is linked as soon as it
 * is unpacked, so downloads hide behind unpacking and linking behind both.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../../util/errors.ts";
import { redactUrl } from "../../util/secrets.ts";
import { linuxPlatforms, supportedTags, type Tag } from "../pep/tags.ts";
import { canonicalizeName, parseWheelFilename } from "../pep/utils.ts";
import { forEachLimited } from "./archive.ts";
import { WheelCache } from "./cache.ts";
import { Linker, linkWheel, type LinkMode } from "./link.ts";
import { createVenv, venvScheme, type PythonInfo } from "./venv.ts";

export interface LockedWheel {
  name: string;
  version: string;
  /** file:// or http(s):// URL of the wheel (credentials allowed: they are never logged or written). */
  wheelUrl: string;
  sha256: string;
  /** Asked for by the user, not only a dependency (REQUESTED is written). */
  requested: boolean;
  /** The wheel was given as a URL rather than found on an index: direct_url.json is written (PEP 610). */
  directUrl?: boolean;
}

export interface InstallLockedOptions {
  /** VENVFLOW_HOME (holds the wheel cache). Default: venvflowHome(). */
  home?: string;
  systemSitePackages?: boolean;
  /** The first link mode to try; it falls back to hardlink, then copy, as the filesystems require. Default "clone". */
  linkMode?: LinkMode;
  /** Wheels fetched and unpacked at once. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  /** `envDir` already holds an empty environment made by `createVenv` (the builder creates it first). */
  venvCreated?: boolean;
}

export interface InstalledDistribution {
  name: string;
  version: string;
  sha256: string;
  requested: boolean;
  /** Redacted source URL. */
  source: string;
  /** True when this install downloaded and unpacked the wheel (false: it was in the cache). */
  unpacked: boolean;
}

export interface InstallTimings {
  createVenvMs: number;
  /** Wall time from the start until the last wheel was in the cache. */
  fetchUnpackMs: number;
  /** Wall time after the last wheel was in the cache: the linking that fetching and unpacking did not hide. */
  linkTailMs: number;
  totalMs: number;
}

export interface InstallLockedResult {
  installed: InstalledDistribution[];
  timings: InstallTimings;
  linkMode: LinkMode;
}

/** Platform tags for the interpreter: full manylinux/musllinux lists on Linux, the sysconfig platform elsewhere. */
function platformTags(python: PythonInfo): string[] {
  const [system = "", ...rest] = python.platform.split("-");
  const arch = rest.join("_").replace(/[-.]/g, "_");
  if (system === "linux") {
    const header = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
    const glibc = /^(\d+)\.(\d+)/.exec(header.header?.glibcVersionRuntime ?? "");
    return linuxPlatforms({ arch, glibc: glibc ? [Number(glibc[1]), Number(glibc[2])] : null, musl: null });
  }
  return [python.platform.replace(/[-.]/g, "_")];
}

/** The wheel tags the interpreter accepts, best first (packaging's sys_tags for that interpreter). */
export function interpreterTags(python: PythonInfo): Tag[] {
  return supportedTags({ implementation: python.implementation, major: python.major, minor: python.minor, platforms: platformTags(python) });
}

function filenameOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
  } catch (error) {
    throw new VenvflowError("wheel_url_invalid", `The lock's wheel URL ${JSON.stringify(redactUrl(url))} is not a URL`, { fix: "give wheels as file:// or http(s):// URLs", cause: error });
  }
}

/** Refuses what cannot be installed before anything is downloaded: bad names, duplicates, incompatible tags. */
function checkLock(packages: readonly LockedWheel[], python: PythonInfo): void {
  const supported = new Set(interpreterTags(python).map((t) => t.toString()));
  const seen = new Set<string>();
  for (const pkg of packages) {
    const name = canonicalizeName(pkg.name);
    if (seen.has(name)) {
      throw new VenvflowError("lock_duplicate_package", `The lock lists ${pkg.name} more than once`, { fix: "lock the requirements again", details: { name: pkg.name } });
    }
    seen.add(name);
    const filename = filenameOf(pkg.wheelUrl);
    const parsed = parseWheelFilename(filename);
    if (parsed.name !== name) {
      throw new VenvflowError("lock_wheel_mismatch", `The lock pins ${pkg.name} ${pkg.version} to ${redactUrl(pkg.wheelUrl)}, a wheel of ${parsed.name}`, {
        fix: "lock the requirements again",
        details: { name: pkg.name, url: redactUrl(pkg.wheelUrl) },
      });
    }
    if (!parsed.tags.some((t) => supported.has(t.toString()))) {
      throw new VenvflowError("wheel_incompatible", `${filename} (tags ${parsed.tags.join(", ")}) does not run on Python ${python.version} (${python.implementation}, ${python.platform})`, {
        fix: `lock the requirements for this interpreter (a wheel tagged e.g. ${[...supported].slice(0, 1).join("")} or py3-none-any), or pick the Python the lock was made for`,
        details: { wheel: filename, python: python.path },
      });
    }
  }
}

/**
 * Creates `envDir` as a virtual environment for `python` and installs exactly the locked wheels into it.
 * `envDir` must not hold an environment yet. Bytecode is not compiled (see compileBytecodeInBackground).
 */
export async function installLocked(lock: { packages: readonly LockedWheel[] }, envDir: string, python: PythonInfo, options: InstallLockedOptions = {}): Promise<InstallLockedResult> {
  const started = performance.now();
  checkLock(lock.packages, python);
  const root = path.resolve(envDir);
  if (!options.venvCreated && (await fs.stat(path.join(root, "pyvenv.cfg")).then(() => true, () => false))) {
    throw new VenvflowError("venv_exists", `${root} already holds a virtual environment`, { fix: "install into a new directory, or remove the old environment first", details: { envDir: root } });
  }
  const existed = await fs.stat(root).then(() => true, () => false);
  await fs.mkdir(root, { recursive: true });
  const cache = new WheelCache(options.home);
  await cache.recordReferences(root, lock.packages.map((p) => p.sha256));

  const venvStarted = performance.now();
  const venv = options.venvCreated ? Promise.resolve() : createVenv(root, python, { systemSitePackages: options.systemSitePackages }).then(() => undefined);
  let createVenvMs = 0;
  void venv.then(() => (createVenvMs = performance.now() - venvStarted), () => undefined);
  const scheme = venvScheme(root, python);
  const linker = new Linker(options.linkMode);
  const createdDirs = new Set<string>();
  const installed: InstalledDistribution[] = [];
  let fetchUnpackMs = 0;
  try {
    // Several wheels in flight: while one unpacks (synchronously, in slices), the next ones download.
    await forEachLimited(lock.packages, options.concurrency ?? 4, async (pkg) => {
      const cached = await cache.ensure({ url: pkg.wheelUrl, sha256: pkg.sha256 }, { signal: options.signal });
      fetchUnpackMs = Math.max(fetchUnpackMs, performance.now() - started);
      await venv;
      await linkWheel(cached.info, cached.tree, scheme, linker, { requested: pkg.requested, directUrl: pkg.directUrl ? pkg.wheelUrl : undefined, createdDirs });
      installed.push({ name: cached.info.name, version: cached.info.version, sha256: cached.info.sha256, requested: pkg.requested, source: redactUrl(pkg.wheelUrl), unpacked: cached.unpacked });
    });
    await venv;
  } catch (error) {
    await venv.catch(() => undefined);
    // A half-installed environment is useless: remove what this call created (a directory it was given stays).
    if (!existed) await fs.rm(root, { recursive: true, force: true });
    await cache.forgetEnvironment(root);
    throw error;
  }
  installed.sort((a, b) => a.name.localeCompare(b.name));
  const totalMs = performance.now() - started;
  return { installed, timings: { createVenvMs, fetchUnpackMs, linkTailMs: totalMs - fetchUnpackMs, totalMs }, linkMode: linker.linkMode };
}

/**
 * Compiles the environment's bytecode in a detached process, off the critical path: a task never waits for it
 * (Python compiles what it imports on its own; this only saves later imports the work). Returns the child so
 * callers that must clean up (tests) can wait for it; the builder ignores it.
 */
export function compileBytecodeInBackground(envDir: string, python: PythonInfo): ChildProcess {
  const scheme = venvScheme(envDir, python);
  const child = spawn(scheme.python, ["-m", "compileall", "-q", scheme.purelib], { detached: true, stdio: "ignore" });
  child.on("error", () => undefined); // best effort: a missing bytecode file costs a compile at import, nothing more
  child.unref();
  return child;
}
