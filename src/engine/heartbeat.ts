import type { Store } from "../store/index.ts";
import { chunks } from "../util/chunks.ts";

/**
 * Refreshes the locks this worker holds (database time); returns the ids it still holds. The rows are locked in
 * id order, the order a batch of ending tries takes them in (`endTries`): measured on PostgreSQL, an unordered
 * heartbeat deadlocked with a batch ending the same rows.
 */
export async function heartbeat(store: Store, workerId: string, ids: readonly string[]): Promise<Set<string>> {
  const held = new Set<string>();
  for (const part of chunks([...ids].sort())) {
    const rows = await store.db
      .with(
        (w) => w("mine").materialized(),
        (db) => store.adapter.lockInOrder(db.selectFrom("task_instance").select("id").where("id", "in", part).where("state", "=", "running").where("locked_by", "=", workerId).orderBy("id")),
      )
      .updateTable("task_instance")
      .set({ locked_at: store.adapter.nowSql })
      .where("id", "in", (eb) => eb.selectFrom("mine").select("mine.id"))
      .returning("id")
      .execute();
    for (const r of rows) held.add(r.id);
  }
  return held;
}
