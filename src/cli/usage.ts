/** Which DAG task uses which environment: shared by `dags show` and `env list`. */
import { resolveSpec } from "../env/index.ts";
import type { Environment } from "../env/types.ts";
import type { DagDefinition, TaskDefinition } from "../dag/model.ts";
import { formatError } from "../util/errors.ts";

export interface TaskEnvironment {
  /** The environment key the task's declaration resolves to (whether built or not). */
  key: string | null;
  python: string | null;
  requirements: string[];
  /** Why the declaration does not resolve (no such Python, a bad requirement…). */
  problem?: string;
}

/** The requirement lines of a built environment, as its canonical spec recorded them (redacted). */
export function environmentRequirements(env: Environment): string[] {
  try {
    const spec = JSON.parse(env.canonicalSpec) as { requirements?: unknown };
    return Array.isArray(spec.requirements) ? spec.requirements.filter((r): r is string => typeof r === "string") : [];
  } catch {
    return [];
  }
}

/** What a virtualenv task's declaration resolves to: the interpreter and the key its environment has. */
export async function taskEnvironment(task: TaskDefinition): Promise<TaskEnvironment | null> {
  if (task.environment === undefined) {
    return task.python?.python ? { key: null, python: task.python.python, requirements: [] } : null;
  }
  try {
    const spec = await resolveSpec(task.environment);
    return { key: spec.key, python: spec.interpreter.version, requirements: spec.requirements.map((r) => spec.redactor.redact(r.canonical)) };
  } catch (error) {
    return { key: null, python: task.environment.pythonVersion ?? null, requirements: [], problem: formatError(error as { message: string; fix?: string }) };
  }
}

/** Environment key → the "dag.task" ids whose declaration resolves to it. */
export async function environmentUsers(dags: readonly DagDefinition[]): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const dag of dags) {
    for (const task of dag.tasks.values()) {
      const resolved = task.environment ? await taskEnvironment(task) : null;
      if (!resolved?.key) continue;
      users.set(resolved.key, [...(users.get(resolved.key) ?? []), `${dag.dagId}.${task.taskId}`]);
    }
  }
  return users;
}
