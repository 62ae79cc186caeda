/**
 * Post-mortem of a task that failed with ModuleNotFoundError / ImportError: which environment it ran in, whether
 * the module exists on the host or in another venvflow environment, whether a requirement declared it, and the fix.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { listEnvironments, parseRequirements, runPythonJson } from "../env/index.ts";
import { canonicalizeName } from "../env/pep/index.ts";
import { configuredIndexUrls } from "../env/installers/index.ts";
import type { Environment } from "../env/types.ts";
import type { FailureContext } from "../runtime/types.ts";
import { distributionsProviding } from "./index-lookup.ts";
import { envSitePackages, scanAll, type ModuleProvider } from "./modules.ts";
import { moduleLevelNote } from "./module-level.ts";
import { knownDistribution } from "./names.ts";

const ANALYZE_SCRIPT = fileURLToPath(new URL("../../src/doctor/analyze.py", import.meta.url));

export type { FailureContext };

export interface ImportFailureExplanation {
  code: "module_not_installed" | "module_host_only" | "module_in_other_environment" | "requirement_provides_other_modules" | "import_name_missing";
  /** The top-level module that could not be imported. */
  module: string;
  message: string;
  fix: string;
}

export interface EnvVarExplanation {
  code: "env_var_not_passed";
  /** The variable the task read. */
  variable: string;
  message: string;
  fix: string;
}

/** The module an ImportError is about: "No module named 'a.b'" → a.b; "cannot import name 'X' from 'a.b'" → a.b. */
export function failedModule(error: { type: string; message: string }): { module: string; name?: string } | null {
  if (error.type !== "ModuleNotFoundError" && error.type !== "ImportError") return null;
  const missing = /No module named '([^']+)'/.exec(error.message);
  if (missing) return { module: missing[1] as string };
  const name = /cannot import name '([^']+)' from '([^']+)'/.exec(error.message);
  if (name) return { module: name[2] as string, name: name[1] as string };
  return null;
}

interface HostFacts {
  version: string;
  sitePaths: string[];
  purelib: string | null;
  platlib: string | null;
}

interface CallableImports {
  ok: boolean;
  imports?: { module: string; line: number; scope: string; unusedByCallable?: boolean }[];
}

/** The base interpreter's site-packages, and (given a callable) doctor's static analysis of the callable's imports. */
async function hostFacts(python: string, callable?: { path: string; name: string }): Promise<{ python: HostFacts; callable?: CallableImports } | null> {
  const input = { callables: callable ? [{ id: "callable", kind: "file", ...callable }] : [] };
  const answer = await runPythonJson<{ python: HostFacts; results: Record<string, CallableImports> }>(python, ["-I", "-B", ANALYZE_SCRIPT], { what: "list its site-packages", input, timeoutMs: 30_000 }).catch(() => null);
  if (!answer) return null;
  return { python: answer.python, ...(answer.results.callable ? { callable: answer.results.callable } : {}) };
}

/** The innermost `File "…", line N, in <module>` frame of `file` in a Python traceback: an import at its top level. */
function moduleLevelFrame(traceback: string | undefined, file: string): number | null {
  let line: number | null = null;
  for (const match of (traceback ?? "").matchAll(/^ {2}File "([^"]+)", line (\d+), in (\S+)$/gm)) {
    if (match[1] === file) line = match[3] === "<module>" ? Number(match[2]) : null;
  }
  return line;
}

function describe(provider: ModuleProvider): string {
  return provider.distribution ? `${provider.distribution}${provider.version ? ` ${provider.version}` : ""}` : "a loose module";
}

async function declaredNames(context: FailureContext): Promise<Set<string>> {
  try {
    const parsed = await parseRequirements(context.requirements, undefined, context.baseDir ?? process.cwd());
    return new Set(parsed.requirements.map((line) => line.name).filter((name): name is string => name !== null));
  } catch {
    return new Set();
  }
}

/** The first distribution the task's index says provides `module`, if it can say. */
async function fromIndex(context: FailureContext, module: string): Promise<string | null> {
  const given = context.indexUrls === undefined ? undefined : typeof context.indexUrls === "string" ? [context.indexUrls] : context.indexUrls;
  // No indexUrls: the index pip's own configuration gives (PIP_*, pip.conf), as the build and doctor read it.
  const urls = given ?? configuredIndexUrls(process.env);
  for (const url of urls) {
    const found = await distributionsProviding(url, module).catch(() => null);
    if (found?.length) return found[0] as string;
  }
  return null;
}

/**
 * Explains an import failure, or returns null when the error is not one. Reads only what is on disk (the
 * environment, the host's site-packages, the other published environments); nothing is installed, and the only
 * process started asks the base interpreter where its site-packages are.
 */
export async function explainImportFailure(context: FailureContext): Promise<ImportFailureExplanation | null> {
  const failed = failedModule(context.error);
  if (!failed) return null;
  const top = failed.module.split(".")[0] as string;
  const home = context.home === undefined ? {} : { home: context.home };
  const envs = await listEnvironments(home).catch(() => [] as Environment[]);
  const current = context.env.key ? envs.find((e) => e.key === context.env.key) : undefined;
  const where = current
    ? `environment ${current.key.slice(0, 12)} (Python ${current.interpreter.version}, ${current.path})`
    : `interpreter ${context.env.python}`;
  const moduleLine = context.callable ? moduleLevelFrame(context.error.traceback, context.callable.path) : null;
  const [own, declared, analyzed] = await Promise.all([
    current ? scanAll(await envSitePackages(current.path)) : Promise.resolve(new Map<string, ModuleProvider>()),
    declaredNames(context),
    hostFacts(current ? current.interpreter.path : context.env.python, moduleLine === null ? undefined : context.callable),
  ]);
  const host = analyzed?.python ?? null;
  const unusedImport = moduleLine !== null && analyzed?.callable?.imports?.some((i) => i.line === moduleLine && i.scope === "module" && i.unusedByCallable);
  const unused = unusedImport && context.callable ? moduleLevelNote(top, `${path.basename(context.callable.path)}:${moduleLine}`, context.callable.name) : null;
  const withNote = (explanation: ImportFailureExplanation): ImportFailureExplanation =>
    unused && explanation.code !== "import_name_missing" ? { ...explanation, message: `${explanation.message}; ${unused.message}`, fix: `${explanation.fix}${unused.fix}` } : explanation;
  const hostModules = host ? await scanAll([...host.sitePaths, host.purelib, host.platlib].filter((p): p is string => typeof p === "string")) : new Map<string, ModuleProvider>();

  const installed = own.get(top) ?? (context.systemSitePackages ? hostModules.get(top) : undefined);
  if (installed) {
    const missing = failed.name ? `has no name ${failed.name}` : `has no submodule ${failed.module}`;
    return {
      code: "import_name_missing",
      module: top,
      message: `${top} is installed in ${where} (${describe(installed)}), but ${failed.name ? failed.module : top} ${missing}: a different version than the code expects, or a typo`,
      fix: `check the name, or pin the version of ${installed.distribution ?? top} that provides ${failed.name ?? failed.module} in requirements`,
    };
  }

  const onHost = hostModules.get(top);
  const elsewhere: { env: Environment; provider: ModuleProvider }[] = [];
  for (const env of envs) {
    if (env.key === context.env.key) continue;
    const provider = (await scanAll(await envSitePackages(env.path))).get(top);
    if (provider) elsewhere.push({ env, provider });
  }
  const distribution = onHost?.distribution ?? elsewhere.find((e) => e.provider.distribution)?.provider.distribution ?? (await fromIndex(context, top)) ?? knownDistribution(top) ?? top;
  const declaredLine = declared.has(canonicalizeName(top)) && !declared.has(canonicalizeName(distribution));
  const facts: string[] = [];
  facts.push(declared.has(canonicalizeName(distribution)) ? `the requirement "${distribution}" is declared` : "no requirement declares it");
  if (onHost) facts.push(`${describe(onHost)} is installed on the host (${onHost.location})${context.systemSitePackages ? "" : ", but systemSitePackages is false"}`);
  if (elsewhere.length > 0) facts.push(`other venvflow environments have it: ${elsewhere.slice(0, 3).map((e) => `${e.env.key.slice(0, 12)} (${describe(e.provider)})`).join(", ")}`);
  const message = `No module named '${failed.module}' in ${where}: ${facts.join("; ")}`;
  const named = canonicalizeName(distribution) !== canonicalizeName(top) ? ` (the distribution that provides ${top})` : "";
  const fix = `add "${distribution}" to requirements${named}`;
  if (declaredLine) {
    return withNote({ code: "requirement_provides_other_modules", module: top, message: `${message}; the requirement "${top}" installed a distribution that does not provide the module ${top}`, fix: `require "${distribution}" instead of "${top}"` });
  }
  if (onHost && !context.systemSitePackages) return withNote({ code: "module_host_only", module: top, message, fix: `${fix}, or set systemSitePackages: true to use the host's copy` });
  if (elsewhere.length > 0) return withNote({ code: "module_in_other_environment", module: top, message, fix });
  return withNote({ code: "module_not_installed", module: top, message, fix: context.env.key ? fix : `install "${distribution}"${named} into ${context.env.python}` });
}

/**
 * A KeyError from os.environ for a variable that is set where venvflow runs but was not passed to the task
 * (inheritEnv false, or envVars without it): says so and how to pass it. Null for any other KeyError.
 */
export function explainEnvKeyError(context: FailureContext): EnvVarExplanation | null {
  if (context.error.type !== "KeyError" || !/environ/.test(context.error.traceback ?? "")) return null;
  const variable = /^'([^']+)'$/.exec(context.error.message.trim())?.[1] ?? /^"([^"]+)"$/.exec(context.error.message.trim())?.[1];
  if (!variable || process.env[variable] === undefined || context.envVarNames?.includes(variable) || context.inheritEnv !== false) return null;
  return {
    code: "env_var_not_passed",
    variable,
    message: `${variable} is set where venvflow runs but not passed to the task: inheritEnv is false and envVars does not set it`,
    fix: `add ${variable} to envVars (or { secret: … } when it is one), or set inheritEnv: true`,
  };
}

/** doctor's post-mortem of a failed call: an import failure or an environment variable the task was not given. */
export async function explainFailure(context: FailureContext): Promise<ImportFailureExplanation | EnvVarExplanation | null> {
  return explainEnvKeyError(context) ?? (await explainImportFailure(context));
}
