/**
 * Tables the server adds (migration 0002_serialized_dags): DAGs as the DAG processor last parsed them, so the
 * API and UI read graphs, params and sources without importing user code, and the files that failed to load.
 */
import type { Kysely, Selectable } from "kysely";
import type { Database } from "./schema.ts";

export interface SerializedDagTable {
  dag_id: string;
  fileloc: string;
  /** JSON `SerializedDag` of the last version that loaded. */
  data: string;
  /** The DAG file's text as of that version. */
  source: string;
  /** 1 while paused: no new runs are created and no task instances are scheduled. */
  is_paused: number;
  /** Set when the file stopped defining the DAG (deleted or renamed): history stays, the DAG is hidden from lists. */
  removed_at: string | null;
  parsed_at: string;
}

export interface DagImportErrorTable {
  file: string;
  code: string;
  message: string;
  at: string;
}

export type DagTables = {
  serialized_dag: SerializedDagTable;
  dag_import_error: DagImportErrorTable;
};

export type SerializedDagRow = Selectable<SerializedDagTable>;
export type DagImportErrorRow = Selectable<DagImportErrorTable>;

/** The store's database with the server's tables in its type. */
export const withDagTables = (db: Kysely<Database>): Kysely<Database & DagTables> => db.withTables<DagTables>();
