/**
 * A loaded DAG as plain JSON (Airflow's serialized DAG): what the server stores after its DAG processor parsed a
 * file, so the API and UI show graphs, params and environments without importing user code. Index URLs are
 * redacted: credentials never leave the process that loaded the file.
 */
import { redactUrl } from "../util/secrets.ts";
import type { DagDefinition, TaskKind, TaskMapping, TriggerRule } from "./model.ts";

export interface SerializedTask {
  taskId: string;
  kind: TaskKind;
  upstreamTaskIds: string[];
  downstreamTaskIds: string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  executionTimeoutMs: number | null;
  doc: string | null;
  multipleOutputs: boolean;
  /** Mapped tasks: what they are mapped over (literal lists, or upstream results known at run time). */
  mapping: TaskMapping | null;
  /** Python-callable tasks: "file.py:function", or "<inline name>" for source callables. */
  callable: string | null;
  environment: {
    pythonVersion: string | null;
    requirements: string[] | string | null;
    indexUrls: string[] | null;
    systemSitePackages: boolean;
    python: string | null;
  } | null;
}

export interface SerializedDag {
  dagId: string;
  fileloc: string;
  description: string | null;
  schedule: string | null;
  timezone: string;
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  params: Record<string, unknown>;
  tags: string[];
  dagrunTimeoutMs: number | null;
  /** Topological order. */
  tasks: SerializedTask[];
}

export function serializeDag(dag: DagDefinition): SerializedDag {
  return {
    dagId: dag.dagId,
    fileloc: dag.fileloc,
    description: dag.description ?? null,
    schedule: dag.schedule,
    timezone: dag.timezone,
    startDate: dag.startDate?.toISOString() ?? null,
    endDate: dag.endDate?.toISOString() ?? null,
    catchup: dag.catchup,
    maxActiveRuns: dag.maxActiveRuns,
    maxActiveTasks: dag.maxActiveTasks,
    params: structuredClone(dag.params),
    tags: [...dag.tags],
    dagrunTimeoutMs: dag.dagrunTimeoutMs,
    tasks: [...dag.tasks.values()].map((t) => {
      const py = t.python;
      const env = t.environment;
      const indexUrls = env?.indexUrls ?? py?.indexUrls;
      return {
        taskId: t.taskId,
        kind: t.kind,
        upstreamTaskIds: [...t.upstreamTaskIds],
        downstreamTaskIds: [...t.downstreamTaskIds],
        triggerRule: t.triggerRule,
        retries: t.retries,
        retryDelayMs: t.retryDelayMs,
        executionTimeoutMs: t.executionTimeoutMs,
        doc: t.doc ?? null,
        multipleOutputs: t.multipleOutputs,
        mapping: t.mapping ?? null,
        callable: py ? (typeof py.pythonCallable === "string" ? py.pythonCallable : `<inline ${py.pythonCallable.name ?? "callable"}>`) : null,
        environment:
          env || py
            ? {
                pythonVersion: env?.pythonVersion ?? py?.pythonVersion ?? null,
                requirements: redactRequirements(env?.requirements ?? py?.requirements ?? null),
                indexUrls: indexUrls === undefined ? null : (typeof indexUrls === "string" ? [indexUrls] : indexUrls).map(redactUrl),
                systemSitePackages: env?.systemSitePackages ?? py?.systemSitePackages ?? false,
                python: py?.python ?? null,
              }
            : null,
      };
    }),
  };
}

/** Requirement lines may carry URLs with credentials (`pkg @ https://user:token@host/…`). */
function redactRequirements(requirements: string[] | string | null): string[] | string | null {
  if (requirements === null) return null;
  return typeof requirements === "string" ? redactUrl(requirements) : requirements.map(redactUrl);
}
