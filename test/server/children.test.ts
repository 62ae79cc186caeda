/** The server's child processes (src/server/children.ts) end with the server, by any death of it. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isAlive } from "../../src/util/process.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "venvflow-children-test-"));
// A folder with DAGs: a worker child with none would exit on its own.
const DAGS = new URL("./fixtures/dags", import.meta.url).pathname;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a server child", () => {
  it("exits when the server that started it is killed with SIGKILL", async () => {
    const children = new URL("../../src/server/children.ts", import.meta.url).pathname;
    const script = `import { spawnChild } from ${JSON.stringify(children)};
const child = spawnChild("worker-child", [${JSON.stringify(DAGS)}, "1"], { ...process.env, VENVFLOW_HOME: ${JSON.stringify(dir)} });
child.stdout.on("data", (d) => { if (String(d).includes('"ready"')) console.log(child.pid); });
setInterval(() => undefined, 1000);`;
    const server = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const childPid = await new Promise<number>((resolve) => server.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim()))));
    expect(isAlive(childPid)).toBe(true);
    server.kill("SIGKILL");
    let gone = false;
    for (const end = Date.now() + 10_000; Date.now() < end && !gone; await new Promise((resolve) => setTimeout(resolve, 50))) gone = !isAlive(childPid);
    expect(gone).toBe(true);
  }, 60_000);
});
