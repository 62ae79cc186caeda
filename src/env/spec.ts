/**
 * An environment spec resolved to everything that decides what gets installed, and its key:
 * sha256 of a canonical JSON form. Equivalent spellings (order, name case, `_` vs `-`, spaces,
 * specifier order) give the same key; credentials are redacted before anything is hashed.
 * Unlike Airflow's key (declared inputs only, apache/airflow#41328) it includes the real interpreter,
 * the installer and its version, and the index configuration pip will actually see.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { VenvflowError } from "../util/errors.ts";
import { Redactor, redactUrl } from "../util/secrets.ts";
import { findPython, listPythons, type DiscoveryOptions, type ProbedInterpreter } from "./python.ts";
import { parseRequirements, type RequirementLine } from "./requirements.ts";
import type { EnvSpecInput, Installer } from "./types.ts";

const execFileAsync = promisify(execFile);

export const SPEC_FORMAT = "venvflow-env/1";

/** pip gained `--python` (install into another interpreter's environment) in 22.3. */
const PIP_MIN_FOR_PYTHON_OPTION: readonly number[] = [22, 3];

/** PIP_* variables that change what gets installed; they are part of the key (redacted). */
const PIP_ENV_IN_KEY = ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT", "PIP_PRE", "PIP_ONLY_BINARY", "PIP_NO_BINARY"];

export interface InstallerCommand {
  name: Installer;
  version: string;
  /** argv prefix: `[python, "-m", "pip"]` or `[uv]`. */
  command: string[];
}

export interface ResolvedSpec {
  interpreter: ProbedInterpreter;
  installer: InstallerCommand;
  requirements: RequirementLine[];
  constraints: RequirementLine[];
  /** Index URLs in clear text (memory only): null leaves the installer's own configuration in charge; [] means no index. */
  indexUrls: string[] | null;
  findLinks: string[];
  installOptions: string[];
  systemSitePackages: boolean;
  /** Canonical JSON (redacted) the key is the sha256 of. */
  canonical: string;
  key: string;
  /** Masks every credential this spec carries. */
  redactor: Redactor;
}

function versionAtLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split(".").map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0;
    const want = minimum[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
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

async function uvInstaller(binary: string): Promise<InstallerCommand> {
  let version = uvVersions.get(binary);
  if (!version) {
    const { stdout } = await execFileAsync(binary, ["--version"], { timeout: 10_000 });
    version = stdout.trim().split(/\s+/)[1] ?? stdout.trim();
    uvVersions.set(binary, version);
  }
  return { name: "uv", version, command: [binary] };
}

/**
 * Picks the installer. "auto" follows Airflow's `venv_install_method=auto`: uv when it is on PATH
 * (or `VENVFLOW_INSTALLER=uv`), else pip. pip runs from outside the environment (`pip --python`), so
 * environments carry no pip of their own: the interpreter's own pip, else any discovered Python's.
 */
export async function chooseInstaller(requested: Installer | "auto" | undefined, interpreter: ProbedInterpreter, options: DiscoveryOptions & { env: NodeJS.ProcessEnv }): Promise<InstallerCommand> {
  const env = options.env;
  const wanted = requested ?? (env.VENVFLOW_INSTALLER as Installer | "auto" | undefined) ?? "auto";
  if (wanted !== "auto" && wanted !== "pip" && wanted !== "uv") {
    throw new VenvflowError("invalid_installer", `installer "${String(wanted)}" is not one of "auto", "pip", "uv"`, { fix: 'use installer: "pip", "uv" or "auto"' });
  }
  if (wanted !== "pip") {
    const uv = env.VENVFLOW_UV ?? (await which("uv", env));
    if (uv) return uvInstaller(uv);
    if (wanted === "uv") {
      throw new VenvflowError("installer_not_found", "installer uv was asked for but no uv binary is on PATH", {
        fix: "install uv, set VENVFLOW_UV to its path, or use installer: \"pip\"",
      });
    }
  }
  if (interpreter.pipVersion && versionAtLeast(interpreter.pipVersion, PIP_MIN_FOR_PYTHON_OPTION)) {
    return { name: "pip", version: interpreter.pipVersion, command: [interpreter.path, "-m", "pip"] };
  }
  const hosts = (await listPythons(options)).filter((p) => p.pipVersion && versionAtLeast(p.pipVersion, PIP_MIN_FOR_PYTHON_OPTION));
  const host = hosts.sort((a, b) => (versionAtLeast(a.pipVersion as string, (b.pipVersion as string).split(".").map(Number)) ? -1 : 1))[0];
  if (!host) {
    throw new VenvflowError("installer_not_found", `No pip 22.3 or newer was found to install into Python ${interpreter.version} (${interpreter.path})`, {
      fix: `run \`${interpreter.path} -m ensurepip --upgrade\` (or install uv)`,
    });
  }
  return { name: "pip", version: host.pipVersion as string, command: [host.path, "-m", "pip"] };
}

function normalizeIndexUrls(indexUrls: string[] | string | undefined): string[] | null {
  if (indexUrls === undefined) return null;
  const list = typeof indexUrls === "string" ? [indexUrls] : indexUrls;
  if (!Array.isArray(list) || list.some((u) => typeof u !== "string")) {
    throw new VenvflowError("invalid_index_url", "indexUrls must be a URL string or a list of URL strings", { fix: 'e.g. indexUrls: ["https://pypi.example.com/simple"]' });
  }
  for (const url of list) {
    try {
      new URL(url);
    } catch {
      throw new VenvflowError("invalid_index_url", `Index URL "${redactUrl(url)}" is not a URL`, { fix: "give an absolute URL such as https://host/simple or file:///path/simple" });
    }
  }
  return list;
}

/** Resolves what a task declares into everything that decides the environment's content, and keys it. */
export async function resolveSpec(input: EnvSpecInput, options: DiscoveryOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedSpec> {
  const env = options.env ?? process.env;
  const baseDir = input.baseDir ?? process.cwd();
  for (const key of Object.keys(input)) {
    if (!KNOWN_SPEC_KEYS.has(key)) {
      throw new VenvflowError("invalid_env_spec", `Unknown environment option "${key}"`, { fix: `use one of: ${[...KNOWN_SPEC_KEYS].join(", ")}` });
    }
  }
  if (input.pipInstallOptions !== undefined && (!Array.isArray(input.pipInstallOptions) || input.pipInstallOptions.some((o) => typeof o !== "string"))) {
    throw new VenvflowError("invalid_env_spec", "pipInstallOptions must be a list of strings", { fix: 'e.g. pipInstallOptions: ["--no-deps"]' });
  }
  const [interpreter, parsed] = await Promise.all([findPython(input.pythonVersion, { ...options, env }), parseRequirements(input.requirements, input.constraints, baseDir)]);
  const installer = await chooseInstaller(input.installer, interpreter, { ...options, env });

  // Index URLs given to the task win over those in its requirements files, as a command line wins in pip.
  let indexUrls = normalizeIndexUrls(input.indexUrls);
  if (indexUrls === null && (parsed.indexUrl || parsed.extraIndexUrls.length || parsed.noIndex)) {
    indexUrls = parsed.noIndex ? [] : [...(parsed.indexUrl ? [parsed.indexUrl] : []), ...parsed.extraIndexUrls];
  }
  const redactor = new Redactor();
  for (const text of [...(indexUrls ?? []), ...parsed.findLinks, ...(input.pipInstallOptions ?? []), ...PIP_ENV_IN_KEY.map((n) => env[n] ?? "")]) redactor.addUrlsIn(text);
  for (const line of [...parsed.requirements, ...parsed.constraints]) redactor.addUrlsIn(line.text);

  const sortedUnique = (lines: RequirementLine[]) => [...new Set(lines.map((l) => redactor.redact(l.canonical)))].sort();
  const canonicalObject = {
    format: SPEC_FORMAT,
    python: { path: interpreter.path, version: interpreter.version, implementation: interpreter.implementation, platform: interpreter.platform },
    installer: { name: installer.name, version: installer.version },
    requirements: sortedUnique(parsed.requirements),
    constraints: sortedUnique(parsed.constraints),
    indexUrls: indexUrls === null ? null : indexUrls.map(redactUrl),
    findLinks: parsed.findLinks.map(redactUrl),
    installOptions: [...parsed.installOptions, ...(input.pipInstallOptions ?? [])].map((o) => redactor.redact(o)),
    systemSitePackages: input.systemSitePackages ?? false,
    pipEnv: Object.fromEntries(PIP_ENV_IN_KEY.filter((n) => env[n] !== undefined).map((n) => [n, redactor.redact(env[n] as string)])),
  };
  const canonical = JSON.stringify(canonicalObject, null, 1);
  return {
    interpreter,
    installer,
    requirements: parsed.requirements,
    constraints: parsed.constraints,
    indexUrls,
    findLinks: parsed.findLinks,
    installOptions: [...parsed.installOptions, ...(input.pipInstallOptions ?? [])],
    systemSitePackages: input.systemSitePackages ?? false,
    canonical,
    key: sha256(canonical),
    redactor,
  };
}

const KNOWN_SPEC_KEYS = new Set<string>(["pythonVersion", "requirements", "constraints", "indexUrls", "pipInstallOptions", "systemSitePackages", "installer", "baseDir"]);

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
