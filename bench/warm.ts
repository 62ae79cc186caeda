/**
 * Warm interpreters (issue #11), each beside its baseline measured in the same run:
 * 1. a cached trivial task through runCallable, fork vs spawn launcher, against a bare interpreter start;
 * 2. a task importing pandas (machine mirror), fork vs spawn, against a fresh interpreter importing pandas;
 * 3. 1,000 independent light tasks, 4 at a time, fork (spawn on a 200-task sample: it is that slow);
 * 4. RSS of the zygote and of a forked child (and the child's PSS: its fair share once shared pages are split).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { ensureEnvironment, findPython } from "../src/env/index.ts";
import { runCallable, spawnLauncher, WarmPool, type Launcher } from "../src/runtime/index.ts";
import type { CallableOptions } from "../src/runtime/types.ts";
import { machinePipEnv } from "../test/support/machine-pip.ts";
import { fmt, median, now } from "./common.ts";

const LIGHT = { source: "def light(x):\n    return x + 1\n" };

async function timedRounds(rounds: number, once: (i: number) => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = now();
    await once(i);
    times.push(now() - t);
  }
  return median(times);
}

async function call(options: CallableOptions): Promise<unknown> {
  const result = await runCallable(options);
  if (result.state !== "success") throw new Error(`bench callable failed: ${JSON.stringify(result.error)}`);
  return result.returnValue;
}

function line(label: string, ms: number, baselineMs: number): string {
  return `  ${label.padEnd(52)} ${fmt(ms).padStart(9)}  (${(ms / baselineMs).toFixed(2)}x the baseline)`;
}

/**
 * CPU per forked task does not depend on how busy the machine is, wall time does: cores / CPU per task is the
 * ceiling of the throughput. Its own pool, never retiring its zygote, so that one process accounts for every child.
 */
async function cpuPerTask(run: (launcher: WarmPool) => Promise<void>): Promise<void> {
  const pool = new WarmPool({ maxForks: Number.MAX_SAFE_INTEGER });
  try {
    await run(pool); // warm-up: the zygote exists and has forked
    const zygote = pool.stats()[0]?.pid;
    const before = zygote === undefined ? null : processCpuMs(zygote);
    if (zygote === undefined || !before) return console.log("  CPU per forked task: not measured (no /proc)");
    const host = process.cpuUsage();
    await run(pool);
    const hostUsed = process.cpuUsage(host);
    const after = processCpuMs(zygote);
    if (!after) return;
    const tasks = 300;
    const hostMs = (hostUsed.user + hostUsed.system) / 1000 / tasks;
    const zygoteMs = (after.own - before.own) / tasks;
    const childMs = (after.children - before.children) / tasks;
    const cores = os.availableParallelism();
    console.log(
      `  CPU per forked task: host ${hostMs.toFixed(2)} ms, zygote ${zygoteMs.toFixed(2)} ms, child ${childMs.toFixed(2)} ms; ceiling on ${cores} cores ≈ ${((cores * 1000) / (hostMs + zygoteMs + childMs)).toFixed(0)} tasks/s (load average now ${os.loadavg()[0]!.toFixed(1)})`,
    );
  } finally {
    await pool.close();
  }
}

/** CPU a process used, and what its reaped children used (the zygote reaps every forked attempt), in ms. */
function processCpuMs(pid: number): { own: number; children: number } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const ticks = (i: number): number => (Number(fields[i]) * 1000) / CLOCK_TICKS;
    return { own: ticks(11) + ticks(12), children: ticks(13) + ticks(14) };
  } catch {
    return null; // not Linux
  }
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

function kb(bytes: number | null): string {
  return bytes === null ? "n/a" : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export async function benchWarm(rounds = 30): Promise<void> {
  const python = await findPython(process.env.BENCH_PYTHON ?? "3.11");
  const home = await mkdtemp(path.join(tmpdir(), "venvflow-bench-warm-"));
  const pool = new WarmPool();
  try {
    const base = { pythonVersion: python.path, home };
    const envPython = (await ensureEnvironment({ pythonVersion: python.path }, { home })).python;
    await call({ ...base, pythonCallable: LIGHT, opArgs: [0], launcher: pool });
    await call({ ...base, pythonCallable: LIGHT, opArgs: [0], launcher: spawnLauncher });

    // 1. cached trivial task
    const bare = await timedRounds(rounds, async () => void execFileSync(envPython, ["-c", "pass"]));
    const forked = await timedRounds(rounds, async (i) => void (await call({ ...base, pythonCallable: LIGHT, opArgs: [i], launcher: pool })));
    const spawned = await timedRounds(rounds, async (i) => void (await call({ ...base, pythonCallable: LIGHT, opArgs: [i], launcher: spawnLauncher })));
    console.log(`warm interpreters: Python ${python.version}, ${rounds} rounds, medians`);
    console.log(`  bare interpreter start (python -c pass, baseline)     ${fmt(bare).padStart(9)}`);
    console.log(line("cached trivial task, fork launcher (target ≤ 3 ms)", forked, bare));
    console.log(line("cached trivial task, spawn launcher", spawned, bare));

    // 2. a task importing pandas
    await benchPandas(python.path, home, pool, Math.min(rounds, 15));

    // 3. throughput: independent light tasks, 4 at a time
    const rate = async (launcher: Launcher, tasks: number): Promise<number> => {
      let next = 0;
      const t = now();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < tasks) {
            const i = next++;
            await call({ ...base, pythonCallable: LIGHT, opArgs: [i], launcher });
          }
        }),
      );
      return tasks / ((now() - t) / 1000);
    };
    const forkRate = await rate(pool, 1000);
    const spawnRate = await rate(spawnLauncher, 200);
    console.log(`  1,000 light tasks, 4 slots, fork launcher (target ≥ 300/s)  ${forkRate.toFixed(0).padStart(6)} tasks/s`);
    console.log(`  200 light tasks, 4 slots, spawn launcher (baseline)        ${spawnRate.toFixed(0).padStart(6)} tasks/s  (fork: ${(forkRate / spawnRate).toFixed(1)}x)`);
    await cpuPerTask(async (launcher) => void (await rate(launcher, 300)));

    // 4. memory
    const zygote = pool.stats().find((z) => z.key.startsWith(`${envPython}\u0000`));
    const child = (await call({
      ...base,
      launcher: pool,
      pythonCallable: {
        source:
          "def mem():\n    def field(path, name):\n        try:\n            for line in open(path):\n                if line.startswith(name + ':'):\n                    return int(line.split()[1]) * 1024\n        except OSError:\n            return None\n    return [field('/proc/self/status', 'VmRSS'), field('/proc/self/smaps_rollup', 'Pss')]\n",
      },
    })) as [number | null, number | null];
    console.log(`  memory: zygote RSS ${kb(zygote?.rssBytes ?? null)}; forked child RSS ${kb(child[0])}, PSS ${kb(child[1])} (shared pages split with the zygote)`);
  } finally {
    await pool.close();
    await rm(home, { recursive: true, force: true });
  }
}

async function benchPandas(python: string, home: string, pool: WarmPool, rounds: number): Promise<void> {
  const env = machinePipEnv(python);
  if (!env.PIP_INDEX_URL) {
    console.log("  pandas task: skipped (no package index configured: set PIP_INDEX_URL or pip's global.extra-index-url)");
    return;
  }
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    let envPython: string;
    try {
      envPython = (await ensureEnvironment({ pythonVersion: python, requirements: ["pandas"] }, { home, env })).python;
    } catch (error) {
      console.log(`  pandas task: skipped (pandas could not be installed from ${env.PIP_INDEX_URL}: ${(error as Error).message.split("\n")[0]})`);
      return;
    }
    const task = { pythonCallable: { source: "import pandas\ndef frame(n):\n    return int(pandas.DataFrame({'a': range(n)})['a'].sum())\n" }, pythonVersion: python, requirements: ["pandas"], home };
    await call({ ...task, opArgs: [3], launcher: pool });
    const fresh = await timedRounds(Math.min(rounds, 8), async () => void execFileSync(envPython, ["-c", "import pandas"]));
    const forked = await timedRounds(rounds, async (i) => void (await call({ ...task, opArgs: [i], launcher: pool })));
    const spawned = await timedRounds(Math.min(rounds, 8), async (i) => void (await call({ ...task, opArgs: [i], launcher: spawnLauncher })));
    console.log(`  fresh interpreter importing pandas (baseline)         ${fmt(fresh).padStart(9)}`);
    console.log(line("pandas task, fork launcher (target ≤ 10 ms)", forked, fresh));
    console.log(line("pandas task, spawn launcher", spawned, fresh));
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}
