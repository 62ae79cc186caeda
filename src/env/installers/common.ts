import { promises as fs } from "node:fs";
import path from "node:path";
import { canonicalizeName } from "../pep/index.ts";
import type { LockedPackage } from "../types.ts";
import type { InstallSources } from "./types.ts";

/** Reads name/version of every distribution installed in an environment (its `*.dist-info/METADATA`). */
export async function installedDistributions(envDir: string): Promise<{ name: string; version: string }[]> {
  const libDir = path.join(envDir, "lib");
  const out: { name: string; version: string }[] = [];
  let pythons: string[];
  try {
    pythons = await fs.readdir(libDir);
  } catch {
    return out;
  }
  for (const py of pythons) {
    const site = path.join(libDir, py, "site-packages");
    let entries: string[];
    try {
      entries = await fs.readdir(site);
    } catch {
      continue;
    }
    for (const entry of entries.filter((e) => e.endsWith(".dist-info"))) {
      try {
        const metadata = await fs.readFile(path.join(site, entry, "METADATA"), "utf8");
        const name = /^Name:\s*(.+)$/m.exec(metadata)?.[1]?.trim();
        const version = /^Version:\s*(.+)$/m.exec(metadata)?.[1]?.trim();
        if (name && version) out.push({ name, version });
      } catch {
        // a dist-info without METADATA is not an installed distribution
      }
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Lock entries for an installer that gives no report: what is installed, marked requested by canonical name. */
export async function lockFromInstalled(envDir: string, source: string, requested: ReadonlySet<string>): Promise<LockedPackage[]> {
  return (await installedDistributions(envDir)).map((d) => ({ ...d, source, requested: requested.has(canonicalizeName(d.name)) }));
}

/** Options whose value is a URL, which may carry credentials. */
const URL_OPTIONS: Record<string, "index" | "extra" | "links"> = { "--index-url": "index", "-i": "index", "--extra-index-url": "extra", "--find-links": "links", "-f": "links" };

/** Where an installer looks, every URL in one place: the spec's own plus those given in `pipInstallOptions`. */
export interface UrlSources {
  /** null: the installer's own configuration decides the index. */
  indexUrl: string | null;
  extraIndexUrls: string[];
  findLinks: string[];
  /** The install options left once the URL options are taken out. */
  options: string[];
}

/**
 * Takes every URL out of the sources, so that it reaches the installer through its environment and never its argv
 * (any local user reads argv with `ps`). An option in `pipInstallOptions` overrides the spec's index, as it did on pip's
 * command line.
 */
export function urlSources(sources: InstallSources): UrlSources {
  const [primary, ...extra] = sources.indexUrls ?? [];
  const out: UrlSources = { indexUrl: primary ?? null, extraIndexUrls: extra, findLinks: [...sources.findLinks], options: [] };
  const tokens = sources.installOptions;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const eq = token.startsWith("--") ? token.indexOf("=") : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    const kind = URL_OPTIONS[name];
    if (!kind) {
      out.options.push(token);
      continue;
    }
    const value = eq > 0 ? token.slice(eq + 1) : tokens[++i];
    if (value === undefined) continue;
    if (kind === "index") out.indexUrl = value;
    else if (kind === "extra") out.extraIndexUrls.push(value);
    else out.findLinks.push(value);
  }
  return out;
}

/** The non-URL source arguments pip and uv share (`--no-index`, the remaining install options). */
export function sourceArgs(sources: InstallSources): string[] {
  return [...(sources.indexUrls && sources.indexUrls.length === 0 ? ["--no-index"] : []), ...urlSources(sources).options];
}
