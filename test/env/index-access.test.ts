/**
 * Regression tests for index access in builds and doctor: a file:// PEP 503 directory read through its
 * index.html (issue #10.1), the index from pip's own configuration when the task gives none (#10.2), an index
 * failing with HTTP 500 (#9.13), unknown extras warned (#9.13), `--hash` lines and `--require-hashes` (#9.12).
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { diagnoseTasks } from "../../src/doctor/index.ts";
import { distributionsProviding } from "../../src/doctor/index-lookup.ts";
import { ensureEnvironment, listPythons } from "../../src/env/index.ts";
import { probeIndex } from "../../src/env/index-probe.ts";
import { configuredIndexUrls, PYPI_SIMPLE } from "../../src/env/installers/pip-config.ts";
import { IndexClient } from "../../src/env/resolver/index.ts";
import type { BuildProgress, EnvSpecInput } from "../../src/env/types.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { startPackageIndex, testPipEnv, type PackageIndex } from "../support/pypi.ts";
import { buildWheel, wheelFileName, type WheelSpec } from "../support/wheels.ts";

let home: string;
let work: string;
let indexUrl: string;
let dirIndexUrl: string;
const found = await listPythons();
const has = (version: string) => found.some((p) => `${p.major}.${p.minor}` === version);
const CP311_ONLY: WheelSpec = { name: "vf-dironly", version: "1.0.0", tag: "cp311-cp311-manylinux_2_17_x86_64" };

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-index-access-"));
  work = await mkdtemp(path.join(tmpdir(), "venvflow-index-access-work-"));
  indexUrl = inject("indexUrl");
  // A PEP 503 directory as local mirrors lay it out: simple/<project>/index.html linking to ../../files/.
  const root = path.join(work, "mirror");
  await mkdir(path.join(root, "simple", "vf-dironly"), { recursive: true });
  const wheel = await buildWheel(path.join(root, "files"), CP311_ONLY);
  const sha = createHash("sha256").update(await readFile(wheel)).digest("hex");
  await writeFile(path.join(root, "simple", "index.html"), `<a href="vf-dironly/">vf-dironly</a>\n`);
  await writeFile(path.join(root, "simple", "vf-dironly", "index.html"), `<a href="../../files/${wheelFileName(CP311_ONLY)}#sha256=${sha}">${wheelFileName(CP311_ONLY)}</a>\n`);
  dirIndexUrl = pathToFileURL(path.join(root, "simple")).toString();
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

async function buildFailure(spec: EnvSpecInput, env: NodeJS.ProcessEnv): Promise<VenvflowError> {
  try {
    await ensureEnvironment({ installer: "pip", ...spec }, { home, env });
  } catch (error) {
    if (error instanceof VenvflowError) return error;
    throw error;
  }
  throw new Error("the build was expected to fail");
}

describe("a file:// PEP 503 directory index", () => {
  it("is read through <project>/index.html: the probe sees the files, doctor's lookup sees the project", async () => {
    const probe = await probeIndex(dirIndexUrl, "vf-dironly");
    expect(probe).toEqual({ kind: "files", wheels: [{ filename: wheelFileName(CP311_ONLY), tags: ["cp311-cp311-manylinux_2_17_x86_64"] }], sdists: [] });
    expect(await probeIndex(dirIndexUrl, "vf-absent")).toEqual({ kind: "no_project", status: 404 });
    expect(await distributionsProviding(dirIndexUrl, "vf_dironly")).toEqual(["vf-dironly"]);
  });

  it.skipIf(!has("3.12"))("a cp311-only project asked for on Python 3.12 is 'no compatible wheel', not 'no such project'", async () => {
    const error = await buildFailure({ pythonVersion: "3.12", requirements: ["vf-dironly"], indexUrls: [dirIndexUrl] }, testPipEnv());
    expect(error.details.reason).toBe("no_compatible_wheel");
    expect(error.message).toContain(wheelFileName(CP311_ONLY));
  });
  if (!has("3.12")) console.log("skipped the Python 3.12 build case: Python 3.12 is not installed here");
});

describe("the index from pip's own configuration", () => {
  it("follows pip's precedence: PIP_* over [install] over [global], later files over earlier; no-index means none; default PyPI", async () => {
    const conf = path.join(work, "precedence.conf");
    const only = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ HOME: work, XDG_CONFIG_DIRS: path.join(work, "none"), XDG_CONFIG_HOME: path.join(work, "none"), ...extra });
    expect(configuredIndexUrls(only({ PIP_CONFIG_FILE: "/dev/null" }))).toEqual([PYPI_SIMPLE]);
    await writeFile(conf, "[global]\nindex-url = https://a/simple\nextra-index-url = file:///m/simple\n  file:///n/simple\n");
    expect(configuredIndexUrls(only({ PIP_CONFIG_FILE: conf }))).toEqual(["https://a/simple", "file:///m/simple", "file:///n/simple"]);
    await writeFile(conf, "[global]\nindex-url = https://a/simple\n[install]\nindex-url = https://b/simple\n");
    expect(configuredIndexUrls(only({ PIP_CONFIG_FILE: conf }))).toEqual(["https://b/simple"]);
    expect(configuredIndexUrls(only({ PIP_CONFIG_FILE: conf, PIP_INDEX_URL: "https://c/simple" }))).toEqual(["https://c/simple"]);
    expect(configuredIndexUrls(only({ PIP_CONFIG_FILE: conf, PIP_NO_INDEX: "true" }))).toEqual([]);
  });

  const cases: [string, () => Promise<NodeJS.ProcessEnv>][] = [
    ["PIP_INDEX_URL", async () => testPipEnv({ PIP_INDEX_URL: indexUrl })],
    [
      "pip.conf",
      async () => {
        const conf = path.join(work, "pip.conf");
        await writeFile(conf, `[global]\nindex-url = ${indexUrl}\n`);
        return testPipEnv({ PIP_CONFIG_FILE: conf });
      },
    ],
  ];
  it.each(cases)("through %s: a typo'd name and a wheel for another platform are explained precisely, and doctor agrees", async (_how, makeEnv) => {
    const env = await makeEnv();
    const typo = await buildFailure({ pythonVersion: "3", requirements: ["vf-alphx"] }, env);
    expect(typo.message).toContain(`no project named vf-alphx on ${indexUrl}`);
    const native = await buildFailure({ pythonVersion: "3", requirements: ["vf-native"] }, env);
    expect(native.details.reason).toBe("no_compatible_wheel");
    expect(native.message).toContain("vf_native-1.0.0-cp39-cp39-win_amd64.whl");

    const dir = path.join(work, "doctor");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "job.py"), "def run():\n    return 1\n");
    const findings = await diagnoseTasks([{ dagId: "d", taskId: "t", file: path.join(dir, "dag.ts"), pythonCallable: "job.py:run", baseDir: dir, requirements: ["vf-alphx"], pythonVersion: "3" }], { home, env });
    expect(findings).toEqual([expect.objectContaining({ code: "distribution_not_found", message: expect.stringContaining(`no distribution named "vf-alphx" on ${indexUrl}`) as unknown })]);
  });
});

describe("index and requirement failures pip hides", () => {
  let failing: PackageIndex;
  beforeAll(async () => {
    failing = await startPackageIndex({ wheels: [], failWith: 500 });
  });
  afterAll(async () => {
    await failing.close();
  });

  it("an index answering HTTP 500 is explained as such, not as 'no distribution fits'", async () => {
    const error = await buildFailure({ pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: [failing.url] }, testPipEnv({ PIP_RETRIES: "1" }));
    expect(error.details.reason).toBe("index_http_error");
    expect(error.message).toContain(`${failing.url} failed with HTTP 500`);
  });

  it("an extra the distribution does not provide is warned about at every use, as pip warns", async () => {
    const events: BuildProgress[] = [];
    const spec = { installer: "pip" as const, pythonVersion: "3", requirements: ["vf-beta[nope]"], indexUrls: [indexUrl] };
    const env = await ensureEnvironment(spec, { home, env: testPipEnv(), onProgress: (e) => events.push(e) });
    expect(env.warnings).toEqual([expect.stringContaining("vf-beta 1.0.0 does not provide the extra 'nope'")]);
    const again: BuildProgress[] = [];
    await ensureEnvironment(spec, { home, env: testPipEnv(), onProgress: (e) => again.push(e) });
    expect(again.filter((e) => e.phase === "warning").map((e) => e.message)).toEqual(env.warnings);
  });

  it("--hash lines install with --require-hashes; a wrong hash fails naming the package", async () => {
    const [file] = (await new IndexClient({ indexUrls: [indexUrl], cacheDir: null }).files("vf-alpha")).filter((f) => f.filename.startsWith("vf_alpha-1.0.0-"));
    const requirements = path.join(work, "hashed.txt");
    await writeFile(requirements, `--require-hashes\nvf-alpha==1.0.0 \\\n    --hash=sha256:${file?.sha256 as string}\n`);
    const env = await ensureEnvironment({ installer: "pip", pythonVersion: "3", requirements, indexUrls: [indexUrl] }, { home, env: testPipEnv() });
    expect(env.lock).toEqual([expect.objectContaining({ name: "vf-alpha", version: "1.0.0", sha256: file?.sha256 })]);

    const wrong = path.join(work, "wrong-hash.txt");
    await writeFile(wrong, `vf-alpha==1.0.0 --hash=sha256:${"0".repeat(64)}\n`);
    const error = await buildFailure({ pythonVersion: "3", requirements: wrong, indexUrls: [indexUrl] }, testPipEnv());
    expect(error.details.reason).toBe("hash_mismatch");
    expect(error.message).toContain("vf-alpha");
  });
});
