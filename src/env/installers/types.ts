/**
 * The installer seam: what building an environment asks of an installer. venvflow's own installer (the default), pip
 * and uv implement it. The builder owns logging, locks, scratch files
 * and error explanation; an installer only turns each step into commands and reads back what it did.
 */
import type { VenvflowError } from "../../util/errors.ts";
import type { Pylock } from "../pylock.ts";
import type { Installer, LockedPackage } from "../types.ts";

export interface CommandResult {
  exitCode: number | null;
  /** Output lines (stdout and stderr interleaved), already redacted. */
  lines: string[];
}

/** Runs one installer command; the builder logs it, tracks its pid and redacts its output. */
export type RunCommand = (argv: string[], env: NodeJS.ProcessEnv) => Promise<CommandResult>;

/** Where distributions come from, as the spec declares it. */
export interface InstallSources {
  /** null: the installer's own configuration; []: no index at all. */
  indexUrls: string[] | null;
  findLinks: string[];
  installOptions: string[];
}

export interface CreateRequest {
  dir: string;
  /** Base interpreter the environment is created from. */
  interpreter: string;
  systemSitePackages: boolean;
}

export interface InstallRequest {
  /** Interpreter of the environment to install into (or, for resolve, to resolve for). */
  python: string;
  /** Requirements and constraints files (mode 0600, in the build's scratch directory). */
  requirementsFile: string;
  constraintsFile: string;
  scratch: string;
  sources: InstallSources;
  env: NodeJS.ProcessEnv;
  run: RunCommand;
  /** A line for the build log and the caller's output (installers that run no command report through it). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The environment's pylock.toml: venvflow's installer installs exactly it; pip and uv get its pins as constraints. */
  pylock?: { file: string; lock: Pylock };
}

export interface InstallOutcome {
  result: CommandResult;
  /** What got installed, read from the installer's report when it has one; null when the command failed. */
  lock: LockedPackage[] | null;
  /** An installer that explains its own failure (venvflow's resolver) gives the error here, with `lock` null. */
  error?: VenvflowError;
  /** Set when the installer handed the work to another one (venvflow → pip), and why. */
  fallback?: { installer: { name: Installer; version: string }; reason: string };
}

export interface ResolveOutcome {
  result: CommandResult;
  /** The pinned set the requirements resolve to now; null when resolution failed. */
  pins: { name: string; version: string }[] | null;
  error?: VenvflowError;
}

export interface EnvironmentInstaller {
  readonly name: Installer;
  readonly version: string;
  /** The installer's process environment: index URLs travel in variables, never on argv or on disk. */
  environment(sources: InstallSources, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  createEnvironment(request: CreateRequest, env: NodeJS.ProcessEnv, run: RunCommand): Promise<CommandResult>;
  /** Installs the requirements; `requested` holds canonical names asked for directly, `redact` masks credentials. */
  install(request: InstallRequest & { requested: ReadonlySet<string>; redact: (text: string) => string; envDir: string }): Promise<InstallOutcome>;
  /** Resolves without installing, ignoring what the environment already has. */
  resolve(request: InstallRequest): Promise<ResolveOutcome>;
  /** The indexes the installer uses when the spec names none (its own configuration), clear text. */
  configuredIndexes(env: NodeJS.ProcessEnv): Promise<string[]>;
  /** name/version of every distribution installed in an environment. */
  inspect(envDir: string): Promise<{ name: string; version: string }[]>;
  /** Work after the environment is published, off the critical path (bytecode). Must not throw or block. */
  afterPublish?(envDir: string, env: NodeJS.ProcessEnv): void;
}
