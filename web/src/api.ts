/** The UI's view of the server's JSON API (see /api/openapi.json), and small hooks to poll it. */
import { useCallback, useEffect, useRef, useState } from "react";

export type TaskState = "none" | "scheduled" | "queued" | "running" | "success" | "failed" | "skipped" | "upstream_failed" | "up_for_retry";
export type RunState = "queued" | "running" | "success" | "failed";

export interface ApiErrorBody {
  code: string;
  message: string;
  fix?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

export interface TaskError {
  type: string;
  message: string;
  traceback?: string;
  code?: string;
  fix?: string;
}

export interface DagSummary {
  dagId: string;
  description: string | null;
  fileloc: string;
  schedule: string | null;
  tags: string[];
  taskCount: number;
  paused: boolean;
  nextRunAt: string | null;
  recentRuns: { runId: string; state: RunState; logicalDate: string }[];
  loadError: { code: string; message: string; at: string } | null;
}

export interface SerializedTask {
  taskId: string;
  kind: string;
  upstreamTaskIds: string[];
  downstreamTaskIds: string[];
  triggerRule: string;
  retries: number;
  callable: string | null;
  doc: string | null;
  environment: { pythonVersion: string | null; requirements: string[] | string | null; systemSitePackages: boolean; python: string | null } | null;
}

export interface DagDetail {
  dagId: string;
  fileloc: string;
  description: string | null;
  schedule: string | null;
  timezone: string;
  params: Record<string, unknown>;
  tags: string[];
  tasks: SerializedTask[];
  paused: boolean;
  nextRunAt: string | null;
  parsedAt: string;
  loadError: { code: string; message: string } | null;
}

export interface Run {
  dagId: string;
  runId: string;
  state: RunState;
  runType: string;
  logicalDate: string;
  conf: Record<string, unknown>;
  queuedAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export interface TryEnvironment {
  envKeyPrefix: string | null;
  cacheHit: boolean | null;
  envStartedAt: string | null;
  executionStartedAt: string | null;
}

export interface TaskInstance {
  taskId: string;
  /** -1 for an unmapped task, else the instance's index in its task's expansion. */
  mapIndex: number;
  state: TaskState;
  tryNumber: number;
  maxTries: number;
  queuedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  error: TaskError | null;
  environment: TryEnvironment;
}

export interface RunDetail extends Run {
  /** A mapped task has one entry per map index. */
  taskInstances: TaskInstance[];
  /** Each mapped task's group state (failures first, as Airflow), highest try and counts by state. */
  mapped: Record<string, MappedSummary & { state: TaskState; tryNumber: number }>;
}

/** A mapped task's instances by state. */
export interface MappedSummary {
  count: number;
  states: Partial<Record<TaskState, number>>;
}

export interface Grid {
  dagId: string;
  tasks: { taskId: string; kind: string; mapped: boolean }[];
  /** A mapped task's cell has the group's state, the highest try and `mapped`. */
  runs: (Run & { taskInstances: Record<string, { state: TaskState; tryNumber: number; mapped?: MappedSummary }> })[];
}

/** The UI path of a task instance (`mapIndex` ≥ 0 for one instance of a mapped task). */
export const taskPath = (dagId: string, runId: string, taskId: string, mapIndex = -1): string =>
  `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}${mapIndex >= 0 ? `/${mapIndex}` : ""}`;

/** The API path of a task instance, with `?mapIndex=N` for one instance of a mapped task. */
export const taskApiPath = (dagId: string, runId: string, taskId: string, mapIndex: number): string =>
  `/api/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}${mapIndex >= 0 ? `?mapIndex=${mapIndex}` : ""}`;

export interface TaskDetail extends TaskInstance {
  dagId: string;
  runId: string;
  task: SerializedTask | null;
  hasReturnValue: boolean;
  returnValue: unknown;
  xcoms: { key: string; value: unknown }[];
  tries: { tryNumber: number; state: TaskState; startedAt: string | null; endedAt: string | null; durationMs: number | null; error: TaskError | null }[];
}

export interface LogLine {
  ts: string;
  stream: "stdout" | "stderr" | "log" | "system";
  level?: string;
  msg: string;
}

export interface EnvironmentSummary {
  key: string;
  python: string;
  implementation: string;
  installer: { name: string; version: string };
  packages: string[];
  packageCount: number;
  sizeBytes: number;
  createdAt: string;
  lastUsedAt: string;
  usedBy: string[];
}

export interface EnvironmentDetail {
  key: string;
  path: string;
  python: string;
  installer: { name: string; version: string };
  systemSitePackages: boolean;
  lock: { name: string; version: string; source: string; requested: boolean }[];
  sizeBytes: number;
  createdAt: string;
  lastUsedAt: string;
  uses: { dagId: string; runId: string; taskId: string; tryNumber: number; at: string | null; cacheHit: boolean | null }[];
  buildLog: string;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers: init.body === undefined ? {} : { "content-type": "application/json" },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    credentials: "same-origin",
  });
  const body = (await res.json().catch(() => ({ error: { code: "bad_response", message: `${res.status} ${res.statusText}` } }))) as unknown;
  if (!res.ok) throw new ApiError(res.status, (body as { error: ApiErrorBody }).error);
  return body as T;
}

export const enc = encodeURIComponent;

/** Fetches `path` now and every `intervalMs` while the page is open; `reload()` fetches at once. */
export function usePoll<T>(path: string | null, intervalMs = 1500): { data: T | undefined; error: ApiError | null; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  const current = useRef(path);
  current.current = path;
  useEffect(() => {
    setData(undefined);
    setError(null);
  }, [path]);
  useEffect(() => {
    if (path === null) return;
    let stopped = false;
    const load = (): void => {
      api<T>(path)
        .then((value) => {
          if (!stopped && current.current === path) {
            setData(value);
            setError(null);
          }
        })
        .catch((e: unknown) => {
          if (!stopped) setError(e instanceof ApiError ? e : new ApiError(0, { code: "network", message: String(e) }));
        });
    };
    load();
    const timer = intervalMs > 0 ? setInterval(load, intervalMs) : null;
    return () => {
      stopped = true;
      if (timer) clearInterval(timer);
    };
  }, [path, intervalMs, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

/** Calls `onChange` whenever the server's workers change a run or task state matching the filter (pushed over SSE). */
export function useEngineEvents(filter: { dagId: string; runId?: string }, onChange: () => void): void {
  const callback = useRef(onChange);
  callback.current = onChange;
  const query = `dagId=${enc(filter.dagId)}${filter.runId ? `&runId=${enc(filter.runId)}` : ""}`;
  useEffect(() => {
    const source = new EventSource(`/api/events?${query}`);
    const on = (): void => callback.current();
    source.addEventListener("run", on);
    source.addEventListener("task", on);
    return () => source.close();
  }, [query]);
}
