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

/** Index/find-links/option arguments pip and uv share (index URLs themselves go through the environment). */
export function sourceArgs(sources: InstallSources): string[] {
  const args: string[] = [];
  if (sources.indexUrls && sources.indexUrls.length === 0) args.push("--no-index");
  for (const link of sources.findLinks) args.push("--find-links", link);
  args.push(...sources.installOptions);
  return args;
}
