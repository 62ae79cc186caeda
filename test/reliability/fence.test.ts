/**
 * Issue #9.1, the fence itself (src/engine/fence.ts): a lease nobody renews makes the watchdog kill the registered
 * process groups — and nothing else the process started — and a watchdog that is killed is started again.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { closeIdleFence, fencedSince, joinFence, monotonicMs, renewLease } from "../../src/engine/fence.ts";
import { isAlive, runProcessGroup, trackGroup, untrackGroup } from "../../src/util/process.ts";
import { eventually } from "../support/eventually.ts";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const fenceDirs = (): string[] => readdirSync(os.tmpdir()).filter((e) => e.startsWith(`venvflow-fence-${process.pid}-`));

/** The pid of this process's watchdog (its argv names the fence directory). */
function watchdogPid(dir: string): number | null {
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone
    }
    if (argv.some((a) => a.endsWith("fence-watchdog.ts")) && argv.includes(dir) && isAlive(Number(entry))) return Number(entry);
  }
  return null;
}

describe("the fence", () => {
  it("kills the registered groups once the lease is stale, and leaves the process's other children alone", async () => {
    const fence = joinFence(3000); // fenced 2.1 s after the last renewal (room for a loaded machine's delays)
    const unrelated = spawn("sleep", ["60"], { stdio: "ignore" });
    const started = monotonicMs();
    let leader = 0;
    const task = runProcessGroup({ command: "bash", args: ["-c", "sleep 60 & wait"], onSpawn: (pid) => (leader = pid) });
    try {
      // The group made the fence directory and started the watchdog; the lease is renewed while it waits.
      expect(await eventually(() => fenceDirs().length === 1 && leader > 0, 5000)).toBe(true);
      const dir = path.join(os.tmpdir(), fenceDirs()[0]!);
      for (let i = 0; i < 15; i++) {
        renewLease(fence.lease, monotonicMs());
        await sleep(200);
      }
      expect(isAlive(leader)).toBe(true);
      // No renewal from now on: the watchdog acts within the limit and its 100 ms poll.
      const outcome = await task;
      expect(outcome.signal).toBe("SIGKILL");
      expect(fencedSince(started)).toMatchObject({ reason: expect.stringContaining("stopped heartbeating"), killed: expect.arrayContaining([leader]) });
      expect(isAlive(unrelated.pid!)).toBe(true);

      // A watchdog killed by someone is started again.
      const first = watchdogPid(dir);
      expect(first).not.toBeNull();
      process.kill(first!, "SIGKILL");
      expect(await eventually(() => (watchdogPid(dir) ?? first) !== first, 5000)).toBe(true);
    } finally {
      unrelated.kill("SIGKILL");
      fence.leave();
    }
    // The last worker leaving keeps the fence and its watchdog for the process's next worker...
    const [dir] = fenceDirs();
    const kept = watchdogPid(path.join(os.tmpdir(), dir!));
    expect(kept).not.toBeNull();
    const next = joinFence(3000);
    expect(fenceDirs()).toEqual([dir]);
    next.leave();
    expect(watchdogPid(path.join(os.tmpdir(), dir!))).toBe(kept);
    // ...until it has been idle a while: then the watchdog ends, and removes the directory.
    closeIdleFence();
    expect(await eventually(() => fenceDirs().length === 0, 5000)).toBe(true);
    expect(await eventually(() => !isAlive(kept!), 5000)).toBe(true);
  }, 30_000);

  it("keeps its journal of groups short, and still kills a group registered after thousands came and went", async () => {
    const fence = joinFence(3000);
    const started = monotonicMs();
    let leader = 0;
    const first = runProcessGroup({ command: "sleep", args: ["60"], onSpawn: (pid) => (leader = pid) });
    try {
      expect(await eventually(() => fenceDirs().length === 1 && leader > 0, 5000)).toBe(true);
      const journal = path.join(os.tmpdir(), fenceDirs()[0]!, "groups");
      // Groups that came and went (pids no process has here): 20,000 lines, far past the journal's limit.
      for (let i = 0; i < 10_000; i++) {
        trackGroup(3_000_000 + i);
        untrackGroup(3_000_000 + i);
      }
      expect(statSync(journal).size).toBeLessThan(70 * 1024);
      let late = 0;
      const second = runProcessGroup({ command: "sleep", args: ["60"], onSpawn: (pid) => (late = pid) });
      expect(await eventually(() => late > 0, 5000)).toBe(true);
      // No renewal: the watchdog kills both live groups, the one from before the rewrite and the one after.
      const [a, b] = await Promise.all([first, second]);
      expect([a.signal, b.signal]).toEqual(["SIGKILL", "SIGKILL"]);
      expect(fencedSince(started)?.killed).toEqual(expect.arrayContaining([leader, late]));
    } finally {
      fence.leave();
      closeIdleFence();
    }
  }, 30_000);

  it("cleans up quietly after a process that ends with no worker running: its groups die, no fence message", async () => {
    const fenceModule = new URL("../../src/engine/fence.ts", import.meta.url).pathname;
    const processModule = new URL("../../src/util/process.ts", import.meta.url).pathname;
    // A worker came and went (the fence stays for the next one); a group the process started is still running.
    const script = `import { joinFence } from ${JSON.stringify(fenceModule)};
import { runProcessGroup } from ${JSON.stringify(processModule)};
const fence = joinFence(3000);
void runProcessGroup({ command: "sleep", args: ["60"], onSpawn: (pid) => { console.log(pid); fence.leave(); setTimeout(() => process.exit(0), 300); } });`;
    const host = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    host.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    host.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise((resolve) => host.once("exit", resolve));
    const sleeper = Number(stdout.trim());
    expect(sleeper).toBeGreaterThan(0);
    expect(await eventually(() => !isAlive(sleeper), 5000)).toBe(true);
    // The watchdog is gone too (it removed its directory), and said nothing.
    expect(await eventually(() => !readdirSync(os.tmpdir()).some((e) => e.startsWith(`venvflow-fence-${host.pid}-`)), 5000)).toBe(true);
    expect(stderr).not.toMatch(/venvflow fence/);
  }, 30_000);
});
