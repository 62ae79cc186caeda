import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * A stored XCom's display copy: the value with the producing task's secrets masked, set only when masking changed
 * it (see src/store/xcom-display.ts). `value` stays the real one, which downstream tasks receive.
 */
export const xcomDisplay: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("xcom").addColumn("display_value", "text").execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("xcom").dropColumn("display_value").execute();
  },
};
