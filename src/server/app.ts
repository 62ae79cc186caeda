/**
 * The HTTP API (JSON under /api, described at /api/openapi.json) and the built web UI. Every input is checked
 * with zod; errors are `{ error: { code, message, fix } }` with a 4xx status for what the caller can fix.
 */
import { timingSafeEqual } from "node:crypto";
import type { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { DoctorReport } from "../doctor/index.ts";
import type { EngineEvent } from "../engine/types.ts";
import { backfillRuns, cancelRun, clearTaskInstances, markTaskInstances, setDagPaused, triggerStoredDag } from "../engine/operations.ts";
import { getStoredDag } from "../engine/serialized-dags.ts";
import type { Store } from "../store/index.ts";
import { RUN_STATES } from "../store/schema.ts";
import { VenvflowError } from "../util/errors.ts";
import { deleteEnvironment, environmentDetail, environmentList, rebuildSource } from "./environments.ts";
import { openApiDocument, schemas } from "./openapi.ts";
import { runJsonChild } from "./run-child.ts";
import { LogTail, readLogLines } from "../runtime/logs.ts";
import { dagDetail, dagGrid, dagList, requireRun, runDetail, runList, taskDetail, tryLogPath } from "../engine/views.ts";

export interface AppOptions {
  store: Store;
  home: string;
  /** Required on every /api request when set (non-loopback binds). */
  token: string | null;
  /**
   * Host names (without port) requests may address on a loopback bind; null on other binds, where clients use
   * whatever name reaches the machine and the token does the guarding.
   */
  allowedHosts: ReadonlySet<string> | null;
  /** The built UI (web/dist); null serves a page saying how to build it. */
  webRoot: string | null;
  /** Environment for child processes (doctor). */
  childEnv: NodeJS.ProcessEnv;
  /** Emits "event" with each `EngineEvent` (run and task state changes) of the server's workers. */
  engineEvents?: EventEmitter;
}

const TOKEN_COOKIE = "venvflow_token";
const LOG_POLL_MS = 300;
const DOCTOR_TIMEOUT_MS = 300_000;
const REBUILD_TIMEOUT_MS = 1_800_000;

function statusFor(code: string): 400 | 403 | 404 | 409 | 500 {
  if (code.endsWith("_not_found") || code === "dags_not_found") return 404;
  if (code === "run_exists" || code === "backfill_without_schedule" || code === "env_in_use" || code === "env_rebuild_unknown_spec") return 409;
  if (code === "forbidden" || code === "unauthorized") return 403;
  if (code.startsWith("invalid_") || code === "backfill_range_too_long" || code === "map_index_required" || code === "ambiguous_env_key" || code === "run_ambiguous") return 400;
  return 500;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new VenvflowError("invalid_request", `invalid ${what}: ${z.prettifyError(result.error).replace(/\n/g, "; ")}`, {
      fix: "see /api/openapi.json for the expected shape",
    });
  }
  return result.data;
}

async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!type.startsWith("application/json")) {
    throw new VenvflowError("invalid_request", `the request body must be JSON, got content-type "${type || "none"}"`, { fix: "send Content-Type: application/json" });
  }
  try {
    return await c.req.json();
  } catch {
    throw new VenvflowError("invalid_request", "the request body is not valid JSON", { fix: "send a JSON object" });
  }
}

const sameToken = (given: string | undefined, token: string): boolean => {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
};

export function createApp(opts: AppOptions): Hono {
  const { store, home } = opts;
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof VenvflowError) return c.json({ error: error.toJSON() }, statusFor(error.code));
    return c.json({ error: { code: "internal_error", message: error.message } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: "route_not_found", message: `no route ${c.req.method} ${c.req.path}`, fix: "see /api/openapi.json" } }, 404));

  // Host check first: a DNS-rebinding page must not reach a loopback server through its own host name.
  app.use("*", async (c, next) => {
    const host = (c.req.header("host") ?? "").replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
    if (opts.allowedHosts && !opts.allowedHosts.has(host)) return c.json({ error: { code: "forbidden", message: `host "${host}" is not served here`, fix: "use the URL the server printed" } }, 403);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    await next();
  });

  // Token: a header for programs, a cookie for the browser (set once from ?token= on the UI's first page).
  app.use("*", async (c, next) => {
    if (opts.token === null) return next();
    const fromQuery = c.req.query("token");
    if (!c.req.path.startsWith("/api/") && sameToken(fromQuery, opts.token)) {
      setCookie(c, TOKEN_COOKIE, opts.token, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect(c.req.path);
    }
    const bearer = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
    if (sameToken(bearer, opts.token) || sameToken(getCookie(c, TOKEN_COOKIE), opts.token)) return next();
    if (!c.req.path.startsWith("/api/")) return c.text("venvflow server: open the URL with ?token=… that the server printed when it started\n", 401);
    return c.json({ error: { code: "unauthorized", message: "this server needs a token", fix: "send Authorization: Bearer <token> (printed by `venvflow server`, or VENVFLOW_SERVER_TOKEN)" } }, 401);
  });

  // State-changing requests only from this origin: browsers send Sec-Fetch-Site and Origin on cross-site requests.
  app.use("/api/*", async (c, next) => {
    if (["GET", "HEAD", "OPTIONS"].includes(c.req.method)) return next();
    const site = c.req.header("sec-fetch-site");
    const origin = c.req.header("origin");
    const self = new URL(c.req.url).host;
    const crossSite = (site !== undefined && site !== "same-origin" && site !== "none") || (origin !== undefined && origin !== "null" && new URL(origin).host !== self) || origin === "null";
    if (crossSite) {
      return c.json({ error: { code: "forbidden", message: `cross-site ${c.req.method} refused (origin ${origin ?? "?"}, sec-fetch-site ${site ?? "?"})`, fix: "use the venvflow UI or a program without a browser origin" } }, 403);
    }
    return next();
  });

  const api = new Hono();
  api.get("/openapi.json", (c) => c.json(openApiDocument()));
  api.get("/health", (c) => c.json({ ok: true, store: store.backend }));

  api.get("/dags", async (c) => c.json(await dagList(store)));
  api.get("/dags/:dagId", async (c) => c.json(await dagDetail(store, c.req.param("dagId"))));
  api.get("/dags/:dagId/source", async (c) => {
    const s = await getStoredDag(store, c.req.param("dagId"));
    return c.json({ dagId: s.dag.dagId, fileloc: s.dag.fileloc, source: s.source, parsedAt: s.parsedAt });
  });
  api.patch("/dags/:dagId", async (c) => {
    const body = parse(schemas.PatchDag, await jsonBody(c), "DAG update");
    await setDagPaused(store, c.req.param("dagId"), body.paused);
    return c.json(await dagDetail(store, c.req.param("dagId")));
  });
  api.get("/dags/:dagId/grid", async (c) => {
    const q = parse(schemas.GridQuery, c.req.query(), "query");
    return c.json(await dagGrid(store, c.req.param("dagId"), q.limit));
  });
  api.get("/dags/:dagId/doctor", async (c) => {
    const s = await getStoredDag(store, c.req.param("dagId"));
    return c.json(await runJsonChild<DoctorReport>("doctor-child", [s.dag.fileloc], opts.childEnv, DOCTOR_TIMEOUT_MS));
  });

  api.get("/runs", async (c) => {
    const q = parse(schemas.RunsQuery, c.req.query(), "query");
    return c.json(await runList(store, q));
  });
  api.get("/dags/:dagId/runs", async (c) => {
    const q = parse(schemas.RunsQuery.omit({ dagId: true }), c.req.query(), "query");
    await getStoredDag(store, c.req.param("dagId"));
    return c.json(await runList(store, { ...q, dagId: c.req.param("dagId") }));
  });
  api.post("/dags/:dagId/runs", async (c) => {
    const body = parse(schemas.TriggerRun, await jsonBody(c), "trigger request");
    const run = await triggerStoredDag(store, c.req.param("dagId"), {
      conf: body.conf ?? {},
      ...(body.logicalDate ? { logicalDate: new Date(body.logicalDate) } : {}),
      ...(body.runId ? { runId: body.runId } : {}),
    });
    return c.json(await runDetail(store, run.dag_id, run.run_id), 201);
  });
  api.post("/dags/:dagId/backfill", async (c) => {
    const body = parse(schemas.Backfill, await jsonBody(c), "backfill request");
    const result = await backfillRuns(store, c.req.param("dagId"), { start: new Date(body.start), end: new Date(body.end), conf: body.conf ?? {} });
    return c.json({ created: result.created.map((r) => r.run_id), existing: result.existing }, 201);
  });
  api.get("/dags/:dagId/runs/:runId", async (c) => c.json(await runDetail(store, c.req.param("dagId"), c.req.param("runId"))));
  api.post("/dags/:dagId/runs/:runId/cancel", async (c) => {
    const result = await cancelRun(store, c.req.param("dagId"), c.req.param("runId"));
    return c.json(result);
  });

  const ti = "/dags/:dagId/runs/:runId/tasks/:taskId";
  const instance = async (c: Context): Promise<Record<string, unknown>> => {
    const q = parse(schemas.TaskInstanceQuery, c.req.query(), "query");
    return taskDetail(store, c.req.param("dagId") as string, c.req.param("runId") as string, c.req.param("taskId") as string, q.mapIndex);
  };
  api.get(ti, async (c) => c.json(await instance(c)));
  api.get(`${ti}/tries`, async (c) => c.json((await instance(c)).tries));
  api.get(`${ti}/xcom`, async (c) => c.json((await instance(c)).xcoms));
  api.post(`${ti}/clear`, async (c) => {
    const body = parse(schemas.Relatives, await jsonBody(c), "clear request");
    const cleared = await clearTaskInstances(store, c.req.param("dagId"), c.req.param("runId"), [c.req.param("taskId")], body);
    return c.json({ cleared });
  });
  api.post(`${ti}/mark`, async (c) => {
    const body = parse(schemas.Mark, await jsonBody(c), "mark request");
    const changed = await markTaskInstances(store, c.req.param("dagId"), c.req.param("runId"), [c.req.param("taskId")], body.state, body);
    return c.json({ changed });
  });
  api.get(`${ti}/logs`, async (c) => {
    const q = parse(schemas.LogsQuery, c.req.query(), "query");
    const { dagId, runId, taskId } = c.req.param();
    await requireRun(store, dagId, runId);
    const log = await tryLogPath(store, dagId, runId, taskId, q.try, q.mapIndex);
    const lines = readLogLines(log.path);
    const page = lines.slice(q.offset, q.offset + q.limit);
    return c.json({ tryNumber: log.tryNumber, offset: q.offset, total: lines.length, nextOffset: q.offset + page.length, lines: page, finished: await log.finished() });
  });
  api.get(`${ti}/logs/stream`, async (c) => {
    const q = parse(schemas.LogsQuery, c.req.query(), "query");
    const { dagId, runId, taskId } = c.req.param();
    await requireRun(store, dagId, runId);
    const log = await tryLogPath(store, dagId, runId, taskId, q.try, q.mapIndex);
    return streamSSE(c, async (stream) => {
      // Reads only what was appended since the last tick: following a long log stays cheap.
      const tail = new LogTail();
      let seen = 0;
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      while (!closed) {
        // Read "finished" before the file: lines written before the try ended are then all in this read.
        const finished = await log.finished();
        const current = log.path ?? (await tryLogPath(store, dagId, runId, taskId, q.try ?? log.tryNumber, q.mapIndex)).path;
        for (const line of tail.read(current)) {
          if (++seen > q.offset) await stream.writeSSE({ event: "line", id: String(seen), data: JSON.stringify(line) });
        }
        if (finished) {
          await stream.writeSSE({ event: "end", data: JSON.stringify({ tryNumber: log.tryNumber, total: seen }) });
          break;
        }
        await stream.sleep(LOG_POLL_MS);
      }
    });
  });

  api.get("/events", (c) => {
    const q = parse(schemas.EventsQuery, c.req.query(), "query");
    return streamSSE(c, async (stream) => {
      const queue: EngineEvent[] = [];
      let wake: (() => void) | null = null;
      const onEvent = (e: EngineEvent): void => {
        if ((q.dagId && e.dagId !== q.dagId) || (q.runId && e.runId !== q.runId)) return;
        queue.push(e);
        wake?.();
      };
      opts.engineEvents?.on("event", onEvent);
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: "ready", data: "{}" });
        while (!closed) {
          while (queue.length > 0) {
            const e = queue.shift() as EngineEvent;
            await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
          }
          // A comment line every 15 s keeps proxies from closing an idle stream.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 15_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
          if (queue.length === 0 && !closed) await stream.write(": keep-alive\n\n");
        }
      } finally {
        opts.engineEvents?.off("event", onEvent);
      }
    });
  });

  api.get("/environments", async (c) => c.json(await environmentList(store, home)));
  api.get("/environments/:key", async (c) => c.json(await environmentDetail(store, home, c.req.param("key"))));
  api.post("/environments/:key/rebuild", async (c) => {
    const { task, dagFile } = await rebuildSource(store, home, c.req.param("key"));
    const built = await runJsonChild<{ key: string; path: string }>("rebuild-child", [dagFile, task.dagId, task.taskId], opts.childEnv, REBUILD_TIMEOUT_MS);
    return c.json({ ...built, from: task });
  });
  api.delete("/environments/:key", async (c) => c.json(await deleteEnvironment(home, c.req.param("key"))));

  api.get("/states", (c) => c.json({ runStates: RUN_STATES }));
  app.route("/api", api);

  if (opts.webRoot) {
    const root = opts.webRoot;
    app.use("/assets/*", serveStatic({ root }));
    // Every other path is a page of the single-page app.
    app.get("*", async (c) => {
      if (c.req.path.startsWith("/api/")) return c.notFound();
      const html = await readFile(path.join(root, "index.html"), "utf8").catch(() => null);
      if (html === null) return c.text("the web UI is not built: run `npm run build`\n", 503);
      c.header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
      return c.html(html);
    });
  }
  return app;
}
