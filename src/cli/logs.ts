/** `venvflow logs RUN_ID TASK_ID`: a try's log, optionally followed while the try runs. */
import type { Command } from "@commander-js/extra-typings";
import { existsSync, readFileSync } from "node:fs";
import type { TaskError } from "../dag/model.ts";
import { resolveRunRef, taskTries } from "../engine/queries.ts";
import type { LogLine } from "../runtime/types.ts";
import { openStore, type Store } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { action, paint, printJson } from "./common.ts";
import { parsePositiveInt, runRef } from "./runs.ts";

const FOLLOW_POLL_MS = 250;

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

interface LocatedTry {
  dagId: string;
  runId: string;
  path: string;
  tryNumber: number;
  live: () => Promise<boolean>;
  /** The try's error and end, once it has ended. */
  outcome: () => Promise<{ error: TaskError | null; endedAt: string | null }>;
}

/** Why a task that never started has no log, by its state. */
function neverRan(taskId: string, runId: string, state: string): VenvflowError {
  const show = `venvflow runs show ${runId}`;
  if (state === "skipped") return new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" was skipped before it started (by a branch, a trigger rule or a skipped upstream task), so it has no log`, { fix: `see which upstream task decided it with: ${show}` });
  if (state === "upstream_failed") return new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" never ran because an upstream task failed, so it has no log`, { fix: `find the failed upstream task with: ${show}` });
  return new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" has not started yet (state ${state}), so it has no log`, { fix: `wait until it runs (follow it with --follow once it is running), or see the run with: ${show}` });
}

async function locate(store: Store, ref: string, taskId: string, dagId: string | undefined, tryNumber: number | undefined): Promise<LocatedTry> {
  const run = await resolveRunRef(store, ref, dagId);
  const runId = run.run_id;
  const ti = await store.db.selectFrom("task_instance").selectAll().where("dag_id", "=", run.dag_id).where("run_id", "=", runId).where("task_id", "=", taskId).executeTakeFirst();
  if (!ti) throw new VenvflowError("task_not_found", `run "${runId}" of DAG "${run.dag_id}" has no task "${taskId}"`, { fix: `see its tasks with: venvflow runs show ${runId}` });
  if (ti.try_number === 0) throw neverRan(taskId, runId, ti.state);
  const wanted = tryNumber ?? ti.try_number;
  const isCurrent = wanted === ti.try_number && ti.log_path !== null;
  const pastTry = async () => (await taskTries(store.db, run.dag_id, runId, taskId)).find((t) => t.try_number === wanted);
  const past = isCurrent ? undefined : await pastTry();
  const logPath = isCurrent ? ti.log_path : past?.log_path;
  if (!logPath) {
    throw new VenvflowError("log_not_found", `task "${taskId}" of run "${runId}" has no try ${wanted}`, { fix: `its tries are 1 to ${ti.try_number}` });
  }
  const live = async (): Promise<boolean> => {
    const now = await store.db.selectFrom("task_instance").select(["state", "try_number"]).where("id", "=", ti.id).executeTakeFirst();
    return now?.state === "running" && now.try_number === wanted;
  };
  const outcome = async (): Promise<{ error: TaskError | null; endedAt: string | null }> => {
    const row = await pastTry();
    return { error: row?.error ? (JSON.parse(row.error) as TaskError) : null, endedAt: row?.ended_at ?? null };
  };
  return { dagId: run.dag_id, runId, path: logPath, tryNumber: wanted, live, outcome };
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
          const found = await locate(store, runRef(runId, opts.latest), taskId, opts.dag, opts.try === undefined ? undefined : parsePositiveInt(opts.try, "--try"));
          let printed = 0;
          let lastTs: string | null = null;
          const collected: LogLine[] = [];
          const emit = (text: string, line: LogLine | null): void => {
            if (line) lastTs = line.ts;
            if (opts.json) {
              if (line) collected.push(line);
            } else process.stdout.write(`${opts.raw || !line ? text : formatLine(line, color)}\n`);
          };
          const flush = (): void => {
            if (!existsSync(found.path)) return;
            const text = readFileSync(found.path, "utf8");
            // Only whole lines: the writer may be midway through one.
            const end = text.lastIndexOf("\n") + 1;
            for (const line of text.slice(printed, end).split("\n")) if (line) emit(line, parseLine(line));
            printed = Math.max(printed, end);
          };
          flush();
          if (!opts.follow && printed === 0 && !existsSync(found.path)) {
            throw new VenvflowError("log_not_found", `the log of try ${found.tryNumber} (${found.path}) is not on this machine`, { fix: "run the command where the task ran, or share VENVFLOW_HOME/logs" });
          }
          while (opts.follow && (await found.live())) {
            await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
            flush();
          }
          flush();
          const { error, endedAt } = await found.outcome();
          const logText = existsSync(found.path) ? readFileSync(found.path, "utf8") : "";
          for (const line of explanationLines(error, logText, lastTs ?? endedAt ?? new Date().toISOString())) emit(JSON.stringify(line), line);
          if (opts.json) printJson({ dagId: found.dagId, runId: found.runId, taskId, tryNumber: found.tryNumber, path: found.path, lines: collected, error });
        } finally {
          await store.close();
        }
      }),
    );
}
