/**
 * Fencing a hung worker's task processes (issue #9). A worker whose process hangs or is stopped (SIGSTOP, a frozen
 * cgroup, Ctrl-Z) stops heartbeating, so another worker sweeps its tries and retries them — while the task
 * processes it started (their own process groups, not stopped with it) keep running. The fence kills them first:
 *
 * - each heartbeat thread renews a lease file (the monotonic time at the start of its last round that succeeded,
 *   so the lease is never younger than the lock it refreshed) and gives its limit: `fenceAfterMs`, 70% of the lock
 *   timeout the sweepers use;
 * - a watchdog process (fence-watchdog.ts), which a hang of this process does not stop, SIGKILLs every registered
 *   process group (src/util/process.ts tracks the groups of Bash tasks, spawned runners, warm interpreters and their
 *   forked children) and every descendant of their leaders once a lease is older than its limit, and when this
 *   process dies by any death. Nothing else this process started is touched (a test's database server, say).
 *
 * A try's lock is at least as old as its worker's lease, and a sweeper takes it only once that lock is
 * `lockTimeoutMs` old: with the watchdog polling every 100 ms, the fence acts ≥ 0.3 × lockTimeoutMs − 100 ms before
 * the sweep could (3 s − 0.1 s by default). Linux and macOS alike for registered groups; the descendant walk reads
 * /proc (Linux). A forked child runs before the host learns its pid, but its warm interpreter is registered and
 * the child dies with it (PR_SET_PDEATHSIG).
 *
 * The watchdog starts with the first process group this process starts while a worker runs (no cost for workers
 * of in-process tasks only), and one serves every worker of the process, kept for a minute after the last one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { observeGroups } from "../util/process.ts";
import { ownedTempPath } from "../util/scratch.ts";

/** The fence acts when a lease is this share of the sweepers' lock timeout old. */
const FENCE_SHARE = 0.7;

function fenceAfterMs(lockTimeoutMs: number): number {
  return Math.floor(lockTimeoutMs * FENCE_SHARE);
}

/** CLOCK_MONOTONIC in ms: shared by every process on the host, so the watchdog can compare it with its own. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

// From src/ under tsx or vitest the watchdog is the .ts file (Node strips its types); from dist/, the .js one.
const WATCHDOG = fileURLToPath(new URL(`./fence-watchdog${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));

export interface FenceRecord {
  /** Monotonic ms when the watchdog fenced. */
  at: number;
  reason: string;
  killed: number[];
}

/** One heartbeat thread's lease: its file, its limit, and its last renewal (monotonic ms) in shared memory. */
export interface Lease {
  file: string;
  limitMs: number;
  /** A BigInt64Array(1) over it holds the renewal; the main thread reads it when the fence directory appears. */
  shared: SharedArrayBuffer;
}

interface Fence {
  dir: string;
  created: boolean;
  leases: Set<Lease>;
  groups: GroupJournal;
  watchdog: ChildProcess | null;
  starts: number;
  /** Set while no worker holds a lease: ends the fence unless one joins first. */
  idle: NodeJS.Timeout | null;
}

/**
 * A fence without leases is kept this long for the process's next worker: starting its watchdog (a Node process,
 * ~40 ms of CPU) beside the first tries of every `runDag` made 40 chained Python tasks ~10% slower (measured,
 * bench/sequential.ts on the 2-core dev machine).
 */
const IDLE_FENCE_MS = 60_000;

let fence: Fence | null = null;

/**
 * Joins the process's fence; returns the lease for one heartbeat thread to renew. The directory and the watchdog
 * appear with the first process group started (nothing is left behind by a worker of in-process tasks); until then
 * the thread renews its lease in shared memory only, and it is written out when the directory is made.
 */
export function joinFence(lockTimeoutMs: number): { lease: Lease; leave(): void } {
  if (fence?.idle) {
    clearTimeout(fence.idle);
    fence.idle = null;
  }
  if (!fence) {
    const dir = ownedTempPath("fence");
    const current: Fence = { dir, created: false, leases: new Set(), groups: new GroupJournal(path.join(dir, "groups")), watchdog: null, starts: 0, idle: null };
    fence = current;
    // Called from inside the spawning of a task's process: a full temp directory must not fail the task (its group
    // is then only killed by this process itself, when the try is lost).
    observeGroups({
      added: (pid) => {
        try {
          registerGroup(current, pid);
        } catch {
          // unregistered: see above
        }
      },
      removed: (pid) => {
        try {
          current.groups.remove(pid);
        } catch {
          // the watchdog finds the group gone when it looks
        }
      },
    });
  }
  const current = fence;
  const lease: Lease = { file: path.join(current.dir, `lease-${randomBytes(4).toString("hex")}`), limitMs: fenceAfterMs(lockTimeoutMs), shared: new SharedArrayBuffer(8) };
  Atomics.store(new BigInt64Array(lease.shared), 0, BigInt(monotonicMs()));
  current.leases.add(lease);
  if (current.created) writeLease(lease);
  let left = false;
  return {
    lease,
    leave: () => {
      if (left) return;
      left = true;
      current.leases.delete(lease);
      rmSync(lease.file, { force: true });
      if (current.leases.size > 0 || fence !== current) return;
      current.idle = setTimeout(closeIdleFence, IDLE_FENCE_MS);
      current.idle.unref(); // and if the process ends first, its watchdog sees it and cleans up
    },
  };
}

/** Ends the process's fence now if no worker holds a lease on it (it would end IDLE_FENCE_MS after the last left). */
export function closeIdleFence(): void {
  const current = fence;
  if (!current || current.leases.size > 0) return;
  if (current.idle) clearTimeout(current.idle);
  observeGroups(null);
  current.groups.close();
  fence = null;
  // The watchdog removes the directory as it exits.
  if (current.watchdog?.stdin?.writable) current.watchdog.stdin.end("exit\n");
  else if (current.created) rmSync(current.dir, { recursive: true, force: true });
}

/**
 * The registered process groups, as a journal of `+<pid>` and `-<pid>` lines appended to `<dir>/groups` (the
 * watchdog replays it): a file per group cost 0.55 ms of kernel time to create on the dev machine's ext4
 * (measured), on the critical path of every forked task; an append costs a few µs. Past JOURNAL_BYTES the journal
 * is rewritten with the live groups only, as a new file renamed over it (the watchdog reads one or the other).
 */
class GroupJournal {
  private readonly file: string;
  private readonly live = new Set<number>();
  private fd: number | null = null;
  private bytes = 0;

  constructor(file: string) {
    this.file = file;
  }

  add(pid: number): void {
    this.live.add(pid);
    this.append(`+${pid}\n`);
  }

  remove(pid: number): void {
    if (this.live.delete(pid)) this.append(`-${pid}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private append(line: string): void {
    // One write of a whole line (O_APPEND): the watchdog ignores a line it sees without its newline.
    this.fd ??= openSync(this.file, "a", 0o600);
    this.bytes += writeSync(this.fd, line);
    if (this.bytes <= JOURNAL_BYTES) return;
    const live = [...this.live].map((pid) => `+${pid}\n`).join("");
    writeFileSync(`${this.file}.next`, live, { mode: 0o600 });
    renameSync(`${this.file}.next`, this.file);
    this.close();
    this.bytes = live.length;
  }
}

const JOURNAL_BYTES = 64 * 1024;

/**
 * Records a group; the first one makes the directory (the leases written first, so the watchdog never sees a group
 * without them) and then the watchdog. The group goes on record before the watchdog starts: spawning it takes a few
 * ms, and a host killed meanwhile left its first task's processes unrecorded and running (the probe's kill -9 of
 * `venvflow run` with a Bash task, about one time in eight).
 */
function registerGroup(current: Fence, pid: number): void {
  const first = !current.created;
  if (first) {
    mkdirSync(current.dir, { recursive: true, mode: 0o700 });
    current.created = true;
    for (const lease of current.leases) writeLease(lease);
  }
  current.groups.add(pid);
  if (first) startWatchdog(current);
}

/** A watchdog that died (killed by someone) while the fence is in use is started again, a few times at most. */
const WATCHDOG_STARTS = 5;

function startWatchdog(current: Fence): void {
  const dev = WATCHDOG.endsWith(".ts");
  const child = spawn(process.execPath, [...(dev ? ["--no-warnings", "--experimental-strip-types"] : []), WATCHDOG, current.dir, String(process.pid)], {
    detached: true, // not stopped by a Ctrl-Z (or killed by a Ctrl-C) meant for this process's group
    stdio: ["pipe", "ignore", "inherit"],
  });
  child.on("error", () => undefined);
  child.stdin?.on("error", () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  current.watchdog = child;
  current.starts++;
  child.once("exit", () => {
    if (fence === current && current.watchdog === child && current.starts < WATCHDOG_STARTS) startWatchdog(current);
  });
}

function writeLease(lease: Lease): void {
  renewLease(lease, Number(Atomics.load(new BigInt64Array(lease.shared), 0)));
}

/**
 * Renews a lease at `at` (monotonic ms): in shared memory, and in its file once the fence directory exists (before,
 * the write fails with ENOENT and the main thread writes it out when it makes the directory). The file is rewritten
 * in place, fixed width: a full temp directory (no block to allocate) must not stop renewals and so fence every
 * task. The time is written twice: a torn read (a write under way) has two different values and is read again.
 */
export function renewLease(lease: Lease, at: number): void {
  Atomics.store(new BigInt64Array(lease.shared), 0, BigInt(at));
  let fd: number;
  try {
    fd = openSync(lease.file, "r+");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    try {
      fd = openSync(lease.file, "w", 0o600);
    } catch (missing) {
      if ((missing as NodeJS.ErrnoException).code === "ENOENT") return; // no fence directory yet
      throw missing;
    }
  }
  try {
    writeSync(fd, `${at} ${lease.limitMs} ${at}`.padEnd(LEASE_WIDTH), 0);
  } finally {
    closeSync(fd);
  }
}

const LEASE_WIDTH = 64;

/** The fence's last act at or after `since` (monotonic ms), if it acted. */
export function fencedSince(since: number): FenceRecord | null {
  if (!fence) return null;
  let text: string;
  try {
    text = readFileSync(path.join(fence.dir, "fenced"), "utf8");
  } catch {
    return null;
  }
  const records = text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as FenceRecord);
  return records.findLast((r) => r.at >= since) ?? null;
}
