/**
 * The PostgreSQL driver's deferred `begin` (src/store/postgres/index.ts deferringBegin): a transaction's `begin`
 * travels with its first statement when that one has no parameters. On a real server: what runs after it is in the
 * transaction, what a rollback undoes is undone, and the round trips are the ones saved.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deferringBegin } from "../../src/store/postgres/index.ts";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.ts";

const unavailable = postgresUnavailable();

describe.skipIf(unavailable !== null)(`a deferred begin on PostgreSQL${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let server: TestPostgres;
  let client: pg.Client;
  const sent: string[] = [];
  let query: (text: string, values: readonly unknown[]) => Promise<pg.QueryResult>;
  const rows = async (): Promise<number[]> => (await client.query<{ n: number }>("select n from t order by n")).rows.map((r) => r.n);

  beforeAll(async () => {
    server = await startPostgres();
    client = new pg.Client({ connectionString: await server.createDatabase() });
    await client.connect();
    await client.query("create table t (n integer)");
    query = deferringBegin(
      (text, values) => {
        sent.push(text);
        return client.query(text, [...values]);
      },
      (text) => {
        sent.push(text);
        return client.query(text) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>;
      },
    );
  }, 60_000);
  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it("sends begin with a first statement without parameters, in one round trip, and a rollback undoes both", async () => {
    sent.length = 0;
    await query("begin", []);
    const first = await query("insert into t values (1) returning n", []);
    expect(first.rows).toEqual([{ n: 1 }]);
    await query("insert into t values ($1)", [2]);
    await query("rollback", []);
    expect(sent).toEqual(["begin; insert into t values (1) returning n", "insert into t values ($1)", "rollback"]);
    expect(await rows()).toEqual([]);
  });

  it("sends begin on its own before a first statement with parameters, and commits", async () => {
    sent.length = 0;
    await query("begin", []);
    await query("insert into t values ($1)", [3]);
    await query("commit", []);
    expect(sent).toEqual(["begin", "insert into t values ($1)", "commit"]);
    expect(await rows()).toEqual([3]);
  });

  it("sends nothing for a transaction that ran nothing, and leaves the connection outside any transaction", async () => {
    sent.length = 0;
    await query("begin", []);
    await query("commit", []);
    await query("begin", []);
    await query("rollback", []);
    expect(sent).toEqual([]);
    // Outside a transaction, a failed statement does not poison the next one (inside one, it would).
    await expect(query("select 1/0", [])).rejects.toThrow(/division by zero/);
    expect((await query("select 2 as two", [])).rows).toEqual([{ two: 2 }]);
  });

  it("leaves a transaction whose first statement failed to the rollback that follows", async () => {
    await query("begin", []);
    await expect(query("select 1/0", [])).rejects.toThrow(/division by zero/);
    await query("rollback", []);
    expect((await query("select 3 as three", [])).rows).toEqual([{ three: 3 }]);
  });
});
