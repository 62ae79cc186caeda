/**
 * The engine's own cost, with in-process TypeScript tasks that do nothing (8 slots, one process):
 * - one run of N independent tasks, N = 500 and 10,000: tasks/s, and the per-task cost at 10,000 against 500
 *   (flat scheduling means ≤ 1.5×), on SQLite and on PostgreSQL (a private cluster, skipped with the reason
 *   when its binaries are missing);
 * - 1,000 chained tasks on SQLite;
 * - one expand() over 50,000 items (`BENCH_MAP_ITEMS`).
 * Each case runs in its own child process, so its peak RSS is its own.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chain, dag, PythonOperator } from "../src/dag/index.ts";
import { runDag } from "../src/engine/index.ts";
import { openStore } from "../src/store/index.ts";
import { startPostgres } from "../test/support/postgres.ts";

interface CaseResult {
  tasks: number;
  ms: number;
  /** CPU time of the process (the machine may be shared: wall time then counts other processes' turns). */
  cpuMs: number;
  state: string;
  peakRssMb: number;
}

type Shape = "wide" | "chain" | "mapped";

async function runCase(shape: Shape, n: number, url: string, home: string): Promise<CaseResult> {
  const store = await openStore(url, { home });
  const noop = (): number => 1;
  const d = dag(`bench_${shape}_${n}`, { maxActiveTasks: 64, maxMapLength: n }, () => {
    if (shape === "mapped") PythonOperator.partial({ taskId: "each", pythonCallable: (x: number) => x }).expand({ opArgs: Array.from({ length: n }, (_, i) => [i]) });
    else {
      const tasks = Array.from({ length: n }, (_, i) => new PythonOperator({ taskId: `t${i}`, pythonCallable: noop }));
      if (shape === "chain") chain(...tasks);
    }
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  const summary = await runDag(d, { store, home, workers: 8 });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await store.close();
  return { tasks: summary.tasks.length, ms, cpuMs: (used.user + used.system) / 1000, state: summary.state, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

function inChild(shape: Shape, n: number, url: string, home: string): CaseResult {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--case", shape, String(n), url, home], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out.trim().split("\n").at(-1)!) as CaseResult;
}

const line = (label: string, r: CaseResult, extra = ""): string =>
  `  ${label.padEnd(44)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${Math.round((r.tasks / r.ms) * 1000).toString().padStart(6)} tasks/s  ${((r.ms / r.tasks) * 1000).toFixed(0).padStart(5)} µs/task (CPU ${((r.cpuMs / r.tasks) * 1000).toFixed(0)} µs/task, ${Math.round((r.tasks / r.cpuMs) * 1000)} tasks/CPU-s)  peak RSS ${r.peakRssMb.toFixed(0)} MB${extra}`;

async function widePair(backend: string, newUrl: () => Promise<string>, home: string): Promise<void> {
  const small = inChild("wide", 500, await newUrl(), home);
  const big = inChild("wide", 10_000, await newUrl(), home);
  for (const r of [small, big]) if (r.state !== "success") throw new Error(`${backend}: a run ended ${r.state}`);
  console.log(line(`${backend}: 500 independent tasks (baseline)`, small));
  console.log(line(`${backend}: 10,000 independent tasks`, big, `  per-task cost ${(big.ms / big.tasks / (small.ms / small.tasks)).toFixed(2)}x (CPU ${(big.cpuMs / big.tasks / (small.cpuMs / small.tasks)).toFixed(2)}x) the cost at 500`));
}

export async function benchEngine(): Promise<void> {
  const home = mkdtempSync(path.join(tmpdir(), "venvflow-bench-engine-"));
  let n = 0;
  try {
    console.log("Engine overhead: in-process TypeScript no-op tasks, 8 slots, one process (targets: ≥ 2,000 tasks/s wide, ≥ 1,000 tasks/s chained, per-task at 10k ≤ 1.5× at 500)");
    await widePair("SQLite", async () => path.join(home, `s${n++}.db`), home);
    const chained = inChild("chain", 1000, path.join(home, `s${n++}.db`), home);
    console.log(line("SQLite: 1,000 chained tasks", chained));
    const items = Number(process.env.BENCH_MAP_ITEMS ?? 50_000);
    const mapped = inChild("mapped", items, path.join(home, `s${n++}.db`), home);
    console.log(line(`SQLite: one expand() over ${items.toLocaleString("en")} items`, { ...mapped, tasks: items }));
    let pg: Awaited<ReturnType<typeof startPostgres>> | null = null;
    try {
      pg = await startPostgres();
    } catch (error) {
      console.log(`  PostgreSQL: skipped (${(error as Error).message})`);
    }
    if (pg) {
      try {
        await widePair("PostgreSQL", () => pg.createDatabase(), home);
      } finally {
        await pg.stop();
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--case") {
  const [, , , shape, count, url, home] = process.argv;
  console.log(JSON.stringify(await runCase(shape as Shape, Number(count), url!, home!)));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchEngine();
}
