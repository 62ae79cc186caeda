/**
 * Builds real, installable wheels (PEP 427) for the hermetic test index. Output is byte-for-byte reproducible:
 * fixed 1980 DOS timestamps, fixed entry order, fixed permissions.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import yazl from "yazl";

export interface WheelSpec {
  /** Distribution name as published, e.g. "vf-alpha". */
  name: string;
  version: string;
  /** Wheel tag triple, possibly compressed ("py2.py3-none-any"). Default "py3-none-any". */
  tag?: string;
  /** PEP 508 lines written verbatim as `Requires-Dist:` (markers and `extra == "x"` included). */
  requiresDist?: string[];
  providesExtra?: string[];
  requiresPython?: string;
  /** Package files by archive path. Default: `<importName>/__init__.py` holding `__version__`. */
  files?: Record<string, string>;
  /** Default: the name lower-cased with runs of `-_.` turned into `_`. */
  importName?: string;
  /** console_scripts entry points: script name → `module:function`. */
  consoleScripts?: Record<string, string>;
  summary?: string;
}

// Local-time components, so the DOS timestamp reads 1980-01-01 00:00 whatever the machine's time zone.
const EPOCH_1980 = new Date(1980, 0, 1, 0, 0, 0);

/** PEP 503 normalized project name: "Vf_Alpha.x" → "vf-alpha-x". */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** The escaped name used in wheel filenames and `.dist-info` directories: "vf-alpha" → "vf_alpha". */
export function wheelNamePart(name: string): string {
  return normalizeProjectName(name).replace(/-/g, "_");
}

export function wheelFileName(spec: WheelSpec): string {
  return `${wheelNamePart(spec.name)}-${spec.version.replace(/-/g, "_")}-${spec.tag ?? "py3-none-any"}.whl`;
}

/** Expands a compressed tag set ("py2.py3-none-any") into each tag it stands for. */
export function expandTags(tag: string): string[] {
  const parts = tag.split("-");
  if (parts.length !== 3) throw new Error(`wheel tag "${tag}" is not a python-abi-platform triple`);
  const [pythons, abis, platforms] = parts.map((part) => part.split(".")) as [string[], string[], string[]];
  return pythons.flatMap((py) => abis.flatMap((abi) => platforms.map((plat) => `${py}-${abi}-${plat}`)));
}

function recordHash(content: Buffer): string {
  return `sha256=${createHash("sha256").update(content).digest("base64url")}`;
}

function metadataText(spec: WheelSpec): string {
  const lines = [
    "Metadata-Version: 2.1",
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
    `Summary: ${spec.summary ?? `${spec.name} (venvflow test package)`}`,
  ];
  if (spec.requiresPython !== undefined) lines.push(`Requires-Python: ${spec.requiresPython}`);
  for (const extra of spec.providesExtra ?? []) lines.push(`Provides-Extra: ${extra}`);
  for (const req of spec.requiresDist ?? []) lines.push(`Requires-Dist: ${req}`);
  return `${lines.join("\n")}\n`;
}

function wheelText(tag: string): string {
  const lines = ["Wheel-Version: 1.0", "Generator: venvflow-test-support", "Root-Is-Purelib: true"];
  for (const t of expandTags(tag)) lines.push(`Tag: ${t}`);
  return `${lines.join("\n")}\n`;
}

/** Top-level importable names: first path segment, `.py` stripped for single-file modules. */
function topLevelNames(paths: string[]): string[] {
  const names = new Set<string>();
  for (const path of paths) {
    const [first = "", ...rest] = path.split("/");
    if (first.endsWith(".dist-info") || first.endsWith(".data")) continue;
    if (rest.length > 0) names.add(first);
    else if (first.endsWith(".py")) names.add(first.slice(0, -3));
  }
  return [...names].sort();
}

/** Writes the wheel for `spec` into `outDir` and returns its absolute path. */
export async function buildWheel(outDir: string, spec: WheelSpec): Promise<string> {
  const tag = spec.tag ?? "py3-none-any";
  const importName = spec.importName ?? wheelNamePart(spec.name);
  const distInfo = `${wheelNamePart(spec.name)}-${spec.version.replace(/-/g, "_")}.dist-info`;
  const files = spec.files ?? { [`${importName}/__init__.py`]: `__version__ = "${spec.version}"\n` };

  const entries: [string, Buffer][] = Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, text]) => [path, Buffer.from(text, "utf8")]);
  entries.push([`${distInfo}/METADATA`, Buffer.from(metadataText(spec), "utf8")]);
  entries.push([`${distInfo}/WHEEL`, Buffer.from(wheelText(tag), "utf8")]);
  const scripts = Object.entries(spec.consoleScripts ?? {});
  if (scripts.length > 0) {
    const body = scripts.map(([script, target]) => `${script} = ${target}`).join("\n");
    entries.push([`${distInfo}/entry_points.txt`, Buffer.from(`[console_scripts]\n${body}\n`, "utf8")]);
  }
  const topLevel = topLevelNames(Object.keys(files));
  entries.push([`${distInfo}/top_level.txt`, Buffer.from(topLevel.map((n) => `${n}\n`).join(""), "utf8")]);

  const recordPath = `${distInfo}/RECORD`;
  const record = entries.map(([path, content]) => `${path},${recordHash(content)},${content.length}`);
  record.push(`${recordPath},,`);
  entries.push([recordPath, Buffer.from(`${record.join("\n")}\n`, "utf8")]);

  await mkdir(outDir, { recursive: true });
  const target = join(outDir, wheelFileName(spec));
  const zip = new yazl.ZipFile();
  for (const [path, content] of entries) {
    zip.addBuffer(content, path, { mtime: EPOCH_1980, mode: 0o100644, forceDosTimestamp: true });
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(target));
  return target;
}

/** Reads `*.dist-info/METADATA` out of a wheel file (central directory, via yauzl). */
export function readWheelMetadata(wheelPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    yauzl.open(wheelPath, { lazyEntries: true }, (openErr, zip) => {
      if (openErr) return reject(openErr);
      let found = false;
      zip.on("error", reject);
      zip.on("entry", (entry: yauzl.Entry) => {
        if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) return zip.readEntry();
        found = true;
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr) return reject(streamErr);
          const chunks: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.on("error", reject);
          stream.on("end", () => {
            zip.close();
            resolve(Buffer.concat(chunks).toString("utf8"));
          });
        });
      });
      zip.on("end", () => {
        if (!found) reject(new Error(`${wheelPath} has no .dist-info/METADATA`));
      });
      zip.readEntry();
    });
  });
}

/** The value of the first `Field:` header in a METADATA text (headers end at the first blank line). */
export function metadataField(metadata: string, field: string): string | undefined {
  const prefix = `${field.toLowerCase()}:`;
  for (const line of metadata.split(/\r?\n/)) {
    if (line === "") break;
    if (line.toLowerCase().startsWith(prefix)) return line.slice(prefix.length).trim();
  }
  return undefined;
}
