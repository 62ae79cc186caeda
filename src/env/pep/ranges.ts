/**
 * Version ranges behind `SpecifierSet.isUnsatisfiable()`: a TypeScript port of the range model in
 * `packaging.specifiers` (pypa/packaging 26.2: `_BoundaryVersion`, `_LowerBound`, `_UpperBound`, `_to_ranges`).
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 */
import { Version } from "./version.ts";

/**
 * Points between real versions that specifier semantics imply, relative to a version V:
 * V < V+local < AFTER_LOCALS(V) < V.post0 < AFTER_POSTS(V) < the next release.
 */
export const AFTER_LOCALS = 1;
export const AFTER_POSTS = 2;

class BoundaryVersion {
  readonly version: Version;
  readonly kind: number;
  private readonly trimmed: string;

  constructor(version: Version, kind: number) {
    this.version = version;
    this.kind = kind;
    this.trimmed = trimRelease(version.release).join(".");
  }

  /** Is `other` a version this boundary sorts above (its local family, or its post family)? */
  isFamily(other: Version): boolean {
    const v = this.version;
    if (!(other.epoch === v.epoch && trimRelease(other.release).join(".") === this.trimmed && String(other.pre) === String(v.pre))) {
      return false;
    }
    if (this.kind === AFTER_LOCALS) return other.post === v.post && other.dev === v.dev;
    return other.dev === v.dev || other.post !== null;
  }
}

type Point = Version | BoundaryVersion;

/** Lower/upper bound; a null point is -inf/+inf. */
export interface Bound {
  point: Point | null;
  inclusive: boolean;
}
export type VersionRange = readonly [Bound, Bound];

const NEG_INF: Bound = { point: null, inclusive: false };
const POS_INF: Bound = { point: null, inclusive: false };
export const FULL_RANGE: readonly VersionRange[] = [[NEG_INF, POS_INF]];
const MIN_VERSION = new Version("0.dev0");

function trimRelease(release: readonly number[]): readonly number[] {
  let end = release.length;
  while (end > 1 && release[end - 1] === 0) end--;
  return release.slice(0, end);
}

/** Total order over versions and boundaries; a boundary never equals a real version. */
function comparePoints(a: Point, b: Point): number {
  if (a instanceof Version && b instanceof Version) return a.compare(b);
  if (a instanceof BoundaryVersion && b instanceof BoundaryVersion) return a.version.compare(b.version) || a.kind - b.kind;
  if (a instanceof BoundaryVersion) return !a.isFamily(b as Version) && a.version.compare(b as Version) < 0 ? -1 : 1;
  return -comparePoints(b, a);
}

function lowerLess(a: Bound, b: Bound): boolean {
  if (a.point === null) return b.point !== null;
  if (b.point === null) return false;
  const c = comparePoints(a.point, b.point);
  // At the same point an inclusive lower bound starts earlier.
  return c !== 0 ? c < 0 : a.inclusive && !b.inclusive;
}

function upperLess(a: Bound, b: Bound): boolean {
  if (a.point === null) return false;
  if (b.point === null) return true;
  const c = comparePoints(a.point, b.point);
  // At the same point an exclusive upper bound ends earlier.
  return c !== 0 ? c < 0 : !a.inclusive && b.inclusive;
}

function rangeIsEmpty(lower: Bound, upper: Bound): boolean {
  if (lower.point === null || upper.point === null) return false;
  const c = comparePoints(lower.point, upper.point);
  return c === 0 ? !(lower.inclusive && upper.inclusive) : c > 0;
}

/** Intersects two sorted, non-overlapping range lists (two-pointer merge). */
export function intersectRanges(left: readonly VersionRange[], right: readonly VersionRange[]): VersionRange[] {
  const result: VersionRange[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const [leftLower, leftUpper] = left[i] as VersionRange;
    const [rightLower, rightUpper] = right[j] as VersionRange;
    const lower = lowerLess(leftLower, rightLower) ? rightLower : leftLower;
    const upper = upperLess(rightUpper, leftUpper) ? rightUpper : leftUpper;
    if (!rangeIsEmpty(lower, upper)) result.push([lower, upper]);
    if (upperLess(leftUpper, rightUpper)) i++;
    else j++;
  }
  return result;
}

function nextPrefixDev0(version: Version): Version {
  const release = version.release;
  release[release.length - 1] = (release[release.length - 1] ?? 0) + 1;
  return Version.fromParts({ epoch: version.epoch, release, dev: 0 });
}

function baseDev0(version: Version): Version {
  return Version.fromParts({ epoch: version.epoch, release: version.release, dev: 0 });
}

/** The ranges one specifier admits (packaging's `Specifier._to_ranges`); "===" is modelled as everything. */
export function specifierRanges(operator: string, versionText: string): readonly VersionRange[] {
  if (operator === "===") return FULL_RANGE;
  if (versionText.endsWith(".*")) {
    const base = new Version(versionText.slice(0, -2));
    const lower = baseDev0(base);
    const upper = nextPrefixDev0(base);
    if (operator === "==") return [[{ point: lower, inclusive: true }, { point: upper, inclusive: false }]];
    return [
      [NEG_INF, { point: lower, inclusive: false }],
      [{ point: upper, inclusive: true }, POS_INF],
    ];
  }
  const v = new Version(versionText);
  switch (operator) {
    case ">=":
      return [[{ point: v, inclusive: true }, POS_INF]];
    case "<=":
      return [[NEG_INF, { point: new BoundaryVersion(v, AFTER_LOCALS), inclusive: true }]];
    case ">": {
      const dev = v.dev;
      const post = v.post;
      // A dev release has no post-releases: the next real version is V.dev(N+1).
      if (dev !== null) return [[{ point: v.replace({ dev: dev + 1, local: null }), inclusive: true }, POS_INF]];
      if (post !== null) return [[{ point: v.replace({ post: post + 1, dev: 0, local: null }), inclusive: true }, POS_INF]];
      // >V skips V+local and every V.postN.
      return [[{ point: new BoundaryVersion(v, AFTER_POSTS), inclusive: false }, POS_INF]];
    }
    case "<": {
      // <V excludes V's own pre-releases unless V is one; V.dev0 is the earliest of them.
      const bound = v.isPrerelease ? v : v.replace({ dev: 0, local: null });
      if (bound.compare(MIN_VERSION) <= 0) return [];
      return [[NEG_INF, { point: bound, inclusive: false }]];
    }
    case "~=": {
      const prefix = v.replace({ release: v.release.slice(0, -1) });
      return [[{ point: v, inclusive: true }, { point: nextPrefixDev0(prefix), inclusive: false }]];
    }
  }
  // == and !=: local versions of V match when the specifier has no local label.
  const upper: Point = versionText.includes("+") ? v : new BoundaryVersion(v, AFTER_LOCALS);
  if (operator === "==") return [[{ point: v, inclusive: true }, { point: upper, inclusive: true }]];
  return [
    [NEG_INF, { point: v, inclusive: false }],
    [{ point: upper, inclusive: false }, POS_INF],
  ];
}

/** Smallest non-pre-release version at or above `point`, or null for -inf. */
function nearestNonPrerelease(point: Point | null): Version | null {
  if (point === null) return null;
  if (point instanceof BoundaryVersion) {
    const inner = point.version;
    if (inner.isPrerelease) return inner.replace({ pre: null, dev: null, local: null });
    return inner.replace({ post: inner.post === null ? 0 : inner.post + 1, local: null });
  }
  return point.isPrerelease ? point.replace({ pre: null, dev: null, local: null }) : point;
}

/** With pre-releases excluded: does every range hold only pre-releases? */
export function onlyPrereleaseRanges(ranges: readonly VersionRange[]): boolean {
  for (const [lower, upper] of ranges) {
    const nearest = nearestNonPrerelease(lower.point);
    if (nearest === null) return false;
    if (upper.point === null) return false;
    const c = comparePoints(nearest, upper.point);
    if (c < 0 || (c === 0 && upper.inclusive)) return false;
  }
  return true;
}
