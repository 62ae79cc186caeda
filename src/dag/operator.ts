import type { EnvSpecInput } from "../env/types.ts";
import type { Duration } from "../util/duration.ts";
import { durationToMs } from "../util/duration.ts";
import { VenvflowError } from "../util/errors.ts";
import { isDotSegment } from "../util/home.ts";
import type { DagBuilder } from "./builder.ts";
import type { PythonTaskSpec, TaskExecutionContext, TaskError, TaskKind, TaskOutcome, TriggerRule, XComRef } from "./model.ts";
import { parseOptions, taskSchemas } from "./options.ts";
import { authoring } from "./state.ts";
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

/** A failed outcome carrying a thrown error (a VenvflowError keeps its code and fix). */
export function failedOutcome(error: unknown): TaskOutcome {
  if (error instanceof VenvflowError) {
    return { state: "failed", error: { type: error.name, message: error.message, code: error.code, ...(error.fix ? { fix: error.fix } : {}) } };
  }
  const err = error instanceof Error ? error : new Error(String(error));
  const taskError: TaskError = { type: err.name, message: err.message };
  if (err.stack) taskError.traceback = err.stack;
  return { state: "failed", error: taskError };
}

/**
 * A task in the DAG being defined. Subclasses declare their kind, which option fields may hold upstream
 * references, and how one try runs.
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

  /** Runs one try; never throws (a thrown error becomes a failed outcome). */
  async execute(ctx: TaskExecutionContext): Promise<TaskOutcome> {
    let outcome: TaskOutcome;
    try {
      outcome = await this.run(ctx);
    } catch (error) {
      return failedOutcome(error);
    }
    if (outcome.state === "success" && this.multipleOutputs && !isDict(outcome.returnValue)) {
      const got = outcome.returnValue === null ? "null" : Array.isArray(outcome.returnValue) ? "array" : typeof outcome.returnValue;
      return {
        state: "failed",
        returnValue: outcome.returnValue,
        error: {
          type: "TypeError",
          code: "multiple_outputs_not_dict",
          message: `${this.where()}: returned ${got}, but multipleOutputs needs a dict (object) result`,
          fix: "return a dict, or drop multipleOutputs",
        },
      };
    }
    return outcome;
  }

  protected abstract run(ctx: TaskExecutionContext): Promise<TaskOutcome>;
}

function isDict(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isXComRef(value);
}
