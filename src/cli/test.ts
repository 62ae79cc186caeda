/** `venvflow test FILE TASK_ID`: one try of one task, without upstream and without recording state. */
import type { Command } from "@commander-js/extra-typings";
import { loadDag } from "../dag/loader.ts";
import { runTask } from "../engine/run-dag.ts";
import { openStore } from "../store/index.ts";
import { action, printJson, taskErrorLines } from "./common.ts";
import { formatMs, parseConf, parseDate } from "./runs.ts";

export function registerTestCommand(program: Command): void {
  program
    .command("test")
    .description("Run one task once, without its upstream tasks and without recording anything (upstream results come from the DAG's latest run)")
    .argument("<file>", "DAG file")
    .argument("<taskId>", "the task to run")
    .option("--dag <id>", "which DAG, when the file defines several")
    .option("--conf <json>", "run conf, a JSON object")
    .option("--logical-date <iso>", "logical date (default: now)")
    .option("--json", "print the result as JSON", false)
    .action(
      action(async (file, taskId, opts) => {
        const conf = parseConf(opts.conf);
        const logicalDate = parseDate(opts.logicalDate, "--logical-date");
        const dag = await loadDag(file, opts.dag);
        const store = await openStore();
        try {
          const result = await runTask(dag, taskId, {
            store,
            conf,
            ...(logicalDate ? { logicalDate } : {}),
            onLog: (line) => {
              if (!opts.json) process.stderr.write(`${line.msg}\n`);
            },
          });
          if (opts.json) printJson(result);
          else {
            process.stdout.write(`${dag.dagId}.${taskId}: ${result.state} in ${formatMs(result.durationMs)}\n`);
            if (result.returnValue !== undefined) process.stdout.write(`returned: ${JSON.stringify(result.returnValue)}\n`);
            if (result.skipTaskIds.length > 0) process.stdout.write(`would skip: ${result.skipTaskIds.join(", ")}\n`);
            if (result.error) process.stdout.write(`${taskErrorLines(result.error, process.stdout).join("\n    ")}\n`);
            process.stdout.write(`log: ${result.logPath}\n`);
          }
          if (result.state === "failed") process.exitCode = 1;
        } finally {
          await store.close();
        }
      }),
    );
}
