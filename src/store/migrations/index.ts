import type { Migration, MigrationProvider } from "kysely/migration";
import { init } from "./0001_init.ts";
import { serializedDags } from "./0002_serialized_dags.ts";

/** Migrations are compiled in (not read from a folder) so the built package and tests run the same list. */
const MIGRATIONS: Record<string, Migration> = {
  "0001_init": init,
  "0002_serialized_dags": serializedDags,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};
