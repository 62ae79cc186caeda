/**
 * Python discovery: find interpreters on PATH, in pyenv and in the usual prefixes, probe each once
 * (the probe is cached on disk, keyed by the binary's real path, size and mtime, so a cached task
 * dispatch does not pay ~20 ms per interpreter), and pick the one a `pythonVersion` asks for.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { venvflowHome } from "../util/home.ts";
import { runProcessGroup } from "../util/process.ts";
import { MARKER_ENVIRONMENT_SCRIPT, tryParseVersion, type MarkerEnvironment } from "./pep/index.ts";
import type { Interpreter } from "./types.ts";

/** Oldest Python venvflow builds environments for (pip ≥ 22.3's `--python` and the runner need it). */
export const MIN_PYTHON: readonly [number, number] = [3, 8];

/** What the probe learns beyond the public `Interpreter` fields; used by the builder and the key. */
export interface ProbedInterpreter extends Interpreter {
  /** `sysconfig.get_platform()`, e.g. "linux-x86_64". */
  platform: string;
  /** The interpreter's own site-packages (purelib). */
  purelib: string;
  /** Version of pip importable by this interpreter, or null. */
  pipVersion: string | null;
  /** True when this interpreter is itself inside a virtual environment. */
  inVirtualenv: boolean;
  /** PEP 508 marker environment (packaging's `default_environment()`): what dependency markers are evaluated against. */
  markers: MarkerEnvironment;
  /** glibc version the interpreter runs on ([2, 36]), null elsewhere: decides which manylinux wheels fit. */
  glibc: [number, number] | null;
}

const PROBE_SCRIPT = `
import contextlib, io, os
_markers = io.StringIO()
with contextlib.redirect_stdout(_markers):
    exec(${JSON.stringify(MARKER_ENVIRONMENT_SCRIPT)})
try:
    _glibc = [int(p) for p in os.confstr("CS_GNU_LIBC_VERSION").split()[1].split(".")[:2]]
except Exception:
    _glibc = None
import json, os, platform, sys
try:
    import sysconfig
    purelib = sysconfig.get_paths()["purelib"]
    plat = sysconfig.get_platform()
except Exception:
    purelib, plat = "", ""
pip_version = None
try:
    for entry in os.listdir(purelib):
        if entry.startswith("pip-") and entry.endswith(".dist-info"):
            pip_version = entry[4:-len(".dist-info")]
except Exception:
    pass
impl = getattr(sys, "implementation", None)
print(json.dumps({
    "executable": os.path.realpath(sys.executable),
    "version": platform.python_version(),
    "major": sys.version_info[0],
    "minor": sys.version_info[1],
    "implementation": impl.name if impl else platform.python_implementation().lower(),
    "platform": plat,
    "purelib": purelib,
    "pipVersion": pip_version,
    "inVirtualenv": getattr(sys, "base_prefix", sys.prefix) != sys.prefix,
    "markers": json.loads(_markers.getvalue()),
    "glibc": _glibc,
}))
`;

interface ProbeCacheEntry {
  size: number;
  mtimeMs: number;
  info: Omit<ProbedInterpreter, "source">;
}

function probeCachePath(home: string): string {
  return path.join(home, "cache", "interpreters.json");
}

async function readProbeCache(home: string): Promise<Record<string, ProbeCacheEntry>> {
  try {
    return JSON.parse(await fs.readFile(probeCachePath(home), "utf8")) as Record<string, ProbeCacheEntry>;
  } catch {
    return {};
  }
}

async function writeProbeCache(home: string, cache: Record<string, ProbeCacheEntry>): Promise<void> {
  const file = probeCachePath(home);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(tmp, JSON.stringify(cache));
  await fs.rename(tmp, file);
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** pyenv's selected versions: PYENV_VERSION, else the global version file (per-directory files are not read). */
async function pyenvSelected(env: NodeJS.ProcessEnv, pyenvRoot: string): Promise<string[]> {
  const text = env.PYENV_VERSION ?? (await fs.readFile(path.join(pyenvRoot, "version"), "utf8").catch(() => ""));
  return text.split(/[\s:]+/).filter((v) => v && v !== "system");
}

const PYTHON_NAME = /^python(\d(\.\d+)?)?$/;

/** Candidate interpreter paths in search order: PATH, pyenv's versions, then the usual prefixes. */
async function candidatePaths(env: NodeJS.ProcessEnv): Promise<{ file: string; source: string }[]> {
  const out: { file: string; source: string }[] = [];
  const pyenvRoot = env.PYENV_ROOT ?? path.join(os.homedir(), ".pyenv");
  const listDir = async (dir: string): Promise<string[]> => {
    try {
      return await fs.readdir(dir);
    } catch {
      return [];
    }
  };
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    // pyenv's shims re-dispatch to the selected version (and fail for others): stand the selected version's
    // interpreter in the shims' place, so "the python3 on PATH" means what it means in the user's shell.
    if (path.resolve(dir) === path.join(pyenvRoot, "shims")) {
      for (const version of await pyenvSelected(env, pyenvRoot)) out.push({ file: path.join(pyenvRoot, "versions", version, "bin", "python"), source: "path" });
      continue;
    }
    for (const name of (await listDir(dir)).filter((n) => PYTHON_NAME.test(n)).sort()) out.push({ file: path.join(dir, name), source: "path" });
  }
  for (const version of await listDir(path.join(pyenvRoot, "versions"))) {
    out.push({ file: path.join(pyenvRoot, "versions", version, "bin", "python"), source: "pyenv" });
  }
  const prefixes = ["/usr/local/bin", "/usr/bin", "/opt/homebrew/bin", "/opt/local/bin"];
  for (const dir of prefixes) {
    for (const name of (await listDir(dir)).filter((n) => PYTHON_NAME.test(n)).sort()) out.push({ file: path.join(dir, name), source: "prefix" });
  }
  for (const root of ["/opt/python", path.join(os.homedir(), ".local", "share", "uv", "python")]) {
    for (const version of await listDir(root)) out.push({ file: path.join(root, version, "bin", "python3"), source: "prefix" });
  }
  return out;
}

/**
 * Runs a helper script in `python` and parses the one JSON document it prints: the interpreter probe, the
 * runtime's callable check and doctor's analyzer all talk to Python this way. `input` is sent as JSON on stdin.
 * A crash, a timeout or output that is not JSON is a `python_failed` VenvflowError saying what `python` could not do.
 */
export async function runPythonJson<T>(python: string, args: readonly string[], options: { what: string; input?: unknown; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<T> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const fail = (detail: string): VenvflowError =>
    new VenvflowError("python_failed", `${python} could not ${options.what}: ${detail.trim().slice(-1000)}`, { fix: "use a working CPython 3.8 or newer" });
  let outcome;
  try {
    outcome = await runProcessGroup({
      command: python,
      args,
      env: options.env ?? process.env,
      timeoutMs: options.timeoutMs,
      ...(options.input === undefined ? {} : { input: JSON.stringify(options.input) }),
      lines: { 1: (line) => stdout.push(line), 2: (line) => stderr.push(line) },
    });
  } catch (error) {
    throw fail((error as Error).message);
  }
  if (outcome.timedOut) throw fail(`no answer within ${options.timeoutMs} ms`);
  if (outcome.exitCode !== 0) throw fail(stderr.join("\n") || `it exited with ${outcome.exitCode ?? outcome.signal}`);
  try {
    return JSON.parse(stdout.join("\n")) as T;
  } catch {
    throw fail(`it printed something other than JSON: ${stdout.join("\n").slice(0, 200)}`);
  }
}

async function runProbe(file: string): Promise<Omit<ProbedInterpreter, "source">> {
  const raw = await runPythonJson<{
    executable: string;
    version: string;
    major: number;
    minor: number;
    implementation: string;
    platform: string;
    purelib: string;
    pipVersion: string | null;
    inVirtualenv: boolean;
    markers: MarkerEnvironment;
    glibc: [number, number] | null;
  }>(file, ["-c", PROBE_SCRIPT], { what: "describe itself", timeoutMs: 15_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  return {
    path: raw.executable,
    version: raw.version,
    major: raw.major,
    minor: raw.minor,
    implementation: raw.implementation,
    platform: raw.platform,
    purelib: raw.purelib,
    pipVersion: raw.pipVersion,
    inVirtualenv: raw.inVirtualenv,
    markers: raw.markers,
    glibc: raw.glibc?.length === 2 ? raw.glibc : null,
  };
}

export interface DiscoveryOptions {
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/** Probes one interpreter file (cached by real path, size and mtime). Returns null when it does not run. */
export async function probeInterpreter(file: string, source: string, options: DiscoveryOptions = {}): Promise<ProbedInterpreter | null> {
  const home = options.home ?? venvflowHome(options.env);
  return probeWithCache(file, source, home, await readProbeCache(home));
}

async function probeWithCache(file: string, source: string, home: string, cache: Record<string, ProbeCacheEntry>): Promise<ProbedInterpreter | null> {
  let real: string;
  let stat: { size: number; mtimeMs: number };
  try {
    real = await fs.realpath(file);
    stat = await fs.stat(real);
  } catch {
    return null;
  }
  const hit = cache[real];
  // Entries written before the probe learnt markers are probed again.
  if (hit && hit.size === stat.size && hit.mtimeMs === stat.mtimeMs && hit.info.markers) return { ...hit.info, source };
  let info: Omit<ProbedInterpreter, "source">;
  try {
    info = await runProbe(file);
  } catch {
    return null;
  }
  // Re-read before writing: other processes probe concurrently and their entries must survive.
  const latest = await readProbeCache(home);
  latest[real] = { size: stat.size, mtimeMs: stat.mtimeMs, info };
  await writeProbeCache(home, latest).catch(() => undefined);
  return { ...info, source };
}

/**
 * Discovery results, reused while no searched directory changed: installing or removing an interpreter
 * changes its directory's mtime. Saves ~10 ms of directory scans on every cached task dispatch.
 */
const discoveryMemo = new Map<string, { fingerprint: string; result: ProbedInterpreter[] }>();

async function searchFingerprint(env: NodeJS.ProcessEnv): Promise<string> {
  const pyenvRoot = env.PYENV_ROOT ?? path.join(os.homedir(), ".pyenv");
  const dirs = [...(env.PATH ?? "").split(path.delimiter), path.join(pyenvRoot, "versions"), path.join(pyenvRoot, "version"), "/usr/local/bin", "/usr/bin", "/opt/homebrew/bin", "/opt/local/bin", "/opt/python"];
  const stamps = await Promise.all(dirs.map(async (dir) => `${dir}:${(await fs.stat(dir).catch(() => null))?.mtimeMs ?? "-"}`));
  return stamps.join("|");
}

/** Every distinct interpreter found, in search order (deduplicated by real path). */
export async function listPythons(options: DiscoveryOptions = {}): Promise<ProbedInterpreter[]> {
  const env = options.env ?? process.env;
  const home = options.home ?? venvflowHome(env);
  const memoKey = `${home}\u0000${env.PATH ?? ""}\u0000${env.PYENV_ROOT ?? ""}\u0000${env.PYENV_VERSION ?? ""}`;
  const fingerprint = await searchFingerprint(env);
  const memo = discoveryMemo.get(memoKey);
  if (memo && memo.fingerprint === fingerprint) return memo.result;

  const candidates = await candidatePaths(env);
  const seenFiles = new Set<string>();
  const unique: { file: string; source: string }[] = [];
  for (const candidate of candidates) {
    let real: string;
    try {
      real = await fs.realpath(candidate.file);
    } catch {
      continue;
    }
    if (seenFiles.has(real) || !(await isExecutableFile(real))) continue;
    seenFiles.add(real);
    unique.push(candidate);
  }
  const cache = await readProbeCache(home);
  const probed = await Promise.all(unique.map((c) => probeWithCache(c.file, c.source, home, cache)));
  const seen = new Set<string>();
  const result: ProbedInterpreter[] = [];
  for (const interpreter of probed) {
    if (!interpreter || seen.has(interpreter.path)) continue;
    seen.add(interpreter.path);
    result.push(interpreter);
  }
  discoveryMemo.set(memoKey, { fingerprint, result });
  return result;
}

/** PEP 440 order; a version PEP 440 cannot read (a "3.13.0+" dev build) sorts below every readable one. */
function compareVersions(a: string, b: string): number {
  const [va, vb] = [tryParseVersion(a), tryParseVersion(b)];
  if (va && vb) return va.compare(vb);
  return va ? 1 : vb ? -1 : 0;
}

function describe(found: ProbedInterpreter[]): string {
  if (found.length === 0) return "no Python interpreter was found on PATH, in pyenv or in the usual prefixes";
  return `found: ${found.map((p) => `${p.version} (${p.path})`).join(", ")}`;
}

function checkSupported(interpreter: ProbedInterpreter, request: string): ProbedInterpreter {
  const [minMajor, minMinor] = MIN_PYTHON;
  if (interpreter.major < minMajor || (interpreter.major === minMajor && interpreter.minor < minMinor)) {
    throw new VenvflowError(
      "python_unsupported",
      `Python ${interpreter.version} (${interpreter.path}), asked for as "${request}", is older than venvflow supports (${minMajor}.${minMinor})`,
      { fix: `use pythonVersion "${minMajor}.${minMinor}" or newer`, details: { request, path: interpreter.path, version: interpreter.version } },
    );
  }
  return interpreter;
}

/**
 * Finds the interpreter a `pythonVersion` asks for: "3", "3.12", "3.12.1" (the newest match; PATH order
 * breaks ties) or an absolute path (used as is). Without a request: the first `python3` on PATH, as
 * Airflow uses the `python` on PATH, else the newest Python 3 found.
 */
export async function findPython(request?: string, options: DiscoveryOptions = {}): Promise<ProbedInterpreter> {
  if (request !== undefined && typeof request !== "string") {
    throw new VenvflowError("invalid_python_version", `pythonVersion must be a string such as "3.12", got ${typeof request} ${String(request)}`, {
      fix: 'quote the version: pythonVersion: "3.12"',
    });
  }
  const trimmed = request?.trim();
  if (trimmed && (trimmed.includes("/") || trimmed.includes(path.sep))) {
    if (!path.isAbsolute(trimmed)) {
      throw new VenvflowError("invalid_python_version", `pythonVersion "${trimmed}" looks like a path but is not absolute`, {
        fix: "give an absolute interpreter path, or a version such as 3.12",
      });
    }
    if (!(await isExecutableFile(trimmed))) {
      throw new VenvflowError("python_not_found", `Python interpreter ${trimmed} does not exist or is not an executable file`, {
        fix: "check the path, or give a version such as 3.12",
      });
    }
    const probed = await probeInterpreter(trimmed, "explicit", options);
    if (!probed) {
      throw new VenvflowError("python_not_found", `${trimmed} did not run as a Python interpreter`, { fix: "point pythonVersion at a working python binary" });
    }
    return checkSupported(probed, trimmed);
  }
  if (trimmed !== undefined && !/^\d+(\.\d+){0,2}$/.test(trimmed)) {
    throw new VenvflowError("invalid_python_version", `pythonVersion "${request}" is not a version or an absolute path`, {
      fix: 'use "3", "3.12", "3.12.1" or an absolute interpreter path',
    });
  }
  const found = await listPythons(options);
  if (!trimmed) {
    const onPath = found.find((p) => p.source === "path" && p.major === 3) ?? [...found].filter((p) => p.major === 3).sort((a, b) => compareVersions(b.version, a.version))[0];
    if (!onPath) throw new VenvflowError("python_not_found", "No Python 3 interpreter was found", { fix: "install Python 3.8+ or set pythonVersion to an interpreter path", details: { found: found.map((p) => p.path) } });
    return checkSupported(onPath, "default");
  }
  const wanted = trimmed.split(".");
  const matches = found.filter((p) => {
    const have = p.version.split(".");
    return wanted.every((part, i) => have[i] === part);
  });
  const best = matches.sort((a, b) => compareVersions(b.version, a.version))[0];
  if (!best) {
    throw new VenvflowError("python_not_found", `No Python ${trimmed} interpreter was found (${describe(found)})`, {
      fix: `install Python ${trimmed} (e.g. \`pyenv install ${trimmed}\`), or use one of the versions found`,
      details: { request: trimmed, found: found.map((p) => ({ version: p.version, path: p.path })) },
    });
  }
  return checkSupported(best, trimmed);
}
