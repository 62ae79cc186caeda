import { readFile, writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";
import { anyPython, versionOf } from "../support/pythons.ts";
import { enc, startTestServer, waitFor, type TestServer } from "./helpers.ts";

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.close();
});

async function triggerAndWait(dagId: string, body: unknown = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- test-side JSON
  const res = await t.api(`/api/dags/${dagId}/runs`, { method: "POST", body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return waitFor(`run of ${dagId} to finish`, async () => {
    const run = (await t.api(`/api/dags/${dagId}/runs/${enc(res.body.runId)}`)).body;
    return ["success", "failed"].includes(run.state) ? run : undefined;
  });
}

describe("venvflow server API", () => {
  it("lists the parsed DAGs, and a file that fails to load with its error", async () => {
    const { status, body } = await t.api("/api/dags");
    expect(status).toBe(200);
    expect(body.dags.map((d: { dagId: string }) => d.dagId)).toEqual(["broken", "mapped", "shop", "slow", "xss"]);
    const shop = body.dags.find((d: { dagId: string }) => d.dagId === "shop");
    expect(shop).toMatchObject({ taskCount: 3, paused: false, schedule: null, loadError: null });
    expect(body.importErrors).toHaveLength(1);
    expect(body.importErrors[0]).toMatchObject({ code: "invalid_task_id" });
    expect(body.importErrors[0].file).toMatch(/bad_task_id\.ts$/);
    const detail = (await t.api("/api/dags/shop")).body;
    expect(detail.tasks.map((x: { taskId: string }) => x.taskId)).toEqual(["extract", "py_sum", "report"]);
    expect(detail.tasks[1].environment).toMatchObject({ pythonVersion: "3" });
    expect(detail.params).toEqual({ count: 4, label: "items" });
    const source = (await t.api("/api/dags/shop/source")).body;
    expect(source.source).toContain('dag("shop"');
    const broken = (await t.api("/api/dags/broken")).body;
    expect(broken.tasks[1].environment.indexUrls).toEqual(["http://vfuser:***@127.0.0.1:9/simple"]);
    const brokenSource = (await t.api("/api/dags/broken/source")).body.source as string;
    expect(brokenSource).toContain("http://vfuser:***@127.0.0.1:9/simple");
    expect(brokenSource).not.toContain("s3cr3tpw");
  });

  it("shows a mapped task by count in the grid and the run, and each map index's instance and log by mapIndex", async () => {
    const run = await triggerAndWait("mapped");
    expect(run.state).toBe("failed");
    expect(run.taskInstances.map((x: { taskId: string; mapIndex: number; state: string }) => [x.taskId, x.mapIndex, x.state])).toEqual([
      ["check", 0, "success"],
      ["check", 1, "failed"],
      ["check", 2, "success"],
    ]);
    const grid = (await t.api("/api/dags/mapped/grid")).body;
    expect(grid.tasks).toEqual([expect.objectContaining({ taskId: "check", mapped: true })]);
    const cell = grid.runs.find((r: { runId: string }) => r.runId === run.runId).taskInstances.check;
    expect(cell).toEqual({ state: "failed", tryNumber: 1, mapped: { count: 3, states: { success: 2, failed: 1 } } });

    const base = `/api/dags/mapped/runs/${enc(run.runId)}/tasks/check`;
    const failed = await t.api(`${base}?mapIndex=1`);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ taskId: "check", mapIndex: 1, state: "failed", hasReturnValue: false });
    expect(failed.body.error.message).toContain("item 2 is bad");
    expect(failed.body.tries).toHaveLength(1);
    const ok = (await t.api(`${base}?mapIndex=2`)).body;
    expect(ok).toMatchObject({ mapIndex: 2, state: "success", hasReturnValue: true, returnValue: 30 });
    expect((await t.api(`${base}/xcom?mapIndex=0`)).body).toEqual([expect.objectContaining({ key: "return_value", value: 10 })]);
    const log = (await t.api(`${base}/logs?mapIndex=1`)).body;
    expect(log.finished).toBe(true);
    const text = log.lines.map((l: { msg: string }) => l.msg).join("\n");
    expect(text).toContain("checking 2");
    expect(text).not.toContain("checking 3");
    expect((await t.api(`${base}/logs?mapIndex=2`)).body.lines.map((l: { msg: string }) => l.msg).join("\n")).toContain("checking 3");
    const streamed = await fetch(new URL(`${base}/logs/stream?mapIndex=0`, t.server.url));
    expect(await streamed.text()).toContain("checking 1");

    const missing = await t.api(base);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: "map_index_required", fix: "add ?mapIndex=N (0 to 2)" });
    expect((await t.api(`${base}/logs`)).body.error.code).toBe("map_index_required");
    const outOfRange = await t.api(`${base}?mapIndex=3`);
    expect(outOfRange.status).toBe(404);
    expect(outOfRange.body.error.code).toBe("map_index_not_found");
    expect((await t.api(`${base}?mapIndex=-1`)).status).toBe(400);
    // Clearing or marking one instance names it; one the task does not have is refused, and nothing changes.
    const clearMissing = await t.api(`${base}/clear`, { method: "POST", body: { mapIndexes: [3] } });
    expect(clearMissing.status).toBe(404);
    expect(clearMissing.body.error).toMatchObject({ code: "map_index_not_found", fix: "its map indexes are 0 to 2" });
    expect((await t.api(`${base}/mark`, { method: "POST", body: { state: "failed", mapIndexes: [-1] } })).status).toBe(400);
    expect((await t.api(`${base}?mapIndex=2`)).body.state).toBe("success");
  });

  it("describes itself in OpenAPI", async () => {
    const { body } = await t.api("/api/openapi.json");
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toContain("/api/dags/{dagId}/runs/{runId}/tasks/{taskId}/clear");
    expect(body.paths["/api/dags/{dagId}/runs"].post.requestBody.content["application/json"].schema.properties).toHaveProperty("conf");
  });

  it("answers bad input with a 4xx that names the problem and the fix", async () => {
    const wrongType = await t.api("/api/dags/shop/runs", { method: "POST", body: { conf: { count: "four" } } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toMatchObject({ code: "invalid_conf" });
    expect(wrongType.body.error.message).toContain('param "count" of DAG "shop" is a number');
    expect(wrongType.body.error.fix).toContain("number");
    const unknownKey = await t.api("/api/dags/shop/runs", { method: "POST", body: { conf: {}, color: "red" } });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body.error.code).toBe("invalid_request");
    expect(unknownKey.body.error.message).toContain("color");
    const notJson = await t.api("/api/dags/shop/runs", { method: "POST", body: "{nope", headers: { "content-type": "application/json" } });
    expect(notJson.status).toBe(400);
    const form = await t.api("/api/dags/shop/runs", { method: "POST", body: "a=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.status).toBe(400);
    expect(form.body.error.fix).toContain("application/json");
    expect((await t.api("/api/dags/nope")).status).toBe(404);
    expect((await t.api("/api/dags/nope")).body.error.code).toBe("dag_not_found");
    expect((await t.api("/api/dags/shop/runs/nope")).status).toBe(404);
    expect((await t.api("/api/runs?state=sleeping")).status).toBe(400);
    expect((await t.api("/api/dags/shop", { method: "PATCH", body: { paused: "yes" } })).status).toBe(400);
    expect((await t.api("/api/nothing/here")).body.error.code).toBe("route_not_found");
  });

  it("refuses cross-site state changes and foreign Host headers", async () => {
    const cross = await t.api("/api/dags/shop/runs", { method: "POST", body: {}, headers: { origin: "https://evil.example" } });
    expect(cross.status).toBe(403);
    const fetchSite = await t.api("/api/dags/shop", { method: "PATCH", body: { paused: true }, headers: { "sec-fetch-site": "cross-site" } });
    expect(fetchSite.status).toBe(403);
    expect((await t.api("/api/dags/shop")).body.paused).toBe(false);
    // fetch() does not let a caller set Host; node:http does.
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL("/api/dags", t.server.url), { headers: { host: "rebind.example" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it("triggers a run with conf, runs it, and shows task instances, return values, environment and logs", async () => {
    const run = await triggerAndWait("shop", { conf: { count: 5, label: "things" } });
    expect(run.state).toBe("success");
    expect(run.conf).toEqual({ count: 5, label: "things" });
    expect(run.taskInstances.map((x: { taskId: string; state: string }) => [x.taskId, x.state])).toEqual([["extract", "success"], ["py_sum", "success"], ["report", "success"]]);
    const py = run.taskInstances[1];
    expect(py.environment.envKeyPrefix).toMatch(/^[0-9a-f]{12}$/);
    expect(Date.parse(py.environment.executionStartedAt)).toBeGreaterThanOrEqual(Date.parse(py.startedAt));
    const report = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/report`)).body;
    expect(report.returnValue).toBe("things: 10");
    expect(report.tries).toEqual([expect.objectContaining({ tryNumber: 1, state: "success" })]);
    const xcom = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/py_sum/xcom`)).body;
    expect(xcom).toEqual([expect.objectContaining({ key: "return_value", value: 10 })]);
    const page = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/py_sum/logs?offset=0&limit=500`)).body;
    expect(page.finished).toBe(true);
    expect(page.lines.map((l: { msg: string }) => l.msg)).toContain("summing 5 numbers");
    const second = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/py_sum/logs?offset=1&limit=1`)).body;
    expect(second.lines).toEqual([page.lines[1]]);
    expect(second.nextOffset).toBe(2);

    const envs = (await t.api("/api/environments")).body;
    const env = envs.find((e: { key: string }) => e.key.startsWith(py.environment.envKeyPrefix));
    expect(env.usedBy).toContain("shop.py_sum");
    expect(env.python).toBe(versionOf(anyPython));
    const envDetail = (await t.api(`/api/environments/${py.environment.envKeyPrefix}`)).body;
    expect(envDetail.uses[0]).toMatchObject({ dagId: "shop", taskId: "py_sum" });
    expect(envDetail.sizeBytes).toBeGreaterThan(0);
    expect((await t.api("/api/environments/ffffffffffff")).status).toBe(404);
    const rebuilt = await t.api(`/api/environments/${py.environment.envKeyPrefix}/rebuild`, { method: "POST", body: {} });
    expect(rebuilt.status, JSON.stringify(rebuilt.body)).toBe(200);
    expect(rebuilt.body.key).toMatch(/^[0-9a-f]{64}$/);
    expect(rebuilt.body.from).toEqual({ dagId: "shop", taskId: "py_sum" });
  });

  it("shows a failed task's error with the fix", async () => {
    const run = await triggerAndWait("broken");
    expect(run.state).toBe("failed");
    const ti = (await t.api(`/api/dags/broken/runs/${enc(run.runId)}/tasks/render`)).body;
    expect(ti.state).toBe("failed");
    expect(ti.error.message).toContain("tabulate");
    expect(`${ti.error.message}\n${ti.error.fix ?? ""}`).toMatch(/requirements/);
    const privateTask = (await t.api(`/api/dags/broken/runs/${enc(run.runId)}/tasks/private_index`)).body;
    const privateLog = (await t.api(`/api/dags/broken/runs/${enc(run.runId)}/tasks/private_index/logs`)).body;
    expect(privateLog.lines.length).toBeGreaterThan(0);
    expect(JSON.stringify([privateTask, privateLog])).not.toContain("s3cr3tpw");
    // doctor, run in a child process, finds the same before any run.
    const doctor = (await t.api("/api/dags/broken/doctor")).body;
    const finding = doctor.findings.find((f: { taskId: string }) => f.taskId === "render");
    expect(finding.message).toContain("tabulate");
    expect(finding.fix).toContain("tabulate");
  });

  it("streams a live log over Server-Sent Events until the try ends, and state changes as they happen", async () => {
    const abort = new AbortController();
    const stateStream = await fetch(new URL("/api/events?dagId=slow", t.server.url), { signal: abort.signal });
    const reader = (stateStream.body as ReadableStream<Uint8Array>).getReader();
    let received = "";
    const readUntil = async (text: string): Promise<void> => {
      while (!received.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`event stream ended before ${text}`);
        received += new TextDecoder().decode(value);
      }
    };
    await readUntil("event: ready");
    const res = await t.api("/api/dags/slow/runs", { method: "POST", body: {} });
    const runId = res.body.runId as string;
    await readUntil('"taskId":"tick","tryNumber":1,"state":"running"');
    expect(received).toContain(`"runId":"${runId}"`);
    expect(received).not.toContain('"dagId":"shop"');
    abort.abort();
    await waitFor("tick to run", async () => (await t.api(`/api/dags/slow/runs/${enc(runId)}/tasks/tick`)).body.state === "running");
    const stream = await fetch(new URL(`/api/dags/slow/runs/${enc(runId)}/tasks/tick/logs/stream`, t.server.url));
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const text = await stream.text();
    const events = text.split("\n\n").filter(Boolean);
    const lines = events.filter((e) => e.startsWith("event: line")).map((e) => JSON.parse(/data: (.*)/.exec(e)?.[1] ?? "null") as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["tick 1", "tick 8"]));
    expect(events.at(-1)).toContain("event: end");
  });

  it("clears a task and its downstream, which run again", async () => {
    const run = await triggerAndWait("shop");
    const cleared = await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/py_sum/clear`, { method: "POST", body: { downstream: true } });
    expect(cleared.body.cleared).toEqual(["py_sum", "report"]);
    const again = await waitFor("the cleared run to finish", async () => {
      const r = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}`)).body;
      return r.state === "success" && r.taskInstances[2].tryNumber === 2 ? r : undefined;
    });
    expect(again.taskInstances.map((x: { tryNumber: number }) => x.tryNumber)).toEqual([1, 2, 2]);
    const tries = (await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/report/tries`)).body;
    expect(tries.map((x: { tryNumber: number }) => x.tryNumber)).toEqual([1, 2]);
    expect((await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/nope/clear`, { method: "POST", body: {} })).status).toBe(404);
  });

  it("marks a task failed with its downstream, and the run fails", async () => {
    const run = await triggerAndWait("shop");
    const marked = await t.api(`/api/dags/shop/runs/${enc(run.runId)}/tasks/py_sum/mark`, { method: "POST", body: { state: "failed", downstream: true } });
    expect(marked.body.changed).toEqual(["py_sum", "report"]);
    await waitFor("the run to be failed", async () => (await t.api(`/api/dags/shop/runs/${enc(run.runId)}`)).body.state === "failed");
  });

  it("cancels a running run", async () => {
    const res = await t.api("/api/dags/slow/runs", { method: "POST", body: {} });
    const runId = res.body.runId as string;
    await waitFor("tick to run", async () => (await t.api(`/api/dags/slow/runs/${enc(runId)}/tasks/tick`)).body.state === "running");
    expect((await t.api(`/api/dags/slow/runs/${enc(runId)}/cancel`, { method: "POST", body: {} })).body).toEqual({ cancelled: true, state: "failed" });
    const run = (await t.api(`/api/dags/slow/runs/${enc(runId)}`)).body;
    expect(run.taskInstances.map((x: { state: string }) => x.state)).toEqual(["failed", "skipped"]);
    expect((await t.api(`/api/dags/slow/runs/${enc(runId)}/cancel`, { method: "POST", body: {} })).body.cancelled).toBe(false);
  });

  it("pauses: a triggered run waits until the DAG is unpaused (also from the CLI)", async () => {
    expect((await t.api("/api/dags/xss", { method: "PATCH", body: { paused: true } })).body.paused).toBe(true);
    await waitFor("the workers to leave xss alone", async () => !t.server.workingDagIds().includes("xss"));
    const res = await t.api("/api/dags/xss/runs", { method: "POST", body: {} });
    await new Promise((r) => setTimeout(r, 2500));
    expect((await t.api(`/api/dags/xss/runs/${enc(res.body.runId)}`)).body.state).toBe("queued");
    const cli = await runCli(["unpause", "xss"], { env: { ...process.env, VENVFLOW_HOME: t.home, VENVFLOW_DATABASE_URL: path.join(t.home, "venvflow.db") } });
    expect(cli.stdout).toContain("xss is now unpaused");
    await waitFor("the run to succeed", async () => (await t.api(`/api/dags/xss/runs/${enc(res.body.runId)}`)).body.state === "success");
    const missing = await runCli(["pause", "nope"], { env: { ...process.env, VENVFLOW_HOME: t.home, VENVFLOW_DATABASE_URL: path.join(t.home, "venvflow.db") } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no DAG "nope"');
  });

  it("re-parses changed files; a file that breaks keeps its DAG and shows the error", async () => {
    const file = path.join(t.dagFolder, "extra.ts");
    await writeFile(file, `import { dag, task } from "venvflow";\ndag("extra", { schedule: null }, () => { task.bash({ taskId: "one" }, () => "true")(); });\n`);
    await waitFor("extra to appear", async () => (await t.api("/api/dags")).body.dags.some((d: { dagId: string }) => d.dagId === "extra"));
    // The restarted worker loads the files itself: let it finish before breaking one.
    await waitFor("the worker to load extra", async () => (await t.server.workersReady()).includes("extra"));
    const shopFile = path.join(t.dagFolder, "shop.ts");
    const original = await readFile(shopFile, "utf8");
    await writeFile(shopFile, `${original}\nthrow new Error("half-saved edit");\n`);
    const shop = await waitFor("shop's load error", async () => {
      const d = (await t.api("/api/dags")).body.dags.find((x: { dagId: string }) => x.dagId === "shop");
      return d?.loadError ? d : undefined;
    });
    expect(shop.loadError.message).toContain("half-saved edit");
    // The previous version stays: graph, params, source.
    const kept = (await t.api("/api/dags/shop")).body;
    expect(kept.tasks).toHaveLength(3);
    expect(kept.loadError.message).toContain("half-saved edit");
    // …and the workers keep running it.
    const run = await t.api("/api/dags/shop/runs", { method: "POST", body: { runId: "while_broken" } });
    expect(run.status).toBe(201);
    await waitFor("the run of the last good version", async () => (await t.api("/api/dags/shop/runs/while_broken")).body.state === "success", 120_000);
    await rm(file);
    await writeFile(shopFile, original);
    await waitFor("extra to go and shop to load again", async () => {
      const { dags } = (await t.api("/api/dags")).body;
      return !dags.some((d: { dagId: string }) => d.dagId === "extra") && dags.find((d: { dagId: string }) => d.dagId === "shop")?.loadError === null;
    });
  });
});

describe("a server that requires a token", () => {
  it("refuses API calls without it and accepts the bearer token", async () => {
    const s = await startTestServer({ requireToken: true, token: "s3cret-token-for-tests" });
    try {
      expect(s.server.token).toBe("s3cret-token-for-tests");
      const anonymous = await fetch(new URL("/api/dags", s.server.url));
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      expect((await fetch(new URL("/api/dags/shop/runs/x/tasks/y/logs/stream", s.server.url))).status).toBe(401);
      expect((await s.api("/api/dags")).status).toBe(200);
      const page = await fetch(new URL("/?token=s3cret-token-for-tests", s.server.url), { redirect: "manual" });
      expect(page.status).toBe(302);
      expect(page.headers.get("set-cookie")).toMatch(/venvflow_token=.*HttpOnly.*SameSite=Strict/i);
    } finally {
      await s.close();
    }
  });
});

describe("a server bound to every interface", () => {
  it("generates a token and requires it, whatever name the client uses", async () => {
    const s = await startTestServer({ host: "0.0.0.0" });
    try {
      expect(s.server.token).toMatch(/^[\w-]{32}$/);
      const url = s.server.url.replace("//0.0.0.0:", "//127.0.0.1:");
      expect((await fetch(new URL("/api/dags", url))).status).toBe(401);
      expect((await fetch(new URL("/", url))).status).toBe(401);
      expect((await fetch(new URL("/api/dags", url), { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await s.api("/api/dags")).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
