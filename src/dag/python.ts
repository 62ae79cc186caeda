import path from "node:path";
import { ENV_BUILD_OPTIONS, type EnvSpecInput } from "../env/types.ts";
import { environmentSpecFor } from "../runtime/index.ts";
import type { CallableOptions } from "../runtime/types.ts";
import type { PythonTaskSpec, TaskKind } from "./model.ts";
import { BaseOperator, type TaskOptions } from "./operator.ts";

/** Supplied per try by the engine, or (executionTimeout) a task option. */
type RunTimeFields = "context" | "onLog" | "logPath" | "signal" | "home" | "executionTimeout" | "explainFailure" | "launcher";
/** Options that build an environment: meaningless for an existing interpreter, as in Airflow. */
type EnvBuildFields = (typeof ENV_BUILD_OPTIONS)[number];

export type PythonVirtualenvOperatorOptions = TaskOptions & Omit<CallableOptions, RunTimeFields | "python">;
export type ExternalPythonOperatorOptions = TaskOptions & Omit<CallableOptions, RunTimeFields | EnvBuildFields | "python"> & {
  /** Absolute path of an existing interpreter, used as is. */
  python: string;
};

/** A branch callable's result: a task id, a list of ids, or None (skip every downstream task). */
export type BranchResult = string | string[] | null;

/** A Python callable run through the runtime in a cached virtualenv or an existing interpreter. */
abstract class PythonCallableOperator<R> extends BaseOperator<R> {
  protected constructor(kind: TaskKind, options: object) {
    super(kind, options, ["opArgs", "opKwargs"]);
  }

  override get pythonSpec(): PythonTaskSpec {
    const c = this.config as Omit<CallableOptions, RunTimeFields>;
    const fields = ["serializer", ...ENV_BUILD_OPTIONS, "python"] as const;
    return {
      pythonCallable: c.pythonCallable,
      baseDir: path.resolve(path.dirname(this.dag.fileloc), c.baseDir ?? "."),
      ...Object.fromEntries(fields.filter((key) => c[key] !== undefined).map((key) => [key, c[key]])),
      ...(c.inheritEnv === undefined ? {} : { inheritEnv: c.inheritEnv }),
      ...(c.envVars === undefined ? {} : { envVarNames: Object.keys(c.envVars) }),
    };
  }

  /** Virtualenv tasks: the spec runCallable builds from these options, so `venvflow env build FILE` gets the same key. */
  override get environmentSpec(): EnvSpecInput | undefined {
    if (this.kind !== "python_virtualenv" && this.kind !== "branch_python_virtualenv") return undefined;
    const c = this.config as Omit<CallableOptions, RunTimeFields>;
    return environmentSpecFor(c, path.resolve(path.dirname(this.dag.fileloc), c.baseDir ?? "."));
  }
}

/** `R`: what the callable returns, for typed references (`op.output`). */
export class PythonVirtualenvOperator<R = unknown> extends PythonCallableOperator<R> {
  constructor(options: PythonVirtualenvOperatorOptions) {
    super("python_virtualenv", options);
  }
}

/** `R`: what the callable returns, for typed references (`op.output`). */
export class ExternalPythonOperator<R = unknown> extends PythonCallableOperator<R> {
  constructor(options: ExternalPythonOperatorOptions) {
    super("external_python", options);
  }
}

/** Follows only the directly-downstream task ids its callable returns; the others are skipped. */
export class BranchPythonVirtualenvOperator extends PythonCallableOperator<BranchResult> {
  constructor(options: PythonVirtualenvOperatorOptions) {
    super("branch_python_virtualenv", options);
  }
}

/** Follows only the directly-downstream task ids its callable returns; the others are skipped. */
export class BranchExternalPythonOperator extends PythonCallableOperator<BranchResult> {
  constructor(options: ExternalPythonOperatorOptions) {
    super("branch_external_python", options);
  }
}
