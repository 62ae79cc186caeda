/**
 * The hermetic package index every test installs from: a PEP 503 simple index on 127.0.0.1 serving wheels built by
 * `buildWheel` (plus vendored real wheels), and `hermeticPipEnv`, which keeps the machine's pip setup out of tests.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { inject } from "vitest";
import { buildWheel, metadataField, normalizeProjectName, readWheelMetadata, type WheelSpec } from "./wheels.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The run-wide index with STANDARD_WHEELS and VENDORED_WHEELS: `http://127.0.0.1:PORT/simple/`. */
    indexUrl: string;
    /** A VENVFLOW_HOME shared by all test files, so one file's environments are cache hits for the next. */
    sharedHome: string;
    /** pip's cache for the run: shared across tests, never the user's own. */
    pipCacheDir: string;
  }
}

export interface PackageIndex {
  /** `http://127.0.0.1:PORT/simple/` */
  url: string;
  /** The index URL with `user:password@` in it (percent-encoded). */
  urlWithCredentials(username: string, password: string): string;
  /** Directory holding the served wheel files. */
  dir: string;
  /** Request paths (with query), in arrival order, including refused ones. */
  requests: string[];
  close(): Promise<void>;
}

export interface PackageIndexOptions {
  wheels?: WheelSpec[];
  /** Existing wheel files to serve as they are. */
  wheelFiles?: string[];
  /** When set, every request without these credentials gets 401. */
  basicAuth?: { username: string; password: string };
  /** PEP 592: file name → yank reason ("" for none). */
  yanked?: Record<string, string>;
  /** PEP 658/714: serve `FILE.metadata` and advertise it (with its sha256) on project pages. */
  metadataFiles?: boolean;
  /** PEP 691: answer with JSON when the client's Accept header prefers it. */
  json?: boolean;
  /** Answer every request with this HTTP status (a failing index). */
  failWith?: number;
}

interface ServedFile {
  fileName: string;
  sha256: string;
  requiresPython: string | undefined;
  metadata: string;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function htmlPage(title: string, links: string[]): string {
  return `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>${escapeHtml(title)}</title></head><body>\n${links.join("<br>\n")}\n</body></html>\n`;
}

async function describeWheel(path: string): Promise<ServedFile> {
  const content = await readFile(path);
  const metadata = await readWheelMetadata(path);
  return {
    fileName: basename(path),
    sha256: createHash("sha256").update(content).digest("hex"),
    requiresPython: metadataField(metadata, "Requires-Python"),
    metadata,
  };
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? "";
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Builds the wheels into a temp dir and serves them as a PEP 503 index on a random loopback port.
 * The server runs in the calling process: run pip with async child_process calls (never execFileSync/spawnSync),
 * or the blocked event loop cannot answer and pip times out.
 */
export async function startPackageIndex(opts: PackageIndexOptions): Promise<PackageIndex> {
  const dir = await mkdtemp(join(tmpdir(), "venvflow-index-"));
  const paths: string[] = [];
  for (const spec of opts.wheels ?? []) paths.push(await buildWheel(dir, spec));
  for (const file of opts.wheelFiles ?? []) {
    const target = join(dir, basename(file));
    await copyFile(file, target);
    paths.push(target);
  }

  const files = new Map<string, ServedFile>();
  const projects = new Map<string, ServedFile[]>();
  for (const path of paths) {
    const served = await describeWheel(path);
    files.set(served.fileName, served);
    const project = normalizeProjectName(served.fileName.split("-")[0] ?? "");
    projects.set(project, [...(projects.get(project) ?? []), served]);
  }

  const expectedAuth = opts.basicAuth
    ? Buffer.from(`Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString("base64")}`)
    : undefined;
  const requests: string[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const rawUrl = req.url ?? "/";
    requests.push(rawUrl);
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (opts.failWith !== undefined) {
      send(opts.failWith, "text/plain", `failing with ${opts.failWith}\n`);
      return;
    }
    if (expectedAuth && !authorized(req, expectedAuth)) {
      send(401, "text/plain", "credentials required\n", { "WWW-Authenticate": 'Basic realm="venvflow-test-index"' });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(405, "text/plain", "method not allowed\n", { Allow: "GET, HEAD" });
      return;
    }
    const path = decodeURIComponent(new URL(rawUrl, "http://index.invalid").pathname);

    if (path === "/simple/") {
      const links = [...projects.keys()].sort().map((p) => `<a href="${escapeHtml(p)}/">${escapeHtml(p)}</a>`);
      send(200, "text/html; charset=utf-8", htmlPage("Simple index", links));
      return;
    }
    const project = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (project) {
      const [, name = "", slash] = project;
      const normalized = normalizeProjectName(name);
      // PEP 503: non-normalized names and missing trailing slashes redirect to the canonical page.
      if (normalized !== name || slash !== "/") {
        send(301, "text/plain", "moved\n", { Location: `/simple/${normalized}/` });
        return;
      }
      const served = projects.get(normalized);
      if (!served) {
        send(404, "text/plain", `no project ${normalized}\n`);
        return;
      }
      const metadataHash = (file: ServedFile) => createHash("sha256").update(file.metadata).digest("hex");
      const yankReason = (file: ServedFile) => opts.yanked?.[file.fileName];
      // Pages carry validators, so clients can revalidate a cached copy with If-None-Match.
      const etag = `"${createHash("sha256").update(served.map((f) => f.sha256).join()).digest("hex").slice(0, 16)}"`;
      if (req.headers["if-none-match"] === etag) {
        res.writeHead(304, { ETag: etag });
        res.end();
        return;
      }
      if (opts.json && (req.headers.accept ?? "").includes("application/vnd.pypi.simple.v1+json")) {
        const body = JSON.stringify({
          meta: { "api-version": "1.1" },
          name: normalized,
          files: served.map((file) => ({
            filename: file.fileName,
            url: `../../files/${encodeURIComponent(file.fileName)}`,
            hashes: { sha256: file.sha256 },
            ...(file.requiresPython === undefined ? {} : { "requires-python": file.requiresPython }),
            ...(yankReason(file) === undefined ? {} : { yanked: yankReason(file) || true }),
            ...(opts.metadataFiles ? { "core-metadata": { sha256: metadataHash(file) } } : {}),
          })),
        });
        send(200, "application/vnd.pypi.simple.v1+json", body, { ETag: etag });
        return;
      }
      const links = served.map((file) => {
        const requires =
          file.requiresPython === undefined ? "" : ` data-requires-python="${escapeHtml(file.requiresPython)}"`;
        const yanked = yankReason(file) === undefined ? "" : ` data-yanked="${escapeHtml(yankReason(file) ?? "")}"`;
        const metadata = opts.metadataFiles ? ` data-core-metadata="sha256=${metadataHash(file)}" data-dist-info-metadata="sha256=${metadataHash(file)}"` : "";
        const href = `../../files/${encodeURIComponent(file.fileName)}#sha256=${file.sha256}`;
        return `<a href="${escapeHtml(href)}"${requires}${yanked}${metadata}>${escapeHtml(file.fileName)}</a>`;
      });
      send(200, "text/html; charset=utf-8", htmlPage(`Links for ${normalized}`, links), { ETag: etag });
      return;
    }
    const metadataMatch = opts.metadataFiles ? /^\/files\/([^/]+)\.metadata$/.exec(path) : null;
    const metadataOf = metadataMatch ? files.get(metadataMatch[1] ?? "") : undefined;
    if (metadataOf) {
      send(200, "text/plain", metadataOf.metadata);
      return;
    }
    const fileMatch = /^\/files\/([^/]+)$/.exec(path);
    const served = fileMatch ? files.get(fileMatch[1] ?? "") : undefined;
    if (!served) {
      send(404, "text/plain", "not found\n");
      return;
    }
    const full = join(dir, served.fileName);
    stat(full).then(
      ({ size }) => {
        // Byte ranges (RFC 9110), as PyPI's CDN serves them: `bytes=A-B` and suffix `bytes=-N`.
        const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
        if (range && (range[1] || range[2])) {
          const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
          const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
          res.writeHead(206, { "Content-Type": "application/octet-stream", "Content-Length": end - start + 1, "Content-Range": `bytes ${start}-${end}/${size}` });
          if (req.method === "HEAD") res.end();
          else createReadStream(full, { start, end }).pipe(res);
          return;
        }
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size, "Accept-Ranges": "bytes" });
        if (req.method === "HEAD") res.end();
        else createReadStream(full).pipe(res);
      },
      () => send(500, "text/plain", "unreadable\n"),
    );
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/simple/`;

  return {
    url,
    urlWithCredentials: (username, password) =>
      `http://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${port}/simple/`,
    dir,
    requests,
    async close() {
      // pip keeps connections alive; without this, close() waits for them to time out.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An index URL on a loopback port with nothing listening: requests to it fail with "connection refused". */
export async function unreachableIndexUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/simple/`;
}

const STRIPPED = /^(PIP_|UV_)/;
const STRIPPED_EXACT = new Set(["VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"]);

/**
 * A copy of `base` in which pip sees none of the machine's configuration.
 *
 * - Every `PIP_*`/`UV_*` variable and the Python path/venv variables are dropped (they would redirect installs).
 * - `PIP_CONFIG_FILE=/dev/null`: pip 23 and 24 then load NO config file at all — global (/etc/xdg/pip, /etc),
 *   user and site. `--isolated`/`PIP_ISOLATED_MODE` is not enough: it skips user config but still reads the global
 *   files. `pip config list` in this env prints only the `:env:` variables set here.
 * - `PIP_INDEX_URL` stays unset: callers pass `--index-url` explicitly, so a forgotten index fails loudly.
 * - Cache: `PIP_NO_CACHE_DIR=1` unless `extra` supplies `PIP_CACHE_DIR` (tests use the run's temp cache via
 *   `testPipEnv`), so the user's ~/.cache/pip is never read or written.
 * - `NO_PROXY` covers loopback, so a proxy in the environment never intercepts the test index.
 */
export function hermeticPipEnv(
  base: NodeJS.ProcessEnv = process.env,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!STRIPPED.test(key) && !STRIPPED_EXACT.has(key)) env[key] = value;
  }
  const loopback = "127.0.0.1,localhost";
  env.NO_PROXY = env.NO_PROXY ? `${env.NO_PROXY},${loopback}` : loopback;
  env.no_proxy = env.NO_PROXY;
  env.PIP_CONFIG_FILE = "/dev/null";
  env.PIP_DISABLE_PIP_VERSION_CHECK = "1";
  env.PIP_NO_INPUT = "1";
  env.PYTHONDONTWRITEBYTECODE = "1";
  if (extra.PIP_CACHE_DIR === undefined) env.PIP_NO_CACHE_DIR = "1";
  // No background bytecode compilation: a test removing its home right after a build would race the compiler.
  env.VENVFLOW_BYTECODE = "0";
  return { ...env, ...extra };
}

/** `hermeticPipEnv()` with the run's shared pip cache (from global setup); use inside test files. */
export function testPipEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return hermeticPipEnv(process.env, { PIP_CACHE_DIR: inject("pipCacheDir"), ...extra });
}
