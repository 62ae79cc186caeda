import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";
import { testPipEnv } from "../support/pypi.ts";
import { startTestServer, waitFor, type TestServer } from "./helpers.ts";

let t: TestServer;

// Written into the server's DAG folder (not the shared fixtures), so other tests' DAG lists stay as they are.
const DAILY_DAG = `import { dag, task } from "venvflow";

dag("daily", { schedule: "@daily", maxActiveRuns: 1, params: { region: "eu" } }, () => {
  task.bash({ taskId: "hello" }, () => "echo hello")();
});
`;

beforeAll(async () => {
  t = await startTestServer();
  await writeFile(path.join(t.dagFolder, "daily.ts"), DAILY_DAG);
  await waitFor("the daily DAG to be parsed", async () => (await t.api("/api/dags/daily")).status === 200);
});
afterAll(async () => {
  await t?.close();
});

const backfillRunsOf = async (): Promise<Array<{ runId: string; logicalDate: string; state: string; runType: string }>> =>
  ((await t.api("/api/dags/daily/runs?limit=500")).body as Array<{ runId: string; logicalDate: string; state: string; runType: string }>).filter((r) => r.runType === "backfill");

describe("backfill", () => {
  it("queues one run per daily interval in the range, runs them, and skips dates that already have a run", async () => {
    const res = await t.api("/api/dags/daily/backfill", { method: "POST", body: { start: "2026-01-01T00:00:00Z", end: "2026-01-03T00:00:00Z" } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({ created: ["backfill__2026-01-01T00:00:00.000Z", "backfill__2026-01-02T00:00:00.000Z", "backfill__2026-01-03T00:00:00.000Z"], existing: 0 });
    const detail = (await t.api("/api/dags/daily/runs/backfill__2026-01-02T00%3A00%3A00.000Z")).body;
    expect(detail).toMatchObject({ runType: "backfill", logicalDate: "2026-01-02T00:00:00.000Z", dataIntervalStart: "2026-01-02T00:00:00.000Z", dataIntervalEnd: "2026-01-03T00:00:00.000Z" });
    let mostRunning = 0;
    const finished = await waitFor("the backfill runs to succeed", async () => {
      const runs = await backfillRunsOf();
      mostRunning = Math.max(mostRunning, runs.filter((r) => r.state === "running").length);
      return runs.length === 3 && runs.every((r) => r.state === "success") ? runs : undefined;
    });
    // maxActiveRuns: 1 holds for backfill runs as for any queued run.
    expect(mostRunning).toBeLessThanOrEqual(1);
    expect(finished.map((r) => r.logicalDate).sort()).toEqual(["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"]);

    // A manual run on 2026-01-04 takes that date: the overlapping backfill creates only the 5th.
    const manual = await t.api("/api/dags/daily/runs", { method: "POST", body: { logicalDate: "2026-01-04T00:00:00Z" } });
    expect(manual.status).toBe(201);
    const again = await t.api("/api/dags/daily/backfill", { method: "POST", body: { start: "2026-01-02T00:00:00Z", end: "2026-01-05T12:00:00Z", conf: { region: "us" } } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body).toEqual({ created: ["backfill__2026-01-05T00:00:00.000Z"], existing: 3 });
    expect((await t.api("/api/dags/daily/runs/backfill__2026-01-05T00%3A00%3A00.000Z")).body.conf).toEqual({ region: "us" });
  });

  it("refuses bad ranges, a conf of the wrong type and a DAG without a schedule with a 4xx that says the fix", async () => {
    const cases: Array<[string, unknown, number, string]> = [
      ["daily", { start: "2026-01-03T00:00:00Z", end: "2026-01-01T00:00:00Z" }, 400, "invalid_backfill_range"],
      ["daily", { start: "2020-01-01T00:00:00Z", end: "2026-01-01T00:00:00Z" }, 400, "backfill_range_too_long"],
      ["daily", { start: "yesterday", end: "2026-01-01T00:00:00Z" }, 400, "invalid_request"],
      ["daily", { start: "2026-01-01T00:00:00Z" }, 400, "invalid_request"],
      ["daily", { start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z", conf: { region: 3 } }, 400, "invalid_conf"],
      ["shop", { start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z" }, 409, "backfill_without_schedule"],
      ["nope", { start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z" }, 404, "dag_not_found"],
    ];
    for (const [dagId, body, status, code] of cases) {
      const res = await t.api(`/api/dags/${dagId}/backfill`, { method: "POST", body });
      expect(res.status, `${dagId} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.fix).toEqual(expect.any(String));
    }
    // A range of exactly the cap is accepted: 1000 daily intervals (paused first, so they are not all run).
    expect((await t.api("/api/dags/daily", { method: "PATCH", body: { paused: true } })).status).toBe(200);
    const atCap = await t.api("/api/dags/daily/backfill", { method: "POST", body: { start: "2020-01-01T00:00:00Z", end: "2022-09-26T00:00:00Z" } });
    expect(atCap.status, JSON.stringify(atCap.body)).toBe(201);
    expect(atCap.body.created).toHaveLength(1000);
    const spec = (await t.api("/api/openapi.json")).body;
    expect(spec.paths["/api/dags/{dagId}/backfill"].post.requestBody.content["application/json"].schema.required).toEqual(["start", "end"]);
  });

  it("backfills from the CLI", async () => {
    const env = testPipEnv({ VENVFLOW_HOME: t.home, VENVFLOW_DATABASE_URL: path.join(t.home, "venvflow.db") });
    const out = await runCli(["backfill", "daily", "--start", "2025-06-01T00:00:00Z", "--end", "2025-06-02T00:00:00Z", "--json"], { env });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ dagId: "daily", created: ["backfill__2025-06-01T00:00:00.000Z", "backfill__2025-06-02T00:00:00.000Z"], existing: 0 });
    const bad = await runCli(["backfill", "shop", "--start", "2025-06-01T00:00:00Z", "--end", "2025-06-02T00:00:00Z"], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("no cron schedule");
  });
});

const BROWSER = [process.env.VENVFLOW_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => !!p && existsSync(p));
if (!BROWSER) process.stderr.write("backfill form test skipped: no Chromium at /usr/bin/chromium (apt-get install chromium, or set VENVFLOW_CHROMIUM)\n");

describe.skipIf(!BROWSER)("the Backfill form in Chromium", () => {
  it("queues the runs of a date range, says how many, and shows a refused range with its fix", async () => {
    const profile = await mkdtemp(path.join(tmpdir(), "venvflow-chromium-"));
    const context = await chromium.launchPersistentContext(profile, { executablePath: BROWSER as string, headless: true, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(30_000);
      await page.goto(new URL("/dags/daily", t.server.url).href);
      const form = page.getByRole("region", { name: "Backfill" });
      await form.getByLabel("Backfill start date (UTC)").fill("2024-03-01");
      await form.getByLabel("Backfill end date (UTC, included)").fill("2024-03-02");
      await form.getByRole("button", { name: "Backfill" }).click();
      await expect.poll(() => form.getByRole("status").textContent()).toBe("2 run(s) queued");
      await form.getByRole("button", { name: "Backfill" }).click();
      await expect.poll(() => form.getByRole("status").textContent()).toBe("0 run(s) queued, 2 date(s) already had a run");
      expect((await t.api("/api/dags/daily/runs/backfill__2024-03-02T00%3A00%3A00.000Z")).body.runType).toBe("backfill");
      await form.getByLabel("Backfill start date (UTC)").fill("2024-03-05");
      await form.getByRole("button", { name: "Backfill" }).click();
      const alert = form.getByRole("alert");
      await expect.poll(() => alert.textContent()).toContain("invalid_backfill_range");
      expect(await alert.textContent()).toContain("pass a start at or before the end");
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  });
});
