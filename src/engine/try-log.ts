/**
 * The log of one try of an in-process task (TypeScript function, branch, empty), created lazily: its lines are
 * kept in memory until one of them is worth a file — a line the task itself writes (console, `ctx.log`), a
 * WARNING or ERROR, or `keep()` (the try did not succeed) — and then every line so far is written, with its own
 * time, and the rest appended as it comes. A try that succeeds without a word of its own leaves no file: its
 * start, end, worker and host are in the store (`task_try`), and reading its missing log shows an empty log.
 *
 * Why: creating the try's directory and file were the two biggest costs of a no-op task — measured on this
 * project's dev machine (ext4): mkdir ~200 µs and create ~250 µs a task, more than the whole 500 µs budget of
 * 2,000 tasks/s (bench/engine.ts; before: 1,410 tasks/s at 10,000 tasks with a file per try).
 *
 * Lines reach `onLog` (the live event stream) at once either way. The file format is `src/runtime/logs.ts`'s
 * (JSON lines of `LogLine`), lines masked by the try's redactor before they are kept.
 */
import { mkdirSync, openSync, writeSync } from "node:fs";
import path from "node:path";
import { closeLogFd, type AttemptLog } from "../runtime/logs.ts";
import type { LogLine } from "../runtime/types.ts";
import type { Redactor } from "../util/secrets.ts";

/** What an executor writes a try's log through: the runtime's `AttemptLog`, or this lazy one. */
export type TryLog = Pick<AttemptLog, "logPath" | "write" | "system" | "record" | "close">;

export class LazyTryLog implements TryLog {
  readonly logPath: string;
  private readonly redactor: Redactor;
  private readonly onLog: (line: LogLine) => void;
  private pending: string[] | null = [];
  private fd: number | null = null;

  constructor(logPath: string, redactor: Redactor, onLog: (line: LogLine) => void) {
    this.logPath = logPath;
    this.redactor = redactor;
    this.onLog = onLog;
  }

  write(stream: LogLine["stream"], msg: string, extra: { level?: string; logger?: string } = {}): void {
    const line: LogLine = { ts: new Date().toISOString(), stream, ...extra, msg: this.redactor.redact(msg) };
    const text = `${JSON.stringify(line)}\n`;
    if (this.pending) this.pending.push(text);
    else this.append(text);
    if (stream !== "system" || extra.level === "WARNING" || extra.level === "ERROR") this.keep();
    try {
      this.onLog(line);
    } catch {
      // A failing log consumer must not take the task run down with it.
    }
  }

  system(msg: string, level: "INFO" | "WARNING" | "ERROR" = "INFO"): void {
    this.write("system", msg, { level });
  }

  /** In-process tasks have no logging pipe: a record is a plain line of the task's. */
  record(raw: string): void {
    this.write("log", raw);
  }

  /** The try's lines are worth a file: write what was kept, and append from now on. */
  keep(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    try {
      mkdirSync(path.dirname(this.logPath), { recursive: true });
      this.fd = openSync(this.logPath, "a", 0o600);
    } catch {
      // An unwritable log must not fail the try (as AttemptLog's writes); its lines still reached onLog.
      return;
    }
    this.append(pending.join(""));
  }

  /** Ends the try's log: kept lines are on disk; lines of a try nobody kept are dropped. */
  close(): Promise<void> {
    this.pending = null;
    this.fd = closeLogFd(this.fd);
    return Promise.resolve();
  }

  private append(text: string): void {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, text);
    } catch {
      // A failing write (disk full) must not take the task down; the line still reached onLog.
    }
  }
}
