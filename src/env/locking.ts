/**
 * Lockfiles (PEP 751 pylock.toml) for the environments of a DAG file.
 *
 * `venvflow lock dags/etl.ts` writes one lock per distinct environment beside the DAG file, named
 * `pylock.<dag-file-stem>-<first task id>.toml` (PEP 751's `pylock.<name>.toml`). Each lock carries, under
 * `[tool.venvflow]`, the identity of the declared environment it was resolved from (requirements, constraints,
 * indexes, options, Python X.Y, platform): a build finds its lock by that identity among the `pylock*.toml` files in
 * its `baseDir` (or reads `lockFile` when the spec names one), installs exactly the locked wheels with no
 * resolution, and keys the environment by the lock's content. A lock whose identity differs is not used;
 * with `--frozen` / VENVFLOW_FROZEN=1 that is an error that says what changed.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { redactUrl } from "../util/secrets.ts";
import { indexesFor, unsupportedByVenvflow } from "./installers/index.ts";
import { canonicalizeName, Requirement } from "./pep/index.ts";
import { parsePylock, writePylock, type Pylock, type PylockPackage } from "./pylock.ts";
import type { ProbedInterpreter } from "./python.ts";
import { resolve, targetFor, type ResolveResult } from "./resolver/index.ts";
import type { RequirementLine } from "./requirements.ts";
import type { ResolvedSpec } from "./spec.ts";
import { LOCK_FILE_NAME } from "./types.ts";

/** What a lock's identity is computed from: the declared environment, redacted, and the interpreter's X.Y and platform. */
export interface LockIdentityParts {
  requirements: string[];
  constraints: string[];
  indexUrls: string[] | null;
  installOptions: string[];
  systemSitePackages: boolean;
  interpreter: Pick<ProbedInterpreter, "major" | "minor" | "implementation" | "platform">;
}

export function lockIdentity(parts: LockIdentityParts): string {
  const { interpreter, ...declared } = parts;
  const python = { version: `${interpreter.major}.${interpreter.minor}`, implementation: interpreter.implementation, platform: interpreter.platform };
  return createHash("sha256").update(JSON.stringify({ ...declared, python })).digest("hex");
}

/** The part of a lock the environment key includes: what gets installed, not how the file is laid out. */
export function lockDigest(lock: Pylock): string {
  const packages = lock.packages
    .map((p) => [canonicalizeName(p.name), p.version, p.marker ?? "", ...p.wheels.map((w) => w.sha256).sort()].join(" "))
    .sort();
  return createHash("sha256").update(packages.join("\n")).digest("hex");
}

export interface FoundLock {
  file: string;
  lock: Pylock;
  digest: string;
}

export function isFrozen(env: NodeJS.ProcessEnv): boolean {
  return /^(1|true|yes|on)$/i.test(env.VENVFLOW_FROZEN ?? "");
}

/**
 * The pylock files of a directory that venvflow can install. Others (a lock another tool wrote with sdists, a
 * broken file) are skipped here: they are not this environment's lock, and must not break every build beside them.
 */
async function locksIn(dir: string): Promise<{ file: string; lock: Pylock }[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => LOCK_FILE_NAME.test(n)).sort();
  const out: { file: string; lock: Pylock }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      out.push({ file, lock: parsePylock(await fs.readFile(file, "utf8"), file, dir) });
    } catch {
      // not a lock venvflow wrote or can use
    }
  }
  return out;
}

function describeDrift(spec: { requirements: string[]; python: string }, lock: Pylock): string {
  const locked = lock.venvflow;
  if (!locked) return "it was not written by `venvflow lock` (no [tool.venvflow] table)";
  const added = spec.requirements.filter((r) => !locked.requirements.includes(r));
  const removed = locked.requirements.filter((r) => !spec.requirements.includes(r));
  const parts = [...(added.length ? [`added ${added.join(", ")}`] : []), ...(removed.length ? [`removed ${removed.join(", ")}`] : [])];
  if (spec.python !== locked.python) parts.push(`Python ${spec.python} here, ${locked.python} in the lock`);
  return parts.length ? parts.join("; ") : "its constraints, indexes, options or platform differ";
}

/**
 * The lock for a declared environment: `explicit` when the spec names one, else the `pylock*.toml` beside the
 * DAG (in `baseDir`) whose identity matches. Frozen, no match is an error; otherwise `stale` says why a named lock
 * was not used (printed by the build).
 */
export async function findLock(options: { baseDir: string; identity: string; explicit?: string; frozen: boolean; requirements: string[]; python: string }): Promise<{ found: FoundLock | null; stale: string | null }> {
  const candidates = options.explicit ? await locksFromFile(path.resolve(options.baseDir, options.explicit)) : await locksIn(options.baseDir);
  const match = candidates.find((c) => c.lock.venvflow?.identity === options.identity);
  if (match) return { found: { ...match, digest: lockDigest(match.lock) }, stale: null };
  const drift = candidates.map((c) => `${path.basename(c.file)}: ${describeDrift(options, c.lock)}`);
  if (options.frozen) {
    const where = options.explicit ? path.resolve(options.baseDir, options.explicit) : `${options.baseDir} (pylock*.toml)`;
    if (candidates.length === 0) {
      throw new VenvflowError("lock_missing", `--frozen (VENVFLOW_FROZEN) is set but there is no lock for this environment in ${where}`, {
        fix: "run `venvflow lock <dag file>` and commit the pylock files beside it, or run without --frozen",
        details: { where },
      });
    }
    throw new VenvflowError("lock_mismatch", `--frozen (VENVFLOW_FROZEN) is set but the requirements no longer match the lock: ${drift.join("; ")}`, {
      fix: "run `venvflow lock <dag file>` to lock the new requirements (and commit the lock), or undo the change",
      details: { where, requirements: options.requirements },
    });
  }
  return { found: null, stale: options.explicit && candidates.length ? `the lock ${drift.join("; ")} — not used, resolving instead` : null };
}

async function locksFromFile(file: string): Promise<{ file: string; lock: Pylock }[]> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new VenvflowError("pylock_not_found", `Cannot read the lock file ${file}: ${(error as Error).message}`, { fix: "check lockFile's path (relative to the DAG file's directory)", details: { file }, cause: error });
  }
  return [{ file, lock: parsePylock(text, file, path.dirname(file)) }];
}

export interface LockTarget {
  /** Who uses the environment: a task id. */
  label: string;
  spec: ResolvedSpec;
}

export interface WrittenLock {
  file: string;
  tasks: string[];
  packages: number;
  /** The file's content changed (or it is new). */
  changed: boolean;
  /** Locked versions that moved, "name a → b" (added and removed packages too). */
  updates: string[];
}

function lockFileName(dagFile: string, label: string): string {
  const stem = path.basename(dagFile).replace(/\.[^.]+$/, "");
  return `pylock.${`${stem}-${label}`.replace(/[^A-Za-z0-9_-]+/g, "-")}.toml`;
}

function lines(requirements: readonly RequirementLine[]): string[] {
  return requirements.map((l) => l.text);
}

function pylockFrom(result: ResolveResult, spec: ResolvedSpec, dag: string): Pylock {
  const byName = new Map(result.distributions.map((d) => [d.name, d]));
  const packages: PylockPackage[] = result.distributions.map((d) => {
    const dependencies = [...new Set(d.metadata.requiresDist.map((r) => canonicalizeName(new Requirement(r).name)))].filter((n) => byName.has(n)).sort();
    return {
      name: d.name,
      version: d.version,
      ...(d.metadata.requiresPython ? { requiresPython: d.metadata.requiresPython } : {}),
      index: redactUrl(d.index),
      ...(dependencies.length ? { dependencies: dependencies.map((name) => ({ name, version: byName.get(name)?.version as string })) } : {}),
      wheels: [{ name: d.filename, url: redactUrl(d.url), sha256: d.sha256 as string }],
      requested: d.requested,
    };
  });
  return {
    lockVersion: "1.0",
    createdBy: "venvflow",
    packages,
    venvflow: { identity: spec.lockIdentity, dag, python: `${spec.interpreter.major}.${spec.interpreter.minor}`, requirements: spec.lockRequirements, constraints: spec.lockConstraints },
  };
}

/**
 * Locks every distinct environment of a DAG file beside it. `upgrade`: true re-resolves everything; a name
 * re-resolves that package only; absent, versions already locked are kept while they still fit.
 */
export async function lockDagEnvironments(dagFile: string, targets: LockTarget[], options: { upgrade?: true | string; home: string; env: NodeJS.ProcessEnv; onProgress?: (message: string) => void }): Promise<{ written: WrittenLock[]; removed: string[] }> {
  const dir = path.dirname(path.resolve(dagFile));
  const existing = await locksIn(dir);
  const groups = new Map<string, LockTarget[]>();
  for (const target of targets) groups.set(target.spec.lockIdentity, [...(groups.get(target.spec.lockIdentity) ?? []), target]);
  const upgradeName = typeof options.upgrade === "string" ? canonicalizeName(options.upgrade) : null;
  const written: WrittenLock[] = [];
  for (const [identity, group] of groups) {
    const { spec } = group[0] as LockTarget;
    const tasks = group.map((t) => t.label);
    const unsupported = unsupportedByVenvflow({
      interpreter: spec.interpreter,
      requirements: spec.requirements,
      constraints: spec.constraints,
      sources: { indexUrls: spec.indexUrls, findLinks: spec.findLinks, installOptions: spec.installOptions },
      systemSitePackages: spec.systemSitePackages,
      env: options.env,
    });
    if (unsupported) {
      throw new VenvflowError("lock_unsupported", `Cannot lock the environment of ${tasks.join(", ")}: ${spec.redactor.redact(unsupported)}`, {
        fix: "lock only environments of named requirements from an index (publish a wheel for a URL or VCS requirement)",
        details: { tasks },
      });
    }
    const sameIdentity = existing.find((e) => e.lock.venvflow?.identity === identity);
    const file = sameIdentity?.file ?? path.join(dir, lockFileName(dagFile, tasks[0] as string));
    const prior = sameIdentity ?? existing.find((e) => e.file === file);
    const indexes = await indexesFor({ indexUrls: spec.indexUrls, findLinks: spec.findLinks, installOptions: spec.installOptions }, options.env, options.home);
    if (typeof indexes === "string") throw new VenvflowError("lock_unsupported", `Cannot lock the environment of ${tasks.join(", ")}: ${indexes}`, { fix: "use an index URL instead of a remote find-links page" });
    const keep = options.upgrade === true || !prior ? [] : prior.lock.packages.filter((p) => canonicalizeName(p.name) !== upgradeName).map((p) => `${canonicalizeName(p.name)}==${p.version}`);
    const resolveWith = (pins: string[]) =>
      resolve(lines(spec.requirements), {
        constraints: [...lines(spec.constraints), ...pins],
        indexes,
        target: targetFor(spec.interpreter),
        prereleases: spec.installOptions.includes("--pre"),
        cacheDir: path.join(options.home, "cache", "index"),
        env: options.env,
      });
    options.onProgress?.(`resolving the environment of ${tasks.join(", ")}${keep.length ? ` (keeping ${keep.length} locked versions${upgradeName ? `, upgrading ${upgradeName}` : ""})` : ""}`);
    let result: ResolveResult;
    try {
      result = await resolveWith(keep);
    } catch (error) {
      if (keep.length === 0 || !(error instanceof VenvflowError)) throw error;
      options.onProgress?.("the locked versions no longer fit the requirements: resolving afresh");
      result = await resolveWith([]);
    }
    const sdist = result.distributions.find((d) => !d.filename.endsWith(".whl") || d.sha256 === null);
    if (sdist) {
      throw new VenvflowError("lock_unsupported", `Cannot lock the environment of ${tasks.join(", ")}: ${sdist.filename} ${sdist.filename.endsWith(".whl") ? "has no sha256 on its index" : "is a source distribution (venvflow locks wheels only)"}`, {
        fix: `publish a wheel of ${sdist.name} to the index, or pin a version of it that has one`,
        details: { tasks, file: sdist.filename },
      });
    }
    // A lock another DAG file of this directory wrote for the same environment stays that file's (it removes it).
    const lock = pylockFrom(result, spec, sameIdentity?.lock.venvflow?.dag ?? path.basename(dagFile));
    const before = await fs.readFile(file, "utf8").catch(() => null);
    await writePylock(file, lock);
    const after = await fs.readFile(file, "utf8");
    const old = new Map<string, string>((prior?.lock.packages ?? []).map((p) => [canonicalizeName(p.name), p.version]));
    const updates = [
      ...lock.packages.filter((p) => old.get(p.name) !== p.version).map((p) => `${p.name} ${old.get(p.name) ?? "(new)"} → ${p.version}`),
      ...[...old.keys()].filter((n) => !lock.packages.some((p) => p.name === n)).map((n) => `${n} ${old.get(n) ?? ""} → (removed)`),
    ];
    written.push({ file, tasks, packages: lock.packages.length, changed: before !== after, updates: prior ? updates : [] });
  }
  // Locks this DAG file wrote before for environments it no longer has.
  const removed: string[] = [];
  for (const e of existing) {
    if (e.lock.venvflow?.dag === path.basename(dagFile) && !written.some((w) => w.file === e.file)) {
      await fs.rm(e.file, { force: true });
      removed.push(e.file);
    }
  }
  return { written, removed };
}
