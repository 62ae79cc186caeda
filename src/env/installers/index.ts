/**
 * Choosing an installer. To add one: implement `EnvironmentInstaller` (types.ts) in a file beside venvflow.ts,
 * pip.ts and uv.ts, add its name to `Installer` (../types.ts), and return it from `chooseInstaller`.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { VenvflowError } from "../../util/errors.ts";
import { Version, tryParseVersion } from "../pep/index.ts";
import { listPythons, type DiscoveryOptions, type ProbedInterpreter } from "../python.ts";
import { INSTALLERS, type Installer } from "../types.ts";
import { PipInstaller } from "./pip.ts";
import type { EnvironmentInstaller } from "./types.ts";
import { UvInstaller } from "./uv.ts";
import { VenvflowInstaller } from "./venvflow.ts";
import { venvflowHome } from "../../util/home.ts";

export type * from "./types.ts";
export { PipInstaller } from "./pip.ts";
export { UvInstaller } from "./uv.ts";
export { VenvflowInstaller, indexesFor, unsupportedByVenvflow, VENVFLOW_INSTALLER_VERSION, type InstallerFit } from "./venvflow.ts";
export { configuredIndexUrls, effectiveIndexes } from "./pip-config.ts";
export { installedDistributions } from "./common.ts";

const execFileAsync = promisify(execFile);

/** pip gained `--python` (install into another interpreter's environment) in 22.3. */
const PIP_MIN_FOR_PYTHON_OPTION = new Version("22.3");

function pipUsable(pipVersion: string | null): pipVersion is string {
  const version = pipVersion === null ? null : tryParseVersion(pipVersion);
  return version !== null && version.compare(PIP_MIN_FOR_PYTHON_OPTION) >= 0;
}

async function which(command: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return null;
}

const uvVersions = new Map<string, string>();

async function uvInstaller(binary: string): Promise<UvInstaller> {
  let version = uvVersions.get(binary);
  if (!version) {
    const { stdout } = await execFileAsync(binary, ["--version"], { timeout: 10_000 });
    version = stdout.trim().split(/\s+/)[1] ?? stdout.trim();
    uvVersions.set(binary, version);
  }
  return new UvInstaller(version, binary);
}

/**
 * The pip that installs into `interpreter` from outside (`pip --python`): the interpreter's own pip, else the newest
 * pip of any discovered Python.
 */
export async function findPip(interpreter: ProbedInterpreter, options: DiscoveryOptions & { env: NodeJS.ProcessEnv }): Promise<PipInstaller> {
  if (pipUsable(interpreter.pipVersion)) return new PipInstaller(interpreter.pipVersion, [interpreter.path, "-m", "pip"]);
  const hosts = (await listPythons(options)).filter((p) => pipUsable(p.pipVersion));
  const host = hosts.sort((a, b) => new Version(b.pipVersion as string).compare(new Version(a.pipVersion as string)))[0];
  if (!host) {
    throw new VenvflowError("installer_not_found", `No pip 22.3 or newer was found to install into Python ${interpreter.version} (${interpreter.path})`, {
      fix: `run \`${interpreter.path} -m ensurepip --upgrade\` (or install uv)`,
    });
  }
  return new PipInstaller(host.pipVersion as string, [host.path, "-m", "pip"]);
}

/**
 * Picks the installer: `requested`, else VENVFLOW_INSTALLER, else "auto", which is venvflow's own installer (it
 * hands to pip, saying why, what it cannot do: see unsupportedByVenvflow). "uv" needs a uv on PATH or VENVFLOW_UV.
 */
export async function chooseInstaller(requested: Installer | "auto" | undefined, interpreter: ProbedInterpreter, options: DiscoveryOptions & { env: NodeJS.ProcessEnv }): Promise<EnvironmentInstaller> {
  const env = options.env;
  const wanted: unknown = requested ?? env.VENVFLOW_INSTALLER ?? "auto";
  if (wanted !== "auto" && !(INSTALLERS as readonly unknown[]).includes(wanted)) {
    throw new VenvflowError("invalid_installer", `installer "${String(wanted)}" is not one of "auto", ${INSTALLERS.map((i) => `"${i}"`).join(", ")}`, { fix: 'use installer: "venvflow", "pip", "uv" or "auto"' });
  }
  if (wanted === "auto" || wanted === "venvflow") {
    let pip: Promise<PipInstaller> | null = null;
    return new VenvflowInstaller(interpreter, options.home ?? venvflowHome(env), () => (pip ??= findPip(interpreter, options)));
  }
  if (wanted === "uv") {
    const uv = env.VENVFLOW_UV ?? (await which("uv", env));
    if (uv) return uvInstaller(uv);
    throw new VenvflowError("installer_not_found", "installer uv was asked for but no uv binary is on PATH", {
      fix: "install uv, set VENVFLOW_UV to its path, or use installer: \"pip\"",
    });
  }
  return findPip(interpreter, options);
}
