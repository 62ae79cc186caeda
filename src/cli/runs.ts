/** `venvflow runs list|show`, and the run formatting and option parsing the other engine commands share. */
import type { Command } from "@commander-js/extra-typings";
import type { TaskError } from "../dag/model.ts";
import { listRuns, resolveRunRef, summarizeRun, taskTries } from "../engine/queries.ts";
import type { RunSummary, TaskSummary } from "../engine/types.ts";
import { openStore } from "../store/index.ts";
import { RUN_STATES, type RunState } from "../store/schema.ts";
import { VenvflowError } from "../util/errors.ts";
import { action, ago, printJson, shortValue, stateText, table, taskErrorLines } from "./common.ts";

export function parseConf(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new VenvflowError("invalid_conf", `--conf is not valid JSON: ${(error as Error).message}`, { fix: `pass a JSON object, e.g. --conf '{"key": "value"}'` });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new VenvflowError("invalid_conf", "--conf must be a JSON object", { fix: `pass a JSON object, e.g. --conf '{"key": "value"}'` });
  }
  return value as Record<string, unknown>;
}

export function parseDate(text: string | undefined, what: string): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new VenvflowError("invalid_logical_date", `${what} "${text}" is not a date`, { fix: "use ISO-8601, e.g. 2026-01-31T00:00:00Z" });
  return date;
}

export function parsePositiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new VenvflowError("invalid_arguments", `${what} must be a positive integer, got "${text}"`, { fix: `e.g. ${what} 4` });
  return n;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return "-";
  return ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

function errorLine(error: TaskError): string {
  return `${error.type}: ${error.message.split("\n")[0]}`;
}

/** The `--json` shape of a run: `{ dagId, runId, state, tasks: [{ taskId, state, tryNumber, durationMs, returnValue, error }] }`. */
export function runJson(s: RunSummary): Record<string, unknown> {
  return {
    dagId: s.dagId,
    runId: s.runId,
    state: s.state,
    logicalDate: s.logicalDate.toISOString(),
    dataIntervalStart: s.dataIntervalStart.toISOString(),
    dataIntervalEnd: s.dataIntervalEnd.toISOString(),
    conf: s.conf,
    durationMs: s.durationMs,
    tasks: s.tasks.map(taskJson),
  };
}

function taskJson(t: TaskSummary): Record<string, unknown> {
  return { taskId: t.taskId, ...(t.mapIndex >= 0 ? { mapIndex: t.mapIndex } : {}), state: t.state, tryNumber: t.tryNumber, durationMs: t.durationMs, returnValue: t.returnValue ?? null, error: t.error, logPath: t.logPath };
}

/**
 * Tasks in the order they ran: an upstream task always starts before its downstream ones, so this is a
 * topological order even without the DAG (runs show); tasks that never started come last.
 */
function inRunOrder(tasks: readonly TaskSummary[]): TaskSummary[] {
  const at = (t: TaskSummary): number => (t.startedAt ?? t.endedAt)?.getTime() ?? Number.POSITIVE_INFINITY;
  return tasks.map((t, i) => ({ t, i })).sort((a, b) => at(a.t) - at(b.t) || a.i - b.i).map(({ t }) => t);
}

/**
 * The run's tasks as a table for a person: each task's short return value, and under each failed task its error,
 * the explanation venvflow found and the fix. Widths are measured on plain text; colour is added after padding.
 */
export function runTable(s: RunSummary, stream: NodeJS.WriteStream, options: { ordered?: boolean } = {}): string {
  const tasks = options.ordered ? s.tasks : inRunOrder(s.tasks);
  const headers = ["TASK", "STATE", "TRY", "DURATION", "RESULT"];
  // A mapped task's instances show as task[0], task[1], …
  const rows = tasks.map((t) => [t.mapIndex >= 0 ? `${t.taskId}[${t.mapIndex}]` : t.taskId, t.state, String(t.tryNumber), formatMs(t.durationMs), t.state === "success" ? shortValue(t.returnValue) : t.error ? errorLine(t.error) : ""]);
  return table(headers, rows, {
    style: (cell, row, column) => (column === 1 ? stateText(tasks[row]!.state, stream, cell) : cell),
    extra: (row) => {
      const t = tasks[row]!;
      return t.state === "failed" && t.error ? taskErrorLines(t.error, stream).slice(1).map((text) => `    ${text}`) : [];
    },
  });
}

/** `RUN_ID` or `--latest` (the newest run, of `--dag` if given); a unique part of a run id is enough. */
export function runRef(runId: string | undefined, latest: boolean): string {
  if (latest && runId !== undefined) throw new VenvflowError("invalid_arguments", `give a run id or --latest, not both (got "${runId}" and --latest)`, { fix: "drop one of them" });
  if (latest) return "latest";
  if (runId === undefined) throw new VenvflowError("invalid_arguments", "which run? no run id given", { fix: "pass a run id (a unique part of it is enough), or --latest; list runs with `venvflow runs list`" });
  return runId;
}

export function registerRunsCommands(program: Command): void {
  const runs = program.command("runs").description("Runs recorded in the store (VENVFLOW_DATABASE_URL, or the SQLite file in VENVFLOW_HOME)");
  runs
    .command("list")
    .description("List recent runs, newest first")
    .option("--dag <id>", "only this DAG's runs")
    .option("--state <state>", `only runs in this state (${RUN_STATES.join(", ")})`)
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print JSON", false)
    .action(
      action(async (opts) => {
        if (opts.state !== undefined && !(RUN_STATES as readonly string[]).includes(opts.state)) {
          throw new VenvflowError("invalid_arguments", `--state "${opts.state}" is not a run state`, { fix: `use one of: ${RUN_STATES.join(", ")}` });
        }
        const store = await openStore();
        try {
          const rows = await listRuns(store, {
            limit: parsePositiveInt(opts.limit, "--limit"),
            ...(opts.dag ? { dagId: opts.dag } : {}),
            ...(opts.state ? { state: opts.state as RunState } : {}),
          });
          if (opts.json) {
            printJson(rows.map((r) => ({ dagId: r.dag_id, runId: r.run_id, state: r.state, runType: r.run_type, logicalDate: r.logical_date, queuedAt: r.queued_at, startedAt: r.started_at, endedAt: r.ended_at })));
            return;
          }
          const duration = (a: string | null, b: string | null): string => (a && b ? formatMs(Date.parse(b) - Date.parse(a)) : "-");
          process.stdout.write(
            `${table(["DAG", "RUN ID", "STATE", "QUEUED", "DURATION"], rows.map((r) => [r.dag_id, r.run_id, r.state, ago(r.queued_at), duration(r.started_at, r.ended_at)]), {
              style: (cell, row, column) => (column === 2 ? stateText(rows[row]!.state, process.stdout, cell) : cell),
            })}\n`,
          );
        } finally {
          await store.close();
        }
      }),
    );
  runs
    .command("show")
    .description("Show a run: its dates, conf and every task instance with its tries")
    .argument("[runId]", "run id, or a unique part of it")
    .option("--latest", "the newest run (of --dag, if given)", false)
    .option("--dag <id>", "the DAG, when several share the run id")
    .option("--json", "print JSON", false)
    .action(
      action(async (runId, opts) => {
        const ref = runRef(runId, opts.latest);
        const store = await openStore();
        try {
          const run = await resolveRunRef(store, ref, opts.dag);
          const summary = await summarizeRun(store, run.dag_id, run.run_id);
          if (opts.json) {
            const tries = await Promise.all(summary.tasks.map((t) => taskTries(store.db, run.dag_id, run.run_id, t.taskId, t.mapIndex)));
            printJson({
              ...runJson(summary),
              tasks: summary.tasks.map((t, i) => ({
                ...taskJson(t),
                tries: tries[i]!.map((x) => ({ tryNumber: x.try_number, state: x.state, durationMs: x.duration_ms, worker: x.worker, hostname: x.hostname, logPath: x.log_path, error: x.error === null ? null : (JSON.parse(x.error) as TaskError) })),
              })),
            });
            return;
          }
          const lines = [
            `Run ${summary.runId} of ${summary.dagId}: ${stateText(summary.state, process.stdout)} (${summary.runType})`,
            `  logical date   ${summary.logicalDate.toISOString()}`,
            `  data interval  ${summary.dataIntervalStart.toISOString()} → ${summary.dataIntervalEnd.toISOString()}`,
            `  duration       ${formatMs(summary.durationMs)}`,
            `  conf           ${JSON.stringify(summary.conf)}`,
            "",
            runTable(summary, process.stdout),
          ];
          process.stdout.write(`${lines.join("\n")}\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
