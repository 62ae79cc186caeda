/**
 * Names, canonical versions and distribution filenames: a TypeScript port of `packaging.utils` from
 * pypa/packaging 26.2.
 *
 * pypa/packaging is dual licensed under the terms of the Apache License, Version 2.0, and the BSD 2-Clause
 * License; copyright 2014 Donald Stufft and individual contributors. This port keeps that notice.
 */
import { VenvflowError } from "../../util/errors.ts";
import { type Tag, parseTag } from "./tags.ts";
import { Version, tryParseVersion } from "./version.ts";

/** A name as `canonicalizeName` returns it (PEP 503). */
export type NormalizedName = string & { readonly __normalizedName: unique symbol };

/** A wheel build tag: empty, or the leading number and the rest ("1abc" -> [1, "abc"]). */
export type BuildTag = readonly [] | readonly [number, string];

export interface WheelFilename {
  name: NormalizedName;
  version: Version;
  build: BuildTag;
  tags: Tag[];
}

export interface SdistFilename {
  name: NormalizedName;
  version: Version;
}

const VALIDATE_NAME = /^(?:[a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$/i;
const NORMALIZED_NAME = /^(?:[a-z0-9]|[a-z0-9](?:[a-z0-9-](?!--))*[a-z0-9])$/;
// PEP 427: the build number must start with a digit.
const BUILD_TAG = /^([0-9]+)(.*)$/s;
// Python's `\w` (Unicode letters, digits, underscore) for PEP 427's escaped project name.
const WHEEL_NAME = /^[\p{L}\p{N}_.]*$/u;

/**
 * PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become one `-`. With `validate`, names that are not
 * valid distribution names throw VenvflowError("invalid_name").
 */
export function canonicalizeName(name: string, options: { validate?: boolean } = {}): NormalizedName {
  if (options.validate && !VALIDATE_NAME.test(name)) {
    throw new VenvflowError("invalid_name", `name is invalid: ${JSON.stringify(name)}`, {
      fix: "Use letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
    });
  }
  return name.toLowerCase().replace(/[-_.]+/g, "-") as NormalizedName;
}

/** Whether `canonicalizeName(name) === name` for a valid name. */
export function isNormalizedName(name: string): boolean {
  return NORMALIZED_NAME.test(name);
}

/**
 * Canonical version string; trailing release zeros stripped unless `stripTrailingZero` is false.
 * Invalid versions are returned unaltered, as packaging does.
 */
export function canonicalizeVersion(version: Version | string, options: { stripTrailingZero?: boolean } = {}): string {
  const parsed = typeof version === "string" ? tryParseVersion(version) : version;
  if (parsed === null) return version as string;
  return options.stripTrailingZero === false ? parsed.toString() : parsed.toTrimmedString();
}

function invalidWheel(message: string): VenvflowError {
  return new VenvflowError("invalid_wheel_filename", message, {
    fix: "Name wheels {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427)",
  });
}

/** Splits a wheel filename into name, version, build tag and tags (packaging's `parse_wheel_filename`). */
export function parseWheelFilename(filename: string, options: { validateOrder?: boolean } = {}): WheelFilename {
  if (!filename.endsWith(".whl")) {
    throw invalidWheel(`Invalid wheel filename (extension must be '.whl'): ${JSON.stringify(filename)}`);
  }
  const stem = filename.slice(0, -4);
  const pieces = stem.split("-");
  const dashes = pieces.length - 1;
  if (dashes !== 4 && dashes !== 5) {
    throw invalidWheel(`Invalid wheel filename (wrong number of parts): ${JSON.stringify(stem)}`);
  }
  const namePart = pieces[0] as string;
  if (namePart.includes("__") || !WHEEL_NAME.test(namePart)) {
    throw invalidWheel(`Invalid project name: ${JSON.stringify(stem)}`);
  }
  const version = tryParseVersion(pieces[1] as string);
  if (version === null) throw invalidWheel(`Invalid wheel filename (invalid version): ${JSON.stringify(stem)}`);
  let build: BuildTag = [];
  if (dashes === 5) {
    const buildPart = pieces[2] as string;
    const m = BUILD_TAG.exec(buildPart);
    if (!m) throw invalidWheel(`Invalid build number: ${buildPart} in ${JSON.stringify(stem)}`);
    build = [Number(m[1]), m[2] ?? ""];
  }
  const tagStr = pieces.slice(-3).join("-");
  let tags: Tag[];
  try {
    tags = parseTag(tagStr, options);
  } catch (error) {
    if (error instanceof VenvflowError && error.code === "unsorted_tags") {
      throw invalidWheel(
        `Invalid wheel filename (compressed tag set components must be in sorted order per PEP 425): ${JSON.stringify(stem)}`,
      );
    }
    throw error;
  }
  return { name: canonicalizeName(namePart), version, build, tags };
}

/** Splits an sdist filename (`.tar.gz` or `.zip`) into name and version (packaging's `parse_sdist_filename`). */
export function parseSdistFilename(filename: string): SdistFilename {
  let stem: string;
  if (filename.endsWith(".tar.gz")) stem = filename.slice(0, -".tar.gz".length);
  else if (filename.endsWith(".zip")) stem = filename.slice(0, -".zip".length);
  else {
    throw new VenvflowError(
      "invalid_sdist_filename",
      `Invalid sdist filename (extension must be '.tar.gz' or '.zip'): ${JSON.stringify(filename)}`,
      { fix: "Name source distributions {name}-{version}.tar.gz" },
    );
  }
  // A PEP 440 version cannot contain '-', so the last dash separates name and version.
  const dash = stem.lastIndexOf("-");
  if (dash < 0) {
    throw new VenvflowError("invalid_sdist_filename", `Invalid sdist filename: ${JSON.stringify(filename)}`, {
      fix: "Name source distributions {name}-{version}.tar.gz",
    });
  }
  const version = tryParseVersion(stem.slice(dash + 1));
  if (version === null) {
    throw new VenvflowError("invalid_sdist_filename", `Invalid sdist filename (invalid version): ${JSON.stringify(filename)}`, {
      fix: "Use a PEP 440 version after the last '-'",
    });
  }
  return { name: canonicalizeName(stem.slice(0, dash)), version };
}
