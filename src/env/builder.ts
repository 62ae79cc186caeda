/**
 * Builds one environment in place under its lock: create the venv (no pip seeded into it), install with
 * venvflow's own installer, pip run from outside (`pip --python`) or uv, record what was resolved as the
 * environment's lock, then publish. On any failure the directory is removed and the error explains the installer's decisive line.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { runProcessGroup } from "../util/process.ts";
import { redactUrl } from "../util/secrets.ts";
import { directorySize, type EnvCache, type EnvMetadata } from "./cache.ts";
import { probeIndex } from "./index-probe.ts";
import { explainInstallFailure } from "./install-errors.ts";
import type { LockHandle } from "./lock.ts";
import type { ResolvedSpec } from "./spec.ts";
import type { BuildProgress, LockedPackage } from "./types.ts";
import type { RequirementLine } from "./requirements.ts";
import type { CommandResult, InstallSources } from "./installers/index.ts";

/**
 * A failed build. `code` is always "env_build_failed" (what a task's result reports); `reason` is the
 * specific cause ("no_matching_distribution", "conflicting_requirements", "index_unreachable", …).
 */
export class EnvBuildError extends VenvflowError {
  readonly reason: string;

  constructor(explained: VenvflowError) {
    super("env_build_failed", explained.message, { fix: explained.fix, details: { ...explained.details, reason: explained.code }, cause: explained });
    this.name = "EnvBuildError";
    this.reason = explained.code;
  }
}

export interface BuildRequest {
  spec: ResolvedSpec;
  /** Directory name and identity of the environment (differs from spec.key for refreshed environments). */
  key: string;
  /** Extra constraint lines (`name==version`) that pin a refreshed resolution. */
  pins?: string[];
  cache: EnvCache;
  lock: LockHandle;
  env: NodeJS.ProcessEnv;
  onProgress?: (event: BuildProgress) => void;
  onOutput?: (line: string) => void;
  signal?: AbortSignal;
  /** The whole build's deadline (epoch ms); see `buildTimeoutMs`. */
  deadline?: number;
}

/**
 * How long one environment build may take, all phases together: `VENVFLOW_BUILD_TIMEOUT` (seconds), default 30 minutes.
 * Without a deadline, an index that accepts connections and never answers kept a build "installing" forever.
 */
export function buildTimeoutMs(env: NodeJS.ProcessEnv): number {
  const text = env.VENVFLOW_BUILD_TIMEOUT;
  if (text === undefined || text === "") return 30 * 60_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new VenvflowError("invalid_env_spec", `VENVFLOW_BUILD_TIMEOUT="${text}" is not a number of seconds`, { fix: "set it to a positive number of seconds, e.g. VENVFLOW_BUILD_TIMEOUT=1800, or unset it" });
  }
  return seconds * 1000;
}

/** The installer's environment: index URLs travel in variables, never on the command line or on disk. */
function installerEnv(spec: ResolvedSpec, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PYTHONDONTWRITEBYTECODE: "1" };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONHOME;
  return spec.installer.environment(sources(spec), env);
}

function sources(spec: ResolvedSpec): InstallSources {
  return { indexUrls: spec.indexUrls, findLinks: spec.findLinks, installOptions: spec.installOptions };
}

/** pip's and uv's warnings about an extra the distribution does not provide (pip installs it without the extra). */
const UNKNOWN_EXTRA = /does not provide the extra '[^']+'|does not have an extra named/;

function requirementsText(lines: RequirementLine[]): string {
  return lines.map((l) => l.text).join("\n") + "\n";
}

/**
 * Runs an installer command with the one process primitive (its own process group, killed whole on abort or at the
 * build's deadline), streaming redacted lines to the log and the caller.
 */
async function runLogged(argv: string[], request: BuildRequest, env: NodeJS.ProcessEnv, log: fs.FileHandle, phase: () => string): Promise<CommandResult> {
  const redact = (text: string) => request.spec.redactor.redact(text);
  await log.write(`$ ${argv.map((a) => redact(a)).join(" ")}\n`);
  const lines: string[] = [];
  let written = Promise.resolve();
  const onLine = (raw: string): void => {
    const line = redact(raw);
    lines.push(line);
    written = written.then(() => log.write(`${line}\n`)).then(() => undefined);
    request.onOutput?.(line);
  };
  let lockUpdate = Promise.resolve();
  const outcome = await runProcessGroup({
    command: argv[0] as string,
    args: argv.slice(1),
    env,
    lines: { 1: onLine, 2: onLine },
    ...(request.signal ? { signal: request.signal } : {}),
    ...(request.deadline === undefined ? {} : { timeoutMs: Math.max(0, request.deadline - Date.now()) }),
    onSpawn: (pid) => void (lockUpdate = request.lock.setChild(pid)),
  });
  await lockUpdate;
  await written;
  await request.lock.setChild(undefined);
  if (outcome.timedOut) throw timedOut(request, phase());
  if (outcome.stopped) throw new VenvflowError("build_cancelled", "Environment build was cancelled", { fix: "run it again" });
  return { exitCode: outcome.exitCode, lines };
}

function timedOut(request: BuildRequest, phase: string): VenvflowError {
  const where = request.spec.indexUrls?.length ? request.spec.indexUrls.map(redactUrl).join(", ") : "the installer's configured index";
  return new VenvflowError("build_timeout", `Building the environment timed out after ${Math.round(buildTimeoutMs(request.env) / 1000)} s while ${phase} (index: ${where})`, {
    fix: "check that the index answers (an index that accepts connections but never replies hangs every install), or raise VENVFLOW_BUILD_TIMEOUT (seconds)",
  });
}

/** Work that runs no command (venvflow's installer) stops at the build's deadline or cancellation all the same. */
function untilDeadline<T>(work: Promise<T>, request: BuildRequest, deadline: number, phase: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timedOut(request, phase())), Math.max(0, deadline - Date.now()));
    const onAbort = () => reject(new VenvflowError("build_cancelled", "Environment build was cancelled", { fix: "run it again" }));
    request.signal?.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    });
  });
}

/**
 * pip's "from versions: none" hides four different causes; asking the index itself tells them apart:
 * unreachable, unauthorized, no such project, or files that all target other platforms/Pythons.
 */
async function sharpenWithIndexProbe(explained: VenvflowError, spec: ResolvedSpec, indexUrls: string[] | null): Promise<VenvflowError> {
  const available = explained.details.availableVersions;
  if (explained.code !== "no_matching_distribution" || !Array.isArray(available) || available.length > 0 || !indexUrls?.length) return explained;
  const project = /^[A-Za-z0-9._-]+/.exec(String(explained.details.requirement ?? ""))?.[0];
  if (!project) return explained;
  const probes = await Promise.all(indexUrls.map(async (url) => ({ url: redactUrl(url), probe: await probeIndex(url, project) })));
  const where = `Python ${spec.interpreter.version} on ${spec.interpreter.platform}`;
  const details = { ...explained.details, probes: probes.map((p) => ({ url: p.url, kind: p.probe.kind })) };
  const log = `full installer output: ${explained.details.buildLogPath}`;
  const files = probes.flatMap((p) => (p.probe.kind === "files" ? [...p.probe.wheels.map((w) => w.filename), ...p.probe.sdists] : []));
  if (files.length > 0) {
    const tags = [...new Set(probes.flatMap((p) => (p.probe.kind === "files" ? p.probe.wheels.flatMap((w) => w.tags) : [])))];
    return new VenvflowError("no_compatible_wheel", `${explained.details.decisiveLine} — the index has ${project} only as ${files.join(", ")}; none fits ${where}\n${log}`, {
      fix: `use a pythonVersion and platform one of those files supports${tags.length ? ` (wheel tags: ${tags.join(", ")})` : ""}, or a version of ${project} that has a wheel for ${where}`,
      details: { ...details, files },
    });
  }
  const unreachable = probes.filter((p) => p.probe.kind === "unreachable");
  if (unreachable.length === probes.length) {
    const detail = unreachable.map((p) => `${p.url} (${p.probe.kind === "unreachable" ? p.probe.detail : ""})`).join(", ");
    return new VenvflowError("index_unreachable", `The package index is unreachable: ${detail}; so ${project} could not be found\n${log}`, {
      fix: "check the index URL, and that this machine can reach it (proxy, VPN, firewall)",
      details,
    });
  }
  const failing = probes.find((p) => p.probe.kind === "http_error");
  if (failing) {
    return new VenvflowError("index_http_error", `The package index ${failing.url} failed with HTTP ${failing.probe.kind === "http_error" ? failing.probe.status : "?"}, so ${project} could not be found (pip reports this as "from versions: none")\n${log}`, {
      fix: "the index server is failing: retry later or ask its operator; check the index URL",
      details: { ...details, status: failing.probe.kind === "http_error" ? failing.probe.status : null },
    });
  }
  const refused = probes.find((p) => p.probe.kind === "unauthorized");
  if (refused) {
    return new VenvflowError("index_unauthorized", `The package index ${refused.url} refused the credentials (HTTP ${refused.probe.kind === "unauthorized" ? refused.probe.status : "?"}), so ${project} could not be found\n${log}`, {
      fix: "put valid credentials in the index URL (https://user:token@host/simple) or in netrc/keyring",
      details,
    });
  }
  if (probes.every((p) => p.probe.kind === "no_project")) {
    return new VenvflowError("no_matching_distribution", `${explained.details.decisiveLine} — no project named ${project} on ${probes.map((p) => p.url).join(", ")}\n${log}`, {
      fix: `check the distribution name (it can differ from the import name, e.g. PyYAML for yaml), or add the index that publishes ${project}`,
      details,
    });
  }
  return explained;
}

/**
 * Resolves the spec's requirements now, without installing (pip's `--dry-run --report`): what a
 * refresh would install. Runs against an existing environment's interpreter, ignoring what it has.
 */
export async function resolveNow(spec: ResolvedSpec, python: string, cache: EnvCache, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ name: string; version: string }[]> {
  const scratch = await cache.scratchDir();
  try {
    const requirementsFile = path.join(scratch, "requirements.txt");
    const constraintsFile = path.join(scratch, "constraints.txt");
    await fs.writeFile(requirementsFile, requirementsText(spec.requirements), { mode: 0o600 });
    await fs.writeFile(constraintsFile, requirementsText(spec.constraints), { mode: 0o600 });
    const run = async (argv: string[], runEnv: NodeJS.ProcessEnv): Promise<CommandResult> => {
      const lines: string[] = [];
      const onLine = (line: string): void => void lines.push(spec.redactor.redact(line));
      const outcome = await runProcessGroup({ command: argv[0] as string, args: argv.slice(1), env: runEnv, lines: { 1: onLine, 2: onLine }, ...(signal ? { signal } : {}), timeoutMs: buildTimeoutMs(env) });
      if (outcome.timedOut) throw new VenvflowError("build_timeout", `Resolving the requirements timed out after ${Math.round(buildTimeoutMs(env) / 1000)} s`, { fix: "check that the index answers, or raise VENVFLOW_BUILD_TIMEOUT (seconds)" });
      return { exitCode: outcome.exitCode, lines };
    };
    const { result, pins, error } = await spec.installer.resolve({ python, requirementsFile, constraintsFile, scratch, sources: sources(spec), env: installerEnv(spec, env), run });
    if (error) throw new EnvBuildError(error);
    if (pins === null) {
      throw new EnvBuildError(explainInstallFailure({ lines: result.lines, pythonVersion: spec.interpreter.version, platform: spec.interpreter.platform, indexUrls: spec.indexUrls?.map(redactUrl) ?? null, buildLogPath: "(resolution only: no build log)", exitCode: result.exitCode }));
    }
    return pins;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** Builds and publishes the environment; the caller holds `request.lock`. */
export async function buildEnvironment(request: BuildRequest): Promise<EnvMetadata> {
  const { spec, cache, key } = request;
  const dir = cache.envDir(key);
  const python = path.join(dir, "bin", "python");
  const started = Date.now();
  const progress = (phase: BuildProgress["phase"], message: string) => request.onProgress?.({ key, phase, message });
  const buildLogPath = cache.buildLogPath(key);
  await fs.mkdir(path.dirname(buildLogPath), { recursive: true });
  const log = await fs.open(buildLogPath, "w");
  const scratch = await cache.scratchDir();
  const env = installerEnv(spec, request.env);
  let phase = "creating the environment";
  let notes = Promise.resolve();
  const deadline = request.deadline ?? started + buildTimeoutMs(request.env);
  try {
    await log.write(`${spec.canonical}\n`);
    // A directory without a marker is what a crashed build left behind: it is never used, only replaced.
    await cache.discard(key);
    await fs.mkdir(path.dirname(dir), { recursive: true });

    progress("create", `creating a Python ${spec.interpreter.version} environment`);
    const run = (argv: string[], runEnv: NodeJS.ProcessEnv) => runLogged(argv, { ...request, deadline }, runEnv, log, () => phase);
    const created = await spec.installer.createEnvironment({ dir, interpreter: spec.interpreter.path, systemSitePackages: spec.systemSitePackages }, env, run);
    if (created.exitCode !== 0) {
      throw new VenvflowError("env_build_failed", `Creating the virtual environment failed: ${created.lines.slice(-1)[0] ?? `exit code ${created.exitCode}`}\nfull output: ${buildLogPath}`, {
        fix: `check that ${spec.interpreter.path} has a working venv module (Debian: apt-get install python3-venv)`,
        details: { buildLogPath },
      });
    }

    let lock: LockedPackage[] = [];
    let warnings: string[] = [];
    let installedBy = { name: spec.installer.name, version: spec.installer.version };
    // pip and uv cannot install a pylock.toml: they get its versions as constraints (venvflow's installer installs it as is).
    const lockPins = spec.pylock && spec.installer.name !== "venvflow" ? spec.pylock.lock.packages.map((p) => `${p.name}==${p.version}`) : [];
    const pins = request.pins ?? lockPins;
    const note = (message: string): Promise<void> => {
      progress("install", message);
      request.onOutput?.(message);
      notes = notes.then(() => log.write(`${message}\n`)).then(() => undefined, () => undefined);
      return notes;
    };
    if (spec.installerNote) await note(spec.installerNote);
    if (spec.lockNote) await note(spec.lockNote);
    if (spec.pylock) await note(`using the lock ${spec.pylock.file} (${spec.pylock.lock.packages.length} packages)`);
    if (spec.requirements.length > 0) {
      progress("install", `installing ${spec.requirements.length} requirement${spec.requirements.length === 1 ? "" : "s"} with ${spec.installer.name} ${spec.installer.version}`);
      phase = "resolving and installing the requirements";
      const requirementsFile = path.join(scratch, "requirements.txt");
      const constraintsFile = path.join(scratch, "constraints.txt");
      await fs.writeFile(requirementsFile, requirementsText(spec.requirements), { mode: 0o600 });
      await fs.writeFile(constraintsFile, requirementsText(spec.constraints) + pins.join("\n") + "\n", { mode: 0o600 });
      const stop = new AbortController();
      const installing = spec.installer.install({
        python,
        envDir: dir,
        requirementsFile,
        constraintsFile,
        scratch,
        sources: sources(spec),
        env,
        run,
        requested: new Set(spec.requirements.flatMap((r) => (r.name ? [r.name] : []))),
        redact: (text) => spec.redactor.redact(text),
        log: (line) => void note(spec.redactor.redact(line)),
        ...(spec.pylock && !request.pins ? { pylock: { file: spec.pylock.file, lock: spec.pylock.lock } } : {}),
        signal: stop.signal,
      });
      const installed = await untilDeadline(installing, request, deadline, () => phase).finally(() => stop.abort());
      if (installed.fallback) installedBy = installed.fallback.installer;
      if (installed.error) throw new EnvBuildError(installed.error);
      if (installed.lock === null) {
        // With no indexUrls, name the index the installer's own configuration gives (pip.conf, PIP_*), as doctor does.
        const indexUrls = spec.indexUrls ?? (await spec.installer.configuredIndexes(env).catch(() => null));
        const explained = explainInstallFailure({
          lines: installed.result.lines,
          pythonVersion: spec.interpreter.version,
          platform: spec.interpreter.platform,
          indexUrls: indexUrls?.map(redactUrl) ?? null,
          buildLogPath,
          exitCode: installed.result.exitCode,
        });
        throw new EnvBuildError(await sharpenWithIndexProbe(explained, spec, indexUrls));
      }
      progress("lock", "recording the resolved packages");
      lock = installed.lock;
      warnings = installed.result.lines.map((l) => l.trim()).filter((l) => UNKNOWN_EXTRA.test(l));
    }

    progress("publish", "publishing");
    const metadata: EnvMetadata = {
      format: 1,
      key,
      declaredKey: spec.key,
      interpreter: { path: spec.interpreter.path, version: spec.interpreter.version, major: spec.interpreter.major, minor: spec.interpreter.minor, implementation: spec.interpreter.implementation, source: spec.interpreter.source },
      installer: installedBy,
      systemSitePackages: spec.systemSitePackages,
      canonicalSpec: spec.canonical + (pins.length ? `\n${request.pins ? "refreshed" : "locked"} pins: ${pins.join(", ")}` : ""),
      lock,
      createdAt: new Date().toISOString(),
      buildDurationMs: Date.now() - started,
      buildLogPath,
      sizeBytes: await directorySize(dir),
      ...(warnings.length ? { warnings } : {}),
    };
    await cache.publish(metadata);
    if (installedBy.name === spec.installer.name) spec.installer.afterPublish?.(dir, request.env);
    await log.write(`published ${key} in ${metadata.buildDurationMs} ms\n`);
    progress("done", `built in ${(metadata.buildDurationMs / 1000).toFixed(1)} s`);
    return metadata;
  } catch (error) {
    await cache.discard(key).catch(() => undefined);
    await log.write(`FAILED: ${error instanceof Error ? spec.redactor.redact(error.message) : String(error)}\n`).catch(() => undefined);
    if (error instanceof VenvflowError) throw error;
    throw new VenvflowError("env_build_failed", `Building environment ${key.slice(0, 12)} failed: ${spec.redactor.redact(error instanceof Error ? error.message : String(error))}\nfull output: ${buildLogPath}`, {
      fix: "read the build log",
      details: { buildLogPath },
      cause: error,
    });
  } finally {
    await notes;
    await log.close();
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
