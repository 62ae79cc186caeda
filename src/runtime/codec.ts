/**
 * Values crossing the TypeScript ↔ Python boundary travel as JSON. What JSON cannot carry is a tagged object:
 * a `Date` becomes a tz-aware UTC `datetime`, and a Python value only Python understands stays an opaque pickle
 * that TypeScript passes on untouched to a later Python task.
 */
import { VenvflowError } from "../util/errors.ts";
import type { Serializer } from "./types.ts";

export const TAG = "__venvflow__";

/** A Python value kept as the pickle-family serializer wrote it; pass it as an argument to hand it back. */
export interface OpaquePythonValue {
  __venvflow__: "pickle";
  serializer: Exclude<Serializer, "json">;
  /** The serialized bytes, base64. */
  b64: string;
  /** Python type, e.g. "datetime.datetime", "set", "mymodule.Point". */
  type: string;
  /** `repr()` of the value, cut to 200 characters: for logs and humans only. */
  repr: string;
}

const PICKLE_FAMILY: ReadonlySet<string> = new Set(["pickle", "cloudpickle", "dill"]);

export function isOpaquePythonValue(value: unknown): value is OpaquePythonValue {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v[TAG] === "pickle" && typeof v.serializer === "string" && PICKLE_FAMILY.has(v.serializer) && typeof v.b64 === "string" && typeof v.type === "string";
}

function badArgument(where: string, what: string): VenvflowError {
  return new VenvflowError("invalid_argument", `${where} is ${what}, which cannot be passed to Python`, {
    fix: "pass JSON data (objects, arrays, strings, finite numbers, booleans, null), Dates, or a Python value a previous task returned",
  });
}

/** Encodes one argument value for the runner; `where` names it in errors (e.g. `opKwargs.x[2]`). */
export function encodeValue(value: unknown, where: string): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw badArgument(where, String(value));
    return value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw badArgument(where, "an invalid Date");
    return { [TAG]: "datetime", iso: value.toISOString() };
  }
  if (Array.isArray(value)) return value.map((item, i) => encodeValue(item, `${where}[${i}]`));
  if (typeof value === "object") {
    if (isOpaquePythonValue(value)) return value;
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw badArgument(where, `a ${value.constructor?.name ?? "non-plain object"}`);
    if (TAG in value) throw badArgument(where, `an object with the reserved key "${TAG}"`);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = encodeValue(item, `${where}.${key}`);
    }
    return out;
  }
  throw badArgument(where, `a ${typeof value}`);
}

/** Decodes the runner's result: tagged datetimes become Dates, opaque pickles stay as they are. */
export function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (typeof value === "object" && value !== null) {
    const v = value as Record<string, unknown>;
    if (v[TAG] === "datetime" && typeof v.iso === "string") return new Date(v.iso);
    if (isOpaquePythonValue(value)) return value;
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, decodeValue(item)]));
  }
  return value;
}

/** What "Done. Returned value was: …" shows: JSON for plain data, the Python repr for opaque values. */
export function describeValue(value: unknown, limit = 1000): string {
  const text = isOpaquePythonValue(value)
    ? value.repr
    : JSON.stringify(value, (_key, item: unknown) => (isOpaquePythonValue(item) ? `<${item.type}: ${item.repr}>` : item)) ?? "null";
  return text.length <= limit ? text : `${text.slice(0, limit - 3)}...`;
}
