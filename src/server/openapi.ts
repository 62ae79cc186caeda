/** The API's input schemas (zod, used to validate) and the OpenAPI 3.1 description generated from them. */
import { z } from "zod";
import { RUN_STATES } from "../store/schema.ts";

const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);

const mapIndex = z.coerce.number().int().min(0);

export const schemas = {
  PatchDag: z.object({ paused: z.boolean() }).strict(),
  GridQuery: z.object({ limit: z.coerce.number().int().min(1).max(200).default(25) }),
  RunsQuery: z.object({
    dagId: z.string().min(1).optional(),
    state: z.enum(RUN_STATES).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  }),
  TriggerRun: z
    .object({
      conf: z.record(z.string(), z.unknown()).optional(),
      logicalDate: z.iso.datetime({ offset: true }).optional(),
      runId: z.string().min(1).max(250).optional(),
    })
    .strict(),
  Backfill: z
    .object({
      start: z.iso.datetime({ offset: true }),
      end: z.iso.datetime({ offset: true }),
      conf: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  /** `mapIndexes`: only these instances of a mapped task (its relatives are taken whole). */
  Relatives: z.object({ downstream: bool.default(false), upstream: bool.default(false), mapIndexes: z.array(z.number().int().min(0)).optional() }).strict(),
  Mark: z
    .object({ state: z.enum(["success", "failed"]), downstream: bool.default(false), upstream: bool.default(false), mapIndexes: z.array(z.number().int().min(0)).optional() })
    .strict(),
  EventsQuery: z.object({ dagId: z.string().min(1).optional(), runId: z.string().min(1).optional() }),
  /** Which instance of a mapped task (required for one, refused for an unmapped task). */
  TaskInstanceQuery: z.object({ mapIndex: mapIndex.optional() }),
  LogsQuery: z.object({
    mapIndex: mapIndex.optional(),
    try: z.coerce.number().int().min(1).optional(),
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  }),
};

interface Route {
  method: "get" | "post" | "patch" | "delete";
  path: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  stream?: boolean;
}

const TI = "/api/dags/{dagId}/runs/{runId}/tasks/{taskId}";
const ROUTES: Route[] = [
  { method: "get", path: "/api/health", summary: "Liveness and the store backend" },
  { method: "get", path: "/api/dags", summary: "DAGs with recent run states, next run, paused flag and load errors; files that failed to load" },
  { method: "get", path: "/api/dags/{dagId}", summary: "A DAG as last parsed: tasks, edges, params, environments" },
  { method: "patch", path: "/api/dags/{dagId}", summary: "Pause or unpause a DAG", body: schemas.PatchDag },
  { method: "get", path: "/api/dags/{dagId}/source", summary: "The DAG file's source as last parsed" },
  { method: "get", path: "/api/dags/{dagId}/grid", summary: "Recent runs × tasks with each task instance's state; a mapped task's cell has the group state and `mapped: { count, states }`", query: schemas.GridQuery },
  { method: "get", path: "/api/dags/{dagId}/doctor", summary: "doctor's findings for the DAG's file (run in a child process)" },
  { method: "get", path: "/api/runs", summary: "Runs of all DAGs, newest first", query: schemas.RunsQuery },
  { method: "get", path: "/api/dags/{dagId}/runs", summary: "Runs of a DAG, newest first", query: schemas.RunsQuery.omit({ dagId: true }) },
  { method: "post", path: "/api/dags/{dagId}/runs", summary: "Trigger a run; conf keys naming a param must have its type", body: schemas.TriggerRun },
  { method: "post", path: "/api/dags/{dagId}/backfill", summary: "Queue one backfill run per schedule interval whose logical date is in [start, end] (at most 1000); dates with a run are skipped. Returns { created: [runId…], existing }", body: schemas.Backfill },
  { method: "get", path: "/api/dags/{dagId}/runs/{runId}", summary: "A run with its task instances and their queued / environment / execution times" },
  { method: "post", path: "/api/dags/{dagId}/runs/{runId}/cancel", summary: "Cancel a queued or running run (running tries are aborted)" },
  { method: "get", path: TI, summary: "A task instance: state, tries, return value, XComs, environment, error with its fix (mapIndex for a mapped task)", query: schemas.TaskInstanceQuery },
  { method: "get", path: `${TI}/tries`, summary: "Finished tries of a task instance", query: schemas.TaskInstanceQuery },
  { method: "get", path: `${TI}/xcom`, summary: "XCom values of a task instance", query: schemas.TaskInstanceQuery },
  { method: "post", path: `${TI}/clear`, summary: "Clear the task (every map index of a mapped one, or those in mapIndexes; and downstream/upstream) so it runs again", body: schemas.Relatives },
  { method: "post", path: `${TI}/mark`, summary: "Mark the task (every map index of a mapped one, or those in mapIndexes; and downstream/upstream) success or failed", body: schemas.Mark },
  { method: "get", path: `${TI}/logs`, summary: "A page of a try's log lines", query: schemas.LogsQuery },
  { method: "get", path: `${TI}/logs/stream`, summary: "A try's log lines as Server-Sent Events (event line, then end)", query: schemas.LogsQuery, stream: true },
  { method: "get", path: "/api/events", summary: "Run and task state changes of the server's workers as Server-Sent Events (events run, task)", query: schemas.EventsQuery, stream: true },
  { method: "get", path: "/api/environments", summary: "Cached environments: Python, packages, size, last use, tasks that used them" },
  { method: "get", path: "/api/environments/{key}", summary: "One environment by key or unique prefix: lock, installed packages, uses, build log" },
  { method: "post", path: "/api/environments/{key}/rebuild", summary: "Rebuild (re-resolve) an environment from the spec of the last task that used it" },
  { method: "delete", path: "/api/environments/{key}", summary: "Remove an environment (refused while a task uses it)" },
];

const ERROR = {
  type: "object",
  properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" }, fix: { type: "string" } }, required: ["code", "message"] } },
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const query = r.query
      ? Object.entries((z.toJSONSchema(r.query, { io: "input" }) as { properties?: Record<string, unknown> }).properties ?? {}).map(([name, schema]) => ({ name, in: "query", required: false, schema }))
      : [];
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method] = {
      summary: r.summary,
      parameters: [...params, ...query],
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: z.toJSONSchema(r.body, { io: "input" }) } } } } : {}),
      responses: {
        [r.method === "post" && (r.path.endsWith("/runs") || r.path.endsWith("/backfill")) ? "201" : "200"]: { description: "OK", content: { [r.stream ? "text/event-stream" : "application/json"]: {} } },
        "4XX": { description: "Bad request, unknown thing, refused", content: { "application/json": { schema: ERROR } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "venvflow server API", version: "1" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "Required when the server binds a non-loopback address" } } },
    security: [{}, { bearer: [] }],
    paths,
  };
}
