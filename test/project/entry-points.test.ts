/**
 * Package entry points (#8 item 7), checked on the built package as a project sees it (node_modules/venvflow): the
 * root is the authoring API and loads no database driver, store, engine or DAG loader; each layer has its own entry.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/cli.ts";

let project: string;
beforeAll(() => {
  if (!existsSync(path.join(REPO_ROOT, "dist", "index.js"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
  project = mkdtempSync(path.join(os.tmpdir(), "venvflow-entry-"));
  mkdirSync(path.join(project, "node_modules"));
  symlinkSync(REPO_ROOT, path.join(project, "node_modules", "venvflow"), "dir");
  // Records every module loaded (ESM and CommonJS alike) while importing one specifier.
  writeFileSync(
    path.join(project, "probe.mjs"),
    `import { createRequire, registerHooks } from "node:module";
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
const api = await import(process.argv[2]);
const required = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(JSON.stringify({ exports: Object.keys(api).sort(), loaded: [...loaded, ...required] }));
`,
  );
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

function probe(specifier: string): Promise<{ exports: string[]; loaded: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["probe.mjs", specifier], { cwd: project, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${specifier}: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as { exports: string[]; loaded: string[] });
    });
  });
}

describe("package entry points", () => {
  it('"venvflow" is the authoring API and loads no database driver, store, engine or loader', async () => {
    const root = await probe("venvflow");
    expect(root.exports).toEqual(
      ["BaseOperator", "BashOperator", "BranchExternalPythonOperator", "BranchPythonVirtualenvOperator", "EmptyOperator", "ExternalPythonOperator", "PythonOperator", "PythonVirtualenvOperator", "SCHEDULE_PRESETS", "TaskSkipped", "VenvflowError", "XComArg", "chain", "dag", "task"].sort(),
    );
    const heavy = root.loaded.filter((url) => /better-sqlite3|[/\\]pg[/\\]|[/\\]pg-|kysely|[/\\]tsx[/\\]|[/\\]dist[/\\](?:store|engine|cli|doctor)[/\\]|[/\\]dist[/\\]dag[/\\]loader/.test(url));
    expect(heavy).toEqual([]);
    // The probe does see what it loads: the DAG builder is among them.
    expect(root.loaded.some((url) => url.endsWith("/dist/dag/builder.js"))).toBe(true);
  });

  it.each([
    ["venvflow/engine", ["runDag", "Worker", "triggerRun", "summarizeRun"]],
    ["venvflow/store", ["openStore", "migrate", "TASK_STATES"]],
    ["venvflow/env", ["ensureEnvironment", "findPython", "listEnvironments", "gcEnvironments"]],
    ["venvflow/runtime", ["runCallable", "inspectCallable", "RUNNER_PROTOCOL"]],
    ["venvflow/doctor", ["doctor", "explainFailure", "FINDING_CODES"]],
    ["venvflow/loader", ["loadDag", "loadDags"]],
  ])("%s exports its layer", async (specifier, names) => {
    const entry = await probe(specifier);
    for (const name of names) expect(entry.exports).toContain(name);
  });
});
