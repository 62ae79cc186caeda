/**
 * Which distribution on a package index provides an import name. PEP 503 has no reverse lookup, so this lists
 * the index (only when the listing is small: a private or mirror index, not PyPI), takes the projects whose
 * name contains the import name, and reads the import names out of one wheel of each (top_level.txt or RECORD).
 */
import yauzl from "yauzl";
import { canonicalizeName } from "../env/pep/index.ts";

const MAX_LISTING_BYTES = 2 * 1024 * 1024;
const MAX_WHEEL_BYTES = 32 * 1024 * 1024;
const MAX_CANDIDATES = 5;

interface Fetched {
  body: Buffer;
  url: URL;
}

function authorized(raw: string): { url: URL; headers: Record<string, string> } | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  return { url, headers };
}

/** GET with a size cap: null when the answer is not a 200 or is larger than `limit`. */
async function fetchCapped(target: URL, headers: Record<string, string>, limit: number, timeoutMs: number): Promise<Fetched | null> {
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
  return { body: Buffer.concat(chunks), url: new URL(response.url || target.href) };
}

function links(html: string): { href: string; text: string }[] {
  return [...html.matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]*)<\/a>/gi)].map((m) => ({ href: (m[1] ?? "").replaceAll("&amp;", "&"), text: (m[2] ?? "").trim() }));
}

function zipEntries(buffer: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error ?? new Error("not a zip"));
      const wanted = new Map<string, Buffer>();
      zip.on("entry", (entry: yauzl.Entry) => {
        if (!/^[^/]+\.dist-info\/(top_level\.txt|RECORD)$/.test(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError ?? new Error("unreadable entry"));
          const parts: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => parts.push(chunk));
          stream.on("end", () => {
            wanted.set(entry.fileName.split("/")[1] as string, Buffer.concat(parts));
            zip.readEntry();
          });
          stream.on("error", reject);
        });
      });
      zip.on("end", () => resolve(wanted));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

/** Top-level import names a wheel installs. */
async function wheelImportNames(wheel: Buffer): Promise<string[]> {
  const entries = await zipEntries(wheel);
  const topLevel = entries.get("top_level.txt")?.toString("utf8");
  if (topLevel !== undefined) return topLevel.split(/\s+/).filter(Boolean);
  const names = new Set<string>();
  for (const line of (entries.get("RECORD")?.toString("utf8") ?? "").split("\n")) {
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
  const base = authorized(indexUrl.endsWith("/") ? indexUrl : `${indexUrl}/`);
  if (!base || (base.url.protocol !== "http:" && base.url.protocol !== "https:")) return null;
  // PyPI's listing is hundreds of megabytes: not worth starting to read.
  if (/(^|\.)pypi\.org$|pythonhosted\.org$/.test(base.url.hostname)) return null;
  const listing = await fetchCapped(base.url, { ...base.headers, Accept: "text/html" }, MAX_LISTING_BYTES, timeoutMs);
  if (!listing) return null;
  const wanted = canonicalizeName(module);
  const projects = [...new Set(links(listing.body.toString("utf8")).map((l) => canonicalizeName(l.text || l.href.replace(/\/$/, "").split("/").pop() || "")))];
  const candidates = projects
    .filter((p) => p === wanted || p.split("-").includes(wanted) || p.endsWith(`-${wanted}`) || p.startsWith(`${wanted}-`))
    .sort((a, b) => Number(b === wanted) - Number(a === wanted))
    .slice(0, MAX_CANDIDATES);
  const found: string[] = [];
  for (const project of candidates) {
    const page = await fetchCapped(new URL(`${project}/`, base.url), { ...base.headers, Accept: "text/html" }, MAX_LISTING_BYTES, timeoutMs);
    if (!page) continue;
    const wheels = links(page.body.toString("utf8")).filter((l) => (l.text || l.href).split("#")[0]!.endsWith(".whl"));
    // Pure-Python wheels first, then the newest listed: any one says what the project installs.
    const wheel = wheels.find((l) => /-none-any\.whl/.test(l.text)) ?? wheels.at(-1);
    if (!wheel) continue;
    const file = await fetchCapped(new URL(wheel.href.split("#")[0]!, page.url), base.headers, MAX_WHEEL_BYTES, timeoutMs * 4);
    if (!file) continue;
    const names = await wheelImportNames(file.body).catch(() => [] as string[]);
    if (names.includes(module)) found.push(project);
  }
  return found;
}
