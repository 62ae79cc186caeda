/**
 * PEP 508 environment markers: a TypeScript port of `packaging.markers` from pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 *
 * packaging evaluates against the running interpreter by default; venvflow targets other interpreters, so
 * `evaluate` takes the environment explicitly (`MARKER_ENVIRONMENT_SCRIPT` prints one for any Python).
 */
import { VenvflowError } from "../../util/errors.ts";
import { type MarkerItem, type MarkerList, type MarkerVar, StringLiteralError, parseMarker } from "./parser.ts";
import { trySpecifier } from "./specifiers.ts";
import { ParserSyntaxError } from "./tokenizer.ts";
import { canonicalizeName } from "./utils.ts";

/** The standard marker variables (packaging's `Environment`). */
export interface MarkerEnvironment {
  implementation_name: string;
  implementation_version: string;
  os_name: string;
  platform_machine: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  python_full_version: string;
  platform_python_implementation: string;
  python_version: string;
  sys_platform: string;
}

/** What `evaluate` accepts: the standard keys plus `extra` (a string) or `extras`/`dependency_groups` (sets). */
export type MarkerEnvironmentInput = Partial<MarkerEnvironment> & { [key: string]: string | ReadonlySet<string> | undefined };

/** Which names a marker may use: core metadata (`extra`), lock files (`extras`, `dependency_groups`), or other. */
export type EvaluateContext = "metadata" | "lock_file" | "requirement";

/**
 * Python source that prints the interpreter's marker environment as JSON, computed exactly as packaging's
 * `default_environment()` (without needing packaging installed).
 */
export const MARKER_ENVIRONMENT_SCRIPT = `
import json, os, platform, sys
def _v(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": _v(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
`;

const MARKERS_ALLOWING_SET = new Set(["extras", "dependency_groups"]);
const MARKERS_REQUIRING_VERSION = new Set(["implementation_version", "platform_release", "python_full_version", "python_version"]);

type EnvValue = string | ReadonlySet<string>;

/** `extra == "Foo_Bar"` compares canonical names (PEP 685), so the literal is normalized once at parse time. */
function normalizeExtras(item: MarkerItem): MarkerItem {
  const { lhs, rhs } = item;
  if (lhs.kind === "variable" && lhs.value === "extra") return { ...item, rhs: { kind: "value", value: canonicalizeName(rhs.value) } };
  if (rhs.kind === "variable" && rhs.value === "extra") return { ...item, lhs: { kind: "value", value: canonicalizeName(lhs.value) } };
  return item;
}

/** packaging's `_normalize_extra_values`: only the top level is normalized, exactly as packaging does. */
export function normalizeExtraValues(markers: MarkerList): MarkerList {
  return markers.map((m) => (typeof m === "object" && !Array.isArray(m) ? normalizeExtras(m) : m));
}

function serializeVar(v: MarkerVar): string {
  return v.kind === "value" ? `"${v.value}"` : v.value;
}

function formatMarker(marker: MarkerList | MarkerItem | string, first = true): string {
  // A single-item list holding a list or item: skip it so no extraneous parentheses appear outside.
  if (Array.isArray(marker) && marker.length === 1 && typeof marker[0] === "object") return formatMarker(marker[0]);
  if (Array.isArray(marker)) {
    const inner = marker.map((m) => formatMarker(m, false)).join(" ");
    return first ? inner : `(${inner})`;
  }
  if (typeof marker === "object") return `${serializeVar(marker.lhs)} ${marker.op} ${serializeVar(marker.rhs)}`;
  return marker;
}

function evalOp(lhs: string, op: string, rhs: EnvValue, key: string): boolean {
  if (MARKERS_REQUIRING_VERSION.has(key) && typeof rhs === "string") {
    const spec = trySpecifier(`${op}${rhs}`);
    if (spec !== null) return spec.contains(lhs, { prereleases: true });
  }
  switch (op) {
    case "in":
      return typeof rhs === "string" ? rhs.includes(lhs) : rhs.has(lhs);
    case "not in":
      return typeof rhs === "string" ? !rhs.includes(lhs) : !rhs.has(lhs);
    // Without version semantics, only equality is defined: <= and >= mean ==, < and > never hold.
    case "<":
    case ">":
      return false;
    case "<=":
    case "==":
    case ">=":
      return lhs === rhs;
    case "!=":
      return lhs !== rhs;
    default:
      throw new VenvflowError("undefined_comparison", `Undefined ${op} on ${JSON.stringify(lhs)} and ${JSON.stringify(rhs)}.`, {
        fix: `Use ${op} only with version-valued markers (python_version, python_full_version, ...) and PEP 440 versions`,
      });
  }
}

function normalize(lhs: string, rhs: EnvValue, key: string): [string, EnvValue] {
  // PEP 685: extra names compare normalized; `extra` itself was normalized already.
  if (MARKERS_ALLOWING_SET.has(key)) {
    if (typeof rhs === "string") return [canonicalizeName(lhs), canonicalizeName(rhs)];
    return [canonicalizeName(lhs), new Set([...rhs].map((v) => canonicalizeName(v)))];
  }
  return [lhs, rhs];
}

function lookup(environment: ReadonlyMap<string, EnvValue>, key: string): EnvValue {
  const value = environment.get(key);
  if (value === undefined) {
    throw new VenvflowError("undefined_environment_name", `${JSON.stringify(key)} does not exist in evaluation environment.`, {
      fix: `Pass a value for ${key} in the marker environment`,
    });
  }
  return value;
}

function evaluateMarkers(markers: MarkerList, environment: ReadonlyMap<string, EnvValue>): boolean {
  const groups: boolean[][] = [[]];
  for (const marker of markers) {
    const group = groups[groups.length - 1] as boolean[];
    if (Array.isArray(marker)) {
      group.push(evaluateMarkers(marker, environment));
    } else if (typeof marker === "object") {
      const { lhs, op, rhs } = marker;
      let key: string;
      let lhsValue: EnvValue;
      let rhsValue: EnvValue;
      if (lhs.kind === "variable") {
        key = lhs.value;
        lhsValue = lookup(environment, key);
        rhsValue = rhs.value;
      } else {
        lhsValue = lhs.value;
        key = rhs.value;
        rhsValue = lookup(environment, key);
      }
      if (typeof lhsValue !== "string") {
        throw new VenvflowError("undefined_comparison", `${key} is a set and can only appear on the right of "in"/"not in"`, {
          fix: `Write '"name" in ${key}'`,
        });
      }
      const [l, r] = normalize(lhsValue, rhsValue, key);
      group.push(evalOp(l, op, r, key));
    } else if (marker === "or") {
      groups.push([]);
    }
  }
  return groups.some((group) => group.every(Boolean));
}

/** A parsed PEP 508 marker expression (packaging's `Marker`). */
export class Marker {
  private readonly markers: MarkerList;

  /** Throws VenvflowError("invalid_marker") with packaging's caret message. */
  constructor(marker: string | MarkerList) {
    if (typeof marker !== "string") {
      this.markers = marker;
      return;
    }
    try {
      this.markers = normalizeExtraValues(parseMarker(marker));
    } catch (error) {
      if (error instanceof ParserSyntaxError || error instanceof StringLiteralError) {
        throw new VenvflowError("invalid_marker", error.message, {
          fix: `Write a PEP 508 marker such as python_version >= "3.8" and sys_platform == "linux"`,
          details: { marker },
          cause: error,
        });
      }
      throw error;
    }
  }

  /** The normalized form, exactly packaging's `str(Marker(...))`. */
  toString(): string {
    return formatMarker(this.markers);
  }

  equals(other: Marker): boolean {
    return this.toString() === other.toString();
  }

  and(other: Marker): Marker {
    return new Marker([this.markers, "and", other.markers]);
  }

  or(other: Marker): Marker {
    return new Marker([this.markers, "or", other.markers]);
  }

  /**
   * Evaluates against `environment` (packaging's `Marker.evaluate`). Context "metadata" (the default) supplies
   * `extra = ""`; "lock_file" supplies empty `extras` and `dependency_groups`. A missing variable throws
   * VenvflowError("undefined_environment_name"); `~=`/`===` on non-versions throw "undefined_comparison".
   */
  evaluate(environment: MarkerEnvironmentInput, context: EvaluateContext = "metadata"): boolean {
    const env = new Map<string, EnvValue>();
    if (context === "lock_file") {
      env.set("extras", new Set());
      env.set("dependency_groups", new Set());
    } else if (context === "metadata") {
      env.set("extra", "");
    }
    for (const [key, value] of Object.entries(environment)) if (value !== undefined) env.set(key, value);
    const extra = env.get("extra");
    if (typeof extra === "string") env.set("extra", extra ? canonicalizeName(extra) : "");
    // platform.python_version() ends in "+" for untagged CPython builds, which is not PEP 440.
    const full = env.get("python_full_version");
    if (typeof full === "string" && full.endsWith("+")) env.set("python_full_version", `${full}local`);
    return evaluateMarkers(this.markers, env);
  }
}
