export { runDag, runTask, triggerRun, type RunDagOptions, type RunTaskOptions, type TaskTestResult, type TriggerOptions } from "./run-dag.ts";
export { Worker, type WorkerOptions } from "./worker.ts";
export { evaluateTriggerRule, countUpstream, type TriggerDecision, type UpstreamCounts } from "./trigger-rules.ts";
export { retryDelayMs } from "./retry.ts";
export { manualRunDates, nextScheduledInterval, type Interval, type RunDates } from "./dates.ts";
export { resolveParams, branchSkips } from "./execute.ts";
export { taskLogPath } from "../runtime/logs.ts";
export { findRun, findTaskLog, getRun, latestRun, listRuns, summarizeRun, taskInstances, taskTries, type TaskLogLocation } from "./queries.ts";
export type { EngineEvent, RunSummary, TaskSummary } from "./types.ts";
