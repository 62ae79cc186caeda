/** `venvflow dags list|show`: what the loader finds, and a DAG's graph as text. */
import type { Command } from "@commander-js/extra-typings";
import path from "node:path";
import type { DagDefinition } from "../dag/model.ts";
import { loadDag, loadDags } from "../dag/loader.ts";
import { listEnvironments } from "../env/index.ts";
import { action, loadErrorText, printJson, table } from "./common.ts";
import { taskEnvironment, type TaskEnvironment } from "./usage.ts";

function dagJson(dag: DagDefinition, environments?: Map<string, TaskEnvironment & { built: boolean }>): Record<string, unknown> {
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
      ...(environments?.has(t.taskId) ? { environment: environments.get(t.taskId) } : {}),
    })),
  };
}

/** Each Python task's interpreter, requirements and environment key (and whether that environment is built yet). */
async function dagEnvironments(dag: DagDefinition): Promise<Map<string, TaskEnvironment & { built: boolean }>> {
  const built = new Set((await listEnvironments()).map((e) => e.key));
  const out = new Map<string, TaskEnvironment & { built: boolean }>();
  for (const task of dag.tasks.values()) {
    const env = await taskEnvironment(task);
    if (env) out.set(task.taskId, { ...env, built: env.key !== null && built.has(env.key) });
  }
  return out;
}

function environmentLine(env: TaskEnvironment & { built: boolean }): string {
  if (env.problem) return `environment: cannot be resolved: ${env.problem.split("\n")[0]}`;
  if (env.key === null) return `existing interpreter ${env.python}`;
  const requirements = env.requirements.length ? env.requirements.join(", ") : "no requirements";
  return `Python ${env.python}, ${requirements} → environment ${env.key.slice(0, 12)}${env.built ? "" : " (not built yet)"}`;
}

/**
 * One line per task in topological order: its kind, its non-default settings, and where it leads; under a Python
 * task, the environment it runs in.
 */
export function graphText(dag: DagDefinition, environments: Map<string, TaskEnvironment & { built: boolean }> = new Map()): string {
  const tasks = [...dag.tasks.values()];
  const width = Math.max(...tasks.map((t) => t.taskId.length), 4);
  const lines = [`${dag.dagId}${dag.description ? ` — ${dag.description}` : ""}`, `  schedule: ${dag.schedule ?? "none (manual runs)"}, ${tasks.length} task${tasks.length === 1 ? "" : "s"}`, ""];
  for (const t of tasks) {
    const notes = [t.kind, ...(t.triggerRule === "all_success" ? [] : [t.triggerRule]), ...(t.retries > 0 ? [`retries=${t.retries}`] : [])];
    const next = t.downstreamTaskIds.length > 0 ? ` → ${t.downstreamTaskIds.join(", ")}` : "";
    lines.push(`  ${t.taskId.padEnd(width)}  [${notes.join(", ")}]${next}`);
    const env = environments.get(t.taskId);
    if (env) lines.push(`  ${" ".repeat(width)}    ${environmentLine(env)}`);
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
        if (opts.json) printJson({ dags: found.map((d) => dagJson(d)), errors });
        else {
          const rel = (file: string): string => {
            const relative = path.relative(process.cwd(), file);
            return relative && !relative.startsWith("..") ? relative : file;
          };
          if (found.length > 0) {
            process.stdout.write(`${table(["DAG", "TASKS", "SCHEDULE", "FILE"], found.map((d) => [d.dagId, String(d.tasks.size), d.schedule ?? "-", rel(d.fileloc)]))}\n`);
          } else process.stdout.write("no DAGs found\n");
          for (const e of errors) process.stderr.write(`${loadErrorText(e)}\n`);
        }
        if (errors.length > 0) process.exitCode = 1;
      }),
    );
  dags
    .command("show")
    .description("Show a DAG's tasks and edges as text, and the Python and requirements of each Python task's environment")
    .argument("<file>", "DAG file")
    .option("--dag <id>", "which DAG, when the file defines several")
    .option("--json", "print JSON", false)
    .action(
      action(async (file, opts) => {
        const dag = await loadDag(file, opts.dag);
        const environments = await dagEnvironments(dag);
        if (opts.json) printJson(dagJson(dag, environments));
        else process.stdout.write(`${graphText(dag, environments)}\n`);
      }),
    );
}
