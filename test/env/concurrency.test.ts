import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureEnvironment, listEnvironments } from "../../src/env/index.ts";
import { isAlive } from "../../src/util/process.ts";
import { REPO_ROOT, tsNodeArgs } from "../support/cli.ts";
import { testPipEnv } from "../support/pypi.ts";

const WORKER = path.join(REPO_ROOT, "test", "env", "fixtures", "ensure-worker.ts");
let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "venvflow-conc-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

interface WorkerLine {
  event?: string;
  done?: boolean;
  key?: string;
}

function startWorker(spec: object): { child: ChildProcess; lines: WorkerLine[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, tsNodeArgs(WORKER, [home, JSON.stringify(spec)]), { env: testPipEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const lines: WorkerLine[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, newline)) as WorkerLine);
      buffer = buffer.slice(newline + 1);
    }
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

describe("concurrent and interrupted builds", () => {
  it("8 processes asking for one new key cause exactly one build; all get the same environment", async () => {
    const spec = { installer: "pip", pythonVersion: "3", requirements: ["vf-alpha==2.0.0"], indexUrls: [inject("indexUrl")] };
    const workers = Array.from({ length: 8 }, () => startWorker(spec));
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes).toEqual(Array(8).fill(0));
    const builders = workers.filter((w) => w.lines.some((l) => l.event === "create"));
    expect(builders).toHaveLength(1);
    const keys = new Set(workers.map((w) => w.lines.find((l) => l.done)?.key));
    expect(keys.size).toBe(1);
    const key = [...keys][0]!;
    expect((await readdir(path.join(home, "logs", "builds"))).filter((f) => f.startsWith(key))).toHaveLength(1);
  });

  it("kill -9 during an install: the partial environment is never used, and the next request recovers at once", async () => {
    const spec = { installer: "pip", pythonVersion: "3", requirements: ["vf-beta[fast]"], indexUrls: [inject("indexUrl")] };
    const victim = startWorker(spec);
    while (!victim.lines.some((l) => l.event === "install")) {
      if (victim.child.exitCode !== null) throw new Error("worker finished before it could be killed");
      await sleep(10);
    }
    // The lock records the installer's process group; read it before the kill so we can check it dies too.
    const lockDir = (await readdir(path.join(home, "locks"))).find((d) => d.endsWith(".lock"));
    expect(lockDir).toBeDefined();
    let owner: { pid: number; childPgid?: number } | null = null;
    while (!owner?.childPgid) {
      owner = JSON.parse(await readFile(path.join(home, "locks", lockDir!, "owner.json"), "utf8")) as { pid: number; childPgid?: number };
      await sleep(5);
    }
    victim.child.kill("SIGKILL");
    await victim.exited;
    const key = lockDir!.replace(/\.lock$/, "");
    expect(existsSync(path.join(home, "envs", key))).toBe(true); // the half-built directory is there…
    expect(existsSync(path.join(home, "envs", key, "venvflow-env.json"))).toBe(false); // …but never published
    expect((await listEnvironments({ home })).map((e) => e.key)).not.toContain(key);

    const started = Date.now();
    const env = await ensureEnvironment(spec as never, { home, env: testPipEnv() });
    expect(env.key).toBe(key);
    // Recovered by seeing the owner dead, not by waiting out the 30 s staleness period.
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(isAlive(owner.childPgid!)).toBe(false);
    expect(env.lock.map((p) => p.name)).toEqual(["vf-alpha", "vf-beta", "vf-gamma"]);
  });
});
