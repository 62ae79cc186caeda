/**
 * The indexes pip would use when a spec leaves the index to "the installer's own configuration": PIP_* variables
 * first, else pip's configuration files in pip's order (global, user, site, then PIP_CONFIG_FILE; `[install]`
 * over `[global]`; later files win), else PyPI. venvflow's installer reads them itself so that it sees the same
 * indexes pip would, without starting pip (`pip config list` costs ~300 ms).
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { urlSources } from "./common.ts";
import type { InstallSources } from "./types.ts";

const PYPI = "https://pypi.org/simple";

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

export type IndexChoice = { indexes: string[] } | { unsupported: string };

/**
 * The index URLs (primary first, credentials kept: memory only) for the spec's sources as pip would see them,
 * or why venvflow's resolver cannot use them (find-links: flat directories of files, not an index).
 */
export function effectiveIndexes(sources: InstallSources, env: NodeJS.ProcessEnv): IndexChoice {
  const urls = urlSources(sources);
  const split = (value: string | undefined) => (value ?? "").split(/\s+/).filter(Boolean);
  const settings = fromFiles(env);
  const findLinks = [...urls.findLinks, ...split(env.PIP_FIND_LINKS), ...(sources.indexUrls === null && !env.PIP_FIND_LINKS ? (settings.findLinks ?? []) : [])];
  if (findLinks.length) return { unsupported: "find-links (a flat directory or page of files) is not an index venvflow's resolver reads" };
  if (sources.indexUrls !== null && sources.indexUrls.length === 0) return { indexes: [] };
  if (urls.indexUrl !== null) return { indexes: [urls.indexUrl, ...urls.extraIndexUrls] };
  if (env.PIP_NO_INDEX && /^(1|true|yes|on)$/i.test(env.PIP_NO_INDEX)) return { indexes: [] };
  if (env.PIP_INDEX_URL || env.PIP_EXTRA_INDEX_URL) return { indexes: [env.PIP_INDEX_URL || PYPI, ...split(env.PIP_EXTRA_INDEX_URL), ...urls.extraIndexUrls] };
  if (settings.noIndex) return { indexes: [] };
  return { indexes: [settings.indexUrl ?? PYPI, ...(settings.extraIndexUrls ?? []), ...urls.extraIndexUrls] };
}
