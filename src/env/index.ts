/**
 * The environment layer's API, used by the runtime, the engine and the CLI:
 * resolve a spec to a key, get (building at most once across processes) a published environment,
 * lease it for a running task, and list / show / remove / garbage-collect environments.
 */
import { rm } from "node:fs/promises";
import { venvflowHome } from "../util/home.ts";
import { VenvflowError } from "../util/errors.ts";
import { buildEnvironment, resolveNow } from "./builder.ts";
import { installedDistributions } from "./installers/index.ts";
import { EnvCache, type EnvMetadata } from "./cache.ts";
import { tryAcquireLock } from "./lock.ts";
import { resolveSpec, sha256, type ResolvedSpec } from "./spec.ts";
import type { EnsureOptions, EnvSpecInput, Environment, EnvironmentLease } from "./types.ts";
import { WheelCache, type CachedWheelEntry, type WheelGcResult } from "./wheels/cache.ts";

export { findPython, listPythons, MIN_PYTHON, runPythonJson, type ProbedInterpreter } from "./python.ts";
export { resolveSpec, type ResolvedSpec } from "./spec.ts";
export { EnvBuildError } from "./builder.ts";
export { lockDagEnvironments, type LockTarget, type WrittenLock } from "./locking.ts";
export { parseRequirements, type ParsedRequirements, type RequirementLine } from "./requirements.ts";
export type * from "./types.ts";

function cacheFor(options: { home?: string; env?: NodeJS.ProcessEnv }): EnvCache {
  return new EnvCache(options.home ?? venvflowHome(options.env));
}

/** The environment a declared spec currently maps to: its own key, or where `--refresh` moved it. */
async function currentKey(cache: EnvCache, spec: ResolvedSpec): Promise<string> {
  return (await cache.readRef(spec.key)) ?? spec.key;
}

/**
 * Gets the published environment for a spec, building it if needed. Any number of processes may ask
 * for the same key at once: one builds, the others wait on the lock and reuse the result. With
 * `leaseIt`, a lease is taken under the same lock, so removal can never race the caller.
 */
async function obtain(input: EnvSpecInput, options: EnsureOptions, leaseIt: boolean): Promise<{ env: Environment; lease: string | null; cache: EnvCache }> {
  const env = options.env ?? process.env;
  const cache = cacheFor(options);
  const spec = await resolveSpec(input, { home: cache.home, env });
  options.onProgress?.({ key: spec.key, phase: "resolve", message: `Python ${spec.interpreter.version}, ${spec.requirements.length} requirement(s), ${spec.installer.name} ${spec.installer.version}` });

  if (options.refresh) await refresh(spec, cache, options, env);

  const key = await currentKey(cache, spec);
  const lock = await cache.lock(key, {
    purpose: `build ${key}`,
    signal: options.signal,
    onWait: (owner) => options.onProgress?.({ key, phase: "waiting", message: `waiting for pid ${owner?.pid ?? "?"} (${owner?.purpose ?? "another process"})` }),
  });
  try {
    let metadata = await cache.readMetadata(key);
    const problem = metadata && (await cache.problem(metadata));
    if (problem) {
      // A broken environment fails every task with `spawn … ENOENT`: rebuild it under the lock we hold.
      options.onProgress?.({ key, phase: "create", message: `rebuilding: ${problem}` });
      await cache.discard(key);
      metadata = null;
    }
    if (metadata) {
      options.onProgress?.({ key, phase: "cached", message: "using the cached environment" });
    } else if (options.cachedOnly) {
      throw new VenvflowError("env_not_found", `environment ${key.slice(0, 12)} is not built`, { fix: "it is built on its task's first try, or by `venvflow env build FILE`" });
    } else {
      metadata = await buildEnvironment({ spec, key, cache, lock, env, onProgress: options.onProgress, onOutput: options.onOutput, signal: options.signal });
    }
    // Repeated on every use, not just the build: a task using a cached environment still learns its extra was ignored.
    for (const warning of metadata.warnings ?? []) options.onProgress?.({ key, phase: "warning", message: warning });
    const lease = leaseIt ? await cache.addLease(key) : null;
    await cache.touch(key);
    return { env: await cache.toEnvironment(metadata), lease, cache };
  } finally {
    await lock.release();
  }
}

/** Re-resolves unpinned requirements; when the result differs, builds it as a new environment and moves the spec's ref. */
async function refresh(spec: ResolvedSpec, cache: EnvCache, options: EnsureOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const currentMetadata = await cache.readMetadata(await currentKey(cache, spec));
  if (!currentMetadata) return; // nothing built yet: the normal build resolves afresh anyway
  options.onProgress?.({ key: spec.key, phase: "resolve", message: "re-resolving the requirements" });
  const resolved = await resolveNow(spec, `${cache.envDir(currentMetadata.key)}/bin/python`, cache, env, options.signal);
  const pins = resolved.map((p) => `${p.name}==${p.version}`).sort();
  const currentPins = currentMetadata.lock.map((p) => `${p.name}==${p.version}`).sort();
  if (pins.join("\n") === currentPins.join("\n")) {
    options.onProgress?.({ key: currentMetadata.key, phase: "cached", message: "already up to date" });
    return;
  }
  const newKey = sha256(`${spec.canonical}\nresolved:${pins.join(",")}`);
  const lock = await cache.lock(newKey, { purpose: `refresh ${newKey}`, signal: options.signal });
  try {
    if (!(await cache.readMetadata(newKey))) {
      await buildEnvironment({ spec, key: newKey, pins, cache, lock, env, onProgress: options.onProgress, onOutput: options.onOutput, signal: options.signal });
    }
    await cache.writeRef(spec.key, newKey);
  } finally {
    await lock.release();
  }
}

/** Gets (building at most once) the environment for a spec. */
export async function ensureEnvironment(input: EnvSpecInput, options: EnsureOptions = {}): Promise<Environment> {
  return (await obtain(input, options, false)).env;
}

/** Gets the environment and holds it for a running task: it is never deleted until `release()`. */
export async function acquireEnvironment(input: EnvSpecInput, options: EnsureOptions = {}): Promise<EnvironmentLease> {
  const { env, lease, cache } = await obtain(input, options, true);
  let released = false;
  return {
    env,
    async release() {
      if (released || !lease) return;
      released = true;
      await rm(lease, { force: true });
      await cache.touch(env.key).catch(() => undefined);
    },
  };
}

export interface CacheOptions {
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/** Published environments, most recently used first. */
export async function listEnvironments(options: CacheOptions = {}): Promise<Environment[]> {
  const cache = cacheFor(options);
  const envs: Environment[] = [];
  for (const key of await cache.keys()) {
    const metadata = await cache.readMetadata(key);
    if (metadata) envs.push(await cache.toEnvironment(metadata));
  }
  return envs.sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
}

export interface EnvironmentDetails extends Environment {
  /** What is installed right now (read from the environment's dist-info). */
  installed: { name: string; version: string }[];
  inUseBy: { pid: number; host: string; since: string }[];
}

/** One environment by key or unique key prefix, with what is installed in it. */
export async function showEnvironment(keyOrPrefix: string, options: CacheOptions = {}): Promise<EnvironmentDetails> {
  const cache = cacheFor(options);
  const key = await cache.resolveKey(keyOrPrefix);
  const metadata = await cache.readMetadata(key);
  if (!metadata) throw new VenvflowError("env_not_found", `Environment ${key} is not published (a build is running or was interrupted)`, { fix: "wait for the build, or run `venvflow env gc` to clear a crashed one" });
  return { ...(await cache.toEnvironment(metadata)), installed: await installedDistributions(cache.envDir(key)), inUseBy: await cache.liveLeases(key) };
}

/** Removes one environment; refuses while a task uses it. */
export async function removeEnvironment(keyOrPrefix: string, options: CacheOptions = {}): Promise<{ key: string }> {
  const cache = cacheFor(options);
  const key = await cache.resolveKey(keyOrPrefix);
  const result = await cache.remove(key);
  if (!result.removed) {
    throw new VenvflowError("env_in_use", `Environment ${key.slice(0, 12)} was not removed: ${result.reason}`, { fix: "wait until the task using it finishes, then run the command again" });
  }
  return { key };
}

export interface GcOptions extends CacheOptions {
  /** Evict environments not used for this long (ms). */
  olderThanMs?: number;
  /** Evict least recently used environments until the total is at most this many bytes. */
  maxTotalBytes?: number;
  dryRun?: boolean;
  /** Unreferenced wheels unpacked less than this long ago are kept (an install may be about to link them). Default 10 min. */
  wheelMinAgeMs?: number;
}

export interface GcResult {
  removed: { key: string; sizeBytes: number; lastUsedAt: string; reason: string }[];
  kept: { key: string; reason: string }[];
  /** Directories left by crashed builds that were cleared. */
  cleared: string[];
  totalBytesBefore: number;
  totalBytesAfter: number;
  /** The wheel cache's gc, after the environments': wheels no remaining environment references. */
  wheels: WheelGcResult;
}

/** Evicts by age and by total size, never an environment a live task holds; clears crashed builds. */
export async function gcEnvironments(options: GcOptions = {}): Promise<GcResult> {
  const cache = cacheFor(options);
  const result: GcResult = { removed: [], kept: [], cleared: [], totalBytesBefore: 0, totalBytesAfter: 0, wheels: { removed: [], kept: 0, freedBytes: 0 } };
  const published: EnvMetadata[] = [];
  for (const key of await cache.keys()) {
    const metadata = await cache.readMetadata(key);
    if (metadata) {
      published.push(metadata);
      continue;
    }
    // Unpublished and unlocked: a crashed build's leftovers (a running build holds the lock).
    const lock = await tryAcquireLock(cache.lockPath(key), { purpose: "gc" });
    if (!lock) continue;
    try {
      if (!(await cache.readMetadata(key))) {
        if (!options.dryRun) await cache.discard(key);
        result.cleared.push(key);
      }
    } finally {
      await lock.release();
    }
  }
  result.cleared.push(...(await cache.clearOrphanedScratch(options.dryRun === true)).map((name) => `tmp/${name}`));
  const entries = await Promise.all(published.map(async (m) => ({ metadata: m, lastUsed: (await cache.lastUsed(m.key)) ?? new Date(m.createdAt) })));
  entries.sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime()); // least recently used first
  result.totalBytesBefore = entries.reduce((sum, e) => sum + e.metadata.sizeBytes, 0);
  let total = result.totalBytesBefore;
  const now = Date.now();
  for (const { metadata, lastUsed } of entries) {
    const tooOld = options.olderThanMs !== undefined && now - lastUsed.getTime() > options.olderThanMs;
    const overSize = options.maxTotalBytes !== undefined && total > options.maxTotalBytes;
    if (!tooOld && !overSize) continue;
    const reason = tooOld ? `unused since ${lastUsed.toISOString()}` : `total size over ${options.maxTotalBytes} bytes`;
    if (options.dryRun) {
      const leases = await cache.liveLeases(metadata.key);
      if (leases.length) result.kept.push({ key: metadata.key, reason: "in use" });
      else {
        result.removed.push({ key: metadata.key, sizeBytes: metadata.sizeBytes, lastUsedAt: lastUsed.toISOString(), reason });
        total -= metadata.sizeBytes;
      }
      continue;
    }
    const outcome = await cache.remove(metadata.key);
    if (outcome.removed) {
      result.removed.push({ key: metadata.key, sizeBytes: metadata.sizeBytes, lastUsedAt: lastUsed.toISOString(), reason });
      total -= metadata.sizeBytes;
    } else {
      result.kept.push({ key: metadata.key, reason: outcome.reason ?? "busy" });
    }
  }
  result.totalBytesAfter = total;
  // A dry run removed no environment, so its wheels' references still count: it reports what gc would evict now.
  result.wheels = await new WheelCache(cache.home).gc({ ...(options.dryRun ? { dryRun: true } : {}), ...(options.wheelMinAgeMs === undefined ? {} : { minAgeMs: options.wheelMinAgeMs }) });
  return result;
}

export interface WheelCacheSummary {
  root: string;
  wheels: CachedWheelEntry[];
  sizeBytes: number;
  /** Wheels no existing environment links (what `env gc` evicts once they are 10 minutes old). */
  unreferenced: number;
}

/** The wheel cache venvflow's installer links environments from: every wheel, its size and references. */
export async function wheelCacheSummary(options: CacheOptions = {}): Promise<WheelCacheSummary> {
  const wheels = new WheelCache(cacheFor(options).home);
  const list = await wheels.list();
  return { root: wheels.root, wheels: list, sizeBytes: list.reduce((n, w) => n + w.sizeBytes, 0), unreferenced: list.filter((w) => w.references === 0).length };
}
