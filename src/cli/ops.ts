/**
 * `venvflow trigger|backfill|clear|pause|unpause`: the server's operations from a script, through the same engine
 * functions (src/engine/operations.ts), on DAGs the store knows (recorded by `venvflow server`).
 */
import type { Command } from "@commander-js/extra-typings";
import { backfillRuns, clearTaskInstances, setDagPaused, triggerStoredDag } from "../engine/operations.ts";
import { openStore, type Store } from "../store/index.ts";
import { action, collect, parseMapIndex, printJson } from "./common.ts";
import { parseConf, parseDate } from "./runs.ts";

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

export function registerOpsCommands(program: Command): void {
  program
    .command("trigger")
    .description("Queue a run of a DAG (the server or a worker runs it); conf keys naming a param must have its type")
    .argument("<dag_id>", "DAG id")
    .option("--conf <json>", "run conf, a JSON object")
    .option("--logical-date <iso>", "logical date (default: now)")
    .option("--run-id <id>", "run id (default: manual__<logical date>)")
    .option("--json", "print the run as JSON", false)
    .action(
      action(async (dagId, opts) => {
        const conf = parseConf(opts.conf);
        const logicalDate = parseDate(opts.logicalDate, "--logical-date");
        await withStore(async (store) => {
          const run = await triggerStoredDag(store, dagId, { conf, ...(logicalDate ? { logicalDate } : {}), ...(opts.runId ? { runId: opts.runId } : {}) });
          if (opts.json) printJson({ dagId: run.dag_id, runId: run.run_id, state: run.state, logicalDate: run.logical_date });
          else process.stdout.write(`queued run ${run.run_id} of ${run.dag_id}\n`);
        });
      }),
    );
  program
    .command("backfill")
    .description("Queue one run per schedule interval whose logical date is in [start, end]; dates that have a run are skipped")
    .argument("<dag_id>", "DAG id")
    .requiredOption("--start <iso>", "first logical date (inclusive)")
    .requiredOption("--end <iso>", "last logical date (inclusive)")
    .option("--conf <json>", "conf of every run, a JSON object")
    .option("--json", "print the created run ids as JSON", false)
    .action(
      action(async (dagId, opts) => {
        const conf = parseConf(opts.conf);
        const start = parseDate(opts.start, "--start") as Date;
        const end = parseDate(opts.end, "--end") as Date;
        await withStore(async (store) => {
          const { created, existing } = await backfillRuns(store, dagId, { start, end, conf });
          if (opts.json) printJson({ dagId, created: created.map((r) => r.run_id), existing });
          else process.stdout.write(`queued ${created.length} backfill run(s) of ${dagId}${existing > 0 ? `; ${existing} date(s) already had a run` : ""}\n`);
        });
      }),
    );
  program
    .command("clear")
    .description("Clear task instances of a run so they run again")
    .argument("<dag_id>", "DAG id")
    .argument("<run_id>", "run id")
    .argument("<task_ids...>", "task ids")
    .option("--downstream", "also clear every task downstream of them", false)
    .option("--upstream", "also clear every task upstream of them", false)
    .option("--map-index <n>", "only this instance of the (mapped) tasks, repeatable; their relatives are cleared whole", collect, [])
    .option("--json", "print the cleared task ids as JSON", false)
    .action(
      action(async (dagId, runId, taskIds, opts) => {
        const mapIndexes = opts.mapIndex.map(parseMapIndex);
        await withStore(async (store) => {
          const cleared = await clearTaskInstances(store, dagId, runId, taskIds, { downstream: opts.downstream, upstream: opts.upstream, mapIndexes });
          if (opts.json) printJson({ cleared });
          else process.stdout.write(`cleared ${cleared.length} task(s) of run ${runId}${mapIndexes.length > 0 ? ` (map index ${mapIndexes.join(", ")} of ${taskIds.join(", ")})` : ""}: ${cleared.join(", ")}\n`);
        });
      }),
    );
  for (const paused of [true, false]) {
    program
      .command(paused ? "pause" : "unpause")
      .description(paused ? "Pause a DAG: no new runs, no new task instances scheduled (running tries finish)" : "Unpause a DAG")
      .argument("<dag_id>", "DAG id")
      .action(
        action(async (dagId) => {
          await withStore(async (store) => {
            const changed = await setDagPaused(store, dagId, paused);
            process.stdout.write(`${dagId} ${changed ? "is now" : "was already"} ${paused ? "paused" : "unpaused"}\n`);
          });
        }),
      );
  }
}
