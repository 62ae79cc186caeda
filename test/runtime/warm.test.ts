/**
 * Warm interpreters (src/runtime/warm.ts, zygote.py): isolation between forked attempts, preloading and its
 * thread check, and the zygote's lifecycle. Everything else the runtime promises runs under both launchers in
 * the other runtime test files.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prewarmCallable, runCallable, spawnLauncher, WarmPool } from "../../src/runtime/index.ts";
import type { CallableOptions } from "../../src/runtime/types.ts";
import { gone, PYTHON, readLog, removeScratch, scratch } from "./helpers.ts";

const execFileAsync = promisify(execFile);
const python = PYTHON;
let home: string;
let dir: string;
const pools: WarmPool[] = [];

beforeAll(async () => {
  dir = await scratch();
  home = join(dir, "home");
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  await removeScratch();
});

function pool(options: ConstructorParameters<typeof WarmPool>[0] = {}): WarmPool {
  const made = new WarmPool(options);
  pools.push(made);
  return made;
}

function run(launcher: WarmPool, source: string, options: Partial<CallableOptions> = {}) {
  return runCallable({ pythonCallable: { source }, python, home, launcher, ...options });
}

describe("isolation between forked attempts", () => {
  it("forks each attempt from the zygote: the zygote is its parent, each attempt is a new session", async () => {
    const warm = pool();
    const source = "import os\ndef f():\n    return [os.getpid(), os.getppid(), os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid()]\n";
    const [a, b] = [await run(warm, source), await run(warm, source)];
    const zygote = warm.stats()[0]!;
    expect(a.returnValue).toEqual([expect.any(Number), zygote.pid, true, true]);
    expect((b.returnValue as number[])[0]).not.toBe((a.returnValue as number[])[0]);
    expect(zygote.forks).toBe(2);
  });

  it("a module global, an env var and the cwd one attempt changes are pristine in the next", async () => {
    const warm = pool();
    const elsewhere = await scratch();
    const mutate = `import os, string\ndef f():\n    string.venvflow_marker = 1\n    os.environ["LEAKED"] = "yes"\n    os.chdir(${JSON.stringify(elsewhere)})\n    return os.getcwd()\n`;
    const check = "import os, string\ndef f():\n    return [hasattr(string, 'venvflow_marker'), os.environ.get('LEAKED'), os.getcwd()]\n";
    expect((await run(warm, mutate, { cwd: dir })).returnValue).toBe(elsewhere);
    expect((await run(warm, check, { cwd: dir })).returnValue).toEqual([false, null, dir]);
  });

  it("gives the attempt exactly its environment variables (inheritEnv false: only envVars and the protocol's three)", async () => {
    const warm = pool();
    const result = await run(warm, "import os\ndef f():\n    return dict(os.environ)\n", { inheritEnv: false, envVars: { ONLY: "this" } });
    expect(result.returnValue).toEqual({ ONLY: "this", PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8" });
  });

  it("closes every fd of the zygote's: the attempt has stdin, stdout, stderr and the log pipe only", async () => {
    const warm = pool();
    const result = await run(warm, "import os\ndef f():\n    return sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n");
    // The listing's own directory fd shows up as the one after the log pipe.
    expect(result.returnValue).toEqual([0, 1, 2, 3, 4]);
  });

  it("reseeds random, and resets logging, in every attempt", async () => {
    const warm = pool();
    const source = "import random, logging\ndef f():\n    logging.getLogger().addHandler(logging.NullHandler())\n    return [random.random(), len(logging.getLogger().handlers)]\n";
    const [a, b] = [await run(warm, source), await run(warm, source)];
    expect((a.returnValue as number[])[0]).not.toBe((b.returnValue as number[])[0]);
    // Only the runner's own pipe handler and the one the callable added: nothing left from the previous attempt.
    expect((b.returnValue as number[])[1]).toBe(2);
  });

  it("keeps sys.argv and sys.path as a fresh interpreter has them", async () => {
    const file = join(dir, "paths.py");
    await writeFile(file, "import sys\ndef f():\n    return [sys.argv[1:], sys.path[0]]\n");
    const warm = pool();
    const [forked, spawned] = [
      await runCallable({ pythonCallable: `${file}:f`, python, home, launcher: warm }),
      await runCallable({ pythonCallable: `${file}:f`, python, home, launcher: spawnLauncher }),
    ];
    expect((forked.returnValue as unknown[])[1]).toBe(dir);
    expect(forked.returnValue).toEqual(spawned.returnValue);
    expect((forked.returnValue as string[][])[0]).toEqual([]);
  });
});

describe("the end of a forked attempt", () => {
  it("is the child's own exit report, which a forged one (no token) cannot fake", async () => {
    const warm = pool();
    const source = "import os, time\ndef f():\n    os.write(3, b'{\"__venvflow_exit__\": 5, \"token\": \"forged\"}\\n')\n    time.sleep(0.3)\n    return 'ok'\n";
    const result = await run(warm, source);
    expect(result).toMatchObject({ state: "success", returnValue: "ok", exitCode: 0 });
    expect((await readLog(result.logPath)).some((line) => line.stream === "log" && line.msg.includes("forged"))).toBe(true);
  });

  it("of a child killed by a signal comes from the zygote", async () => {
    const warm = pool();
    const result = await run(warm, "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGTERM)\n");
    expect(result).toMatchObject({ state: "failed", exitCode: null, error: { message: "Process was killed by SIGTERM" } });
  });
});

describe("preloading", () => {
  let venvPython: string;
  beforeAll(async () => {
    // An environment with a module that starts a thread when imported (as gRPC or some BLAS builds do).
    const venv = join(await scratch(), "venv");
    await execFileAsync(python, ["-m", "venv", "--without-pip", venv]);
    const { stdout } = await execFileAsync(join(venv, "bin", "python"), ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]);
    await mkdir(stdout.trim(), { recursive: true });
    await writeFile(join(stdout.trim(), "starts_thread.py"), "import threading, time\nthreading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n");
    await writeFile(join(stdout.trim(), "quiet_module.py"), "LOADED_IN = __import__('os').getpid()\n");
    venvPython = join(venv, "bin", "python");
  }, 60_000);

  it("imports the callable's modules in the zygote, once", async () => {
    const warm = pool();
    const source = "import os, quiet_module\ndef f():\n    return [quiet_module.LOADED_IN, os.getppid()]\n";
    const first = await runCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm });
    const second = await runCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm });
    const zygote = warm.stats()[0]!.pid;
    expect(first.returnValue).toEqual([zygote, zygote]);
    expect(second.returnValue).toEqual([zygote, zygote]);
  });

  it("prewarmCallable starts an external interpreter's zygote with the callable's imports, forking nothing", async () => {
    const warm = pool();
    const source = "import os, quiet_module\ndef f():\n    return quiet_module.LOADED_IN\n";
    expect(await prewarmCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm })).toBe(true);
    const [zygote] = warm.stats();
    expect(zygote).toMatchObject({ forks: 0 });
    expect((await runCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm })).returnValue).toBe(zygote!.pid);
  });

  it("a prewarm that meets a module starting a thread drops it, and the first attempt's log says so", async () => {
    const warm = pool();
    const source = "import os, starts_thread\ndef f():\n    return os.getppid()\n";
    expect(await prewarmCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm })).toBe(true);
    const first = await runCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm });
    expect(first.returnValue).toBe(warm.stats()[0]!.pid);
    expect((await readLog(first.logPath)).filter((line) => line.msg.includes("starts_thread starts a thread"))).toHaveLength(1);
  });

  it("preloads what `preload` names, and never the user's own modules next to the callable", async () => {
    const own = join(await scratch(), "task.py");
    await writeFile(join(own, "..", "helper_mod.py"), "import os\nLOADED_IN = os.getpid()\n");
    await writeFile(own, "import os, helper_mod, quiet_module\ndef f():\n    return [helper_mod.LOADED_IN == os.getpid(), quiet_module.LOADED_IN == os.getppid()]\n");
    const warm = pool();
    const result = await runCallable({ pythonCallable: `${own}:f`, python: venvPython, home, launcher: warm, preload: ["quiet_module"] });
    expect(result.returnValue).toEqual([true, true]);
  });

  it("drops a module whose import starts a thread, says so once in the task log, and still forks", async () => {
    const warm = pool();
    const source = "import os, starts_thread\ndef f():\n    return os.getppid()\n";
    const first = await runCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm });
    expect(first.state).toBe("success");
    const said = (await readLog(first.logPath)).filter((line) => line.msg.includes("starts_thread starts a thread"));
    expect(said).toHaveLength(1);
    const second = await runCallable({ pythonCallable: { source }, python: venvPython, home, launcher: warm });
    expect((await readLog(second.logPath)).some((line) => line.msg.includes("starts a thread"))).toBe(false);
    expect(second.returnValue).toBe(warm.stats()[0]!.pid);
  });
});

describe("lifecycle", () => {
  it("restarts a zygote that died; the next attempt still succeeds", async () => {
    const warm = pool();
    const source = "import os\ndef f():\n    return os.getppid()\n";
    const first = await run(warm, source);
    process.kill(first.returnValue as number, "SIGKILL");
    expect(await gone(first.returnValue as number)).toBe(true);
    const second = await run(warm, source);
    expect(second.state).toBe("success");
    expect(second.returnValue).not.toBe(first.returnValue);
  });

  it("spares killed from outside are replaced: the next attempt still succeeds in the same zygote", async () => {
    const warm = pool();
    const source = "import os\ndef f():\n    return os.getppid()\n";
    const zygote = (await run(warm, source)).returnValue as number;
    // The zygote's children now are its spares, waiting for attempts.
    const spares = (await readFile(`/proc/${zygote}/task/${zygote}/children`, "utf8")).trim().split(/\s+/).filter(Boolean).map(Number);
    expect(spares.length).toBeGreaterThan(0);
    for (const pid of spares) process.kill(pid, "SIGKILL");
    for (const pid of spares) expect(await gone(pid)).toBe(true);
    const next = await run(warm, source);
    expect(next).toMatchObject({ state: "success", returnValue: zygote });
  });

  it("an interpreter whose zygote cannot start runs the attempt in a fresh interpreter, saying why", async () => {
    const wrapper = join(dir, "python-without-zygote");
    await writeFile(wrapper, `#!/bin/sh\ncase "$1" in *zygote.py) echo "no zygote here" >&2; exit 3;; esac\nexec ${python} "$@"\n`, { mode: 0o755 });
    const warm = pool();
    const result = await runCallable({ pythonCallable: { source: "import os\ndef f():\n    return os.getppid()\n" }, python: wrapper, home, launcher: warm });
    expect(result).toMatchObject({ state: "success", returnValue: process.pid });
    const lines = await readLog(result.logPath);
    expect(lines).toContainEqual(expect.objectContaining({ stream: "stderr", msg: "no zygote here" }));
    expect(lines).toContainEqual(expect.objectContaining({ stream: "system", level: "WARNING", msg: expect.stringMatching(/^warm interpreter unavailable \(it exited \(code 3\)\); starting a fresh interpreter$/) }));
  });

  it("retires a zygote after maxForks forks", async () => {
    const warm = pool({ maxForks: 2 });
    const source = "import os\ndef f():\n    return os.getppid()\n";
    const parents = [];
    for (let i = 0; i < 3; i++) parents.push((await run(warm, source)).returnValue);
    expect(parents[0]).toBe(parents[1]);
    expect(parents[2]).not.toBe(parents[1]);
    expect(await gone(parents[0] as number)).toBe(true);
  });

  it("stops an idle zygote after idleMs", async () => {
    const warm = pool({ idleMs: 200 });
    const zygote = (await run(warm, "import os\ndef f():\n    return os.getppid()\n")).returnValue as number;
    // Generous: on a loaded machine timers and process exits lag; what matters is that it goes.
    expect(await gone(zygote, 10_000)).toBe(true);
    expect(warm.stats()).toEqual([]);
  });

  it("keeps at most maxZygotes, least recently used out first", async () => {
    const warm = pool({ maxZygotes: 1 });
    const source = "import os\ndef f():\n    return os.getppid()\n";
    const a = (await run(warm, source, { envVars: { WHICH: "a" } })).returnValue as number;
    const b = (await run(warm, source, { envVars: { WHICH: "b" } })).returnValue as number;
    expect(b).not.toBe(a);
    expect(await gone(a)).toBe(true);
    expect(warm.stats().map((z) => z.pid)).toEqual([b]);
  });

  it("VENVFLOW_WARM=0 and warm: false start a fresh interpreter, whose parent is this process", async () => {
    const source = "import os\ndef f():\n    return os.getppid()\n";
    expect((await runCallable({ pythonCallable: { source }, python, home, warm: false })).returnValue).toBe(process.pid);
    process.env.VENVFLOW_WARM = "0";
    try {
      expect((await runCallable({ pythonCallable: { source }, python, home })).returnValue).toBe(process.pid);
    } finally {
      delete process.env.VENVFLOW_WARM;
    }
    expect((await runCallable({ pythonCallable: { source }, python, home })).returnValue).not.toBe(process.pid);
  });

  it("removes the sockets that pools of dead processes left behind", async () => {
    const dead = spawn("true");
    await new Promise((resolve) => dead.once("exit", resolve));
    const stale = join(tmpdir(), `venvflow-warm-${dead.pid}-0123456789ab.sock`);
    await writeFile(stale, "");
    await run(pool(), "def f():\n    return 1\n");
    expect(existsSync(stale)).toBe(false);
  });

  it("refuses a preload that is not a list of module names", async () => {
    await expect(runCallable({ pythonCallable: { source: "def f():\n    return 1\n" }, python, home, preload: ["os; rm"] })).rejects.toMatchObject({ code: "invalid_option" });
  });

  it("a zygote exits when its host is killed with SIGKILL", async () => {
    const script = join(dir, "host.mts");
    const runtime = new URL("../../src/runtime/index.ts", import.meta.url).pathname;
    await writeFile(
      script,
      `import { runCallable } from ${JSON.stringify(runtime)};\nconst r = await runCallable({ pythonCallable: { source: "import os\\ndef f():\\n    return os.getppid()\\n" }, python: ${JSON.stringify(python)}, home: ${JSON.stringify(home)} });\nconsole.log(r.returnValue);\nsetInterval(() => undefined, 1000);\n`,
    );
    const tsx = new URL("../../node_modules/.bin/tsx", import.meta.url).pathname;
    const host = spawn(tsx, [script], { stdio: ["ignore", "pipe", "inherit"], detached: true });
    const zygote = await new Promise<number>((resolve) => host.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
    expect(zygote).toBeGreaterThan(0);
    // tsx runs the script in a child node process: kill the whole host tree the hard way.
    process.kill(-host.pid!, "SIGKILL");
    expect(await gone(zygote, 5000)).toBe(true);
  }, 30_000);
});
