/**
 * The environment cache under VENVFLOW_HOME:
 *
 *   envs/<key>/                    the virtualenv; published once `venvflow-env.json` exists (written last,
 *                                  by atomic rename), immutable afterwards
 *   envs/<key>/.venvflow/leases/   one file per task using the environment (pid, host): never deleted while live
 *   envs/<key>/.venvflow/last-used its mtime is the environment's last use
 *   locks/<key>.lock/              build/lease/removal lock (src/env/lock.ts)
 *   refs/<declared key>            the environment a spec currently maps to, after `--refresh`
 *   logs/builds/<key>-<time>.log   the installer's full output, kept after failures too
 *
 * Virtualenvs are not relocatable (absolute paths in scripts), so environments are built in place and
 * published by the marker, not by renaming a finished directory.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { isAlive } from "../util/process.ts";
import { acquireLock, tryAcquireLock, type LockHandle } from "./lock.ts";
import type { Environment } from "./types.ts";
import { WheelCache } from "./wheels/cache.ts";

export const MARKER = "venvflow-env.json";
const STATE_DIR = ".venvflow";

/**
 * What `venvflow-env.json` holds: the environment minus what is derived when it is read (its path and
 * python, from where it lives; its last use, from the last-used file's mtime).
 */
export interface EnvMetadata extends Omit<Environment, "path" | "python" | "lastUsedAt"> {
  format: 1;
  /** Key of the declared spec; differs from `key` for environments made by `--refresh`. */
  declaredKey: string;
  buildDurationMs: number;
}

export class EnvCache {
  readonly home: string;

  constructor(home: string) {
    this.home = home;
  }

  envDir(key: string): string {
    return path.join(this.home, "envs", key);
  }

  lockPath(key: string): string {
    return path.join(this.home, "locks", `${key}.lock`);
  }

  refPath(declaredKey: string): string {
    return path.join(this.home, "refs", declaredKey);
  }

  buildLogPath(key: string): string {
    return path.join(this.home, "logs", "builds", `${key}-${new Date().toISOString().replace(/[:.]/g, "-")}.log`);
  }

  /**
   * A private scratch directory (0700) for files that may hold credentials; removed by the caller. Its name carries
   * the owner's pid, so that `gc` can remove what a killed build left (a requirements file with a password in it).
   */
  async scratchDir(): Promise<string> {
    const dir = path.join(this.home, "tmp");
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    return fs.mkdtemp(path.join(dir, `build-${process.pid}-`));
  }

  /** Removes the scratch directories of builds whose process is gone; returns their names. */
  async clearOrphanedScratch(dryRun: boolean): Promise<string[]> {
    const dir = path.join(this.home, "tmp");
    const entries = await fs.readdir(dir).catch(() => [] as string[]);
    const orphaned = entries.filter((name) => {
      const pid = Number(/^build-(\d+)-/.exec(name)?.[1]);
      return !pid || !isAlive(pid);
    });
    if (!dryRun) await Promise.all(orphaned.map((name) => fs.rm(path.join(dir, name), { recursive: true, force: true })));
    return orphaned;
  }

  lock(key: string, options: Parameters<typeof acquireLock>[1] = {}): Promise<LockHandle> {
    return acquireLock(this.lockPath(key), options);
  }

  async readMetadata(key: string): Promise<EnvMetadata | null> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.envDir(key), MARKER), "utf8")) as EnvMetadata;
    } catch {
      return null;
    }
  }

  /** Publishes an environment: the marker appears atomically, after everything else is in place. */
  async publish(metadata: EnvMetadata): Promise<void> {
    const dir = this.envDir(metadata.key);
    const tmp = path.join(dir, `${MARKER}.tmp`);
    await fs.writeFile(tmp, JSON.stringify(metadata, null, 2));
    await fs.rename(tmp, path.join(dir, MARKER));
    await this.touch(metadata.key);
  }

  async readRef(declaredKey: string): Promise<string | null> {
    try {
      return (await fs.readFile(this.refPath(declaredKey), "utf8")).trim() || null;
    } catch {
      return null;
    }
  }

  async writeRef(declaredKey: string, key: string): Promise<void> {
    const file = this.refPath(declaredKey);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, key);
    await fs.rename(tmp, file);
  }

  async touch(key: string): Promise<void> {
    const file = path.join(this.envDir(key), STATE_DIR, "last-used");
    const now = new Date();
    try {
      await fs.utimes(file, now, now);
    } catch {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, "");
    }
  }

  async lastUsed(key: string): Promise<Date | null> {
    try {
      return (await fs.stat(path.join(this.envDir(key), STATE_DIR, "last-used"))).mtime;
    } catch {
      return null;
    }
  }

  /** Registers a use of the environment; call under the environment's lock so removal cannot race it. */
  async addLease(key: string): Promise<string> {
    const dir = path.join(this.envDir(key), STATE_DIR, "leases");
    await fs.mkdir(dir, { recursive: true });
    const file = path.join(dir, `${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    await fs.writeFile(file, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }));
    return file;
  }

  /** Leases whose holder is alive (leases from other hosts are trusted, since we cannot check them). */
  async liveLeases(key: string): Promise<{ pid: number; host: string; since: string }[]> {
    const dir = path.join(this.envDir(key), STATE_DIR, "leases");
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
    const live: { pid: number; host: string; since: string }[] = [];
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        const lease = JSON.parse(await fs.readFile(file, "utf8")) as { pid: number; host: string; since: string };
        if (lease.host !== os.hostname() || isAlive(lease.pid)) live.push(lease);
        else await fs.rm(file, { force: true });
      } catch {
        // half-written by a process that died mid-write, or removed meanwhile
      }
    }
    return live;
  }

  async keys(): Promise<string[]> {
    try {
      return (await fs.readdir(path.join(this.home, "envs"))).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
    } catch {
      return [];
    }
  }

  /** Finds a published environment by key or unique key prefix (at least 6 characters). */
  async resolveKey(prefix: string): Promise<string> {
    if (!/^[0-9a-f]{6,64}$/.test(prefix)) {
      throw new VenvflowError("invalid_env_key", `"${prefix}" is not an environment key`, { fix: "give a key (or a unique prefix of at least 6 hex characters) from `venvflow env list`" });
    }
    const matches = (await this.keys()).filter((k) => k.startsWith(prefix));
    if (matches.length === 0) throw new VenvflowError("env_not_found", `No environment with key ${prefix} in ${this.home}`, { fix: "list them with `venvflow env list`" });
    if (matches.length > 1) throw new VenvflowError("ambiguous_env_key", `Key prefix ${prefix} matches ${matches.length} environments`, { fix: "give more characters of the key" });
    return matches[0] as string;
  }

  async toEnvironment(metadata: EnvMetadata): Promise<Environment> {
    const dir = this.envDir(metadata.key);
    const { format: _format, declaredKey: _declaredKey, buildDurationMs: _buildDurationMs, ...environment } = metadata;
    const problem = await this.problem(metadata);
    return {
      ...environment,
      path: dir,
      python: path.join(dir, "bin", "python"),
      lastUsedAt: ((await this.lastUsed(metadata.key)) ?? new Date(metadata.createdAt)).toISOString(),
      ...(problem ? { problem } : {}),
    };
  }

  /**
   * Why a published environment cannot run anything, or null: its `bin/python` deleted, or the base interpreter it
   * links to uninstalled (a dangling symlink). Two stats, cheap enough to run on every lease.
   */
  async problem(metadata: EnvMetadata): Promise<string | null> {
    const python = path.join(this.envDir(metadata.key), "bin", "python");
    const linked = await fs.lstat(python).catch(() => null);
    if (!linked) return `its interpreter ${python} is missing`;
    if (!(await fs.stat(python).catch(() => null))) return `its interpreter ${python} points at ${metadata.interpreter.path}, which no longer exists (the base Python was uninstalled)`;
    return null;
  }

  /**
   * Removes an environment unless a live task holds it. Unpublishes first (marker away), then moves the
   * directory aside, so no reader ever sees a half-deleted environment.
   */
  async remove(key: string, options: { lock?: LockHandle } = {}): Promise<{ removed: boolean; reason?: string }> {
    const lock = options.lock ?? (await tryAcquireLock(this.lockPath(key), { purpose: "remove" }));
    if (!lock) return { removed: false, reason: "busy (being built or acquired)" };
    try {
      const leases = await this.liveLeases(key);
      if (leases.length > 0) return { removed: false, reason: `in use by ${leases.map((l) => `pid ${l.pid}@${l.host}`).join(", ")}` };
      await this.discard(key);
      return { removed: true };
    } finally {
      if (!options.lock) await lock.release();
    }
  }

  /** Deletes an environment directory (published or partial) without checks; the caller holds the lock. */
  async discard(key: string): Promise<void> {
    const dir = this.envDir(key);
    const trash = path.join(this.home, "envs", `.trash-${key}-${process.pid}-${Math.random().toString(36).slice(2)}`);
    // Its wheels are no longer worth keeping on its account (gc of the wheel cache reads these references).
    await new WheelCache(this.home).forgetEnvironment(dir);
    await fs.rm(path.join(dir, MARKER), { force: true });
    try {
      await fs.rename(dir, trash);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    await fs.rm(trash, { recursive: true, force: true });
  }
}


/** Total size of a directory tree, counting hard-linked files once. */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (current: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    await Promise.all(
      entries.map(async (entry) => {
        const full = path.join(current, entry.name);
        if (entry.isDirectory()) return walk(full);
        try {
          const stat = await fs.lstat(full);
          const id = `${stat.dev}:${stat.ino}`;
          if (seen.has(id)) return;
          seen.add(id);
          total += stat.size;
        } catch {
          // vanished meanwhile
        }
      }),
    );
  };
  await walk(dir);
  return total;
}
