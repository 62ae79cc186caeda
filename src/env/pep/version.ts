/**
 * PEP 440 versions: a TypeScript port of `packaging.version` from pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 *
 * Numbers are kept as bigint because Python's int is unbounded: "1.0.99999999999999999999" must normalize and
 * compare exactly as packaging does. The public getters return plain numbers for convenience.
 */
import { VenvflowError } from "../../util/errors.ts";
import { PY_WS } from "./pystr.ts";

export type PreLetter = "a" | "b" | "rc";
type LocalPart = bigint | string;

const LETTER_NORMALIZATION: Readonly<Record<string, string>> = {
  alpha: "a",
  beta: "b",
  c: "rc",
  pre: "rc",
  preview: "rc",
  rev: "post",
  r: "post",
};

/**
 * The unanchored PEP 440 pattern (packaging's VERSION_PATTERN without possessive quantifiers, which JavaScript
 * lacks; packaging itself uses this spelling on interpreters without them). Use with the "i" flag.
 */
export const VERSION_PATTERN =
  "v?" +
  "(?:" +
  "(?:(?<epoch>[0-9]+)!)?" +
  "(?<release>[0-9]+(?:\\.[0-9]+)*)" +
  "(?<pre>[._-]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[._-]?(?<pre_n>[0-9]+)?)?" +
  "(?<post>(?:-(?<post_n1>[0-9]+))|(?:[._-]?(?<post_l>post|rev|r)[._-]?(?<post_n2>[0-9]+)?))?" +
  "(?<dev>[._-]?(?<dev_l>dev)[._-]?(?<dev_n>[0-9]+)?)?" +
  ")" +
  "(?:\\+(?<local>[a-z0-9]+(?:[._-][a-z0-9]+)*))?";

const VERSION_REGEX = new RegExp(`^[${PY_WS}]*${VERSION_PATTERN}[${PY_WS}]*$`, "i");
const SIMPLE_VERSION = /^[0-9.]*$/;
const LOCAL_SEPARATORS = /[._-]/;

function invalid(version: string): VenvflowError {
  return new VenvflowError("invalid_version", `Invalid version: ${JSON.stringify(version)}`, {
    fix: "Use a PEP 440 version such as 1.2, 1.2.3rc1, 2!1.0.post2.dev3 or 1.0+local.7",
    details: { version },
  });
}

function parseLetterVersion(letter: string | undefined, num: string | undefined): [string, bigint] | null {
  if (letter) {
    const lower = letter.toLowerCase();
    // An omitted number is an implicit 0 ("1.0a" is "1.0a0").
    return [LETTER_NORMALIZATION[lower] ?? lower, BigInt(num || 0)];
  }
  // A bare number is the implicit post-release spelling "1.0-1".
  if (num) return ["post", BigInt(num)];
  return null;
}

function parseLocal(local: string): LocalPart[] {
  return local.split(LOCAL_SEPARATORS).map((part) => (/^[0-9]+$/.test(part) ? BigInt(part) : part.toLowerCase()));
}

function cmp<T extends bigint | number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function trimZeros(release: readonly bigint[], keep: number): readonly bigint[] {
  let end = release.length;
  while (end > keep && release[end - 1] === 0n) end--;
  return end === release.length ? release : release.slice(0, end);
}

/** Pre-release rank: dev-only sorts before a < b < rc < no pre-release. */
const PRE_RANK: Readonly<Record<PreLetter, number>> = { a: 0, b: 1, rc: 2 };

/** The parts a Version is built from (all normalized). */
export interface VersionParts {
  epoch?: number | bigint;
  release: readonly (number | bigint)[];
  pre?: readonly [string, number | bigint] | null;
  post?: number | bigint | null;
  dev?: number | bigint | null;
  local?: string | null;
}

interface CmpKey {
  epoch: bigint;
  release: readonly bigint[];
  suffix: readonly bigint[];
  local: readonly LocalPart[] | null;
}

function nonNegative(name: string, value: number | bigint | null | undefined): bigint | null {
  if (value == null) return null;
  const n = BigInt(value);
  if (n < 0n) {
    throw new VenvflowError("invalid_version", `${name} must be a non-negative integer, got ${n}`, {
      fix: `Pass a ${name} of 0 or more`,
    });
  }
  return n;
}

/** A PEP 440 version. Immutable; order with `compare` / `compareVersions`. */
export class Version {
  private _epoch: bigint;
  private _release: readonly bigint[];
  private _pre: readonly [PreLetter, bigint] | null;
  private _post: bigint | null;
  private _dev: bigint | null;
  private _local: readonly LocalPart[] | null;
  private _str: string | undefined;
  private _key: CmpKey | undefined;

  /** Parses and normalizes `version`; throws VenvflowError("invalid_version") like packaging's InvalidVersion. */
  constructor(version: string) {
    if (SIMPLE_VERSION.test(version)) {
      const parts = version.split(".");
      if (parts.includes("")) throw invalid(version);
      this._epoch = 0n;
      this._release = parts.map((p) => BigInt(p));
      this._pre = null;
      this._post = null;
      this._dev = null;
      this._local = null;
      return;
    }
    const g = VERSION_REGEX.exec(version)?.groups;
    if (!g || g["release"] === undefined) throw invalid(version);
    this._epoch = g["epoch"] ? BigInt(g["epoch"]) : 0n;
    this._release = g["release"].split(".").map((p) => BigInt(p));
    this._pre = parseLetterVersion(g["pre_l"], g["pre_n"]) as [PreLetter, bigint] | null;
    this._post = parseLetterVersion(g["post_l"], g["post_n1"] || g["post_n2"])?.[1] ?? null;
    this._dev = parseLetterVersion(g["dev_l"], g["dev_n"])?.[1] ?? null;
    this._local = g["local"] === undefined ? null : parseLocal(g["local"]);
  }

  /** Builds a version from parts without going through a string (packaging's `Version.from_parts`). */
  static fromParts(parts: VersionParts): Version {
    const release = parts.release.map((n) => BigInt(n));
    if (release.length === 0 || release.some((n) => n < 0n)) {
      throw new VenvflowError("invalid_version", "release must be a non-empty list of non-negative integers", {
        fix: "Pass a release such as [1, 2, 3]",
      });
    }
    let pre: [PreLetter, bigint] | null = null;
    if (parts.pre) {
      const letter = parts.pre[0].toLowerCase();
      const normalized = LETTER_NORMALIZATION[letter] ?? letter;
      const n = nonNegative("pre-release number", parts.pre[1]);
      if (!(normalized in PRE_RANK) || n === null) {
        throw new VenvflowError("invalid_version", `pre must be ('a'|'b'|'rc', n), got ${JSON.stringify(parts.pre)}`, {
          fix: "Use a pre-release letter a, b or rc and a number of 0 or more",
        });
      }
      pre = [normalized as PreLetter, n];
    }
    if (parts.local != null && !/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/i.test(parts.local)) throw invalid(`+${parts.local}`);
    const v = Object.create(Version.prototype) as Version;
    v._epoch = nonNegative("epoch", parts.epoch) ?? 0n;
    v._release = release;
    v._pre = pre;
    v._post = nonNegative("post", parts.post);
    v._dev = nonNegative("dev", parts.dev);
    v._local = parts.local == null ? null : parseLocal(parts.local);
    return v;
  }

  /** A copy with some parts replaced (`null` clears a part), like packaging's `Version.__replace__`. */
  replace(parts: Partial<VersionParts>): Version {
    return Version.fromParts({
      epoch: "epoch" in parts ? parts.epoch : this._epoch,
      release: "release" in parts ? (parts.release ?? [0]) : this._release,
      pre: "pre" in parts ? parts.pre : this._pre,
      post: "post" in parts ? parts.post : this._post,
      dev: "dev" in parts ? parts.dev : this._dev,
      local: "local" in parts ? parts.local : this.local,
    });
  }

  get epoch(): number {
    return Number(this._epoch);
  }
  get release(): number[] {
    return this._release.map(Number);
  }
  get pre(): [PreLetter, number] | null {
    return this._pre ? [this._pre[0], Number(this._pre[1])] : null;
  }
  get post(): number | null {
    return this._post === null ? null : Number(this._post);
  }
  get dev(): number | null {
    return this._dev === null ? null : Number(this._dev);
  }
  get local(): string | null {
    return this._local && this._local.length > 0 ? this._local.join(".") : null;
  }
  /** The version without its local label. */
  get public(): string {
    return this.toString().split("+", 1)[0] ?? "";
  }
  /** Epoch and release only ("1!1.2.3dev1+abc" -> "1!1.2.3"). */
  get baseVersion(): string {
    const rel = this._release.join(".");
    return this._epoch ? `${this._epoch}!${rel}` : rel;
  }
  get isPrerelease(): boolean {
    return this._dev !== null || this._pre !== null;
  }
  get isPostrelease(): boolean {
    return this._post !== null;
  }
  get isDevrelease(): boolean {
    return this._dev !== null;
  }
  get major(): number {
    return Number(this._release[0] ?? 0n);
  }
  get minor(): number {
    return Number(this._release[1] ?? 0n);
  }
  get micro(): number {
    return Number(this._release[2] ?? 0n);
  }

  /** The normalized form, exactly packaging's `str(Version(...))`. */
  toString(): string {
    if (this._str !== undefined) return this._str;
    let out = this.baseVersion;
    if (this._pre) out += `${this._pre[0]}${this._pre[1]}`;
    if (this._post !== null) out += `.post${this._post}`;
    if (this._dev !== null) out += `.dev${this._dev}`;
    const local = this.local;
    if (local !== null) out += `+${local}`;
    this._str = out;
    return out;
  }

  /** `toString()` with trailing zeros of the release removed (one zero stays), packaging's `_TrimmedRelease`. */
  toTrimmedString(): string {
    const trimmed = trimZeros(this._release, 1);
    return trimmed === this._release ? this.toString() : this.replace({ release: trimmed }).toString();
  }

  /** -1, 0 or 1: PEP 440 ordering (packaging's `_cmpkey`). */
  compare(other: Version): number {
    const x = this.key();
    const y = other.key();
    const c = cmp(x.epoch, y.epoch) || compareSeq(x.release, y.release) || compareSeq(x.suffix, y.suffix);
    if (c) return c;
    if (x.local === null || y.local === null) return cmp(x.local === null ? 0 : 1, y.local === null ? 0 : 1);
    return compareLocal(x.local, y.local);
  }

  equals(other: Version): boolean {
    return this.compare(other) === 0;
  }

  private key(): CmpKey {
    if (this._key) return this._key;
    let preRank: bigint;
    let preN = 0n;
    // dev-only releases (1.0.dev1) sort before every a/b/rc; no pre-release sorts after rc.
    if (this._pre === null && this._post === null && this._dev !== null) preRank = -1n;
    else if (this._pre === null) preRank = 3n;
    else {
      preRank = BigInt(PRE_RANK[this._pre[0]]);
      preN = this._pre[1];
    }
    const suffix = [
      preRank,
      preN,
      this._post === null ? 0n : 1n,
      this._post ?? 0n,
      this._dev === null ? 1n : 0n,
      this._dev ?? 0n,
    ];
    this._key = { epoch: this._epoch, release: trimZeros(this._release, 0), suffix, local: this._local };
    return this._key;
  }
}

function compareSeq(a: readonly bigint[], b: readonly bigint[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmp(a[i] as bigint, b[i] as bigint);
    if (c) return c;
  }
  return cmp(a.length, b.length);
}

/** PEP 440 local ordering: strings sort before numbers, numbers numerically, shorter prefix first. */
function compareLocal(a: readonly LocalPart[], b: readonly LocalPart[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as LocalPart;
    const y = b[i] as LocalPart;
    if (typeof x !== typeof y) return typeof x === "string" ? -1 : 1;
    const c = cmp(x, y);
    if (c) return c;
  }
  return cmp(a.length, b.length);
}

/** -1, 0 or 1 for `a` before, equal to, or after `b` in PEP 440 order. Usable directly as a sort comparator. */
export function compareVersions(a: Version, b: Version): number {
  return a.compare(b);
}

/** Parses a version (packaging's `parse`). */
export function parseVersion(version: string): Version {
  return new Version(version);
}

/** The version, or null when `version` is not valid PEP 440. */
export function tryParseVersion(version: string): Version | null {
  try {
    return new Version(version);
  } catch (error) {
    if (error instanceof VenvflowError && error.code === "invalid_version") return null;
    throw error;
  }
}
