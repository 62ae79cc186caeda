import type { TaskOutcome } from "../../dag/model.ts";
import type { ExecutionContext } from "./types.ts";

/** Python's repr and type name of a JSON value, for Airflow-style "Invalid tasks found" messages. */
function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "string") return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
  return String(value);
}

function pyType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  return Array.isArray(value) ? "list" : "dict";
}

/**
 * Airflow's BaseBranchOperator check, for every branch kind: the callable returned a task id, a list of ids, or
 * None, and every id is directly downstream. Anything else fails the task with the offending values.
 */
export function branchOutcome(ctx: ExecutionContext, returned: unknown): TaskOutcome {
  if (returned === null || returned === undefined) return { state: "success", returnValue: null, branch: null };
  const downstream = ctx.dag.tasks.get(ctx.taskId)?.downstreamTaskIds ?? [];
  const ids = Array.isArray(returned) ? (returned as unknown[]) : [returned];
  const fix = downstream.length > 0 ? `return one of ${downstream.map((id) => `"${id}"`).join(", ")}, a list of them, or None` : "the branch task has no downstream tasks: add some, or return None";
  const notStrings = ids.filter((id) => typeof id !== "string");
  if (notStrings.length > 0) {
    const found = `{${[...new Set(notStrings.map((id) => `(${pyRepr(id)}, '${pyType(id)}')`))].join(", ")}}`;
    return {
      state: "failed",
      returnValue: returned,
      error: { type: "AirflowException", code: "invalid_branch", fix, message: `${ctx.where}: 'branch_task_ids' expected all task IDs are strings. Invalid tasks found: ${found}.` },
    };
  }
  const invalid = [...new Set(ids as string[])].filter((id) => !downstream.includes(id));
  if (invalid.length > 0) {
    return {
      state: "failed",
      returnValue: returned,
      error: {
        type: "AirflowException",
        code: "invalid_branch",
        fix,
        message: `${ctx.where}: 'branch_task_ids' must contain only task ids directly downstream of "${ctx.taskId}". Invalid tasks found: {${invalid.map(pyRepr).join(", ")}}.`,
      },
    };
  }
  return { state: "success", returnValue: returned, branch: [...new Set(ids as string[])] };
}
