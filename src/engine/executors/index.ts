/**
 * The executor registry: one executor per task kind. The engine looks a task's kind up here and nowhere else;
 * a new kind of task (a Node task with its own npm dependencies, say) is one new executor in this table.
 */
import { bashExecutor } from "./bash.ts";
import { emptyExecutor } from "./empty.ts";
import { branchFunctionExecutor, functionExecutor } from "./function.ts";
import { pythonExecutors } from "./python.ts";
import type { ExecutorRegistry } from "./types.ts";

export const EXECUTORS: ExecutorRegistry = {
  ...pythonExecutors,
  python: functionExecutor,
  branch_python: branchFunctionExecutor,
  bash: bashExecutor,
  empty: emptyExecutor,
};

export type { ExecutionContext, ExecutorRegistry, TaskExecutor } from "./types.ts";
