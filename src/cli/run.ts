/** `venvflow run FILE`: one run of a DAG in this process, with live task states and a summary. */
import type { Command } from "@commander-js/extra-typings";
import { loadDag } from "../dag/loader.ts";
import { runDag } from "../engine/run-dag.ts";
import type { EngineEvent } from "../engine/types.ts";
import { openStore } from "../store/index.ts";
import { action, printJson } from "./common.ts";
import { errorLine, formatMs, parseConf, parseDate, parsePositiveInt, runJson, runTable } from "./runs.ts";

// Only states a person follows; none → scheduled → queued happen in milliseconds and would drown the rest.
const LIVE_STATES = new Set(["running", "success", "failed", "up_for_retry", "skipped", "upstream_failed"]);

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("Run a DAG once, here, until it finishes (exit code 0 when the run succeeds, 1 when it fails)")
    .argument("<file>", "DAG file (.ts/.mts/.js/.mjs)")
    .option("--dag <id>", "which DAG, when the file defines several")
    .option("--conf <json>", "run conf, a JSON object (overrides params of the same name)")
    .option("--logical-date <iso>", "logical date (default: now)")
    .option("--run-id <id>", "run id (default: manual__<logical date>)")
    .option("--workers <n>", "tasks run concurrently in this process", "4")
    .option("--json", "print the run as JSON instead of live states and a table", false)
    .action(
      action(async (file, opts) => {
        const conf = parseConf(opts.conf);
        const logicalDate = parseDate(opts.logicalDate, "--logical-date");
        const workers = parsePositiveInt(opts.workers, "--workers");
        const dag = await loadDag(file, opts.dag);
        const store = await openStore();
        try {
          const onEvent = (e: EngineEvent): void => {
            if (opts.json) return;
            const time = new Date().toISOString().slice(11, 19);
            if (e.type === "run") process.stderr.write(`${time} run ${e.runId}: ${e.state}\n`);
            else if (e.type === "task" && LIVE_STATES.has(e.state)) {
              const tryText = e.state === "running" ? ` (try ${e.tryNumber})` : "";
              process.stderr.write(`${time} ${e.taskId}: ${e.state}${tryText}${e.error ? ` — ${errorLine(e.error)}` : ""}\n`);
            }
          };
          const summary = await runDag(dag, {
            store,
            conf,
            workers,
            onEvent,
            ...(logicalDate ? { logicalDate } : {}),
            ...(opts.runId ? { runId: opts.runId } : {}),
          });
          if (opts.json) printJson(runJson(summary));
          else {
            process.stdout.write(`${runTable(summary)}\n\nRun ${summary.runId} of ${summary.dagId}: ${summary.state} in ${formatMs(summary.durationMs)}\n`);
            for (const t of summary.tasks.filter((t) => t.state === "failed" && t.logPath)) process.stdout.write(`  log of ${t.taskId}: venvflow logs ${summary.runId} ${t.taskId} (${t.logPath})\n`);
          }
          if (summary.state !== "success") process.exitCode = 1;
        } finally {
          await store.close();
        }
      }),
    );
}
