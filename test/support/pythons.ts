/**
 * The interpreters a test may use, found with venvflow's own discovery (PATH, pyenv, the usual prefixes) instead of
 * paths of one machine. A test that needs a version this machine lacks skips with a printed reason; on a machine that
 * has them all (as CI does) every case runs.
 */
import { existsSync, readdirSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { listPythons, type ProbedInterpreter } from "../../src/env/python.ts";

// Probe results are cached under a home of the tests' own, never the developer's ~/.cache/venvflow.
const found: ProbedInterpreter[] = await listPythons({ home: path.join(tmpdir(), "venvflow-test-probes") });

function newest(matching: (p: ProbedInterpreter) => boolean): ProbedInterpreter | undefined {
  return found.filter(matching).sort((a, b) => b.minor - a.minor || b.version.localeCompare(a.version, undefined, { numeric: true }))[0];
}

/** The newest installed interpreter of `version` ("3.12"), or undefined. */
export function python(version: string): string | undefined {
  const [major, minor] = version.split(".").map(Number);
  return newest((p) => p.major === major && p.minor === minor)?.path;
}

/** The interpreter's full version, e.g. "3.12.1", for expectations that quote it. */
export function versionOf(file: string): string {
  const interpreter = found.find((p) => p.path === file);
  if (!interpreter) throw new Error(`${file} is not one of the discovered interpreters`);
  return interpreter.version;
}

/** The newest supported Python 3 (3.8+): every machine that runs the suite has one. */
export const anyPython: string = (() => {
  const interpreter = newest((p) => p.major === 3 && p.minor >= 8);
  if (!interpreter) throw new Error(`the tests need a Python 3.8 or newer; found: ${found.map((p) => `${p.version} (${p.path})`).join(", ") || "none"}`);
  return interpreter.path;
})();

/**
 * The interpreter of the cases that need no particular version: 3.12 where installed (the version those tests were
 * written against), else the newest supported one, so they also run on a machine with a single Python 3.
 */
export const preferredPython: string = python("3.12") ?? anyPython;

const said = new Set<string>();

/**
 * `python(version)`, printing once why the cases that need it are skipped when it is missing. Use with
 * `describe.skipIf(!py)` / `it.skipIf(!py)`.
 */
export function pythonOrSkip(version: string, what: string): string | undefined {
  const file = python(version);
  if (!file) warnSkipped(version, what);
  return file;
}

function warnSkipped(version: string, what: string): void {
  if (said.has(`${version}\u0000${what}`)) return;
  said.add(`${version}\u0000${what}`);
  console.warn(`skipped: ${what} needs Python ${version}, which is not installed here (found: ${found.map((p) => p.version).join(", ") || "none"})`);
}

/**
 * Interpreters older than venvflow supports (2.7, 3.6, 3.7), for the tests that check they are refused. Discovery's
 * probe does not run on Python 2, so a version it does not report is looked for by name (`python2.7`) on PATH and
 * in pyenv's versions.
 */
export function oldPython(version: string): string | undefined {
  const discovered = python(version);
  if (discovered) return discovered;
  const pyenvVersions = path.join(process.env.PYENV_ROOT ?? path.join(homedir(), ".pyenv"), "versions");
  const pyenvDirs = existsSync(pyenvVersions) ? readdirSync(pyenvVersions).filter((v) => v.startsWith(`${version}.`)).map((v) => path.join(pyenvVersions, v, "bin")) : [];
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), ...pyenvDirs];
  return dirs.map((dir) => path.join(dir, `python${version}`)).find((file) => existsSync(file));
}

/** `oldPython(version)`, printing once why the cases that need it are skipped when it is missing. */
export function oldPythonOrSkip(version: string, what: string): string | undefined {
  const file = oldPython(version);
  if (!file) warnSkipped(version, what);
  return file;
}

export const discoveredPythons: readonly ProbedInterpreter[] = found;
