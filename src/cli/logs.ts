/** `venvflow logs RUN_ID TASK_ID`: a try's log, optionally followed while the try runs. */
import type { Command } from "@commander-js/extra-typings";
import { existsSync } from "node:fs";
import { findRun, taskTries } from "../engine/queries.ts";
import { followLog, formatLogLine } from "../runtime/logs.ts";
import { openStore, type Store } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { action } from "./common.ts";
import { parsePositiveInt } from "./runs.ts";

async function locate(store: Store, runId: string, taskId: string, dagId: string | undefined, tryNumber: number | undefined): Promise<{ dagId: string; path: string; tryNumber: number; live: () => Promise<boolean> }> {
  const run = await findRun(store, runId, dagId);
  const ti = await store.db.selectFrom("task_instance").selectAll().where("dag_id", "=", run.dag_id).where("run_id", "=", run.run_id).where("task_id", "=", taskId).executeTakeFirst();
  if (!ti) throw new VenvflowError("task_not_found", `run "${runId}" of DAG "${run.dag_id}" has no task "${taskId}"`, { fix: `see its tasks with: venvflow runs show ${runId}` });
  if (ti.try_number === 0) throw new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" has not started (state ${ti.state})`, { fix: "wait until it runs" });
  const wanted = tryNumber ?? ti.try_number;
  const isCurrent = wanted === ti.try_number && ti.log_path !== null;
  const past = isCurrent ? undefined : (await taskTries(store.db, run.dag_id, run.run_id, taskId)).find((t) => t.try_number === wanted);
  const logPath = isCurrent ? ti.log_path : past?.log_path;
  if (!logPath) {
    throw new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" has no try ${wanted}`, { fix: `its tries are 1 to ${ti.try_number}` });
  }
  const live = async (): Promise<boolean> => {
    const now = await store.db.selectFrom("task_instance").select(["state", "try_number"]).where("id", "=", ti.id).executeTakeFirst();
    return now?.state === "running" && now.try_number === wanted;
  };
  return { dagId: run.dag_id, path: logPath, tryNumber: wanted, live };
}

export function registerLogsCommand(program: Command): void {
  program
    .command("logs")
    .description("Print a task's log for a run (its last try, or --try N)")
    .argument("<runId>", "run id")
    .argument("<taskId>", "task id")
    .option("--dag <id>", "the DAG, when several share the run id")
    .option("--try <n>", "which try (default: the last)")
    .option("-f, --follow", "keep printing while the try runs", false)
    .option("--raw", "print the JSON lines as stored", false)
    .action(
      action(async (runId, taskId, opts) => {
        const store = await openStore();
        try {
          const found = await locate(store, runId, taskId, opts.dag, opts.try === undefined ? undefined : parsePositiveInt(opts.try, "--try"));
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
