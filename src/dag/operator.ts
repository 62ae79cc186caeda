import type { EnvSpecInput } from "../env/types.ts";
import type { Duration } from "../util/duration.ts";
import { durationToMs } from "../util/duration.ts";
import { VenvflowError } from "../util/errors.ts";
import { isDotSegment } from "../util/home.ts";
import type { DagBuilder } from "./builder.ts";
import type { MapAxis, PythonTaskSpec, TaskKind, TaskOptionsByKind, TriggerRule, XComRef } from "./model.ts";
import { COMMON_TASK_KEYS, parseOptions, taskSchemas } from "./options.ts";
import { authoring, type PendingMapping } from "./state.ts";
import { collectRefs, isXComRef, XComArg, type DependencyNode } from "./xcom.ts";

/** Options every task accepts (Airflow's BaseOperator arguments, camelCased). */
export interface TaskOptions {
  taskId: string;
  /** Default 0. */
  retries?: number;
  /** Default 300 seconds, as Airflow. */
  retryDelay?: Duration;
  retryExponentialBackoff?: boolean;
  maxRetryDelay?: Duration | null;
  executionTimeout?: Duration | null;
  /** Default "all_success". */
  triggerRule?: TriggerRule;
  doc?: string;
  /** Store a dict result key by key too, so `ref.get("key")` can reference one key. */
  multipleOutputs?: boolean;
}

// Airflow's KEY_REGEX, without "." and "..", which as a log directory name would lead out of VENVFLOW_HOME/logs.
const TASK_ID = /^(?!\.{1,2}$)[\w.-]{1,250}$/;
const DEFAULT_RETRY_DELAY_MS = 300_000;

/** The DAG whose `dag()` callback is running, or an error naming what was called outside one. */
export function currentDag(what: string): DagBuilder {
  const scope = authoring.scopes.at(-1);
  if (!scope) {
    throw new VenvflowError("outside_dag", `${what} was called outside a DAG`, {
      fix: 'create tasks inside the callback of dag("my_dag", { … }, () => { … })',
    });
  }
  return scope;
}

function operatorOf(node: DependencyNode): BaseOperator {
  return node instanceof XComArg ? node.operator : node;
}

/** What `Operator.partial(options)` returns: the mapped task is made by `expand` or `expandKwargs`. */
export interface OperatorPartial<O, R> {
  /** One task instance per item of each list (the cross product, first list slowest), the item as that option. */
  expand(lists: { [K in Exclude<keyof O, keyof TaskOptions>]?: readonly O[K][] | XComArg<readonly O[K][]> | XComArg<unknown> }): XComArg<R[]>;
  /** One task instance per object of options. */
  expandKwargs(items: ReadonlyArray<Partial<Omit<O, keyof TaskOptions>>> | XComArg<unknown>): XComArg<R[]>;
}

/** The checks Airflow makes when a task is mapped: known options, lists (or references), within maxMapLength. */
export function checkMapping(pending: PendingMapping, mappable: readonly string[], where: string, maxMapLength: number): void {
  for (const axis of pending.axes) {
    const target = axis.target;
    if ("field" in target && !mappable.includes(target.field)) {
      throw new VenvflowError("invalid_expand", `${where}: expand() got "${target.field}", which is not an option this task can map over`, {
        fix: `map over one of: ${mappable.join(", ")} (set the shared options with partial())`,
      });
    }
    if (isXComRef(axis.source)) continue;
    if (!Array.isArray(axis.source)) {
      throw new VenvflowError("invalid_expand", `${where}: expand() needs a list (or a task's result) for ${"field" in target ? `"${target.field}"` : "each argument"}, got ${JSON.stringify(axis.source) ?? typeof axis.source}`, {
        fix: "pass a list of values, one per task instance",
      });
    }
    if (axis.source.length > maxMapLength) {
      throw new VenvflowError("map_length_exceeded", `${where}: cannot map over ${axis.source.length} items: more than maxMapLength (${maxMapLength})`, {
        fix: `raise the DAG's maxMapLength (dag("id", { maxMapLength: ${axis.source.length} }, …)), or map over fewer items`,
      });
    }
  }
}

/**
 * A task in the DAG being defined. Subclasses declare their kind and which option fields may hold upstream
 * references; the engine's executor for the kind runs it.
 */
export abstract class BaseOperator<R = unknown> {
  readonly kind: TaskKind;
  readonly taskId: string;
  readonly dag: DagBuilder;
  readonly triggerRule: TriggerRule;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryExponentialBackoff: boolean;
  readonly maxRetryDelayMs: number | null;
  readonly executionTimeoutMs: number | null;
  readonly doc: string | undefined;
  readonly multipleOutputs: boolean;
  /** Every upstream result this task's arguments reference. */
  readonly xcomRefs: readonly XComRef[];
  /** Mapped tasks (`partial(…).expand(…)`): the lists it is mapped over, and where their items go. */
  readonly mapping: { readonly axes: readonly MapAxis[] } | undefined;
  readonly upstreamTaskIds = new Set<string>();
  readonly downstreamTaskIds = new Set<string>();
  /** The validated options, defaults from the DAG's `defaultArgs` applied. */
  protected readonly config: Readonly<Record<string, unknown>>;

  protected constructor(kind: TaskKind, options: object, refFields: readonly string[]) {
    const dag = currentDag(`new ${new.target.name}()`);
    const pending = authoring.mapping ?? null;
    authoring.mapping = null;
    const full = taskSchemas[kind];
    const given = options as Record<string, unknown>;
    const where = dag.where(typeof given.taskId === "string" ? given.taskId : undefined);
    // What the mapping supplies at run time is not required now.
    const mappable = Object.keys(full.shape).filter((key) => !COMMON_TASK_KEYS.has(key));
    if (pending) checkMapping(pending, mappable, where, dag.maxMapLength);
    const optional = Object.fromEntries((pending?.supplied === "all" ? mappable : (pending?.supplied ?? [])).map((key) => [key, true as const]));
    const schema = pending ? (full as unknown as { partial(mask: Record<string, true>): typeof full }).partial(optional) : full;
    const config = parseOptions(schema, { ...dag.defaultArgsFor(Object.keys(full.shape)), ...given }, where, "invalid_task_options");
    if (!TASK_ID.test(config.taskId) || isDotSegment(config.taskId)) {
      throw new VenvflowError("invalid_task_id", `${where}: task id "${config.taskId}" is not valid`, {
        fix: 'use 1 to 250 letters, digits, dashes, dots and underscores (not "." or "..")',
      });
    }
    const ms = (value: Duration | null | undefined, name: string): number | null => {
      if (value === null || value === undefined) return null;
      try {
        return durationToMs(value, name);
      } catch (error) {
        if (error instanceof VenvflowError) throw new VenvflowError(error.code, `${where}: ${error.message}`, { fix: error.fix });
        throw error;
      }
    };
    this.kind = kind;
    this.taskId = config.taskId;
    this.dag = dag;
    this.triggerRule = config.triggerRule ?? "all_success";
    this.retries = config.retries ?? 0;
    this.retryDelayMs = ms(config.retryDelay, "retryDelay") ?? DEFAULT_RETRY_DELAY_MS;
    this.retryExponentialBackoff = config.retryExponentialBackoff ?? false;
    this.maxRetryDelayMs = ms(config.maxRetryDelay, "maxRetryDelay");
    this.executionTimeoutMs = ms(config.executionTimeout, "executionTimeout");
    this.doc = config.doc;
    this.multipleOutputs = config.multipleOutputs ?? false;
    this.config = config;
    this.xcomRefs = refFields.flatMap((field) => collectRefs((config as Record<string, unknown>)[field]));
    this.mapping = pending ? { axes: pending.axes } : undefined;
    dag.addTask(this);
    const mapRefs = (pending?.axes ?? []).map((a) => a.source).filter(isXComRef);
    for (const ref of [...this.xcomRefs, ...mapRefs]) {
      if (ref instanceof XComArg) dag.addEdge(ref.operator, this, `task "${this.taskId}" uses the result of`);
      else dag.addPendingRef(this, ref);
    }
  }

  /**
   * Airflow's `partial()`: the options every instance of a mapped task shares; `expand({ option: list })` then
   * makes one task instance per item (per combination, with several lists), and `expandKwargs(list)` one per
   * object of options. A list may be literal or an upstream task's result (`op.output`), known only at run time.
   * The result is a reference to the list of the instances' results, in map-index order.
   */
  static partial<O extends TaskOptions, R>(this: new (options: O) => BaseOperator<R>, options: Partial<O> & { taskId: string }): OperatorPartial<O, R> {
    const make = (mapping: PendingMapping): XComArg<R[]> => {
      authoring.mapping = mapping;
      try {
        return new this(options as O).output as unknown as XComArg<R[]>;
      } finally {
        authoring.mapping = null;
      }
    };
    return {
      expand: (lists) => make({ axes: Object.entries(lists).map(([field, source]) => ({ source: source as MapAxis["source"], target: { field } })), supplied: Object.keys(lists) }),
      expandKwargs: (items) => make({ axes: [{ source: items as MapAxis["source"], target: { kwargs: "options" } }], supplied: "all" }),
    };
  }

  /** Virtualenv tasks override this: the environment they run in. */
  get environmentSpec(): EnvSpecInput | undefined {
    return undefined;
  }

  /** Python-callable tasks override this: what `venvflow doctor` checks. */
  get pythonSpec(): PythonTaskSpec | undefined {
    return undefined;
  }

  /** The kind's own options (validated, defaults applied), as the declarative task definition carries them. */
  get options(): TaskOptionsByKind[TaskKind] {
    return Object.fromEntries(Object.entries(this.config).filter(([key]) => !COMMON_TASK_KEYS.has(key))) as TaskOptionsByKind[TaskKind];
  }

  /** The task's return value, as an argument for other tasks. */
  get output(): XComArg<R> {
    return new XComArg<R>(this);
  }

  /** `DAG "id" (file), task "id"`, for error messages. */
  where(): string {
    return this.dag.where(this.taskId);
  }

  setDownstream(other: DependencyNode | readonly DependencyNode[]): void {
    for (const node of Array.isArray(other) ? (other as readonly DependencyNode[]) : [other as DependencyNode]) {
      this.dag.addEdge(this, operatorOf(node), "cannot make a dependency between");
    }
  }

  setUpstream(other: DependencyNode | readonly DependencyNode[]): void {
    for (const node of Array.isArray(other) ? (other as readonly DependencyNode[]) : [other as DependencyNode]) {
      this.dag.addEdge(operatorOf(node), this, "cannot make a dependency between");
    }
  }
}
