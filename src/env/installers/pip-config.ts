/**
 * The indexes pip would use when a spec leaves the index to "the installer's own configuration": PIP_* variables
 * first, else pip's configuration files in pip's order (global, user, site, then PIP_CONFIG_FILE; `[install]`
 * over `[global]`; later files win), else PyPI. venvflow's installer reads them itself so that it sees the same
 * indexes pip would, without starting pip (`pip config list` costs ~300 ms).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { redactUrl } from "../../util/secrets.ts";
import { canonicalizeName } from "../pep/index.ts";
import { urlSources } from "./common.ts";
import type { InstallSources } from "./types.ts";

export const PYPI_SIMPLE = "https://pypi.org/simple";
const PYPI = PYPI_SIMPLE;

interface PipSettings {
  indexUrl?: string;
  extraIndexUrls?: string[];
  findLinks?: string[];
  noIndex?: boolean;
}

/** pip's INI files: `key = value`, values continued on indented lines. */
function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let section: Map<string, string> | null = null;
  let lastKey: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === "") continue;
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
    if (header) {
      const name = (header[1] as string).trim().toLowerCase();
      section = sections.get(name) ?? new Map<string, string>();
      sections.set(name, section);
      lastKey = null;
      continue;
    }
    if (/^\s/.test(raw) && section && lastKey) {
      section.set(lastKey, `${section.get(lastKey) ?? ""} ${raw.trim()}`);
      continue;
    }
    const pair = /^\s*([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (pair && section) {
      lastKey = (pair[1] as string).toLowerCase().replace(/_/g, "-");
      section.set(lastKey, (pair[2] as string).trim());
    }
  }
  return sections;
}

function configFiles(env: NodeJS.ProcessEnv): string[] {
  const configFile = env.PIP_CONFIG_FILE;
  if (configFile === os.devNull) return [];
  const home = env.HOME ?? os.homedir();
  const xdgDirs = (env.XDG_CONFIG_DIRS || "/etc/xdg").split(path.delimiter).filter(Boolean);
  const files = [...xdgDirs.reverse().map((d) => path.join(d, "pip", "pip.conf")), "/etc/pip.conf", path.join(home, ".pip", "pip.conf"), path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "pip", "pip.conf")];
  if (configFile) files.push(configFile);
  return files;
}

function fromFiles(env: NodeJS.ProcessEnv): PipSettings {
  const settings: PipSettings = {};
  for (const file of configFiles(env)) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const ini = parseIni(text);
    for (const name of ["global", "install"]) {
      const section = ini.get(name);
      if (!section) continue;
      const list = (key: string) => (section.get(key) ?? "").split(/\s+/).filter(Boolean);
      if (section.has("index-url")) settings.indexUrl = section.get("index-url");
      if (section.has("extra-index-url")) settings.extraIndexUrls = list("extra-index-url");
      if (section.has("find-links")) settings.findLinks = list("find-links");
      if (section.has("no-index")) settings.noIndex = /^(1|true|yes|on)$/i.test(section.get("no-index") ?? "");
    }
  }
  return settings;
}

export type IndexChoice = { indexes: string[]; findLinks: string[] } | { unsupported: string };

/** A find-links entry venvflow reads: a local directory (a path or a file:// URL), else null (a remote page). */
function localDirectory(entry: string): string | null {
  if (/^file:/i.test(entry)) return fileURLToPath(entry);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) return null;
  return path.resolve(entry);
}

/**
 * The index URLs (primary first, credentials kept: memory only) for the spec's sources as pip would see them, and
 * the local find-links directories (see `findLinksIndex`), or why venvflow's resolver cannot use them (a remote
 * find-links page).
 */
export function effectiveIndexes(sources: InstallSources, env: NodeJS.ProcessEnv): IndexChoice {
  const urls = urlSources(sources);
  const split = (value: string | undefined) => (value ?? "").split(/\s+/).filter(Boolean);
  const settings = fromFiles(env);
  // As in pip: PIP_FIND_LINKS replaces the configuration's find-links; those of the spec and its files add to either.
  const links = [...urls.findLinks, ...(env.PIP_FIND_LINKS !== undefined ? split(env.PIP_FIND_LINKS) : (settings.findLinks ?? []))];
  const findLinks: string[] = [];
  for (const link of links) {
    const dir = localDirectory(link);
    if (dir === null) return { unsupported: `find-links ${redactUrl(link)} is a remote page of files, not an index venvflow's resolver reads` };
    findLinks.push(dir);
  }
  if (sources.indexUrls !== null && sources.indexUrls.length === 0) return { indexes: [], findLinks };
  if (urls.indexUrl !== null) return { indexes: [urls.indexUrl, ...urls.extraIndexUrls], findLinks };
  if (env.PIP_NO_INDEX && /^(1|true|yes|on)$/i.test(env.PIP_NO_INDEX)) return { indexes: [], findLinks };
  if (env.PIP_INDEX_URL || env.PIP_EXTRA_INDEX_URL) return { indexes: [env.PIP_INDEX_URL || PYPI, ...split(env.PIP_EXTRA_INDEX_URL), ...urls.extraIndexUrls], findLinks };
  if (settings.noIndex) return { indexes: [], findLinks };
  return { indexes: [settings.indexUrl ?? PYPI, ...(settings.extraIndexUrls ?? []), ...urls.extraIndexUrls], findLinks };
}

/**
 * The indexes pip uses when a task names none (PIP_* variables, then its configuration files, then PyPI): what
 * builds, doctor and the post-mortem name, so they never contradict each other. Clear text: memory only.
 */
export function configuredIndexUrls(env: NodeJS.ProcessEnv): string[] {
  const choice = effectiveIndexes({ indexUrls: null, findLinks: [], installOptions: [] }, env);
  return "indexes" in choice ? choice.indexes : [];
}

const ARCHIVE = /^(.+?)-([^-]+?)(?:-[^-]+-[^-]+-[^-]+)?\.(whl|tar\.gz|zip)$/;

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Local find-links directories as one PEP 503 file:// index the resolver reads like any other: a page per project
 * linking the archives with their sha256 (the wheel cache is addressed by it). Written under `cacheDir`, keyed by
 * the directories' listings (names, sizes, mtimes), so a directory is hashed once until it changes.
 */
export async function findLinksIndex(dirs: readonly string[], cacheDir: string): Promise<string | null> {
  const files: { file: string; name: string; size: number; mtimeMs: number }[] = [];
  for (const dir of dirs) {
    for (const name of (await fs.readdir(dir).catch(() => [] as string[])).sort()) {
      if (!ARCHIVE.test(name)) continue;
      const stat = await fs.stat(path.join(dir, name)).catch(() => null);
      if (stat?.isFile()) files.push({ file: path.join(dir, name), name, size: stat.size, mtimeMs: stat.mtimeMs });
    }
  }
  if (files.length === 0) return null;
  const key = createHash("sha256").update(JSON.stringify(files)).digest("hex").slice(0, 32);
  const root = path.join(cacheDir, "find-links", key);
  if (await fs.stat(path.join(root, "complete")).then(() => true, () => false)) return pathToFileURL(`${root}/`).href;
  const projects = new Map<string, string[]>();
  for (const f of files) {
    const project = canonicalizeName((ARCHIVE.exec(f.name) as RegExpExecArray)[1] as string);
    const link = `<a href="${pathToFileURL(f.file).href}#sha256=${await sha256File(f.file)}">${f.name}</a>`;
    projects.set(project, [...(projects.get(project) ?? []), link]);
  }
  // Unique per call: two builds of one process (a run's parallel tasks) write the same index at once.
  const staging = `${root}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  for (const [project, links] of projects) {
    await fs.mkdir(path.join(staging, project), { recursive: true });
    await fs.writeFile(path.join(staging, project, "index.html"), `<!DOCTYPE html><html><body>\n${links.join("<br>\n")}\n</body></html>\n`);
  }
  await fs.writeFile(path.join(staging, "complete"), "");
  await fs.rename(staging, root).catch(async () => fs.rm(staging, { recursive: true, force: true })); // a concurrent build wrote it
  return pathToFileURL(`${root}/`).href;
}
