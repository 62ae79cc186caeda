/**
 * Issue #9.1: a hung worker's tries are fenced before they are retried. A real worker process running a forked
 * Python task, a spawned one and a Bash task is stopped (SIGSTOP); its fence kills their processes before another
 * worker sweeps and retries them, so no two executions of a task overlap; when it resumes (SIGCONT) its stale
 * outcomes change nothing, it says so in the tries' logs, and it exits leaving nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { summarizeRun, taskTries, triggerRun } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import { isAlive } from "../../src/util/process.ts";
import { BACKENDS, useStores } from "../engine/backends.ts";
import { anyPython } from "../support/pythons.ts";
import { fenceDag } from "./fixtures/fence-dag.ts";

const WORKER = fileURLToPath(new URL("./fixtures/fence-worker.ts", import.meta.url));
const TASKS = ["forked", "spawned", "sh"] as const;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Record {
  what: string;
  task: string;
  tryNumber: number;
  pid: number;
  at: number;
}

function records(file: string): Record[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.split(" ").length === 5)
    .map((line) => {
      const [what, task, tryNumber, pid, at] = line.split(" ") as [string, string, string, string, string];
      return { what, task, tryNumber: Number(tryNumber), pid: Number(pid), at: Number(at) };
    });
}

function startWorker(url: string, home: string, recordsFile: string, pollIntervalMs = 100): { child: ChildProcess; ready: Promise<string>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [WORKER, url, home, anyPython, recordsFile, String(pollIntervalMs)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      const match = /ready (\S+)/.exec(d.toString());
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, ready, exited, stderr: () => stderr };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe.each(BACKENDS)("a hung worker on %s", (backend) => {
  const stores = useStores(backend);

  it("has its task processes fenced before their retry runs, and its late outcomes change nothing", async () => {
    const url = await stores.newUrl();
    const recordsFile = path.join(stores.home, `records-${backend}.txt`);
    writeFileSync(recordsFile, "");
    const store = await openStore(url, { home: stores.home });
    const workers: ReturnType<typeof startWorker>[] = [];
    try {
      const dag = fenceDag(anyPython, recordsFile);
      const run = await triggerRun(store, dag);
      // It schedules only when told to (no 100 ms polls): stopped inside a store transaction, a worker would hold its
      // DAG's lock until it resumes, and the rescuer would wait for it (seen once in CI on PostgreSQL; a known limit).
      const hung = startWorker(url, stores.home, recordsFile, 60_000);
      workers.push(hung);
      const hungId = await hung.ready;
      await waitFor("every task's first try to run", () => TASKS.every((t) => records(recordsFile).some((r) => r.task === t && r.what === "tick")), 30_000);
      const firstTry = records(recordsFile).filter((r) => r.tryNumber === 1 && r.what === "start");
      expect(firstTry.map((r) => r.task).sort()).toEqual([...TASKS].sort());

      hung.child.kill("SIGSTOP");
      const rescuer = startWorker(url, stores.home, recordsFile);
      workers.push(rescuer);
      await rescuer.ready;
      const finished = async (): Promise<boolean> => (await store.db.selectFrom("dag_run").select("state").executeTakeFirstOrThrow()).state !== "running";
      await waitFor("the rescuer to finish the run", finished, 60_000);
      expect(await rescuer.exited).toBe(0);

      // The stopped worker's fence killed its tries' processes before the sweep: no try-1 record after a try-2 start.
      const all = records(recordsFile);
      for (const task of TASKS) {
        const second = all.find((r) => r.task === task && r.tryNumber === 2 && r.what === "start");
        expect(second, `${task} was retried`).toBeDefined();
        const lastOfFirst = Math.max(...all.filter((r) => r.task === task && r.tryNumber === 1).map((r) => r.at));
        expect(lastOfFirst, `${task}: try 1 ended before try 2 started`).toBeLessThan(second!.at);
        expect(all.some((r) => r.task === task && r.tryNumber === 1 && r.what === "end")).toBe(false);
      }
      const firstPids = firstTry.map((r) => r.pid);
      expect(firstPids.filter(isAlive)).toEqual([]);

      // Resumed, the stale worker records nothing, says why in the tries' logs, and exits.
      hung.child.kill("SIGCONT");
      expect(await hung.exited).toBe(0);
      expect(hung.stderr()).toMatch(/venvflow fence: engine process \d+ stopped heartbeating .* killed its task processes/);
      const summary = await summarizeRun(store, dag.dagId, run.run_id, dag);
      expect(summary.state).toBe("success");
      for (const task of TASKS) {
        const t = summary.tasks.find((x) => x.taskId === task)!;
        expect(t).toMatchObject({ state: "success", tryNumber: 2 });
        expect(t.returnValue).toEqual(task === "sh" ? "2" : 2);
        const tries = await taskTries(store.db, "fence", run.run_id, task);
        expect(tries.map((x) => [x.try_number, x.state, x.worker === hungId])).toEqual([
          [1, "failed", true],
          [2, "success", false],
        ]);
        expect(JSON.parse(tries[0]!.error!)).toMatchObject({ code: "worker_lost" });
        const log = readFileSync(tries[0]!.log_path!, "utf8");
        expect(log).toMatch(/try 1 is no longer this worker's|Outcome .* discarded/);
      }
      // Nothing of the stopped worker is left: no process of its tries, no fence directory.
      const pid = hung.child.pid!;
      expect(readdirSync(os.tmpdir()).filter((e) => e.startsWith(`venvflow-fence-${pid}-`))).toEqual([]);
    } finally {
      for (const w of workers) {
        w.child.kill("SIGCONT");
        w.child.kill("SIGKILL");
      }
      await store.close();
    }
  }, 120_000);
});

describe("a worker stopped past its fence but not long enough to be swept", () => {
  const stores = useStores("sqlite");

  it("finds its tries killed by the fence when it resumes, records them as fenced and retries them", async () => {
    const url = await stores.newUrl();
    const recordsFile = path.join(stores.home, "records-fenced.txt");
    writeFileSync(recordsFile, "");
    const store = await openStore(url, { home: stores.home });
    const worker = startWorker(url, stores.home, recordsFile);
    try {
      const dag = fenceDag(anyPython, recordsFile);
      const run = await triggerRun(store, dag);
      await worker.ready;
      await waitFor("every task's first try to run", () => TASKS.every((t) => records(recordsFile).some((r) => r.task === t && r.what === "tick")), 30_000);
      // The fence acts 2.1 s after the last heartbeat; the lock (3 s) is not stale yet when the worker resumes.
      worker.child.kill("SIGSTOP");
      await sleep(2500);
      worker.child.kill("SIGCONT");
      expect(await worker.exited).toBe(0);
      const summary = await summarizeRun(store, dag.dagId, run.run_id, dag);
      expect(summary.state).toBe("success");
      for (const task of TASKS) {
        const tries = await taskTries(store.db, "fence", run.run_id, task);
        expect(tries.map((x) => x.state)).toEqual(["up_for_retry", "success"]);
        expect(JSON.parse(tries[0]!.error!)).toMatchObject({ code: "task_fenced", message: expect.stringContaining("stopped heartbeating") });
      }
      expect(worker.stderr()).toContain("venvflow fence: engine process");
    } finally {
      worker.child.kill("SIGCONT");
      worker.child.kill("SIGKILL");
      await store.close();
    }
  }, 120_000);
});
