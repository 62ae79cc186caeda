import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureEnvironment, listEnvironments, listPythons, showEnvironment } from "../../src/env/index.ts";
import type { BuildProgress, EnvSpecInput } from "../../src/env/types.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { startPackageIndex, testPipEnv, unreachableIndexUrl, type PackageIndex } from "../support/pypi.ts";
import { anyPython, versionOf } from "../support/pythons.ts";
import { STANDARD_WHEELS } from "../support/standard-packages.ts";

const run = promisify(execFile);
let home: string;
let indexUrl: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-build-"));
  indexUrl = inject("indexUrl");
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

function build(spec: EnvSpecInput, events: BuildProgress[] = [], env = testPipEnv()) {
  return ensureEnvironment({ installer: "pip", indexUrls: [indexUrl], ...spec }, { home, env, onProgress: (e) => events.push(e) });
}

async function python(envPython: string, code: string, env = testPipEnv()): Promise<string> {
  return (await run(envPython, ["-c", code], { env })).stdout.trim();
}

describe("building environments", () => {
  const versions = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"];
  it.each(versions)("builds on Python %s with real pip over the hermetic index", async (version) => {
    const found = await listPythons({ home });
    if (!found.some((p) => `${p.major}.${p.minor}` === version)) {
      console.warn(`Python ${version} is not installed on this machine: not built`);
      return;
    }
    const env = await build({ pythonVersion: version, requirements: ["vf-beta[fast]"] });
    expect(env.interpreter.version.startsWith(`${version}.`)).toBe(true);
    expect(await python(env.python, "import sys, vf_beta, vf_alpha, vf_gamma; print(sys.version_info[:2], vf_alpha.__version__)")).toBe(`(${version.replace(".", ", ")}) 1.1.0`);
    // The lock is what the installer resolved: versions, sources, hashes; the marker-excluded dep is absent.
    expect(env.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.1.0", "vf-beta==1.0.0", "vf-gamma==0.5.0"]);
    for (const p of env.lock) {
      expect(p.source).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/vf_/);
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(env.lock.find((p) => p.name === "vf-beta")!.requested).toBe(true);
    expect(env.lock.find((p) => p.name === "vf-alpha")!.requested).toBe(false);
    // No pip seeded into the environment: it is installed into from outside.
    await expect(python(env.python, "import pip")).rejects.toThrow(/No module named .?pip/);
    // Console scripts work.
    expect((await run(path.join(env.path, "bin", "vf-alpha"), [])).stdout.trim()).toBe("1.1.0");
  });

  it("reuses the published environment: one build, then cache hits", async () => {
    const first: BuildProgress[] = [];
    const a = await build({ pythonVersion: "3", requirements: ["vf-alpha==1.0.0"] }, first);
    const second: BuildProgress[] = [];
    const b = await build({ pythonVersion: "3", requirements: ["VF_ALPHA == 1.0.0"] }, second);
    expect(b.key).toBe(a.key);
    expect(first.map((e) => e.phase)).toContain("install");
    expect(second.map((e) => e.phase)).toEqual(["resolve", "cached"]);
    expect(Date.parse(b.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(a.lastUsedAt));
    const logs = (await readdir(path.join(home, "logs", "builds"))).filter((f) => f.startsWith(a.key));
    expect(logs).toHaveLength(1);
  });

  it("builds an environment with no requirements, and one that sees the system site-packages", async () => {
    const bare = await build({ pythonVersion: "3" });
    expect(bare.lock).toEqual([]);
    await expect(python(bare.python, "import pip")).rejects.toThrow();
    const system = await build({ pythonVersion: "3", systemSitePackages: true });
    expect(system.key).not.toBe(bare.key);
    expect(await python(system.python, "import pip; print('ok')")).toBe("ok");
  });

  it("installs from a requirements file with nested constraints", async () => {
    const { writeFile } = await import("node:fs/promises");
    const dir = await mkdtemp(path.join(tmpdir(), "venvflow-reqfile-"));
    await writeFile(path.join(dir, "requirements.txt"), "# pinned by constraints\nvf-alpha\n-c constraints.txt\n");
    await writeFile(path.join(dir, "constraints.txt"), "vf-alpha<1.1\n");
    const env = await build({ pythonVersion: "3", requirements: "requirements.txt", baseDir: dir });
    expect(env.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.0.0"]);
    await rm(dir, { recursive: true, force: true });
  });

  it("show reports path, interpreter, packages, size and last use", async () => {
    const env = await build({ pythonVersion: "3", requirements: ["vf-yamlish"] });
    const details = await showEnvironment(env.key.slice(0, 10), { home });
    expect(details.path).toBe(env.path);
    expect(details.installed).toEqual([{ name: "vf-yamlish", version: "1.0.0" }]);
    expect(details.sizeBytes).toBeGreaterThan(0);
    expect(details.inUseBy).toEqual([]);
    expect((await listEnvironments({ home })).map((e) => e.key)).toContain(env.key);
  });
});

describe("build failures are explained and leave nothing usable behind", () => {
  async function failure(spec: EnvSpecInput, env = testPipEnv()): Promise<VenvflowError> {
    const before = (await listEnvironments({ home })).length;
    const error = await build(spec, [], env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VenvflowError);
    expect((await listEnvironments({ home })).length).toBe(before);
    const leftovers = (await readdir(path.join(home, "envs"))).filter((d) => !existsSync(path.join(home, "envs", d, "venvflow-env.json")));
    expect(leftovers).toEqual([]);
    return error as VenvflowError;
  }

  it("no such version: names the requirement, pip's decisive line and the versions available", async () => {
    const error = await failure({ pythonVersion: "3", requirements: ["vf-alpha==9.9"] });
    expect(error.code).toBe("env_build_failed");
    expect(error.details.reason).toBe("no_matching_distribution");
    expect(error.message).toContain("No matching distribution found for vf-alpha==9.9");
    expect(error.message).toContain("1.0.0, 1.1.0, 2.0.0");
    expect(error.fix).toMatch(/available versions of vf-alpha: 1\.0\.0, 1\.1\.0, 2\.0\.0/);
    const log = await readFile(error.details.buildLogPath as string, "utf8");
    expect(log).toContain("No matching distribution found for vf-alpha==9.9");
  });

  it("no wheel for this platform", async () => {
    const error = await failure({ pythonVersion: "3", requirements: ["vf-native"] });
    expect(error.details.reason).toBe("no_compatible_wheel");
    expect(error.message).toMatch(/the index has vf-native only as vf_native-1\.0\.0-cp39-cp39-win_amd64\.whl; none fits Python \d+\.\d+\.\d+ on linux/);
    expect(error.message).toContain(`Python ${versionOf(anyPython)} on linux`);
    expect(error.fix).toContain("cp39-cp39-win_amd64");
  });

  it("no such project", async () => {
    const error = await failure({ pythonVersion: "3", requirements: ["vf-does-not-exist"] });
    expect(error.details.reason).toBe("no_matching_distribution");
    expect(error.message).toMatch(/no project named vf-does-not-exist on http:\/\/127\.0\.0\.1/);
  });

  it("conflicting dependencies name the conflicting pair", async () => {
    const error = await failure({ pythonVersion: "3", requirements: ["vf-conflict-a", "vf-conflict-b"] });
    expect(error.details.reason).toBe("conflicting_requirements");
    expect(error.message).toMatch(/vf-conflict-a.*vf-conflict-b/s);
    expect(error.message).toMatch(/vf-alpha==1\.0\.0/);
  });

  it("conflicting pins are caught before pip runs", async () => {
    const error = await build({ pythonVersion: "3", requirements: ["vf-alpha==1.0.0", "vf-alpha==2.0.0"] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "conflicting_requirements" });
  });

  it("a malformed requirement is caught before pip runs", async () => {
    await expect(build({ pythonVersion: "3", requirements: ["vf-alpha=>1"] })).rejects.toMatchObject({ code: "invalid_requirement" });
  });

  it("an unreachable index", async () => {
    const error = await failure({ pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: [await unreachableIndexUrl()] }, testPipEnv({ PIP_RETRIES: "0", PIP_TIMEOUT: "5" }));
    expect(error.details.reason).toBe("index_unreachable");
    expect(error.message).toMatch(/The package index is unreachable: http:\/\/127\.0\.0\.1:\d+\/simple\/ \(ECONNREFUSED\)/);
  });

  describe("with a password-protected index", () => {
    let index: PackageIndex;
    beforeAll(async () => {
      index = await startPackageIndex({ wheels: STANDARD_WHEELS.filter((w) => w.name === "vf-alpha"), basicAuth: { username: "robot", password: "pa$$-w0rd-xyz" } });
    });
    afterAll(async () => index.close());

    it("installs with credentials and never writes them to the log, the metadata or the lock", async () => {
      const env = await build({ pythonVersion: "3", requirements: ["vf-alpha==2.0.0"], indexUrls: [index.urlWithCredentials("robot", "pa$$-w0rd-xyz")] });
      expect(env.lock[0]!.source).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/vf_alpha-2\.0\.0/);
      const files = [env.buildLogPath, path.join(env.path, "venvflow-env.json")];
      for (const file of files) {
        const text = await readFile(file, "utf8");
        expect(text).not.toContain("pa$$-w0rd-xyz");
        expect(text).not.toContain(encodeURIComponent("pa$$-w0rd-xyz"));
      }
      expect(JSON.stringify(env)).not.toContain("w0rd");
    });

    it("wrong credentials are reported as unauthorized, masked", async () => {
      const error = await failure({ pythonVersion: "3", requirements: ["vf-alpha"], indexUrls: [index.urlWithCredentials("robot", "wrong-pass-123")] }, testPipEnv({ PIP_RETRIES: "0" }));
      expect(error.details.reason).toBe("index_unauthorized");
      expect(error.message).toContain("robot:***@");
      expect(JSON.stringify(error.toJSON()) + error.message).not.toContain("wrong-pass-123");
    });
  });
});
