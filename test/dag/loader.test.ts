import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDag, loadDags } from "../../src/dag/loader.ts";
import { VenvflowError } from "../../src/index.ts";
import { makeContext, taskOf } from "./helpers.ts";
import { anyPython } from "../support/pythons.ts";

const PY = anyPython;
const SRC_INDEX = path.resolve(import.meta.dirname, "../../src/index.ts");
const dirs: string[] = [];

/** A DAG folder outside the repository, in an ESM project as venvflow users have. */
function tree(files: Record<string, string>, parent = os.tmpdir()): string {
  const root = mkdtempSync(path.join(parent, parent === os.tmpdir() ? "venvflow-dags-" : ".tmp-dags-"));
  dirs.push(root);
  for (const [name, text] of Object.entries({ "package.json": '{ "type": "module" }\n', ...files })) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

async function rejection(promise: Promise<unknown>): Promise<VenvflowError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VenvflowError) return error;
    throw error;
  }
  throw new Error("expected a VenvflowError");
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("loadDags", () => {
  const root = tree({
    "etl.ts": `
      import { dag, task, ExternalPythonOperator } from "venvflow";
      import { owner } from "./_shared";
      dag("etl", { schedule: "@daily", tags: [owner] }, () => {
        const extract = new ExternalPythonOperator({ taskId: "extract", python: ${JSON.stringify(PY)}, pythonCallable: "jobs/etl.py:extract", opArgs: [2] });
        task(function report(n: number): string { return "rows=" + n; })(extract.output);
      });
    `,
    "_shared.ts": `export const owner: string = "data";\n`,
    "_disabled.ts": `throw new Error("files starting with _ are not DAG files");\n`,
    "types.d.ts": `export declare const x: number;\n`,
    "jobs/etl.py": "def extract(n):\n    return list(range(n))\n",
    "two.mts": `
      import { dag, EmptyOperator } from ${JSON.stringify(SRC_INDEX)};
      dag("first", {}, () => { new EmptyOperator({ taskId: "a" }); });
      dag("second", {}, () => { new EmptyOperator({ taskId: "b" }); });
    `,
    "nested/plain.mjs": `
      import { dag, BashOperator } from "venvflow";
      dag("plain_js", {}, () => { new BashOperator({ taskId: "hi", bashCommand: "echo hi" }); });
    `,
    "syntax.ts": `import { dag } from "venvflow";\nconst x: = 1;\n`,
    "throws.ts": `import { dag } from "venvflow";\nexport const n = 1;\nthrow new TypeError("config missing");\n`,
    "cycle.ts": `
      import { dag, EmptyOperator } from "venvflow";
      dag("cyclic", {}, () => {
        const a = new EmptyOperator({ taskId: "a" });
        const b = new EmptyOperator({ taskId: "b" });
        a.setDownstream(b);
        b.setDownstream(a);
      });
    `,
    "zz_duplicate.ts": `
      import { dag, EmptyOperator } from "venvflow";
      dag("etl", {}, () => { new EmptyOperator({ taskId: "again" }); });
    `,
    "helpers.ts": `export const notADag = 1;\n`,
  });

  it("loads the good files and reports each broken one without hiding the others", async () => {
    const { dags, errors } = await loadDags(root);
    expect(dags.map((d) => [d.dagId, path.relative(root, d.fileloc)])).toEqual([
      ["etl", "etl.ts"],
      ["plain_js", "nested/plain.mjs"],
      ["first", "two.mts"],
      ["second", "two.mts"],
    ]);
    expect(errors.map((e) => [path.relative(root, e.file), e.code])).toEqual([
      ["cycle.ts", "dag_cycle"],
      ["syntax.ts", "dag_import_failed"],
      ["throws.ts", "dag_import_failed"],
      ["zz_duplicate.ts", "duplicate_dag_id"],
    ]);
    const [cycle, syntax, throws, duplicate] = errors.map((e) => e.message);
    expect(cycle).toMatch(/DAG "cyclic" \(.*cycle\.ts\): cycle a → b → a/);
    expect(syntax).toContain(`${path.join(root, "syntax.ts")}:2:`);
    expect(throws).toMatch(/throws\.ts: TypeError: config missing \(at .*throws\.ts:\d+:\d+\)$/);
    expect(duplicate).toMatch(/DAG "etl" is already defined in .*etl\.ts/);
    expect(errors.find((e) => e.code === "duplicate_dag_id")?.fix).toContain("rename one of them");
    expect(errors.every((e) => !e.message.includes("venvflow-load"))).toBe(true);
  });

  it("resolves relative Python callables against the DAG file's folder", async () => {
    const etl = await loadDag(path.join(root, "etl.ts"));
    expect(etl).toMatchObject({ dagId: "etl", schedule: "@daily", tags: ["data"] });
    expect(etl.tasks.get("report")!.upstreamTaskIds).toEqual(["extract"]);
    expect(await taskOf(etl, "extract").execute(makeContext({ dagId: "etl", taskId: "extract" }))).toMatchObject({ state: "success", returnValue: [0, 1] });
    expect(await taskOf(etl, "report").execute(makeContext({ xcoms: { extract: [0, 1] } }))).toMatchObject({ returnValue: "rows=0,1" });
  });

  it("reports a missing folder", async () => {
    expect((await rejection(loadDags(path.join(root, "nope")))).code).toBe("dags_not_found");
  });
});

describe("loadDag", () => {
  it("picks one DAG, or lists the ids it could have picked", async () => {
    const root = tree({
      "pair.ts": `
        import { dag, EmptyOperator } from "venvflow";
        dag("left", {}, () => { new EmptyOperator({ taskId: "a" }); });
        dag("right", {}, () => { new EmptyOperator({ taskId: "a" }); });
      `,
      "none.ts": `export const x = 1;\n`,
      "bad.ts": `import { dag } from "venvflow";\ndag("bad", { schedule: "@sometimes" }, () => {});\n`,
    });
    const pair = path.join(root, "pair.ts");
    expect((await loadDag(pair, "right")).dagId).toBe("right");
    const ambiguous = await rejection(loadDag(pair));
    expect([ambiguous.code, ambiguous.message]).toEqual(["ambiguous_dag", expect.stringMatching(/pair\.ts defines 2 DAGs: "left", "right"/)]);
    const missing = await rejection(loadDag(pair, "middle"));
    expect([missing.code, missing.fix]).toEqual(["dag_not_found", 'DAG ids in that file: "left", "right"']);
    expect((await rejection(loadDag(path.join(root, "none.ts")))).code).toBe("dag_not_found");
    const bad = await rejection(loadDag(path.join(root, "bad.ts")));
    expect([bad.code, bad.message]).toEqual(["invalid_schedule", expect.stringMatching(/DAG "bad" \(.*bad\.ts\): unknown schedule preset "@sometimes"/)]);
  });

  it("explains a file that Node loads as CommonJS: the file, the cause in one line, the fix", async () => {
    const root = tree({ "package.json": "{}\n", "cjs.ts": `import { dag } from "venvflow";\nawait Promise.resolve(dag);\n` });
    const error = await rejection(loadDag(path.join(root, "cjs.ts")));
    expect(error.code).toBe("dag_module_format");
    expect(error.message.split("\n")[0]).toBe(`${path.join(root, "cjs.ts")}: it was loaded as CommonJS (${path.join(root, "package.json")} has no "type": "module"), and CommonJS cannot use top-level await`);
    expect(error.fix).toBe(`add "type": "module" to ${path.join(root, "package.json")}, or rename the file to cjs.mts`);
  });

  it("explains a missing dependency, a missing relative import and require() in an ES module", async () => {
    const root = tree({
      "package.json": `{ "type": "module", "dependencies": { "vf-declared-dep": "^1.0.0" } }\n`,
      "declared.ts": `import { dag } from "venvflow";\nimport dep from "vf-declared-dep";\ndag("declared", { description: String(dep) }, () => {});\n`,
      "undeclared.ts": `import { dag } from "venvflow";\nimport { chunk } from "@vf/undeclared-dep/chunk";\ndag("undeclared", { description: String(chunk) }, () => {});\n`,
      "relative.ts": `import { dag } from "venvflow";\nimport { rows } from "./helpers/rows.ts";\ndag("relative", { description: String(rows) }, () => {});\n`,
      "requires.ts": `import { dag } from "venvflow";\nconst fs = require("node:fs");\ndag("requires", { description: String(fs) }, () => {});\n`,
    });
    const { errors } = await loadDags(root);
    const by = Object.fromEntries(errors.map((e) => [path.basename(e.file), e]));
    expect(by["declared.ts"]).toMatchObject({ code: "dag_dependency_missing", message: `${path.join(root, "declared.ts")}: it imports the package vf-declared-dep, which is not installed (no node_modules/vf-declared-dep from ${root} up)`, fix: `run npm install in ${root}` });
    expect(by["undeclared.ts"]).toMatchObject({ code: "dag_dependency_missing", fix: `npm install @vf/undeclared-dep in ${root} (it adds @vf/undeclared-dep to package.json)` });
    expect(by["relative.ts"]).toMatchObject({ code: "dag_dependency_missing", message: `${path.join(root, "relative.ts")}: it imports ${path.join(root, "helpers", "rows.ts")}, which does not exist` });
    expect(by["requires.ts"]).toMatchObject({ code: "dag_module_format", message: `${path.join(root, "requires.ts")}: it calls require(), which does not exist in an ES module` });
    for (const e of errors) expect(e.message).not.toContain("\n");
  });

  it("picks up edits to the DAG file on the next load", async () => {
    const root = tree({ "edit.ts": `import { dag, EmptyOperator } from "venvflow";\ndag("edit", {}, () => { new EmptyOperator({ taskId: "v1" }); });\n` });
    const file = path.join(root, "edit.ts");
    expect([...(await loadDag(file)).tasks.keys()]).toEqual(["v1"]);
    writeFileSync(file, `import { dag, EmptyOperator } from "venvflow";\ndag("edit", {}, () => { new EmptyOperator({ taskId: "v2" }); });\n`);
    expect([...(await loadDag(file)).tasks.keys()]).toEqual(["v2"]);
  });

  it("loads a DAG file that lives inside the repository", async () => {
    const root = tree({ "inside.ts": `import { dag, EmptyOperator } from "venvflow";\ndag("inside", {}, () => { new EmptyOperator({ taskId: "x" }); });\n` }, import.meta.dirname);
    expect((await loadDag(path.join(root, "inside.ts"))).fileloc).toBe(path.join(root, "inside.ts"));
  });
});
