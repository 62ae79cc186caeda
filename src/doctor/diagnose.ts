/**
 * Static diagnosis of Python tasks: parse each callable with its own interpreter (one batched process per
 * interpreter), build or reuse its environment, and check every import against what that environment provides.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEnvironment, MIN_PYTHON, resolveSpec, runPythonJson } from "../env/index.ts";
import { probeIndex } from "../env/index-probe.ts";
import { configuredIndexUrls } from "../env/installers/index.ts";
import { canonicalizeName } from "../env/pep/index.ts";
import type { EnvSpecInput, Environment } from "../env/types.ts";
import { environmentSpecFor, resolveCallable, type CallableTarget } from "../runtime/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { redactUrl } from "../util/secrets.ts";
import { distributionsProviding } from "./index-lookup.ts";
import { envSitePackages, localModule, scanAll, type ModuleProvider } from "./modules.ts";
import { moduleLevelNote } from "./module-level.ts";
import { knownDistribution } from "./names.ts";
import type { DoctorOptions, Finding, FindingCode, ModuleOrigin, PythonTaskInput } from "./types.ts";

// Python files are not compiled: from src/doctor/ and dist/doctor/ alike, this points at the shipped source.
const ANALYZE_SCRIPT = fileURLToPath(new URL("../../src/doctor/analyze.py", import.meta.url));

interface ImportUse {
  module: string;
  line: number;
  optional: boolean;
  relative: boolean;
  scope: "module" | "function";
  /** In an ImportError handler: runs only when one of these (the try body's imports) is missing. */
  fallbackFor?: string[];
  /** A module-level import whose names the callable never reaches: it runs at import, for nothing. */
  unusedByCallable?: boolean;
}

type Analysis =
  | { ok: true; name: string; line: number; imports: ImportUse[]; freeNames: { name: string; line: number }[]; envReads: { name: string; line: number; required: boolean }[] }
  | { ok: false; code: string; message: string; line?: number };

interface PythonFacts {
  executable: string;
  version: string;
  stdlib: string[];
  sitePaths: string[];
  purelib: string | null;
  platlib: string | null;
}

interface AnalyzerOutput {
  python: PythonFacts;
  results: Record<string, Analysis>;
}

/** Everything learned about one task: the modules it can see, and why it could not be checked further. */
interface TaskView {
  input: PythonTaskInput;
  findings: Finding[];
  target?: CallableTarget;
  analysis?: Analysis;
  facts?: PythonFacts;
  /** The built environment (virtualenv tasks whose environment could be built). */
  env?: Environment;
  /** Modules the task's interpreter sees from installed distributions; null when its environment could not be built. */
  visible: Map<string, ModuleProvider> | null;
  /** The base interpreter's own site-packages. */
  host: Map<string, ModuleProvider>;
  /** Canonical names of the declared requirements. */
  declared: Set<string>;
  /** Index URLs in effect (clear text, memory only). */
  indexUrls: string[];
}

function finding(view: Pick<TaskView, "input">, code: FindingCode, message: string, fix: string, extra: { file?: string; line?: number; module?: string; severity?: "error" | "warning" } = {}): Finding {
  return {
    code,
    severity: extra.severity ?? "error",
    dagId: view.input.dagId,
    taskId: view.input.taskId,
    file: extra.file ?? view.input.file,
    ...(extra.line === undefined ? {} : { line: extra.line }),
    message,
    fix,
    ...(extra.module === undefined ? {} : { module: extra.module }),
  };
}

/** Runs analyze.py once in `python` for every callable that interpreter checks. */
function runAnalyzer(python: string, callables: { id: string; target: CallableTarget }[]): Promise<AnalyzerOutput> {
  const request = {
    callables: callables.map(({ id, target }) => (target.kind === "file" ? { id, kind: "file", path: target.path, name: target.name } : { id, kind: "inline", source: target.source, name: target.name ?? null })),
  };
  // -I: no PYTHONPATH or user site; -B: no bytecode written anywhere.
  return runPythonJson<AnalyzerOutput>(python, ["-I", "-B", ANALYZE_SCRIPT], { what: "analyze the callables", input: request, timeoutMs: 120_000 });
}

function listOf(value: string[] | string | undefined): string[] {
  return value === undefined ? [] : typeof value === "string" ? [value] : value;
}


function specFor(input: PythonTaskInput): EnvSpecInput {
  // The runtime's own spec for this task, so doctor and the run share one cached environment.
  return environmentSpecFor(input, input.baseDir);
}

const SPEC_CODES: Record<string, FindingCode> = {
  invalid_requirement: "invalid_requirement",
  conflicting_requirements: "conflicting_requirements",
  requirements_file_not_found: "requirements_file_not_found",
  python_not_found: "python_not_found",
  invalid_python_version: "python_not_found",
  python_unsupported: "python_not_found",
  index_unreachable: "index_unreachable",
  index_unauthorized: "index_unauthorized",
  index_http_error: "index_http_error",
  no_compatible_wheel: "no_compatible_wheel",
  unsupported_wheel: "no_compatible_wheel",
  sdist_build_failed: "sdist_build_failed",
};

/** How wheel platform tags start for each Node platform. */
const PLATFORM_FAMILY: Record<string, string> = { linux: "linux", darwin: "macosx", win32: "win" };

/** "cp311" / "py3" wheel tags → the Python versions they name ("3.11", "3"), for a fix that says which to pick. */
function pythonsOf(tags: string[]): string[] {
  const out = new Set<string>();
  for (const tag of tags) {
    const match = /^(?:cp|py)(\d)(\d+)-/.exec(tag);
    if (match) out.add(`${match[1]}.${match[2]}`);
  }
  return [...out].sort();
}

class Doctor {
  private readonly lookups = new Map<string, Promise<string[] | null>>();
  /** Tasks that declare the same environment resolve it once. */
  private readonly specs = new Map<string, ReturnType<typeof resolveSpec>>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly options: DoctorOptions;

  constructor(options: DoctorOptions) {
    this.options = options;
    this.env = options.env ?? process.env;
  }

  /** Distributions that provide `module`: the index's own answer where it can give one, else the table. */
  async providers(module: string, indexUrls: string[]): Promise<string[]> {
    if (this.options.indexLookup !== false) {
      for (const url of indexUrls) {
        const key = `${url}\u0000${module}`;
        let pending = this.lookups.get(key);
        if (!pending) {
          pending = distributionsProviding(url, module).catch(() => null);
          this.lookups.set(key, pending);
        }
        const found = await pending;
        if (found && found.length > 0) return found;
      }
    }
    const known = knownDistribution(module);
    return known ? [known] : [];
  }

  /** Turns a failed spec resolution or build into findings that name the requirement and the fix. */
  async buildFailure(view: TaskView, error: VenvflowError): Promise<Finding[]> {
    const reason = error.code === "env_build_failed" ? String(error.details.reason ?? "install_failed") : error.code;
    const message = error.message;
    const fix = error.fix ?? "see the build log";
    const requirement = String(error.details.requirement ?? "");
    const project = /^[A-Za-z0-9._-]+/.exec(requirement)?.[0];
    const serializer = view.input.serializer;
    // Doctor asks the index in effect, as the build does: the same probe, so the two never contradict.
    if ((reason === "no_matching_distribution" || reason === "no_compatible_wheel") && project) {
      const available = Array.isArray(error.details.availableVersions) ? (error.details.availableVersions as string[]) : [];
      if (serializer && canonicalizeName(project) === serializer && !listOf(view.input.requirements).some((r) => r.trim().toLowerCase().startsWith(serializer))) {
        return [
          finding(view, "serializer_missing", `serializer "${serializer}" cannot be installed for this task's Python: ${message}`, `use serializer "cloudpickle" or "pickle", or a pythonVersion ${serializer} supports${available.length ? ` (it has ${available.join(", ")} for other Pythons)` : ""}`),
        ];
      }
      if (available.length > 0) return [finding(view, "version_not_found", message, fix)];
      const probes = await Promise.all(view.indexUrls.map(async (url) => ({ url, probe: await probeIndex(url, project) })));
      const files = probes.flatMap((p) => (p.probe.kind === "files" ? [...p.probe.wheels.map((w) => w.filename), ...p.probe.sdists] : []));
      if (files.length > 0) {
        const tags = probes.flatMap((p) => (p.probe.kind === "files" ? p.probe.wheels.flatMap((w) => w.tags) : []));
        const platforms = [...new Set(tags.map((t) => t.split("-")[2] ?? "any"))];
        const here = PLATFORM_FAMILY[process.platform] ?? process.platform;
        const otherPlatforms = platforms.length > 0 && platforms.every((p) => p !== "any" && !p.includes(here));
        // "py3" says nothing about the minor version: then the files' Requires-Python is what excluded them.
        const pythons = pythonsOf(tags).filter((v) => v.includes("."));
        const fix = otherPlatforms
          ? `${project} publishes wheels only for ${platforms.join(", ")}: run the task on such a machine, or pick a version or an alternative with a wheel for ${process.platform}`
          : `${pythons.length ? `use pythonVersion "${pythons.join('" or "')}"` : "use a pythonVersion those files support (they may require a newer Python)"}, or a version of ${project} with a wheel for Python ${view.facts?.version ?? "this Python"}`;
        return [finding(view, "no_compatible_wheel", `the index has ${project} only as ${files.join(", ")}; none fits Python ${view.facts?.version ?? "?"} on ${process.platform}`, fix)];
      }
      const failing = probes.find((p) => p.probe.kind === "http_error");
      if (failing && failing.probe.kind === "http_error") {
        return [finding(view, "index_http_error", `the package index ${redactUrl(failing.url)} failed with HTTP ${failing.probe.status} when asked for ${project}`, "the index server is failing: retry later or ask its operator; check the index URL")];
      }
      if (probes.length > 0 && probes.every((p) => p.probe.kind === "unreachable")) {
        return [finding(view, "index_unreachable", `the package index is unreachable: ${probes.map((p) => redactUrl(p.url)).join(", ")}`, "check the index URL, and that this machine can reach it (proxy, VPN, firewall)")];
      }
      // No such project: often an import name written as the requirement (yaml for PyYAML).
      const instead = (await this.providers(project, view.indexUrls)).filter((d) => canonicalizeName(d) !== canonicalizeName(project));
      return [
        finding(
          view,
          "distribution_not_found",
          `no distribution named "${project}" on ${view.indexUrls.map(redactUrl).join(", ") || "the configured index"}${instead.length ? ` ("${project}" is an import name: ${instead.join(", ")} provides it)` : ""}`,
          instead.length ? `require "${instead[0]}" instead of "${project}"` : `check the distribution name (it can differ from the import name), or add the index that publishes ${project}`,
        ),
      ];
    }
    if (reason === "conflicting_requirements" && Array.isArray(error.details.conflict)) {
      // pip names requirements by their line in a temp file; its "X 1.0 depends on Y" lines name the projects.
      const because = (error.details.conflict as string[]).filter((line) => / depends on /.test(line));
      const projects = [...new Set(because.map((line) => line.split(" ")[0] as string))];
      if (projects.length > 1) {
        return [finding(view, "conflicting_requirements", `${projects.join(" and ")} cannot be installed together: ${because.join("; ")}`, `change or drop one of ${projects.join(", ")}, or pick versions whose dependencies agree`)];
      }
    }
    const code = SPEC_CODES[reason] ?? "install_failed";
    return [finding(view, code, message, fix)];
  }

  /** Resolves every task's interpreter and callable, analyzes them in batches, builds the environments. */
  async views(inputs: readonly PythonTaskInput[]): Promise<TaskView[]> {
    const views: TaskView[] = inputs.map((input) => ({ input, findings: [], visible: null, host: new Map(), declared: new Set(), indexUrls: listOf(input.indexUrls) }));
    const byPython = new Map<string, TaskView[]>();
    await Promise.all(
      views.map(async (view) => {
        const python = await this.interpreterOf(view);
        if (!python) return;
        try {
          view.target = await resolveCallable(view.input.pythonCallable, view.input.baseDir);
        } catch (error) {
          if (!(error instanceof VenvflowError)) throw error;
          view.findings.push(finding(view, "callable_invalid", error.message, error.fix ?? "check pythonCallable"));
          return;
        }
        byPython.set(python, [...(byPython.get(python) ?? []), view]);
      }),
    );
    await Promise.all(
      [...byPython].map(async ([python, group]) => {
        let output: AnalyzerOutput;
        try {
          output = await runAnalyzer(python, group.map((view, i) => ({ id: String(i), target: view.target as CallableTarget })));
        } catch (error) {
          if (!(error instanceof VenvflowError)) throw error;
          for (const view of group) view.findings.push(finding(view, "python_not_found", error.message, error.fix ?? "use a working CPython 3.8 or newer"));
          return;
        }
        const [major, minor] = output.python.version.split(".").map(Number) as [number, number];
        if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
          for (const view of group) view.findings.push(finding(view, "python_not_found", `${python} is Python ${output.python.version}; venvflow runs callables on Python ${MIN_PYTHON.join(".")} or newer`, `point python at a Python ${MIN_PYTHON.join(".")}+ interpreter`));
          return;
        }
        const host = await scanAll([...output.python.sitePaths, output.python.purelib, output.python.platlib].filter((p): p is string => typeof p === "string"));
        group.forEach((view, i) => {
          view.facts = output.python;
          view.analysis = output.results[String(i)];
          view.host = host;
        });
      }),
    );
    await this.buildEnvironments(views.filter((v) => v.facts));
    return views;
  }

  private async interpreterOf(view: TaskView): Promise<string | null> {
    const { input } = view;
    if (input.python !== undefined) {
      const stat = await fs.stat(input.python).catch(() => null);
      if (!stat?.isFile() || !path.isAbsolute(input.python)) {
        view.findings.push(finding(view, "external_python_not_found", `python ${input.python} ${stat ? "is not an interpreter file" : "does not exist"}`, "point python at an existing interpreter (an absolute path such as /opt/venvs/etl/bin/python), or drop it to let venvflow build the environment"));
        return null;
      }
      // What `python -m pip install` would use for this interpreter: its pip's configuration (as the post-mortem reads it).
      if (input.indexUrls === undefined) view.indexUrls = configuredIndexUrls(this.env);
      return input.python;
    }
    try {
      const declared = specFor(input);
      const key = JSON.stringify(declared);
      let resolving = this.specs.get(key);
      if (!resolving) {
        resolving = resolveSpec(declared, { ...(this.options.home ? { home: this.options.home } : {}), env: this.env });
        this.specs.set(key, resolving);
      }
      const spec = await resolving;
      for (const line of spec.requirements) if (line.name) view.declared.add(line.name);
      // The index in effect, as the build sees it: the task's (or its requirements files'), else the installer's configuration.
      view.indexUrls = spec.indexUrls ?? (await spec.installer.configuredIndexes(this.env).catch(() => view.indexUrls));
      return spec.interpreter.path;
    } catch (error) {
      if (!(error instanceof VenvflowError)) throw error;
      view.findings.push(...(await this.buildFailure(view, error)));
      return null;
    }
  }

  private async buildEnvironments(views: TaskView[]): Promise<void> {
    const external = views.filter((v) => v.input.python !== undefined);
    for (const view of external) view.visible = view.host;
    const pending = views.filter((v) => v.input.python === undefined);
    // One build per distinct spec; the cache makes every later run a lookup.
    const builds = new Map<string, Promise<Environment | VenvflowError>>();
    const queue = [...pending];
    const worker = async (): Promise<void> => {
      for (let view = queue.shift(); view; view = queue.shift()) {
        const spec = specFor(view.input);
        const key = JSON.stringify(spec);
        let build = builds.get(key);
        if (!build) {
          build = ensureEnvironment(spec, { ...(this.options.home ? { home: this.options.home } : {}), env: this.env }).catch((error: unknown) => {
            if (error instanceof VenvflowError) return error;
            throw error;
          });
          builds.set(key, build);
        }
        const result = await build;
        if (result instanceof VenvflowError) {
          view.findings.push(...(await this.buildFailure(view, result)));
          continue;
        }
        view.env = result;
        const own = await scanAll(await envSitePackages(result.path));
        view.visible = result.systemSitePackages ? new Map([...view.host, ...own]) : own;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency ?? 2) }, worker));
  }

  /** Where `module` would come from for this task. */
  async origin(view: TaskView, module: string): Promise<ModuleOrigin> {
    const top = module.split(".")[0] as string;
    if (view.facts?.stdlib.includes(top)) return { module, source: "stdlib", visible: true, explanation: `${top} is part of Python ${view.facts.version}'s standard library` };
    if (view.target?.kind === "file") {
      const local = await localModule(path.dirname(view.target.path), top);
      if (local) return { module, source: "local", visible: true, location: local, explanation: `${top} is a local module next to the callable (${local})` };
    }
    const inEnv = view.visible?.get(top);
    const host = view.host.get(top);
    const where = view.env ? `environment ${view.env.key.slice(0, 12)}` : view.input.python ? `interpreter ${view.input.python}` : "the task's environment";
    if (inEnv) {
      const fromHost = view.env !== undefined && inEnv.location !== undefined && !inEnv.location.startsWith(view.env.path);
      const dist = inEnv.distribution ? `${inEnv.distribution}${inEnv.version ? ` ${inEnv.version}` : ""}` : "a loose module";
      return {
        module,
        source: fromHost ? "host" : "environment",
        visible: true,
        ...(inEnv.distribution ? { distribution: inEnv.distribution } : {}),
        ...(inEnv.version ? { version: inEnv.version } : {}),
        location: inEnv.location,
        explanation: fromHost ? `${top} comes from the host's site-packages (${dist} in ${inEnv.location}), visible because systemSitePackages is true` : `${top} is provided by ${dist} in ${where} (${inEnv.location})`,
      };
    }
    const suggestions = host?.distribution ? [host.distribution] : await this.providers(top, view.indexUrls);
    const suggestion = suggestions[0];
    if (host) {
      return {
        module,
        source: "host",
        visible: false,
        ...(host.distribution ? { distribution: host.distribution } : {}),
        ...(host.version ? { version: host.version } : {}),
        location: host.location,
        ...(suggestion ? { suggestion } : {}),
        explanation: `${top} is installed on the host (${host.distribution ? `${host.distribution}${host.version ? ` ${host.version}` : ""}` : "a loose module"} in ${host.location}), but ${where} does not see it: systemSitePackages is false`,
      };
    }
    const unknownEnv = view.visible === null;
    return {
      module,
      source: "missing",
      visible: false,
      ...(suggestion ? { suggestion } : {}),
      explanation: unknownEnv
        ? `${top} could not be checked: ${where} could not be built`
        : `nothing in ${where}, the standard library or next to the callable provides ${top}${suggestion && canonicalizeName(suggestion) !== canonicalizeName(top) ? ` (it is provided by the distribution ${suggestion})` : ""}`,
    };
  }

  /** The findings about the callable's imports and names. */
  async check(view: TaskView): Promise<void> {
    const analysis = view.analysis;
    if (!analysis) return;
    const sourceFile = view.target?.kind === "file" ? view.target.path : view.input.file;
    const inline = view.target?.kind === "inline" ? " of the inline source" : "";
    if (!analysis.ok) {
      view.findings.push(finding(view, "callable_invalid", analysis.message, analysis.code === "callable_syntax_error" ? "fix the syntax error" : "name a top-level function of the source in pythonCallable", { file: sourceFile, ...(analysis.line ? { line: analysis.line } : {}) }));
      return;
    }
    for (const free of analysis.freeNames) {
      view.findings.push(
        finding(view, "callable_not_self_contained", `${analysis.name} uses ${free.name} (line ${free.line}${inline}), which is defined neither in the function, nor in its module, nor by Python`, `define or import ${free.name} inside ${analysis.name} (or at the top of its source): the callable runs in a separate interpreter and sees nothing of the DAG file`, { file: sourceFile, line: free.line }),
      );
    }
    if (view.input.inheritEnv === false) {
      const passed = new Set(view.input.envVarNames ?? []);
      for (const read of analysis.envReads.filter((r) => !passed.has(r.name))) {
        view.findings.push(
          finding(
            view,
            "env_var_not_passed",
            `${analysis.name} reads the environment variable ${read.name} (line ${read.line}${inline}), but inheritEnv is false and envVars does not set it${read.required ? ": os.environ[...] will raise KeyError" : ": it will be None"}`,
            `add ${read.name} to envVars (envVars: { ${read.name}: process.env.${read.name} ?? "" }, or { secret: … } for a secret), or set inheritEnv: true`,
            { file: sourceFile, line: read.line, severity: "warning" },
          ),
        );
      }
    }
    const serializer = view.input.serializer;
    if (view.visible && (serializer === "cloudpickle" || serializer === "dill") && !view.visible.has(serializer)) {
      const external = view.input.python !== undefined;
      view.findings.push(
        finding(
          view,
          "serializer_missing",
          external ? `serializer "${serializer}" is not installed in ${view.input.python}` : `serializer "${serializer}" is not installed on the host, and systemSitePackages is true, so venvflow does not add it to the environment`,
          external ? `install ${serializer} into that interpreter (${view.input.python} -m pip install ${serializer}), or use serializer "pickle"` : `add "${serializer}" to requirements, install it on the host, or set systemSitePackages: false`,
        ),
      );
    }
    if (view.visible === null) return;
    const seen = new Set<string>();
    for (const use of analysis.imports) {
      const top = use.module.split(".")[0] as string;
      if (use.relative || seen.has(top)) continue;
      if (use.fallbackFor) {
        const tried = await Promise.all(use.fallbackFor.map((module) => this.origin(view, module)));
        if (tried.every((o) => o.visible)) continue;
      }
      seen.add(top);
      const origin = await this.origin(view, use.module);
      if (origin.visible) continue;
      const at = { file: sourceFile, line: use.line, module: top };
      const declaredSuggestion = origin.suggestion !== undefined && view.declared.has(canonicalizeName(origin.suggestion));
      const requirementNamedAfterImport = view.declared.has(canonicalizeName(top)) && !declaredSuggestion;
      const add = origin.suggestion ?? top;
      if (use.optional) {
        view.findings.push(finding(view, "optional_module_missing", `${origin.explanation}; the import at line ${use.line}${inline} is guarded by except ImportError, so the fallback will run`, `add "${add}" to requirements if the task should use it`, { ...at, severity: "warning" }));
      } else if (requirementNamedAfterImport) {
        const provides = [...(view.visible ?? [])].filter(([, p]) => p.distribution !== null && canonicalizeName(p.distribution) === canonicalizeName(top)).map(([name]) => name);
        view.findings.push(finding(view, "requirement_provides_other_modules", `the requirement "${top}" is installed but does not provide the module ${top}${provides.length ? ` (it provides ${provides.join(", ")})` : ""}; ${origin.explanation}`, origin.suggestion ? `require "${origin.suggestion}" instead of "${top}"` : `find the distribution that provides ${top} and require it instead of "${top}"`, at));
      } else {
        const unused = use.unusedByCallable ? moduleLevelNote(top, `${path.basename(sourceFile)}:${use.line}`, analysis.name) : null;
        if (origin.source === "host") {
          view.findings.push(finding(view, "module_host_only", `${origin.explanation}${unused ? `; ${unused.message}` : ""}`, `add "${add}" to requirements (or set systemSitePackages: true to use the host's copy)${unused ? unused.fix : ""}`, at));
        } else {
          const named = origin.suggestion && canonicalizeName(origin.suggestion) !== canonicalizeName(top) ? ` (the distribution that provides ${top}; its name differs from the import name)` : "";
          view.findings.push(finding(view, "module_not_installed", `import ${use.module} at line ${use.line}${inline}: ${origin.explanation}${unused ? `; ${unused.message}` : ""}`, `${view.input.python ? `install "${add}"${named} into ${view.input.python}` : `add "${add}" to requirements${named}`}${unused ? unused.fix : ""}`, at));
        }
      }
    }
  }
}

/** Diagnoses Python tasks given as plain inputs (no DAG file needed). */
export async function diagnoseTasks(inputs: readonly PythonTaskInput[], options: DoctorOptions = {}): Promise<Finding[]> {
  const doctor = new Doctor(options);
  const views = await doctor.views(inputs);
  for (const view of views) await doctor.check(view);
  return views.flatMap((view) => view.findings);
}

/** Where `module` would come from for one task (stdlib, its environment, the host only, a local file), or why not. */
export async function whyModule(input: PythonTaskInput, module: string, options: DoctorOptions = {}): Promise<{ origin: ModuleOrigin | null; findings: Finding[] }> {
  const doctor = new Doctor(options);
  const [view] = await doctor.views([input]);
  if (!view?.facts) return { origin: null, findings: view?.findings ?? [] };
  return { origin: await doctor.origin(view, module), findings: view.findings };
}
