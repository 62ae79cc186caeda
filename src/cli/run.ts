/**
 * `venvflow run FILE`: one run of a DAG in this process, with live task states and a summary.
 * `venvflow worker [PATH]`: a long-lived worker for the DAGs under PATH, sharing the store with other workers.
 */
import type { Command } from "@commander-js/extra-typings";
import { loadDag, loadDags } from "../dag/loader.ts";
import { runDag } from "../engine/run-dag.ts";
import { Worker } from "../engine/worker.ts";
import type { EngineEvent } from "../engine/types.ts";
import type { LogLine } from "../runtime/types.ts";
import { openStore } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { action, applyFrozen, FROZEN_HELP, loadErrorText, paint, printJson, stateText, taskErrorLines } from "./common.ts";
import { formatMs, parseConf, parseDate, parsePositiveInt, runJson, runTable } from "./runs.ts";

/**
 * The runtime's lines about an environment being built ("environment KEY create: …"); the resolve and cached
 * lines of an environment that is already there are left out, they come with every task.
 */
function isBuildProgress(line: LogLine): boolean {
  return line.stream === "system" && /^environment [0-9a-f]+ (?:waiting|create|install|lock|publish|done):/.test(line.msg);
}

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
    .option("--frozen", FROZEN_HELP, false)
    .action(
      action(async (file, opts) => {
        applyFrozen(opts.frozen);
        const conf = parseConf(opts.conf);
        const logicalDate = parseDate(opts.logicalDate, "--logical-date");
        const workers = parsePositiveInt(opts.workers, "--workers");
        const dag = await loadDag(file, opts.dag);
        const store = await openStore();
        try {
          const color = paint(process.stderr);
          const onEvent = (e: EngineEvent): void => {
            if (opts.json) return;
            const time = color("dim", new Date().toISOString().slice(11, 19));
            if (e.type === "run") process.stderr.write(`${time} run ${e.runId}: ${stateText(e.state, process.stderr)}\n`);
            else if (e.type === "task" && LIVE_STATES.has(e.state)) {
              const tryText = e.state === "running" ? ` (try ${e.tryNumber})` : "";
              process.stderr.write(`${time} ${e.taskId}: ${stateText(e.state, process.stderr)}${tryText}\n`);
              if (e.error) for (const line of taskErrorLines(e.error, process.stderr)) process.stderr.write(`    ${line}\n`);
            } else if (e.type === "log" && isBuildProgress(e.line)) {
              // A cold environment takes seconds: say what it is doing instead of going quiet.
              process.stderr.write(`${time} ${e.taskId}: ${color("dim", e.line.msg)}\n`);
            }
          };
          // A signal cancels the run: its tries are stopped and recorded, the run fails (a second signal quits now).
          const cancel = new AbortController();
          const onSignal = (signal: NodeJS.Signals): void => {
            if (cancel.signal.aborted) process.exit(130);
            process.stderr.write(`${signal}: cancelling the run's tries (signal again to quit now)\n`);
            cancel.abort(signal);
          };
          process.on("SIGINT", onSignal);
          process.on("SIGTERM", onSignal);
          const summary = await runDag(dag, {
            store,
            conf,
            workers,
            onEvent,
            signal: cancel.signal,
            ...(logicalDate ? { logicalDate } : {}),
            ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
          });
          if (opts.json) printJson(runJson(summary));
          else {
            process.stdout.write(`${runTable(summary, process.stdout, { ordered: true })}\n\nRun ${summary.runId} of ${summary.dagId}: ${stateText(summary.state, process.stdout)} in ${formatMs(summary.durationMs)}\n`);
            for (const t of summary.tasks.filter((t) => t.state === "failed" && t.logPath)) process.stdout.write(`  log of ${t.taskId}: venvflow logs ${summary.runId} ${t.taskId} (${t.logPath})\n`);
          }
          if (summary.state !== "success") process.exitCode = cancel.signal.aborted ? 130 : 1;
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        } finally {
          await store.close();
        }
      }),
    );
}

export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("Work on the runs of the DAGs under PATH, creating their scheduled runs, until stopped (SIGINT/SIGTERM cancel the running tries, which are retried where retries remain)")
    .argument("[path]", "DAG file or folder", "dags")
    .option("--slots <n>", "tasks run concurrently by this worker", "4")
    .option("--no-schedule", "do not create the runs the DAGs' cron schedules make due (leave that to other workers)")
    .option("--json", "print every event (run and task states, log lines) as one JSON object per line on stdout", false)
    .option("--frozen", FROZEN_HELP, false)
    .action(
      action(async (target, opts) => {
        applyFrozen(opts.frozen);
        const slots = parsePositiveInt(opts.slots, "--slots");
        const { dags, errors } = await loadDags(target);
        for (const e of errors) {
          if (opts.json) process.stdout.write(`${JSON.stringify({ type: "load_error", ...e })}\n`);
          else process.stderr.write(`${loadErrorText(e)}\n`);
        }
        if (dags.length === 0) throw new VenvflowError("no_dags", `no DAG loaded from ${target}`, { fix: "pass the DAG folder (or fix the errors above)" });
        const store = await openStore();
        const worker = new Worker({
          store,
          dags,
          slots,
          createScheduledRuns: opts.schedule,
          onEvent: (e) => {
            if (opts.json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else if (e.type === "run") process.stderr.write(`${e.at} ${e.dagId} run ${e.runId}: ${e.state}\n`);
            else if (e.type === "task" && LIVE_STATES.has(e.state)) process.stderr.write(`${e.at} ${e.dagId}.${e.taskId} (${e.runId}): ${e.state}\n`);
          },
        });
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals): void => {
          // A second signal does not wait: the sweeper on another worker re-queues what this one held.
          if (++signals > 1) process.exit(130);
          process.stderr.write(`stopping: cancelling running tries (${signal}; signal again to quit now)\n`);
          worker.cancel(`the worker received ${signal}`);
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
        process.stderr.write(`worker ${worker.id}: ${dags.length} DAG(s), ${slots} slot(s), store ${store.url}\n`);
        try {
          await worker.run();
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          await store.close();
        }
      }),
    );
}
