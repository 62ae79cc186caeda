import type { TaskError } from "../dag/model.ts";
import type { LogLine } from "../runtime/types.ts";
import type { RunState, RunType, TaskState } from "../store/schema.ts";

/** What a worker reports as it goes, after the change it reports is committed. */
export type EngineEvent =
  | { type: "run"; dagId: string; runId: string; state: RunState; at: string }
  | TaskEvent
  | { type: "mapped"; dagId: string; runId: string; taskId: string; count: number; at: string }
  | { type: "log"; dagId: string; runId: string; taskId: string; mapIndex?: number; tryNumber: number; line: LogLine };

/** A task instance's new state; `mapIndex` only for the instances of a mapped task. */
export interface TaskEvent {
  type: "task";
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex?: number;
  state: TaskState;
  tryNumber: number;
  at: string;
  error?: TaskError;
}

export interface TaskSummary {
  taskId: string;
  /** The instance's map index: -1 unless the task is mapped. */
  mapIndex: number;
  state: TaskState;
  /** The last try (0 if it never ran). */
  tryNumber: number;
  maxTries: number;
  startedAt: Date | null;
  endedAt: Date | null;
  durationMs: number | null;
  /** The stored "return_value" XCom; undefined when the task stored none. */
  returnValue: unknown;
  error: TaskError | null;
  logPath: string | null;
}

export interface RunSummary {
  dagId: string;
  runId: string;
  state: RunState;
  runType: RunType;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  conf: Record<string, unknown>;
  startedAt: Date | null;
  endedAt: Date | null;
  durationMs: number | null;
  /** In the DAG's topological order when the DAG is known, else by task id. */
  tasks: TaskSummary[];
}
