/**
 * A cross-process lock: an atomically created directory holding its owner's pid, host and child
 * process group, kept fresh by a heartbeat. A waiter takes it over when the owner is dead (same host,
 * pid gone: no waiting) or its heartbeat is older than `staleMs` (another host, or a frozen owner).
 *
 * Why not proper-lockfile: it only knows staleness by mtime, so after a kill -9 every waiter would sit
 * out the whole stale period (30 s is the safe setting for long builds); and it cannot kill the dead
 * owner's installer, which would otherwise keep writing into a directory the next builder removes.
 * Node has no flock(2), and the native addons that do are not N-API.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { VenvflowError } from "../util/errors.ts";
import { isAlive } from "../util/process.ts";

export interface LockOwner {
  pid: number;
  host: string;
  acquiredAt: string;
  /** Process group of the owner's current child (the installer), killed when the lock is taken over. */
  childPgid?: number;
  purpose: string;
}

export interface LockOptions {
  /** How old a heartbeat may get before the lock is considered abandoned. Default 30 s. */
  staleMs?: number;
  /** Give up after this long. Default: wait forever. */
  timeoutMs?: number;
  /** Poll interval while waiting. Default 50 ms. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: (owner: LockOwner | null) => void;
  purpose?: string;
}

export interface LockHandle {
  readonly path: string;
  /** Records the installer's process group so a successor can kill it if we die. */
  setChild(pgid: number | undefined): Promise<void>;
  release(): Promise<void>;
}

const OWNER_FILE = "owner.json";


async function readOwner(lockPath: string): Promise<LockOwner | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(lockPath, OWNER_FILE), "utf8")) as LockOwner;
  } catch {
    return null;
  }
}

async function writeOwner(lockPath: string, owner: LockOwner): Promise<void> {
  const tmp = path.join(lockPath, `${OWNER_FILE}.${process.pid}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(owner));
  await fs.rename(tmp, path.join(lockPath, OWNER_FILE));
}

/** Decides whether a held lock is abandoned; a lock whose owner file is not written yet is young, not dead. */
async function isAbandoned(lockPath: string, staleMs: number): Promise<{ abandoned: boolean; owner: LockOwner | null }> {
  const owner = await readOwner(lockPath);
  let mtimeMs: number;
  try {
    mtimeMs = (await fs.stat(lockPath)).mtimeMs;
  } catch {
    return { abandoned: false, owner };
  }
  if (owner && owner.host === os.hostname() && !isAlive(owner.pid)) return { abandoned: true, owner };
  return { abandoned: Date.now() - mtimeMs > staleMs, owner };
}

/** Moves the abandoned lock aside atomically (only one waiter wins the rename), kills its orphaned child. */
async function takeOver(lockPath: string, owner: LockOwner | null): Promise<void> {
  const grave = `${lockPath}.dead-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.rename(lockPath, grave);
  } catch {
    return; // someone else took it over first
  }
  if (owner?.childPgid && owner.host === os.hostname()) {
    try {
      process.kill(-owner.childPgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await fs.rm(grave, { recursive: true, force: true });
}

export async function acquireLock(lockPath: string, options: LockOptions = {}): Promise<LockHandle> {
  const staleMs = options.staleMs ?? 30_000;
  const pollMs = options.pollMs ?? 50;
  const started = Date.now();
  let announced = false;
  await fs.mkdir(path.dirname(lockPath), { recursive: true });
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      await fs.mkdir(lockPath);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const { abandoned, owner } = await isAbandoned(lockPath, staleMs);
    if (abandoned) {
      await takeOver(lockPath, owner);
      continue;
    }
    if (!announced) {
      announced = true;
      options.onWait?.(owner);
    }
    if (options.timeoutMs !== undefined && Date.now() - started > options.timeoutMs) {
      throw new VenvflowError("lock_timeout", `Timed out after ${options.timeoutMs} ms waiting for ${lockPath} (held by pid ${owner?.pid ?? "?"} on ${owner?.host ?? "?"}: ${owner?.purpose ?? "unknown"})`, {
        fix: "wait for the other process to finish, or remove the lock directory if that process is gone",
      });
    }
    await sleep(pollMs, undefined, { signal: options.signal });
  }
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), acquiredAt: new Date().toISOString(), purpose: options.purpose ?? "" };
  await writeOwner(lockPath, owner);
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lockPath, now, now).catch(() => undefined);
  }, Math.max(250, Math.floor(staleMs / 4)));
  heartbeat.unref();
  let released = false;
  return {
    path: lockPath,
    async setChild(pgid) {
      if (pgid === undefined) delete owner.childPgid;
      else owner.childPgid = pgid;
      await writeOwner(lockPath, owner);
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Rename first so a half-deleted directory is never mistaken for a live lock.
      const grave = `${lockPath}.released-${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        await fs.rename(lockPath, grave);
        await fs.rm(grave, { recursive: true, force: true });
      } catch {
        // taken over after we were considered stale: nothing of ours is left to remove
      }
    },
  };
}

/** Takes the lock only if it is free (or abandoned) right now; null when another live owner holds it. */
export async function tryAcquireLock(lockPath: string, options: Omit<LockOptions, "timeoutMs" | "onWait"> = {}): Promise<LockHandle | null> {
  try {
    return await acquireLock(lockPath, { ...options, timeoutMs: 0, pollMs: 1 });
  } catch (error) {
    if (error instanceof VenvflowError && error.code === "lock_timeout") return null;
    throw error;
  }
}
