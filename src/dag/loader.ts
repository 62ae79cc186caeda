import { readdir, readFile, stat } from "node:fs/promises";
import * as nodeModule from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";
import { VenvflowError, type ErrorCode } from "../util/errors.ts";
import type { DagDefinition } from "./model.ts";
import { authoring, type LoadCollector } from "./state.ts";

/** A DAG file that could not be loaded: it does not parse, throws while loading, or defines an invalid DAG. */
export interface DagLoadError {
  file: string;
  /** "FILE: the cause", in one line. */
  message: string;
  code: ErrorCode;
  fix?: string;
}

export interface LoadDagsResult {
  dags: DagDefinition[];
  errors: DagLoadError[];
}

const DAG_FILE = /\.(?:ts|mts|js|mjs)$/;
const DECLARATION = /\.d\.m?ts$/;

type ResolveHook = (specifier: string, context: object, next: (specifier: string, context: object) => unknown) => unknown;
type RegisterHooks = (hooks: { resolve: ResolveHook }) => unknown;
const HOOKED = Symbol.for("venvflow.dag.selfResolution");

/**
 * DAG files `import … from "venvflow"`. Resolving that to this very copy of venvflow makes a DAG file work
 * anywhere (a temp dir, a project without venvflow installed, this repo before `npm run build`). Without
 * `module.registerHooks` (Node < 22.15), the specifier resolves the usual way, through node_modules.
 */
function resolveVenvflowToSelf(): void {
  const store = globalThis as Record<symbol, boolean | undefined>;
  const registerHooks = (nodeModule as { registerHooks?: RegisterHooks }).registerHooks;
  if (store[HOOKED] || typeof registerHooks !== "function") return;
  store[HOOKED] = true;
  const here = fileURLToPath(import.meta.url);
  const self = pathToFileURL(path.join(path.dirname(here), "..", `index${path.extname(here)}`)).href;
  registerHooks({ resolve: (specifier, context, next) => next(specifier === "venvflow" ? self : specifier, context) });
}

function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

let loadCount = 0;
/** Loads run one at a time: `dag()` registers against the file being loaded through shared state. */
let queue: Promise<unknown> = Promise.resolve();

/** Imports one file (afresh: a query string busts the module cache) and returns the DAGs its `dag()` calls built. */
function importDagFile(file: string): Promise<DagDefinition[]> {
  resolveVenvflowToSelf();
  const run = async (): Promise<DagDefinition[]> => {
    const collector: LoadCollector = { file, dags: [] };
    const previous = authoring.collector;
    authoring.collector = collector;
    try {
      await tsImport(`${pathToFileURL(file).href}?venvflow-load=${++loadCount}`, { parentURL: import.meta.url });
    } finally {
      authoring.collector = previous;
    }
    return collector.dags;
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

/** The nearest package.json above `file`: its folder and contents (null when there is none, or it does not parse). */
async function nearestManifest(file: string): Promise<{ dir: string; manifest: Record<string, unknown> | null } | null> {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const text = await readFile(path.join(dir, "package.json"), "utf8").catch(() => null);
    if (text !== null) {
      try {
        return { dir, manifest: JSON.parse(text) as Record<string, unknown> };
      } catch {
        return { dir, manifest: null };
      }
    }
    if (path.dirname(dir) === dir) return null;
  }
}

/** Node (and tsx) load a .ts/.js file as CommonJS unless the nearest package.json says "type": "module". */
async function loadsAsCommonJs(file: string): Promise<boolean> {
  if (!/\.(?:ts|js)$/.test(file)) return false;
  return (await nearestManifest(file))?.manifest?.type !== "module";
}

/** The package name of a bare specifier ("@scope/pkg/sub" → "@scope/pkg"). */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

/** Why a DAG file could not be imported, in one line, and the fix: module format and missing dependencies first. */
async function diagnoseImport(file: string, err: Error & { code?: unknown }): Promise<{ code: ErrorCode; cause: string; fix: string } | null> {
  const text = err.message;
  if (await loadsAsCommonJs(file)) {
    if (/top-level await|"cjs" output format|ERR_REQUIRE_ESM|ERR_REQUIRE_ASYNC_MODULE|require\(\) of ES Module|Cannot use import statement outside a module|exports is not defined/i.test(`${String(err.code)} ${text}`)) {
      const found = await nearestManifest(file);
      return {
        code: "dag_module_format",
        cause: `it was loaded as CommonJS (${found ? `${path.join(found.dir, "package.json")} has no "type": "module"` : "no package.json above it says \"type\": \"module\""}), and CommonJS cannot ${/await/i.test(text) ? "use top-level await" : "import ES modules"}`,
        fix: found ? `add "type": "module" to ${path.join(found.dir, "package.json")}, or rename the file to ${path.basename(file).replace(/\.(ts|js)$/, ".m$1")}` : `add a package.json with "type": "module" to the DAG folder (venvflow init creates one), or rename the file to ${path.basename(file).replace(/\.(ts|js)$/, ".m$1")}`,
      };
    }
  }
  const missingPackage = /Cannot find package '([^']+)' imported from/.exec(text);
  if (missingPackage) {
    const name = packageName(missingPackage[1]!);
    const found = await nearestManifest(file);
    const deps = found?.manifest ? { ...(found.manifest.dependencies as object | undefined), ...(found.manifest.devDependencies as object | undefined) } : {};
    const declared = Object.hasOwn(deps, name);
    return {
      code: "dag_dependency_missing",
      cause: `it imports the package ${name}, which is not installed${found ? ` (no node_modules/${name} from ${path.dirname(file)} up)` : ""}`,
      fix: !found ? `create a project for your DAGs (venvflow init DIR), then npm install ${name} there` : declared ? `run npm install in ${found.dir}` : `npm install ${name} in ${found.dir} (it adds ${name} to package.json)`,
    };
  }
  const missingFile = /Cannot find module '([^']+)' imported from/.exec(text);
  if (missingFile && (path.isAbsolute(missingFile[1]!) || missingFile[1]!.startsWith("."))) {
    return { code: "dag_dependency_missing", cause: `it imports ${missingFile[1]}, which does not exist`, fix: "check the import path (relative imports resolve against the DAG file's folder and need their extension, e.g. ./helpers.ts)" };
  }
  if (/require is not defined in ES module scope/.test(text)) {
    return { code: "dag_module_format", cause: "it calls require(), which does not exist in an ES module", fix: "use import … from \"…\" instead (or createRequire from node:module)" };
  }
  return null;
}

async function loadError(file: string, error: unknown): Promise<DagLoadError> {
  const clean = (text: string): string => text.replace(/\?venvflow-load=\d+(?:&tsx-namespace=[\w-]+)?/g, "");
  if (error instanceof VenvflowError) return { file, code: error.code, message: clean(error.message), ...(error.fix ? { fix: error.fix } : {}) };
  const err = error instanceof Error ? error : new Error(String(error));
  const known = await diagnoseImport(file, err);
  if (known) return { file, code: known.code, message: `${displayPath(file)}: ${known.cause}`, fix: known.fix };
  // Point at the line of the DAG file that threw, when the stack shows it.
  const frame = clean(err.stack ?? "")
    .split("\n")
    .find((line) => line.includes(file) && /:\d+:\d+\)?$/.test(line));
  const at = frame ? ` (at ${/((?:file:\/\/)?\/[^()\s]*:\d+:\d+)\)?$/.exec(frame.trim())?.[1] ?? frame.trim()})` : "";
  // One line: the one naming the file (a transform error's location), else the first.
  const lines = clean(err.message).split("\n").filter((line) => line.trim());
  const firstLine = lines.find((line) => line.includes(file)) ?? lines[0] ?? "";
  return { file, code: "dag_import_failed", message: `${displayPath(file)}: ${err.name === "Error" ? "" : `${err.name}: `}${firstLine}${at}`, fix: "fix the DAG file at the place named, then load it again (venvflow dags list DIR shows every file's errors)" };
}

async function dagFilesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith("_") || entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await dagFilesIn(full)));
    else if (DAG_FILE.test(entry.name) && !DECLARATION.test(entry.name)) files.push(full);
  }
  return files;
}

/**
 * Loads every DAG defined by a file, or by each .ts/.mts/.js/.mjs file under a folder (recursively; names
 * starting with "_" or "." and .d.ts files are skipped). A broken file is reported in `errors` and does not
 * hide the others; a DAG id defined twice keeps its first definition.
 */
export async function loadDags(pathOrDir = "dags"): Promise<LoadDagsResult> {
  const target = path.resolve(pathOrDir);
  const info = await stat(target).catch(() => null);
  if (!info) {
    throw new VenvflowError("dags_not_found", `no DAG file or folder at ${target}`, { fix: "create it, or pass the path of your DAG folder" });
  }
  const files = info.isDirectory() ? await dagFilesIn(target) : [target];
  const dags: DagDefinition[] = [];
  const errors: DagLoadError[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    let loaded: DagDefinition[];
    try {
      loaded = await importDagFile(file);
    } catch (error) {
      errors.push(await loadError(file, error));
      continue;
    }
    for (const definition of loaded) {
      const first = seen.get(definition.dagId);
      if (first !== undefined) {
        errors.push({
          file,
          code: "duplicate_dag_id",
          message: `${displayPath(file)}: DAG "${definition.dagId}" is already defined in ${displayPath(first)}`,
        });
        continue;
      }
      seen.set(definition.dagId, file);
      dags.push(definition);
    }
  }
  return { dags, errors };
}

/** Loads one file and returns its DAG `dagId`, or its only DAG when no id is given. */
export async function loadDag(file: string, dagId?: string): Promise<DagDefinition> {
  const target = path.resolve(file);
  const info = await stat(target).catch(() => null);
  if (!info?.isFile()) throw new VenvflowError("dags_not_found", `no DAG file at ${target}`, { fix: "pass the path of a .ts/.mts/.js/.mjs DAG file" });
  const { dags, errors } = await loadDags(target);
  const [error] = errors;
  if (error) {
    throw new VenvflowError(error.code, error.message, { fix: error.fix ?? "fix the DAG file, then load it again" });
  }
  const ids = dags.map((d) => `"${d.dagId}"`).join(", ");
  if (dagId === undefined) {
    if (dags.length === 1) return dags[0]!;
    throw new VenvflowError(dags.length === 0 ? "dag_not_found" : "ambiguous_dag", dags.length === 0 ? `${displayPath(target)} defines no DAG` : `${displayPath(target)} defines ${dags.length} DAGs: ${ids}`, {
      fix: dags.length === 0 ? 'call dag("id", { … }, () => { … }) in the file' : "say which DAG id to load",
    });
  }
  const found = dags.find((d) => d.dagId === dagId);
  if (!found) {
    throw new VenvflowError("dag_not_found", `${displayPath(target)} has no DAG "${dagId}"`, {
      fix: dags.length === 0 ? "the file defines no DAG" : `DAG ids in that file: ${ids}`,
    });
  }
  return found;
}
