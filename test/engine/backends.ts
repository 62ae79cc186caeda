/** Runs a suite on SQLite and on PostgreSQL (a private cluster from test/support/postgres.ts). */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { openStore, type Backend, type Store } from "../../src/store/index.ts";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.ts";

export const BACKENDS: Backend[] = ["sqlite", "postgres"];

export interface StoreFactory {
  /** A temp VENVFLOW_HOME for this suite. */
  readonly home: string;
  /** A fresh, migrated, empty store. */
  open(): Promise<Store>;
  /** A URL of a fresh empty database (for child processes). */
  newUrl(): Promise<string>;
}

export function useStores(backend: Backend): StoreFactory {
  const unavailable = backend === "postgres" ? postgresUnavailable() : null;
  if (unavailable) {
    // The suite's PostgreSQL cases skip, saying why; its SQLite cases still run.
    console.log(`PostgreSQL cases skipped: ${unavailable}`);
    beforeEach((ctx) => ctx.skip());
  }
  let pg: TestPostgres | null = null;
  let home = "";
  const opened: Store[] = [];
  let n = 0;
  beforeAll(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), `venvflow-${backend}-`));
    if (backend === "postgres" && !unavailable) pg = await startPostgres();
  });
  afterAll(async () => {
    await Promise.allSettled(opened.map((s) => s.close()));
    await pg?.stop();
    rmSync(home, { recursive: true, force: true });
  });
  const factory: StoreFactory = {
    get home() {
      return home;
    },
    async newUrl() {
      return pg ? pg.createDatabase() : path.join(home, `store-${n++}.db`);
    },
    async open() {
      const store = await openStore(await factory.newUrl(), { home });
      opened.push(store);
      return store;
    },
  };
  return factory;
}
