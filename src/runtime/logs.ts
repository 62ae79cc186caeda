/**
 * One attempt's log: every line (child stdout/stderr, Python logging records, venvflow's own system lines)
 * is redacted, written as a JSON line to the log file and handed to `onLog`, in arrival order.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import type { Redactor } from "../util/secrets.ts";
import type { LogLine } from "./types.ts";

export class AttemptLog {
  readonly logPath: string;
  private fd: number | null;
  private readonly redactor: Redactor;
  private readonly onLog: ((line: LogLine) => void) | undefined;

  constructor(logPath: string, redactor: Redactor, onLog: ((line: LogLine) => void) | undefined) {
    this.logPath = logPath;
    this.redactor = redactor;
    this.onLog = onLog;
    let fd: number;
    try {
      mkdirSync(path.dirname(logPath), { recursive: true });
      // Opened here, synchronously, so an unwritable log path is an input error before anything runs.
      fd = openSync(logPath, "a", 0o600);
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
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed underneath us: nothing left to flush
      }
      this.fd = null;
    }
    return Promise.resolve();
  }
}
