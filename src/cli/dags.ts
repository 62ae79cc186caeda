/** `venvflow dags list|show`: what the loader finds, and a DAG's graph as text. */
import type { Command } from "@commander-js/extra-typings";
import path from "node:path";
import type { DagDefinition } from "../dag/model.ts";
import { loadDag, loadDags } from "../dag/loader.ts";
import { action, printJson, table } from "./common.ts";

function dagJson(dag: DagDefinition): Record<string, unknown> {
  return {
    dagId: dag.dagId,
    fileloc: dag.fileloc,
    description: dag.description ?? null,
    schedule: dag.schedule,
    timezone: dag.timezone,
    tags: dag.tags,
    maxActiveRuns: dag.maxActiveRuns,
    maxActiveTasks: dag.maxActiveTasks,
    params: dag.params,
    tasks: [...dag.tasks.values()].map((t) => ({
      taskId: t.taskId,
      kind: t.kind,
      triggerRule: t.triggerRule,
      retries: t.retries,
      upstream: t.upstreamTaskIds,
      downstream: t.downstreamTaskIds,
    })),
  };
}

/** One line per task in topological order: its kind, its non-default settings, and where it leads. */
export function graphText(dag: DagDefinition): string {
  const tasks = [...dag.tasks.values()];
  const width = Math.max(...tasks.map((t) => t.taskId.length), 4);
  const lines = [`${dag.dagId}${dag.description ? ` — ${dag.description}` : ""}`, `  schedule: ${dag.schedule ?? "none (manual runs)"}, ${tasks.length} task${tasks.length === 1 ? "" : "s"}`, ""];
  for (const t of tasks) {
    const notes = [t.kind, ...(t.triggerRule === "all_success" ? [] : [t.triggerRule]), ...(t.retries > 0 ? [`retries=${t.retries}`] : [])];
    const next = t.downstreamTaskIds.length > 0 ? ` → ${t.downstreamTaskIds.join(", ")}` : "";
    lines.push(`  ${t.taskId.padEnd(width)}  [${notes.join(", ")}]${next}`);
  }
  return lines.join("\n");
}

export function registerDagsCommands(program: Command): void {
  const dags = program.command("dags").description("Find and inspect DAGs");
  dags
    .command("list")
    .description("List the DAGs in a file or folder, and the files that fail to load (exit code 1 if any)")
    .argument("[path]", "DAG file or folder", "dags")
    .option("--json", "print JSON: { dags, errors }", false)
    .action(
      action(async (target, opts) => {
        const { dags: found, errors } = await loadDags(target);
        if (opts.json) printJson({ dags: found.map(dagJson), errors });
        else {
          const rel = (file: string): string => {
            const relative = path.relative(process.cwd(), file);
            return relative && !relative.startsWith("..") ? relative : file;
          };
          if (found.length > 0) {
            process.stdout.write(`${table(["DAG", "TASKS", "SCHEDULE", "FILE"], found.map((d) => [d.dagId, String(d.tasks.size), d.schedule ?? "-", rel(d.fileloc)]))}\n`);
          } else process.stdout.write("no DAGs found\n");
          for (const e of errors) process.stderr.write(`error: ${rel(e.file)}: ${e.message} [${e.code}]\n`);
        }
        if (errors.length > 0) process.exitCode = 1;
      }),
    );
  dags
    .command("show")
    .description("Show a DAG's tasks and edges as text")
    .argument("<file>", "DAG file")
    .option("--dag <id>", "which DAG, when the file defines several")
    .option("--json", "print JSON", false)
    .action(
      action(async (file, opts) => {
        const dag = await loadDag(file, opts.dag);
        if (opts.json) printJson(dagJson(dag));
        else process.stdout.write(`${graphText(dag)}\n`);
      }),
    );
}
