/** uv as an installer: `uv venv` creates the environment without starting Python; `uv pip` installs and resolves. */
import { promises as fs } from "node:fs";
import { PYPI_SIMPLE } from "./pip-config.ts";
import { parseRequirementLine } from "../requirements.ts";
import { installedDistributions, lockFromInstalled, sourceArgs, urlSources } from "./common.ts";
import type { CommandResult, CreateRequest, EnvironmentInstaller, InstallOutcome, InstallRequest, InstallSources, ResolveOutcome, RunCommand } from "./types.ts";

export class UvInstaller implements EnvironmentInstaller {
  readonly name = "uv" as const;

  readonly version: string;
  readonly binary: string;

  constructor(version: string, binary: string) {
    this.version = version;
    this.binary = binary;
  }

  environment(sources: InstallSources, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base };
    const urls = urlSources(sources);
    if (urls.indexUrl !== null) env.UV_INDEX_URL = urls.indexUrl;
    if (urls.indexUrl !== null || urls.extraIndexUrls.length) env.UV_EXTRA_INDEX_URL = urls.extraIndexUrls.join(" ");
    if (urls.findLinks.length) env.UV_FIND_LINKS = urls.findLinks.join(" ");
    return env;
  }

  createEnvironment(request: CreateRequest, env: NodeJS.ProcessEnv, run: RunCommand): Promise<CommandResult> {
    return run([this.binary, "venv", "--python", request.interpreter, ...(request.systemSitePackages ? ["--system-site-packages"] : []), request.dir], env);
  }

  async install(request: InstallRequest & { requested: ReadonlySet<string>; envDir: string }): Promise<InstallOutcome> {
    const argv = [this.binary, "pip", "install", "--python", request.python, ...sourceArgs(request.sources), "-r", request.requirementsFile, "-c", request.constraintsFile];
    const result = await request.run(argv, request.env);
    // uv writes no installation report: the lock is what the environment holds afterwards.
    return { result, lock: result.exitCode === 0 ? await lockFromInstalled(request.envDir, "uv", request.requested) : null };
  }

  async resolve(request: InstallRequest): Promise<ResolveOutcome> {
    const output = `${request.scratch}/resolved.txt`;
    const argv = [this.binary, "pip", "compile", "--python", request.python, "--no-header", "--no-annotate", "-o", output, ...sourceArgs(request.sources), "-r", request.requirementsFile, "-c", request.constraintsFile];
    const result = await request.run(argv, request.env);
    if (result.exitCode !== 0) return { result, pins: null };
    const pins = (await fs.readFile(output, "utf8"))
      .split("\n")
      .map((line) => line.replace(/#.*$/, "").trim())
      .filter(Boolean)
      .map((line) => parseRequirementLine(line, output))
      .flatMap((line) => (line.name && line.pins[0] ? [{ name: line.name, version: line.pins[0] }] : []));
    return { result, pins };
  }

  /** uv's own variables (it does not read pip's configuration); PyPI otherwise. */
  async configuredIndexes(env: NodeJS.ProcessEnv): Promise<string[]> {
    if (env.UV_NO_INDEX && env.UV_NO_INDEX !== "0" && env.UV_NO_INDEX !== "false") return [];
    const primary = env.UV_DEFAULT_INDEX ?? env.UV_INDEX_URL ?? PYPI_SIMPLE;
    return [...(env.UV_INDEX ?? env.UV_EXTRA_INDEX_URL ?? "").split(/\s+/).filter(Boolean), primary];
  }

  inspect(envDir: string): Promise<{ name: string; version: string }[]> {
    return installedDistributions(envDir);
  }
}
