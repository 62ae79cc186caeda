/** `venvflow logs RUN_ID TASK_ID`: a try's log, optionally followed while the try runs. */
import type { Command } from "@commander-js/extra-typings";
import { existsSync } from "node:fs";
import { findTaskLog } from "../engine/queries.ts";
import { followLog, formatLogLine } from "../runtime/logs.ts";
import { openStore } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { action } from "./common.ts";
import { parsePositiveInt } from "./runs.ts";

function parseMapIndex(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new VenvflowError("invalid_arguments", `--map-index must be 0 or more, got "${text}"`, { fix: "e.g. --map-index 0" });
  return n;
}

export function registerLogsCommand(program: Command): void {
  program
    .command("logs")
    .description("Print a task's log for a run (its last try, or --try N)")
    .argument("<runId>", "run id")
    .argument("<taskId>", "task id")
    .option("--dag <id>", "the DAG, when several share the run id")
    .option("--try <n>", "which try (default: the last)")
    .option("--map-index <n>", "which instance of a mapped task")
    .option("-f, --follow", "keep printing while the try runs", false)
    .option("--raw", "print the JSON lines as stored", false)
    .action(
      action(async (runId, taskId, opts) => {
        const store = await openStore();
        try {
          const found = await findTaskLog(store, {
            runId,
            taskId,
            ...(opts.dag === undefined ? {} : { dagId: opts.dag }),
            ...(opts.try === undefined ? {} : { tryNumber: parsePositiveInt(opts.try, "--try") }),
            ...(opts.mapIndex === undefined ? {} : { mapIndex: parseMapIndex(opts.mapIndex) }),
          });
          const printed = await followLog(found.path, (line) => process.stdout.write(`${opts.raw ? line : formatLogLine(line)}\n`), opts.follow ? { live: found.live } : {});
          if (!opts.follow && printed === 0 && !existsSync(found.path)) {
            throw new VenvflowError("log_not_found", `the log of try ${found.tryNumber} (${found.path}) is not on this machine`, { fix: "run the command where the task ran, or share VENVFLOW_HOME/logs" });
          }
        } finally {
          await store.close();
        }
      }),
    );
}
