import { VenvflowError } from "./errors.ts";

/** A duration: a number of seconds (as Airflow's `timedelta(seconds=…)`), or a string such as "500ms", "30s", "5m", "1h", "1d". */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationToMs(value: Duration, what = "duration"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new VenvflowError("invalid_duration", `${what} must be a non-negative number of seconds, got ${value}`, {
        fix: 'use seconds (e.g. 30) or a string such as "500ms", "30s", "5m", "1h"',
      });
    }
    return Math.round(value * 1000);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (!match) {
    throw new VenvflowError("invalid_duration", `${what} "${value}" is not a duration`, {
      fix: 'use seconds (e.g. 30) or a string such as "500ms", "30s", "5m", "1h", "1d"',
    });
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as string]!);
}
