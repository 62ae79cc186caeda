/**
 * `runCallable`: one Python callable, one attempt. Input problems are VenvflowErrors thrown before anything runs;
 * everything that happens once the attempt starts (a build failure, an exception, an exit code, a timeout)
 * comes back as a CallableResult.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { ENV_BUILD_OPTIONS, LOCK_FILE_NAME, type EnvironmentLease, type EnvSpecInput } from "../env/types.ts";
import { durationToMs } from "../util/duration.ts";
import { VenvflowError } from "../util/errors.ts";
import { venvflowHome } from "../util/home.ts";
import type { Redactor } from "../util/secrets.ts";
import { bindArguments, inspectCallable, resolveCallable, type CallableTarget } from "./callable.ts";
import { decodeValue, describeValue, encodeValue } from "./codec.ts";
import { AttemptLog, callableRedactor } from "./logs.ts";
import { LOG_FD, RUNNER_PROTOCOL, spawnLauncher, type Launcher, type RunnerControl } from "./launcher.ts";
import { WarmPool, warmPool } from "./warm.ts";
import type { CallableError, CallableOptions, CallableResult, FailureContext, FailureExplainer, Serializer } from "./types.ts";

export { inspectCallable, resolveCallable, type CallableSignature, type CallableTarget } from "./callable.ts";
export { isOpaquePythonValue, type OpaquePythonValue } from "./codec.ts";
export type * from "./types.ts";
export { RUNNER_PROTOCOL, spawnLauncher, type Attempt, type LaunchOutcome, type Launcher, type RunnerControl, type RunnerReport } from "./launcher.ts";
export { WarmPool, warmPool, type WarmPoolOptions } from "./warm.ts";

export const SERIALIZERS: readonly Serializer[] = ["json", "pickle", "cloudpickle", "dill"];
/** Default cap on a serialized return value; `VENVFLOW_MAX_RESULT_BYTES` overrides it. */
export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** The names in `dir`, or none when it cannot be read. */
function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The call's small file operations (a few stats) are synchronous: through the
 * thread pool each costs two thread hand-offs, and measured on the dev machine a warm dispatch made ~60 context
 * switches, most of them these; synchronously each is a syscall of a few microseconds on the loop.
 */
function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

export function maxResultBytes(): number {
  const raw = process.env.VENVFLOW_MAX_RESULT_BYTES;
  if (raw === undefined || raw === "") return DEFAULT_MAX_RESULT_BYTES;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new VenvflowError("invalid_option", `VENVFLOW_MAX_RESULT_BYTES must be a positive integer, got "${raw}"`, { fix: "e.g. VENVFLOW_MAX_RESULT_BYTES=134217728" });
  }
  return value;
}

function checkSerializer(value: unknown): Serializer {
  if (value === undefined) return "json";
  if (typeof value === "string" && (SERIALIZERS as readonly string[]).includes(value)) return value as Serializer;
  throw new VenvflowError("invalid_serializer", `Unsupported serializer '${String(value)}'. Expected one of ${SERIALIZERS.map((s) => `'${s}'`).join(", ")}`, {
    fix: 'use serializer "json" (the default) for plain data, or "pickle", "cloudpickle" or "dill" for Python objects',
  });
}

function skipCodes(value: unknown): number[] {
  const codes = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const code of codes) {
    if (!Number.isInteger(code) || (code as number) < 0 || (code as number) > 255) {
      throw new VenvflowError("invalid_option", `skipOnExitCode must be an exit code (0-255) or a list of them, got ${JSON.stringify(value)}`, { fix: "e.g. skipOnExitCode: 99 or [99, 100]" });
    }
  }
  return codes as number[];
}

/** ExternalPythonOperator's checks, in its order, each with its own code. */
async function checkExternalPython(python: string): Promise<void> {
  const stat = statOrNull(python);
  if (!stat) throw new VenvflowError("python_not_found", `Python path '${python}' must exist`, { fix: "point python at an existing interpreter, e.g. /opt/venvs/etl/bin/python" });
  if (!stat.isFile()) throw new VenvflowError("python_not_a_file", `Python path '${python}' must be a file`, { fix: "point python at the interpreter binary (…/bin/python), not its directory" });
  if (!path.isAbsolute(python)) throw new VenvflowError("python_not_absolute", `Python path '${python}' must be an absolute path`, { fix: `use ${path.resolve(python)}` });
}

/** Adds what a pickle-family serializer needs to the requirements when the host's packages are not visible. */
/** What a callable's options declare about its environment (the fields `environmentSpecFor` reads). */
export type EnvironmentOptions = Pick<CallableOptions, "requirements" | "serializer" | "systemSitePackages" | "pythonVersion" | "indexUrls" | "pipInstallOptions">;

/**
 * The environment spec a callable runs in. The runtime, `venvflow env build FILE` and doctor all derive it
 * here, so they share one cached environment. cloudpickle/dill join the requirements when the environment
 * cannot see the host's (Airflow does the same).
 */
export function environmentSpecFor(options: EnvironmentOptions, baseDir: string): EnvSpecInput {
  const serializer = options.serializer ?? "json";
  const systemSitePackages = options.systemSitePackages ?? false;
  let requirements = options.requirements;
  if (!systemSitePackages && (serializer === "cloudpickle" || serializer === "dill")) {
    requirements = [...(typeof requirements === "string" ? [`-r ${requirements}`] : (requirements ?? [])), serializer];
  }
  return {
    requirements,
    systemSitePackages,
    baseDir,
    ...(options.pythonVersion !== undefined ? { pythonVersion: options.pythonVersion } : {}),
    ...(options.indexUrls !== undefined ? { indexUrls: options.indexUrls } : {}),
    ...(options.pipInstallOptions !== undefined ? { pipInstallOptions: options.pipInstallOptions } : {}),
  };
}

function childEnv(options: CallableOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = options.inheritEnv === false ? {} : { ...process.env };
  for (const [key, value] of Object.entries(options.envVars ?? {})) env[key] = typeof value === "string" ? value : value.secret;
  // What the protocol relies on: no bytecode in the user's tree, lines as they are printed, UTF-8 pipes.
  env.PYTHONDONTWRITEBYTECODE = "1";
  env.PYTHONUNBUFFERED = "1";
  env.PYTHONIOENCODING = "utf-8";
  return env;
}

function checkPreload(value: unknown): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value) && value.every((name) => typeof name === "string" && /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(name))) return value as string[];
  throw new VenvflowError("invalid_option", `preload must be a list of module names, got ${JSON.stringify(value)}`, { fix: 'e.g. preload: ["pandas", "numpy.linalg"]' });
}

/** Environments a warm interpreter holds a lease on, by what their spec depends on (see environmentMemoKey). */
const warmEnvironments = new Map<string, CallableResult["env"]>();

/** The environment a live zygote of `pool` holds for this memo key and these variables, if any. */
function heldEnvironment(pool: WarmPool, memoKey: string, env: NodeJS.ProcessEnv): CallableResult["env"] | undefined {
  const held = warmEnvironments.get(memoKey);
  return held && pool.warmFor({ python: held.python, env }) ? held : undefined;
}

/** Hands `lease` to the zygote now serving `envInfo` (it keeps it as long as it lives); false when there is none. */
function keepWarm(pool: WarmPool, memoKey: string, envInfo: CallableResult["env"], env: NodeJS.ProcessEnv, lease: EnvironmentLease): boolean {
  if (!pool.hold({ python: envInfo.python, env }, lease)) return false;
  warmEnvironments.set(memoKey, envInfo);
  return true;
}

/**
 * What resolving `spec` depends on: the spec itself, the installer's environment variables, VENVFLOW_HOME, and the
 * size and mtime of the requirement files it names directly and of the lock files beside it. Equal keys resolve to the same environment.
 */
async function environmentMemoKey(spec: EnvSpecInput, home: string): Promise<string> {
  const lines = spec.requirements === undefined ? [] : typeof spec.requirements === "string" ? [`-r ${spec.requirements}`] : spec.requirements;
  const files = lines.map((line) => /^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)/.exec(line)?.[1]).filter((file): file is string => file !== undefined);
  const stamps = await Promise.all(
    files.map(async (file) => {
      const stat = statOrNull(path.resolve(spec.baseDir ?? process.cwd(), file));
      return stat ? `${file}:${stat.size}:${stat.mtimeMs}` : `${file}:-`;
    }),
  );
  // A lock written beside the DAG (`venvflow lock`) changes the environment too.
  const baseDir = spec.baseDir ?? process.cwd();
  const locks = await Promise.all(
    readdirOrEmpty(baseDir).filter((name) => LOCK_FILE_NAME.test(name)).sort().map(async (name) => {
      const stat = statOrNull(path.join(baseDir, name));
      return stat ? `${name}:${stat.size}:${stat.mtimeMs}` : `${name}:-`;
    }),
  );
  // Names first: every value read from process.env is a getenv call (reading them all was 0.2 ms a task).
  const installerEnv = Object.keys(process.env)
    .filter((name) => name.startsWith("PIP_") || name.startsWith("VENVFLOW_") || name.startsWith("UV_"))
    .map((name) => [name, process.env[name]]);
  return JSON.stringify([spec, home, stamps, locks, installerEnv.sort()]);
}

/** Where fork exists, a warm interpreter; `warm: false` on the task or VENVFLOW_WARM=0 turn it off. */
const FORK_PLATFORMS: ReadonlySet<string> = new Set(["linux", "darwin", "freebsd", "openbsd"]);

function launcherFor(options: CallableOptions): Launcher {
  if (options.launcher) return options.launcher;
  if (options.warm === false || process.env.VENVFLOW_WARM === "0" || !FORK_PLATFORMS.has(process.platform)) return spawnLauncher;
  return warmPool();
}

function defaultLogPath(home: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return path.join(home, "logs", "calls", `${stamp}-${randomBytes(4).toString("hex")}.jsonl`);
}

function describeTarget(target: CallableTarget, name: string): string {
  return target.kind === "file" ? `${target.path}:${name}` : `${name} (inline source)`;
}

function venvflowFailure(error: unknown, redactor: Redactor): CallableError {
  const err = error instanceof VenvflowError ? error : new VenvflowError("internal_error", error instanceof Error ? error.message : String(error));
  const message = redactor.redact(err.message);
  return { type: "VenvflowError", code: err.code, message, traceback: "", ...(err.fix ? { fix: redactor.redact(err.fix) } : {}) };
}

/**
 * An ImportError carries the caller's explanation (doctor's, passed down by the engine and `venvflow call`: the
 * runtime sits below doctor): the environment it ran in, where the module does exist, whether a requirement
 * declared it, and the fix.
 */
async function withExplanation(error: CallableError, explain: FailureExplainer | undefined, context: Omit<FailureContext, "error">): Promise<CallableError> {
  if (!explain || (error.type !== "ModuleNotFoundError" && error.type !== "ImportError" && error.type !== "KeyError")) return error;
  const explained = await explain({ ...context, error }).catch(() => null);
  return explained ? { ...error, code: explained.code, message: `${error.message}\n${explained.message}`, fix: explained.fix } : error;
}

export interface PrewarmOptions {
  signal?: AbortSignal;
  /** Build the environment when it is not in the cache (default: only warm what is built). */
  build?: boolean;
}

/**
 * Gets a task's warm interpreter ready before its first attempt: its environment resolved and leased, the zygote
 * started, the callable's imports and `preload` imported. Nothing of the task runs. A worker calls it for the Python
 * tasks of the DAGs it serves, so the first attempt costs what the next ones do. Resolves false when fork is not used
 * for these options, the environment is not built (and `build` is not set), or something failed (the task's own
 * attempt will say what).
 */
export async function prewarmCallable(options: CallableOptions, prewarm: PrewarmOptions = {}): Promise<boolean> {
  const signal = prewarm.signal ?? new AbortController().signal;
  const launcher = launcherFor(options);
  if (!(launcher instanceof WarmPool)) return false;
  const baseDir = path.resolve(options.baseDir ?? process.cwd());
  const cwd = path.resolve(baseDir, options.cwd ?? process.cwd());
  const env = childEnv(options);
  const target = await resolveCallable(options.pythonCallable, baseDir);
  const warm = (python: string): Promise<boolean> => launcher.prewarm({ python, env, cwd, callable: target, preload: checkPreload(options.preload), signal, log: null });
  if (options.python !== undefined) return warm(options.python); // an existing interpreter: nothing to lease
  const home = options.home ?? venvflowHome();
  const spec = environmentSpecFor({ ...options, serializer: checkSerializer(options.serializer) }, baseDir);
  const memoKey = await environmentMemoKey(spec, home);
  const held = heldEnvironment(launcher, memoKey, env);
  if (held) return warm(held.python);
  const { acquireEnvironment } = await import("../env/index.ts");
  const lease = await acquireEnvironment(spec, { home, signal, cachedOnly: prewarm.build !== true }).catch((error: unknown) => {
    if (error instanceof VenvflowError && error.code === "env_not_found") return null;
    throw error;
  });
  if (!lease) return false;
  let kept = false;
  try {
    const python = lease.env.python;
    const ready = await warm(python);
    kept = ready && keepWarm(launcher, memoKey, { key: lease.env.key, path: lease.env.path, python }, env, lease);
    return ready;
  } finally {
    if (!kept) await lease.release();
  }
}

/**
 * Runs one Python callable in its environment (built and cached by the environment layer), or in an existing
 * interpreter when `python` is given. Airflow's PythonVirtualenvOperator / ExternalPythonOperator semantics.
 */
export async function runCallable(options: CallableOptions): Promise<CallableResult> {
  const started = performance.now();
  const serializer = checkSerializer(options.serializer);
  const skipOn = skipCodes(options.skipOnExitCode);
  const timeoutMs = options.executionTimeout === undefined ? null : durationToMs(options.executionTimeout, "executionTimeout");
  const resultLimit = maxResultBytes();
  const baseDir = path.resolve(options.baseDir ?? process.cwd());
  const cwd = path.resolve(baseDir, options.cwd ?? process.cwd());
  if (!statOrNull(cwd)?.isDirectory()) {
    throw new VenvflowError("invalid_option", `cwd ${cwd} is not an existing directory`, { fix: "create it, or point cwd at an existing directory" });
  }
  if (options.python !== undefined) {
    const given = ENV_BUILD_OPTIONS.filter((name) => options[name] !== undefined);
    if (given.length > 0) {
      throw new VenvflowError("invalid_option", `python (an existing interpreter, used as is) cannot be combined with ${given.join(", ")}`, {
        fix: "drop python to let venvflow build the environment, or install what you need into that interpreter",
      });
    }
    await checkExternalPython(options.python);
  }
  const preload = checkPreload(options.preload);
  const redactor = callableRedactor(options);
  const target = await resolveCallable(options.pythonCallable, baseDir);
  const systemSitePackages = options.systemSitePackages ?? false;
  // Loaded only when an environment is needed: an external interpreter never pays for the PEP machinery.
  const envLayer = options.python === undefined ? await import("../env/index.ts") : null;
  const home = options.home ?? venvflowHome();
  const launcher = launcherFor(options);
  const env = childEnv(options);
  const spec = envLayer ? environmentSpecFor({ ...options, serializer }, baseDir) : null;
  // A warm interpreter of this environment holds a lease on it: no discovery, spec resolution, lock or lease per task.
  const memoKey = spec && launcher instanceof WarmPool ? await environmentMemoKey(spec, home) : null;
  const warmEnv = memoKey === null ? undefined : heldEnvironment(launcher as WarmPool, memoKey, env);
  // The callable check runs in the base interpreter, or (warm path) the environment's, which has the same version.
  const basePython = options.python ?? warmEnv?.python ?? (await envLayer!.findPython(options.pythonVersion)).path;
  const signature = await inspectCallable(target, basePython);
  const opArgs = options.opArgs ?? [];
  const kwargs = bindArguments(signature, opArgs, options.opKwargs ?? {}, options.context);
  const encodedArgs = opArgs.map((value, i) => encodeValue(value, `opArgs[${i}]`));
  const encodedKwargs = encodeValue(kwargs, "opKwargs");

  const log = new AttemptLog(options.logPath ?? defaultLogPath(home), redactor, options.onLog, path.join(home, "logs"));
  const timeout = new AbortController();
  const timer = timeoutMs === null ? undefined : setTimeout(() => timeout.abort(), timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  let lease: EnvironmentLease | null = null;
  let envInfo: CallableResult["env"] = { key: null, path: signature.python.prefix, python: basePython };
  const finish = (state: CallableResult["state"], extra: { returnValue?: unknown; error?: CallableError; exitCode?: number | null }): CallableResult => {
    if (extra.error) log.system(`${extra.error.type}${extra.error.code ? ` (${extra.error.code})` : ""}: ${extra.error.message}`, "ERROR");
    return {
      state,
      returnValue: extra.returnValue ?? null,
      ...(extra.error ? { error: extra.error } : {}),
      exitCode: extra.exitCode ?? null,
      durationMs: Math.round(performance.now() - started),
      logPath: log.logPath,
      env: envInfo,
    };
  };
  const stoppedError = (): CallableError =>
    timeout.signal.aborted
      ? { type: "VenvflowError", code: "timeout", message: `executionTimeout of ${timeoutMs} ms exceeded; the task's process group was killed`, traceback: "", fix: "raise executionTimeout, or make the callable faster" }
      : { type: "VenvflowError", code: "aborted", message: `${signal.reason instanceof Error ? signal.reason.message : "the run was cancelled"}; the task's process group was killed`, traceback: "" };

  try {
    log.system(`Running ${describeTarget(target, signature.name)} (serializer ${serializer})`);
    if (envLayer && spec) {
      if (warmEnv) {
        envInfo = warmEnv;
      } else {
        try {
          lease = await envLayer.acquireEnvironment(spec, {
            home,
            signal,
            onProgress: (event) => log.system(`environment ${event.key.slice(0, 12)} ${event.phase}: ${event.message}`),
            onOutput: (line) => log.system(line),
          });
        } catch (error) {
          if (signal.aborted) return finish("failed", { error: stoppedError() });
          if (error instanceof VenvflowError && error.code === "env_build_failed") return finish("failed", { error: venvflowFailure(error, redactor) });
          throw error;
        }
        envInfo = { key: lease.env.key, path: lease.env.path, python: lease.env.python };
      }
    }

    const control: RunnerControl = {
      protocol: RUNNER_PROTOCOL,
      token: randomBytes(16).toString("hex"),
      callable: target.kind === "file" ? { kind: "file", path: target.path, name: signature.name } : { kind: "inline", source: target.source, name: signature.name },
      serializer,
      args: encodedArgs,
      kwargs: encodedKwargs,
      stringArgs: (options.stringArgs ?? []).map(String),
      maxResultBytes: resultLimit,
      logFd: LOG_FD,
    };
    if (signal.aborted) return finish("failed", { error: stoppedError() });
    log.system(`Executing ${envInfo.python} (${envInfo.key ? `environment ${envInfo.key.slice(0, 12)}` : "external interpreter"})`);
    const outcome = await launcher.launch({ python: envInfo.python, envKey: envInfo.key, control, cwd, env, callable: target, preload, log, signal });
    // The zygote now running for this environment keeps the lease for as long as it lives.
    if (lease && memoKey !== null && launcher instanceof WarmPool && keepWarm(launcher, memoKey, envInfo, env, lease)) lease = null;
    if (outcome.stopped) return finish("failed", { error: stoppedError(), exitCode: outcome.exitCode });

    const exitCode = outcome.exitCode;
    if (exitCode !== null && skipOn.includes(exitCode)) {
      log.system(`Process exited with code ${exitCode}. Skipping.`);
      return finish("skipped", { exitCode });
    }
    const result = outcome.report;
    if (result instanceof VenvflowError) return finish("failed", { error: venvflowFailure(result, redactor), exitCode });
    if (exitCode === 0) {
      // os._exit(0) / sys.exit(0) before returning: Airflow's semantics (success, None), said out loud.
      if (!result) log.system("the callable exited before returning; its result is None", "WARNING");
      const returnValue = result?.ok === true ? decodeValue(result.value) : null;
      log.system(options.showReturnValueInLogs === false ? "Done. Returned value not shown" : `Done. Returned value was: ${describeValue(returnValue)}`);
      return finish("success", { returnValue, exitCode });
    }
    if (result && !result.ok) {
      const error = await withExplanation(result.error, options.explainFailure, {
        env: envInfo,
        requirements: options.requirements,
        indexUrls: options.indexUrls,
        systemSitePackages,
        baseDir,
        home,
        ...(target.kind === "file" ? { callable: { path: target.path, name: target.name } } : {}),
        ...(options.inheritEnv === undefined ? {} : { inheritEnv: options.inheritEnv }),
        envVarNames: Object.keys(options.envVars ?? {}),
      });
      return finish("failed", { error: { ...error, message: redactor.redact(error.message), traceback: redactor.redact(error.traceback), ...(error.fix ? { fix: redactor.redact(error.fix) } : {}) }, exitCode });
    }
    const how = exitCode === null ? `was killed by ${outcome.signal ?? "a signal"}` : `exited with code ${exitCode}`;
    return finish("failed", {
      error: { type: "ProcessExit", message: `Process ${how}`, traceback: "", ...(exitCode === null ? { fix: "check the machine's memory (the OOM killer sends SIGKILL)" } : {}) },
      exitCode,
    });
  } finally {
    clearTimeout(timer);
    await lease?.release();
    await log.close();
  }
}
