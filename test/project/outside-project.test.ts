/**
 * The user's own project, outside this repository (#10): `venvflow init` scaffolds it, the packed tarball installs
 * into it, its DAG typechecks against the installed types, and `venvflow run` runs it from there. Kept fast and
 * offline where it can: the project's lockfile is derived from this checkout's, so `npm ci --prefer-offline` takes
 * every dependency the npm cache has from there (~2 s instead of ~11 s of registry round trips) and asks the registry
 * only for what it lacks.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "../support/cli.ts";
import { testPipEnv } from "../support/pypi.ts";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/**
 * A lockfile for the project: venvflow from the tarball, its dependencies exactly as this checkout locked them, and
 * the project's dev dependencies (typescript) at the checkout's versions.
 */
function projectLock(name: string, tarball: string, devDependencies: Record<string, string>): unknown {
  const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
  const spec = `file:${path.basename(tarball)}`;
  const packages: Record<string, unknown> = {
    "": { name, dependencies: { venvflow: spec }, devDependencies },
    "node_modules/venvflow": { version: pkg.version, resolved: spec, integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [key, entry] of Object.entries(lock.packages)) if (key && !entry.dev && !entry.devOptional) packages[key] = entry;
  for (const dependency of Object.keys(devDependencies)) packages[`node_modules/${dependency}`] = { ...lock.packages[`node_modules/${dependency}`], dev: true };
  return { name, lockfileVersion: 3, requires: true, packages };
}

const NODE = process.execPath;
const VENVFLOW_BIN = path.join(REPO_ROOT, "bin", "venvflow.js");
let work: string;
let tarball: string;
beforeAll(async () => {
  if (!existsSync(path.join(REPO_ROOT, "dist", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
  work = mkdtempSync(path.join(os.tmpdir(), "venvflow-project-"));
  // --ignore-scripts: "prepare" would rebuild dist/, which npm test has just built.
  const packed = await run("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--json"], { cwd: REPO_ROOT });
  expect(packed.code, packed.stderr).toBe(0);
  tarball = path.join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a DAG project outside the repository", () => {
  it("init → npm ci of the packed tarball → tsc → venvflow run", async () => {
    const project = path.join(work, "my-dags");
    const init = await run(NODE, [VENVFLOW_BIN, "init", project, "--venvflow", `file:${path.basename(tarball)}`, "--json"], { cwd: work });
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ files: ["package.json", "tsconfig.json", ".gitignore", "README.md", "dags/hello.ts", "dags/hello.py"], next: ["cd my-dags", "npm install", "npx venvflow run dags/hello.ts"] });
    const manifest = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8")) as { type: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(manifest).toMatchObject({ type: "module", dependencies: { venvflow: `file:${path.basename(tarball)}` } });
    expect(readFileSync(path.join(project, "README.md"), "utf8").trim().split("\n")).toHaveLength(4); // a title and three lines

    cpSync(tarball, path.join(project, path.basename(tarball)));
    writeFileSync(path.join(project, "package-lock.json"), JSON.stringify(projectLock("my-dags", tarball, manifest.devDependencies), null, 2));
    // --ignore-scripts: better-sqlite3's install script downloads a prebuilt binding from GitHub; the same version's
    // binding, built for this Node, is taken from the checkout instead.
    const installed = await run("npm", ["ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: project });
    expect(installed.code, installed.stderr).toBe(0);
    cpSync(path.join(REPO_ROOT, "node_modules", "better-sqlite3", "build"), path.join(project, "node_modules", "better-sqlite3", "build"), { recursive: true });
    expect(existsSync(path.join(project, "node_modules", "venvflow", "src", "runtime", "runner.py"))).toBe(true);

    const tsc = await run(NODE, [path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: project });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.code).toBe(0);
    // The types are real: a wrong argument type is caught.
    writeFileSync(path.join(project, "dags", "wrong.ts"), readFileSync(path.join(project, "dags", "hello.ts"), "utf8").replace('greet("world")', "greet(42)"));
    const wrong = await run(NODE, [path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: project });
    expect(wrong.stdout).toMatch(/dags\/wrong\.ts\(\d+,\d+\): error TS2345: Argument of type 'number'/);
    rmSync(path.join(project, "dags", "wrong.ts"));

    const env = testPipEnv({ PIP_INDEX_URL: inject("indexUrl"), VENVFLOW_HOME: inject("sharedHome"), VENVFLOW_DATABASE_URL: `sqlite:${path.join(work, "runs.db")}` });
    const ran = await run(NODE, [path.join(project, "node_modules", ".bin", "venvflow"), "run", "dags/hello.ts", "--json"], { cwd: project, env });
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ dagId: "hello", state: "success", tasks: [{ taskId: "greet", state: "success" }, { taskId: "shout", state: "success", returnValue: expect.stringMatching(/^HELLO, WORLD, FROM PYTHON 3\.\d+\.\d+!$/) }] });
  });

  it("init refuses a folder that already holds the project's files", async () => {
    const project = mkdtempSync(path.join(work, "taken-"));
    writeFileSync(path.join(project, "package.json"), "{}\n");
    const init = await run(NODE, [VENVFLOW_BIN, "init", project], { cwd: work });
    expect(init.code).toBe(1);
    expect(init.stderr).toContain(`error: ${project} already has package.json\n  fix: choose a new folder`);
  });

  it("an old Node gets which Node venvflow needs and how to get it, not a stack trace", async (ctx) => {
    const candidates = ["/usr/bin/node", "/usr/local/bin/node", "/bin/node"];
    let old: string | undefined;
    for (const candidate of candidates) {
      if (!existsSync(candidate)) continue;
      const version = await run(candidate, ["--version"], { cwd: work });
      if (Number(/^v(\d+)/.exec(version.stdout)?.[1] ?? 99) < 22) old = candidate;
    }
    if (!old) {
      console.log(`skipped: no Node.js older than 22 at ${candidates.join(", ")} to run venvflow with`);
      ctx.skip();
      return;
    }
    const result = await run(old, [VENVFLOW_BIN, "dags", "list"], { cwd: work });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: venvflow needs Node\.js 22\.12 or newer; this is Node\.js \d+\.\d+\.\d+ \(.+\)\n {2}fix: install a current Node\.js \(https:\/\/nodejs\.org\/en\/download/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
