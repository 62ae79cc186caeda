/**
 * Airflow's TriggerRuleDep for a task instance whose state is still `none`: given the states of its direct
 * upstream tasks, either it may run, it must keep waiting, or it is settled as skipped / upstream_failed
 * (Airflow's `flag_upstream_failed` behaviour, which is what propagates failures and skips down the graph).
 */
import type { TriggerRule } from "../dag/model.ts";
import type { TaskState } from "../store/schema.ts";

export type TriggerDecision = "run" | "wait" | "skipped" | "upstream_failed";

export interface UpstreamCounts {
  total: number;
  success: number;
  failed: number;
  upstreamFailed: number;
  skipped: number;
  /** Upstream tasks in a finished state. */
  done: number;
}

export function countUpstream(states: Iterable<TaskState>): UpstreamCounts {
  const counts: UpstreamCounts = { total: 0, success: 0, failed: 0, upstreamFailed: 0, skipped: 0, done: 0 };
  for (const state of states) {
    counts.total++;
    if (state === "success") counts.success++;
    else if (state === "failed") counts.failed++;
    else if (state === "upstream_failed") counts.upstreamFailed++;
    else if (state === "skipped") counts.skipped++;
    else continue;
    counts.done++;
  }
  return counts;
}

export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): TriggerDecision {
  // Airflow: "The task instance did not have any upstream tasks" passes every rule.
  if (c.total === 0) return "run";
  const allDone = c.done === c.total;
  const failures = c.failed + c.upstreamFailed;
  switch (rule) {
    case "always":
      return "run";
    case "all_success":
      if (failures > 0) return "upstream_failed";
      if (c.skipped > 0) return "skipped";
      return c.success === c.total ? "run" : "wait";
    case "all_failed":
      if (c.success > 0 || c.skipped > 0) return "skipped";
      return failures === c.total ? "run" : "wait";
    case "all_done":
      return allDone ? "run" : "wait";
    case "all_skipped":
      if (c.success > 0 || failures > 0) return "skipped";
      return c.skipped === c.total ? "run" : "wait";
    case "one_success":
      if (c.success > 0) return "run";
      if (!allDone) return "wait";
      return c.skipped === c.total ? "skipped" : "upstream_failed";
    case "one_failed":
      if (failures > 0) return "run";
      return allDone ? "skipped" : "wait";
    case "one_done":
      if (c.success + c.failed > 0) return "run";
      return allDone ? "skipped" : "wait";
    case "none_failed":
      if (failures > 0) return "upstream_failed";
      return allDone ? "run" : "wait";
    case "none_failed_min_one_success":
      if (failures > 0) return "upstream_failed";
      if (!allDone) return "wait";
      return c.success > 0 ? "run" : "skipped";
    case "none_skipped":
      if (c.skipped > 0) return "skipped";
      return allDone ? "run" : "wait";
  }
}
