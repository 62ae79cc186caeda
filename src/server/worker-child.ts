/**
 * The server's workers: `node worker-child.js FOLDER SLOTS` loads the DAG files and runs a Worker (scheduling
 * included) over the DAGs that are not paused. It re-reads the pause flags every POLL_MS and swaps its Worker
 * when they change (so a pause takes effect within POLL_MS); the old Worker finishes its running tries. SIGTERM stops claiming and exits once the
 * running tries end. Engine events go to stdout as JSON lines for the server.
 */
import { loadDags } from "../dag/loader.ts";
import { pausedDagIds } from "../engine/serialized-dags.ts";
import { Worker } from "../engine/worker.ts";
import { openStore } from "../store/index.ts";
import { exitWithParent } from "../util/process.ts";

exitWithParent(); // the server died: nothing of it may go on running

const POLL_MS = 1000;
const [folder, slotsText] = process.argv.slice(2) as [string, string];
const slots = Number(slotsText);
const { dags } = await loadDags(folder);
const store = await openStore();
// The DAGs this worker runs, as its files were when it loaded them (the server may have parsed a newer version).
process.stdout.write(`${JSON.stringify({ type: "ready", dagIds: dags.map((d) => d.dagId) })}\n`);
const draining: Promise<void>[] = [];
let current: { worker: Worker; paused: string } | null = null;
let stopping = false;

async function reconcile(): Promise<void> {
  const paused = await pausedDagIds(store);
  const key = [...paused].sort().join("\n");
  if (current && current.paused === key) return;
  if (current) current.worker.stop();
  current = null;
  const active = dags.filter((d) => !paused.has(d.dagId));
  process.stdout.write(`${JSON.stringify({ type: "working", dagIds: active.map((d) => d.dagId) })}\n`);
  if (active.length === 0) return;
  const worker = new Worker({
    store,
    dags: active,
    slots,
    createScheduledRuns: true,
    onEvent: (e) => {
      if (e.type !== "log") process.stdout.write(`${JSON.stringify(e)}\n`);
    },
  });
  current = { worker, paused: key };
  // A worker that fails (store unreachable) ends this process; the server starts a new one.
  draining.push(
    worker.run().catch((error: unknown) => {
      process.stderr.write(`worker failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
      stop();
    }),
  );
}

const stop = (): void => {
  stopping = true;
  current?.worker.stop();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
try {
  while (!stopping) {
    await reconcile();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  await Promise.all(draining);
} finally {
  await store.close();
}
process.exit();
