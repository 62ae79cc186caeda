/**
 * The one task-log module: the format (JSON lines of `LogLine`), where a task try's log lives, the writers (a
 * streaming `AttemptLog` for a running attempt, `appendLogLine` for the engine's single system lines), and the
 * reader (`formatLogLine`, `readLogLines`, `followLog`). Every writer masks secrets before a line reaches the file.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { pathInside } from "../util/home.ts";
import { Redactor } from "../util/secrets.ts";
import { logSpool } from "./log-spool.ts";
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
 * `VENVFLOW_HOME/logs/<dag_id>/<run_id>/<task_id>.attempt=<n>.log` (a mapped task instance's:
 * `<task_id>.map_index=<i>.attempt=<n>.log`). Airflow gives each task a directory; one directory per run is 1.2 ms
 * less per task here (making a directory is the costliest file-system call on the dev machine's ext4, measured in a
 * chain of Python tasks) and the files still sort by task. Ids are checked on the way in; this refuses any id that
 * would lead the path out of `home/logs` all the same.
 */
export function taskLogPath(home: string, dagId: string, runId: string, taskId: string, tryNumber: number, mapIndex = -1): string {
  return `${pathInside(path.join(home, "logs"), dagId, runId, taskId)}${mapIndex >= 0 ? `.map_index=${mapIndex}` : ""}.attempt=${tryNumber}.log`;
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
export function appendLogLine(logPath: string, stream: LogLine["stream"], msg: string, level: string | undefined, redactor: Redactor = new Redactor(), logsRoot?: string): LogLine {
  const line: LogLine = { ts: new Date().toISOString(), stream, ...(level === undefined ? {} : { level }), msg: redactor.redact(msg) };
  ensureLogDir(logPath);
  const text = `${JSON.stringify(line)}\n`;
  // The try's first line makes its file: from the spool when there is one (an existing file is appended to).
  const spooled = spooledFd(logPath, logsRoot);
  if (spooled === null) {
    appendFileSync(logPath, text, { mode: 0o600 });
  } else {
    try {
      writeSync(spooled, text);
    } finally {
      closeSync(spooled);
    }
  }
  return line;
}

/** A new file at `logPath` taken from the spool of `logsRoot` (see log-spool.ts), or null: the caller opens it. */
function spooledFd(logPath: string, logsRoot: string | undefined): number | null {
  // A log already made here is appended to: a link that fails with EEXIST costs a thrown error (~0.1 ms).
  if (logsRoot === undefined || madeLogs.has(logPath) || !path.resolve(logPath).startsWith(`${path.resolve(logsRoot)}${path.sep}`)) return null;
  const fd = logSpool(logsRoot).take(logPath);
  if (madeLogs.size >= 4096) madeLogs.clear();
  madeLogs.add(logPath);
  return fd;
}

/** Logs this process made or found (a try's first line makes its file; the next lines append). */
const madeLogs = new Set<string>();

/** One stored line (a line that is not JSON — written by hand, or cut — is kept as stdout text). */
export function parseLogLine(raw: string): LogLine {
  try {
    return JSON.parse(raw) as LogLine;
  } catch {
    return { ts: "", stream: "stdout", msg: raw };
  }
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

/** Every whole line of a log (a writer may be midway through the last one); none when there is no log. */
export function readLogLines(logPath: string | null): LogLine[] {
  if (!logPath || !existsSync(logPath)) return [];
  const text = readFileSync(logPath, "utf8");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter(Boolean).map(parseLogLine);
}

/**
 * Reads a growing log incrementally: each `readRaw()` returns the whole lines appended since the last call (bytes after
 * the last newline are a line still being written, kept for the next call). `logs --follow` and the server's live
 * log stream both read this way.
 */
export class LogTail {
  private offset = 0;
  private partial = Buffer.alloc(0);

  readRaw(logPath: string | null): string[] {
    if (!logPath || !existsSync(logPath)) return [];
    const chunks: Buffer[] = [this.partial];
    const fd = openSync(logPath, "r");
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (let n = readSync(fd, buffer, 0, buffer.length, this.offset); n > 0; n = readSync(fd, buffer, 0, buffer.length, this.offset)) {
        this.offset += n;
        chunks.push(Buffer.from(buffer.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
    const data = Buffer.concat(chunks);
    const end = data.lastIndexOf(0x0a);
    this.partial = end === -1 ? data : data.subarray(end + 1);
    return end === -1 ? [] : data.subarray(0, end).toString("utf8").split("\n").filter(Boolean);
  }

  read(logPath: string | null): LogLine[] {
    return this.readRaw(logPath).map(parseLogLine);
  }
}

/**
 * Hands each whole raw line of a log to `onLine` as it is written, while `live()` says the writer is still at it
 * (polled every `pollMs`), then once more for what was written last. Returns how many lines it handed over.
 */
export async function followLog(logPath: string, onLine: (raw: string) => void, opts: { live?: () => Promise<boolean>; pollMs?: number } = {}): Promise<number> {
  const tail = new LogTail();
  let count = 0;
  const drain = (): void => {
    for (const line of tail.readRaw(logPath)) {
      onLine(line);
      count++;
    }
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
 * One attempt's log, open for the attempt, written with one synchronous append per line: through a stream, each
 * line cost thread-pool hand-offs and closing one was a wait per task (measured both in a warm dispatch and in
 * bench/engine.ts).
 */
export class AttemptLog {
  readonly logPath: string;
  private fd: number | null;
  private readonly redactor: Redactor;
  private readonly onLog: ((line: LogLine) => void) | undefined;

  /** `logsRoot`: the logs directory `logPath` is in, whose spool of ready files it may take (see log-spool.ts). */
  constructor(logPath: string, redactor: Redactor, onLog: ((line: LogLine) => void) | undefined, logsRoot?: string) {
    this.logPath = logPath;
    this.redactor = redactor;
    this.onLog = onLog;
    let fd: number;
    try {
      ensureLogDir(logPath);
      const spooled = spooledFd(logPath, logsRoot);
      // Opened here, synchronously, so an unwritable log path is an input error before anything runs.
      fd = spooled ?? openSync(logPath, "a", 0o600);
    } catch (error) {
      throw new VenvflowError("log_unwritable", `Cannot write the log file ${logPath}: ${(error as Error).message}`, { fix: "point logPath (or VENVFLOW_HOME) at a writable location" });
    }
    this.fd = fd;
  }

  write(stream: LogLine["stream"], msg: string, extra: { level?: string; logger?: string } = {}): void {
    const line: LogLine = { ts: new Date().toISOString(), stream, ...extra, msg: this.redactor.redact(msg) };
    // One synchronous append per line: a log line is a single small write, and through a stream each costs two
    // thread-pool hand-offs (measured: most of a warm dispatch's context switches). Lines stay in arrival order.
    if (this.fd !== null) {
      try {
        writeSync(this.fd, `${JSON.stringify(line)}\n`);
      } catch {
        // A failing write (disk full) must not take the task down; the line still reaches onLog.
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

  /** Closes the file (every line is already written); later lines still reach onLog. */
  close(): Promise<void> {
    this.fd = closeLogFd(this.fd);
    return Promise.resolve();
  }
}

/** Closes a log's fd if open (every line was written synchronously, so nothing is lost when it was closed already). */
export function closeLogFd(fd: number | null): null {
  if (fd !== null) {
    try {
      closeSync(fd);
    } catch {
      // already closed underneath us
    }
  }
  return null;
}
