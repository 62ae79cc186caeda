/**
 * 40 sequential light tasks end to end (the workload of Windmill's orchestrator benchmark, where Airflow took
 * 97–116 s): a run of 40 chained TypeScript tasks, and of 40 chained Python tasks in one cached environment,
 * on a fresh SQLite store. Baseline, in the same run: 40 bare interpreter starts one after another, the floor for
 * any design that starts a process per Python task (the environment's own python, as the tasks use).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chain, dag, ExternalPythonOperator, PythonOperator, PythonVirtualenvOperator } from "../src/dag/index.ts";
import { ensureEnvironment, findPython } from "../src/env/index.ts";
import { runDag } from "../src/engine/index.ts";
import { openStore } from "../src/store/index.ts";
import { fmt, now } from "./common.ts";

const TASKS = 40;
const LIGHT = { source: "def light(i=0):\n    return i + 1\n" };

export async function benchSequential(): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const home = await mkdtemp(path.join(tmpdir(), "venvflow-bench-seq-"));
  try {
    const store = await openStore(path.join(home, "bench.db"), { home });
    const ts = dag("bench_ts", { schedule: null }, () => {
      chain(...Array.from({ length: TASKS }, (_, i) => new PythonOperator({ taskId: `t${i}`, pythonCallable: () => i })));
    });
    const venv = dag("bench_venv", { schedule: null }, () => {
      chain(...Array.from({ length: TASKS }, (_, i) => new PythonVirtualenvOperator({ taskId: `t${i}`, pythonCallable: LIGHT, pythonVersion: python.path })));
    });
    const external = dag("bench_external", { schedule: null }, () => {
      chain(...Array.from({ length: TASKS }, (_, i) => new ExternalPythonOperator({ taskId: `t${i}`, pythonCallable: LIGHT, python: python.path })));
    });
    // Warm: build the environment and check the callable once, as any cached deployment would have.
    await runDag(venv, { store, home });

    // The baseline starts the interpreter the virtualenv tasks run: the environment's own python.
    const envPython = (await ensureEnvironment({ pythonVersion: python.path }, { home })).python;
    let t = now();
    for (let i = 0; i < TASKS; i++) execFileSync(envPython, ["-c", "pass"]);
    const baseline = now() - t;
    const timed = async (d: typeof ts) => {
      t = now();
      const summary = await runDag(d, { store, home });
      if (summary.state !== "success") throw new Error(`${d.dagId} ended ${summary.state}`);
      return now() - t;
    };
    const tsMs = await timed(ts);
    const venvMs = await timed(venv);
    const externalMs = await timed(external);
    await store.close();
    console.log(`${TASKS} sequential light tasks, end to end (SQLite store, Python ${python.version})`);
    console.log(`  ${TASKS} bare interpreter starts (baseline)               ${fmt(baseline).padStart(10)}`);
    console.log(`  ${TASKS} TypeScript tasks                                  ${fmt(tsMs).padStart(10)}`);
    console.log(`  ${TASKS} Python tasks, cached virtualenv                   ${fmt(venvMs).padStart(10)}  ${(venvMs / baseline).toFixed(2)}x the baseline`);
    console.log(`  ${TASKS} Python tasks, external interpreter                ${fmt(externalMs).padStart(10)}  ${(externalMs / baseline).toFixed(2)}x the baseline`);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
