/**
 * PEP 440 version specifiers: a TypeScript port of `packaging.specifiers` from pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 *
 * Pre-release semantics follow packaging 26.2, which changed `contains()` for `prereleases` unset (None): older
 * packaging rejected a pre-release unless the specifier named one, 26.x accepts a pre-release whenever nothing
 * but pre-releases matched. `contains()` checks a single item, so `new Specifier(">=1.0").contains("1.1a1")` is
 * now true (as in packaging 26.2). To pick versions the PEP 440 way ("pre-releases only if no final release
 * fits"), run `filter()` over all candidates; pass `prereleases: false` to reject them outright.
 */
import { VenvflowError } from "../../util/errors.ts";
import { PY_WS, pyStrip } from "./pystr.ts";
import { type VersionRange, intersectRanges, onlyPrereleaseRanges, specifierRanges } from "./ranges.ts";
import { canonicalizeVersion } from "./utils.ts";
import { Version, tryParseVersion } from "./version.ts";

export type Operator = "~=" | "==" | "!=" | "<=" | ">=" | "<" | ">" | "===";
export type UnparsedVersion = Version | string;

/** Options shared by `contains` and `filter`. */
export interface PrereleaseOptions {
  /** true: allow pre-releases; false: reject them; null/undefined: packaging's default rules. */
  prereleases?: boolean | null;
}

export interface FilterOptions<T> extends PrereleaseOptions {
  /** Picks the version out of each item (packaging's `key=`). */
  key?: (item: T) => UnparsedVersion;
}

const PRE = "(?:[-_.]?(alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?";
const POST = "(?:(?:-[0-9]+)|(?:[-_.]?(post|rev|r)[-_.]?[0-9]*))?";
const DEV = "(?:[-_.]?dev[-_.]?[0-9]*)?";

/** packaging's `Specifier._specifier_regex_str` (unanchored; the requirement tokenizer reuses it). */
export const SPECIFIER_PATTERN =
  "(?:" +
  // The identity operator is an escape hatch: an exact string match with no PEP 440 meaning.
  `(?:===[${PY_WS}]*[^${PY_WS};)]*)` +
  // == and != allow wildcards and local versions.
  `|(?:(?:==|!=)[${PY_WS}]*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*` +
  `(?:\\.\\*|${PRE}${POST}${DEV}(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?)?)` +
  // ~= needs at least two release components.
  `|(?:~=[${PY_WS}]*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)+${PRE}${POST}${DEV})` +
  // Ordered comparisons allow neither local versions nor wildcards.
  `|(?:(?:<=|>=|<|>)[${PY_WS}]*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*${PRE}${POST}${DEV})` +
  ")";

const SPECIFIER_REGEX = new RegExp(`^[${PY_WS}]*${SPECIFIER_PATTERN}[${PY_WS}]*$`, "i");
const PREFIX_REGEX = /^([0-9]+)((?:a|b|c|rc)[0-9]+)$/;

function coerceVersion(version: UnparsedVersion): Version | null {
  return version instanceof Version ? version : tryParseVersion(version);
}

function publicVersion(version: Version): Version {
  return version.local === null ? version : version.replace({ local: null });
}

/** Splits "1!2.3rc1" into ["1", "2", "3", "rc1"] for prefix matching (packaging's `_version_split`). */
function versionSplit(version: string): string[] {
  const bang = version.lastIndexOf("!");
  const epoch = bang < 0 ? "" : version.slice(0, bang);
  const rest = bang < 0 ? version : version.slice(bang + 1);
  const result = [epoch || "0"];
  for (const item of rest.split(".")) {
    const m = PREFIX_REGEX.exec(item);
    if (m) result.push(m[1] as string, m[2] as string);
    else result.push(item);
  }
  return result;
}

function versionJoin(components: readonly string[]): string {
  const [epoch, ...rest] = components;
  return `${epoch}!${rest.join(".")}`;
}

function isNotSuffix(segment: string): boolean {
  return !["dev", "a", "b", "rc", "post"].some((prefix) => segment.startsWith(prefix));
}

function isDigits(segment: string): boolean {
  return /^[0-9]+$/.test(segment);
}

function numericPrefixLen(split: readonly string[]): number {
  let count = 0;
  for (const segment of split) {
    if (!isDigits(segment)) break;
    count++;
  }
  return count;
}

function leftPad(split: readonly string[], target: number): readonly string[] {
  const numeric = numericPrefixLen(split);
  const pad = target - numeric;
  if (pad <= 0) return split;
  return [...split.slice(0, numeric), ...Array<string>(pad).fill("0"), ...split.slice(numeric)];
}

function arbitraryEqual(prospective: UnparsedVersion, spec: string): boolean {
  return String(prospective).toLowerCase() === spec.toLowerCase();
}

/** A single specifier such as ">=1.0" or "==2.*" (packaging's `Specifier`). */
export class Specifier {
  readonly operator: Operator;
  /** The version part as written (stripped), e.g. "1.0.*". */
  readonly version: string;
  /** The explicit pre-release override given at construction, if any. */
  private readonly explicitPrereleases: boolean | null;
  private specVersion: Version | null | undefined;
  private ranges: readonly VersionRange[] | undefined;

  /** Throws VenvflowError("invalid_specifier") for text packaging rejects. */
  constructor(spec: string, prereleases: boolean | null = null) {
    if (!SPECIFIER_REGEX.test(spec)) {
      throw new VenvflowError("invalid_specifier", `Invalid specifier: ${JSON.stringify(spec)}`, {
        fix: "Use an operator (~=, ==, !=, <=, >=, <, >, ===) followed by a PEP 440 version, e.g. >=1.2,<2",
        details: { specifier: spec },
      });
    }
    const text = pyStrip(spec);
    const opLength = text.startsWith("===") ? 3 : ["~=", "==", "!=", "<=", ">="].some((op) => text.startsWith(op)) ? 2 : 1;
    this.operator = text.slice(0, opLength) as Operator;
    this.version = pyStrip(text.slice(opLength));
    this.explicitPrereleases = prereleases;
  }

  /** The specifier's version parsed; null only for "===" with a non-PEP 440 string. */
  private getSpecVersion(): Version | null {
    if (this.specVersion === undefined) this.specVersion = tryParseVersion(this.version);
    return this.specVersion;
  }

  /** For operators other than "===", whose version the regex guarantees is valid. */
  private requireSpecVersion(version: string): Version {
    const parsed = version === this.version ? this.getSpecVersion() : tryParseVersion(version);
    if (parsed === null) throw new Error(`unreachable: ${this.operator}${version} passed the specifier regex`);
    return parsed;
  }

  /**
   * Whether pre-releases are allowed by default: the explicit override, else true when the specifier names a
   * pre-release, false for "!=" and "==X.*", null for "===" with a non-version string.
   */
  get prereleases(): boolean | null {
    if (this.explicitPrereleases !== null) return this.explicitPrereleases;
    if (this.operator === "!=") return false;
    if (this.operator === "==" && this.version.endsWith(".*")) return false;
    const version = this.getSpecVersion();
    return version === null ? null : version.isPrerelease;
  }

  /** The explicit override only (packaging's `_prereleases`). */
  get prereleasesOverride(): boolean | null {
    return this.explicitPrereleases;
  }

  /** "op" + "version" as written (stripped), packaging's `str(Specifier)`. */
  toString(): string {
    return `${this.operator}${this.version}`;
  }

  /** The form equality and de-duplication use: trailing zeros stripped except for "~=". */
  canonicalString(): string {
    if (this.operator === "===" || this.version.endsWith(".*")) return this.toString();
    const canonical = canonicalizeVersion(this.requireSpecVersion(this.version), {
      stripTrailingZero: this.operator !== "~=",
    });
    return `${this.operator}${canonical}`;
  }

  /** Equal when the canonical forms are equal; the pre-release override is ignored (as in packaging). */
  equals(other: Specifier | string): boolean {
    const that = typeof other === "string" ? trySpecifier(other) : other;
    return that !== null && this.canonicalString() === that.canonicalString();
  }

  /** @internal Sorted, non-overlapping version ranges this specifier admits ("===" admits everything). */
  toRanges(): readonly VersionRange[] {
    this.ranges ??= specifierRanges(this.operator, this.version);
    return this.ranges;
  }

  /** @internal The operator test for a parsed version, without pre-release policy. */
  matchOperator(prospective: Version, spec: string = this.version): boolean {
    switch (this.operator) {
      case "~=":
        return this.compareCompatible(prospective, spec);
      case "==":
        return this.compareEqual(prospective, spec);
      case "!=":
        return !this.compareEqual(prospective, spec);
      case "<=":
        return publicVersion(prospective).compare(this.requireSpecVersion(spec)) <= 0;
      case ">=":
        return publicVersion(prospective).compare(this.requireSpecVersion(spec)) >= 0;
      case "<":
        return this.compareLessThan(prospective, spec);
      case ">":
        return this.compareGreaterThan(prospective, spec);
      case "===":
        return arbitraryEqual(prospective, spec);
    }
  }

  private compareCompatible(prospective: Version, spec: string): boolean {
    // ~=2.2 is >=2.2,==2.*: drop the last release component, ignoring suffix segments.
    const kept: string[] = [];
    for (const part of versionSplit(spec)) {
      if (!isNotSuffix(part)) break;
      kept.push(part);
    }
    const prefix = `${versionJoin(kept.slice(0, -1))}.*`;
    return publicVersion(prospective).compare(this.requireSpecVersion(spec)) >= 0 && this.compareEqual(prospective, prefix);
  }

  private compareEqual(prospective: Version, spec: string): boolean {
    if (spec.endsWith(".*")) {
      const splitSpec = versionSplit(canonicalizeVersion(spec.slice(0, -2), { stripTrailingZero: false }));
      const specNumericLen = numericPrefixLen(splitSpec);
      // Prefix matching ignores the local label and pads the prospective release with zeros.
      const splitProspective = versionSplit(canonicalizeVersion(publicVersion(prospective), { stripTrailingZero: false }));
      const shortened = leftPad(splitProspective, specNumericLen).slice(0, splitSpec.length);
      return shortened.length === splitSpec.length && shortened.every((part, i) => part === splitSpec[i]);
    }
    const specVersion = this.requireSpecVersion(spec);
    // Without a local label in the specifier, the candidate's local label is ignored.
    const candidate = specVersion.local ? prospective : publicVersion(prospective);
    return candidate.equals(specVersion);
  }

  private compareLessThan(prospective: Version, specStr: string): boolean {
    const spec = this.requireSpecVersion(specStr);
    if (!(prospective.compare(spec) < 0)) return false;
    // PEP 440: <V must not allow a pre-release of V unless V itself is a pre-release.
    if (!spec.isPrerelease && prospective.isPrerelease && prospective.compare(spec.replace({ dev: 0, local: null })) >= 0) {
      return false;
    }
    return true;
  }

  private compareGreaterThan(prospective: Version, specStr: string): boolean {
    const spec = this.requireSpecVersion(specStr);
    if (!(prospective.compare(spec) > 0)) return false;
    // PEP 440: >V must not allow a post-release of V unless V itself is a post-release...
    if (
      !spec.isPostrelease &&
      prospective.isPostrelease &&
      prospective.replace({ post: null, dev: null, local: null }).equals(spec)
    ) {
      return false;
    }
    // ...nor a local version of V.
    if (prospective.local !== null && publicVersion(prospective).equals(spec)) return false;
    return true;
  }

  /** Whether `item` satisfies this specifier (packaging's `Specifier.contains`). */
  contains(item: UnparsedVersion, options: PrereleaseOptions = {}): boolean {
    return this.filter([item], options).length > 0;
  }

  /** The items that satisfy this specifier, in order (packaging's `Specifier.filter`). */
  filter<T>(items: Iterable<T>, options: FilterOptions<T> = {}): T[] {
    const prereleases = options.prereleases ?? null;
    const keyOf = (item: T): UnparsedVersion => (options.key ? options.key(item) : (item as UnparsedVersion));
    const includePrereleases = prereleases ?? this.prereleases;
    const yielded: T[] = [];
    const heldPrereleases: T[] = [];
    let foundNonPrereleases = false;
    for (const item of items) {
      const parsed = coerceVersion(keyOf(item));
      let match = false;
      if (parsed === null) {
        // === can match strings that are not versions at all.
        if (this.operator === "===" && arbitraryEqual(item as UnparsedVersion, this.version)) yielded.push(item);
      } else if (this.operator === "===") {
        match = arbitraryEqual(keyOf(item), this.version);
      } else {
        match = this.matchOperator(parsed);
      }
      if (match && parsed !== null) {
        if (!parsed.isPrerelease || includePrereleases) {
          foundNonPrereleases = true;
          yielded.push(item);
        } else if (prereleases === null && this.explicitPrereleases !== false) {
          heldPrereleases.push(item);
        }
      }
    }
    // Pre-releases are the fallback when nothing else matched and they were not forbidden.
    if (!foundNonPrereleases && prereleases === null && this.explicitPrereleases !== false) yielded.push(...heldPrereleases);
    return yielded;
  }
}

/** The specifier, or null when `text` is not one. */
export function trySpecifier(text: string): Specifier | null {
  try {
    return new Specifier(text);
  } catch (error) {
    if (error instanceof VenvflowError && error.code === "invalid_specifier") return null;
    throw error;
  }
}

/** PEP 440: drop pre-releases unless no final release is present (packaging's `_pep440_filter_prereleases`). */
function pep440FilterPrereleases<T>(items: Iterable<T>, keyOf: (item: T) => UnparsedVersion): T[] {
  const out: T[] = [];
  const allNonfinal: T[] = [];
  const arbitraryStrings: T[] = [];
  let foundFinal = false;
  for (const item of items) {
    const parsed = coerceVersion(keyOf(item));
    if (parsed === null) {
      // Strings that are not versions already passed every specifier; their pre-release status is unknowable.
      if (foundFinal) out.push(item);
      else {
        arbitraryStrings.push(item);
        allNonfinal.push(item);
      }
      continue;
    }
    if (!parsed.isPrerelease) {
      if (!foundFinal) {
        out.push(...arbitraryStrings);
        foundFinal = true;
      }
      out.push(item);
      continue;
    }
    if (!foundFinal) allNonfinal.push(item);
  }
  return foundFinal ? out : allNonfinal;
}

/** Cheap, selective operators first; only the short-circuit order changes, never the result. */
function operatorCost(spec: Specifier): number {
  const wildcard = spec.version.endsWith(".*");
  switch (spec.operator) {
    case "==":
      return wildcard ? 2 : 0;
    case "===":
      return 0;
    case "~=":
      return 2;
    case "!=":
      return wildcard ? 4 : 3;
    default:
      return 1;
  }
}

/** A comma-separated set of specifiers, all of which must match (packaging's `SpecifierSet`). */
export class SpecifierSet implements Iterable<Specifier> {
  private specs: Specifier[];
  private canonicalized: boolean;
  private readonly hasArbitrary: boolean;
  private readonly explicitPrereleases: boolean | null;

  /** Parses "">=1.0,!=1.3"" (empty means "any version"); throws VenvflowError("invalid_specifier"). */
  constructor(specifiers: string | Iterable<Specifier> = "", prereleases: boolean | null = null) {
    if (typeof specifiers === "string") {
      this.specs = specifiers
        .split(",")
        .map((s) => pyStrip(s))
        .filter((s) => s.length > 0)
        .map((s) => new Specifier(s));
      this.hasArbitrary = specifiers.includes("===");
    } else {
      this.specs = [...specifiers];
      this.hasArbitrary = this.specs.some((s) => s.toString().includes("==="));
    }
    this.canonicalized = this.specs.length <= 1;
    this.explicitPrereleases = prereleases;
  }

  /**
   * Sorted by string and de-duplicated by canonical form, lazily as packaging does: after `toString()` the
   * set iterates in that order too.
   */
  private canonicalSpecs(): Specifier[] {
    if (!this.canonicalized) {
      const seen = new Map<string, Specifier>();
      const sorted = [...this.specs].sort((a, b) => (a.toString() < b.toString() ? -1 : a.toString() > b.toString() ? 1 : 0));
      for (const s of sorted) if (!seen.has(s.canonicalString())) seen.set(s.canonicalString(), s);
      this.specs = [...seen.values()];
      this.canonicalized = true;
    }
    return this.specs;
  }

  /** The explicit override, else true when any member names a pre-release, else null. */
  get prereleases(): boolean | null {
    if (this.explicitPrereleases !== null) return this.explicitPrereleases;
    if (this.specs.length === 0) return null;
    return this.specs.some((s) => s.prereleases) ? true : null;
  }

  get size(): number {
    return this.specs.length;
  }

  [Symbol.iterator](): Iterator<Specifier> {
    return this.specs[Symbol.iterator]();
  }

  /** Normalized: members sorted and de-duplicated, joined by ",". */
  toString(): string {
    return this.canonicalSpecs()
      .map((s) => s.toString())
      .join(",");
  }

  /** Same members (canonically); pre-release overrides are ignored, as in packaging. */
  equals(other: SpecifierSet | Specifier | string): boolean {
    const that = other instanceof SpecifierSet ? other : new SpecifierSet(other.toString());
    const a = this.canonicalSpecs();
    const b = that.canonicalSpecs();
    return a.length === b.length && a.every((s, i) => s.canonicalString() === (b[i] as Specifier).canonicalString());
  }

  /** The intersection of two sets (packaging's `&`). */
  and(other: SpecifierSet | string): SpecifierSet {
    const that = typeof other === "string" ? new SpecifierSet(other) : other;
    let prereleases: boolean | null;
    if (this.explicitPrereleases === null || this.explicitPrereleases === that.explicitPrereleases) {
      prereleases = that.explicitPrereleases;
    } else if (that.explicitPrereleases === null) {
      prereleases = this.explicitPrereleases;
    } else {
      throw new VenvflowError("invalid_specifier", "Cannot combine SpecifierSets with True and False prerelease overrides.", {
        fix: "Give both specifier sets the same prereleases setting, or leave one unset",
      });
    }
    return new SpecifierSet([...this.specs, ...that.specs], prereleases);
  }

  /** True when no version can satisfy every member at once (packaging's `is_unsatisfiable`). */
  isUnsatisfiable(): boolean {
    if (this.specs.length === 0) return false;
    let ranges: readonly VersionRange[] | null = null;
    for (const s of this.specs) {
      ranges = ranges === null ? s.toRanges() : intersectRanges(ranges, s.toRanges());
      if (ranges.length === 0) return true;
    }
    if (this.arbitraryUnsatisfiable()) return true;
    return this.prereleases === false && onlyPrereleaseRanges(ranges ?? []);
  }

  /** "===V" only matches the string V: check the members agree on it and that it passes the other members. */
  private arbitraryUnsatisfiable(): boolean {
    const arbitrary = this.specs.filter((s) => s.operator === "===");
    const first = arbitrary[0];
    if (first === undefined) return false;
    if (arbitrary.some((s) => s.version.toLowerCase() !== first.version.toLowerCase())) return true;
    const candidate = coerceVersion(first.version);
    // With pre-releases excluded, a pre-release candidate is rejected before the string check runs.
    if (this.prereleases === false && candidate !== null && candidate.isPrerelease) return true;
    const standard = this.specs.filter((s) => s.operator !== "===");
    if (standard.length === 0) return false;
    if (candidate === null) return true;
    return !standard.every((s) => s.contains(candidate));
  }

  /**
   * Whether `item` satisfies every member (packaging's `SpecifierSet.contains`). `installed: true` accepts an
   * installed pre-release even when pre-releases are otherwise excluded.
   */
  contains(item: UnparsedVersion, options: PrereleaseOptions & { installed?: boolean } = {}): boolean {
    const version = coerceVersion(item);
    let prereleases = options.prereleases ?? null;
    if (version !== null && options.installed && version.isPrerelease) prereleases = true;
    // With "===" involved a string item is compared as written, not normalized.
    const checkItem = version === null || (this.hasArbitrary && !(item instanceof Version)) ? item : version;
    return this.filter([checkItem], { prereleases }).length > 0;
  }

  /** The items that satisfy every member, in order (packaging's `SpecifierSet.filter`). */
  filter<T>(items: Iterable<T>, options: FilterOptions<T> = {}): T[] {
    const keyOf = (item: T): UnparsedVersion => (options.key ? options.key(item) : (item as UnparsedVersion));
    let prereleases = options.prereleases ?? null;
    if (prereleases === null && this.prereleases !== null) prereleases = this.prereleases;
    if (this.specs.length > 0) {
      // Undecided pre-releases pass the members first; PEP 440's fallback rule is applied to the survivors.
      const passPrereleases = prereleases ?? true;
      const filtered =
        this.specs.length === 1
          ? (this.specs[0] as Specifier).filter(items, { prereleases: passPrereleases, ...(options.key ? { key: options.key } : {}) })
          : this.filterVersions(items, keyOf, passPrereleases);
      return prereleases !== null ? filtered : pep440FilterPrereleases(filtered, keyOf);
    }
    if (prereleases === true) return [...items];
    if (prereleases === false) {
      return [...items].filter((item) => {
        const v = coerceVersion(keyOf(item));
        return v === null || !v.isPrerelease;
      });
    }
    return pep440FilterPrereleases(items, keyOf);
  }

  private filterVersions<T>(items: Iterable<T>, keyOf: (item: T) => UnparsedVersion, prereleases: boolean): T[] {
    const ops = [...this.specs].sort((a, b) => operatorCost(a) - operatorCost(b));
    const out: T[] = [];
    for (const item of items) {
      const parsed = coerceVersion(keyOf(item));
      if (parsed === null) {
        // Only "===" can match a string that is not a version.
        if (ops.every((s) => s.operator === "===" && arbitraryEqual(item as UnparsedVersion, s.version))) out.push(item);
      } else if (!prereleases && parsed.isPrerelease) {
        continue;
      } else if (ops.every((s) => (s.operator === "===" ? arbitraryEqual(keyOf(item), s.version) : s.matchOperator(parsed)))) {
        out.push(item);
      }
    }
    return out;
  }
}
