/**
 * The one task-log module: the format (JSON lines of `LogLine`), where a task try's log lives, the writers (a
 * streaming `AttemptLog` for a running attempt, `appendLogLine` for the engine's single system lines), and the
 * reader (`formatLogLine`, `readLogLines`, `followLog`). Every writer masks secrets before a line reaches the file.
 */
import { appendFileSync, closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readSync, writeSync, type WriteStream } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { Redactor } from "../util/secrets.ts";
import type { CallableOptions, LogLine } from "./types.ts";

/** What a callable's options declare secret: `envVars` marked `{ secret }` and index URL credentials. */
export function callableRedactor(options: Pick<CallableOptions, "envVars" | "indexUrls">): Redactor {
  const redactor = new Redactor();
  for (const value of Object.values(options.envVars ?? {})) if (typeof value !== "string") redactor.add(value.secret);
  const urls = options.indexUrls === undefined ? [] : typeof options.indexUrls === "string" ? [options.indexUrls] : options.indexUrls;
  for (const url of urls) redactor.addUrl(url);
  return redactor;
}

/**
 * `VENVFLOW_HOME/logs/<dag_id>/<run_id>/<task_id>/attempt=<n>.log` (Airflow's layout; a mapped task instance's
 * tries are under `<task_id>/map_index=<i>/`). Ids are checked on the way in; this refuses any id that would
 * lead the path out of `home/logs` all the same.
 */
export function taskLogPath(home: string, dagId: string, runId: string, taskId: string, tryNumber: number, mapIndex = -1): string {
  const root = path.resolve(home, "logs");
  const parts = [dagId, runId, taskId, ...(mapIndex >= 0 ? [`map_index=${mapIndex}`] : []), `attempt=${tryNumber}.log`];
  const file = path.resolve(root, ...parts);
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("/") || p.includes("\\")) || !file.startsWith(root + path.sep)) {
    throw new VenvflowError("unsafe_path", `the log path for DAG "${dagId}", run "${runId}", task "${taskId}" would leave ${root}`, {
      fix: "use ids made of letters, digits, dashes, dots and underscores (not \".\" or \"..\")",
    });
  }
  return file;
}

// Directories this process has made: a try writes several lines and a recursive mkdir is a syscall per level
// (measured: the biggest file-system cost per task of a no-op task in bench/engine.ts).
const madeDirs = new Set<string>();

function ensureLogDir(logPath: string): void {
  const dir = path.dirname(logPath);
  if (madeDirs.has(dir)) return;
  mkdirSync(dir, { recursive: true });
  if (madeDirs.size >= 4096) madeDirs.clear();
  madeDirs.add(dir);
}

/**
 * Appends one line with a synchronous O_APPEND write, so it lands whole between the lines another writer (the
 * attempt's own stream) appends to the same file.
 */
export function appendLogLine(logPath: string, stream: LogLine["stream"], msg: string, level: string | undefined, redactor: Redactor = new Redactor()): LogLine {
  const line: LogLine = { ts: new Date().toISOString(), stream, ...(level === undefined ? {} : { level }), msg: redactor.redact(msg) };
  ensureLogDir(logPath);
  appendFileSync(logPath, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  return line;
}

/** One stored line as people read it: `ts stream [level] msg` (a line that is not JSON is shown as is). */
export function formatLogLine(text: string): string {
  try {
    const line = JSON.parse(text) as LogLine;
    const level = line.level ? ` ${line.level}` : "";
    return `${line.ts} ${line.stream}${level} ${line.msg}`;
  } catch {
    return text;
  }
}

/** Every whole line of a log (a writer may be midway through the last one). */
export function readLogLines(logPath: string): LogLine[] {
  if (!existsSync(logPath)) return [];
  const text = readFileSync(logPath, "utf8");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogLine);
}

/**
 * Hands each whole raw line of a log to `onLine` as it is written, while `live()` says the writer is still at it
 * (polled every `pollMs`), then once more for what was written last. Returns how many lines it handed over.
 */
export async function followLog(logPath: string, onLine: (raw: string) => void, opts: { live?: () => Promise<boolean>; pollMs?: number } = {}): Promise<number> {
  let offset = 0;
  let count = 0;
  let pending = "";
  const drain = (): void => {
    if (!existsSync(logPath)) return;
    const fd = openSync(logPath, "r");
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (let n = readSync(fd, buffer, 0, buffer.length, offset); n > 0; n = readSync(fd, buffer, 0, buffer.length, offset)) {
        offset += n;
        pending += buffer.toString("utf8", 0, n);
      }
    } finally {
      closeSync(fd);
    }
    const end = pending.lastIndexOf("\n");
    if (end < 0) return;
    for (const line of pending.slice(0, end).split("\n")) {
      if (!line) continue;
      onLine(line);
      count++;
    }
    pending = pending.slice(end + 1);
  };
  drain();
  while (opts.live && (await opts.live())) {
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 250));
    drain();
  }
  drain();
  return count;
}

/**
 * One attempt's log, open for the attempt: a stream for a child's output, or (`sync: true`) direct writes for
 * the few lines of an in-process task — there, the stream's asynchronous write and close were a wait per task
 * (measured in bench/engine.ts on a loaded machine).
 */
export class AttemptLog {
  readonly logPath: string;
  private readonly file: WriteStream | null;
  private fd: number | null = null;
  private readonly redactor: Redactor;
  private readonly onLog: ((line: LogLine) => void) | undefined;

  constructor(logPath: string, redactor: Redactor, onLog: ((line: LogLine) => void) | undefined, opts: { sync?: boolean } = {}) {
    this.logPath = logPath;
    this.redactor = redactor;
    this.onLog = onLog;
    let fd: number;
    try {
      ensureLogDir(logPath);
      // Opened here, synchronously, so an unwritable log path is an input error before anything runs.
      fd = openSync(logPath, "a", 0o600);
    } catch (error) {
      throw new VenvflowError("log_unwritable", `Cannot write the log file ${logPath}: ${(error as Error).message}`, { fix: "point logPath (or VENVFLOW_HOME) at a writable location" });
    }
    if (opts.sync) {
      this.fd = fd;
      this.file = null;
      return;
    }
    this.file = createWriteStream("", { fd });
    // A write failing later (disk full) must not crash the host; the lines still reach onLog.
    this.file.on("error", () => undefined);
  }

  write(stream: LogLine["stream"], msg: string, extra: { level?: string; logger?: string } = {}): void {
    const line: LogLine = { ts: new Date().toISOString(), stream, ...extra, msg: this.redactor.redact(msg) };
    const text = `${JSON.stringify(line)}\n`;
    if (this.file) this.file.write(text);
    else if (this.fd !== null) {
      try {
        writeSync(this.fd, text);
      } catch {
        // As the stream: a failing write (disk full) must not crash the host.
      }
    }
    try {
      this.onLog?.(line);
    } catch {
      // A failing log consumer must not take the task run down with it; the file still has the line.
    }
  }

  system(msg: string, level: "INFO" | "WARNING" | "ERROR" = "INFO"): void {
    this.write("system", msg, { level });
  }

  /** A JSON record from the runner's logging pipe; anything else on that pipe is kept as plain text. */
  record(raw: string): void {
    try {
      const rec = JSON.parse(raw) as { level?: unknown; logger?: unknown; msg?: unknown };
      if (typeof rec.msg === "string") {
        this.write("log", rec.msg, {
          ...(typeof rec.level === "string" ? { level: rec.level } : {}),
          ...(typeof rec.logger === "string" ? { logger: rec.logger } : {}),
        });
        return;
      }
    } catch {
      // fall through: not a record
    }
    this.write("log", raw);
  }

  /** Resolves once everything written is flushed; a stream that already failed is simply done. */
  close(): Promise<void> {
    if (!this.file) {
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      return Promise.resolve();
    }
    const file = this.file;
    if (file.closed) return Promise.resolve();
    return new Promise((resolve) => {
      file.once("close", () => resolve());
      file.end();
    });
  }
}
