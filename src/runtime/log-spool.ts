/**
 * Empty log files made ahead of time. Creating a file costs 0.6 ms of kernel time on the dev machine's ext4 (the
 * inode allocation: O_TMPFILE costs the same), linking one made earlier 0.02 ms (measured) — a fifth of a warm
 * attempt. So the next attempt's file is made in the background while this one runs, and linked into place when
 * it is needed. The spool is `<logs root>/.spool` (same filesystem; when link() fails for any reason the caller
 * creates the file in place, as without a spool). Spool files are named after their process (src/util/scratch.ts);
 * those of a process that died are swept when a spool opens.
 */
import { linkSync, mkdirSync, open, unlinkSync } from "node:fs";
import path from "node:path";
import { sweepDeadOwners } from "../util/scratch.ts";

/** Files kept ready: a worker starts a few attempts at once. */
const SPARE = 4;

export class LogSpool {
  readonly dir: string;
  private readonly ready: { file: string; fd: number }[] = [];
  private making = 0;
  private counter = 0;
  private usable = true;

  constructor(logsRoot: string) {
    this.dir = path.join(logsRoot, ".spool");
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      sweepDeadOwners({ dir: this.dir });
    } catch {
      this.usable = false; // an unwritable home: every attempt creates its own file, which reports the problem
    }
    if (this.usable) process.once("exit", () => this.ready.forEach(({ file }) => unlinkQuietly(file)));
  }

  /** An fd open for appending on a new file at `target`, or null (then the caller creates it: none is ready, or it exists). */
  take(target: string): number | null {
    const spare = this.ready.shift();
    this.refill();
    if (!spare) return null;
    try {
      linkSync(spare.file, target);
    } catch {
      this.ready.unshift(spare); // EEXIST (a log appended to), EXDEV, ...: kept for the next attempt
      return null;
    }
    unlinkQuietly(spare.file);
    return spare.fd;
  }

  private refill(): void {
    while (this.usable && this.ready.length + this.making < SPARE) {
      this.making++;
      const file = path.join(this.dir, `venvflow-log-${process.pid}-${this.counter++}`);
      // On the thread pool: the allocation happens beside the running attempt. O_APPEND, as a log is opened:
      // the engine appends system lines to the same file between the attempt's own.
      open(file, "ax", 0o600, (error, fd) => {
        this.making--;
        if (error) this.usable = false;
        else this.ready.push({ file, fd });
      });
    }
  }
}

const spools = new Map<string, LogSpool>();

/** The spool of a logs directory (one per directory and process). */
export function logSpool(logsRoot: string): LogSpool {
  let spool = spools.get(logsRoot);
  if (!spool) spools.set(logsRoot, (spool = new LogSpool(logsRoot)));
  return spool;
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
