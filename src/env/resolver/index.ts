/**
 * `resolve(requirements, {constraints, indexes, target})`: the pinned set pip would install, each distribution with
 * the file to install (URL, sha256) and its core metadata, so a wheel installer can consume it directly.
 * Not wired into environment builds yet: pip stays the default installer.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { VenvflowError } from "../../util/errors.ts";
import { venvflowHome } from "../../util/home.ts";
import { redactUrl } from "../../util/secrets.ts";
import { Requirement, SpecifierSet, canonicalizeName, linuxPlatforms, supportedTags, type MarkerEnvironment, type Tag } from "../pep/index.ts";
import type { ProbedInterpreter } from "../python.ts";
import { IndexClient, type IndexFile } from "./index-client.ts";
import { parseCoreMetadata, type CoreMetadata } from "./metadata.ts";
import { PYTHON_IDENTIFIER, PipProvider, Resolution, ResolutionImpossible, requirementsFrom, requiresPythonFits, type Candidate, type RequirementInformation, type ResolverRequirement } from "./resolver.ts";

export { IndexClient, parseHtmlPage, type IndexFile } from "./index-client.ts";
export type { CoreMetadata } from "./metadata.ts";

const execFileAsync = promisify(execFile);

/** pip's own limit on resolution rounds. */
const MAX_ROUNDS = 200_000;

/** The interpreter a resolution is for: its marker environment, supported wheel tags and version. */
export interface ResolveTarget {
  markers: MarkerEnvironment;
  /** Supported tags, best first. */
  tags: readonly Tag[];
  /** Full version checked against Requires-Python, e.g. "3.11.7". */
  pythonVersion: string;
  /** The interpreter itself, used only to build metadata of source distributions. */
  interpreterPath: string | null;
}

/** The target for a probed interpreter (src/env/python.ts): markers from the probe, tags from src/env/pep/tags.ts. */
export function targetFor(interpreter: ProbedInterpreter): ResolveTarget {
  if (interpreter.markers.sys_platform !== "linux") {
    throw new VenvflowError("resolver_unsupported_platform", `venvflow's resolver computes wheel tags for Linux only; ${interpreter.path} runs on ${interpreter.markers.sys_platform}`, {
      fix: 'build with installer: "pip" on this platform',
    });
  }
  const platforms = linuxPlatforms({ arch: interpreter.markers.platform_machine, glibc: interpreter.glibc, musl: null });
  return {
    markers: interpreter.markers,
    tags: supportedTags({ implementation: interpreter.implementation, major: interpreter.major, minor: interpreter.minor, platforms }),
    pythonVersion: interpreter.markers.python_full_version,
    interpreterPath: interpreter.path,
  };
}

export interface ResolveOptions {
  /** Constraint lines (pip's `-c`): restrict versions, install nothing by themselves. */
  constraints?: string[];
  /** Index URLs, primary first (credentials in the userinfo are used, never shown). */
  indexes: string[];
  target: ResolveTarget | ProbedInterpreter;
  /** pip's `--pre`. */
  prereleases?: boolean;
  /** Where pages and metadata are cached. Default: VENVFLOW_HOME/cache/index; null: no disk cache. */
  cacheDir?: string | null;
  /** argv prefix of a pip (`[python, "-m", "pip"]`) to build metadata of source distributions; without it they are an error. */
  pip?: string[];
  /** Environment for that pip (its index settings are replaced by `indexes`). */
  env?: NodeJS.ProcessEnv;
  onWarning?: (message: string) => void;
  /** An existing client, to share its memo across resolutions (benchmarks, tests). */
  client?: IndexClient;
}

export interface ResolvedDistribution {
  /** Canonical name. */
  name: string;
  version: string;
  filename: string;
  /** File URL without credentials; download it with the client of the resolution. */
  url: string;
  sha256: string | null;
  /** The index (redacted) that listed the file. */
  index: string;
  /** True when the user's requirements name it (not pulled in only as a dependency). */
  requested: boolean;
  metadata: CoreMetadata;
  file: IndexFile;
}

export interface ResolveResult {
  distributions: ResolvedDistribution[];
  /** What pip would warn about: unknown extras, yanked files used. */
  warnings: string[];
  client: IndexClient;
}

function isTarget(value: ResolveTarget | ProbedInterpreter): value is ResolveTarget {
  return "tags" in value;
}

/** Resolves requirements to the set pip would install for the target. */
export async function resolve(requirements: string[], options: ResolveOptions): Promise<ResolveResult> {
  const target = isTarget(options.target) ? options.target : targetFor(options.target);
  const cacheDir = options.cacheDir === undefined ? path.join(venvflowHome(options.env), "cache", "index") : options.cacheDir;
  const client = options.client ?? new IndexClient({ indexUrls: options.indexes, cacheDir });
  const warnings: string[] = [];
  const onWarning = (message: string) => {
    if (warnings.includes(message)) return;
    warnings.push(message);
    options.onWarning?.(message);
  };
  const metadataOf = async (candidate: Candidate): Promise<CoreMetadata> => {
    const file = candidate.file as IndexFile;
    if (file.filename.endsWith(".whl") || file.coreMetadata) return parseCoreMetadata(await client.metadata(file));
    return parseCoreMetadata(await sdistMetadata(file, client, target, options, cacheDir));
  };

  const constraints = new Map<string, SpecifierSet>();
  for (const line of options.constraints ?? []) {
    const parsed = parseLine(line, "constraint");
    if (parsed.extras.size > 0) throw new VenvflowError("invalid_requirement", `Constraint "${line}" has extras; constraints cannot have extras (pip refuses them too)`, { fix: `write it without [${[...parsed.extras].join(",")}]` });
    if (parsed.marker && !parsed.marker.evaluate({ ...target.markers, extra: "" })) continue;
    const name = canonicalizeName(parsed.name);
    constraints.set(name, new SpecifierSet([...(constraints.get(name) ?? []), ...parsed.specifier]));
  }

  const userRequested = new Map<string, number>();
  const rootRequirements: ResolverRequirement[] = [];
  for (const [i, line] of requirements.entries()) {
    parseLine(line, "requirement");
    const made = requirementsFrom(line, [], target.markers);
    if (made.length === 0) continue;
    const template = made[0] as ResolverRequirement;
    if (!userRequested.has(template.identifier)) userRequested.set(template.identifier, i);
    rootRequirements.push(...made);
  }
  // pip puts requirements with extras last (a stable sort), so the base's constraints apply first.
  rootRequirements.sort((a, b) => Number(a.identifier !== a.name) - Number(b.identifier !== b.name));
  const provider = new PipProvider(
    { files: (name) => client.files(name), metadata: metadataOf, markers: target.markers, tags: target.tags, pythonVersion: target.pythonVersion, allowAllPrereleases: options.prereleases ?? false, onWarning },
    constraints,
    userRequested,
  );

  let result;
  try {
    result = await new Resolution(provider).resolve(rootRequirements, MAX_ROUNDS);
  } catch (error) {
    if (error instanceof ResolutionImpossible) throw await explainImpossible(error, client, provider, target);
    throw error;
  }
  const requestedNames = new Set(rootRequirements.map((r) => r.name));
  const distributions: ResolvedDistribution[] = [];
  for (const candidate of result.mapping.values()) {
    if (candidate.base || candidate.identifier === PYTHON_IDENTIFIER) continue;
    const file = candidate.file as IndexFile;
    distributions.push({
      name: candidate.name,
      version: candidate.version.toString(),
      filename: file.filename,
      url: redactUrl(file.url),
      sha256: file.sha256,
      index: file.index,
      requested: requestedNames.has(candidate.name),
      metadata: await metadataOf(candidate),
      file,
    });
  }
  distributions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { distributions, warnings, client };
}

function parseLine(line: string, what: "requirement" | "constraint"): Requirement {
  try {
    return new Requirement(line);
  } catch (error) {
    throw new VenvflowError("invalid_requirement", `Invalid ${what} "${redactUrl(line)}": ${error instanceof VenvflowError ? error.message.split("\n")[0] : String(error)}`, {
      fix: 'write it as PEP 508: name[extra] (>=1.0,<2) ; marker  — e.g. "requests>=2.31"',
    });
  }
}

/** Metadata of a source distribution: built once with pip (`install --dry-run --report --no-deps`), cached by sha256. */
async function sdistMetadata(file: IndexFile, client: IndexClient, target: ResolveTarget, options: ResolveOptions, cacheDir: string | null): Promise<string> {
  const key = file.sha256 ?? Buffer.from(file.url).toString("base64url");
  const cacheFile = cacheDir ? path.join(cacheDir, "sdist-metadata", `${key}-${target.pythonVersion}.METADATA`) : null;
  if (cacheFile) {
    const cached = await fs.readFile(cacheFile, "utf8").catch(() => null);
    if (cached !== null) return cached;
  }
  if (!options.pip || !target.interpreterPath) {
    throw new VenvflowError("sdist_metadata_unavailable", `${file.filename} (from ${file.index}) is a source distribution and its metadata must be built, but no pip was given to build it`, {
      fix: "pass pip: [python, \"-m\", \"pip\"] to resolve(), or publish a wheel of it",
      details: { file: file.filename },
    });
  }
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "venvflow-sdist-"));
  try {
    // Downloaded first, so the URL (and any credential) never reaches pip's argv.
    const local = path.join(scratch, file.filename);
    await client.download(file, local);
    const report = path.join(scratch, "report.json");
    const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), PIP_NO_INPUT: "1", PIP_INDEX_URL: options.indexes[0] ?? "", PIP_EXTRA_INDEX_URL: options.indexes.slice(1).join(" ") };
    const [command, ...args] = options.pip;
    try {
      await execFileAsync(command as string, [...args, "--python", target.interpreterPath, "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet", "--report", report, local], { env, timeout: 600_000 });
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? "").trim().split("\n").slice(-3).join(" | ");
      throw new VenvflowError("sdist_build_failed", `Building the metadata of ${file.filename} with pip failed: ${stderr}`, { fix: "pick a version that has a wheel, or install what its build needs", details: { file: file.filename } });
    }
    const item = (JSON.parse(await fs.readFile(report, "utf8")) as { install?: { metadata?: Record<string, unknown> }[] }).install?.[0]?.metadata ?? {};
    const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
    const text = [
      "Metadata-Version: 2.1",
      `Name: ${String(item.name ?? "")}`,
      `Version: ${String(item.version ?? "")}`,
      ...(item.requires_python ? [`Requires-Python: ${String(item.requires_python)}`] : []),
      ...list(item.provides_extra).map((e) => `Provides-Extra: ${e}`),
      ...list(item.requires_dist).map((r) => `Requires-Dist: ${r}`),
    ].join("\n");
    if (cacheFile) {
      await fs.mkdir(path.dirname(cacheFile), { recursive: true });
      await fs.writeFile(cacheFile, `${text}\n`);
    }
    return `${text}\n`;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Who pulled a candidate in, up to the user's request: "werkzeug 3.0 (required by flask 3.0, required by the
 * user)". pip names only the direct parent; the chain shows which of the user's requirements is behind it.
 */
function chainOf(candidate: Candidate, criteria: ResolutionImpossible["criteria"]): string {
  const steps: string[] = [];
  const seen = new Set<string>();
  let current: Candidate | null = candidate;
  while (current && !seen.has(current.identifier)) {
    seen.add(current.identifier);
    const via: RequirementInformation | undefined = criteria.get(current.identifier)?.information[0];
    if (!via) break;
    steps.push(via.parent ? `required by ${via.parent.identifier} ${via.parent.version.toString()}` : "required by the user");
    current = via.parent;
  }
  return `${candidate.identifier} ${candidate.version.toString()}${steps.length ? ` (${steps.join(", ")})` : ""}`;
}

function describeRequirement(info: RequirementInformation, criteria: ResolutionImpossible["criteria"]): string {
  const r = info.requirement;
  const what = r.kind === "explicit" ? `${r.name}==${r.candidate.version.toString()}` : r.kind === "python" ? `Python ${r.specifier.toString()}` : `${r.identifier}${r.specifier.toString()}`;
  return info.parent ? `${chainOf(info.parent, criteria)} depends on ${what}` : `the user requested ${what}`;
}

async function explainImpossible(error: ResolutionImpossible, client: IndexClient, provider: PipProvider, target: ResolveTarget): Promise<VenvflowError> {
  const { causes, criteria } = error;
  const where = `Python ${target.pythonVersion} on ${target.markers.sys_platform} ${target.markers.platform_machine}`;
  // As pip reports: a Requires-Python that excludes the target wins over everything else.
  const pythonCauses = causes.filter((c) => c.requirement.kind === "python" && !c.requirement.specifier.contains(target.pythonVersion, { prereleases: true }));
  if (pythonCauses.length > 0) {
    const lines = pythonCauses.map((c) => `${c.parent ? chainOf(c.parent, criteria) : "the user"} requires Python ${c.requirement.kind === "python" ? c.requirement.specifier.toString() : ""}`);
    return new VenvflowError("requires_python_mismatch", `No version fits ${where}: ${lines.join("; ")}`, {
      fix: "pick a pythonVersion these distributions support, or versions of them that support this Python",
      details: { causes: lines },
    });
  }
  const identifiers = [...new Set(causes.filter((c) => c.requirement.kind !== "python").map((c) => c.requirement.name))];
  if (identifiers.length === 1) {
    const name = identifiers[0] as string;
    const wanted = causes.map((c) => describeRequirement(c, criteria).replace(/^the user requested /, "")).join("; ");
    const lookups = await client.lookup(name);
    const files = lookups.flatMap((l) => (l.kind === "files" ? l.files : []));
    if (files.length === 0) {
      return new VenvflowError("no_matching_distribution", `No distribution named ${name} on ${client.indexNames.join(", ")} (${wanted})`, {
        fix: `check the distribution name (it can differ from the import name, e.g. PyYAML for yaml), or add the index that publishes ${name}`,
        details: { requirement: name, wanted, availableVersions: [] },
      });
    }
    const available = await provider.availableVersions(name);
    if (available.length === 0) {
      // Say which files Requires-Python or a yank excluded: "only as x.whl" alone reads like a platform problem.
      const excluded = [
        ...files.filter((f) => f.requiresPython && !requiresPythonFits(f.requiresPython, target.pythonVersion)).map((f) => `${f.filename} requires Python ${f.requiresPython as string}`),
        ...files.filter((f) => f.yanked !== null).map((f) => `${f.filename} is yanked${f.yanked ? ` (${f.yanked})` : ""}, usable only when pinned with ==`),
      ];
      return new VenvflowError("no_compatible_wheel", `The index has ${name} only as ${files.map((f) => f.filename).join(", ")}; none fits ${where}${excluded.length ? ` (${excluded.join("; ")})` : ""} — ${wanted}`, {
        fix: `use a pythonVersion and platform one of those files supports, or a version of ${name} that has a wheel for ${where}`,
        details: { requirement: name, wanted, files: files.map((f) => f.filename), availableVersions: [] },
      });
    }
    const constraint = provider.constraintFor(name);
    if (constraint && causes.length === 1) {
      return new VenvflowError("conflicting_requirements", `No version of ${name} satisfies ${wanted} together with the constraint ${name}${constraint.toString()}; the index has ${available.join(", ")} for ${where}`, {
        fix: `loosen the constraint on ${name}, or the requirement`,
        details: { conflict: [`constraint ${name}${constraint.toString()}`, wanted], identifiers: [name], availableVersions: available },
      });
    }
    if (causes.length === 1) {
      return new VenvflowError("no_matching_distribution", `No version of ${name} satisfies ${wanted}; the index has ${available.join(", ")} for ${where}`, {
        fix: `ask for one of the available versions of ${name}: ${available.join(", ")}`,
        details: { requirement: name, wanted, availableVersions: available },
      });
    }
  }
  const lines = causes.map((c) => describeRequirement(c, criteria));
  const parents = [...new Set(causes.flatMap((c) => (c.parent ? [`${c.parent.identifier} ${c.parent.version.toString()}`] : [])))];
  return new VenvflowError("conflicting_requirements", `Cannot install ${parents.length ? parents.join(" and ") : identifiers.join(", ")}: their requirements on ${identifiers.join(", ")} conflict:\n  ${lines.join("\n  ")}`, {
    fix: parents.length >= 2 ? `loosen or change one of ${parents.join(" / ")} so their dependencies agree` : "loosen the version ranges so a single version of each package satisfies everyone",
    details: { conflict: lines, identifiers },
  });
}

