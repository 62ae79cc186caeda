/** Helpers for the wheel installer's tests: hand-crafted (also malicious) wheels, hashes, lock entries. */
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import yazl from "yazl";
import { recordHash } from "../../../src/env/wheels/archive.ts";
import type { LockedWheel } from "../../../src/env/wheels/index.ts";

export async function sha256File(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

export interface CraftOptions {
  /** Rows appended to RECORD verbatim (after the generated ones), or "omit" to leave a file out of RECORD. */
  recordOverrides?: Record<string, string | "omit">;
  /** Unix mode per entry: permissions (0o755), or a full st_mode with the file type (0o120777 for a symlink). */
  modes?: Record<string, number>;
}

function withFileType(mode: number): number {
  return mode > 0o7777 ? mode : 0o100000 | mode;
}

/**
 * Writes a wheel whose entries are exactly `files` (names unchecked, so zip-slip names go in verbatim), plus a
 * generated `<dist-info>/RECORD` unless `files` already has one.
 */
export async function craftWheel(dir: string, filename: string, files: Record<string, string>, options: CraftOptions = {}): Promise<string> {
  const [name, version] = filename.split("-") as [string, string];
  const distInfo = `${name}-${version}.dist-info`;
  const entries = Object.entries(files).map(([n, text]) => [n, Buffer.from(text)] as [string, Buffer]);
  if (!(`${distInfo}/RECORD` in files)) {
    const rows: string[] = [];
    for (const [n, content] of entries) {
      const override = options.recordOverrides?.[n];
      if (override === "omit") continue;
      rows.push(override ?? `${n},${recordHash(content)},${content.length}`);
    }
    rows.push(`${distInfo}/RECORD,,`);
    entries.push([`${distInfo}/RECORD`, Buffer.from(`${rows.join("\n")}\n`)]);
  }
  await mkdir(dir, { recursive: true });
  const zip = new yazl.ZipFile();
  // yazl refuses unsafe names, so those are added under a same-length placeholder and patched in the bytes
  // afterwards (entry names are stored uncompressed, in the local and the central header).
  const patches: [Buffer, Buffer][] = [];
  for (const [n, content] of entries) {
    const unsafe = n.startsWith("/") || n.includes("\\") || n.split("/").includes("..");
    const stored = unsafe ? `Q${patches.length}`.padEnd(n.length, "q") : n;
    if (unsafe) patches.push([Buffer.from(stored), Buffer.from(n)]);
    zip.addBuffer(content, stored, { mode: withFileType(options.modes?.[n] ?? 0o644), forceDosTimestamp: true, mtime: new Date(1980, 0, 1) });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  for (const [from, to] of patches) {
    for (let at = bytes.indexOf(from); at !== -1; at = bytes.indexOf(from, at + 1)) to.copy(bytes, at);
  }
  const target = path.join(dir, filename);
  await writeFile(target, bytes);
  return target;
}

/** The minimal metadata files of a valid wheel for `name-version`. */
export function wheelBasics(name: string, version: string, tag = "py3-none-any"): Record<string, string> {
  const distInfo = `${name}-${version}.dist-info`;
  return {
    [`${distInfo}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`,
    [`${distInfo}/WHEEL`]: `Wheel-Version: 1.0\nGenerator: venvflow-test\nRoot-Is-Purelib: true\nTag: ${tag}\n`,
  };
}

export async function lockEntry(wheelFile: string, name: string, version: string, requested = true): Promise<LockedWheel> {
  return { name, version, wheelUrl: pathToFileURL(wheelFile).href, sha256: await sha256File(wheelFile), requested };
}
