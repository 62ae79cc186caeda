import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { linuxPlatforms, supportedTags } from "../../src/env/pep/index.ts";
import { listPythons } from "../../src/env/python.ts";
import { IndexClient, parseHtmlPage, resolve, targetFor, type ResolveTarget } from "../../src/env/resolver/index.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { startPackageIndex, type PackageIndex } from "../support/pypi.ts";
import { buildWheel, wheelFileName } from "../support/wheels.ts";
import { UNIVERSE, YANKED } from "./resolver/corpus.ts";

/** CPython 3.11.7 on x86_64 glibc 2.36, described rather than probed: these tests need no interpreter. */
const TARGET: ResolveTarget = {
  markers: {
    implementation_name: "cpython",
    implementation_version: "3.11.7",
    os_name: "posix",
    platform_machine: "x86_64",
    platform_release: "6.1.0",
    platform_system: "Linux",
    platform_version: "#1 SMP",
    python_full_version: "3.11.7",
    platform_python_implementation: "CPython",
    python_version: "3.11",
    sys_platform: "linux",
  },
  tags: supportedTags({ implementation: "cpython", major: 3, minor: 11, platforms: linuxPlatforms({ arch: "x86_64", glibc: [2, 36], musl: null }) }),
  pythonVersion: "3.11.7",
  interpreterPath: null,
};

async function failure(promise: Promise<unknown>): Promise<VenvflowError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VenvflowError) return error;
    throw error;
  }
  throw new Error("expected a VenvflowError");
}

const pins = (r: { distributions: { name: string; version: string }[] }) => r.distributions.map((d) => `${d.name}==${d.version}`);

let index: PackageIndex;
let work: string;

beforeAll(async () => {
  index = await startPackageIndex({ wheels: UNIVERSE, yanked: YANKED });
  work = await mkdtemp(join(tmpdir(), "venvflow-resolver-"));
});

afterAll(async () => {
  await index?.close();
  await rm(work, { recursive: true, force: true });
});

describe("index pages", () => {
  it("reads PEP 503 attributes: escaped hrefs, hashes, Requires-Python, yanked reasons, core metadata, <base>", () => {
    const html = `<html><head><base href="https://files.example/pkgs/"></head><body>
      <a href="x-1.0-py3-none-any.whl#sha256=${"a".repeat(64)}" data-requires-python="&gt;=3.8" data-core-metadata="sha256=${"b".repeat(64)}">x-1.0-py3-none-any.whl</a>
      <a href="x-2.0.tar.gz?a=1&amp;b=2" data-yanked="bad &quot;release&quot;">x-2.0.tar.gz</a>
    </body></html>`;
    const files = parseHtmlPage(html, "https://index.example/simple/x/", "https://index.example/simple/");
    expect(files).toEqual([
      { filename: "x-1.0-py3-none-any.whl", url: "https://files.example/pkgs/x-1.0-py3-none-any.whl", sha256: "a".repeat(64), requiresPython: ">=3.8", yanked: null, coreMetadata: { sha256: "b".repeat(64) }, index: "https://index.example/simple/" },
      { filename: "x-2.0.tar.gz", url: "https://files.example/pkgs/x-2.0.tar.gz?a=1&b=2", sha256: null, requiresPython: null, yanked: 'bad "release"', coreMetadata: null, index: "https://index.example/simple/" },
    ]);
  });

  it("reads PEP 691 JSON pages the same way as HTML ones", async () => {
    const json = await startPackageIndex({ wheels: UNIVERSE.filter((w) => w.name === "rv-h"), yanked: YANKED, json: true });
    try {
      const fromJson = await new IndexClient({ indexUrls: [json.url], cacheDir: null }).files("rv-h");
      const fromHtml = await new IndexClient({ indexUrls: [index.url], cacheDir: null }).files("rv-h");
      expect(fromJson.map(({ filename, sha256, yanked }) => ({ filename, sha256, yanked }))).toEqual(fromHtml.map(({ filename, sha256, yanked }) => ({ filename, sha256, yanked })));
      expect(fromJson.find((f) => f.filename.includes("2.0"))?.yanked).toBe("broken build");
    } finally {
      await json.close();
    }
  });

  it("reads a file:// PEP 503 directory's index.html, not the directory listing", async () => {
    const root = join(work, "dir-index");
    await mkdir(join(root, "simple", "rv-a"), { recursive: true });
    await mkdir(join(root, "files"), { recursive: true });
    const wheel = await buildWheel(join(root, "files"), { name: "rv-a", version: "1.0" });
    const sha = createHash("sha256").update(await readFile(wheel)).digest("hex");
    await writeFile(join(root, "simple", "rv-a", "index.html"), `<a href="../../files/${wheelFileName({ name: "rv-a", version: "1.0" })}#sha256=${sha}">rv_a-1.0</a>`);
    // A wheel sitting in the project directory but not linked from index.html is not on the index.
    await buildWheel(join(root, "simple", "rv-a"), { name: "rv-a", version: "9.0" });
    const result = await resolve(["rv-a"], { indexes: [pathToFileURL(join(root, "simple")).toString()], target: TARGET, cacheDir: null });
    expect(pins(result)).toEqual(["rv-a==1.0"]);
    expect(result.distributions[0]?.sha256).toBe(sha);
    expect(result.distributions[0]?.metadata.version).toBe("1.0");
  });
});

describe("metadata", () => {
  it("uses PEP 658 metadata files when served, and nothing else of the wheel", async () => {
    const served = await startPackageIndex({ wheels: UNIVERSE.filter((w) => ["rv-b", "rv-a"].includes(w.name)), metadataFiles: true });
    try {
      const result = await resolve(["rv-b"], { indexes: [served.url], target: TARGET, cacheDir: null });
      expect(pins(result)).toEqual(["rv-a==1.1", "rv-b==3.0"]);
      expect(result.client.stats.metadataFiles).toBeGreaterThan(0);
      expect(served.requests.some((r) => r.endsWith(".whl"))).toBe(false);
    } finally {
      await served.close();
    }
  });

  it("reads METADATA from the wheel with range requests, then from the disk cache; pages are revalidated with ETags", async () => {
    const cacheDir = join(work, "cache-ranges");
    const first = await resolve(["rv-c"], { indexes: [index.url], target: TARGET, cacheDir });
    expect(pins(first)).toEqual(["rv-a==2.1", "rv-b==2.0", "rv-c==2.0"]);
    expect(first.client.stats.rangeRequests).toBeGreaterThan(0);
    expect(first.client.stats.downloads).toBe(0);
    expect(first.distributions.find((d) => d.name === "rv-c")?.metadata.requiresDist).toEqual(["rv-b<3"]);

    const before = index.requests.length;
    const second = await resolve(["rv-c"], { indexes: [index.url], target: TARGET, cacheDir });
    expect(pins(second)).toEqual(pins(first));
    expect(second.client.stats.notModified).toBe(second.client.stats.requests);
    expect(index.requests.slice(before).filter((r) => r.includes("/files/"))).toEqual([]);
  });

  it("sends basic auth from the index URL and never shows the password", async () => {
    const secret = "s3cr3t-pw";
    const guarded = await startPackageIndex({ wheels: UNIVERSE.filter((w) => w.name === "rv-a"), basicAuth: { username: "u", password: secret } });
    try {
      const result = await resolve(["rv-a"], { indexes: [guarded.urlWithCredentials("u", secret)], target: TARGET, cacheDir: null });
      expect(pins(result)).toEqual(["rv-a==2.1"]);
      expect(JSON.stringify(result.distributions)).not.toContain(secret);
      const refused = await failure(resolve(["rv-a"], { indexes: [guarded.urlWithCredentials("u", "wrong-password")], target: TARGET, cacheDir: null }));
      expect(refused.code).toBe("index_unauthorized");
      expect(refused.message).not.toContain("wrong-password");
    } finally {
      await guarded.close();
    }
  });
});

describe("resolution", () => {
  const resolveHere = (requirements: string[], extra: { constraints?: string[]; prereleases?: boolean; onWarning?: (m: string) => void } = {}) =>
    resolve(requirements, { indexes: [index.url], target: TARGET, cacheDir: null, ...extra });

  it("returns each distribution's file, hash and metadata", async () => {
    const result = await resolveHere(["rv-d[x]"]);
    const d = result.distributions.find((x) => x.name === "rv-d");
    expect(d?.filename).toBe("rv_d-1.0-py3-none-any.whl");
    expect(d?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/rv_d-1\.0-py3-none-any\.whl$/);
    const body = Buffer.from(await (await fetch(d?.url as string)).arrayBuffer());
    expect(d?.sha256).toBe(createHash("sha256").update(body).digest("hex"));
    expect(d?.requested).toBe(true);
    expect(result.distributions.find((x) => x.name === "rv-a")?.requested).toBe(false);
  });

  it("explains a conflict by the chain that causes it", async () => {
    const error = await failure(resolveHere(["rv-deep1", "rv-m"]));
    expect(error.code).toBe("conflicting_requirements");
    expect(error.message).toContain("rv-m 1.0 (required by the user) depends on rv-n==1.0");
    expect(error.message).toMatch(/rv-o 1\.0 \(required by rv-deep3 1\.0, required by rv-deep2 [12]\.0, required by rv-deep1 1\.0, required by the user\) depends on rv-n>=2/);
  });

  it("says which versions exist when none satisfies the request, and when a project has no file for the target", async () => {
    const none = await failure(resolveHere(["rv-a>=5"]));
    expect(none.code).toBe("no_matching_distribution");
    expect(none.message).toContain("the index has 1.0, 1.1, 2.0, 2.1");
    const missing = await failure(resolveHere(["rv-nonexistent"]));
    expect(missing.message).toContain("No distribution named rv-nonexistent");
    const windowsOnly = await startPackageIndex({ wheels: [{ name: "rv-win", version: "1.0", tag: "cp311-cp311-win_amd64" }] });
    try {
      const error = await failure(resolve(["rv-win"], { indexes: [windowsOnly.url], target: TARGET, cacheDir: null }));
      expect(error.code).toBe("no_compatible_wheel");
      expect(error.message).toContain("rv_win-1.0-cp311-cp311-win_amd64.whl");
    } finally {
      await windowsOnly.close();
    }
  });

  it("warns about unknown extras and pinned yanked files, as pip does", async () => {
    const warnings: string[] = [];
    await resolveHere(["rv-d[nope]", "rv-h==2.0"], { onWarning: (m) => warnings.push(m) });
    expect(warnings).toContain("rv-d 1.0 does not provide the extra 'nope'");
    expect(warnings.some((w) => w.includes("rv_h-2.0-py3-none-any.whl is yanked (reason: broken build)"))).toBe(true);
  });

  it("applies constraints, pre-releases and Requires-Python for the target", async () => {
    expect(pins(await resolveHere(["rv-b"], { constraints: ["rv-a<2"] }))).toEqual(["rv-a==1.1", "rv-b==3.0"]);
    const excluded = await failure(resolveHere(["rv-a"], { constraints: ["rv-a>=3"] }));
    expect(excluded.code).toBe("conflicting_requirements");
    expect(excluded.message).toContain("No version of rv-a satisfies rv-a together with the constraint rv-a>=3; the index has 1.0, 1.1, 2.0, 2.1 for Python 3.11.7 on linux x86_64");
    expect(pins(await resolveHere(["rv-f"]))).toEqual(["rv-f==1.0"]);
    expect(pins(await resolveHere(["rv-f"], { prereleases: true }))).toEqual(["rv-f==2.0rc1"]);
    expect(pins(await resolveHere(["rv-g"]))).toEqual(["rv-g==1.0a1"]);
    const py38 = { ...TARGET, pythonVersion: "3.8.18", markers: { ...TARGET.markers, python_version: "3.8", python_full_version: "3.8.18" } };
    expect(pins(await resolve(["rv-u", "rv-v"], { indexes: [index.url], target: py38, cacheDir: null }))).toEqual(["rv-u==1.0", "rv-v==1.0"]);
  });

  it("explains an index answering HTTP 500 as such", async () => {
    const broken = await startPackageIndex({ wheels: [], failWith: 500 });
    try {
      const error = await failure(resolve(["rv-a"], { indexes: [broken.url], target: TARGET, cacheDir: null }));
      expect(error.code).toBe("index_http_error");
      expect(error.message).toContain(`${broken.url} failed with HTTP 500 for rv-a`);
    } finally {
      await broken.close();
    }
  });

  it("refuses a direct URL reference with a clear error", async () => {
    const error = await failure(resolveHere(["rv-a @ https://example.invalid/rv_a-1.0-py3-none-any.whl"]));
    expect(error.code).toBe("unsupported_requirement");
  });
});

/** An sdist whose in-tree PEP 517 backend only prepares metadata: pip builds it offline, with nothing to install. */
async function writeSdist(dir: string): Promise<string> {
  const root = join(dir, "rv_sdist-1.0");
  await mkdir(root, { recursive: true });
  const metadata = "Metadata-Version: 2.1\\nName: rv-sdist\\nVersion: 1.0\\nRequires-Dist: rv-a<2\\n";
  await writeFile(join(root, "pyproject.toml"), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
  await writeFile(join(root, "PKG-INFO"), "Metadata-Version: 2.1\nName: rv-sdist\nVersion: 1.0\n");
  await writeFile(
    join(root, "backend.py"),
    [
      "import os",
      "def get_requires_for_build_wheel(config_settings=None):",
      "    return []",
      "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):",
      "    info = os.path.join(metadata_directory, 'rv_sdist-1.0.dist-info')",
      "    os.makedirs(info)",
      `    open(os.path.join(info, 'METADATA'), 'w').write("${metadata}")`,
      "    return 'rv_sdist-1.0.dist-info'",
      "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):",
      "    raise NotImplementedError('metadata only')",
      "",
    ].join("\n"),
  );
  await promisify(execFile)("tar", ["czf", join(dir, "rv_sdist-1.0.tar.gz"), "-C", dir, "rv_sdist-1.0"]);
  return join(dir, "rv_sdist-1.0.tar.gz");
}

const withPip = (await listPythons()).find((p) => p.major === 3 && p.pipVersion !== null && /^2[3-9]\./.test(p.pipVersion) && p.markers.sys_platform === "linux");
describe("source distributions", () => {
  it.skipIf(!withPip)("have their metadata built once with pip, then cached; without pip the error says so", async () => {
    const root = join(work, "sdist-index");
    await mkdir(join(root, "simple", "rv-sdist"), { recursive: true });
    const sdist = await writeSdist(join(root, "files"));
    const sha = createHash("sha256").update(await readFile(sdist)).digest("hex");
    await writeFile(join(root, "simple", "rv-sdist", "index.html"), `<a href="../../files/rv_sdist-1.0.tar.gz#sha256=${sha}">rv_sdist-1.0.tar.gz</a>`);
    const indexes = [pathToFileURL(join(root, "simple")).toString(), index.url];
    const python = withPip as NonNullable<typeof withPip>;
    const cacheDir = join(work, "sdist-cache");
    const options = { indexes, target: targetFor(python), cacheDir, pip: [python.path, "-m", "pip"], env: { ...process.env, PIP_CONFIG_FILE: "/dev/null", PIP_NO_CACHE_DIR: "1" } };
    const first = await resolve(["rv-sdist"], options);
    expect(pins(first)).toEqual(["rv-a==1.1", "rv-sdist==1.0"]);
    expect(first.distributions.find((d) => d.name === "rv-sdist")?.metadata.requiresDist).toEqual(["rv-a<2"]);
    // Cached: a resolution without any pip to build with still knows the metadata.
    const { pip: _pip, ...withoutPip } = options;
    expect(pins(await resolve(["rv-sdist"], withoutPip))).toEqual(["rv-a==1.1", "rv-sdist==1.0"]);
    const error = await failure(resolve(["rv-sdist"], { ...withoutPip, cacheDir: join(work, "sdist-cache-empty") }));
    expect(error.code).toBe("sdist_metadata_unavailable");
    expect(error.message).toContain("rv_sdist-1.0.tar.gz");
  }, 120_000);
  if (!withPip) console.log("skipped the sdist case: no Python with pip 23+ found");
});
