import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT, runCli } from "../support/cli.ts";
import { startPackageIndex, testPipEnv, type PackageIndex } from "../support/pypi.ts";
import { anyPython, versionOf } from "../support/pythons.ts";
import { STANDARD_WHEELS } from "../support/standard-packages.ts";

let home: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-cli-env-"));
  env = testPipEnv({ VENVFLOW_HOME: home, VENVFLOW_INSTALLER: "pip" });
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { env });

describe("venvflow env", () => {
  it("build, list, show, rm: text and --json", async () => {
    const built = await cli("env", "build", "--python", "3", "-r", "vf-alpha==1.0.0", "-r", "vf-gamma", "--index-url", inject("indexUrl"), "--json");
    expect(built.code).toBe(0);
    const env1 = JSON.parse(built.stdout) as { key: string; path: string; lock: { name: string; version: string }[] };
    expect(env1.lock.map((p) => `${p.name}==${p.version}`)).toEqual(["vf-alpha==1.0.0", "vf-gamma==0.5.0"]);

    // Without a TTY, progress goes to stderr as plain lines and stdout carries only the result.
    const again = await cli("env", "build", "--python", "3", "-r", "vf-gamma", "-r", "VF_ALPHA==1.0.0", "--index-url", inject("indexUrl"));
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`${env1.key}  ${env1.path}`);
    expect(again.stderr).toMatch(new RegExp(`\\[${env1.key.slice(0, 12)}\\] cached: using the cached environment`));

    const listed = await cli("env", "list");
    expect(listed.stdout).toMatch(/KEY\s+PYTHON\s+REQUIREMENTS\s+PACKAGES\s+SIZE\s+LAST USED/);
    expect(listed.stdout).toContain("vf-alpha==1.0.0, vf-gamma");
    expect(listed.stdout).toContain(env1.key.slice(0, 12));
    const listedJson = JSON.parse((await cli("env", "list", "--json")).stdout) as { key: string; packages: number }[];
    expect(listedJson).toEqual([expect.objectContaining({ key: env1.key, packages: 2 })]);

    const shown = await cli("env", "show", env1.key.slice(0, 8));
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`path:         ${env1.path}`);
    expect(shown.stdout).toContain(`interpreter:  cpython ${versionOf(anyPython)}`);
    expect(shown.stdout).toContain("vf-alpha==1.0.0  from http://127.0.0.1");
    expect(shown.stdout).toMatch(/last used: .*\(\d+s ago\)/);
    const shownJson = JSON.parse((await cli("env", "show", env1.key, "--json")).stdout) as { installed: unknown[]; sizeBytes: number };
    expect(shownJson.installed).toHaveLength(2);
    expect(shownJson.sizeBytes).toBeGreaterThan(0);

    // A dry run removed nothing, and its JSON says so (#10: it used to say "removed").
    const gcDry = JSON.parse((await cli("env", "gc", "--older-than", "0s", "--dry-run", "--json")).stdout) as { wouldRemove: { key: string }[]; removed?: unknown; dryRun: boolean };
    expect(gcDry.wouldRemove.map((r) => r.key)).toEqual([env1.key]);
    expect(gcDry).toMatchObject({ dryRun: true });
    expect(gcDry.removed).toBeUndefined();

    const removed = await cli("env", "rm", env1.key.slice(0, 10));
    expect(removed.stdout.trim()).toBe(`removed ${env1.key}`);
    expect(JSON.parse((await cli("env", "list", "--json")).stdout)).toEqual([]);
  });

  it("build FILE builds the environment of each virtualenv task, with the key the task will use", async () => {
    const built = await runCli(["env", "build", "examples/seed/with-requirements.ts", "--json"], { env: { ...env, PIP_INDEX_URL: inject("indexUrl") } });
    expect(built.code).toBe(0);
    const envs = JSON.parse(built.stdout) as { key: string; lock: { name: string }[] }[];
    expect(envs.map((e) => e.lock.map((p) => p.name))).toEqual([["tabulate"]]);
    // Running the DAG afterwards is a cache hit on exactly that environment.
    const run = await runCli(["run", "examples/seed/with-requirements.ts", "--json"], { env: { ...env, PIP_INDEX_URL: inject("indexUrl") } });
    expect(run.code).toBe(0);
    const logs = await runCli(["logs", (JSON.parse(run.stdout) as { runId: string }).runId, "render"], { env });
    expect(logs.stdout).toContain(`environment ${envs[0]!.key.slice(0, 12)} cached`);

    const none = await cli("env", "build", "examples/hello/hello.ts");
    expect(none.code).toBe(0); // hello's task has no requirements, but it still has an environment
    const broken = await cli("env", "build", "examples/nope.ts");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/nope\.ts/);
  });

  it("on a terminal, shows a live progress display", async () => {
    // `script` (util-linux) gives the CLI a real pseudo-terminal.
    const { execFile } = await import("node:child_process");
    const { existsSync } = await import("node:fs");
    if (!existsSync("/usr/bin/script")) {
      console.warn("no /usr/bin/script (util-linux) on this machine: the terminal display is not exercised");
      return;
    }
    const command = `stty cols 120 rows 40; ${JSON.stringify(process.execPath)} --import tsx src/cli/main.ts env build --python 3 -r vf-gamma==0.5.0 --index-url ${inject("indexUrl")}`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile("/usr/bin/script", ["-qec", command, "/dev/null"], { env, cwd: REPO_ROOT, timeout: 120_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expect(output).toContain("\u001b["); // cursor control: the display redraws in place
    expect(output).toMatch(/installing 1 requirement with venvflow/);
    expect(output).toMatch(/✔.*environment → [0-9a-f]{12} \(1 package\)/);
  });

  it.each([
    [["env", "build", "--python", "3.99"], /No Python 3\.99 interpreter was found \(found: /, /fix: install Python 3\.99/],
    [["env", "build", "--python", "3", "-r", "vf alpha"], /Invalid requirement at requirements\[0\]: "vf alpha"/, /fix: write it as PEP 508/],
    [["env", "build", "--python", "3", "--requirements-file", "nope.txt"], /Requirements file not found: .*nope\.txt/, /fix: check the path/],
    [["env", "show", "abcdef12"], /No environment with key abcdef12/, /fix: list them with `venvflow env list`/],
    [["env", "gc", "--max-size", "lots"], /"lots" is not a size/, /fix: use e\.g\./],
    [["env", "gc", "--older-than", "soon"], /--older-than "soon" is not a duration/, /fix:/],
  ])("%j fails with a clear error and the fix", async (args, message, fix) => {
    const result = await cli(...args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(fix);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace for expected errors
  });

  it("--json errors are JSON with a stable code", async () => {
    const result = await cli("env", "build", "--python", "3", "-r", "vf-alpha==9.9", "--index-url", inject("indexUrl"), "--json");
    expect(result.code).toBe(1);
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string; fix: string; details: { reason: string } } };
    expect(error.code).toBe("env_build_failed");
    expect(error.details.reason).toBe("no_matching_distribution");
    // venvflow's installer (the default) explains with its resolver: what was asked for and what the index has.
    expect(error.message).toMatch(/No version of vf-alpha satisfies vf-alpha==9\.9; the index has 1\.0\.0, 1\.1\.0, 2\.0\.0/);
  });

  describe("credentials", () => {
    let index: PackageIndex;
    beforeAll(async () => {
      index = await startPackageIndex({ wheels: STANDARD_WHEELS.filter((w) => w.name === "vf-gamma"), basicAuth: { username: "ci", password: "Sup3r-Secret-Token" } });
    });
    afterAll(async () => index.close());

    it("never prints index credentials, in progress, results or errors", async () => {
      const ok = await cli("env", "build", "--python", "3", "-r", "vf-gamma", "--index-url", index.urlWithCredentials("ci", "Sup3r-Secret-Token"), "--json");
      expect(ok.code).toBe(0);
      // A new spec (the key ignores passwords, so the same spec would be a cache hit).
      const bad = await cli("env", "build", "--python", "3", "-r", "vf-gamma==0.5.0", "--index-url", index.urlWithCredentials("ci", "Wr0ng-Secret-Token"));
      expect(bad.code).toBe(1);
      for (const text of [ok.stdout, ok.stderr, bad.stdout, bad.stderr]) {
        expect(text).not.toContain("Secret-Token");
      }
      // venvflow's resolver names the index without its userinfo at all.
      expect(bad.stderr).toMatch(/The package index http:\/\/127\.0\.0\.1:\d+\/simple\/ refused the credentials \(HTTP 401\)/);
    });
  });
});
