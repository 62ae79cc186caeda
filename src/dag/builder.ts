import path from "node:path";
import { fileURLToPath } from "node:url";
import { Cron } from "croner";
import type { Duration } from "../util/duration.ts";
import { durationToMs } from "../util/duration.ts";
import { VenvflowError } from "../util/errors.ts";
import { isDotSegment } from "../util/home.ts";
import type { DagDefinition, TaskDefinition, XComRef } from "./model.ts";
import type { BaseOperator } from "./operator.ts";
import { DEFAULT_ARG_KEYS, dagOptionsSchema, parseOptions } from "./options.ts";
import { authoring } from "./state.ts";
import { isXComRef } from "./xcom.ts";

export const SCHEDULE_PRESETS = ["@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly"] as const;

/** A cron expression or preset (UTC), a cron expression with its time zone, or null for manual runs only. */
export type Schedule = string | { cron: string; timezone?: string } | null;

export interface DagOptions {
  /** Default null: runs only when triggered. */
  schedule?: Schedule;
  /** A Date, or an ISO-8601 string (a date alone means midnight UTC). */
  startDate?: Date | string | null;
  endDate?: Date | string | null;
  /** Default false, as Airflow 3. */
  catchup?: boolean;
  /** Default 16. */
  maxActiveRuns?: number;
  /** Default 16. */
  maxActiveTasks?: number;
  /** The most items a task may be mapped over (`expand`); default 1024, as Airflow's max_map_length. */
  maxMapLength?: number;
  /** Defaults for the options of every task in this DAG (a task's own options win). */
  defaultArgs?: Record<string, unknown>;
  /** Parameter defaults; a run's conf may override them. */
  params?: Record<string, unknown>;
  tags?: string[];
  description?: string;
  dagrunTimeout?: Duration | null;
}

/** What a `dag()` callback receives. */
export interface DagContext {
  readonly dagId: string;
  /** Absolute path of the file that defines the DAG. */
  readonly fileloc: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** A task already defined in this DAG. */
  getTask(taskId: string): BaseOperator;
}

// Airflow's KEY_REGEX, without "." and "..", which as a log directory name would lead out of VENVFLOW_HOME/logs.
const DAG_ID = /^(?!\.{1,2}$)[\w.-]{1,250}$/;

function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

/** The file that called `dag()` when no loader is collecting: the first stack frame outside this folder. */
function callerFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const line of (new Error().stack ?? "").split("\n").slice(1)) {
    const match = /((?:file:\/\/)?\/[^():]+?)(?:\?[^():]*)?:\d+:\d+\)?$/.exec(line.trim());
    if (!match) continue;
    const file = match[1]!.startsWith("file://") ? fileURLToPath(match[1]!) : match[1]!;
    if (path.dirname(file) !== here) return file;
  }
  return path.resolve(process.argv[1] ?? ".");
}

function parseDate(value: Date | string | null | undefined, name: string, where: string): Date | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new VenvflowError("invalid_dag_options", `${where}: ${name} "${String(value)}" is not a date`, {
      fix: 'use a Date or an ISO-8601 string such as "2026-01-01" or "2026-01-01T06:00:00+01:00"',
    });
  }
  return date;
}

function parseSchedule(input: Schedule | undefined, where: string): { schedule: string | null; timezone: string } {
  if (input === null || input === undefined) return { schedule: null, timezone: "UTC" };
  const expr = (typeof input === "string" ? input : input.cron).trim();
  const timezone = typeof input === "string" ? "UTC" : (input.timezone ?? "UTC");
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new VenvflowError("invalid_schedule", `${where}: unknown time zone "${timezone}"`, {
      fix: 'use an IANA time zone name such as "UTC", "Europe/Paris" or "America/New_York"',
    });
  }
  if (expr === "@once") return { schedule: expr, timezone };
  if (expr.startsWith("@") && !(SCHEDULE_PRESETS as readonly string[]).includes(expr)) {
    throw new VenvflowError("invalid_schedule", `${where}: unknown schedule preset "${expr}"`, {
      fix: `use one of ${SCHEDULE_PRESETS.join(", ")}, a cron expression, or null`,
    });
  }
  let cron: Cron;
  try {
    cron = new Cron(expr, { timezone, paused: true });
  } catch (error) {
    throw new VenvflowError("invalid_schedule", `${where}: schedule "${expr}" is not a valid cron expression (${(error as Error).message})`, {
      fix: 'use five fields "minute hour day-of-month month day-of-week" (e.g. "0 6 * * *") or a preset such as "@daily"',
    });
  }
  if (cron.nextRun() === null) {
    throw new VenvflowError("invalid_schedule", `${where}: schedule "${expr}" never fires`, { fix: "check the day-of-month and month fields" });
  }
  return { schedule: expr, timezone };
}

/** `DAG "id" (file), task "id"`: how errors name a task, at authoring and at run time alike. */
export function taskWhere(dag: { dagId: string; fileloc: string }, taskId?: string): string {
  return `DAG "${dag.dagId}" (${displayPath(dag.fileloc)})${taskId === undefined ? "" : `, task "${taskId}"`}`;
}

/** Collects one DAG's tasks and edges while its callback runs, then validates it into a DagDefinition. */
export class DagBuilder implements DagContext {
  readonly dagId: string;
  readonly fileloc: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly maxMapLength: number;
  readonly #definition: Omit<DagDefinition, "tasks">;
  readonly #defaultArgs: Readonly<Record<string, unknown>>;
  readonly #tasks = new Map<string, BaseOperator>();
  readonly #pendingRefs: { task: BaseOperator; ref: XComRef }[] = [];
  #built = false;

  constructor(dagId: string, options: DagOptions, fileloc: string) {
    this.dagId = dagId;
    this.fileloc = fileloc;
    const where = this.where();
    if (!DAG_ID.test(dagId) || isDotSegment(dagId)) {
      throw new VenvflowError("invalid_dag_id", `${where}: DAG id "${dagId}" is not valid`, {
        fix: 'use 1 to 250 letters, digits, dashes, dots and underscores (not "." or "..")',
      });
    }
    const opts = parseOptions(dagOptionsSchema, options, where, "invalid_dag_options");
    const unknownDefaults = Object.keys(opts.defaultArgs ?? {}).filter((key) => !DEFAULT_ARG_KEYS.includes(key));
    if (unknownDefaults.length > 0) {
      throw new VenvflowError("invalid_dag_options", `${where}: defaultArgs has unknown task option${unknownDefaults.length > 1 ? "s" : ""} ${unknownDefaults.map((k) => `"${k}"`).join(", ")}`, {
        fix: `allowed task options are: ${DEFAULT_ARG_KEYS.join(", ")}`,
      });
    }
    const startDate = parseDate(opts.startDate, "startDate", where);
    const endDate = parseDate(opts.endDate, "endDate", where);
    if (startDate && endDate && endDate < startDate) {
      throw new VenvflowError("invalid_dag_options", `${where}: endDate ${endDate.toISOString()} is before startDate ${startDate.toISOString()}`, {
        fix: "move endDate after startDate, or drop it",
      });
    }
    let dagrunTimeoutMs: number | null = null;
    if (opts.dagrunTimeout !== null && opts.dagrunTimeout !== undefined) {
      try {
        dagrunTimeoutMs = durationToMs(opts.dagrunTimeout, "dagrunTimeout");
      } catch (error) {
        if (error instanceof VenvflowError) throw new VenvflowError(error.code, `${where}: ${error.message}`, { fix: error.fix });
        throw error;
      }
    }
    this.params = { ...opts.params };
    this.maxMapLength = opts.maxMapLength ?? 1024;
    this.#defaultArgs = { ...opts.defaultArgs };
    this.#definition = {
      dagId,
      fileloc,
      ...(opts.description === undefined ? {} : { description: opts.description }),
      ...parseSchedule(opts.schedule, where),
      startDate,
      endDate,
      catchup: opts.catchup ?? false,
      maxActiveRuns: opts.maxActiveRuns ?? 16,
      maxActiveTasks: opts.maxActiveTasks ?? 16,
      params: this.params,
      tags: opts.tags ?? [],
      dagrunTimeoutMs,
    };
  }

  /** `DAG "id" (file), task "id"`: the prefix of every authoring error. */
  where(taskId?: string): string {
    return taskWhere(this, taskId);
  }

  getTask(taskId: string): BaseOperator {
    const task = this.#tasks.get(taskId);
    if (!task) {
      throw new VenvflowError("unknown_task", `${this.where()}: no task "${taskId}"`, {
        fix: `tasks so far: ${[...this.#tasks.keys()].join(", ") || "none"}`,
      });
    }
    return task;
  }

  /** The `defaultArgs` entries that a task with these option keys accepts. */
  defaultArgsFor(keys: readonly string[]): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.#defaultArgs).filter(([key]) => keys.includes(key)));
  }

  /** Airflow's `get_unique_task_id`: TaskFlow repeats become `id__1`, `id__2`, … */
  uniqueTaskId(taskId: string): string {
    if (!this.#tasks.has(taskId)) return taskId;
    const core = taskId.replace(/__\d+$/, "");
    const pattern = new RegExp(`^${core.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}__(\\d+)$`);
    const suffixes = [...this.#tasks.keys()].map((id) => pattern.exec(id)).filter((m) => m !== null).map((m) => Number(m[1]));
    return `${core}__${suffixes.length === 0 ? 1 : Math.max(...suffixes) + 1}`;
  }

  addTask(task: BaseOperator): void {
    this.#assertOpen(task.taskId);
    if (this.#tasks.has(task.taskId)) {
      throw new VenvflowError("duplicate_task_id", `${this.where(task.taskId)}: task id "${task.taskId}" is already used in this DAG`, {
        fix: "give each task a unique taskId",
      });
    }
    this.#tasks.set(task.taskId, task);
  }

  addEdge(upstream: BaseOperator, downstream: BaseOperator, what: string): void {
    if (upstream.dag !== this || downstream.dag !== this) {
      const [inner, outer] = upstream.dag === this ? [upstream, downstream] : [downstream, upstream];
      throw new VenvflowError("dangling_reference", `${inner.where()}: ${what} task "${outer.taskId}" of ${outer.dag.where()}`, {
        fix: "tasks can only depend on tasks of the same DAG",
      });
    }
    this.#assertOpen(downstream.taskId);
    upstream.downstreamTaskIds.add(downstream.taskId);
    downstream.upstreamTaskIds.add(upstream.taskId);
  }

  /** A plain `{ kind: "xcom_ref" }` object: its task may be defined later in the callback, so it is checked at the end. */
  addPendingRef(task: BaseOperator, ref: XComRef): void {
    this.#pendingRefs.push({ task, ref });
  }

  #assertOpen(taskId: string): void {
    if (this.#built) {
      throw new VenvflowError("dag_already_built", `${this.where(taskId)}: the DAG is already built`, {
        fix: "create tasks and dependencies inside the dag() callback",
      });
    }
  }

  build(): DagDefinition {
    for (const { task, ref } of this.#pendingRefs) {
      const upstream = this.#tasks.get(ref.taskId);
      if (!upstream) {
        throw new VenvflowError("dangling_reference", `${task.where()}: references task "${ref.taskId}", which is not in this DAG`, {
          fix: `reference one of: ${[...this.#tasks.keys()].join(", ")}`,
        });
      }
      if (upstream === task) {
        throw new VenvflowError("dag_cycle", `${task.where()}: references its own result`, { fix: "reference an upstream task" });
      }
      this.addEdge(upstream, task, `task "${task.taskId}" uses the result of`);
    }
    const order = this.#topologicalOrder();
    this.#built = true;
    const tasks = new Map<string, TaskDefinition>();
    for (const task of order) {
      tasks.set(task.taskId, {
        taskId: task.taskId,
        kind: task.kind,
        upstreamTaskIds: [...task.upstreamTaskIds],
        downstreamTaskIds: [...task.downstreamTaskIds],
        triggerRule: task.triggerRule,
        retries: task.retries,
        retryDelayMs: task.retryDelayMs,
        retryExponentialBackoff: task.retryExponentialBackoff,
        maxRetryDelayMs: task.maxRetryDelayMs,
        executionTimeoutMs: task.executionTimeoutMs,
        ...(task.doc === undefined ? {} : { doc: task.doc }),
        multipleOutputs: task.multipleOutputs,
        xcomRefs: task.xcomRefs.map((ref) => ({ kind: "xcom_ref", taskId: ref.taskId, key: ref.key })),
        ...(task.environmentSpec ? { environment: task.environmentSpec } : {}),
        ...(task.pythonSpec ? { python: task.pythonSpec } : {}),
        ...(task.mapping ? { mapping: { axes: task.mapping.axes.map((a) => ({ source: isXComRef(a.source) ? { kind: "xcom_ref", taskId: a.source.taskId, key: a.source.key } : a.source, target: a.target })), maxMapLength: this.maxMapLength } } : {}),
        options: task.options,
      } as TaskDefinition);
    }
    return { ...this.#definition, tasks };
  }

  /** Kahn's algorithm in definition order; on a cycle, a depth-first search names its path. */
  #topologicalOrder(): BaseOperator[] {
    const indegree = new Map([...this.#tasks.values()].map((task) => [task.taskId, task.upstreamTaskIds.size]));
    const ready = [...this.#tasks.values()].filter((task) => task.upstreamTaskIds.size === 0);
    const order: BaseOperator[] = [];
    while (ready.length > 0) {
      const task = ready.shift()!;
      order.push(task);
      for (const id of task.downstreamTaskIds) {
        const left = indegree.get(id)! - 1;
        indegree.set(id, left);
        if (left === 0) ready.push(this.#tasks.get(id)!);
      }
    }
    if (order.length === this.#tasks.size) return order;
    const cycle = this.#findCycle();
    throw new VenvflowError("dag_cycle", `${this.where()}: cycle ${cycle.join(" → ")}`, {
      fix: `remove one of the dependencies on that path (task "${cycle[0]}")`,
      details: { cycle },
    });
  }

  #findCycle(): string[] {
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (id: string): string[] | null => {
      state.set(id, "visiting");
      stack.push(id);
      for (const next of this.#tasks.get(id)!.downstreamTaskIds) {
        if (state.get(next) === "visiting") return [...stack.slice(stack.indexOf(next)), next];
        if (!state.has(next)) {
          const found = visit(next);
          if (found) return found;
        }
      }
      stack.pop();
      state.set(id, "done");
      return null;
    };
    for (const id of this.#tasks.keys()) {
      const found = state.has(id) ? null : visit(id);
      if (found) return found;
    }
    return [];
  }
}

/**
 * Defines a DAG: every operator and TaskFlow call made inside `define` belongs to it. Returns the validated
 * definition; when a DAG file is being loaded, the DAG is also registered against that file.
 */
export function dag(dagId: string, define: (d: DagContext) => void): DagDefinition;
export function dag(dagId: string, options: DagOptions, define: (d: DagContext) => void): DagDefinition;
export function dag(dagId: string, optionsOrDefine: DagOptions | ((d: DagContext) => void), maybeDefine?: (d: DagContext) => void): DagDefinition {
  const [options, define] = typeof optionsOrDefine === "function" ? [{}, optionsOrDefine] : [optionsOrDefine, maybeDefine];
  const builder = new DagBuilder(dagId, options, authoring.collector?.file ?? callerFile());
  if (typeof define !== "function") {
    throw new VenvflowError("invalid_dag_options", `${builder.where()}: dag() needs a callback that defines the tasks`, {
      fix: 'call dag("id", { …options }, (d) => { …tasks })',
    });
  }
  authoring.scopes.push(builder);
  let returned: unknown;
  try {
    returned = define(builder);
  } finally {
    authoring.scopes.pop();
  }
  if (returned instanceof Promise) {
    throw new VenvflowError("invalid_dag_options", `${builder.where()}: the dag() callback returned a promise`, {
      fix: "define tasks synchronously; tasks created after an await would not belong to the DAG",
    });
  }
  const definition = builder.build();
  authoring.collector?.dags.push(definition);
  return definition;
}
