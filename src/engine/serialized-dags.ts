/**
 * The DAGs the server's DAG processor parsed, as stored JSON: recorded after each parse, read by the API, the
 * UI and the CLI's trigger/clear/pause, none of which import user code.
 */
import type { DagDefinition, TaskDefinition } from "../dag/model.ts";
import type { SerializedDag } from "../dag/serialize.ts";
import { withDagTables, type DagImportErrorRow } from "../store/dag-tables.ts";
import type { Store } from "../store/index.ts";
import { VenvflowError } from "../util/errors.ts";

export interface StoredDag {
  dag: SerializedDag;
  source: string;
  paused: boolean;
  /** When the file stopped defining this DAG; null while it is current. */
  removedAt: string | null;
  parsedAt: string;
}

export interface ParsedFolder {
  dags: Array<{ dag: SerializedDag; source: string }>;
  errors: Array<{ file: string; code: string; message: string }>;
}

/**
 * Records one parse of the DAG folder. A file that failed keeps the DAGs of its previous version (their
 * history and graph stay visible next to the error); DAGs whose file loaded without them, or whose file is
 * gone, are marked removed; pause flags survive re-parsing.
 */
export async function recordParse(store: Store, parsed: ParsedFolder): Promise<void> {
  const at = new Date().toISOString();
  await store.writeTransaction(async (trx) => {
    const db = withDagTables(trx);
    const failed = new Set(parsed.errors.map((e) => e.file));
    const seen = new Set<string>();
    for (const { dag, source } of parsed.dags) {
      seen.add(dag.dagId);
      const values = { fileloc: dag.fileloc, data: JSON.stringify(dag), source, removed_at: null, parsed_at: at };
      await db
        .insertInto("serialized_dag")
        .values({ dag_id: dag.dagId, is_paused: 0, ...values })
        .onConflict((oc) => oc.column("dag_id").doUpdateSet(values))
        .execute();
    }
    const present = await db.selectFrom("serialized_dag").select(["dag_id", "fileloc"]).where("removed_at", "is", null).execute();
    const gone = present.filter((r) => !seen.has(r.dag_id) && !failed.has(r.fileloc)).map((r) => r.dag_id);
    if (gone.length > 0) await db.updateTable("serialized_dag").set({ removed_at: at }).where("dag_id", "in", gone).execute();
    await db.deleteFrom("dag_import_error").execute();
    for (const e of parsed.errors) await db.insertInto("dag_import_error").values({ file: e.file, code: e.code, message: e.message, at }).execute();
  });
}

export async function listStoredDags(store: Store, opts: { includeRemoved?: boolean } = {}): Promise<StoredDag[]> {
  const rows = await withDagTables(store.db)
    .selectFrom("serialized_dag")
    .selectAll()
    .$if(!opts.includeRemoved, (q) => q.where("removed_at", "is", null))
    .orderBy("dag_id")
    .execute();
  return rows.map((r) => ({ dag: JSON.parse(r.data) as SerializedDag, source: r.source, paused: r.is_paused === 1, removedAt: r.removed_at, parsedAt: r.parsed_at }));
}

export async function getStoredDag(store: Store, dagId: string): Promise<StoredDag> {
  const r = await withDagTables(store.db).selectFrom("serialized_dag").selectAll().where("dag_id", "=", dagId).executeTakeFirst();
  if (!r) {
    throw new VenvflowError("dag_not_found", `no DAG "${dagId}" is known to the store at ${store.url}`, {
      fix: "start `venvflow server DAG_FOLDER` (it records the DAGs it parses), or check the DAG id with `venvflow dags list`",
    });
  }
  return { dag: JSON.parse(r.data) as SerializedDag, source: r.source, paused: r.is_paused === 1, removedAt: r.removed_at, parsedAt: r.parsed_at };
}

export function listImportErrors(store: Store): Promise<DagImportErrorRow[]> {
  return withDagTables(store.db).selectFrom("dag_import_error").selectAll().orderBy("file").execute();
}

/** DAG ids paused in the store (workers started by the server leave them alone). */
export async function pausedDagIds(store: Store): Promise<Set<string>> {
  const rows = await withDagTables(store.db).selectFrom("serialized_dag").select("dag_id").where("is_paused", "=", 1).execute();
  return new Set(rows.map((r) => r.dag_id));
}

/**
 * A `DagDefinition` rebuilt from its serialized form, for the engine functions that only read a DAG's shape
 * (triggerRun, dates, graph walks). It cannot execute: tasks run only in workers, which load the real file.
 */
export function dagShape(dag: SerializedDag): DagDefinition {
  const tasks = new Map<string, TaskDefinition>();
  for (const t of dag.tasks) {
    tasks.set(t.taskId, {
      taskId: t.taskId,
      kind: t.kind,
      upstreamTaskIds: t.upstreamTaskIds,
      downstreamTaskIds: t.downstreamTaskIds,
      triggerRule: t.triggerRule,
      retries: t.retries,
      retryDelayMs: t.retryDelayMs,
      retryExponentialBackoff: false,
      maxRetryDelayMs: null,
      executionTimeoutMs: t.executionTimeoutMs,
      multipleOutputs: t.multipleOutputs,
      xcomRefs: [],
      ...(t.mapping ? { mapping: t.mapping } : {}),
      // The stored form keeps no options (they may hold functions and secrets): this shape is never handed to an
      // executor, only to the functions that read a DAG's graph and mapping.
      options: {},
    } as TaskDefinition);
  }
  return {
    dagId: dag.dagId,
    fileloc: dag.fileloc,
    ...(dag.description === null ? {} : { description: dag.description }),
    schedule: dag.schedule,
    timezone: dag.timezone,
    startDate: dag.startDate === null ? null : new Date(dag.startDate),
    endDate: dag.endDate === null ? null : new Date(dag.endDate),
    catchup: dag.catchup,
    maxActiveRuns: dag.maxActiveRuns,
    maxActiveTasks: dag.maxActiveTasks,
    params: dag.params,
    tags: dag.tags,
    dagrunTimeoutMs: dag.dagrunTimeoutMs,
    tasks,
  };
}
