import { createHash } from "node:crypto";
import type { TaskDefinition } from "../dag/model.ts";

/**
 * Airflow's `next_retry_datetime`: the delay after failed try N is `retryDelay`, or with exponential backoff
 * `base = ceil(retryDelay * 2^(N-1))` plus a deterministic jitter in [0, base) derived from a SHA-1 of the task
 * instance (so concurrent failures of many task instances do not retry in lockstep, and a re-computation
 * gives the same answer), capped by `maxRetryDelay`. Airflow works in whole seconds; this works in ms.
 */
export function retryDelayMs(
  task: Pick<TaskDefinition, "retryDelayMs" | "retryExponentialBackoff" | "maxRetryDelayMs">,
  failedTry: number,
  seed: { dagId: string; taskId: string; logicalDate: string },
): number {
  let delay = task.retryDelayMs;
  if (task.retryExponentialBackoff && delay > 0) {
    const base = Math.ceil(delay * 2 ** (failedTry - 1));
    const digest = createHash("sha1").update(`${seed.dagId}#${seed.taskId}#${seed.logicalDate}#${failedTry + 1}`).digest();
    // 48 bits of the hash keep the modulo exact in a double.
    delay = base + (digest.readUIntBE(0, 6) % base);
  }
  return task.maxRetryDelayMs === null ? delay : Math.min(delay, task.maxRetryDelayMs);
}
