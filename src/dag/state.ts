import type { DagDefinition } from "./model.ts";
import type { DagBuilder } from "./builder.ts";

/** What the loader collects while one DAG file is being imported. */
export interface LoadCollector {
  file: string;
  dags: DagDefinition[];
}

interface AuthoringState {
  /** Open `dag()` callbacks, innermost last. */
  scopes: DagBuilder[];
  collector: LoadCollector | null;
}

const KEY = Symbol.for("venvflow.dag.authoringState");
const store = globalThis as Record<symbol, AuthoringState | undefined>;

/**
 * Kept on globalThis because a DAG file's `import "venvflow"` may get another module instance than the loader's
 * (tests run src through vite, production runs dist): both must see the same open DAG and the same collector.
 */
export const authoring: AuthoringState = (store[KEY] ??= { scopes: [], collector: null });
