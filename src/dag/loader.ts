import { fork } from "node:child_process";
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

export interface LoadOptions {
  /**
   * Each file is first imported in a child process within this time (Airflow's dagbag_import_timeout); 0 skips
   * that check. Default: VENVFLOW_DAG_IMPORT_TIMEOUT seconds, else 30 s.
   */
  importTimeoutMs?: number;
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
export function resolveVenvflowToSelf(): void {
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

/** Airflow's `dagbag_import_timeout`: 30 s unless VENVFLOW_DAG_IMPORT_TIMEOUT (seconds; 0 turns the check off) says otherwise. */
function defaultImportTimeoutMs(): number {
  const text = process.env.VENVFLOW_DAG_IMPORT_TIMEOUT;
  if (text === undefined || text.trim() === "") return 30_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new VenvflowError("invalid_dag_import_timeout", `VENVFLOW_DAG_IMPORT_TIMEOUT="${text}" is not a number of seconds`, { fix: "set it to e.g. 30 (seconds), or 0 to import DAG files without the check" });
  }
  return seconds * 1000;
}

const CHECK_SCRIPT = fileURLToPath(new URL(`./load-check${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));

type ChildMessage = { type: "start"; file: string } | { type: "done"; file: string; leftoverTimers: number } | { type: "end" };

/**
 * Imports the files in a child process first, one after the other, each within `timeoutMs`: a file that loops
 * forever, never settles its top-level await, calls process.exit or leaves a timer running at import would hang or
 * end this process. Such a file gets a load error; the child is restarted for the files after it. `verdict` hears of
 * each file as soon as the child is done with it, so the caller imports the good ones here meanwhile (their DAGs
 * hold functions, which cannot cross a process boundary). Measured on examples/ (5 files, median of 7, 2 cores at
 * load 14): from dist/ 2.2 s without the check, 2.7 s with it; from src/ (tsx compiles venvflow too) 2.3 s → 4.2 s.
 */
async function checkImports(files: readonly string[], timeoutMs: number, verdict: (file: string, error: DagLoadError | null) => void): Promise<void> {
  let remaining = [...files];
  while (remaining.length > 0) {
    const round = await new Promise<{ checked: string[]; error?: DagLoadError }>((resolve) => {
      const checked: string[] = [];
      let current: string | null = null;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (error?: DagLoadError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill("SIGKILL");
        resolve(error ? { checked, error } : { checked });
      };
      // tsx registered once in the child (resolved here, so it works from any directory): ~3x faster than tsImport per file.
      const execArgv = ["--import", import.meta.resolve("tsx")];
      // What a file prints at import is shown once, by the in-process import.
      const child = fork(CHECK_SCRIPT, [], { execArgv, stdio: ["ignore", "ignore", "ignore", "ipc"] });
      child.send({ files: remaining });
      // A child that cannot even start its first file (tsx failing to register) must not hold the load up.
      timer = setTimeout(() => {
        for (const file of remaining.filter((f) => !checked.includes(f))) verdict(file, null);
        checked.push(...remaining);
        settle();
      }, timeoutMs);
      child.on("message", (message: ChildMessage) => {
        if (message.type === "start") {
          current = message.file;
          clearTimeout(timer);
          timer = setTimeout(() => {
            settle({ file: message.file, code: "dag_import_timeout", message: `${displayPath(message.file)}: importing it did not finish within ${timeoutMs / 1000} s (an endless loop, or work that waits, at import)`, fix: "move slow or blocking work out of the module's top level (into tasks), or raise VENVFLOW_DAG_IMPORT_TIMEOUT (seconds)" });
          }, timeoutMs);
        } else if (message.type === "done") {
          clearTimeout(timer);
          checked.push(message.file);
          current = null;
          if (message.leftoverTimers === 0) verdict(message.file, null);
          else {
            settle({ file: message.file, code: "dag_import_leaves_timer", message: `${displayPath(message.file)}: importing it leaves ${message.leftoverTimers} timer${message.leftoverTimers === 1 ? "" : "s"} running (setInterval/setTimeout at the top level), which would keep venvflow from exiting`, fix: "start timers inside a task, or clear them (or .unref() them) before the import ends" });
          }
        } else settle();
      });
      child.on("exit", (code, signal) => {
        if (settled) return;
        if (current === null) {
          // Between two files: the last one left something behind that ended the process (a timer calling exit).
          const last = checked.at(-1);
          if (last !== undefined && code !== 0) {
            return settle({ file: last, code: "dag_import_exited", message: `${displayPath(last)}: after its import, something it started ended the process (${signal ? `signal ${signal}` : `exit code ${code}`})`, fix: "do not start timers or exit the process at the top level of a DAG file" });
          }
          // The check itself could not run (nothing imported yet): the files are imported here without it.
          for (const file of remaining.filter((f) => !checked.includes(f))) verdict(file, null);
          checked.push(...remaining);
          return settle();
        }
        const unsettled = code === 13;
        settle({
          file: current,
          code: "dag_import_exited",
          message: unsettled
            ? `${displayPath(current)}: its top-level await never settles (a promise nothing resolves), so the import never ends`
            : `${displayPath(current)}: importing it ended the process (${signal ? `signal ${signal}` : `process.exit(${code})`} at the top level)`,
          fix: unsettled ? "resolve or remove the awaited promise at the top of the file" : "do not call process.exit in a DAG file; throw an Error to report a problem",
        });
      });
    });
    const rest = remaining.filter((file) => !round.checked.includes(file));
    if (round.error) {
      verdict(round.error.file, round.error);
      remaining = rest.filter((file) => file !== round.error!.file);
    } else {
      for (const file of rest) verdict(file, null);
      remaining = [];
    }
  }
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
export async function loadDags(pathOrDir = "dags", options: LoadOptions = {}): Promise<LoadDagsResult> {
  const target = path.resolve(pathOrDir);
  const info = await stat(target).catch(() => null);
  if (!info) {
    throw new VenvflowError("dags_not_found", `no DAG file or folder at ${target}`, { fix: "create it, or pass the path of your DAG folder" });
  }
  const files = info.isDirectory() ? await dagFilesIn(target) : [target];
  const timeoutMs = options.importTimeoutMs ?? defaultImportTimeoutMs();
  const resolvers = new Map<string, (error: DagLoadError | null) => void>();
  const verdicts = new Map(files.map((file) => [file, new Promise<DagLoadError | null>((resolve) => resolvers.set(file, resolve))]));
  const checking = timeoutMs > 0 ? checkImports(files, timeoutMs, (file, error) => resolvers.get(file)?.(error)) : Promise.resolve();
  if (timeoutMs <= 0) for (const resolve of resolvers.values()) resolve(null);
  const dags: DagDefinition[] = [];
  const errors: DagLoadError[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const unsafeError = await verdicts.get(file);
    if (unsafeError) {
      errors.push(unsafeError);
      continue;
    }
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
          fix: "give each DAG its own dagId (rename one of them), or remove the copy",
        });
        continue;
      }
      seen.set(definition.dagId, file);
      dags.push(definition);
    }
  }
  await checking;
  return { dags, errors };
}

/** Loads one file and returns its DAG `dagId`, or its only DAG when no id is given. */
export async function loadDag(file: string, dagId?: string, options: LoadOptions = {}): Promise<DagDefinition> {
  const target = path.resolve(file);
  const info = await stat(target).catch(() => null);
  if (!info?.isFile()) throw new VenvflowError("dags_not_found", `no DAG file at ${target}`, { fix: "pass the path of a .ts/.mts/.js/.mjs DAG file" });
  const { dags, errors } = await loadDags(target, options);
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
