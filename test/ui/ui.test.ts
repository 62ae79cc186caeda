/**
 * The web UI in a real browser (playwright-core driving the system's Chromium) against a real server with real
 * runs. Without a browser the suite is skipped with the reason printed. VENVFLOW_UI_SCREENSHOTS=DIR also saves
 * screenshots of the main views there (docs/ui/ holds the ones docs/ui.md shows).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enc, startTestServer, waitFor, type TestServer } from "../server/helpers.ts";

const BROWSER = [process.env.VENVFLOW_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => !!p && existsSync(p));
const WEB_DIST = fileURLToPath(new URL("../../web/dist/index.html", import.meta.url));
const SCREENSHOTS = process.env.VENVFLOW_UI_SCREENSHOTS;
// Pages poll the API each second; a Python task's first run builds its environment.
const until = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 90_000, interval: 100 });
if (!BROWSER) process.stderr.write("test/ui skipped: no Chromium at /usr/bin/chromium (apt-get install chromium, or set VENVFLOW_CHROMIUM)\n");

describe.skipIf(!BROWSER)("web UI in Chromium", () => {
  let t: TestServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const url = (p: string): string => new URL(p, t.server.url).href;

  async function shoot(name: string): Promise<void> {
    if (!SCREENSHOTS) return;
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** No markup from data ever ran: the fixtures' payloads set window.__xss when interpreted. */
  async function expectNoXss(): Promise<void> {
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
  }

  beforeAll(async () => {
    if (!existsSync(WEB_DIST)) throw new Error("web/dist is missing: run `npm run build` first (it builds the UI)");
    t = await startTestServer();
    profile = await mkdtemp(path.join(tmpdir(), "venvflow-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: BROWSER as string,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
  });
  afterAll(async () => {
    await context?.close();
    await t?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("lists the DAGs, with a broken file's error shown as text", async () => {
    await page.goto(url("/"));
    await until(() => page.locator("tr[data-dag-id]").count()).toBe(5);
    await until(() => page.getByText("failed to load").first().isVisible()).toBe(true);
    // The error quotes the task id <img src=x onerror=…> verbatim, as text.
    await until(() => page.getByText('task id "<img src=x onerror="window.__xss=5">" is not valid').first().isVisible()).toBe(true);
    await expectNoXss();
    await shoot("dag-list-empty");
  });

  it("triggers a run from the params form and watches the graph turn green", async () => {
    await page.goto(url("/dags/shop/trigger"));
    // A conf value of the wrong type is refused with the server's explanation and fix.
    await page.getByLabel(/Extra conf/).fill('{"count": "many"}');
    await page.getByRole("button", { name: "▶ Trigger" }).click();
    await until(() => page.getByRole("alert").innerText()).toContain('param "count" of DAG "shop" is a number');
    await page.getByLabel(/Extra conf/).fill("");
    await page.getByLabel("count").fill("6");
    await page.getByRole("button", { name: "▶ Trigger" }).click();
    await page.waitForURL(/\/dags\/shop\/runs\/manual__/);
    const node = (id: string) => page.locator(`.graph-node[data-task-id="${id}"]`);
    await until(() => node("report").count()).toBe(1);
    const seen = new Set<string>();
    await waitFor("the graph to turn green", async () => {
      for (const id of ["extract", "py_sum", "report"]) seen.add(`${id}:${await node(id).getAttribute("data-state")}`);
      return (await node("report").getAttribute("data-state")) === "success";
    }, 120_000);
    // The page showed the run while it progressed (py_sum takes half a second), not only its end.
    expect([...seen].some((s) => !s.endsWith(":success") && !s.endsWith(":null")), [...seen].join(" ")).toBe(true);
    expect(await node("extract").getAttribute("data-state")).toBe("success");
    expect(await node("py_sum").getAttribute("data-state")).toBe("success");
    // The labels say it too (not colour alone).
    expect(await node("report").innerText()).toContain("success");
    await until(() => page.locator(".gantt-row").count()).toBe(3);
    expect(await page.locator(".gantt-row", { hasText: "py_sum" }).locator(".seg-env").count()).toBe(1);
    await shoot("run");
    await page.emulateMedia({ colorScheme: "dark" });
    await shoot("run-dark");
    await page.emulateMedia({ colorScheme: "light" });
    await node("report").locator("a").click();
    await page.waitForURL(/\/tasks\/report$/);
    await until(() => page.locator("section[aria-label='Return value'] pre").innerText()).toBe("items: 15");
    await shoot("task");
  });

  it("opens a failed task and reads its fix", async () => {
    const run = await t.api("/api/dags/broken/runs", { method: "POST", body: {} });
    await waitFor("the broken run to fail", async () => (await t.api(`/api/dags/broken/runs/${enc(run.body.runId)}`)).body.state === "failed", 120_000);
    await page.goto(url("/dags/broken"));
    // The runs table filters by state.
    const runsTable = page.locator("section[aria-label='Runs']");
    await until(() => runsTable.getByRole("link", { name: run.body.runId }).count()).toBe(1);
    await page.getByLabel("Filter runs by state").selectOption("success");
    await until(() => runsTable.getByText("No runs in state success.").count()).toBe(1);
    await page.getByRole("button", { name: /render in .*: failed/ }).click();
    await page.waitForURL(/\/tasks\/render$/);
    const failure = page.locator("section[aria-label='Why it failed']");
    await until(() => failure.isVisible()).toBe(true);
    expect(await failure.innerText()).toContain("tabulate");
    expect(await failure.getByRole("heading", { name: "How to fix it" }).isVisible()).toBe(true);
    await shoot("failed-task");
  });

  it("follows a live log while the task runs", async () => {
    const run = await t.api("/api/dags/slow/runs", { method: "POST", body: {} });
    await page.goto(url(`/dags/slow/runs/${enc(run.body.runId)}/tasks/tick`));
    const log = page.getByLabel("Task log");
    await until(() => log.innerText()).toContain("tick 2");
    // Still following while lines arrive, then complete.
    expect(await page.getByText("tick 8").count()).toBe(0);
    await until(() => log.innerText()).toContain("tick 8");
    await until(() => page.getByText(/lines, complete/).isVisible()).toBe(true);
  });

  it("clears a task and sees it run again", async () => {
    const runs = (await t.api("/api/dags/shop/runs")).body;
    const runId = runs[0].runId as string;
    await page.goto(url(`/dags/shop/runs/${enc(runId)}/tasks/report`));
    await page.getByRole("button", { name: "↻ Clear" }).click();
    await until(() => page.getByRole("status").first().innerText()).toContain("Cleared: report");
    await until(() => page.locator("h1").innerText()).toContain("success");
    await until(() => page.locator(".tries li").count()).toBe(2);
    expect(await page.locator(".tries li").nth(1).innerText()).toContain("try 2");
  });

  it("shows a mapped task by count in the grid, and opens one map index and its log", async () => {
    const res = await t.api("/api/dags/mapped/runs", { method: "POST", body: {} });
    const runId = res.body.runId as string;
    await waitFor("the mapped run", async () => (await t.api(`/api/dags/mapped/runs/${enc(runId)}`)).body.state === "failed", 120_000);
    await page.goto(url("/dags/mapped"));
    const cell = page.getByRole("button", { name: `check in ${runId}: failed, 3 mapped: 2 success, 1 failed` });
    await until(() => cell.isVisible()).toBe(true);
    expect(await cell.locator(".mapped-count").innerText()).toBe("3");
    expect(await cell.getAttribute("title")).toBe("3 mapped: 2 ✓ 1 ✗");
    await cell.click();
    await page.getByRole("link", { name: "map index 1: failed" }).click();
    await page.waitForURL(new RegExp(`/dags/mapped/runs/${enc(runId)}/tasks/check/1$`));
    await until(() => page.getByLabel("Task log").innerText()).toContain("checking 2");
    expect(await page.getByLabel("Task log").innerText()).not.toContain("checking 3");
    await until(() => page.getByRole("region", { name: "Why it failed" }).innerText()).toContain("item 2 is bad");
    await shoot("mapped-task");
    // On one instance, marking acts on that instance only.
    expect(await page.getByLabel("only [1]").isChecked()).toBe(true);
    await page.getByRole("button", { name: "✓ Mark success" }).click();
    await until(() => page.getByRole("status").first().innerText()).toContain("Marked success: check");
    const instance = async (i: number) => (await t.api(`/api/dags/mapped/runs/${enc(runId)}/tasks/check?mapIndex=${i}`)).body as { state: string; tryNumber: number };
    expect(await instance(1)).toMatchObject({ state: "success" });
    expect(await instance(0)).toMatchObject({ state: "success", tryNumber: 1 });
  });

  it("shows the environments, with the tasks that used them", async () => {
    await page.goto(url("/environments"));
    const row = page.locator("tr[data-env-key]", { hasText: "shop.py_sum" });
    await until(() => row.count()).toBe(1);
    expect(await row.innerText()).toMatch(/cpython 3\.\d+\.\d+/);
    await shoot("environments");
    await row.getByRole("link").click();
    await until(() => page.getByRole("heading", { name: /Used by/ }).isVisible()).toBe(true);
    expect(await page.locator("section[aria-label='Uses']").innerText()).toContain("shop.py_sum");
  });

  it("pauses a DAG from the list with the keyboard", async () => {
    await page.goto(url("/"));
    const toggle = page.getByRole("switch", { name: "Pause slow" });
    await toggle.focus();
    await page.keyboard.press("Space");
    await waitFor("slow to be paused", async () => (await t.api("/api/dags/slow")).body.paused === true);
    await until(() => page.getByRole("switch", { name: "Unpause slow" }).isChecked()).toBe(false);
    await page.getByRole("switch", { name: "Unpause slow" }).press("Space");
    await waitFor("slow to be active", async () => (await t.api("/api/dags/slow")).body.paused === false);
  });

  it("shows markup in log lines and return values as text", async () => {
    const run = await t.api("/api/dags/xss/runs", { method: "POST", body: {} });
    const runId = run.body.runId as string;
    await waitFor("the xss run", async () => (await t.api(`/api/dags/xss/runs/${enc(runId)}`)).body.state === "success", 120_000);
    await page.goto(url(`/dags/xss/runs/${enc(runId)}/tasks/shout`));
    await until(() => page.getByLabel("Task log").innerText()).toContain('<script>window.__xss=1</script><img src=x onerror="window.__xss=2">');
    await expectNoXss();
    await page.goto(url(`/dags/xss/runs/${enc(runId)}/tasks/markup`));
    await until(() => page.locator("section[aria-label='Return value'] pre").innerText()).toBe('<img src=x onerror="window.__xss=3"><script>window.__xss=4</script>');
    await expectNoXss();
    await page.goto(url("/"));
    await until(() => page.locator("tr[data-dag-id]").count()).toBe(5);
    await expectNoXss();
    await shoot("dag-list");
    await page.goto(url("/dags/shop"));
    await until(() => page.locator(".graph-node").count()).toBe(3);
    await shoot("dag");
  });
});
