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
import { fmt, median, now } from "./common.ts";

const TASKS = 40;
const ROUNDS = Number(process.env.BENCH_SEQ_ROUNDS ?? 5);
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
    // Warm: build the environment, check the callables and start their warm interpreters once, as any cached
    // deployment would have.
    await runDag(venv, { store, home });
    await runDag(external, { store, home });

    // The baseline starts the interpreter the virtualenv tasks run: the environment's own python.
    const envPython = (await ensureEnvironment({ pythonVersion: python.path }, { home })).python;
    let t = now();
    for (let i = 0; i < TASKS; i++) execFileSync(envPython, ["-c", "pass"]);
    const baseline = now() - t;
    // The median of ROUNDS runs each: one run of ~0.2 s on a 2-core machine varied by ±20% from run to run.
    const timed = async (d: typeof ts): Promise<{ median: number; min: number; max: number }> => {
      const times: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        t = now();
        const summary = await runDag(d, { store, home });
        if (summary.state !== "success") throw new Error(`${d.dagId} ended ${summary.state}`);
        times.push(now() - t);
      }
      return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
    };
    const tsMs = await timed(ts);
    const venvMs = await timed(venv);
    const externalMs = await timed(external);
    await store.close();
    const spread = (r: { min: number; max: number }): string => `(${fmt(r.min)}–${fmt(r.max)})`;
    console.log(`${TASKS} sequential light tasks, end to end (SQLite store, Python ${python.version}; median of ${ROUNDS} runs each)`);
    console.log(`  ${TASKS} bare interpreter starts (baseline)               ${fmt(baseline).padStart(10)}`);
    console.log(`  ${TASKS} TypeScript tasks                                  ${fmt(tsMs.median).padStart(10)}  ${spread(tsMs)}`);
    console.log(`  ${TASKS} Python tasks, cached virtualenv                   ${fmt(venvMs.median).padStart(10)}  ${(venvMs.median / baseline).toFixed(2)}x the baseline ${spread(venvMs)} (target ≤ 200 ms)`);
    console.log(`  ${TASKS} Python tasks, external interpreter                ${fmt(externalMs.median).padStart(10)}  ${(externalMs.median / baseline).toFixed(2)}x the baseline ${spread(externalMs)}`);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
