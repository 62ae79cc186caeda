/**
 * A virtual environment created without starting Python: the files `python -m venv --without-pip` writes on
 * POSIX (pyvenv.cfg, bin/python links, lib/pythonX.Y/site-packages, lib64, include, .gitignore from 3.13),
 * compared entry by entry with real ones for 3.8–3.13 in test/env/wheels/venv.test.ts. Activation scripts are
 * not written: venvflow runs `bin/python` directly. Measured here: ~1 ms instead of `python -m venv`'s ~120 ms.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../../util/errors.ts";
import type { ProbedInterpreter } from "../python.ts";

/** What creating and filling an environment needs to know about its base interpreter (a probe result fits). */
export type PythonInfo = Pick<ProbedInterpreter, "path" | "version" | "major" | "minor" | "implementation" | "platform">;

/** Install locations inside an environment (pip's scheme for a venv on POSIX). */
export interface VenvScheme {
  purelib: string;
  platlib: string;
  scripts: string;
  data: string;
  /** Headers go to `<headers>/<project name>`. */
  headers: string;
  /** The environment's interpreter, as entry-point scripts name it in their shebang. */
  python: string;
}

export function venvScheme(envDir: string, python: PythonInfo): VenvScheme {
  const root = path.resolve(envDir);
  const site = path.join(root, "lib", `python${python.major}.${python.minor}`, "site-packages");
  return {
    purelib: site,
    platlib: site,
    scripts: path.join(root, "bin"),
    data: root,
    headers: path.join(root, "include", "site", `python${python.major}.${python.minor}`),
    python: path.join(root, "bin", "python"),
  };
}

export interface CreateVenvOptions {
  /** pyvenv.cfg `include-system-site-packages`. Default false. */
  systemSitePackages?: boolean;
}

/** Creates the environment directory; it may exist but must not hold an environment already. */
export async function createVenv(envDir: string, python: PythonInfo, options: CreateVenvOptions = {}): Promise<VenvScheme> {
  if (python.implementation !== "cpython" || process.platform === "win32") {
    throw new VenvflowError("venv_unsupported_python", `venvflow's installer creates environments for CPython on POSIX only; ${python.path} is ${python.implementation} on ${process.platform}`, {
      fix: 'use installer: "pip" for this interpreter',
      details: { python: python.path },
    });
  }
  const root = path.resolve(envDir);
  const scheme = venvScheme(root, python);
  const xy = `${python.major}.${python.minor}`;
  // Release part only: venv writes sys.version_info's three numbers even for a pre-release.
  const version = /^\d+\.\d+\.\d+/.exec(python.version)?.[0] ?? python.version;
  await fs.mkdir(scheme.purelib, { recursive: true });
  await fs.mkdir(scheme.scripts, { recursive: true });
  const atLeast = (minor: number): boolean => python.major > 3 || python.minor >= minor;
  await fs.mkdir(path.join(root, "include", ...(atLeast(11) ? [`python${xy}`] : [])), { recursive: true });
  if (process.arch.endsWith("64") && process.platform !== "darwin") await fs.symlink("lib", path.join(root, "lib64"));
  const lines = [`home = ${path.dirname(python.path)}`, `include-system-site-packages = ${options.systemSitePackages ? "true" : "false"}`, `version = ${version}`];
  if (atLeast(11)) lines.push(`executable = ${python.path}`, `command = ${python.path} -m venv --without-pip ${root}`);
  await fs.writeFile(path.join(root, "pyvenv.cfg"), `${lines.join("\n")}\n`);
  if (atLeast(13)) await fs.writeFile(path.join(root, ".gitignore"), "# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n");
  await fs.symlink(python.path, path.join(scheme.scripts, "python"));
  await fs.symlink("python", path.join(scheme.scripts, "python3"));
  // venv links python, python3 and pythonX.Y (3.8's venv only when started as pythonX.Y, as the real path is).
  await fs.symlink("python", path.join(scheme.scripts, `python${xy}`));
  return scheme;
}
