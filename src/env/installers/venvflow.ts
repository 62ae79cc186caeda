/**
 * venvflow's own installer, the default: the environment is created without starting Python (`createVenv`),
 * the requirements are resolved by venvflow's resolver (or read from the environment's pylock.toml, with no
 * resolution at all), and the wheels are linked from the content-addressed wheel cache (`installLocked`).
 * What it cannot do goes to pip with the reason printed: decided from the spec up front where the spec shows it
 * (`unsupportedByVenvflow`), and at install time when only resolution shows it (a project with no wheel to use).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../../util/errors.ts";
import { redactUrl } from "../../util/secrets.ts";
import { lockedWheels } from "../pylock.ts";
import type { ProbedInterpreter } from "../python.ts";
import { resolve, targetFor } from "../resolver/index.ts";
import type { RequirementLine } from "../requirements.ts";
import { compileBytecodeInBackground, installLocked, type LockedWheel } from "../wheels/index.ts";
import { createVenv } from "../wheels/venv.ts";
import { installedDistributions, urlSources } from "./common.ts";
import { configuredIndexUrls, effectiveIndexes, findLinksIndex } from "./pip-config.ts";
import { pipEnvironment, type PipInstaller } from "./pip.ts";
import type { CommandResult, CreateRequest, EnvironmentInstaller, InstallOutcome, InstallRequest, InstallSources, ResolveOutcome } from "./types.ts";

/** Bumped when what this installer writes into an environment changes (it is part of every env key). */
export const VENVFLOW_INSTALLER_VERSION = "1";

/** pip options venvflow's installer honours (index URL options are read by `effectiveIndexes`). */
const UNDERSTOOD_OPTIONS: Record<string, { value: boolean }> = { "--pre": { value: false }, "--no-index": { value: false }, "--trusted-host": { value: true } };

/** What decides, before anything runs, whether venvflow's installer can build a spec. */
export interface InstallerFit {
  interpreter: ProbedInterpreter;
  requirements: readonly RequirementLine[];
  constraints: readonly RequirementLine[];
  sources: InstallSources;
  systemSitePackages: boolean;
  env: NodeJS.ProcessEnv;
}

/** Why venvflow's installer cannot build this spec (pip must), or null when it can. */
export function unsupportedByVenvflow(fit: InstallerFit): string | null {
  const { interpreter } = fit;
  if (interpreter.implementation !== "cpython") return `the interpreter is ${interpreter.implementation}; venvflow's installer creates CPython environments only`;
  if (interpreter.markers.sys_platform !== "linux") return `venvflow's resolver computes wheel tags for Linux only, this interpreter runs on ${interpreter.markers.sys_platform}`;
  if (fit.systemSitePackages) return "systemSitePackages: pip decides what to install against what the base interpreter already has";
  for (const line of [...fit.requirements, ...fit.constraints]) {
    if (line.name === null || line.canonical.includes(" @ ")) return `${redactUrl(line.text)} (${line.origin}) is a direct reference (URL, VCS or path) that pip fetches or builds`;
  }
  const options = urlSources(fit.sources).options;
  for (let i = 0; i < options.length; i++) {
    const token = options[i] as string;
    const name = token.split("=")[0] as string;
    const understood = UNDERSTOOD_OPTIONS[name];
    if (!understood) return `the pip option ${redactUrl(token)} is not one venvflow's installer understands`;
    if (understood.value && !token.includes("=")) i++;
  }
  const indexes = effectiveIndexes(fit.sources, fit.env);
  return "unsupported" in indexes ? indexes.unsupported : null;
}

/** The indexes to resolve from, local find-links directories included (as a generated index), or why there are none usable. */
export async function indexesFor(sources: InstallSources, env: NodeJS.ProcessEnv, home: string): Promise<string[] | string> {
  const choice = effectiveIndexes(sources, env);
  if ("unsupported" in choice) return choice.unsupported;
  const flat = choice.findLinks.length ? await findLinksIndex(choice.findLinks, path.join(home, "cache", "index")) : null;
  return flat ? [...choice.indexes, flat] : choice.indexes;
}

/** Puts an index's credentials back into a URL on the same host (locks and resolved URLs never hold them). */
function authenticator(indexes: readonly string[]): (url: string) => string {
  const withCredentials = indexes.map((i) => new URL(i)).filter((u) => u.username || u.password);
  return (url) => {
    const target = new URL(url);
    const index = withCredentials.find((u) => u.origin === target.origin);
    if (!index || target.username) return url;
    target.username = index.username;
    target.password = index.password;
    return target.href;
  };
}

async function lines(file: string): Promise<string[]> {
  return (await fs.readFile(file, "utf8")).split("\n").map((l) => l.trim()).filter(Boolean);
}

export class VenvflowInstaller implements EnvironmentInstaller {
  readonly name = "venvflow" as const;
  readonly version = VENVFLOW_INSTALLER_VERSION;
  readonly interpreter: ProbedInterpreter;
  /** VENVFLOW_HOME: the wheel cache and the index cache live under it. */
  readonly home: string;
  /** The pip that takes over what this installer cannot do (found on first use). */
  readonly pip: () => Promise<PipInstaller>;

  constructor(interpreter: ProbedInterpreter, home: string, pip: () => Promise<PipInstaller>) {
    this.interpreter = interpreter;
    this.home = home;
    this.pip = pip;
  }

  /** pip's environment: the resolver ignores it, a fallback to pip needs it. */
  environment(sources: InstallSources, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return pipEnvironment(sources, base);
  }

  async createEnvironment(request: CreateRequest): Promise<CommandResult> {
    try {
      await createVenv(request.dir, this.interpreter, { systemSitePackages: request.systemSitePackages });
      return { exitCode: 0, lines: [] };
    } catch (error) {
      return { exitCode: 1, lines: [error instanceof Error ? error.message : String(error)] };
    }
  }

  private async indexes(request: InstallRequest): Promise<string[] | string> {
    return indexesFor(request.sources, request.env, this.home);
  }

  private async resolveRequest(request: InstallRequest, indexes: string[]) {
    const options = urlSources(request.sources).options;
    return resolve(await lines(request.requirementsFile), {
      constraints: await lines(request.constraintsFile),
      indexes,
      target: targetFor(this.interpreter),
      prereleases: options.includes("--pre"),
      cacheDir: path.join(this.home, "cache", "index"),
      env: request.env,
      ...(request.log ? { onWarning: request.log } : {}),
    });
  }

  private async fallback(request: InstallRequest & { requested: ReadonlySet<string>; redact: (text: string) => string; envDir: string }, reason: string): Promise<InstallOutcome> {
    const pip = await this.pip();
    request.log?.(`falling back to pip ${pip.version}: ${reason}`);
    const outcome = await pip.install(request);
    return { ...outcome, fallback: { installer: { name: pip.name, version: pip.version }, reason } };
  }

  async install(request: InstallRequest & { requested: ReadonlySet<string>; redact: (text: string) => string; envDir: string }): Promise<InstallOutcome> {
    const log = request.log ?? (() => undefined);
    const failed = (error: VenvflowError): InstallOutcome => ({ result: { exitCode: 1, lines: [error.message] }, lock: null, error });
    const indexes = await this.indexes(request);
    if (typeof indexes === "string") return this.fallback(request, indexes);
    // pip's hash-checking mode (--hash lines, pip-compile --generate-hashes): pip checks each download against them.
    if (!request.pylock && (await lines(request.requirementsFile)).some((line) => /(^|\s)--hash[=\s]/.test(line))) {
      return this.fallback(request, "the requirements pin hashes (--hash), which pip's hash-checking mode verifies");
    }
    const authenticate = authenticator(indexes);
    let wheels: LockedWheel[];
    try {
      if (request.pylock) {
        wheels = lockedWheels(request.pylock.lock, { tags: targetFor(this.interpreter).tags, markerEnvironment: { ...this.interpreter.markers }, authenticate });
        log(`installing ${wheels.length} locked wheels from ${request.pylock.file} (no resolution)`);
      } else {
        const started = performance.now();
        const resolved = await this.resolveRequest(request, indexes);
        const notWheel = resolved.distributions.find((d) => !d.filename.endsWith(".whl"));
        if (notWheel) return this.fallback(request, `${notWheel.name} ${notWheel.version} is available only as ${notWheel.filename}, a source distribution that must be built`);
        const unhashed = resolved.distributions.find((d) => d.sha256 === null);
        if (unhashed) return this.fallback(request, `the index gives no sha256 for ${unhashed.filename}, and the wheel cache is addressed by it`);
        log(`resolved ${resolved.distributions.length} distributions in ${Math.round(performance.now() - started)} ms`);
        wheels = resolved.distributions.map((d) => ({ name: d.name, version: d.version, wheelUrl: authenticate(d.file.url), sha256: d.sha256 as string, requested: d.requested }));
      }
    } catch (error) {
      if (error instanceof VenvflowError && error.code === "sdist_metadata_unavailable") {
        return this.fallback(request, `${String(error.details.file)} is a source distribution that must be built (venvflow's installer installs wheels only)`);
      }
      // pip warns about an unreachable index and carries on with the others (an offline machine whose pip.conf adds
      // a mirror to PyPI); the resolver stops. With more than one index, pip's way is the one users rely on.
      if (error instanceof VenvflowError && error.code === "index_unreachable" && indexes.length > 1) {
        return this.fallback(request, `the index ${String(error.details.index)} is unreachable; pip skips it and uses the others`);
      }
      if (error instanceof VenvflowError) return failed(error);
      throw error;
    }
    try {
      const installed = await installLocked({ packages: wheels }, request.envDir, this.interpreter, { home: this.home, venvCreated: true, ...(request.signal ? { signal: request.signal } : {}) });
      const unpacked = installed.installed.filter((d) => d.unpacked).length;
      log(`installed ${installed.installed.length} wheels (${unpacked} downloaded and unpacked, ${installed.installed.length - unpacked} from the wheel cache; ${installed.linkMode}) in ${Math.round(installed.timings.totalMs)} ms`);
      const lock = installed.installed.map((d) => ({ name: d.name, version: d.version, source: request.redact(d.source), sha256: d.sha256, requested: d.requested }));
      return { result: { exitCode: 0, lines: [] }, lock };
    } catch (error) {
      if (error instanceof VenvflowError) return failed(error);
      throw error;
    }
  }

  async resolve(request: InstallRequest): Promise<ResolveOutcome> {
    const indexes = await this.indexes(request);
    if (typeof indexes === "string") return (await this.pip()).resolve(request);
    try {
      const resolved = await this.resolveRequest(request, indexes);
      return { result: { exitCode: 0, lines: [] }, pins: resolved.distributions.map((d) => ({ name: d.name, version: d.version })) };
    } catch (error) {
      if (error instanceof VenvflowError && error.code === "sdist_metadata_unavailable") return (await this.pip()).resolve(request);
      if (error instanceof VenvflowError) return { result: { exitCode: 1, lines: [error.message] }, pins: null, error };
      throw error;
    }
  }

  /** What it reads itself, pip's order (see `effectiveIndexes`): the indexes pip would use, without starting pip. */
  configuredIndexes(env: NodeJS.ProcessEnv): Promise<string[]> {
    return Promise.resolve(configuredIndexUrls(env));
  }

  inspect(envDir: string): Promise<{ name: string; version: string }[]> {
    return installedDistributions(envDir);
  }

  /**
   * Bytecode after publishing: a task never waits for it (Python compiles what it imports on its own).
   * VENVFLOW_BYTECODE=0 turns it off (tests that delete a home right after a build would race the compiler).
   */
  afterPublish(envDir: string, env: NodeJS.ProcessEnv): void {
    if (env.VENVFLOW_BYTECODE !== "0") compileBytecodeInBackground(envDir, this.interpreter);
  }
}
