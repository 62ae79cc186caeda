/** A real `venvflow server` (in this process; DAG processor and workers in children) over a copy of the fixture DAGs. */
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { startServer, type RunningServer, type ServerOptions } from "../../src/server/server.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { testPipEnv } from "../support/pypi.ts";

export const FIXTURE_DAGS = fileURLToPath(new URL("./fixtures/dags", import.meta.url));

export interface TestServer {
  server: RunningServer;
  store: Store;
  home: string;
  dagFolder: string;
  /** fetch against the server, JSON in and out. */
  api(pathname: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test-side JSON
  close(): Promise<void>;
}

export async function startTestServer(opts: Partial<Pick<ServerOptions, "requireToken" | "token" | "slots" | "host">> & { dbUrl?: string } = {}): Promise<TestServer> {
  const root = await mkdtemp(path.join(tmpdir(), "venvflow-server-test-"));
  const home = path.join(root, "home");
  const dagFolder = path.join(root, "dags");
  await cp(FIXTURE_DAGS, dagFolder, { recursive: true });
  const childEnv = testPipEnv({ VENVFLOW_HOME: home, PIP_INDEX_URL: inject("indexUrl"), ...(opts.dbUrl ? { VENVFLOW_DATABASE_URL: opts.dbUrl } : { VENVFLOW_DATABASE_URL: path.join(home, "venvflow.db") }) });
  const store = await openStore(opts.dbUrl ?? path.join(home, "venvflow.db"), { home });
  const server = await startServer({ store, home, dagFolder, port: 0, childEnv, debounceMs: 100, log: (line) => { if (process.env.VENVFLOW_TEST_SERVER_LOG) process.stderr.write(`${new Date().toISOString().slice(14, 23)} ${line}\n`); }, slots: opts.slots ?? 4, ...opts });
  const token = server.token;
  return {
    server,
    store,
    home,
    dagFolder,
    async api(pathname, init = {}) {
      const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers };
      if (init.body !== undefined) headers["content-type"] ??= "application/json";
      const res = await fetch(new URL(pathname, server.url.replace("//0.0.0.0:", "//127.0.0.1:")), { method: init.method ?? "GET", headers, ...(init.body !== undefined ? { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) } : {}) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body };
    },
    async close() {
      await server.close();
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export const enc = encodeURIComponent;
