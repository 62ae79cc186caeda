/**
 * Dynamic task mapping at run time (Airflow's semantics): how many instances a mapped task gets once it may
 * run, what each instance's options are, and the checks on a list an upstream task returns for mapping.
 */
import type { Kysely } from "kysely";
import type { DagDefinition, MapAxis, TaskDefinition, TaskError, XComRef } from "../dag/model.ts";
import { isXComRef } from "../dag/xcom.ts";
import type { Database } from "../store/schema.ts";
import { VenvflowError } from "../util/errors.ts";
import { loadXComs, xcomKey } from "./queries.ts";

/**
 * The lists a mapped task is mapped over, literal or loaded from the run (`db` is needed only for those); an
 * upstream that stored nothing maps as empty.
 */
export async function mapLists(db: Kysely<Database> | undefined, dag: DagDefinition, runId: string, task: TaskDefinition, cache?: XComCache): Promise<unknown[][]> {
  const axes = task.mapping?.axes ?? [];
  const refs = axes.map((a) => a.source).filter(isXComRef);
  if (refs.length > 0 && !db) throw new VenvflowError("xcom_missing", `task "${task.taskId}" is mapped over upstream results, but there is no store to load them from`, { fix: "pass the store" });
  const values = refs.length === 0 || !db ? new Map<string, unknown>() : await (cache ? cache.load(db, dag, runId, refs) : loadXComs(db, dag, runId, refs));
  return axes.map((axis) => {
    const value = isXComRef(axis.source) ? (values.get(xcomKey(axis.source)) ?? []) : axis.source;
    return Array.isArray(value) ? value : [value];
  });
}

/** How many instances the mapped task gets (the product of its lists' lengths), or why it cannot be mapped. */
export async function expandMappedTask(db: Kysely<Database>, dag: DagDefinition, runId: string, task: TaskDefinition): Promise<{ length: number } | { error: TaskError }> {
  const lists = await mapLists(db, dag, runId, task);
  const limit = task.mapping!.maxMapLength;
  const tooLong = lists.find((l) => l.length > limit);
  if (tooLong) return { error: lengthError(dag, task.taskId, tooLong.length, limit) };
  return { length: lists.reduce((n, l) => n * l.length, 1) };
}

function lengthError(dag: DagDefinition, taskId: string, length: number, limit: number): TaskError {
  return {
    type: "UnmappableXComLengthPushed",
    code: "map_length_exceeded",
    message: `DAG "${dag.dagId}", task "${taskId}": cannot map over ${length} items: more than maxMapLength (${limit})`,
    fix: `raise maxMapLength in the DAG's options (dag("${dag.dagId}", { maxMapLength: ${length} }, …)), or map over fewer items`,
  };
}

/**
 * Airflow checks what a task returns for the tasks mapped over it, and fails that task (not the mapped one)
 * when it is not a list or is longer than maxMapLength. Returns the error, if any.
 */
export function checkMapSource(dag: DagDefinition, task: TaskDefinition, key: string, value: unknown): TaskError | null {
  if (task.mapping) return null;
  for (const id of task.downstreamTaskIds) {
    const mapped = dag.tasks.get(id)?.mapping;
    const axis = mapped?.axes.find((a) => isXComRef(a.source) && a.source.taskId === task.taskId && a.source.key === key);
    if (!mapped || !axis) continue;
    if (!Array.isArray(value)) {
      const got = value === null || value === undefined ? "None" : typeof value === "object" ? "dict" : typeof value;
      return {
        type: "UnmappableXComTypePushed",
        code: "map_source_not_list",
        message: `DAG "${dag.dagId}", task "${task.taskId}": returned ${got}, but task "${id}" is mapped over its result, which must be a list`,
        fix: "return a list (an empty list maps to no task instance, and skips the mapped task)",
      };
    }
    if (value.length > mapped.maxMapLength) return lengthError(dag, id, value.length, mapped.maxMapLength);
  }
  return null;
}

/** The options of one mapped task instance: the lists' items at `mapIndex` put where the mapping says. */
export function mappedTask(task: TaskDefinition, mapIndex: number, lists: readonly unknown[][]): TaskDefinition {
  const axes = task.mapping?.axes ?? [];
  const items: unknown[] = [];
  let rest = mapIndex;
  for (let i = lists.length - 1; i >= 0; i--) {
    const list = lists[i]!;
    if (list.length === 0) throw new VenvflowError("map_index_out_of_range", `task "${task.taskId}" has no map index ${mapIndex}: list ${i + 1} is empty`);
    items[i] = list[rest % list.length];
    rest = Math.floor(rest / list.length);
  }
  if (rest > 0) throw new VenvflowError("map_index_out_of_range", `task "${task.taskId}" has no map index ${mapIndex}`, { fix: "the lists it is mapped over changed after it was expanded" });
  const options: Record<string, unknown> = { ...task.options };
  axes.forEach((axis, i) => place(task, options, axis, items[i]));
  return { ...task, options } as TaskDefinition;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isXComRef(value);
}

function place(task: TaskDefinition, options: Record<string, unknown>, axis: MapAxis, item: unknown): void {
  const target = axis.target;
  if ("field" in target) {
    options[target.field] = item;
  } else if ("arg" in target) {
    const args = [...((options.opArgs as unknown[] | undefined) ?? [])];
    args[target.arg] = item;
    options.opArgs = args;
  } else if (target.kwargs === "options") {
    if (!isPlainObject(item)) throw itemError(task, item, "an object of the operator's options");
    Object.assign(options, item);
  } else if (Array.isArray(item)) {
    options.opArgs = [...((options.opArgs as unknown[] | undefined) ?? []), ...item];
  } else if (isPlainObject(item) && takesKeywords(task)) {
    options.opKwargs = { ...((options.opKwargs as Record<string, unknown> | undefined) ?? {}), ...item };
  } else {
    throw itemError(task, item, takesKeywords(task) ? "a list of arguments or an object of keyword arguments" : "a list of arguments");
  }
}

/** Python callables take keyword arguments; TypeScript functions and Bash commands only positional ones. */
function takesKeywords(task: TaskDefinition): boolean {
  return task.kind !== "python" && task.kind !== "branch_python" && task.kind !== "bash" && task.kind !== "empty";
}

function itemError(task: TaskDefinition, item: unknown, wanted: string): VenvflowError {
  return new VenvflowError("invalid_map_item", `task "${task.taskId}": expandKwargs item ${JSON.stringify(item) ?? String(item)} is not ${wanted}`, {
    fix: `give expandKwargs a list whose items are each ${wanted}`,
  });
}

/**
 * Upstream values a worker's mapped instances share: a 50,000-item list is parsed once per worker, not once per
 * instance (which made mapping over an upstream's result quadratic). A few entries, evicted oldest first.
 */
export class XComCache {
  readonly #entries = new Map<string, unknown>();
  readonly #max: number;

  constructor(max = 8) {
    this.#max = max;
  }

  async load(db: Kysely<Database>, dag: DagDefinition, runId: string, refs: readonly XComRef[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    const missing: XComRef[] = [];
    for (const ref of refs) {
      const key = `${dag.dagId}\u0000${runId}\u0000${xcomKey(ref)}`;
      if (this.#entries.has(key)) out.set(xcomKey(ref), this.#entries.get(key));
      else missing.push(ref);
    }
    if (missing.length === 0) return out;
    for (const [key, value] of await loadXComs(db, dag, runId, missing)) {
      out.set(key, value);
      this.#entries.set(`${dag.dagId}\u0000${runId}\u0000${key}`, value);
      if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    }
    return out;
  }
}
