/**
 * Reads package indexes the way pip does: PEP 503 HTML and PEP 691 JSON project pages, over http(s) (basic auth
 * from the URL, never logged) or `file://` directories (`<index>/<project>/index.html`, read, not listed), several
 * indexes merged. Pages are cached on disk with their HTTP validators (ETag/Last-Modified, Cache-Control max-age).
 * Core metadata comes from PEP 658/714 `.metadata` files when served, else from the wheel's `METADATA` read
 * with HTTP range requests (or from the local zip), else from a full download.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";
import { VenvflowError } from "../../util/errors.ts";
import { redactUrl } from "../../util/secrets.ts";
import { canonicalizeName } from "../pep/index.ts";

/** One distribution file an index lists for a project. */
export interface IndexFile {
  filename: string;
  /** Absolute URL without credentials (they stay with the index). */
  url: string;
  sha256: string | null;
  requiresPython: string | null;
  /** PEP 592: null when not yanked, else the reason ("" when none given). */
  yanked: string | null;
  /** PEP 658/714: the `.metadata` file is served; its sha256 when the index gives one. */
  coreMetadata: { sha256: string | null } | null;
  /** The index (redacted) that listed it. */
  index: string;
}

export type ProjectLookup =
  | { kind: "files"; files: IndexFile[] }
  | { kind: "no_project" }
  | { kind: "unauthorized"; status: number }
  | { kind: "http_error"; status: number }
  | { kind: "unreachable"; detail: string };

interface CachedPage {
  etag: string | null;
  lastModified: string | null;
  fetchedAt: number;
  maxAgeSeconds: number;
  contentType: string;
  /** URL the page was finally served from (after redirects): links are relative to it. */
  url: string;
  body: string;
}

export interface IndexClientOptions {
  /** Index URLs, primary first; credentials may be in the userinfo. */
  indexUrls: string[];
  /** Directory for cached pages and metadata (e.g. VENVFLOW_HOME/cache/index); null: no disk cache. */
  cacheDir: string | null;
  timeoutMs?: number;
}

const ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const TAIL_BYTES = 64 * 1024;

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'" };

function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity.startsWith("#x") || entity.startsWith("#X")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

function hashFromFragment(url: URL): string | null {
  const match = /^sha256=([0-9a-f]{64})$/i.exec(url.hash.slice(1));
  return match ? (match[1] as string).toLowerCase() : null;
}

/** A `data-dist-info-metadata`/`data-core-metadata` value or JSON field: true, "true", or a hash. */
function coreMetadataOf(value: unknown): { sha256: string | null } | null {
  if (value === undefined || value === null || value === false || value === "false") return null;
  if (typeof value === "object") return { sha256: (value as Record<string, string>).sha256 ?? null };
  const match = /^sha256=([0-9a-f]{64})$/i.exec(String(value));
  return { sha256: match ? (match[1] as string).toLowerCase() : null };
}

/** PEP 503 page → files. Attribute values are HTML-unescaped; links resolve against the page URL or <base href>. */
export function parseHtmlPage(html: string, pageUrl: string, index: string): IndexFile[] {
  const base = /<base\s[^>]*href="([^"]*)"/i.exec(html)?.[1];
  const baseUrl = base ? new URL(unescapeHtml(base), pageUrl).toString() : pageUrl;
  const files: IndexFile[] = [];
  for (const anchor of html.matchAll(/<a\s([^>]*)>([^<]*)<\/a>/gi)) {
    const attributes = new Map<string, string>();
    for (const attr of (anchor[1] as string).matchAll(/([a-z][a-z0-9-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/gi)) {
      attributes.set((attr[1] as string).toLowerCase(), unescapeHtml(attr[2] ?? attr[3] ?? attr[4] ?? ""));
    }
    const href = attributes.get("href");
    if (!href) continue;
    const url = new URL(href, baseUrl);
    const filename = decodeURIComponent(url.pathname.split("/").pop() ?? "");
    const sha256 = hashFromFragment(url);
    url.hash = "";
    files.push({
      filename,
      url: url.toString(),
      sha256,
      requiresPython: attributes.get("data-requires-python") || null,
      yanked: attributes.has("data-yanked") ? (attributes.get("data-yanked") ?? "") : null,
      coreMetadata: coreMetadataOf(attributes.get("data-core-metadata") ?? attributes.get("data-dist-info-metadata")),
      index,
    });
  }
  return files;
}

interface Pep691File {
  filename: string;
  url: string;
  hashes?: Record<string, string>;
  "requires-python"?: string | null;
  yanked?: boolean | string;
  "core-metadata"?: unknown;
  "dist-info-metadata"?: unknown;
}

/** PEP 691 JSON page → files. */
export function parseJsonPage(body: string, pageUrl: string, index: string): IndexFile[] {
  const page = JSON.parse(body) as { files?: Pep691File[] };
  return (page.files ?? []).map((file) => {
    const url = new URL(file.url, pageUrl);
    url.hash = "";
    return {
      filename: file.filename,
      url: url.toString(),
      sha256: file.hashes?.sha256?.toLowerCase() ?? null,
      requiresPython: file["requires-python"] || null,
      yanked: file.yanked === undefined || file.yanked === false ? null : file.yanked === true ? "" : file.yanked,
      coreMetadata: coreMetadataOf(file["core-metadata"] ?? file["dist-info-metadata"]),
      index,
    };
  });
}

/** Reads byte ranges of a file: local, or remote with HTTP range requests. */
type RangeReader = { size: number; read(start: number, end: number): Promise<Buffer> };

/**
 * Reads the zip entries whose names `wanted` accepts, from the central directory, fetching only those bytes
 * (a wheel's METADATA is a few kB of a file that can be hundreds of MB).
 */
export async function readZipEntries(reader: RangeReader, wanted: (name: string) => boolean): Promise<Map<string, Buffer>> {
  const tailStart = Math.max(0, reader.size - TAIL_BYTES);
  const tail = await reader.read(tailStart, reader.size);
  const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd === -1) throw new Error("not a zip file (no end of central directory)");
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff) {
    // zip64: the locator just before the EOCD points at the zip64 EOCD record.
    const locator = eocd - 20;
    if (locator < 0 || tail.readUInt32LE(locator) !== 0x07064b50) throw new Error("zip64 locator missing");
    const recordOffset = Number(tail.readBigUInt64LE(locator + 8));
    const record = recordOffset >= tailStart ? tail.subarray(recordOffset - tailStart) : await reader.read(recordOffset, recordOffset + 56);
    cdSize = Number(record.readBigUInt64LE(40));
    cdOffset = Number(record.readBigUInt64LE(48));
  }
  const cd = cdOffset >= tailStart ? tail.subarray(cdOffset - tailStart, cdOffset - tailStart + cdSize) : await reader.read(cdOffset, cdOffset + cdSize);
  const out = new Map<string, Buffer>();
  for (let at = 0; at + 46 <= cd.length && cd.readUInt32LE(at) === 0x02014b50; ) {
    const method = cd.readUInt16LE(at + 10);
    const compressedSize = cd.readUInt32LE(at + 20);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    const localOffset = cd.readUInt32LE(at + 42);
    const name = cd.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    at += 46 + nameLength + extraLength + commentLength;
    if (!wanted(name)) continue;
    // The local header's name and extra lengths may differ from the central directory's: read it first.
    const header = await reader.read(localOffset, localOffset + 30);
    if (header.readUInt32LE(0) !== 0x04034b50) throw new Error("bad local file header");
    const dataStart = localOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const data = await reader.read(dataStart, dataStart + compressedSize);
    if (method === 0) out.set(name, data);
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`${name} uses unsupported compression method ${method}`);
  }
  return out;
}

const METADATA_ENTRY = /^[^/]+\.dist-info\/METADATA$/;

async function wheelMetadataFromZip(reader: RangeReader): Promise<string> {
  const [metadata] = (await readZipEntries(reader, (name) => METADATA_ENTRY.test(name))).values();
  if (!metadata) throw new Error("no .dist-info/METADATA in the wheel");
  return metadata.toString("utf8");
}

async function localReader(file: string): Promise<RangeReader & { close(): Promise<void> }> {
  const handle = await fs.open(file, "r");
  const { size } = await handle.stat();
  return {
    size,
    async read(start, end) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(end, size) - start));
      await handle.read(buffer, 0, buffer.length, start);
      return buffer;
    },
    close: () => handle.close(),
  };
}

export class IndexClient {
  private readonly indexes: { url: URL; shown: string; authorization: string | null }[];
  private readonly pages = new Map<string, Promise<ProjectLookup[]>>();
  private readonly metadataMemo = new Map<string, Promise<string>>();
  private readonly timeoutMs: number;
  /** Counters for tests and benchmarks: what the network and the disk cache did. */
  readonly stats = { requests: 0, notModified: 0, cacheFresh: 0, rangeRequests: 0, downloads: 0, metadataFiles: 0 };

  private readonly options: IndexClientOptions;

  constructor(options: IndexClientOptions) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.indexes = options.indexUrls.map((raw) => {
      let url: URL;
      try {
        url = new URL(raw.endsWith("/") ? raw : `${raw}/`);
      } catch {
        throw new VenvflowError("invalid_index_url", `Index URL "${redactUrl(raw)}" is not a URL`, { fix: "give an absolute URL such as https://host/simple or file:///path/simple" });
      }
      const authorization = url.username || url.password ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}` : null;
      url.username = "";
      url.password = "";
      return { url, shown: url.toString(), authorization };
    });
  }

  /** The indexes, redacted, in order (what errors and explanations show). */
  get indexNames(): string[] {
    return this.indexes.map((i) => i.shown);
  }

  /** Credentials of the index serving `url` (pip sends an index's credentials to files on the same host). */
  private authorizationFor(url: URL): string | null {
    return this.indexes.find((i) => i.url.origin === url.origin && i.authorization)?.authorization ?? null;
  }

  /** Every index's answer for a project, in index order (memoized for this client's lifetime). */
  lookup(project: string): Promise<ProjectLookup[]> {
    const name = canonicalizeName(project);
    let pending = this.pages.get(name);
    if (!pending) {
      pending = Promise.all(this.indexes.map((index) => this.lookupOn(index, name)));
      this.pages.set(name, pending);
    }
    return pending;
  }

  /** Files for a project across all indexes; an index that fails is an error naming it and what it answered. */
  async files(project: string): Promise<IndexFile[]> {
    const answers = await this.lookup(project);
    const files: IndexFile[] = [];
    for (const [i, answer] of answers.entries()) {
      const shown = (this.indexes[i] as { shown: string }).shown;
      if (answer.kind === "files") files.push(...answer.files);
      else if (answer.kind === "unauthorized") {
        throw new VenvflowError("index_unauthorized", `The package index ${shown} refused the credentials (HTTP ${answer.status}) for ${project}`, {
          fix: "put valid credentials in the index URL (https://user:token@host/simple)",
          details: { index: shown, status: answer.status, project },
        });
      } else if (answer.kind === "http_error") {
        throw new VenvflowError("index_http_error", `The package index ${shown} failed with HTTP ${answer.status} for ${project}`, {
          fix: "the index server is failing: retry later, or ask its operator; the request and the project are named above",
          details: { index: shown, status: answer.status, project },
        });
      } else if (answer.kind === "unreachable") {
        throw new VenvflowError("index_unreachable", `The package index ${shown} is unreachable (${answer.detail}) while looking up ${project}`, {
          fix: "check the index URL, and that this machine can reach it (proxy, VPN, firewall)",
          details: { index: shown, detail: answer.detail, project },
        });
      }
    }
    return files;
  }

  private async lookupOn(index: { url: URL; shown: string; authorization: string | null }, name: string): Promise<ProjectLookup> {
    const pageUrl = new URL(`${name}/`, index.url);
    if (pageUrl.protocol === "file:") {
      // pip reads a directory's index.html; a directory without one has no project page.
      const file = path.join(fileURLToPath(pageUrl), "index.html");
      let html: string;
      try {
        html = await fs.readFile(file, "utf8");
      } catch {
        return { kind: "no_project" };
      }
      return { kind: "files", files: parseHtmlPage(html, new URL("index.html", pageUrl).toString(), index.shown) };
    }
    const cacheFile = this.options.cacheDir ? path.join(this.options.cacheDir, "pages", `${sha256Hex(pageUrl.toString())}.json`) : null;
    const cached = cacheFile ? await readJson<CachedPage>(cacheFile) : null;
    if (cached && Date.now() - cached.fetchedAt < cached.maxAgeSeconds * 1000) {
      this.stats.cacheFresh++;
      return { kind: "files", files: this.parsePage(cached, index.shown) };
    }
    const headers: Record<string, string> = { Accept: ACCEPT };
    if (index.authorization) headers.Authorization = index.authorization;
    if (cached?.etag) headers["If-None-Match"] = cached.etag;
    if (cached?.lastModified) headers["If-Modified-Since"] = cached.lastModified;
    let response: Response;
    try {
      this.stats.requests++;
      response = await fetch(pageUrl, { headers, signal: AbortSignal.timeout(this.timeoutMs), redirect: "follow" });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { kind: "unreachable", detail: cause?.code ?? cause?.message ?? (error as Error).message };
    }
    if (response.status === 304 && cached) {
      this.stats.notModified++;
      await response.body?.cancel();
      const refreshed = { ...cached, fetchedAt: Date.now(), maxAgeSeconds: maxAge(response) };
      if (cacheFile) await writeJson(cacheFile, refreshed);
      return { kind: "files", files: this.parsePage(refreshed, index.shown) };
    }
    if (response.status === 401 || response.status === 403) return { kind: "unauthorized", status: response.status };
    if (response.status === 404 || response.status === 410) return { kind: "no_project" };
    if (!response.ok) return { kind: "http_error", status: response.status };
    const page: CachedPage = {
      etag: response.headers.get("etag"),
      lastModified: response.headers.get("last-modified"),
      fetchedAt: Date.now(),
      maxAgeSeconds: maxAge(response),
      contentType: response.headers.get("content-type") ?? "text/html",
      url: response.url || pageUrl.toString(),
      body: await response.text(),
    };
    if (cacheFile && (page.etag || page.lastModified || page.maxAgeSeconds > 0)) await writeJson(cacheFile, page);
    return { kind: "files", files: this.parsePage(page, index.shown) };
  }

  private parsePage(page: CachedPage, index: string): IndexFile[] {
    return page.contentType.includes("application/vnd.pypi.simple.v1+json") ? parseJsonPage(page.body, page.url, index) : parseHtmlPage(page.body, page.url, index);
  }

  private async get(url: URL, headers: Record<string, string> = {}): Promise<Response> {
    const authorization = this.authorizationFor(url);
    const response = await fetch(url, { headers: { ...headers, ...(authorization ? { Authorization: authorization } : {}) }, signal: AbortSignal.timeout(this.timeoutMs), redirect: "follow" });
    if (!response.ok) {
      await response.body?.cancel();
      throw new VenvflowError(response.status === 401 || response.status === 403 ? "index_unauthorized" : "index_http_error", `${redactUrl(url.toString())} answered HTTP ${response.status}`, {
        fix: "check the index and its credentials",
        details: { url: redactUrl(url.toString()), status: response.status },
      });
    }
    return response;
  }

  /** The distribution's core metadata (RFC 822 text), cached on disk by the file's sha256 (immutable content). */
  metadata(file: IndexFile): Promise<string> {
    const key = file.sha256 ?? sha256Hex(file.url);
    let pending = this.metadataMemo.get(key);
    if (!pending) {
      pending = this.loadMetadata(file, key);
      this.metadataMemo.set(key, pending);
    }
    return pending;
  }

  private async loadMetadata(file: IndexFile, key: string): Promise<string> {
    const cacheFile = this.options.cacheDir ? path.join(this.options.cacheDir, "metadata", `${key}.METADATA`) : null;
    if (cacheFile) {
      const cached = await fs.readFile(cacheFile, "utf8").catch(() => null);
      if (cached !== null) return cached;
    }
    const text = await this.fetchMetadata(file);
    if (cacheFile) {
      await fs.mkdir(path.dirname(cacheFile), { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      await fs.writeFile(tmp, text);
      await fs.rename(tmp, cacheFile);
    }
    return text;
  }

  private async fetchMetadata(file: IndexFile): Promise<string> {
    const url = new URL(file.url);
    if (file.coreMetadata) {
      const metadataUrl = new URL(`${url.toString()}.metadata`);
      const body = url.protocol === "file:" ? await fs.readFile(fileURLToPath(metadataUrl)).catch(() => null) : Buffer.from(await (await this.get(metadataUrl)).arrayBuffer());
      if (body) {
        this.stats.metadataFiles++;
        if (file.coreMetadata.sha256 && sha256Hex(body) !== file.coreMetadata.sha256) {
          throw new VenvflowError("metadata_hash_mismatch", `The metadata file of ${file.filename} on ${file.index} does not match the sha256 the index gives for it`, {
            fix: "the index is serving inconsistent files: report it to the index operator",
            details: { file: file.filename, index: file.index },
          });
        }
        return body.toString("utf8");
      }
    }
    if (!file.filename.endsWith(".whl")) {
      throw new VenvflowError("sdist_metadata_unavailable", `${file.filename} is a source distribution: its metadata must be built`, { fix: "build it with pip (resolve() does this when given a pip command)" });
    }
    return this.withReader(file, wheelMetadataFromZip);
  }

  /** Entries of a wheel (e.g. top_level.txt, RECORD), read with range requests or from the local file. */
  wheelEntries(file: IndexFile, wanted: (name: string) => boolean): Promise<Map<string, Buffer>> {
    return this.withReader(file, (reader) => readZipEntries(reader, wanted));
  }

  private async withReader<T>(file: IndexFile, use: (reader: RangeReader) => Promise<T>): Promise<T> {
    const url = new URL(file.url);
    if (url.protocol === "file:") {
      const reader = await localReader(fileURLToPath(url));
      try {
        return await use(reader);
      } finally {
        await reader.close();
      }
    }
    return use(await this.remoteReader(url));
  }

  /** A remote file read with HTTP ranges (a suffix range first: the central directory); a download when ranges are not served. */
  private async remoteReader(url: URL): Promise<RangeReader> {
    this.stats.rangeRequests++;
    const first = await this.get(url, { Range: `bytes=-${TAIL_BYTES}` });
    const total = /\/(\d+)$/.exec(first.headers.get("content-range") ?? "")?.[1];
    if (first.status !== 206 || total === undefined) {
      this.stats.downloads++;
      const whole = Buffer.from(await first.arrayBuffer());
      return { size: whole.length, read: async (start, end) => whole.subarray(start, end) };
    }
    const size = Number(total);
    const tail = Buffer.from(await first.arrayBuffer());
    const tailStart = size - tail.length;
    return {
      size,
      read: async (start, end) => {
        if (start >= tailStart) return tail.subarray(start - tailStart, end - tailStart);
        this.stats.rangeRequests++;
        const part = await this.get(url, { Range: `bytes=${start}-${end - 1}` });
        const body = Buffer.from(await part.arrayBuffer());
        return part.status === 206 ? body : body.subarray(start, end);
      },
    };
  }

  /** Downloads a file to `target` (0600), verifying its sha256 when the index gives one. */
  async download(file: IndexFile, target: string): Promise<void> {
    const url = new URL(file.url);
    const body = url.protocol === "file:" ? await fs.readFile(fileURLToPath(url)) : Buffer.from(await (await this.get(url)).arrayBuffer());
    if (file.sha256 && sha256Hex(body) !== file.sha256) {
      throw new VenvflowError("hash_mismatch", `${file.filename} from ${file.index} does not match the sha256 the index gives for it`, {
        fix: "the index is serving a corrupt or altered file: report it to the index operator",
        details: { file: file.filename, index: file.index },
      });
    }
    await fs.writeFile(target, body, { mode: 0o600 });
  }
}

function maxAge(response: Response): number {
  const match = /(?:^|,)\s*max-age=(\d+)/i.exec(response.headers.get("cache-control") ?? "");
  return match ? Number(match[1]) : 0;
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as T;
  } catch {
    return null;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
  await fs.rename(tmp, file);
}
