/**
 * pip as an installer. pip runs from outside the environment (`pip --python`, pip ≥ 22.3), so environments
 * carry no pip of their own; its `--report` is what the environment's lock records.
 */
import { promises as fs } from "node:fs";
import { redactUrl } from "../../util/secrets.ts";
import { configuredIndexUrls } from "./pip-config.ts";
import type { LockedPackage } from "../types.ts";
import { installedDistributions, sourceArgs, urlSources } from "./common.ts";
import type { CommandResult, CreateRequest, EnvironmentInstaller, InstallOutcome, InstallRequest, InstallSources, ResolveOutcome, RunCommand } from "./types.ts";

interface PipReport {
  install?: {
    requested?: boolean;
    metadata?: { name?: string; version?: string };
    download_info?: { url?: string; archive_info?: { hashes?: Record<string, string>; hash?: string } };
  }[];
}

function lockFromReport(report: PipReport, redact: (s: string) => string): LockedPackage[] {
  return (report.install ?? [])
    .map((item) => {
      const sha256 = item.download_info?.archive_info?.hashes?.sha256 ?? item.download_info?.archive_info?.hash?.replace(/^sha256=/, "");
      return {
        name: item.metadata?.name ?? "?",
        version: item.metadata?.version ?? "?",
        source: redact(redactUrl(item.download_info?.url ?? "unknown")),
        ...(sha256 ? { sha256 } : {}),
        requested: item.requested ?? false,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** pip's process environment for the sources: index URLs in variables, never on argv. */
export function pipEnvironment(sources: InstallSources, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PIP_NO_INPUT: "1", PIP_PROGRESS_BAR: "off" };
  const urls = urlSources(sources);
  if (urls.indexUrl !== null) env.PIP_INDEX_URL = urls.indexUrl;
  if (urls.indexUrl !== null || urls.extraIndexUrls.length) env.PIP_EXTRA_INDEX_URL = urls.extraIndexUrls.join(" ");
  if (urls.findLinks.length) env.PIP_FIND_LINKS = urls.findLinks.join(" ");
  return env;
}

export class PipInstaller implements EnvironmentInstaller {
  readonly name = "pip" as const;

  readonly version: string;
  /** argv prefix running a pip ≥ 22.3: `[python, "-m", "pip"]`. */
  readonly command: readonly string[];

  constructor(version: string, command: readonly string[]) {
    this.version = version;
    this.command = command;
  }

  environment(sources: InstallSources, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return pipEnvironment(sources, base);
  }

  createEnvironment(request: CreateRequest, env: NodeJS.ProcessEnv, run: RunCommand): Promise<CommandResult> {
    return run([request.interpreter, "-m", "venv", "--without-pip", ...(request.systemSitePackages ? ["--system-site-packages"] : []), request.dir], env);
  }

  async install(request: InstallRequest & { redact: (text: string) => string }): Promise<InstallOutcome> {
    const reportFile = `${request.scratch}/report.json`;
    const argv = [...this.command, "--python", request.python, "install", "--report", reportFile, ...sourceArgs(request.sources), "-r", request.requirementsFile, "-c", request.constraintsFile];
    const result = await request.run(argv, request.env);
    if (result.exitCode !== 0) return { result, lock: null };
    return { result, lock: lockFromReport(JSON.parse(await fs.readFile(reportFile, "utf8")) as PipReport, request.redact) };
  }

  async resolve(request: InstallRequest): Promise<ResolveOutcome> {
    const reportFile = `${request.scratch}/report.json`;
    const argv = [...this.command, "--python", request.python, "install", "--dry-run", "--ignore-installed", "--report", reportFile, ...sourceArgs(request.sources), "-r", request.requirementsFile, "-c", request.constraintsFile];
    const result = await request.run(argv, request.env);
    if (result.exitCode !== 0) return { result, pins: null };
    const report = JSON.parse(await fs.readFile(reportFile, "utf8")) as PipReport;
    return { result, pins: lockFromReport(report, (s) => s).map(({ name, version }) => ({ name, version })) };
  }

  configuredIndexes(env: NodeJS.ProcessEnv): Promise<string[]> {
    return Promise.resolve(configuredIndexUrls(env));
  }

  inspect(envDir: string): Promise<{ name: string; version: string }[]> {
    return installedDistributions(envDir);
  }
}
