/** `venvflow logs RUN_ID TASK_ID`: a try's log, optionally followed while the try runs. */
import type { Command } from "@commander-js/extra-typings";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import type { TaskError } from "../dag/model.ts";
import { findTaskLog } from "../engine/queries.ts";
import { followLog } from "../runtime/logs.ts";
import type { LogLine } from "../runtime/types.ts";
import { openStore } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { action, paint, parseMapIndex, printJson } from "./common.ts";
import { parsePositiveInt, runRef } from "./runs.ts";

function parseLine(text: string): LogLine | null {
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return null;
  }
}

function formatLine(line: LogLine, color: ReturnType<typeof paint>): string {
  const level = line.level ? ` ${line.level}` : "";
  const text = `${line.ts} ${line.stream}${level} ${line.msg}`;
  return line.level === "ERROR" ? color("red", text) : line.level === "WARNING" ? color("yellow", text) : text;
}

/**
 * What venvflow learned about a failed try that its log does not say yet: the explanation lines (doctor's
 * post-mortem, the cause of a build failure) and the fix, as system ERROR lines stamped with the log's last time.
 */
function explanationLines(error: TaskError | null, logText: string, ts: string): LogLine[] {
  if (!error) return [];
  const [, ...rest] = error.message.split("\n");
  const missing = rest.map((line) => line.trim()).filter((line) => line && !line.startsWith("fix: ") && !logText.includes(line));
  return [...missing, ...(error.fix ? [`fix: ${error.fix}`] : [])].map((msg) => ({ ts, stream: "system", level: "ERROR", msg }));
}

export function registerLogsCommand(program: Command): void {
  program
    .command("logs")
    .description("Print a task's log for a run (its last try, or --try N), with the explanation and fix of a failure")
    .argument("<runIdOrTask>", "run id (a unique part of it is enough); with --latest, the task id")
    .argument("[taskId]", "task id")
    .option("--latest", "the newest run (of --dag, if given)", false)
    .option("--dag <id>", "the DAG, when several share the run id")
    .option("--try <n>", "which try (default: the last)")
    .option("--map-index <n>", "which instance of a mapped task")
    .option("-f, --follow", "keep printing while the try runs", false)
    .option("--raw", "print the JSON lines as stored", false)
    .option("--json", "print { dagId, runId, taskId, tryNumber, path, lines, error } once the log is read (with --follow: once the try ends)", false)
    .action(
      action(async (first, second, opts) => {
        const [runId, taskId] = opts.latest && second === undefined ? [undefined, first] : [first, second];
        if (taskId === undefined) throw new VenvflowError("invalid_arguments", "which task? no task id given", { fix: "venvflow logs RUN_ID TASK_ID, or venvflow logs --latest TASK_ID" });
        const store = await openStore();
        const color = paint(process.stdout);
        try {
          const found = await findTaskLog(store, {
            runRef: runRef(runId, opts.latest),
            taskId,
            ...(opts.dag === undefined ? {} : { dagId: opts.dag }),
            ...(opts.try === undefined ? {} : { tryNumber: parsePositiveInt(opts.try, "--try") }),
            ...(opts.mapIndex === undefined ? {} : { mapIndex: parseMapIndex(opts.mapIndex) }),
          });
          let lastTs: string | null = null;
          const collected: LogLine[] = [];
          const emit = (text: string, line: LogLine | null): void => {
            if (line) lastTs = line.ts;
            if (opts.json) {
              if (line) collected.push(line);
            } else process.stdout.write(`${opts.raw || !line ? text : formatLine(line, color)}\n`);
          };
          const printed = await followLog(found.path, (text) => emit(text, parseLine(text)), opts.follow ? { live: found.live } : {});
          const { error, endedAt, hostname } = await found.outcome();
          // A finished try of an in-process task that printed nothing has no file (src/engine/try-log.ts): its log is empty.
          if (!opts.follow && printed === 0 && !existsSync(found.path) && (endedAt === null || hostname !== os.hostname())) {
            throw new VenvflowError("log_not_found", `the log of try ${found.tryNumber} (${found.path}) is not on this machine`, { fix: "run the command where the task ran, or share VENVFLOW_HOME/logs" });
          }
          const logText = existsSync(found.path) ? readFileSync(found.path, "utf8") : "";
          for (const line of explanationLines(error, logText, lastTs ?? endedAt ?? new Date().toISOString())) emit(JSON.stringify(line), line);
          if (opts.json) printJson({ dagId: found.dagId, runId: found.runId, taskId, tryNumber: found.tryNumber, path: found.path, lines: collected, error });
        } finally {
          await store.close();
        }
      }),
    );
}
