import type { Store } from "../store/index.ts";
import { chunks } from "../util/chunks.ts";

/** A try this worker runs: its task instance and its try number (the claim's identity). */
export interface HeldTry {
  id: string;
  tryNumber: number;
}

/**
 * Refreshes the locks this worker holds (database time); returns the ids of the tries it still holds. A row of this
 * worker's with another try number is not the try it asks about (swept while this worker hung, then claimed again):
 * that try is lost. The rows are locked in id order, the order a batch of ending tries takes them in (`endTries`):
 * measured on PostgreSQL, an unordered heartbeat deadlocked with a batch ending the same rows.
 */
export async function heartbeat(store: Store, workerId: string, tries: readonly HeldTry[]): Promise<Set<string>> {
  const held = new Set<string>();
  const wanted = new Map(tries.map((t) => [t.id, t.tryNumber]));
  for (const part of chunks([...wanted.keys()].sort())) {
    const mine = store.adapter.lockInOrder(store.db.selectFrom("task_instance").select("id").where("id", "in", part).where("state", "=", "running").where("locked_by", "=", workerId).orderBy("id"));
    const rows = await store.adapter.updatePicked(store.db, mine, (db, picked) =>
      db.updateTable("task_instance").set({ locked_at: store.adapter.nowSql }).where("id", "in", picked).returning(["id", "try_number"]),
    );
    for (const r of rows) if (wanted.get(r.id) === r.try_number) held.add(r.id);
  }
  return held;
}
