/**
 * The environment layer's public types. The runtime and the engine reach environments only through
 * `ensureEnvironment` / `acquireEnvironment` (src/env/index.ts) and these types.
 */

/** A Python interpreter found on this machine. */
export interface Interpreter {
  /** Real path of the interpreter binary (symlinks resolved). */
  path: string;
  /** Full version, e.g. "3.12.1". */
  version: string;
  major: number;
  minor: number;
  /** `sys.implementation.name`, e.g. "cpython", "pypy". */
  implementation: string;
  /** How it was found: "path", "pyenv", "prefix", "explicit". */
  source: string;
}

/** Installers an environment can be built with (see src/env/installers). */
export const INSTALLERS = ["venvflow", "pip", "uv"] as const;
export type Installer = (typeof INSTALLERS)[number];

/**
 * The environment options a task declares, declared once: `EnvSpecInput`'s keys, the spec's validation and
 * the runtime's and DAG layer's lists of environment-only options all derive from these.
 * `ENV_BUILD_OPTIONS` are those that only make sense when venvflow builds the environment (not for an
 * existing interpreter).
 */
export const ENV_BUILD_OPTIONS = ["requirements", "pythonVersion", "systemSitePackages", "pipInstallOptions", "indexUrls"] as const;
export const ENV_OPTIONS = [...ENV_BUILD_OPTIONS, "constraints", "installer", "baseDir", "lockFile"] as const;
export type EnvOptionName = (typeof ENV_OPTIONS)[number];

/** What a task declares about its environment (Airflow's option names, camelCased). */
export interface EnvSpecInput {
  /** "3", "3.12", "3.12.1" or an absolute interpreter path. Default: the newest Python 3 found. */
  pythonVersion?: string;
  /** Requirement lines, or the path of a requirements file (`-r`/`-c` nesting and comments allowed). */
  requirements?: string[] | string;
  /** Constraint lines (pip's `-c` semantics): they restrict versions but install nothing by themselves. */
  constraints?: string[];
  /** First URL is the index (`--index-url`), the rest are extra indexes. `[]` means no index at all. */
  indexUrls?: string[] | string;
  /** Passed to the installer verbatim, before the requirements. */
  pipInstallOptions?: string[];
  /** Let the environment see the base interpreter's site-packages. venvflow's default is false. */
  systemSitePackages?: boolean;
  /** "venvflow", "pip", "uv", or "auto" (`VENVFLOW_INSTALLER`, else venvflow's own installer). Default "auto". */
  installer?: Installer | "auto";
  /** Directory that relative requirement-file paths are resolved against. Default: the current directory. */
  baseDir?: string;
  /**
   * A PEP 751 lock (relative to `baseDir`) to install from, with no resolution, when it was locked for these
   * requirements. Default: the `pylock*.toml` in `baseDir` written for them by `venvflow lock` (src/env/locking.ts).
   */
  lockFile?: string;
}

type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Does not compile when ENV_OPTIONS and EnvSpecInput's fields disagree.
export const ENV_OPTIONS_MATCH_SPEC: SameKeys<keyof EnvSpecInput, EnvOptionName> = true;

/** The files a build looks among for its environment's lock (PEP 751 names: `pylock.toml`, `pylock.<name>.toml`). */
export const LOCK_FILE_NAME = /^pylock(\.[^.]+)?\.toml$/;

/** One installed distribution as the installer resolved it. */
export interface LockedPackage {
  name: string;
  version: string;
  /** Where it came from: a redacted URL or file path; "preinstalled" for what the venv started with. */
  source: string;
  sha256?: string;
  /** True when the user asked for it directly (not pulled in as a dependency). */
  requested: boolean;
}

/** A published, immutable environment. */
export interface Environment {
  key: string;
  path: string;
  /** The environment's own interpreter (`<path>/bin/python`). */
  python: string;
  interpreter: Interpreter;
  installer: { name: Installer; version: string };
  systemSitePackages: boolean;
  /** The canonical, redacted declared inputs the key was computed from. */
  canonicalSpec: string;
  lock: LockedPackage[];
  createdAt: string;
  lastUsedAt: string;
  sizeBytes: number;
  buildLogPath: string;
  /** Why this environment cannot run tasks (its interpreter or base Python is gone); absent when healthy. */
  problem?: string;
  /** What the installer warned about while building (e.g. an extra the distribution does not provide). */
  warnings?: string[];
}

/** An environment held by a running task: never deleted until released. */
export interface EnvironmentLease {
  env: Environment;
  release(): Promise<void>;
}

export interface BuildProgress {
  key: string;
  phase: "resolve" | "waiting" | "create" | "install" | "lock" | "publish" | "cached" | "done" | "warning";
  message: string;
}

export interface EnsureOptions {
  /** VENVFLOW_HOME override. */
  home?: string;
  /** Re-resolve unpinned requirements into a new environment instead of reusing the current one. */
  refresh?: boolean;
  /** Progress events (plain data: the CLI turns them into a live display or plain lines). */
  onProgress?: (event: BuildProgress) => void;
  /** Every line of installer output, already redacted. */
  onOutput?: (line: string) => void;
  signal?: AbortSignal;
  /** Environment for the installer processes. Default: process.env (pip's own configuration is honoured). */
  env?: NodeJS.ProcessEnv;
  /** Never build: an environment not in the cache (or broken) is an `env_not_found` error. */
  cachedOnly?: boolean;
}
