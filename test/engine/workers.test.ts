import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { summarizeRun, triggerRun, Worker } from "../../src/engine/index.ts";
import { openStore } from "../../src/store/index.ts";
import { BACKENDS, useStores } from "./backends.ts";
import { sleep } from "./fixtures/dags.ts";
import { hangDag, sharedDag } from "./fixtures/shared-dags.ts";

const SCRIPT = fileURLToPath(new URL("./fixtures/worker-process.ts", import.meta.url));

function startWorker(url: string, home: string, counts: string, which: "shared" | "hang"): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [SCRIPT, url, home, counts, which], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    if (code) process.stderr.write(stderr);
    resolve(code);
  }));
  return { child, ready, exited };
}

const lines = (file: string): string[][] => readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" "));

describe.each(BACKENDS)("workers sharing a %s store", (backend) => {
  const stores = useStores(backend);

  it("two worker processes run every task instance exactly once between them", async () => {
    const url = await stores.newUrl();
    const counts = path.join(stores.home, `counts-${backend}.txt`);
    writeFileSync(counts, "");
    // Migrate first, so the two workers do not race to create the schema on SQLite.
    const store = await openStore(url, { home: stores.home });
    try {
      const workers = [startWorker(url, stores.home, counts, "shared"), startWorker(url, stores.home, counts, "shared")];
      await Promise.all(workers.map((w) => w.ready));
      const dag = sharedDag(counts);
      const run = await triggerRun(store, dag);
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
      const summary = await summarizeRun(store, dag.dagId, run.run_id, dag);
      expect(summary.state).toBe("success");
      const executed = lines(counts);
      expect(executed).toHaveLength(dag.tasks.size);
      expect(new Set(executed.map(([task]) => task)).size).toBe(dag.tasks.size);
      // Both processes took part (the claim really was contended).
      const pids = new Set(executed.map(([, , pid]) => pid));
      expect(pids.size).toBe(2);
      const claimedBy = new Set((await store.db.selectFrom("task_try").select("worker").execute()).map((r) => r.worker));
      expect(claimedBy.size).toBe(2);
    } finally {
      await store.close();
    }
  });

  it("a killed worker's try is swept back to queued and finished by another worker", async () => {
    const url = await stores.newUrl();
    const counts = path.join(stores.home, `hang-${backend}.txt`);
    writeFileSync(counts, "");
    const store = await openStore(url, { home: stores.home });
    try {
      const dag = hangDag(counts, 1);
      const run = await triggerRun(store, dag);
      const doomed = startWorker(url, stores.home, counts, "hang");
      await doomed.ready;
      const deadline = Date.now() + 20_000;
      while (!lines(counts).some(([task]) => task === "hang") && Date.now() < deadline) await sleep(20);
      const running = await store.db.selectFrom("task_instance").selectAll().where("task_id", "=", "hang").executeTakeFirstOrThrow();
      expect(running).toMatchObject({ state: "running", try_number: 1 });
      doomed.child.kill("SIGKILL");
      await doomed.exited;

      const rescuer = new Worker({ store, dags: [dag], home: stores.home, pollIntervalMs: 50, heartbeatIntervalMs: 100, lockTimeoutMs: 500 });
      await rescuer.run({ until: async () => (await store.db.selectFrom("dag_run").select("state").executeTakeFirstOrThrow()).state !== "running" });
      const summary = await summarizeRun(store, dag.dagId, run.run_id, dag);
      expect(summary.state).toBe("success");
      expect(summary.tasks[0]).toMatchObject({ taskId: "hang", state: "success", tryNumber: 2, returnValue: "done on try 2" });
      const tries = await store.db.selectFrom("task_try").selectAll().where("task_id", "=", "hang").orderBy("try_number").execute();
      expect(tries.map((t) => [t.try_number, t.state, t.worker === running.locked_by])).toEqual([[1, "failed", true], [2, "success", false]]);
      expect(JSON.parse(tries[0]!.error!)).toMatchObject({ type: "WorkerLost", code: "worker_lost" });
      expect(readFileSync(running.log_path!, "utf8")).toMatch(/stopped heartbeating; try 1 is lost; task instance queued/);
      expect(lines(counts).map(([task, n]) => `${task}${n}`)).toEqual(["hang1", "hang2"]);
    } finally {
      await store.close();
    }
  });

  it("a lost try with no retries left fails the task instance", async () => {
    const store = await stores.open();
    const dag = hangDag(path.join(stores.home, "unused.txt"), 0);
    const run = await triggerRun(store, dag);
    // A worker that claimed and died, simulated by a claim whose lock is never refreshed.
    await store.db.updateTable("task_instance").set({ state: "running", try_number: 1, locked_by: "ghost", locked_at: new Date(Date.now() - 10_000).toISOString() }).where("task_id", "=", "hang").execute();
    await store.db.updateTable("dag_run").set({ state: "running", started_at: new Date().toISOString() }).execute();
    const rescuer = new Worker({ store, dags: [dag], home: stores.home, pollIntervalMs: 50, lockTimeoutMs: 1000 });
    await rescuer.run({ until: async () => (await store.db.selectFrom("dag_run").select("state").executeTakeFirstOrThrow()).state !== "running" });
    const summary = await summarizeRun(store, dag.dagId, run.run_id, dag);
    expect(summary.state).toBe("failed");
    expect(summary.tasks.map((t) => [t.taskId, t.state, t.error?.code])).toEqual([["hang", "failed", "worker_lost"], ["after", "upstream_failed", undefined]]);
  });
});
