/**
 * runCallable through an existing interpreter (ExternalPythonOperator semantics): the runner protocol, arguments,
 * results, errors, exit codes, environment variables, timeouts, logs and secrets. Airflow's conformance tests
 * (docs: reference §3.1 BaseTestPythonVirtualenvOperator, §3.3) are mirrored by name where they apply.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { isOpaquePythonValue, runCallable } from "../../src/runtime/index.ts";
import type { CallableOptions, LogLine } from "../../src/runtime/types.ts";
import { VenvflowError } from "../../src/util/errors.ts";
import { oldPythonOrSkip, pythonOrSkip, versionOf } from "../support/pythons.ts";
import { gone, PYTHON, readLog, scratch, removeScratch, LAUNCH_MODES, useLaunchMode } from "./helpers.ts";

afterAll(removeScratch);

let dir: string;
const home = inject("sharedHome");

beforeAll(async () => {
  dir = await scratch();
});

function run(source: string, options: Partial<CallableOptions> = {}) {
  return runCallable({ pythonCallable: { source }, python: PYTHON, home, ...options });
}

async function rejection(promise: Promise<unknown>): Promise<VenvflowError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VenvflowError);
  return error as VenvflowError;
}

describe.each(LAUNCH_MODES)("%s launcher", (mode) => {
  useLaunchMode(mode);

  describe("arguments and results", () => {
    it("passes opArgs and opKwargs to f(a, b, c=False, d=False) (test_with_args)", async () => {
      const result = await run("def f(a, b, c=False, d=False):\n    return [a, b, c, d]\n", { opArgs: [0, 1], opKwargs: { c: true } });
      expect(result).toMatchObject({ state: "success", returnValue: [0, 1, true, false], exitCode: 0 });
    });

    it("keeps None and False distinct (test_return_none, test_return_false)", async () => {
      const none = await run("def f():\n    return None\n");
      const falsy = await run("def f():\n    return False\n");
      expect(none.returnValue).toBeNull();
      expect(falsy.returnValue).toBe(false);
    });

    it("exposes stringArgs as the global virtualenv_string_args (test_string_args)", async () => {
      const result = await run("def f():\n    return virtualenv_string_args\n", { stringArgs: ["1", " 2 ", "1"] });
      expect(result.returnValue).toEqual(["1", "2", "1"]);
    });

    it("turns a Date into a tz-aware datetime the callable never imported (test_nonimported_as_arg)", async () => {
      const when = new Date("2024-03-01T12:30:00.250Z");
      const result = await run("def f(dt):\n    return [dt.isoformat(), dt.tzinfo is not None]\n", { opArgs: [when], serializer: "pickle" });
      expect(result.returnValue).toEqual(["2024-03-01T12:30:00.250000+00:00", true]);
    });

    it("returns a Python-only value as an opaque pickle that a later task gets back intact", async () => {
      const first = await run("import datetime\ndef f():\n    return {'when': datetime.datetime(2024, 1, 2, 3, 4, 5), 'tags': {'x'}}\n", { serializer: "pickle" });
      const value = first.returnValue as { when: unknown; tags: unknown };
      expect(isOpaquePythonValue(value.when)).toBe(true);
      expect(value.when).toMatchObject({ __venvflow__: "pickle", serializer: "pickle", type: "datetime.datetime", repr: "datetime.datetime(2024, 1, 2, 3, 4, 5)" });
      expect(value.tags).toMatchObject({ type: "set" });
      const second = await run("def f(v):\n    return [type(v['when']).__name__, v['when'].day, sorted(v['tags'])]\n", { opArgs: [value] });
      expect(second.returnValue).toEqual(["datetime", 2, ["x"]]);
    });

    it("returns a tz-aware datetime as a Date with the json serializer", async () => {
      const result = await run("import datetime\ndef f():\n    return datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)\n");
      expect(result.returnValue).toEqual(new Date("2024-05-06T07:08:09Z"));
    });

    it("fails a non-JSON return under the json serializer, naming the type", async () => {
      const result = await run("def f():\n    return {'ok': [1, {2, 3}]}\n");
      expect(result.state).toBe("failed");
      expect(result.error).toMatchObject({ code: "not_json_serializable" });
      expect(result.error?.message).toContain("is a set");
      expect(result.error?.message).toContain("['ok'][1]");
      expect(result.error?.fix).toContain("pickle");
    });

    it("refuses an argument JSON cannot carry, before running", async () => {
      const error = await rejection(run("def f(x):\n    return x\n", { opArgs: [new Map([["a", 1]])] }));
      expect(error.code).toBe("invalid_argument");
      expect(error.message).toContain("opArgs[0] is a Map");
    });

    it("enforces the result size limit with the size and the fix", async () => {
      process.env.VENVFLOW_MAX_RESULT_BYTES = "1000";
      try {
        const result = await run("def f():\n    return 'x' * 5000\n");
        expect(result.state).toBe("failed");
        expect(result.error).toMatchObject({ code: "result_too_large" });
        expect(result.error?.message).toContain("5002 bytes");
        expect(result.error?.fix).toContain("VENVFLOW_MAX_RESULT_BYTES");
      } finally {
        delete process.env.VENVFLOW_MAX_RESULT_BYTES;
      }
    });

    it("takes the result only from the runner's own frame: one the callable writes to fd 3 is logged, not used", async () => {
      const forged = '{"__venvflow_result__": {"protocol": 2, "ok": true, "value": "forged"}, "token": "guess"}';
      const result = await run(`import os\ndef f():\n    os.write(3, b'${forged}\\n')\n    return 'real'\n`);
      expect(result).toMatchObject({ state: "success", returnValue: "real" });
      expect((await readLog(result.logPath)).some((line) => line.stream === "log" && line.msg.includes('"forged"'))).toBe(true);
    });

    it("refuses an oversized result frame before parsing it", async () => {
      process.env.VENVFLOW_MAX_RESULT_BYTES = "1000";
      try {
        // The runner's own frame object (its caller's local), sent past the runner's size check and the process
        // ended: a frame the host must not load blindly.
        const source = "import os, sys\ndef f():\n    sys._getframe(1).f_locals['result'].send_value('\"' + 'x' * 9000 + '\"')\n    os._exit(0)\n";
        const result = await run(source);
        expect(result.error).toMatchObject({ code: "result_too_large" });
        expect(result.error?.message).toContain("The result frame is");
      } finally {
        delete process.env.VENVFLOW_MAX_RESULT_BYTES;
      }
    });

    it("awaits an async callable", async () => {
      const result = await run("import asyncio\nasync def f(x):\n    await asyncio.sleep(0)\n    return x + 1\n", { opArgs: [41] });
      expect(result.returnValue).toBe(42);
    });

    for (const version of ["3.8", "3.13"]) {
      const python = pythonOrSkip(version, `the runner protocol on Python ${version}`);
      it.skipIf(!python)(`speaks the same protocol on Python ${version}`, async () => {
        const result = await runCallable({
          pythonCallable: { source: "import sys\ndef f(x: list[int]) -> dict[str, int]:\n    return {'minor': sys.version_info[1], 'x': x}\n" },
          python,
          home,
          opKwargs: { x: 1 },
        });
        expect(result.returnValue).toEqual({ minor: Number(version.split(".")[1]), x: 1 });
      });
    }
  });

  describe("errors and exit codes", () => {
    it("fails with the Python type and traceback for an exception without a message (test_fail)", async () => {
      const result = await run("def f():\n    raise RuntimeError\n");
      expect(result.state).toBe("failed");
      expect(result.exitCode).toBe(1);
      expect(result.error).toMatchObject({ type: "RuntimeError", message: "" });
      expect(result.error?.traceback).toContain('File "<venvflow inline source>", line 2, in f');
      expect(result.error?.traceback).not.toContain("runner.py");
    });

    it("carries the message of an exception (test_fail_with_message)", async () => {
      const result = await run("class Custom(Exception):\n    pass\ndef f():\n    raise Custom('Custom error message')\n");
      expect(result.error).toMatchObject({ type: "Custom", message: "Custom error message" });
      const stderr = (await readLog(result.logPath)).filter((l) => l.stream === "stderr").map((l) => l.msg);
      expect(stderr).toContain("Custom: Custom error message");
    });

    it("fails with the code of sys.exit(n)", async () => {
      const result = await run("import sys\ndef f():\n    sys.exit(3)\n");
      expect(result).toMatchObject({ state: "failed", exitCode: 3, error: { type: "ProcessExit", message: "Process exited with code 3" } });
    });

    // Airflow's test_on_skip_exit_code matrix; [100, 102] with exit 101 stands for the "list without it" case.
    const matrix: [string, number | number[] | undefined, number, "success" | "skipped" | "failed"][] = [
      ["unset", undefined, 0, "success"],
      ["unset", undefined, 100, "failed"],
      ["unset", undefined, 101, "failed"],
      ["100", 100, 0, "success"],
      ["100", 100, 100, "skipped"],
      ["100", 100, 101, "failed"],
      ["0", 0, 0, "skipped"],
      ["[100]", [100], 0, "success"],
      ["[100]", [100], 100, "skipped"],
      ["[100]", [100], 101, "failed"],
      ["[100, 102]", [100, 102], 101, "failed"],
      ["[100, 102]", [100, 102], 102, "skipped"],
    ];
    it.each(matrix)("skipOnExitCode %s, exit %d → %s (test_on_skip_exit_code)", async (_label, skipOnExitCode, code, state) => {
      const source = "import sys\ndef f(code):\n    if code:\n        raise SystemExit(code)\n    return 'done'\n";
      const result = await run(source, { opArgs: [code], ...(skipOnExitCode === undefined ? {} : { skipOnExitCode }) });
      expect(result.state).toBe(state);
      expect(result.exitCode).toBe(code);
      if (state === "skipped") expect((await readLog(result.logPath)).map((l) => l.msg)).toContain(`Process exited with code ${code}. Skipping.`);
    });

    it("refuses an invalid skipOnExitCode", async () => {
      expect((await rejection(run("def f():\n    pass\n", { skipOnExitCode: [1.5] }))).code).toBe("invalid_option");
    });

    it("refuses an unknown serializer, naming the allowed ones (test_invalid_serializer)", async () => {
      const error = await rejection(run("def f():\n    pass\n", { serializer: "airflow" as "json" }));
      expect(error.code).toBe("invalid_serializer");
      expect(error.message).toContain("Unsupported serializer 'airflow'. Expected one of 'json', 'pickle', 'cloudpickle', 'dill'");
    });

    it("fails when a pickle-family serializer is missing from the external interpreter (test_no_advanced_serializer_installed)", async () => {
      const result = await run("def f():\n    return 1\n", { serializer: "dill" });
      expect(result.state).toBe("failed");
      expect(result.error).toMatchObject({ code: "serializer_missing" });
      expect(result.error?.message).toContain("serializer 'dill' is not installed");
    });
  });

  describe("external interpreter paths", () => {
    it("must exist", async () => {
      const error = await rejection(run("def f():\n    pass\n", { python: "/nonexistent/bin/python" }));
      expect(error).toMatchObject({ code: "python_not_found" });
      expect(error.message).toContain("Python path '/nonexistent/bin/python' must exist");
    });

    it("must be a file", async () => {
      expect((await rejection(run("def f():\n    pass\n", { python: dirname(PYTHON) }))).code).toBe("python_not_a_file");
    });

    it("must be absolute", async () => {
      const rel = relative(process.cwd(), PYTHON);
      const error = await rejection(run("def f():\n    pass\n", { python: rel }));
      expect(error.code).toBe("python_not_absolute");
      expect(error.fix).toContain(PYTHON);
    });

    const python37 = oldPythonOrSkip("3.7", "refusing an interpreter older than 3.8");
    it.skipIf(!python37)("must be Python 3.8 or newer", async () => {
      const old = await rejection(run("def f():\n    pass\n", { python: python37 }));
      expect(old.code).toBe("python_unsupported");
      expect(old.message).toContain(`is Python ${versionOf(python37 ?? "")}`);
    });

    const python27 = oldPythonOrSkip("2.7", "refusing a Python 2 interpreter");
    it.skipIf(!python27)("must be Python 3, not 2", async () => {
      const ancient = await rejection(run("def f():\n    pass\n", { python: python27 }));
      expect(ancient.code).toBe("python_failed");
      expect(ancient.fix).toContain("3.8 or newer");
    });

    it("cannot be combined with environment options", async () => {
      const error = await rejection(run("def f():\n    pass\n", { requirements: ["vf-alpha"] }));
      expect(error.code).toBe("invalid_option");
      expect(error.message).toContain("requirements");
    });
  });

  describe("environment variables", () => {
    const read = "import os\ndef f():\n    return os.environ['MY_ENV_VAR']\n";
    afterAll(() => {
      delete process.env.MY_ENV_VAR;
    });

    it("sets envVars (test_environment_variables)", async () => {
      expect((await run(read, { envVars: { MY_ENV_VAR: "ABCDE" } })).returnValue).toBe("ABCDE");
    });

    it("inherits the parent's environment by default (test_environment_variables_with_inherit_env_true)", async () => {
      process.env.MY_ENV_VAR = "inherited";
      expect((await run(read)).returnValue).toBe("inherited");
    });

    it("starts from an empty environment with inheritEnv false (test_environment_variables_with_inherit_env_false)", async () => {
      process.env.MY_ENV_VAR = "inherited";
      const result = await run("import os\ndef f():\n    return sorted(os.environ)\n", { inheritEnv: false, envVars: { ONLY: "1" } });
      // LC_CTYPE may be added by Python itself (PEP 538 locale coercion in an empty environment).
      expect((result.returnValue as string[]).filter((k) => k !== "LC_CTYPE")).toEqual(["ONLY", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PYTHONUNBUFFERED"]);
      const missing = await run(read, { inheritEnv: false });
      expect(missing.error).toMatchObject({ type: "KeyError", message: "'MY_ENV_VAR'" });
    });

    it("lets envVars override inherited values (test_environment_variables_overriding)", async () => {
      process.env.MY_ENV_VAR = "inherited";
      expect((await run(read, { envVars: { MY_ENV_VAR: "EFGHI" } })).returnValue).toBe("EFGHI");
    });
  });

  describe("context", () => {
    const context = { dag_id: "d", task_id: "t", run_id: "manual__1", ds: "2024-01-02", ds_nodash: "20240102", params: { p: 1 }, try_number: 2 };

    it("gives a callable the context keys it names", async () => {
      const result = await run("def f(x, ds, params, try_number, ti=None):\n    return [x, ds, params, try_number, ti]\n", { opArgs: [1], context });
      expect(result.returnValue).toEqual([1, "2024-01-02", { p: 1 }, 2, null]);
    });

    it("fills keyword-only parameters by name too", async () => {
      const result = await run("def f(run_id, x=None, *, dag_id, conf=None):\n    return [run_id, x, dag_id, conf]\n", { opKwargs: { x: 5 }, context });
      expect(result.returnValue).toEqual(["manual__1", 5, "d", null]);
    });

    it("gives **kwargs every key, opKwargs winning over context", async () => {
      const result = await run("def f(**kwargs):\n    return kwargs\n", { context, opKwargs: { ds: "override", extra: true } });
      expect(result.returnValue).toEqual({ ...context, ds: "override", extra: true });
    });

    it("refuses a positional arg whose name is a context key (test_context_with_conflicting_op_args)", async () => {
      const error = await rejection(run("def f(ds):\n    return ds\n", { opArgs: ["x"], context }));
      expect(error.code).toBe("invalid_arguments");
      expect(error.message).toContain("The key 'ds' in args is a part of kwargs and therefore reserved.");
    });
  });

  describe("callables from files", () => {
    it("imports the whole module, with its directory on sys.path, and leaves no __pycache__", async () => {
      const project = join(dir, "project");
      await mkdir(join(project, "tasks"), { recursive: true });
      await writeFile(join(project, "tasks", "helpers.py"), "def double(x):\n    return 2 * x\n");
      await writeFile(
        join(project, "tasks", "etl.py"),
        "import sys\nfrom helpers import double\n\nFACTOR = 3\n\ndef scale(x):\n    return FACTOR * x\n\ndef extract(n):\n    return {'value': double(scale(n)), 'argv': sys.argv[1:], 'path0': sys.path[0]}\n",
      );
      const result = await runCallable({ pythonCallable: "tasks/etl.py:extract", baseDir: project, python: PYTHON, home, opArgs: [7] });
      const value = result.returnValue as { value: number; argv: string[]; path0: string };
      expect(value.value).toBe(42);
      expect(value.path0).toBe(join(project, "tasks"));
      expect(value.argv).toEqual([]);
      expect(await readdir(join(project, "tasks"))).toEqual(["etl.py", "helpers.py"]);
    });

    it("runs in cwd when given, and refuses a cwd that does not exist", async () => {
      const result = await run("import os\ndef f():\n    return os.getcwd()\n", { cwd: dir });
      expect(result.returnValue).toBe(dir);
      expect((await rejection(run("def f():\n    pass\n", { cwd: join(dir, "absent") }))).code).toBe("invalid_option");
    });

    describe("is checked before anything runs", () => {
      let marker: string;
      let file: string;
      beforeAll(async () => {
        marker = join(dir, "imported");
        file = join(dir, "checked.py");
        await writeFile(file, `open(${JSON.stringify(marker)}, "w").close()\n\ndef present():\n    return 1\n\ndef gen():\n    yield 1\n`);
      });
      afterAll(() => expect(existsSync(marker)).toBe(false));

      it("a missing function, listing the ones there are", async () => {
        const error = await rejection(runCallable({ pythonCallable: `${file}:absent`, python: PYTHON, home }));
        expect(error.code).toBe("callable_not_found");
        expect(error.message).toContain("has no top-level function named absent");
        expect(error.fix).toContain("gen, present");
      });

      it("a generator", async () => {
        expect((await rejection(runCallable({ pythonCallable: `${file}:gen`, python: PYTHON, home }))).code).toBe("callable_is_generator");
      });

      it("a syntax error, with its line", async () => {
        const broken = join(dir, "broken.py");
        await writeFile(broken, `open(${JSON.stringify(marker)}, "w").close()\n\ndef f(:\n    pass\n`);
        const error = await rejection(runCallable({ pythonCallable: `${broken}:f`, python: PYTHON, home }));
        expect(error.code).toBe("callable_syntax_error");
        expect(error.message).toContain("line 3");
      });

      it("a missing file", async () => {
        const error = await rejection(runCallable({ pythonCallable: "nope.py:f", baseDir: dir, python: PYTHON, home }));
        expect(error.code).toBe("callable_not_found");
        expect(error.message).toContain(join(dir, "nope.py"));
      });

      it("a malformed reference", async () => {
        expect((await rejection(runCallable({ pythonCallable: "etl.py", python: PYTHON, home }))).code).toBe("invalid_callable");
      });

      it("inline source with several functions and no name", async () => {
        const error = await rejection(run("def a():\n    pass\n\ndef b():\n    pass\n"));
        expect(error.code).toBe("callable_ambiguous");
        expect(error.fix).toContain("a, b");
      });

      it("inline source picks its only function, or the named one", async () => {
        expect((await run("def only():\n    return 'only'\n")).returnValue).toBe("only");
        expect((await runCallable({ pythonCallable: { source: "def a():\n    return 'a'\n\ndef b():\n    return 'b'\n", name: "b" }, python: PYTHON, home })).returnValue).toBe("b");
      });
    });
  });

  describe("logs", () => {
    it("streams 1,000 lines in order to onLog and the log file", async () => {
      const seen: LogLine[] = [];
      const result = await run("def f():\n    for i in range(1000):\n        print('line', i)\n", { onLog: (l) => seen.push(l) });
      const expected = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
      expect(seen.filter((l) => l.stream === "stdout").map((l) => l.msg)).toEqual(expected);
      const fromFile = await readLog(result.logPath);
      expect(fromFile.filter((l) => l.stream === "stdout").map((l) => l.msg)).toEqual(expected);
      expect(fromFile.every((l) => !Number.isNaN(Date.parse(l.ts)))).toBe(true);
    });

    it("keeps Python logging levels and logger names", async () => {
      const seen: LogLine[] = [];
      await run(
        "import logging\nlog = logging.getLogger('etl.extract')\ndef f():\n    log.debug('hidden')\n    log.info('info %d', 1)\n    log.warning('warn')\n    try:\n        1 / 0\n    except ZeroDivisionError:\n        log.exception('boom')\n",
        { onLog: (l) => seen.push(l) },
      );
      const records = seen.filter((l) => l.stream === "log");
      expect(records.map((l) => [l.level, l.logger, l.msg.split("\n")[0]])).toEqual([
        ["INFO", "etl.extract", "info 1"],
        ["WARNING", "etl.extract", "warn"],
        ["ERROR", "etl.extract", "boom"],
      ]);
      expect(records[2]?.msg).toContain("ZeroDivisionError: division by zero");
    });

    it("refuses a log path it cannot write, before running", async () => {
      // A regular file where a directory should be (not /proc: Node's recursive mkdirSync spins forever there).
      const blocker = join(dir, "not-a-dir");
      await writeFile(blocker, "");
      const error = await rejection(run("def f():\n    pass\n", { logPath: join(blocker, "attempt.jsonl") }));
      expect(error.code).toBe("log_unwritable");
    });

    it("shows the return value, unless told not to", async () => {
      const shown = await run("def f():\n    return {'k': 1}\n");
      expect((await readLog(shown.logPath)).map((l) => l.msg)).toContain('Done. Returned value was: {"k":1}');
      const hidden = await run("def f():\n    return {'k': 1}\n", { showReturnValueInLogs: false });
      expect((await readLog(hidden.logPath)).map((l) => l.msg)).toContain("Done. Returned value not shown");
    });

    it("masks secret envVars in output, logging records, errors and the log file", async () => {
      const secret = "s3cr3t-t0ken-value";
      const seen: LogLine[] = [];
      const result = await run(
        "import logging, os\ndef f():\n    token = os.environ['TOKEN']\n    print('token is', token)\n    logging.warning('using %s', token)\n    raise ValueError('bad token ' + token)\n",
        { envVars: { TOKEN: { secret } }, onLog: (l) => seen.push(l) },
      );
      expect(result.error?.message).toBe("bad token ***");
      expect(result.error?.traceback).not.toContain(secret);
      expect(JSON.stringify(seen)).not.toContain(secret);
      expect(seen.map((l) => l.msg)).toContain("token is ***");
      const file = await readFile(result.logPath, "utf8");
      expect(file).not.toContain(secret);
      expect(file).toContain("using ***");
    });
  });

  describe("stopping", () => {
    const spawner = (pidFile: string) =>
      `import subprocess, sys, time\ndef f():\n    kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']) for _ in range(2)]\n    with open(${JSON.stringify(pidFile)}, 'w') as fh:\n        fh.write(' '.join(str(k.pid) for k in kids))\n    time.sleep(60)\n`;

    async function waitForPids(pidFile: string): Promise<number[]> {
      for (;;) {
        const text = await readFile(pidFile, "utf8").catch(() => "");
        if (text.includes(" ")) return text.split(" ").map(Number);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it("kills the whole process group on executionTimeout, grandchildren included", async () => {
      const pidFile = join(dir, "timeout-pids");
      const result = await run(spawner(pidFile), { executionTimeout: "1500ms" });
      expect(result.state).toBe("failed");
      expect(result.error).toMatchObject({ code: "timeout" });
      expect(result.durationMs).toBeLessThan(10_000);
      const pids = await waitForPids(pidFile);
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(await gone(pid)).toBe(true);
    });

    it("ends what a successful callable left running, so a task never leaks processes", async () => {
      const result = await run("import subprocess, sys\ndef f():\n    return subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']).pid\n");
      expect(result.state).toBe("success");
      expect(await gone(result.returnValue as number)).toBe(true);
    });

    it("does not start the process when the signal is already aborted", async () => {
      const marker = join(dir, "started");
      const result = await run(`def f():\n    open(${JSON.stringify(marker)}, 'w').close()\n`, { signal: AbortSignal.abort() });
      expect(result.error).toMatchObject({ code: "aborted" });
      expect(existsSync(marker)).toBe(false);
    });

    it("kills the whole process group when the signal aborts", async () => {
      const pidFile = join(dir, "abort-pids");
      const controller = new AbortController();
      const running = run(spawner(pidFile), { signal: controller.signal });
      const pids = await waitForPids(pidFile);
      controller.abort();
      const result = await running;
      expect(result.error).toMatchObject({ code: "aborted" });
      for (const pid of pids) expect(await gone(pid)).toBe(true);
    });
  });
});
