import type { Migration, MigrationProvider } from "kysely/migration";
import { init } from "./0001_init.ts";
import { mapIndex } from "./0002_map_index.ts";
import { serializedDags } from "./0003_serialized_dags.ts";
import { xcomDisplay } from "./0004_xcom_display.ts";
import { dropClaimIndex } from "./0005_drop_claim_index.ts";
import { dropRunTaskStateIndex } from "./0006_drop_run_task_state_index.ts";

/** Migrations are compiled in (not read from a folder) so the built package and tests run the same list. */
const MIGRATIONS: Record<string, Migration> = {
  "0001_init": init,
  "0002_map_index": mapIndex,
  "0003_serialized_dags": serializedDags,
  "0004_xcom_display": xcomDisplay,
  "0005_drop_claim_index": dropClaimIndex,
  "0006_drop_run_task_state_index": dropRunTaskStateIndex,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};
