/**
 * A private PostgreSQL 15 cluster for tests. CI machines are fresh, so nothing may depend on a server started
 * by hand: `VENVFLOW_TEST_POSTGRES_URL` is used when it is set and answers, otherwise a throwaway cluster is
 * initialized in a temp dir, listening on 127.0.0.1 at a free port with trust auth, and removed on stop.
 * initdb refuses to run as root, so as root the cluster is owned by and run as the `postgres` user.
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export interface TestPostgres {
  /** A server URL (its `postgres` database). */
  url: string;
  /** Creates an empty database and returns its URL, so each suite starts clean. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];

/** Why no PostgreSQL can be had for tests (no server URL given, no server binaries), or null when one can. */
export function postgresUnavailable(): string | null {
  if (process.env.VENVFLOW_TEST_POSTGRES_URL) return null;
  if (BIN_DIRS.some((dir) => existsSync(path.join(dir, "initdb")))) return null;
  return `PostgreSQL server binaries not found in ${BIN_DIRS.join(", ")} and VENVFLOW_TEST_POSTGRES_URL is not set; install postgresql-15 to run them`;
}

export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.VENVFLOW_TEST_POSTGRES_URL;
  if (external && (await reachable(external))) return handle(external, async () => {});

  const bin = BIN_DIRS.find((dir) => existsSync(path.join(dir, "initdb")));
  if (!bin) throw new Error(`PostgreSQL server binaries not found in ${BIN_DIRS.join(", ")}; install postgresql-15`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): void => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", path.join(bin, cmd), ...args]] : [path.join(bin, cmd), args];
    execFileSync(file, argv, { stdio: "pipe", cwd: dir });
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
  const port = await freePort();
  // fsync off: a test cluster is thrown away, and fsync dominated start-up and commit times.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
  run("pg_ctl", ["-D", data, "-o", options, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return handle(url, async () => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function handle(url: string, stopServer: () => Promise<void>): TestPostgres {
  let counter = 0;
  const created: string[] = [];
  return {
    url,
    async createDatabase() {
      const name = `venvflow_test_${process.pid}_${Date.now()}_${counter++}`;
      await withClient(url, (client) => client.query(`CREATE DATABASE ${name}`));
      created.push(name);
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    async stop() {
      if (created.length > 0) {
        await withClient(url, async (client) => {
          for (const name of created) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        }).catch(() => {});
      }
      await stopServer();
    },
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function reachable(url: string): Promise<boolean> {
  try {
    await withClient(url, (client) => client.query("select 1"));
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
