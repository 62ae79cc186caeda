import type { DagDefinition, TaskExecutionContext, TaskKind, TaskOf, TaskOutcome } from "../../dag/model.ts";
import type { TryLog } from "../try-log.ts";

/** What an executor gets for one try: the engine's context plus the DAG, the task's name and its log. */
export interface ExecutionContext extends TaskExecutionContext {
  dag: DagDefinition;
  /** `DAG "id" (file), task "id"`, the prefix of the try's error messages. */
  where: string;
  /** The try's log (opened on first use; executors that hand `logPath` to a process need not touch it). */
  readonly log: TryLog;
}

/**
 * Runs one try of one kind of task. It may throw: the engine turns what it throws into the try's error
 * (a thrown TaskSkipped skips the try). Adding a kind of task is adding one of these to the registry.
 */
export interface TaskExecutor<in K extends TaskKind = TaskKind> {
  /**
   * True when the executor itself stops its work on `ctx.signal` (it kills its process and returns); false for
   * work that cannot be stopped (an in-process function), whose try the engine then abandons at once.
   */
  readonly stopsOnAbort: boolean;
  execute(task: TaskOf<K>, ctx: ExecutionContext): Promise<TaskOutcome>;
  /** Gets ready for the task's tries before the first one (a worker calls it for the DAGs it serves); never throws. */
  prewarm?(task: TaskOf<K>, ctx: PrewarmContext): Promise<void>;
}

export interface PrewarmContext {
  dag: DagDefinition;
  home: string;
  signal: AbortSignal;
  /** False when a task of this pass already prewarmed what `key` names (tasks often share one environment and callable). */
  first(key: string): boolean;
}

export type ExecutorRegistry = { readonly [K in TaskKind]: TaskExecutor<K> };
