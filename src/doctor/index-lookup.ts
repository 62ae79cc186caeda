/**
 * Which distribution on a package index provides an import name. PEP 503 has no reverse lookup, so this lists
 * the index (only when the listing is small: a private or mirror index, not PyPI), takes the projects whose
 * name contains the import name, and reads the import names out of one wheel of each (top_level.txt or RECORD).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { canonicalizeName } from "../env/pep/index.ts";
import { IndexClient } from "../env/resolver/index-client.ts";

const MAX_LISTING_BYTES = 2 * 1024 * 1024;
const MAX_CANDIDATES = 5;

/** GET with a size cap: null when the answer is not a 200 or is larger than `limit`. */
async function fetchCapped(target: URL, headers: Record<string, string>, limit: number, timeoutMs: number): Promise<Buffer | null> {
  let response: Response;
  try {
    response = await fetch(target, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch {
    return null;
  }
  if (!response.ok || !response.body) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body.getReader();
  while (true) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
    if (done || !value) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/**
 * Project names an index lists: its root page (PEP 503), over http(s) with the URL's credentials, or for a
 * `file://` directory its index.html, else its subdirectories (each one a project page). Null when it cannot say.
 */
async function listProjects(indexUrl: string, timeoutMs: number): Promise<string[] | null> {
  let url: URL;
  try {
    url = new URL(indexUrl.endsWith("/") ? indexUrl : `${indexUrl}/`);
  } catch {
    return null;
  }
  if (url.protocol === "file:") {
    const dir = fileURLToPath(url);
    const html = await fs.readFile(path.join(dir, "index.html"), "utf8").catch(() => null);
    if (html !== null) return links(html).map((l) => canonicalizeName(l.text || l.href.replace(/\/$/, "").split("/").pop() || ""));
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => null);
    return entries ? entries.filter((e) => e.isDirectory()).map((e) => canonicalizeName(e.name)) : null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  // PyPI's listing is hundreds of megabytes: not worth starting to read.
  if (/(^|\.)pypi\.org$|pythonhosted\.org$/.test(url.hostname)) return null;
  const headers: Record<string, string> = { Accept: "text/html" };
  if (url.username || url.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  const listing = await fetchCapped(url, headers, MAX_LISTING_BYTES, timeoutMs);
  return listing ? links(listing.toString("utf8")).map((l) => canonicalizeName(l.text || l.href.replace(/\/$/, "").split("/").pop() || "")) : null;
}

function links(html: string): { href: string; text: string }[] {
  return [...html.matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]*)<\/a>/gi)].map((m) => ({ href: (m[1] ?? "").replaceAll("&amp;", "&"), text: (m[2] ?? "").trim() }));
}

/** Top-level import names a wheel installs. */
function wheelImportNames(entries: Map<string, Buffer>): string[] {
  const entry = (file: string) => [...entries.entries()].find(([name]) => name.endsWith(`.dist-info/${file}`))?.[1]?.toString("utf8");
  const topLevel = entry("top_level.txt");
  if (topLevel !== undefined) return topLevel.split(/\s+/).filter(Boolean);
  const names = new Set<string>();
  for (const line of (entry("RECORD") ?? "").split("\n")) {
    const file = line.split(",")[0] ?? "";
    const first = file.split("/")[0] ?? "";
    if (!first || /\.(dist-info|data)$/.test(first)) continue;
    names.add(file.includes("/") ? first : first.replace(/\..*$/, ""));
  }
  return [...names];
}

export interface IndexLookupOptions {
  timeoutMs?: number;
}

/**
 * Distributions on `indexUrl` whose wheels install the top-level module `module`. Null when the index cannot
 * answer this (unreachable, or its listing is too large to read).
 */
export async function distributionsProviding(indexUrl: string, module: string, options: IndexLookupOptions = {}): Promise<string[] | null> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const projects = await listProjects(indexUrl, timeoutMs);
  if (!projects) return null;
  const wanted = canonicalizeName(module);
  const candidates = [...new Set(projects)]
    .filter((p) => p === wanted || p.split("-").includes(wanted) || p.endsWith(`-${wanted}`) || p.startsWith(`${wanted}-`))
    .sort((a, b) => Number(b === wanted) - Number(a === wanted))
    .slice(0, MAX_CANDIDATES);
  const client = new IndexClient({ indexUrls: [indexUrl], cacheDir: null, timeoutMs });
  const found: string[] = [];
  for (const project of candidates) {
    const wheels = (await client.files(project).catch(() => [])).filter((f) => f.filename.endsWith(".whl"));
    // Pure-Python wheels first, then the newest listed: any one says what the project installs.
    const wheel = wheels.find((f) => /-none-any\.whl$/.test(f.filename)) ?? wheels.at(-1);
    if (!wheel) continue;
    // Only the central directory and two small entries are read (range requests), whatever the wheel's size.
    const entries = await client.wheelEntries(wheel, (name) => /^[^/]+\.dist-info\/(top_level\.txt|RECORD)$/.test(name)).catch(() => null);
    if (entries && wheelImportNames(entries).includes(module)) found.push(project);
  }
  return found;
}
