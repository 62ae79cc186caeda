/**
 * The executor registry: one executor per task kind. The engine looks a task's kind up here and nowhere else;
 * a new kind of task (a Node task with its own npm dependencies, say) is one new executor in this table.
 */
import { bashExecutor } from "./bash.ts";
import { emptyExecutor } from "./empty.ts";
import { branchFunctionExecutor, functionExecutor } from "./function.ts";
import { pythonExecutors } from "./python.ts";
import type { ExecutorRegistry, TaskExecutor } from "./types.ts";
import type { DagDefinition, TaskDefinition } from "../../dag/model.ts";

export const EXECUTORS: ExecutorRegistry = {
  ...pythonExecutors,
  python: functionExecutor,
  branch_python: branchFunctionExecutor,
  bash: bashExecutor,
  empty: emptyExecutor,
};

/**
 * Prewarms the tasks of `dags` one after another (in the background of a worker that serves them: a build or a
 * zygote start takes a core for a while, and the worker's own tries come first). Errors are the tries' to report.
 */
export async function prewarmDags(dags: Iterable<DagDefinition>, home: string, signal: AbortSignal): Promise<void> {
  const seen = new Set<string>();
  const first = (key: string): boolean => !seen.has(key) && Boolean(seen.add(key));
  for (const dag of dags) {
    for (const task of dag.tasks.values()) {
      if (signal.aborted) return;
      const executor = EXECUTORS[task.kind] as TaskExecutor<TaskDefinition["kind"]>;
      await executor.prewarm?.(task, { dag, home, signal, first }).catch(() => undefined);
    }
  }
}

export type { ExecutionContext, ExecutorRegistry, PrewarmContext, TaskExecutor } from "./types.ts";
