/**
 * #9 item 5: a DAG file that hangs, never settles, exits or leaves a timer at import is a load error of that file
 * only; the good files load, and neither the loader nor the CLI hangs or ends early.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDag, loadDags } from "../../src/dag/loader.ts";
import { runCli } from "../support/cli.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-dag-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = (id: string) => `import { dag, task } from "venvflow";\ndag("${id}", {}, () => { task(function t() { return 1; })(); });\n`;
const FILES: Record<string, string> = {
  "package.json": '{ "type": "module" }\n',
  "a_good.ts": good("a_good"),
  "b_loop.ts": `import { dag } from "venvflow";\nfor (;;) {}\ndag("never", {}, () => {});\n`,
  "c_unsettled.ts": `import { dag } from "venvflow";\nawait new Promise(() => {});\ndag("never2", {}, () => {});\n`,
  "d_timer.ts": `import { dag, task } from "venvflow";\nsetInterval(() => {}, 1000);\ndag("timer", {}, () => { task(function t() { return 1; })(); });\n`,
  "e_exit.ts": `process.exit(0);\n`,
  "f_good.ts": good("f_good"),
};
for (const [name, text] of Object.entries(FILES)) writeFileSync(path.join(dir, name), text);
const file = (name: string) => path.join(dir, name);

describe("DAG files imported with a time limit, in a child process first", () => {
  it("each bad file is a load error of its own; the good files load", async () => {
    const { dags, errors } = await loadDags(dir, { importTimeoutMs: 3000 });
    expect(dags.map((d) => d.dagId)).toEqual(["a_good", "f_good"]);
    expect(errors.map((e) => [path.basename(e.file), e.code])).toEqual([
      ["b_loop.ts", "dag_import_timeout"],
      ["c_unsettled.ts", "dag_import_exited"],
      ["d_timer.ts", "dag_import_leaves_timer"],
      ["e_exit.ts", "dag_import_exited"],
    ]);
    const [loop, unsettled, timer, exit] = errors;
    expect(loop).toMatchObject({ message: `${file("b_loop.ts")}: importing it did not finish within 3 s (an endless loop, or work that waits, at import)`, fix: expect.stringContaining("VENVFLOW_DAG_IMPORT_TIMEOUT") });
    expect(unsettled!.message).toBe(`${file("c_unsettled.ts")}: its top-level await never settles (a promise nothing resolves), so the import never ends`);
    expect(timer!.message).toBe(`${file("d_timer.ts")}: importing it leaves 1 timer running (setInterval/setTimeout at the top level), which would keep venvflow from exiting`);
    expect(exit).toMatchObject({ message: `${file("e_exit.ts")}: importing it ended the process (process.exit(0) at the top level)`, fix: expect.stringContaining("throw an Error") });
  });

  it("loadDag of a bad file is an error naming it, not a hang", async () => {
    await expect(loadDag(file("b_loop.ts"), undefined, { importTimeoutMs: 1000 })).rejects.toMatchObject({ code: "dag_import_timeout" });
    await expect(loadDag(file("e_exit.ts"))).rejects.toMatchObject({ code: "dag_import_exited" });
    expect((await loadDag(file("a_good.ts"))).dagId).toBe("a_good");
  });

  it("the CLI lists the good DAGs, reports the bad files and exits (VENVFLOW_DAG_IMPORT_TIMEOUT in seconds)", async () => {
    const listed = await runCli(["dags", "list", dir, "--json"], { env: { ...process.env, VENVFLOW_DAG_IMPORT_TIMEOUT: "3" }, timeoutMs: 90_000 });
    expect(listed.code).toBe(1);
    const json = JSON.parse(listed.stdout) as { dags: { dagId: string }[]; errors: { code: string }[] };
    expect(json.dags.map((d) => d.dagId)).toEqual(["a_good", "f_good"]);
    expect(json.errors.map((e) => e.code)).toEqual(["dag_import_timeout", "dag_import_exited", "dag_import_leaves_timer", "dag_import_exited"]);
    const bad = await runCli(["dags", "list", file("a_good.ts")], { env: { ...process.env, VENVFLOW_DAG_IMPORT_TIMEOUT: "soon" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('VENVFLOW_DAG_IMPORT_TIMEOUT="soon" is not a number of seconds');
  });
});
