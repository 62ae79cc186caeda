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

/** Node (and tsx) load a .ts/.js file as CommonJS unless the nearest package.json says "type": "module". */
async function loadsAsCommonJs(file: string): Promise<boolean> {
  if (!/\.(?:ts|js)$/.test(file)) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = await readFile(path.join(dir, "package.json"), "utf8").catch(() => null);
    if (manifest !== null) {
      try {
        return (JSON.parse(manifest) as { type?: unknown }).type !== "module";
      } catch {
        return true;
      }
    }
    if (path.dirname(dir) === dir) return true;
  }
}

async function loadError(file: string, error: unknown): Promise<DagLoadError> {
  const clean = (text: string): string => text.replace(/\?venvflow-load=\d+(?:&tsx-namespace=[\w-]+)?/g, "");
  if (error instanceof VenvflowError) return { file, code: error.code, message: clean(error.message), ...(error.fix ? { fix: error.fix } : {}) };
  const err = error instanceof Error ? error : new Error(String(error));
  // Point at the line of the DAG file that threw, when the stack shows it.
  const frame = clean(err.stack ?? "")
    .split("\n")
    .find((line) => line.includes(file) && /:\d+:\d+\)?$/.test(line));
  const at = frame ? ` (at ${/((?:file:\/\/)?\/[^()\s]*:\d+:\d+)\)?$/.exec(frame.trim())?.[1] ?? frame.trim()})` : "";
  // As CommonJS, `import` becomes require(), which fails on ESM-only packages and top-level await.
  const hint = (await loadsAsCommonJs(file))
    ? ' (the file was loaded as CommonJS: rename it to .mts/.mjs, or add "type": "module" to the nearest package.json)'
    : "";
  return { file, code: "dag_import_failed", message: `${displayPath(file)}: ${err.name === "Error" ? "" : `${err.name}: `}${clean(err.message)}${at}${hint}` };
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
