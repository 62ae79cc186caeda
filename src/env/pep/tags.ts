/**
 * Wheel compatibility tags (PEP 425, PEP 600, PEP 656): a TypeScript port of `packaging.tags`,
 * `packaging._manylinux` and `packaging._musllinux` from pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 *
 * packaging inspects the running interpreter; venvflow describes a target interpreter instead
 * (`InterpreterDescription`), so every input packaging reads from `sys`/`sysconfig` is a parameter here.
 */
import { VenvflowError } from "../../util/errors.ts";

export const INTERPRETER_SHORT_NAMES: Readonly<Record<string, string>> = {
  python: "py",
  cpython: "cp",
  pypy: "pp",
  ironpython: "ip",
  jython: "jy",
};

/** One (interpreter, abi, platform) triple, lowercased like packaging's `Tag`. */
export class Tag {
  readonly interpreter: string;
  readonly abi: string;
  readonly platform: string;

  constructor(interpreter: string, abi: string, platform: string) {
    this.interpreter = interpreter.toLowerCase();
    this.abi = abi.toLowerCase();
    this.platform = platform.toLowerCase();
  }

  toString(): string {
    return `${this.interpreter}-${this.abi}-${this.platform}`;
  }

  equals(other: Tag): boolean {
    return this.toString() === other.toString();
  }
}

/**
 * Expands a (possibly compressed) tag such as "py2.py3-none-any" into its distinct tags. With `validateOrder`,
 * components not sorted per PEP 425 throw VenvflowError("unsorted_tags").
 */
export function parseTag(tag: string, options: { validateOrder?: boolean } = {}): Tag[] {
  const components = tag.split("-");
  if (components.length !== 3) {
    throw new VenvflowError("invalid_tag", `Invalid tag: ${JSON.stringify(tag)}`, {
      fix: "Write a tag as {python}-{abi}-{platform}, e.g. py3-none-any",
    });
  }
  const [interpreters, abis, platforms] = components as [string, string, string];
  if (options.validateOrder) {
    for (const component of components) {
      const parts = component.split(".");
      // Python sorts str by code point; JS's default sort compares UTF-16 units, equal for these ASCII tags.
      if (parts.join(".") !== [...parts].sort().join(".")) {
        throw new VenvflowError("unsorted_tags", `Tag component ${JSON.stringify(component)} is not in sorted order per PEP 425`, {
          fix: "Sort the dot-separated parts of each tag component",
        });
      }
    }
  }
  const seen = new Map<string, Tag>();
  for (const interpreter of interpreters.split(".")) {
    for (const abi of abis.split(".")) {
      for (const platform of platforms.split(".")) {
        const t = new Tag(interpreter, abi, platform);
        if (!seen.has(t.toString())) seen.set(t.toString(), t);
      }
    }
  }
  return [...seen.values()];
}

function versionNodot(version: readonly number[]): string {
  return version.join("");
}

function isThreadedCpython(abis: readonly string[]): boolean {
  const m = abis.length > 0 ? /^cp\d+(.*)$/s.exec(abis[0] as string) : null;
  return m !== null && (m[1] ?? "").includes("t");
}

function atLeast(version: readonly number[], major: number, minor: number): boolean {
  const [a = 0, b] = version;
  if (a !== major) return a > major;
  return b !== undefined && b >= minor;
}

/** Build flags that decide a CPython interpreter's own ABI tag (packaging reads them from sysconfig). */
export interface CpythonBuild {
  debug?: boolean;
  /** `--disable-gil` builds (3.13+): "t" ABI flag. */
  freeThreaded?: boolean;
  /** Only consulted before 3.8 ("m" flag); default true as on standard builds. */
  pymalloc?: boolean;
  /** Only consulted before 3.3 ("u" flag); default true. */
  ucs4?: boolean;
}

/** The ABIs a CPython build supports, most specific first (packaging's `_cpython_abis`). */
export function cpythonAbis(pythonVersion: readonly number[], build: CpythonBuild = {}): string[] {
  const version = versionNodot(pythonVersion.slice(0, 2));
  const debug = build.debug ? "d" : "";
  const threading = atLeast(pythonVersion, 3, 13) && build.freeThreaded ? "t" : "";
  let pymalloc = "";
  let ucs4 = "";
  const abis: string[] = [];
  if (!atLeast(pythonVersion, 3, 8)) {
    if (build.pymalloc ?? true) pymalloc = "m";
    if (!atLeast(pythonVersion, 3, 3) && (build.ucs4 ?? true)) ucs4 = "u";
  } else if (debug) {
    // Debug builds can also load extension modules built for the normal ABI.
    abis.push(`cp${version}${threading}`);
  }
  abis.unshift(`cp${version}${threading}${debug}${pymalloc}${ucs4}`);
  return abis;
}

/** Tags for a CPython interpreter, best first (packaging's `cpython_tags` with explicit abis and platforms). */
export function cpythonTags(pythonVersion: readonly number[], abis: readonly string[], platforms: readonly string[]): Tag[] {
  const out: Tag[] = [];
  const interpreter = `cp${versionNodot(pythonVersion.slice(0, 2))}`;
  // 'abi3' and 'none' are placed explicitly below; packaging removes only their first occurrence.
  const ownAbis = [...abis];
  for (const explicit of ["abi3", "none"]) {
    const i = ownAbis.indexOf(explicit);
    if (i >= 0) ownAbis.splice(i, 1);
  }
  for (const abi of ownAbis) for (const p of platforms) out.push(new Tag(interpreter, abi, p));
  const threading = isThreadedCpython(ownAbis);
  const stable = pythonVersion.length > 1 && atLeast(pythonVersion, 3, 2);
  const useAbi3 = stable && !threading;
  const useAbi3t = stable && threading;
  if (useAbi3) for (const p of platforms) out.push(new Tag(interpreter, "abi3", p));
  if (useAbi3t) for (const p of platforms) out.push(new Tag(interpreter, "abi3t", p));
  for (const p of platforms) out.push(new Tag(interpreter, "none", p));
  if (useAbi3 || useAbi3t) {
    for (let minor = (pythonVersion[1] ?? 0) - 1; minor > 1; minor--) {
      const older = `cp${versionNodot([pythonVersion[0] ?? 3, minor])}`;
      for (const p of platforms) {
        if (useAbi3) out.push(new Tag(older, "abi3", p));
        if (useAbi3t) out.push(new Tag(older, "abi3t", p));
      }
    }
  }
  return out;
}

/** Tags for an interpreter without special handling (packaging's `generic_tags`); "none" is always added. */
export function genericTags(interpreter: string, abis: readonly string[], platforms: readonly string[]): Tag[] {
  const all = abis.includes("none") ? [...abis] : [...abis, "none"];
  const out: Tag[] = [];
  for (const abi of all) for (const p of platforms) out.push(new Tag(interpreter, abi, p));
  return out;
}

function* pyInterpreterRange(pythonVersion: readonly number[]): Generator<string> {
  const [major = 3, minor] = pythonVersion;
  if (minor !== undefined) yield `py${versionNodot([major, minor])}`;
  yield `py${major}`;
  if (minor !== undefined) for (let m = minor - 1; m >= 0; m--) yield `py${versionNodot([major, m])}`;
}

/** Pure-Python tags, best first (packaging's `compatible_tags`). */
export function compatibleTags(pythonVersion: readonly number[], interpreter: string | null, platforms: readonly string[]): Tag[] {
  const out: Tag[] = [];
  for (const v of pyInterpreterRange(pythonVersion)) for (const p of platforms) out.push(new Tag(v, "none", p));
  if (interpreter) out.push(new Tag(interpreter, "none", "any"));
  for (const v of pyInterpreterRange(pythonVersion)) out.push(new Tag(v, "none", "any"));
  return out;
}

const MANYLINUX_ARCHS = new Set(["x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64"]);
const LEGACY_MANYLINUX: Readonly<Record<string, string>> = {
  "2.17": "manylinux2014",
  "2.12": "manylinux2010",
  "2.5": "manylinux1",
};
// packaging guesses 50 for the last minor of a future glibc major; keep the same guess.
const LAST_GLIBC_MINOR = 50;

/**
 * manylinux platform tags for a glibc version, newest first (packaging's `_manylinux.platform_tags`, assuming the
 * interpreter's ELF ABI matches `archs` and no `_manylinux` override module exists).
 */
export function manylinuxPlatforms(archs: readonly string[], glibc: readonly [number, number]): string[] {
  // armv7l and i686 are only reached for matching 32-bit interpreters, which the caller's description asserts.
  if (!archs.some((a) => MANYLINUX_ARCHS.has(a) || a === "armv7l" || a === "i686")) return [];
  const tooOld: [number, number] = archs.some((a) => a === "x86_64" || a === "i686") ? [2, 4] : [2, 16];
  const maxList: [number, number][] = [[glibc[0], glibc[1]]];
  for (let major = glibc[0] - 1; major > 1; major--) maxList.push([major, LAST_GLIBC_MINOR]);
  const out: string[] = [];
  for (const arch of archs) {
    for (const [major, maxMinor] of maxList) {
      const minMinor = major === tooOld[0] ? tooOld[1] : -1;
      for (let minor = maxMinor; minor > minMinor; minor--) {
        out.push(`manylinux_${major}_${minor}_${arch}`);
        const legacy = LEGACY_MANYLINUX[`${major}.${minor}`];
        if (legacy) out.push(`${legacy}_${arch}`);
      }
    }
  }
  return out;
}

/** musllinux platform tags for a musl version, newest first (packaging's `_musllinux.platform_tags`). */
export function musllinuxPlatforms(archs: readonly string[], musl: readonly [number, number]): string[] {
  const out: string[] = [];
  for (const arch of archs) for (let minor = musl[1]; minor >= 0; minor--) out.push(`musllinux_${musl[0]}_${minor}_${arch}`);
  return out;
}

export interface LinuxPlatform {
  /** Machine as in `linux_<arch>`, e.g. "x86_64", "aarch64", "armv8l". */
  arch: string;
  /** glibc (major, minor) the interpreter runs on; null for none (e.g. musl systems). */
  glibc: readonly [number, number] | null;
  /** musl (major, minor) when the interpreter links musl; null otherwise. */
  musl: readonly [number, number] | null;
}

/** Every platform tag a Linux interpreter accepts, best first (packaging's `_linux_platforms`). */
export function linuxPlatforms(platform: LinuxPlatform): string[] {
  const archs = platform.arch === "armv8l" ? ["armv8l", "armv7l"] : [platform.arch];
  return [
    ...(platform.glibc ? manylinuxPlatforms(archs, platform.glibc) : []),
    ...(platform.musl ? musllinuxPlatforms(archs, platform.musl) : []),
    ...archs.map((a) => `linux_${a}`),
  ];
}

/** A target interpreter, described instead of inspected. */
export interface InterpreterDescription {
  /** `sys.implementation.name`: "cpython", "pypy", ... */
  implementation: string;
  major: number;
  minor: number;
  /**
   * The interpreter's own ABIs, most specific first. Default for CPython: `cpythonAbis([major, minor])`;
   * other implementations have no default (their ABI comes from EXT_SUFFIX) and get only "none".
   */
  abis?: readonly string[];
  /** Platform tags, best first, e.g. `linuxPlatforms(...)` or ["win_amd64"]. */
  platforms: readonly string[];
}

/**
 * The tags an interpreter supports, best first: packaging's `sys_tags` for that interpreter
 * (`cpython_tags` or `generic_tags`, then `compatible_tags`).
 */
export function supportedTags(interp: InterpreterDescription): Tag[] {
  const version = [interp.major, interp.minor];
  const short = INTERPRETER_SHORT_NAMES[interp.implementation] ?? interp.implementation;
  const nodot = versionNodot(version);
  if (short === "cp") {
    const abis = interp.abis ?? cpythonAbis(version);
    return [...cpythonTags(version, abis, interp.platforms), ...compatibleTags(version, `cp${nodot}`, interp.platforms)];
  }
  return [
    ...genericTags(`${short}${nodot}`, interp.abis ?? [], interp.platforms),
    ...compatibleTags(version, short === "pp" ? "pp3" : null, interp.platforms),
  ];
}

/**
 * Orders things by their best supported tag and drops the unsupported ones (packaging's
 * `create_compatible_tags_selector`). `supported` is best first; ties keep input order.
 */
export function selectCompatible<T>(supported: Iterable<Tag>, things: Iterable<readonly [T, readonly Tag[]]>): T[] {
  const rank = new Map<string, number>();
  let i = 0;
  for (const tag of supported) {
    const key = tag.toString();
    if (!rank.has(key)) rank.set(key, i);
    i++;
  }
  const ranked: [T, number][] = [];
  for (const [thing, tags] of things) {
    let best = Infinity;
    for (const tag of tags) best = Math.min(best, rank.get(tag.toString()) ?? Infinity);
    if (best !== Infinity) ranked.push([thing, best]);
  }
  return ranked.sort((a, b) => a[1] - b[1]).map(([thing]) => thing);
}
