/**
 * Asks a PEP 503 index directly what it has for one project. pip's "from versions: none" means any of:
 * the index is down, refused our credentials, has no such project, or has only files for other
 * platforms and Pythons; pip without retries does not even say which. One GET tells them apart.
 */
import { promises as fs } from "node:fs";
import { fileURLToPath } from "node:url";
import { canonicalizeName, parseWheelFilename } from "./pep/index.ts";

export type IndexProbe =
  | { kind: "unreachable"; detail: string }
  | { kind: "unauthorized"; status: number }
  | { kind: "no_project"; status: number }
  | { kind: "files"; wheels: { filename: string; tags: string[] }[]; sdists: string[] }
  | { kind: "unknown"; detail: string };

function parseLinks(html: string): string[] {
  return [...html.matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]*)<\/a>/gi)].map((m) => (m[2] ?? "").trim() || decodeURIComponent((m[1] ?? "").split("#")[0]!.split("/").pop() ?? ""));
}

function classify(filenames: string[]): IndexProbe {
  const wheels: { filename: string; tags: string[] }[] = [];
  const sdists: string[] = [];
  for (const filename of filenames) {
    if (filename.endsWith(".whl")) {
      try {
        wheels.push({ filename, tags: [...parseWheelFilename(filename).tags].map((t) => t.toString()) });
      } catch {
        // not a valid wheel name: pip ignores it too
      }
    } else if (/\.(tar\.gz|zip)$/.test(filename)) sdists.push(filename);
  }
  return { kind: "files", wheels, sdists };
}

export async function probeIndex(indexUrl: string, project: string, timeoutMs = 5000): Promise<IndexProbe> {
  const name = canonicalizeName(project);
  let url: URL;
  try {
    url = new URL(indexUrl.endsWith("/") ? indexUrl : `${indexUrl}/`);
  } catch {
    return { kind: "unknown", detail: "not a URL" };
  }
  if (url.protocol === "file:") {
    try {
      const dir = fileURLToPath(new URL(`${name}/`, url));
      const entries = await fs.readdir(dir).catch(async () => parseLinks(await fs.readFile(`${dir}index.html`, "utf8")));
      return classify(entries);
    } catch {
      return { kind: "no_project", status: 404 };
    }
  }
  const headers: Record<string, string> = { Accept: "text/html" };
  if (url.username || url.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  let response: Response;
  try {
    response = await fetch(new URL(`${name}/`, url), { headers, signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { kind: "unreachable", detail: cause?.code ?? cause?.message ?? (error as Error).message };
  }
  if (response.status === 401 || response.status === 403) return { kind: "unauthorized", status: response.status };
  if (response.status === 404) return { kind: "no_project", status: 404 };
  if (!response.ok) return { kind: "unknown", detail: `HTTP ${response.status}` };
  return classify(parseLinks(await response.text()));
}
