/**
 * An environment spec resolved to everything that decides what gets installed, and its key:
 * sha256 of a canonical JSON form. Equivalent spellings (order, name case, `_` vs `-`, spaces,
 * specifier order) give the same key; credentials are redacted before anything is hashed.
 * Unlike Airflow's key (declared inputs only, apache/airflow#41328) it includes the real interpreter,
 * the installer and its version (the one that really builds it: pip when venvflow's installer hands the spec to pip),
 * and the index configuration pip will actually see.
 */
import { createHash } from "node:crypto";
import { VenvflowError } from "../util/errors.ts";
import { Redactor, redactUrl } from "../util/secrets.ts";
import { chooseInstaller, unsupportedByVenvflow, VenvflowInstaller, type EnvironmentInstaller } from "./installers/index.ts";
import { findPython, type DiscoveryOptions, type ProbedInterpreter } from "./python.ts";
import { findLock, isFrozen, lockIdentity, type FoundLock } from "./locking.ts";
import { parseRequirements, type RequirementLine } from "./requirements.ts";
import { ENV_OPTIONS, type EnvSpecInput } from "./types.ts";

export const SPEC_FORMAT = "venvflow-env/1";

/** PIP_* variables that change what gets installed; they are part of the key (redacted). */
const PIP_ENV_IN_KEY = ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT", "PIP_PRE", "PIP_ONLY_BINARY", "PIP_NO_BINARY"];

export interface ResolvedSpec {
  interpreter: ProbedInterpreter;
  installer: EnvironmentInstaller;
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
  /** Why the installer is not the one asked for (venvflow's installer handed the spec to pip), printed by the build. */
  installerNote: string | null;
  /** Identity of the declared environment a pylock.toml is matched by (src/env/locking.ts). */
  lockIdentity: string;
  /** Canonical (redacted) requirement and constraint lines, as a lock records them. */
  lockRequirements: string[];
  lockConstraints: string[];
  /** The environment's lock when one was found for it: installed with no resolution, part of the key. */
  pylock: FoundLock | null;
  /** Why a lock the spec names was not used (printed by the build). */
  lockNote: string | null;
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
  let installer = await chooseInstaller(input.installer, interpreter, { ...options, env });

  // Index URLs given to the task win over those in its requirements files, as a command line wins in pip.
  let indexUrls = normalizeIndexUrls(input.indexUrls);
  if (indexUrls === null && (parsed.indexUrl || parsed.extraIndexUrls.length || parsed.noIndex)) {
    indexUrls = parsed.noIndex ? [] : [...(parsed.indexUrl ? [parsed.indexUrl] : []), ...parsed.extraIndexUrls];
  }
  // Decided up front, from the spec, so the key names the installer that really builds the environment.
  let installerNote: string | null = null;
  if (installer instanceof VenvflowInstaller) {
    const reason = unsupportedByVenvflow({
      interpreter,
      requirements: parsed.requirements,
      constraints: parsed.constraints,
      sources: { indexUrls, findLinks: parsed.findLinks, installOptions: [...parsed.installOptions, ...(input.pipInstallOptions ?? [])] },
      systemSitePackages: input.systemSitePackages ?? false,
      env,
    });
    if (reason) {
      installer = await installer.pip();
      installerNote = `using pip ${installer.version} instead of venvflow's installer: ${reason}`;
    }
  }
  const redactor = new Redactor();
  for (const text of [...(indexUrls ?? []), ...parsed.findLinks, ...(input.pipInstallOptions ?? []), ...PIP_ENV_IN_KEY.map((n) => env[n] ?? "")]) redactor.addUrlsIn(text);
  for (const line of [...parsed.requirements, ...parsed.constraints]) redactor.addUrlsIn(line.text);

  const sortedUnique = (lines: RequirementLine[]) => [...new Set(lines.map((l) => redactor.redact(l.canonical)))].sort();
  const installOptions = [...parsed.installOptions, ...(input.pipInstallOptions ?? [])];
  const lockRequirements = sortedUnique(parsed.requirements);
  const lockConstraints = sortedUnique(parsed.constraints);
  const identity = lockIdentity({
    requirements: lockRequirements,
    constraints: lockConstraints,
    indexUrls: indexUrls === null ? null : indexUrls.map(redactUrl),
    installOptions: installOptions.map((o) => redactor.redact(o)),
    systemSitePackages: input.systemSitePackages ?? false,
    interpreter,
  });
  if (input.lockFile !== undefined && typeof input.lockFile !== "string") {
    throw new VenvflowError("invalid_env_spec", "lockFile must be the path of a pylock.toml", { fix: 'e.g. lockFile: "pylock.etl.toml"' });
  }
  const { found: pylock, stale } = await findLock({
    baseDir,
    identity,
    ...(input.lockFile === undefined ? {} : { explicit: input.lockFile }),
    frozen: isFrozen(env),
    requirements: lockRequirements,
    python: `${interpreter.major}.${interpreter.minor}`,
  });
  const canonicalObject = {
    format: SPEC_FORMAT,
    python: { path: interpreter.path, version: interpreter.version, implementation: interpreter.implementation, platform: interpreter.platform },
    installer: { name: installer.name, version: installer.version },
    requirements: sortedUnique(parsed.requirements),
    constraints: sortedUnique(parsed.constraints),
    indexUrls: indexUrls === null ? null : indexUrls.map(redactUrl),
    findLinks: parsed.findLinks.map(redactUrl),
    installOptions: installOptions.map((o) => redactor.redact(o)),
    systemSitePackages: input.systemSitePackages ?? false,
    pipEnv: Object.fromEntries(PIP_ENV_IN_KEY.filter((n) => env[n] !== undefined).map((n) => [n, redactor.redact(env[n] as string)])),
    // The same lock gives the same environment everywhere; a spec without one keys as before.
    ...(pylock ? { lock: pylock.digest } : {}),
  };
  const canonical = JSON.stringify(canonicalObject, null, 1);
  return {
    interpreter,
    installer,
    requirements: parsed.requirements,
    constraints: parsed.constraints,
    indexUrls,
    findLinks: parsed.findLinks,
    installOptions,
    systemSitePackages: input.systemSitePackages ?? false,
    canonical,
    key: sha256(canonical),
    redactor,
    installerNote: installerNote === null ? null : redactor.redact(installerNote),
    lockIdentity: identity,
    lockRequirements,
    lockConstraints,
    pylock,
    lockNote: stale,
  };
}

const KNOWN_SPEC_KEYS: ReadonlySet<string> = new Set(ENV_OPTIONS);

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
