/**
 * Asks a package index directly what it has for one project. pip's "from versions: none" means any of:
 * the index is down or failing, refused our credentials, has no such project, or has only files for other
 * platforms and Pythons; pip does not say which. One lookup with the resolver's index client tells them apart,
 * reading indexes as pip does (a `file://` index through `<project>/index.html`, PEP 691 JSON, basic auth).
 */
import { parseWheelFilename } from "./pep/index.ts";
import { IndexClient } from "./resolver/index-client.ts";

export type IndexProbe =
  | { kind: "unreachable"; detail: string }
  | { kind: "unauthorized"; status: number }
  | { kind: "http_error"; status: number }
  | { kind: "no_project"; status: number }
  | { kind: "files"; wheels: { filename: string; tags: string[] }[]; sdists: string[] }
  | { kind: "unknown"; detail: string };

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
  let client: IndexClient;
  try {
    client = new IndexClient({ indexUrls: [indexUrl], cacheDir: null, timeoutMs });
  } catch {
    return { kind: "unknown", detail: "not a URL" };
  }
  const [answer] = await client.lookup(project);
  switch (answer?.kind) {
    case "files":
      return answer.files.length ? classify(answer.files.map((f) => f.filename)) : { kind: "no_project", status: 404 };
    case "no_project":
      return { kind: "no_project", status: 404 };
    case "unauthorized":
    case "http_error":
    case "unreachable":
      return answer;
    default:
      return { kind: "unknown", detail: "no answer" };
  }
}
