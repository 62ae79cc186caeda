import { VenvflowError } from "../util/errors.ts";
import type { XComRef } from "./model.ts";
import type { BaseOperator } from "./operator.ts";

/**
 * A typed reference to an upstream task's result: `op.output`, a TaskFlow call's return, or `ref.get("key")`.
 * Passing it as an argument to another task creates the edge and, at run time, the value.
 */
export class XComArg<T = unknown> implements XComRef {
  readonly kind = "xcom_ref" as const;
  readonly taskId: string;
  readonly key: string;
  readonly #operator: BaseOperator;
  /** Type-only: what pulling this reference yields. */
  declare readonly __value?: T;

  constructor(operator: BaseOperator, key = "return_value") {
    this.#operator = operator;
    this.taskId = operator.taskId;
    this.key = key;
  }

  /** The task that produces the value. */
  get operator(): BaseOperator {
    return this.#operator;
  }

  /** One key of a `multipleOutputs` result. */
  get<K extends string>(key: K): XComArg<ValueAt<T, K>> {
    const where = this.#operator.where();
    if (this.key !== "return_value") {
      throw new VenvflowError("invalid_reference", `${where}: get("${key}") on a reference that already selects key "${this.key}"`, {
        fix: "call get() on the task's whole result",
      });
    }
    if (!this.#operator.multipleOutputs) {
      throw new VenvflowError("invalid_reference", `${where}: get("${key}") needs the task to store its result key by key`, {
        fix: "set multipleOutputs: true on that task",
      });
    }
    return new XComArg(this.#operator, key);
  }

  setDownstream(other: DependencyNode | readonly DependencyNode[]): void {
    this.#operator.setDownstream(other);
  }

  setUpstream(other: DependencyNode | readonly DependencyNode[]): void {
    this.#operator.setUpstream(other);
  }

  toJSON(): XComRef {
    return { kind: this.kind, taskId: this.taskId, key: this.key };
  }
}

/** The type of one key of a result; unknown when the result's type is not declared. */
export type ValueAt<T, K extends string> = [T] extends [Record<K, infer V>] ? V : unknown;

/** Something that can take part in an edge: a task, or a reference to one. */
export type DependencyNode = BaseOperator | XComArg;

/** A value, or a reference that yields it; arrays and plain objects may hold references at any depth. */
export type Refable<T> =
  | XComArg<T>
  | (T extends readonly unknown[]
      ? { [K in keyof T]: Refable<T[K]> }
      : T extends Date | ((...args: never[]) => unknown)
        ? T
        : T extends Record<string, unknown>
          ? { [K in keyof T]: Refable<T[K]> }
          : T);

export function isXComRef(value: unknown): value is XComRef {
  if (typeof value !== "object" || value === null) return false;
  const ref = value as Partial<XComRef>;
  return ref.kind === "xcom_ref" && typeof ref.taskId === "string" && typeof ref.key === "string";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Every reference in `value`, looking inside arrays and plain objects. */
export function collectRefs(value: unknown, into: XComRef[] = []): XComRef[] {
  if (isXComRef(value)) into.push(value);
  else if (Array.isArray(value)) for (const item of value) collectRefs(item, into);
  else if (isPlainObject(value)) for (const item of Object.values(value)) collectRefs(item, into);
  return into;
}

/** `value` with every reference replaced by what `pull` returns for it. */
export function resolveRefs(value: unknown, pull: (ref: XComRef) => unknown): unknown {
  if (isXComRef(value)) return pull({ kind: "xcom_ref", taskId: value.taskId, key: value.key });
  if (Array.isArray(value)) return value.map((item) => resolveRefs(item, pull));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, pull)]));
  return value;
}
