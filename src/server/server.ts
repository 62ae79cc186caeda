/**
 * `venvflow server`: the HTTP API and UI in this process; the DAG processor (one child per parse, re-run when a
 * file under the folder changes) and the workers (a child that schedules and executes) in child processes, so
 * user code never runs here. SIGTERM: stop serving, let the workers finish their running tries, close the store.
 */
import { randomBytes } from "node:crypto";
import { existsSync, watch, type FSWatcher } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";
import { serve, type ServerType } from "@hono/node-server";
import { recordParse, type ParsedFolder } from "../engine/serialized-dags.ts";
import type { Store } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { createApp } from "./app.ts";
import { spawnChild } from "./children.ts";
import { parseDagFolder } from "./dag-processor.ts";

export interface ServerOptions {
  store: Store;
  home: string;
  dagFolder: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Worker slots (concurrent tries). */
  slots?: number;
  /** Token for non-loopback binds; generated when absent. Ignored on loopback unless `requireToken`. */
  token?: string;
  requireToken?: boolean;
  /** Environment of the child processes (VENVFLOW_HOME, the database URL, pip settings). */
  childEnv?: NodeJS.ProcessEnv;
  /** Progress lines (parses, worker restarts); default: nothing. */
  log?: (line: string) => void;
  /** Milliseconds of quiet after a file change before re-parsing. */
  debounceMs?: number;
}

export interface RunningServer {
  url: string;
  /** The token to send (null when none is needed). */
  token: string | null;
  /** Re-parses now and waits for it (tests; the watcher does this on changes). */
  reparse(): Promise<void>;
  /** The DAG ids the current worker process loaded, once it has loaded them. */
  workersReady(): Promise<string[]>;
  /** The DAG ids the workers schedule and run right now (loaded and not paused). */
  workingDagIds(): readonly string[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
// A worker child that exits on its own (store gone, crash) is restarted after this long.
const WORKER_RESTART_MS = 2000;

/** web/dist next to src/ or dist/: the UI built by `npm run build`. */
function webRoot(): string | null {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "web", "dist");
  return existsSync(root) ? root : null;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const loopback = LOOPBACK.has(host);
  const token = !loopback || opts.requireToken ? (opts.token ?? randomBytes(24).toString("base64url")) : null;
  const log = opts.log ?? (() => {});
  const childEnv = opts.childEnv ?? process.env;
  const folder = path.resolve(opts.dagFolder);
  if (!existsSync(folder)) throw new VenvflowError("dags_not_found", `no DAG file or folder at ${folder}`, { fix: "create it, or pass the path of your DAG folder" });
  const slots = opts.slots ?? 4;

  // Parses one at a time; a change during a parse schedules exactly one more.
  let parsing: Promise<void> | null = null;
  let again = false;
  let lastDagsJson = "";
  const goodFiles = new Set<string>();
  const parseOnce = async (): Promise<void> => {
    let parsed: ParsedFolder;
    try {
      parsed = await parseDagFolder(folder, childEnv);
    } catch (error) {
      log(`DAG processor: ${(error as Error).message}`);
      return;
    }
    await recordParse(opts.store, parsed);
    log(`parsed ${folder}: ${parsed.dags.length} DAG(s), ${parsed.errors.length} file(s) with errors`);
    for (const e of parsed.errors) log(`  ${e.message} [${e.code}]`);
    // A file that loaded before and fails now (a half-saved edit) keeps the running workers, and with them the
    // last good version of its DAGs, until it loads again.
    const broken = parsed.errors.filter((e) => goodFiles.has(e.file)).map((e) => e.file);
    for (const d of parsed.dags) goodFiles.add(d.dag.fileloc);
    const dagsJson = JSON.stringify(parsed.dags);
    if (broken.length > 0 && worker) {
      log(`workers keep the last good version of ${broken.join(", ")}`);
    } else if (dagsJson !== lastDagsJson) {
      lastDagsJson = dagsJson;
      restartWorkers();
    }
  };
  const reparse = (): Promise<void> => {
    if (parsing) {
      again = true;
      return parsing;
    }
    parsing = (async () => {
      do {
        again = false;
        await parseOnce();
      } while (again);
    })().finally(() => {
      parsing = null;
    });
    return parsing;
  };

  let worker: ChildProcess | null = null;
  let workersReady: Promise<string[]> = Promise.resolve([]);
  let working: readonly string[] = [];
  // State changes the server's workers report, pushed to /api/events subscribers.
  const engineEvents = new EventEmitter();
  engineEvents.setMaxListeners(0);
  let closing = false;
  const exiting = new Set<Promise<void>>();
  const restartWorkers = (): void => {
    if (closing) return;
    // The old worker stops claiming and finishes its running tries while the new one (new code) starts.
    if (worker) {
      const old = worker;
      old.removeAllListeners("exit");
      old.kill("SIGTERM");
    }
    const child = spawnChild("worker-child", [folder, String(slots)], childEnv);
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    exiting.add(exited);
    void exited.then(() => exiting.delete(exited));
    child.stderr?.on("data", (b: Buffer) => log(`worker: ${b.toString("utf8").trimEnd()}`));
    let ready: (ids: string[]) => void = () => {};
    workersReady = new Promise((resolve) => (ready = resolve));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const event = JSON.parse(line) as { type?: string; dagIds?: string[] };
        if (event.type === "ready") ready(event.dagIds ?? []);
        if (event.type === "working" && worker === child) working = event.dagIds ?? [];
        if (event.type === "run" || event.type === "task") engineEvents.emit("event", event);
      } catch {
        // engine events are for watchers that want them; nothing else is printed there
      }
    });
    child.on("exit", (code) => {
      if (closing || worker !== child) return;
      log(`worker exited (code ${code}); restarting in ${WORKER_RESTART_MS} ms`);
      setTimeout(() => {
        if (!closing && worker === child) restartWorkers();
      }, WORKER_RESTART_MS);
    });
    worker = child;
  };

  await reparse();

  let timer: NodeJS.Timeout | null = null;
  const watcher: FSWatcher = watch(folder, { recursive: true }, (_event, file) => {
    if (file && /(^|\/)(node_modules|\.|__pycache__)/.test(file)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void reparse(), opts.debounceMs ?? 300);
  });
  // The folder can vanish or hit the inotify limit; the server keeps serving what it last parsed.
  watcher.on("error", (error) => log(`watching ${folder} stopped: ${error.message}; restart the server to pick up changes`));

  const app = createApp({
    store: opts.store,
    home: opts.home,
    token,
    allowedHosts: loopback ? LOOPBACK : null,
    webRoot: webRoot(),
    childEnv,
    engineEvents,
  });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: opts.port ?? 8793 }, () => resolve(s));
    s.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new VenvflowError("port_in_use", `port ${opts.port} on ${host} is already in use`, { fix: "stop the other server, or pass --port with another port (0 picks a free one)" })
          : error,
      ),
    );
  }).catch(async (error: unknown) => {
    closing = true;
    watcher.close();
    worker?.kill("SIGTERM");
    await Promise.all(exiting);
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;

  return {
    url,
    token,
    reparse,
    workersReady: () => workersReady,
    workingDagIds: () => working,
    async close() {
      closing = true;
      watcher.close();
      if (timer) clearTimeout(timer);
      await parsing;
      worker?.kill("SIGTERM");
      await Promise.all(exiting);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // SSE streams keep connections open; end them instead of waiting.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
