import type { DagDefinition, MapAxis } from "./model.ts";
import type { DagBuilder } from "./builder.ts";

/** What the loader collects while one DAG file is being imported. */
export interface LoadCollector {
  file: string;
  dags: DagDefinition[];
}

/** What `expand`/`expandKwargs` hands to the operator constructor it calls: the mapping, and the options it fills. */
export interface PendingMapping {
  axes: MapAxis[];
  /** Options the mapping supplies at run time (so not required now); "all" for an operator's expandKwargs. */
  supplied: readonly string[] | "all";
}

interface AuthoringState {
  /** Open `dag()` callbacks, innermost last. */
  scopes: DagBuilder[];
  collector: LoadCollector | null;
  /** Set only while `expand()` constructs its operator. */
  mapping?: PendingMapping | null;
}

const KEY = Symbol.for("venvflow.dag.authoringState");
const store = globalThis as Record<symbol, AuthoringState | undefined>;

/**
 * Kept on globalThis because a DAG file's `import "venvflow"` may get another module instance than the loader's
 * (tests run src through vite, production runs dist): both must see the same open DAG and the same collector.
 */
export const authoring: AuthoringState = (store[KEY] ??= { scopes: [], collector: null });
