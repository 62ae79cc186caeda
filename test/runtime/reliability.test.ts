/**
 * Issue #9, runtime side, under both launchers: nothing a task started outlives it (escaped daemons included), a task
 * dies with its host, an early exit is a success with None said out loud, and results JSON cannot carry are explained.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runCallable } from "../../src/runtime/index.ts";
import type { CallableOptions } from "../../src/runtime/types.ts";
import { sweepDeadOwners } from "../../src/util/scratch.ts";
import { gone, LAUNCH_MODES, PYTHON, readLog, removeScratch, scratch, useLaunchMode } from "./helpers.ts";

afterAll(removeScratch);

const python = PYTHON;
const home = inject("sharedHome");
let dir: string;
beforeAll(async () => {
  dir = await scratch();
});

function run(source: string, options: Partial<CallableOptions> = {}) {
  return runCallable({ pythonCallable: { source }, python, home, ...options });
}

async function pidIn(file: string): Promise<number> {
  for (;;) {
    const text = (await readFile(file, "utf8").catch(() => "")).trim();
    if (/^\d+$/.test(text)) return Number(text);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A callable that double-forks a daemon into its own session (keeping or closing the inherited fds) and returns. */
const daemonizer = (pidFile: string, closeFds: boolean): string => `import os, time
def f():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            ${closeFds ? "os.closerange(0, 64)" : "pass"}
            with open(${JSON.stringify(pidFile)}, "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(60)
        os._exit(0)
    os.waitpid(pid, 0)
    while not open(${JSON.stringify(pidFile)}).read().strip() if os.path.exists(${JSON.stringify(pidFile)}) else True:
        time.sleep(0.01)
    return "started"
`;

describe.each(LAUNCH_MODES)("%s launcher", (mode) => {
  useLaunchMode(mode);

  describe("#9.3 a task ends when its runner does, and takes everything it started with it", () => {
    it.each([
      ["a setsid daemon that keeps stdout open", false],
      ["a setsid daemon that closed its fds", true],
    ])("%s is killed when the callable returns", async (_what, closeFds) => {
      const pidFile = join(dir, `daemon-${mode}-${String(closeFds)}`);
      const started = Date.now();
      const result = await run(daemonizer(pidFile, closeFds));
      expect(result).toMatchObject({ state: "success", returnValue: "started" });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await gone(await pidIn(pidFile))).toBe(true);
    });
  });

  describe("#9.4 exiting before returning", () => {
    it.each([
      ["os._exit(0)", "import os\ndef f():\n    os._exit(0)\n"],
      ["sys.exit(0)", "import sys\ndef f():\n    sys.exit(0)\n"],
    ])("%s is a success with None, and the task log says so", async (_how, source) => {
      const result = await run(source);
      expect(result).toMatchObject({ state: "success", returnValue: null, exitCode: 0 });
      const lines = await readLog(result.logPath);
      expect(lines).toContainEqual(expect.objectContaining({ stream: "system", level: "WARNING", msg: "the callable exited before returning; its result is None" }));
    });

    it("a normal return of None says nothing of the kind", async () => {
      const result = await run("def f():\n    return None\n");
      expect((await readLog(result.logPath)).some((line) => line.msg.includes("exited before returning"))).toBe(false);
    });
  });

  describe("#9.1 a task process dies with its host", () => {
    it("kill -9 of the process running runCallable ends the task's process", async () => {
      const pidFile = join(dir, `orphan-${mode}`);
      const script = join(dir, `host-${mode}.mts`);
      const runtime = new URL("../../src/runtime/index.ts", import.meta.url).pathname;
      const source = `import os, time\ndef f():\n    open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\n    time.sleep(60)\n`;
      await writeFile(script, `import { runCallable } from ${JSON.stringify(runtime)};\nawait runCallable({ pythonCallable: { source: ${JSON.stringify(source)} }, python: ${JSON.stringify(python)}, home: ${JSON.stringify(home)} });\n`);
      const tsx = new URL("../../node_modules/.bin/tsx", import.meta.url).pathname;
      // Its own temp directory: what the killed host leaves stays out of the machine's /tmp.
      const tmp = join(dir, `tmp-${mode}`);
      await mkdir(tmp);
      const host = spawn(tsx, [script], { stdio: "ignore", detached: true, env: { ...process.env, TMPDIR: tmp } });
      const task = await pidIn(pidFile);
      process.kill(-host.pid!, "SIGKILL");
      expect(await gone(task, 5000)).toBe(true);
      // No call directory any more (runner protocol 2); in fork mode the warm pool's socket is left, named with
      // its dead owner's pid: the sweep that workers and `env gc` run removes it, and keeps a live process's.
      const left = (await readdir(tmp)).filter((name) => name.startsWith("venvflow-"));
      expect(left).toHaveLength(mode === "fork" ? 1 : 0);
      expect(left.every((name) => name.startsWith("venvflow-warm-"))).toBe(true);
      const live = join(tmp, `venvflow-bash-${process.pid}-live`);
      await mkdir(live);
      expect(sweepDeadOwners({ dir: tmp }).sort()).toEqual(left.map((name) => join(tmp, name)).sort());
      expect((await readdir(tmp)).filter((name) => name.startsWith("venvflow-"))).toEqual([`venvflow-bash-${process.pid}-live`]);
    }, 30_000);
  });

  describe("signals and large output", () => {
    it("a callable killed by a signal fails with the signal, not a result", async () => {
      const result = await run("import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)\n");
      expect(result).toMatchObject({ state: "failed", exitCode: null, error: { type: "ProcessExit", message: "Process was killed by SIGKILL" } });
    });

    it("carries 8 MB of stdout and a 1 MB logging record whole", async () => {
      let stdoutBytes = 0;
      let longest = 0;
      const result = await run("import logging, sys\ndef f():\n    for _ in range(8192):\n        sys.stdout.write('x' * 1023 + '\\n')\n    logging.info('y' * (1 << 20))\n    return 'ok'\n", {
        onLog: (line) => {
          if (line.stream === "stdout") stdoutBytes += line.msg.length + 1;
          if (line.stream === "log") longest = Math.max(longest, line.msg.length);
        },
      });
      expect(result).toMatchObject({ state: "success", returnValue: "ok" });
      expect(stdoutBytes).toBe(8192 * 1024);
      expect(longest).toBe(1 << 20);
    });
  });

  describe("#9.14 results JSON cannot carry", () => {
    it.each([
      ["float('nan')", "nan"],
      ["[1, float('inf')]", "inf"],
      ["{'x': -float('inf')}", "-inf"],
    ])("%s fails with a clear error naming the value and the fix", async (value, shown) => {
      const result = await run(`def f():\n    return ${value}\n`);
      expect(result.state).toBe("failed");
      expect(result.error).toMatchObject({ code: "not_json_serializable", fix: expect.stringContaining("return None") });
      expect(result.error?.message).toContain(`${shown}, which JSON cannot represent`);
    });

    it("a structure nested deeper than the recursion limit is explained, not a bare RecursionError", async () => {
      const result = await run("def f():\n    value = []\n    for _ in range(5000):\n        value = [value]\n    return value\n");
      expect(result.state).toBe("failed");
      expect(result.error).toMatchObject({ type: "VenvflowError", code: "result_too_deep", fix: expect.stringContaining("flatter") });
    });
  });
});
