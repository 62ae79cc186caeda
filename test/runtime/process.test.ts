/** The shared process primitive (src/util/process.ts) and the Bash tasks that run through it. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BashOperator, dag } from "../../src/index.ts";
import { invokeTask } from "../../src/engine/execute.ts";
import { runProcessGroup } from "../../src/util/process.ts";
import { gone, removeScratch, scratch } from "./helpers.ts";

afterAll(removeScratch);

async function pidFrom(file: string): Promise<number> {
  for (;;) {
    const text = (await readFile(file, "utf8").catch(() => "")).trim();
    if (/^\d+$/.test(text)) return Number(text);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// A grandchild that ignores SIGTERM and does not hold the pipes: only a final SIGKILL of the group ends it.
const stubbornGrandchild = (pidFile: string): string => `(trap '' TERM; exec sleep 300) >/dev/null 2>&1 </dev/null & echo $! > ${pidFile}; wait`;

describe("runProcessGroup", () => {
  it("streams each fd's lines and feeds stdin", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const extra: string[] = [];
    const outcome = await runProcessGroup({
      command: "bash",
      args: ["-c", "read x; echo \"got $x\"; echo oops >&2; echo side >&3; exit 3"],
      input: "hello\n",
      lines: { 1: (l) => out.push(l), 2: (l) => err.push(l), 3: (l) => extra.push(l) },
    });
    expect(outcome).toEqual({ exitCode: 3, signal: null, stopped: false, timedOut: false });
    expect([out, err, extra]).toEqual([["got hello"], ["oops"], ["side"]]);
  });

  it("kills a grandchild that ignores SIGTERM when the timeout stops the group", async () => {
    const pidFile = join(await scratch(), "pid");
    const outcome = await runProcessGroup({ command: "bash", args: ["-c", `trap '' TERM; ${stubbornGrandchild(pidFile)}`], timeoutMs: 300, graceMs: 300 });
    expect(outcome).toMatchObject({ stopped: true, timedOut: true, signal: "SIGKILL" });
    expect(await gone(await pidFrom(pidFile))).toBe(true);
  });

  it("ends the call when the leader exits even if a daemon in its own session keeps the pipes open", async () => {
    const pidFile = join(await scratch(), "pid");
    const started = Date.now();
    const outcome = await runProcessGroup({ command: "bash", args: ["-c", `setsid sleep 30 & echo $! > ${pidFile}; echo done`], lines: { 1: () => undefined } });
    expect(outcome.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    process.kill(await pidFrom(pidFile), "SIGKILL");
  });

  it("rejects when the command cannot start", async () => {
    await expect(runProcessGroup({ command: "/no/such/binary", args: [] })).rejects.toThrow(/ENOENT/);
  });
});

describe("Bash tasks use it", () => {
  it("kill the command's grandchildren on executionTimeout, even one that ignores SIGTERM", async () => {
    const pidFile = join(await scratch(), "pid");
    const d = dag("bash_timeout", {}, () => {
      new BashOperator({ taskId: "slow", bashCommand: stubbornGrandchild(pidFile), executionTimeout: "500ms" });
    });
    const dir = await scratch();
    const invocation = await invokeTask({
      dag: d,
      task: d.tasks.get("slow")!,
      runId: "manual__1",
      tryNumber: 1,
      logicalDate: new Date(),
      dataIntervalStart: new Date(),
      dataIntervalEnd: new Date(),
      conf: {},
      xcoms: new Map(),
      logPath: join(dir, "log.jsonl"),
      home: dir,
      onLog: () => undefined,
    });
    expect(invocation.error).toMatchObject({ type: "AirflowTaskTimeout", code: "execution_timeout" });
    // The grace period (2 s) before the final SIGKILL of the group, plus delivery.
    expect(await gone(await pidFrom(pidFile), 6000)).toBe(true);
  });
});
