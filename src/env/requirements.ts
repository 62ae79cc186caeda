/**
 * Requirements as a task declares them: a list of lines, or a pip requirements file with `-r`/`-c`
 * nesting, comments, line continuations and pip options. Every requirement is validated with our
 * PEP 508 port before any installer runs, so a typo is an error naming the file and line, not a
 * pip traceback minutes later.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { VenvflowError } from "../util/errors.ts";
import { Redactor, redactUrl } from "../util/secrets.ts";
import { Requirement, canonicalizeName } from "./pep/index.ts";

export interface RequirementLine {
  /** The line as written (after joining continuations and removing comments). */
  text: string;
  /** Normalized PEP 508 form, or the path/URL as written for direct references pip accepts. */
  canonical: string;
  /** Canonical project name; null for a bare path or URL. */
  name: string | null;
  /** `== V` pins, for detecting contradictory pins before the installer runs. */
  pins: string[];
  /** Marker text, if any (pins only conflict when both apply). */
  marker: string | null;
  /** "requirements.txt:3", or "requirements[0]" for list entries. */
  origin: string;
  /** `--hash=ALG:HEX` options of the line (pip's hash-checking mode), as "sha256:…". */
  hashes: string[];
}

export interface ParsedRequirements {
  requirements: RequirementLine[];
  constraints: RequirementLine[];
  /** `--index-url` / `-i` from a file (last one wins, as in pip). */
  indexUrl: string | null;
  extraIndexUrls: string[];
  noIndex: boolean;
  findLinks: string[];
  /** Other pip options, passed to the installer as written (`--pre`, `--only-binary :all:`, …). */
  installOptions: string[];
  /** Files read, absolute. */
  files: string[];
}

/** Options pip accepts inside requirements files, and whether each takes a value. */
const FILE_OPTIONS: Record<string, { value: boolean; canonical: string }> = {
  "-r": { value: true, canonical: "--requirement" },
  "--requirement": { value: true, canonical: "--requirement" },
  "-c": { value: true, canonical: "--constraint" },
  "--constraint": { value: true, canonical: "--constraint" },
  "-i": { value: true, canonical: "--index-url" },
  "--index-url": { value: true, canonical: "--index-url" },
  "--extra-index-url": { value: true, canonical: "--extra-index-url" },
  "--no-index": { value: false, canonical: "--no-index" },
  "-f": { value: true, canonical: "--find-links" },
  "--find-links": { value: true, canonical: "--find-links" },
  "--pre": { value: false, canonical: "--pre" },
  "--prefer-binary": { value: false, canonical: "--prefer-binary" },
  "--only-binary": { value: true, canonical: "--only-binary" },
  "--no-binary": { value: true, canonical: "--no-binary" },
  "--trusted-host": { value: true, canonical: "--trusted-host" },
  "--require-hashes": { value: false, canonical: "--require-hashes" },
  "--use-feature": { value: true, canonical: "--use-feature" },
};

function emptyParsed(): ParsedRequirements {
  return { requirements: [], constraints: [], indexUrl: null, extraIndexUrls: [], noIndex: false, findLinks: [], installOptions: [], files: [] };
}

/** Joins `\` continuations and strips comments (pip: `#` at line start or after whitespace). */
function logicalLines(content: string): { text: string; lineNumber: number }[] {
  const out: { text: string; lineNumber: number }[] = [];
  const physical = content.split(/\r?\n/);
  let buffer = "";
  let start = 0;
  for (let i = 0; i < physical.length; i++) {
    const line = physical[i] as string;
    if (buffer === "") start = i + 1;
    if (line.endsWith("\\") && !/(^|\s)#/.test(line)) {
      buffer += line.slice(0, -1);
      continue;
    }
    const joined = (buffer + line).replace(/(^|\s+)#.*$/, "").trim();
    buffer = "";
    if (joined) out.push({ text: joined, lineNumber: start });
  }
  if (buffer.trim()) out.push({ text: buffer.trim(), lineNumber: start });
  return out;
}

function looksLikePathOrUrl(text: string): boolean {
  return /^(\.{0,2}\/|~|[a-z][a-z0-9+.-]*:\/\/)/i.test(text) || /\.(whl|tar\.gz|zip)$/i.test(text);
}

/** Hash algorithms pip accepts in `--hash` (pip's `STRONG_HASHES`). */
const HASH_OPTION = /^--hash[=\s]\s*(sha256|sha384|sha512):([0-9a-f]+)$/i;
const HASH_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * Splits pip's per-requirement options off a line, as pip's `break_args_options` does: the requirement ends
 * at the first token starting with "-". Only `--hash` is accepted (what pip-compile --generate-hashes writes).
 */
function splitHashes(text: string, origin: string): { requirement: string; hashes: string[] } {
  const optionStart = text.search(/(^|\s)--?[a-z]/i);
  if (optionStart === -1) return { requirement: text, hashes: [] };
  const requirement = text.slice(0, optionStart).trim();
  const hashes: string[] = [];
  for (const option of text.slice(optionStart).trim().split(/\s+(?=--?[a-z])/i)) {
    const match = HASH_OPTION.exec(option.trim());
    if (!match || match[2]?.length !== HASH_LENGTHS[(match[1] as string).toLowerCase()]) {
      throw new VenvflowError("invalid_requirement", `Unsupported or malformed option "${redactUrl(option.trim())}" after the requirement at ${origin}`, {
        fix: "per-requirement options other than --hash=sha256:<64 hex digits> (or sha384/sha512) are not supported; write hashes as pip-compile --generate-hashes does",
        details: { origin },
      });
    }
    hashes.push(`${(match[1] as string).toLowerCase()}:${(match[2] as string).toLowerCase()}`);
  }
  return { requirement, hashes };
}

/** Parses one requirement line into its validated, canonical form; `--hash` options stay in `text` for pip. */
export function parseRequirementLine(line: string, origin: string): RequirementLine {
  const { requirement: text, hashes } = splitHashes(line, origin);
  const withHashes = (canonical: string) => [canonical, ...[...hashes].sort().map((h) => `--hash=${h}`)].join(" ");
  if (looksLikePathOrUrl(text) && !text.includes("@")) {
    return { text: line, canonical: withHashes(text), name: null, pins: [], marker: null, origin, hashes };
  }
  let requirement: Requirement;
  try {
    requirement = new Requirement(text);
  } catch (error) {
    // Re-parse the redacted text so the caret lines up with what we show, and no credential is shown.
    const shown = new Redactor().addUrlsIn(text).redact(text);
    let reason = error instanceof VenvflowError ? error.message : String(error);
    try {
      new Requirement(shown);
    } catch (redactedError) {
      if (redactedError instanceof VenvflowError) reason = redactedError.message;
    }
    throw new VenvflowError("invalid_requirement", `Invalid requirement at ${origin}: "${shown}"\n${reason}`, {
      fix: 'write it as PEP 508: name[extra] (>=1.0,<2) ; marker  — e.g. "requests>=2.31" or "numpy==1.26.4"',
      details: { origin, requirement: shown },
    });
  }
  const pins = [...requirement.specifier].filter((s) => s.operator === "==" || s.operator === "===").map((s) => s.version);
  return {
    text: line,
    canonical: withHashes(canonicalRequirement(requirement)),
    name: canonicalizeName(requirement.name),
    pins,
    marker: requirement.marker ? requirement.marker.toString() : null,
    origin,
    hashes,
  };
}

/** packaging's normalized form, with the name and extras canonicalized too, so `Foo_Bar[X]` equals `foo-bar[x]`. */
function canonicalRequirement(requirement: Requirement): string {
  const extras = [...new Set([...requirement.extras].map((e) => canonicalizeName(e)))].sort();
  return [
    canonicalizeName(requirement.name),
    extras.length ? `[${extras.join(",")}]` : "",
    requirement.specifier.size > 0 ? requirement.specifier.toString() : "",
    requirement.url ? ` @ ${requirement.url}${requirement.marker ? " " : ""}` : "",
    requirement.marker ? `; ${requirement.marker.toString()}` : "",
  ].join("");
}

function splitOption(text: string): { flag: string; value: string | null } | null {
  const match = /^(-[a-zA-Z]|--[a-z-]+)(?:[=\s]\s*(.*))?$/.exec(text);
  if (!match) return null;
  return { flag: match[1] as string, value: match[2]?.trim() || null };
}

async function parseFile(file: string, kind: "requirements" | "constraints", into: ParsedRequirements, stack: string[]): Promise<void> {
  const absolute = path.resolve(file);
  if (stack.includes(absolute)) {
    throw new VenvflowError("requirements_cycle", `Requirements files include each other: ${[...stack, absolute].join(" → ")}`, {
      fix: "remove the -r/-c line that closes the loop",
    });
  }
  let content: string;
  try {
    content = await fs.readFile(absolute, "utf8");
  } catch (error) {
    const includedFrom = stack.length ? ` (included from ${stack[stack.length - 1]})` : "";
    throw new VenvflowError("requirements_file_not_found", `Requirements file not found: ${absolute}${includedFrom}`, {
      fix: "check the path; relative paths are resolved against the declaring file's directory (or the including file's directory for -r/-c)",
      details: { file: absolute },
      cause: error,
    });
  }
  into.files.push(absolute);
  const dir = path.dirname(absolute);
  for (const { text, lineNumber } of logicalLines(content)) {
    const origin = `${absolute}:${lineNumber}`;
    if (text.startsWith("-")) {
      await applyOption(text, origin, dir, kind, into, [...stack, absolute]);
      continue;
    }
    (kind === "constraints" ? into.constraints : into.requirements).push(parseRequirementLine(text, origin));
  }
}

async function applyOption(text: string, origin: string, dir: string, kind: "requirements" | "constraints", into: ParsedRequirements, stack: string[]): Promise<void> {
  if (/^(-e|--editable)\b/.test(text)) {
    throw new VenvflowError("invalid_requirement", `Editable requirement at ${origin} ("${redactUrl(text)}") cannot go into an immutable cached environment`, {
      fix: "install it as a regular path requirement (name @ file:///abs/path) or build a wheel",
      details: { origin },
    });
  }
  const option = splitOption(text);
  const known = option ? FILE_OPTIONS[option.flag] : undefined;
  if (!option || !known) {
    throw new VenvflowError("invalid_requirement", `Unknown option at ${origin}: "${redactUrl(text)}"`, {
      fix: `use one of pip's requirements-file options: ${[...new Set(Object.values(FILE_OPTIONS).map((o) => o.canonical))].join(", ")}`,
      details: { origin },
    });
  }
  if (known.value && !option.value) {
    throw new VenvflowError("invalid_requirement", `Option ${option.flag} at ${origin} needs a value`, { fix: `write "${option.flag} VALUE"`, details: { origin } });
  }
  const value = option.value ?? "";
  switch (known.canonical) {
    case "--requirement":
      return parseFile(path.resolve(dir, value), kind, into, stack);
    case "--constraint":
      return parseFile(path.resolve(dir, value), "constraints", into, stack);
    case "--index-url":
      into.indexUrl = value;
      return;
    case "--extra-index-url":
      into.extraIndexUrls.push(value);
      return;
    case "--no-index":
      into.noIndex = true;
      return;
    case "--find-links":
      into.findLinks.push(looksLikePathOrUrl(value) && !/^[a-z]+:\/\//i.test(value) ? path.resolve(dir, value) : value);
      return;
    default:
      into.installOptions.push(known.canonical, ...(known.value ? [value] : []));
  }
}

/**
 * Parses what a task declares: a list of requirement lines (which may themselves be `-r file` lines),
 * or a single path to a requirements file. Relative paths resolve against `baseDir`.
 */
export async function parseRequirements(requirements: string[] | string | undefined, constraints: string[] | undefined, baseDir: string): Promise<ParsedRequirements> {
  const parsed = emptyParsed();
  if (typeof requirements === "string") {
    await parseFile(path.resolve(baseDir, requirements), "requirements", parsed, []);
  } else if (requirements !== undefined) {
    if (!Array.isArray(requirements)) {
      throw new VenvflowError("invalid_requirement", `requirements must be a list of requirement strings or a requirements file path, got ${typeof requirements}`, {
        fix: 'e.g. requirements: ["requests>=2.31"] or requirements: "requirements.txt"',
      });
    }
    for (const [index, entry] of requirements.entries()) {
      if (typeof entry !== "string") {
        throw new VenvflowError("invalid_requirement", `requirements[${index}] must be a string, got ${typeof entry}`, { fix: 'write each requirement as a string, e.g. "requests>=2.31"' });
      }
      // An entry may carry several lines (Airflow allows multi-line entries with comments).
      for (const { text } of logicalLines(entry)) {
        const origin = `requirements[${index}]`;
        if (text.startsWith("-")) await applyOption(text, origin, baseDir, "requirements", parsed, []);
        else parsed.requirements.push(parseRequirementLine(text, origin));
      }
    }
  }
  for (const [index, entry] of (constraints ?? []).entries()) {
    for (const { text } of logicalLines(entry)) {
      const origin = `constraints[${index}]`;
      if (text.startsWith("-")) await applyOption(text, origin, baseDir, "constraints", parsed, []);
      else parsed.constraints.push(parseRequirementLine(text, origin));
    }
  }
  checkContradictoryPins([...parsed.requirements, ...parsed.constraints]);
  return parsed;
}

/** `x==1` and `x==2` together can never install: say so before pip spends time resolving. */
function checkContradictoryPins(lines: RequirementLine[]): void {
  const byName = new Map<string, RequirementLine>();
  for (const line of lines) {
    if (!line.name || line.pins.length === 0) continue;
    const key = `${line.name}\u0000${line.marker ?? ""}`;
    const previous = byName.get(key);
    if (previous && previous.pins.join() !== line.pins.join()) {
      throw new VenvflowError(
        "conflicting_requirements",
        `Conflicting pins for ${line.name}: "${redactUrl(previous.text)}" (${previous.origin}) and "${redactUrl(line.text)}" (${line.origin})`,
        { fix: `keep one version of ${line.name}`, details: { name: line.name, first: previous.origin, second: line.origin } },
      );
    }
    byName.set(key, line);
  }
}
