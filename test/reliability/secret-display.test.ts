/**
 * Issue #9.9: a secret a callable returns is stored as is (its downstream tasks receive it, as in Airflow) but
 * every display of stored values masks it: `runs show` (text and --json), `venvflow test`, the server API (hence
 * the UI).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dag, task } from "../../src/dag/index.ts";
import { runDag, runTask } from "../../src/engine/run-dag.ts";
import { startServer } from "../../src/server/server.ts";
import { openStore } from "../../src/store/index.ts";
import { BACKENDS, useStores } from "../engine/backends.ts";
import { runCli } from "../support/cli.ts";
import { anyPython } from "../support/pythons.ts";

const SECRET = "s3cr3t-value-xyz";

function secretDag() {
  return dag("secret_display", {}, () => {
    const token = task.externalPython(
      { taskId: "get_token", python: anyPython, envVars: { TOKEN: { secret: SECRET } } },
      { source: "import os\n\ndef get_token():\n    return {'token': os.environ['TOKEN'], 'note': 'token=' + os.environ['TOKEN'], 'plain': 1}\n" },
    )();
    task({ taskId: "use_token" }, (got: unknown) => {
      const { token: received } = got as { token: string };
      return { receivedReal: received === SECRET, length: received.length };
    })(token);
  });
}

describe.each(BACKENDS)("secrets returned by a task, on %s", (backend) => {
  const stores = useStores(backend);

  it("reach the downstream task in clear and every display masked", async () => {
    const url = await stores.newUrl();
    const store = await openStore(url, { home: stores.home });
    try {
      const d = secretDag();
      const summary = await runDag(d, { store, home: stores.home });
      expect(summary.state).toBe("success");
      // The downstream task got the real value through XCom.
      expect(summary.tasks.find((t) => t.taskId === "use_token")?.returnValue).toEqual({ receivedReal: true, length: SECRET.length });
      // The engine's summary (what `runs show` prints) masks it.
      expect(summary.tasks.find((t) => t.taskId === "get_token")?.returnValue).toEqual({ token: "***", note: "token=***", plain: 1 });
      // The stored value stays real: a rerun of the downstream task alone would receive it.
      const stored = await store.db.selectFrom("xcom").select(["value", "display_value"]).where("task_id", "=", "get_token").executeTakeFirstOrThrow();
      expect(JSON.parse(stored.value)).toMatchObject({ token: SECRET });
      expect(stored.display_value).not.toContain(SECRET);

      const env = { ...process.env, VENVFLOW_HOME: stores.home, VENVFLOW_DATABASE_URL: url };
      for (const args of [["runs", "show", summary.runId, "--json"], ["runs", "show", summary.runId]]) {
        const shown = await runCli(args, { env });
        expect(shown.code, shown.stderr).toBe(0);
        expect(shown.stdout).toContain("***");
        expect(`${shown.stdout}${shown.stderr}`).not.toContain(SECRET);
      }

      // `venvflow test` (nothing recorded) shows what a run would, masked.
      const tested = await runTask(d, "get_token", { store, home: stores.home });
      expect(tested.returnValue).toEqual({ token: "***", note: "token=***", plain: 1 });
      expect(JSON.stringify(tested)).not.toContain(SECRET);

      const dagFolder = await mkdtemp(path.join(os.tmpdir(), "venvflow-secret-dags-"));
      const server = await startServer({ store, home: stores.home, dagFolder, port: 0, host: "127.0.0.1", slots: 1, childEnv: env, debounceMs: 100 });
      try {
        const base = new URL(`/api/dags/secret_display/runs/${encodeURIComponent(summary.runId)}`, server.url).href;
        const headers = server.token ? { authorization: `Bearer ${server.token}` } : undefined;
        for (const suffix of ["", "/tasks/get_token", "/tasks/get_token/xcom"]) {
          const res = await fetch(`${base}${suffix}`, { headers });
          const text = await res.text();
          expect(res.status, text).toBe(200);
          expect(text).not.toContain(SECRET);
        }
        const detail = (await (await fetch(`${base}/tasks/get_token`, { headers })).json()) as { returnValue: unknown; xcoms: Array<{ value: unknown }> };
        expect(detail.returnValue).toEqual({ token: "***", note: "token=***", plain: 1 });
        expect(detail.xcoms[0]?.value).toEqual({ token: "***", note: "token=***", plain: 1 });
      } finally {
        await server.close();
        await rm(dagFolder, { recursive: true, force: true });
      }
    } finally {
      await store.close();
    }
  });
});
