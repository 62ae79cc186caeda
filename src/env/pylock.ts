/**
 * PEP 751 lock files (`pylock.toml`, lock-version 1.0): written by a small TOML writer in the layout uv and pip
 * write (one `[[packages]]` table per package, wheels as inline tables), read with smol-toml and checked with zod.
 * Only wheel sources are supported: venvflow installs wheels, so a package locked to an sdist, a VCS checkout or a
 * directory is refused with a clear error. venvflow's own per-package data lives under `[packages.tool.venvflow]`,
 * as the PEP reserves `tool` tables for it. Credentials never go into a lock: URLs are written without userinfo.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { VenvflowError } from "../util/errors.ts";
import { Marker, type MarkerEnvironmentInput } from "./pep/markers.ts";
import { Requirement } from "./pep/requirements.ts";
import { SpecifierSet } from "./pep/specifiers.ts";
import { selectCompatible, type Tag } from "./pep/tags.ts";
import { canonicalizeName, parseWheelFilename } from "./pep/utils.ts";
import { parseVersion } from "./pep/version.ts";
import type { LockedWheel } from "./wheels/install.ts";

export interface PylockWheel {
  /** The wheel's filename (derived from the URL when omitted). */
  name?: string;
  url: string;
  sha256: string;
  size?: number;
}

export interface PylockPackage {
  name: string;
  version: string;
  /** PEP 508 marker: the package is installed only where it is true. */
  marker?: string;
  requiresPython?: string;
  /** The index the package came from (its simple API URL). */
  index?: string;
  /** Names (and versions) of the packages it depends on, for humans and for `lock --upgrade NAME`. */
  dependencies?: { name: string; version?: string }[];
  wheels: PylockWheel[];
  /** The user asked for it directly (venvflow's `tool.venvflow.requested`). */
  requested?: boolean;
}

/** `[tool.venvflow]`: which declared environment a lock belongs to, so that builds find it and notice drift. */
export interface PylockEnvironment {
  /** Identity of the declared environment (src/env/locking.ts `lockIdentity`). */
  identity: string;
  /** The DAG file (its basename) the lock was written for. */
  dag?: string;
  /** Canonical requirement and constraint lines it was resolved from (redacted). */
  requirements: string[];
  constraints: string[];
  /** "3.11": the Python the lock was resolved for. */
  python: string;
}

export interface Pylock {
  lockVersion: "1.0";
  createdBy: string;
  requiresPython?: string;
  /** Markers of the environments this lock is valid for. */
  environments?: string[];
  packages: PylockPackage[];
  venvflow?: PylockEnvironment;
}

/** `https://user:pass@host/x` → `https://host/x`. */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1");
}

function tomlString(value: string): string {
  // TOML basic string: backslash, quote and control characters escaped.
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`))}"`;
}

type TomlValue = string | number | boolean | TomlValue[] | { [key: string]: TomlValue | undefined };

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

function tomlInline(value: TomlValue): string {
  if (typeof value === "string") return tomlString(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlInline).join(", ")}]`;
  const entries = Object.entries(value).filter((e): e is [string, TomlValue] => e[1] !== undefined);
  return entries.length === 0 ? "{}" : `{ ${entries.map(([k, v]) => `${tomlKey(k)} = ${tomlInline(v)}`).join(", ")} }`;
}

/** `key = value` lines; arrays of inline tables one element per line, as uv and pip lay them out. */
function tomlLines(table: Record<string, TomlValue | undefined>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(table)) {
    if (value === undefined) continue;
    if (Array.isArray(value) && value.some((v) => typeof v === "object")) {
      lines.push(`${tomlKey(key)} = [`, ...value.map((v) => `    ${tomlInline(v)},`), "]");
    } else lines.push(`${tomlKey(key)} = ${tomlInline(value)}`);
  }
  return lines;
}

/** Throws the pep module's VenvflowError (invalid_marker, invalid_specifier, invalid_version) for what a reader would refuse. */
function checkWritable(lock: Pylock): void {
  for (const marker of lock.environments ?? []) new Marker(marker);
  if (lock.requiresPython !== undefined) new SpecifierSet(lock.requiresPython);
  for (const pkg of lock.packages) {
    parseVersion(pkg.version);
    if (pkg.marker !== undefined) new Marker(pkg.marker);
    if (pkg.requiresPython !== undefined) new SpecifierSet(pkg.requiresPython);
    if (pkg.wheels.length === 0) throw invalid("the lock", `package ${pkg.name} ${pkg.version} has no wheels`);
  }
}

/** The lock as PEP 751 TOML. Packages are written sorted by name, so the same lock always gives the same bytes. */
export function stringifyPylock(lock: Pylock): string {
  checkWritable(lock);
  const out = tomlLines({
    "lock-version": lock.lockVersion,
    environments: lock.environments,
    "requires-python": lock.requiresPython,
    "created-by": lock.createdBy,
  });
  if (lock.venvflow) {
    const v = lock.venvflow;
    out.push("", "[tool.venvflow]", ...tomlLines({ identity: v.identity, dag: v.dag, python: v.python, requirements: v.requirements, constraints: v.constraints }));
  }
  const packages = [...lock.packages].sort((a, b) => canonicalizeName(a.name).localeCompare(canonicalizeName(b.name)) || a.version.localeCompare(b.version));
  for (const pkg of packages) {
    out.push("", "[[packages]]");
    out.push(
      ...tomlLines({
        name: canonicalizeName(pkg.name),
        version: pkg.version,
        marker: pkg.marker,
        "requires-python": pkg.requiresPython,
        index: pkg.index === undefined ? undefined : withoutCredentials(pkg.index),
        dependencies: pkg.dependencies?.map((d) => ({ name: canonicalizeName(d.name), version: d.version })),
        wheels: pkg.wheels.map((w) => {
          const url = withoutCredentials(w.url);
          return { name: w.name ?? decodeURIComponent(new URL(url).pathname.split("/").pop() ?? ""), url, size: w.size, hashes: { sha256: w.sha256.toLowerCase() } };
        }),
      }),
    );
    if (pkg.requested !== undefined) out.push("", "[packages.tool.venvflow]", ...tomlLines({ requested: pkg.requested }));
  }
  return `${out.join("\n")}\n`;
}

const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, "a sha256 is 64 hex digits");
const wheelSchema = z.object({
  name: z.string().optional(),
  url: z.string().optional(),
  path: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  hashes: z.object({ sha256 }).passthrough(),
}).passthrough();
const packageSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  marker: z.string().optional(),
  "requires-python": z.string().optional(),
  index: z.string().optional(),
  dependencies: z.array(z.object({ name: z.string(), version: z.string().optional() }).passthrough()).optional(),
  wheels: z.array(wheelSchema).optional(),
  sdist: z.unknown().optional(),
  vcs: z.unknown().optional(),
  directory: z.unknown().optional(),
  archive: z.unknown().optional(),
  tool: z.object({ venvflow: z.object({ requested: z.boolean().optional() }).passthrough().optional() }).passthrough().optional(),
}).passthrough();
const lockSchema = z.object({
  tool: z.object({ venvflow: z.object({ identity: z.string(), dag: z.string().optional(), python: z.string(), requirements: z.array(z.string()), constraints: z.array(z.string()) }).passthrough().optional() }).passthrough().optional(),
  "lock-version": z.string(),
  "created-by": z.string().min(1),
  "requires-python": z.string().optional(),
  environments: z.array(z.string()).optional(),
  packages: z.array(packageSchema),
}).passthrough();

function invalid(source: string, why: string, cause?: unknown): VenvflowError {
  return new VenvflowError("pylock_invalid", `${source} is not a lock file venvflow can use: ${why}`, {
    fix: "write it again with `venvflow lock`, or fix the entry named above",
    details: { file: source },
    cause,
  });
}

/** Parses a pylock.toml; `source` names the file in errors. Relative wheel `path`s are resolved against `baseDir`. */
export function parsePylock(text: string, source = "pylock.toml", baseDir?: string): Pylock {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    throw invalid(source, `it is not valid TOML (${(error as Error).message.split("\n")[0]})`, error);
  }
  const parsed = lockSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(source, `${issue?.path.join(".") || "the file"}: ${issue?.message ?? "invalid"}`);
  }
  const lock = parsed.data;
  if (!/^1(\.\d+)?$/.test(lock["lock-version"])) throw invalid(source, `lock-version ${lock["lock-version"]} is not supported (1.x is)`);
  const packages = lock.packages.map((pkg): PylockPackage => {
    const other = (["sdist", "vcs", "directory", "archive"] as const).find((k) => pkg[k] !== undefined);
    if (!pkg.wheels?.length) throw invalid(source, `package ${pkg.name} ${pkg.version} has no wheels${other ? ` (it is locked to a ${other}, which venvflow's installer does not build)` : ""}`);
    return {
      name: pkg.name,
      version: pkg.version,
      marker: pkg.marker,
      requiresPython: pkg["requires-python"],
      index: pkg.index,
      dependencies: pkg.dependencies?.map((d) => ({ name: d.name, ...(d.version === undefined ? {} : { version: d.version }) })),
      wheels: pkg.wheels.map((w) => {
        const url = w.url ?? (w.path === undefined ? undefined : new URL(`file://${path.resolve(baseDir ?? ".", w.path)}`).href);
        if (!url) throw invalid(source, `a wheel of ${pkg.name} has neither url nor path`);
        return { ...(w.name === undefined ? {} : { name: w.name }), url, sha256: w.hashes.sha256.toLowerCase(), ...(w.size === undefined ? {} : { size: w.size }) };
      }),
      requested: pkg.tool?.venvflow?.requested,
    };
  });
  return {
    lockVersion: "1.0",
    createdBy: lock["created-by"],
    ...(lock["requires-python"] === undefined ? {} : { requiresPython: lock["requires-python"] }),
    ...(lock.environments === undefined ? {} : { environments: lock.environments }),
    packages,
    ...(lock.tool?.venvflow === undefined ? {} : { venvflow: { identity: lock.tool.venvflow.identity, ...(lock.tool.venvflow.dag === undefined ? {} : { dag: lock.tool.venvflow.dag }), python: lock.tool.venvflow.python, requirements: lock.tool.venvflow.requirements, constraints: lock.tool.venvflow.constraints } }),
  };
}

export async function readPylock(file: string): Promise<Pylock> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    throw new VenvflowError("pylock_not_found", `Cannot read the lock file ${file}: ${(error as Error).message}`, { fix: "run `venvflow lock` to write it", details: { file }, cause: error });
  }
  return parsePylock(text, file, path.dirname(file));
}

/** Writes the lock atomically (a reader never sees half a file). */
export async function writePylock(file: string, lock: Pylock): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, stringifyPylock(lock));
  await fs.rename(tmp, file);
}

export interface SelectOptions {
  /** Tags the target interpreter accepts, best first (`interpreterTags(python)`). */
  tags: readonly Tag[];
  /** The target's marker environment; without it every package is installed. */
  markerEnvironment?: MarkerEnvironmentInput;
  /** Adds credentials to a URL at install time (locks never hold them). */
  authenticate?: (url: string) => string;
}

/**
 * What `installLocked` installs for a target: the packages whose marker holds there, each with its best wheel
 * for the target's tags. A package without a compatible wheel is an error that names it.
 */
export function lockedWheels(lock: Pylock, options: SelectOptions): LockedWheel[] {
  const out: LockedWheel[] = [];
  for (const pkg of lock.packages) {
    if (pkg.marker && options.markerEnvironment && !new Marker(pkg.marker).evaluate(options.markerEnvironment, "lock_file")) continue;
    const candidates = pkg.wheels.map((w) => [w, parseWheelFilename(w.name ?? decodeURIComponent(new URL(w.url).pathname.split("/").pop() ?? "")).tags] as const);
    const best = selectCompatible(options.tags, candidates)[0];
    if (!best) {
      throw new VenvflowError("pylock_no_compatible_wheel", `The lock has no wheel of ${pkg.name} ${pkg.version} for this interpreter (it has ${pkg.wheels.map((w) => w.name ?? w.url).join(", ")})`, {
        fix: "lock again on (or for) this platform and Python version",
        details: { name: pkg.name, version: pkg.version },
      });
    }
    out.push({ name: pkg.name, version: pkg.version, wheelUrl: options.authenticate ? options.authenticate(best.url) : best.url, sha256: best.sha256, requested: pkg.requested ?? false });
  }
  return out;
}

/** The parts of pip's `install --dry-run --report` JSON (format 1) a lock needs. */
export interface PipInstallReport {
  install: {
    download_info: { url: string; archive_info?: { hashes?: Record<string, string> } };
    requested: boolean;
    metadata: { name: string; version: string; requires_python?: string; requires_dist?: string[] };
  }[];
}

/**
 * A lock from pip's resolution report (`pip install --dry-run --ignore-installed --report FILE ...`): each
 * package with the wheel pip chose, its sha256, and its dependencies among the locked packages. A package pip
 * would build from an sdist cannot be locked for venvflow's installer: the error names it.
 */
export function pylockFromPipReport(report: PipInstallReport, options: { createdBy?: string; requiresPython?: string; environments?: string[]; index?: string } = {}): Pylock {
  const locked = new Set(report.install.map((i) => canonicalizeName(i.metadata.name)));
  const packages = report.install.map((item): PylockPackage => {
    const { url } = item.download_info;
    const sha = item.download_info.archive_info?.hashes?.sha256;
    if (!url.endsWith(".whl") || !sha) {
      throw new VenvflowError("pylock_needs_wheel", `${item.metadata.name} ${item.metadata.version} resolved to ${withoutCredentials(url)}, not a wheel with a sha256`, {
        fix: `publish a wheel of ${item.metadata.name} to the index (or pin a version that has one), or use installer: "pip"`,
        details: { name: item.metadata.name, version: item.metadata.version },
      });
    }
    const dependencies = [...new Set((item.metadata.requires_dist ?? []).map((line) => canonicalizeName(new Requirement(line).name)))]
      .filter((name) => locked.has(name))
      .sort()
      .map((name) => ({ name }));
    return {
      name: item.metadata.name,
      version: item.metadata.version,
      ...(item.metadata.requires_python ? { requiresPython: item.metadata.requires_python } : {}),
      ...(options.index ? { index: options.index } : {}),
      ...(dependencies.length ? { dependencies } : {}),
      wheels: [{ url, sha256: sha }],
      requested: item.requested,
    };
  });
  return {
    lockVersion: "1.0",
    createdBy: options.createdBy ?? "venvflow",
    ...(options.requiresPython ? { requiresPython: options.requiresPython } : {}),
    ...(options.environments ? { environments: options.environments } : {}),
    packages,
  };
}
