import { Cron } from "croner";
import { VenvflowError } from "../util/errors.ts";
import type { DagDefinition } from "../dag/model.ts";

export interface RunDates {
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
}

/** Presets with no cron equivalent: a manual run's interval is then the logical date itself. */
const NO_INTERVAL = new Set(["@once", "@continuous"]);

/**
 * A manual run's dates, as Airflow's `infer_manual_data_interval` for cron timetables: the interval is the last
 * complete schedule interval ending at or before the logical date (daily at 10:00 → yesterday 00:00 to today
 * 00:00). Without a schedule the interval is empty, at the logical date.
 */
export function manualRunDates(dag: Pick<DagDefinition, "dagId" | "schedule" | "timezone">, logicalDate: Date = new Date()): RunDates {
  if (Number.isNaN(logicalDate.getTime())) {
    throw new VenvflowError("invalid_logical_date", `the logical date for DAG "${dag.dagId}" is not a valid date`, {
      fix: "pass an ISO-8601 date such as 2026-01-31T00:00:00Z",
    });
  }
  const cron = cronOf(dag);
  if (!cron) return { logicalDate, dataIntervalStart: logicalDate, dataIntervalEnd: logicalDate };
  // previousRuns is strictly before its reference; +1 ms includes a fire time equal to the logical date.
  const [end, start] = cron.previousRuns(2, new Date(logicalDate.getTime() + 1));
  if (!end || !start) return { logicalDate, dataIntervalStart: logicalDate, dataIntervalEnd: logicalDate };
  return { logicalDate, dataIntervalStart: start, dataIntervalEnd: end };
}

export interface Interval {
  start: Date;
  end: Date;
}

function cronOf(dag: Pick<DagDefinition, "dagId" | "schedule" | "timezone">): Cron | null {
  if (dag.schedule === null || NO_INTERVAL.has(dag.schedule)) return null;
  try {
    return new Cron(dag.schedule, { timezone: dag.timezone, paused: true });
  } catch (error) {
    throw new VenvflowError("invalid_schedule", `DAG "${dag.dagId}" has an invalid schedule "${dag.schedule}": ${(error as Error).message}`, {
      fix: 'use a cron expression ("0 6 * * *") or a preset ("@daily", "@hourly")',
    });
  }
}

/**
 * The next scheduled run's data interval, if it is due at `now` (its interval has ended), following Airflow's
 * cron data-interval timetable: the interval after the last scheduled one, or the first one at or after
 * startDate; with catchup off, never older than the latest complete interval; none starting after endDate.
 * Only cron schedules (and their presets) create scheduled runs; `@once`, `@continuous` and null do not.
 */
export function nextScheduledInterval(
  dag: Pick<DagDefinition, "dagId" | "schedule" | "timezone" | "startDate" | "endDate" | "catchup">,
  lastIntervalEnd: Date | null,
  now: Date,
): Interval | null {
  const cron = cronOf(dag);
  if (!cron) return null;
  let start: Date | null = lastIntervalEnd ?? (dag.startDate ? cron.nextRun(new Date(dag.startDate.getTime() - 1)) : null);
  if (!dag.catchup || start === null) {
    // previousRuns is strictly before its reference: +1 ms counts a fire time equal to now.
    const [, latestStart] = cron.previousRuns(2, new Date(now.getTime() + 1));
    if (latestStart && (start === null || start < latestStart)) start = latestStart;
  }
  if (!start) return null;
  const end = cron.nextRun(start);
  if (!end || end > now) return null;
  if (dag.endDate && start > dag.endDate) return null;
  return { start, end };
}

/**
 * The schedule's intervals whose start (the run's logical date) falls in [from, to], oldest first, at most
 * `limit` of them (a caller passes its cap + 1 to tell "too many" from "exactly the cap"). Null when the DAG has
 * no cron schedule, so no intervals to fill.
 */
export function scheduleIntervalsBetween(dag: Pick<DagDefinition, "dagId" | "schedule" | "timezone">, from: Date, to: Date, limit: number): Interval[] | null {
  const cron = cronOf(dag);
  if (!cron) return null;
  const intervals: Interval[] = [];
  // nextRun is strictly after its reference: -1 ms includes a fire time equal to `from`.
  let start = cron.nextRun(new Date(from.getTime() - 1));
  while (start && start <= to && intervals.length < limit) {
    const end = cron.nextRun(start);
    if (!end) break;
    intervals.push({ start, end });
    start = end;
  }
  return intervals;
}
