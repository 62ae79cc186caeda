/**
 * The virtualenv operators end to end: a DAG file whose requirements file and Python module sit next to it,
 * built over the hermetic index into the run's shared VENVFLOW_HOME.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { loadDag } from "../../src/dag/loader.ts";
import { testPipEnv } from "../support/pypi.ts";
import { makeContext, taskOf } from "./helpers.ts";

const home = inject("sharedHome");
const indexUrl = inject("indexUrl");
let saved: NodeJS.ProcessEnv;
let root: string;

beforeAll(() => {
  saved = { ...process.env };
  const hermetic = testPipEnv();
  for (const key of Object.keys(process.env)) if (!(key in hermetic)) delete process.env[key];
  Object.assign(process.env, hermetic);
  root = mkdtempSync(path.join(os.tmpdir(), "venvflow-dags-venv-"));
  mkdirSync(path.join(root, "jobs"));
  writeFileSync(path.join(root, "package.json"), '{ "type": "module" }\n');
  writeFileSync(path.join(root, "requirements.txt"), "vf-alpha==1.1.0\n");
  writeFileSync(path.join(root, "jobs", "steps.py"), "import vf_alpha\n\ndef version(ds=None):\n    return {'alpha': vf_alpha.__version__, 'ds': ds}\n\ndef pick(v):\n    return 'new' if v >= '2' else 'old'\n");
  writeFileSync(
    path.join(root, "alpha.ts"),
    `import { dag, task, EmptyOperator } from "venvflow";
dag("alpha", { defaultArgs: { requirements: "requirements.txt", pythonVersion: "3", indexUrls: [${JSON.stringify(indexUrl)}] } }, () => {
  const info = task.virtualenv<[], { alpha: string }>({ multipleOutputs: true }, "jobs/steps.py:version")();
  const pick = task.branchVirtualenv<[string]>({}, "jobs/steps.py:pick")(info.get("alpha"));
  pick.setDownstream([new EmptyOperator({ taskId: "old" }), new EmptyOperator({ taskId: "new" })]);
});
`,
  );
});

afterAll(() => {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, saved);
  rmSync(root, { recursive: true, force: true });
});

it("builds from a requirements file next to the DAG file, and branches on the result", async () => {
  const alpha = await loadDag(path.join(root, "alpha.ts"));
  expect([...alpha.tasks.keys()]).toEqual(["version", "pick", "old", "new"]);
  const version = await taskOf(alpha, "version").execute(makeContext({ taskId: "version", home }));
  expect(version).toEqual({ state: "success", returnValue: { alpha: "1.1.0", ds: "2026-01-02" } });
  const pick = await taskOf(alpha, "pick").execute(makeContext({ taskId: "pick", home, xcoms: { "version.alpha": "1.1.0" } }));
  expect(pick).toEqual({ state: "success", returnValue: "old", branch: ["old"] });
});
