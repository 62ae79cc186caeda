import type { EnvSpecInput } from "../env/types.ts";
import type { Duration } from "../util/duration.ts";
import { durationToMs } from "../util/duration.ts";
import { VenvflowError } from "../util/errors.ts";
import type { DagBuilder } from "./builder.ts";
import type { PythonTaskSpec, TaskKind, TaskOptionsByKind, TriggerRule, XComRef } from "./model.ts";
import { COMMON_TASK_KEYS, parseOptions, taskSchemas } from "./options.ts";
import { authoring } from "./state.ts";
import { collectRefs, XComArg, type DependencyNode } from "./xcom.ts";

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

const TASK_ID = /^[\w.-]{1,250}$/;
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

/** By name, not instanceof: a DAG file's "venvflow" may be another module instance than the engine's. */
export function isVenvflowError(error: unknown): error is VenvflowError {
  return error instanceof Error && error.name === "VenvflowError" && typeof (error as { code?: unknown }).code === "string";
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
  readonly upstreamTaskIds = new Set<string>();
  readonly downstreamTaskIds = new Set<string>();
  /** The validated options, defaults from the DAG's `defaultArgs` applied. */
  protected readonly config: Readonly<Record<string, unknown>>;

  protected constructor(kind: TaskKind, options: object, refFields: readonly string[]) {
    const dag = currentDag(`new ${new.target.name}()`);
    const schema = taskSchemas[kind];
    const given = options as Record<string, unknown>;
    const where = dag.where(typeof given.taskId === "string" ? given.taskId : undefined);
    const config = parseOptions(schema, { ...dag.defaultArgsFor(Object.keys(schema.shape)), ...given }, where, "invalid_task_options");
    if (!TASK_ID.test(config.taskId)) {
      throw new VenvflowError("invalid_task_id", `${where}: task id "${config.taskId}" is not valid`, {
        fix: "use 1 to 250 letters, digits, dashes, dots and underscores",
      });
    }
    const ms = (value: Duration | null | undefined, name: string): number | null => {
      if (value === null || value === undefined) return null;
      try {
        return durationToMs(value, name);
      } catch (error) {
        if (error instanceof VenvflowError) throw new VenvflowError(error.code, `${where}: ${error.message.split("\n")[0]}`, { fix: error.fix });
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
    dag.addTask(this);
    for (const ref of this.xcomRefs) {
      if (ref instanceof XComArg) dag.addEdge(ref.operator, this, `task "${this.taskId}" uses the result of`);
      else dag.addPendingRef(this, ref);
    }
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
