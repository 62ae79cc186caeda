/** Environments as the UI shows them: the cache's view plus which tasks used each (read from recent try logs). */
import { readFile } from "node:fs/promises";
import { listEnvironments, removeEnvironment, showEnvironment } from "../env/index.ts";
import { getStoredDag } from "../engine/serialized-dags.ts";
import type { Store } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";
import { readLogLines } from "../runtime/logs.ts";
import { tryEnvironment } from "../engine/views.ts";

// How many recent tries to read when answering "which tasks used this environment": enough for a dashboard,
// bounded so the page stays fast on a store with a long history.
const RECENT_TRIES = 500;

interface Use {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  at: string | null;
  cacheHit: boolean | null;
}

/** A finished try's log never changes: its parse is kept by path. */
const parsedLogs = new Map<string, { envKeyPrefix: string | null; cacheHit: boolean | null }>();

async function recentUses(store: Store): Promise<Map<string, Use[]>> {
  const rows = await store.db
    .selectFrom("task_instance")
    .select(["dag_id", "run_id", "task_id", "try_number", "log_path", "state", "started_at"])
    .where("log_path", "is not", null)
    .orderBy("updated_at", "desc")
    .limit(RECENT_TRIES)
    .execute();
  const uses = new Map<string, Use[]>();
  for (const row of rows) {
    const logPath = row.log_path as string;
    let parsed = parsedLogs.get(logPath);
    if (!parsed) {
      const env = tryEnvironment(readLogLines(logPath));
      parsed = { envKeyPrefix: env.envKeyPrefix, cacheHit: env.cacheHit };
      if (!["running", "queued"].includes(row.state)) parsedLogs.set(logPath, parsed);
    }
    if (!parsed.envKeyPrefix) continue;
    const list = uses.get(parsed.envKeyPrefix) ?? [];
    list.push({ dagId: row.dag_id, runId: row.run_id, taskId: row.task_id, tryNumber: row.try_number, at: row.started_at, cacheHit: parsed.cacheHit });
    uses.set(parsed.envKeyPrefix, list);
  }
  return uses;
}

export async function environmentList(store: Store, home: string): Promise<Record<string, unknown>[]> {
  const [envs, uses] = await Promise.all([listEnvironments({ home }), recentUses(store)]);
  return envs.map((e) => {
    const used = uses.get(e.key.slice(0, 12)) ?? [];
    return {
      key: e.key,
      python: e.interpreter.version,
      implementation: e.interpreter.implementation,
      installer: e.installer,
      packages: e.lock.filter((p) => p.requested).map((p) => `${p.name}==${p.version}`),
      packageCount: e.lock.length,
      sizeBytes: e.sizeBytes,
      createdAt: e.createdAt,
      lastUsedAt: e.lastUsedAt,
      usedBy: [...new Set(used.map((u) => `${u.dagId}.${u.taskId}`))],
    };
  });
}

export async function environmentDetail(store: Store, home: string, keyOrPrefix: string): Promise<Record<string, unknown>> {
  const env = await showEnvironment(keyOrPrefix, { home });
  const uses = (await recentUses(store)).get(env.key.slice(0, 12)) ?? [];
  const buildLog = await readFile(env.buildLogPath, "utf8").catch(() => "");
  return {
    key: env.key,
    path: env.path,
    python: env.interpreter.version,
    interpreter: env.interpreter,
    installer: env.installer,
    systemSitePackages: env.systemSitePackages,
    canonicalSpec: env.canonicalSpec,
    lock: env.lock,
    installed: env.installed,
    sizeBytes: env.sizeBytes,
    createdAt: env.createdAt,
    lastUsedAt: env.lastUsedAt,
    inUseBy: env.inUseBy,
    uses,
    buildLog,
  };
}

export function deleteEnvironment(home: string, keyOrPrefix: string): Promise<{ key: string }> {
  return removeEnvironment(keyOrPrefix, { home });
}

/**
 * What a rebuild builds from: the most recent task that used the environment and still declares one. The
 * environment's own record holds only the redacted spec, so the real one (with index credentials) comes from
 * that task's DAG file, loaded in a child process.
 */
export async function rebuildSource(store: Store, home: string, keyOrPrefix: string): Promise<{ task: { dagId: string; taskId: string }; dagFile: string }> {
  const env = await showEnvironment(keyOrPrefix, { home });
  for (const use of (await recentUses(store)).get(env.key.slice(0, 12)) ?? []) {
    const stored = await getStoredDag(store, use.dagId).catch(() => null);
    const task = stored?.dag.tasks.find((t) => t.taskId === use.taskId);
    if (stored && !stored.removedAt && task?.environment && task.kind !== "external_python" && task.kind !== "branch_external_python") {
      return { task: { dagId: use.dagId, taskId: use.taskId }, dagFile: stored.dag.fileloc };
    }
  }
  throw new VenvflowError("env_rebuild_unknown_spec", `no recent task of a current DAG used environment ${env.key.slice(0, 12)}, so its full spec is unknown`, {
    fix: "trigger a DAG whose task uses it (tasks build what they need), or build it with `venvflow env build DAG_FILE --refresh`",
  });
}
