/**
 * What a site-packages directory makes importable, read from disk without running Python: each installed
 * distribution's top-level import names (top_level.txt, else the paths its RECORD lists), plus loose modules
 * no distribution claims.
 */
import { promises as fs } from "node:fs";
import path from "node:path";

export interface ModuleProvider {
  /** Distribution name as its METADATA spells it; null for a loose module no distribution claims. */
  distribution: string | null;
  version: string | null;
  /** The site-packages directory it lives in. */
  location: string;
}

const MODULE_FILE = /^([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_-]+)*\.(?:py|pyc|so|pyd)$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function metadataField(text: string, field: string): string | null {
  const match = new RegExp(`^${field}:\\s*(.+)$`, "mi").exec(text);
  return match?.[1]?.trim() ?? null;
}

/** Top-level import names from RECORD paths: "pkg/__init__.py" → pkg, "mod.py" → mod; data and scripts skipped. */
function namesFromRecord(record: string): string[] {
  const names = new Set<string>();
  for (const line of record.split("\n")) {
    const file = line.split(",")[0]?.trim();
    if (!file || file.startsWith("..") || file.startsWith("/")) continue;
    const first = file.split("/")[0] as string;
    if (/\.(dist|egg)-info$/.test(first) || first === "__pycache__" || first.endsWith(".pth") || first.endsWith(".data")) continue;
    if (file.includes("/")) {
      if (IDENTIFIER.test(first)) names.add(first);
    } else {
      const match = MODULE_FILE.exec(first);
      if (match) names.add(match[1] as string);
    }
  }
  return [...names];
}

async function readText(file: string): Promise<string | null> {
  return fs.readFile(file, "utf8").catch(() => null);
}

/** Every top-level import name one site-packages directory provides. A missing directory provides nothing. */
export async function scanSitePackages(dir: string): Promise<Map<string, ModuleProvider>> {
  const out = new Map<string, ModuleProvider>();
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const claimed = new Set<string>();
  await Promise.all(
    entries
      .filter((entry) => entry.isDirectory() && /\.(dist|egg)-info$/.test(entry.name))
      .map(async (entry) => {
        const info = path.join(dir, entry.name);
        const metadata = (await readText(path.join(info, "METADATA"))) ?? (await readText(path.join(info, "PKG-INFO"))) ?? "";
        const distribution = metadataField(metadata, "Name") ?? entry.name.replace(/-[^-]*\.(dist|egg)-info$/, "");
        const version = metadataField(metadata, "Version");
        const topLevel = await readText(path.join(info, "top_level.txt"));
        const record = topLevel === null ? await readText(path.join(info, "RECORD")) : null;
        const names = topLevel !== null ? topLevel.split(/\s+/).map((n) => n.split("/")[0] as string).filter((n) => IDENTIFIER.test(n)) : namesFromRecord(record ?? "");
        for (const name of names) {
          claimed.add(name);
          if (!out.has(name)) out.set(name, { distribution, version, location: dir });
        }
      }),
  );
  for (const entry of entries) {
    let name: string | undefined;
    if (entry.isDirectory() && IDENTIFIER.test(entry.name) && entry.name !== "__pycache__") name = entry.name;
    else if (entry.isFile()) name = MODULE_FILE.exec(entry.name)?.[1];
    if (name && !claimed.has(name) && !out.has(name)) out.set(name, { distribution: null, version: null, location: dir });
  }
  return out;
}

/** The union of several directories, the first one providing a name winning (sys.path order). */
export async function scanAll(dirs: readonly string[]): Promise<Map<string, ModuleProvider>> {
  const scanned = await Promise.all([...new Set(dirs)].map((dir) => scanSitePackages(dir)));
  const out = new Map<string, ModuleProvider>();
  for (const map of scanned) for (const [name, provider] of map) if (!out.has(name)) out.set(name, provider);
  return out;
}

/** site-packages of a virtual environment built by venvflow (lib/pythonX.Y/site-packages, or Lib/site-packages). */
export async function envSitePackages(envDir: string): Promise<string[]> {
  const lib = path.join(envDir, "lib");
  const versions = await fs.readdir(lib).catch(() => [] as string[]);
  const dirs = versions.filter((v) => v.startsWith("python")).map((v) => path.join(lib, v, "site-packages"));
  const windows = path.join(envDir, "Lib", "site-packages");
  if (await fs.stat(windows).catch(() => null)) dirs.push(windows);
  return dirs;
}

/** A module next to the callable's file: `name.py`, a package directory, or an extension module. */
export async function localModule(dir: string, name: string): Promise<string | null> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory() && entry.name === name) return path.join(dir, entry.name);
    if (entry.isFile() && MODULE_FILE.exec(entry.name)?.[1] === name) return path.join(dir, entry.name);
  }
  return null;
}
