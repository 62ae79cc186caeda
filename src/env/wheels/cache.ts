/**
 * The wheel cache under VENVFLOW_HOME, content-addressed by each wheel's sha256:
 *
 *   wheels/archive/<sha256>/tree/        the unpacked wheel, files read-only; environments link from here
 *   wheels/archive/<sha256>/wheel.json   WheelInfo (files, hashes, entry points), written before the rename
 *   wheels/locks/<sha256>.lock/          held while one process downloads and unpacks that wheel
 *   wheels/refs/<id>.json                one per environment: its directory and the wheels it linked
 *   wheels/tmp/                          unpacking in progress; renamed into archive/ when complete
 *
 * An archive directory appears by one atomic rename of a fully unpacked temporary directory, so a reader sees a
 * wheel completely or not at all; the per-wheel lock makes concurrent installs (threads or processes) unpack each
 * wheel exactly once. Environments hold hardlinks (or copies), not references into the cache, so evicting a wheel
 * never breaks an environment: references only decide which wheels are still worth keeping.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../../util/errors.ts";
import { venvflowHome } from "../../util/home.ts";
import { redactUrl } from "../../util/secrets.ts";
import { acquireLock } from "../lock.ts";
import { parseWheelFilename } from "../pep/utils.ts";
import { recordHash, unpackWheel, type WheelInfo } from "./archive.ts";
import { fetchWheel } from "./fetch.ts";

export interface WheelSource {
  /** file:// or http(s):// URL of the .whl; credentials in the userinfo are allowed (never logged). */
  url: string;
  /** Hex sha256 of the .whl file. */
  sha256: string;
}

export interface CachedWheel {
  info: WheelInfo;
  /** The unpacked tree inside the cache. */
  tree: string;
  /** True when this call downloaded and unpacked it; false when it was already cached. */
  unpacked: boolean;
}

interface EnvRefs {
  envDir: string;
  wheels: string[];
  updatedAt: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** In-process dedupe: one ensure per wheel at a time, so a process never waits on its own lock. */
const inFlight = new Map<string, Promise<CachedWheel>>();

export class WheelCache {
  readonly root: string;

  constructor(home: string = venvflowHome()) {
    this.root = path.join(home, "wheels");
  }

  archiveDir(sha256: string): string {
    return path.join(this.root, "archive", sha256);
  }

  treeDir(sha256: string): string {
    return path.join(this.archiveDir(sha256), "tree");
  }

  private refsPath(envDir: string): string {
    return path.join(this.root, "refs", `${createHash("sha256").update(path.resolve(envDir)).digest("hex").slice(0, 32)}.json`);
  }

  /** The cached wheel's info, or null when it is not (completely) in the cache. */
  async info(sha256: string): Promise<WheelInfo | null> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.archiveDir(sha256), "wheel.json"), "utf8")) as WheelInfo;
    } catch {
      return null;
    }
  }

  /** Makes sure the wheel is unpacked in the cache: downloads (hash verified) and unpacks it at most once across processes. */
  ensure(source: WheelSource, options: { signal?: AbortSignal } = {}): Promise<CachedWheel> {
    const sha256 = source.sha256.toLowerCase();
    if (!SHA256.test(sha256)) {
      return Promise.reject(new VenvflowError("wheel_hash_invalid", `The sha256 given for ${redactUrl(source.url)} is not 64 hex digits: ${JSON.stringify(source.sha256)}`, {
        fix: "lock the requirement again so every wheel carries its sha256",
      }));
    }
    const key = `${this.root}\0${sha256}`;
    const running = inFlight.get(key);
    if (running) return running.then((cached) => ({ ...cached, unpacked: false }));
    const work = this.ensureUncoordinated({ ...source, sha256 }, options.signal).finally(() => inFlight.delete(key));
    inFlight.set(key, work);
    return work;
  }

  private async ensureUncoordinated(source: WheelSource, signal: AbortSignal | undefined): Promise<CachedWheel> {
    const cached = await this.info(source.sha256);
    if (cached) return { info: cached, tree: this.treeDir(source.sha256), unpacked: false };
    const filename = decodeURIComponent(new URL(source.url).pathname.split("/").pop() ?? "");
    parseWheelFilename(filename); // a clear error for a URL that does not name a wheel, before any download
    const lock = await acquireLock(path.join(this.root, "locks", `${source.sha256}.lock`), { purpose: `unpack ${filename}`, signal });
    try {
      const again = await this.info(source.sha256);
      if (again) return { info: again, tree: this.treeDir(source.sha256), unpacked: false };
      const bytes = await fetchWheel(source.url, source.sha256, signal);
      await fs.mkdir(path.join(this.root, "tmp"), { recursive: true });
      await fs.mkdir(path.join(this.root, "archive"), { recursive: true });
      const staging = await fs.mkdtemp(path.join(this.root, "tmp", `${source.sha256.slice(0, 16)}-`));
      try {
        const info = await unpackWheel(bytes, filename, source.sha256, path.join(staging, "tree"));
        await fs.writeFile(path.join(staging, "wheel.json"), JSON.stringify(info));
        // An archive directory without wheel.json is debris (a hand-deleted file): we hold the lock, so replace it.
        await removeTree(this.archiveDir(source.sha256), path.join(this.root, "tmp"));
        await fs.rename(staging, this.archiveDir(source.sha256));
        return { info, tree: this.treeDir(source.sha256), unpacked: true };
      } catch (error) {
        await fs.rm(staging, { recursive: true, force: true });
        throw error;
      }
    } finally {
      await lock.release();
    }
  }

  /**
   * Records that `envDir` uses these wheels (replacing what it recorded before). Call it before ensuring the
   * wheels, so that a concurrent gc never evicts a wheel an install is about to link.
   */
  async recordReferences(envDir: string, sha256s: readonly string[]): Promise<void> {
    const file = this.refsPath(envDir);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const refs: EnvRefs = { envDir: path.resolve(envDir), wheels: [...new Set(sha256s.map((s) => s.toLowerCase()))].sort(), updatedAt: new Date().toISOString() };
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await fs.writeFile(tmp, JSON.stringify(refs));
    await fs.rename(tmp, file);
  }

  /** Drops an environment's references (call it when the environment is removed; gc also notices on its own). */
  async forgetEnvironment(envDir: string): Promise<void> {
    await fs.rm(this.refsPath(envDir), { force: true });
  }

  /** Reference files whose environment still exists; the others are deleted as a side effect. */
  private async liveRefs(dryRun: boolean): Promise<EnvRefs[]> {
    const dir = path.join(this.root, "refs");
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const live: EnvRefs[] = [];
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      let refs: EnvRefs;
      try {
        refs = JSON.parse(await fs.readFile(path.join(dir, name), "utf8")) as EnvRefs;
      } catch {
        continue; // being replaced right now (written by rename, so never half-written for long)
      }
      const exists = await fs.stat(refs.envDir).then(() => true, () => false);
      if (exists) live.push(refs);
      else if (!dryRun) await fs.rm(path.join(dir, name), { force: true });
    }
    return live;
  }

  /** Every cached wheel with its size and how many existing environments linked it (for `venvflow env list`). */
  async list(): Promise<CachedWheelEntry[]> {
    const counts = new Map<string, number>();
    for (const refs of await this.liveRefs(true)) for (const sha of refs.wheels) counts.set(sha, (counts.get(sha) ?? 0) + 1);
    const out: CachedWheelEntry[] = [];
    for (const sha256 of await fs.readdir(path.join(this.root, "archive")).catch(() => [] as string[])) {
      const info = await this.info(sha256);
      if (!info) continue;
      const mtime = (await fs.stat(this.archiveDir(sha256)).catch(() => null))?.mtime ?? new Date(0);
      out.push({ sha256, filename: info.filename, name: info.name, version: info.version, sizeBytes: info.files.reduce((n, f) => n + f.size, 0), references: counts.get(sha256) ?? 0, unpackedAt: mtime.toISOString() });
    }
    return out.sort((a, b) => a.filename.localeCompare(b.filename));
  }

  /**
   * Re-hashes every cached file against the hashes recorded when it was unpacked. Read-only files stop ordinary
   * users from writing through a hardlink, but not root: this finds what a task running as root changed. With
   * `evict`, damaged wheels are removed so the next install unpacks them afresh (environments that linked a
   * damaged file share it and must be rebuilt; their references name them).
   */
  async verify(options: { evict?: boolean } = {}): Promise<DamagedWheel[]> {
    const damaged: DamagedWheel[] = [];
    for (const entry of await this.list()) {
      const info = await this.info(entry.sha256);
      if (!info) continue;
      const bad: string[] = [];
      for (const file of info.files) {
        const content = await fs.readFile(path.join(this.treeDir(entry.sha256), file.path)).catch(() => null);
        if (!content || recordHash(content) !== file.hash) bad.push(file.path);
      }
      if (bad.length === 0) continue;
      damaged.push({ sha256: entry.sha256, filename: info.filename, files: bad });
      if (options.evict) await removeTree(this.archiveDir(entry.sha256), path.join(this.root, "tmp"));
    }
    return damaged;
  }

  /**
   * Evicts cached wheels no existing environment references. Wheels unpacked less than `minAgeMs` ago
   * (default 10 min) are kept: an install records its references before unpacking, but a caller that only
   * ensures wheels (a prefetch) has not recorded any yet. Abandoned temporary directories go too.
   */
  async gc(options: { dryRun?: boolean; minAgeMs?: number } = {}): Promise<WheelGcResult> {
    const minAgeMs = options.minAgeMs ?? 10 * 60_000;
    const referenced = new Set<string>();
    for (const refs of await this.liveRefs(options.dryRun ?? false)) for (const sha of refs.wheels) referenced.add(sha);
    const removed: CachedWheelEntry[] = [];
    let kept = 0;
    for (const entry of await this.list()) {
      const young = Date.now() - Date.parse(entry.unpackedAt) < minAgeMs;
      const locked = await fs.stat(path.join(this.root, "locks", `${entry.sha256}.lock`)).then(() => true, () => false);
      if (referenced.has(entry.sha256) || young || locked) {
        kept++;
        continue;
      }
      removed.push(entry);
      if (!options.dryRun) await removeTree(this.archiveDir(entry.sha256), path.join(this.root, "tmp"));
    }
    if (!options.dryRun) {
      for (const name of await fs.readdir(path.join(this.root, "tmp")).catch(() => [] as string[])) {
        const full = path.join(this.root, "tmp", name);
        const stat = await fs.stat(full).catch(() => null);
        if (stat && Date.now() - stat.mtimeMs > Math.max(minAgeMs, 60 * 60_000)) await fs.rm(full, { recursive: true, force: true });
      }
    }
    return { removed, kept, freedBytes: removed.reduce((n, e) => n + e.sizeBytes, 0) };
  }
}

export interface DamagedWheel {
  sha256: string;
  filename: string;
  /** Archive paths whose content no longer matches the hash recorded when the wheel was unpacked. */
  files: string[];
}

export interface CachedWheelEntry {
  sha256: string;
  filename: string;
  name: string;
  version: string;
  sizeBytes: number;
  /** Existing environments that linked this wheel. */
  references: number;
  unpackedAt: string;
}

export interface WheelGcResult {
  removed: CachedWheelEntry[];
  kept: number;
  freedBytes: number;
}

/** Renames first, so a half-deleted wheel is never mistaken for a complete one. */
async function removeTree(dir: string, tmpRoot: string): Promise<void> {
  await fs.mkdir(tmpRoot, { recursive: true });
  const grave = path.join(tmpRoot, `gc-${path.basename(dir)}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await fs.rename(dir, grave);
  } catch {
    return; // removed by a concurrent gc
  }
  await fs.rm(grave, { recursive: true, force: true });
}
