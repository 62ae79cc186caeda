import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  BashOperator,
  chain,
  dag,
  EmptyOperator,
  ExternalPythonOperator,
  PythonOperator,
  task,
  TaskSkipped,
  type TaskContext,
} from "../../src/index.ts";
import { logFile, makeContext, taskOf } from "./helpers.ts";
import { anyPython } from "../support/pythons.ts";

const PY = anyPython;

const only = taskOf;

describe("PythonOperator and task()", () => {
  it("calls the function with resolved references and the task context, and logs", async () => {
    let seen: TaskContext | undefined;
    const d = dag("ts", { params: { region: "eu" } }, () => {
      const up = new EmptyOperator({ taskId: "up" });
      new PythonOperator({
        taskId: "sum",
        opArgs: [up.output, { nested: [up.output] }],
        pythonCallable: async (a: number, b: { nested: number[] }, ctx: TaskContext) => {
          seen = ctx;
          ctx.log("adding");
          return a + b.nested[0]!;
        },
      });
    });
    const ctx = makeContext({ taskId: "sum", xcoms: { up: 20 } });
    expect(await only(d, "sum").execute(ctx)).toEqual({ state: "success", returnValue: 40 });
    expect(seen).toMatchObject({ dagId: "d", taskId: "sum", tryNumber: 1, ds: "2026-01-02", dsNodash: "20260102", ts: "2026-01-02T03:04:05+00:00", params: { region: "eu" } });
    expect(logFile(ctx).map((l) => [l.stream, l.level, l.msg])).toEqual([
      ["log", "INFO", "adding"],
      ["system", "INFO", "Done. Returned value was: 40"],
    ]);
    expect(ctx.lines.map((l) => l.msg)).toEqual(["adding", "Done. Returned value was: 40"]);
  });

  it("maps a thrown error to failed, TaskSkipped to skipped", async () => {
    const d = dag("ts_fail", {}, () => {
      task(function boom(): number {
        throw new RangeError("out of range");
      })();
      task(function later(): number {
        throw new TaskSkipped("nothing to do today");
      })();
    });
    const failed = await only(d, "boom").execute(makeContext());
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatchObject({ type: "RangeError", message: "out of range", traceback: expect.stringContaining("execute.test.ts") });
    const ctx = makeContext();
    expect(await only(d, "later").execute(ctx)).toEqual({ state: "skipped" });
    expect(logFile(ctx).at(-1)!.msg).toBe("Skipping: nothing to do today");
  });

  it("fails a multipleOutputs task whose result is not a dict", async () => {
    const d = dag("ts_multi", {}, () => {
      task({ multipleOutputs: true }, function listy() {
        return [1, 2];
      })();
      task({ multipleOutputs: true }, function dicty() {
        return { a: 1 };
      })();
    });
    expect((await only(d, "listy").execute(makeContext())).error).toMatchObject({ code: "multiple_outputs_not_dict", message: expect.stringMatching(/task "listy": returned array/) });
    expect(await only(d, "dicty").execute(makeContext())).toEqual({ state: "success", returnValue: { a: 1 } });
  });

  it("abandons a try when the signal aborts", async () => {
    const d = dag("ts_abort", {}, () => {
      task(function forever() {
        return new Promise(() => {});
      })();
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("execution timeout")), 50);
    const outcome = await only(d, "forever").execute(makeContext({ signal: controller.signal }));
    expect(outcome).toMatchObject({ state: "failed", error: { code: "aborted", message: expect.stringMatching(/task "forever": aborted \(execution timeout\)/) } });
  });
});

describe("BashOperator and task.bash()", () => {
  it("returns the last stdout line and streams every line to the log", async () => {
    const d = dag("sh", {}, () => {
      new BashOperator({ taskId: "lines", bashCommand: "echo first; echo oops >&2; echo last" });
    });
    const ctx = makeContext();
    expect(await only(d, "lines").execute(ctx)).toEqual({ state: "success", returnValue: "last" });
    const lines = logFile(ctx);
    expect(lines.filter((l) => l.stream === "stdout").map((l) => l.msg)).toEqual(["first", "last"]);
    expect(lines.filter((l) => l.stream === "stderr").map((l) => l.msg)).toEqual(["oops"]);
    expect(lines.at(-1)).toMatchObject({ stream: "system", msg: "Command exited with return code 0" });
    expect(ctx.lines).toHaveLength(lines.length);
  });

  it("skips on exit code 99 by default, or on the codes given", async () => {
    const d = dag("sh_skip", {}, () => {
      new BashOperator({ taskId: "default", bashCommand: "exit 99" });
      new BashOperator({ taskId: "custom", bashCommand: "exit 3", skipOnExitCode: [3, 4] });
      new BashOperator({ taskId: "none", bashCommand: "exit 99", skipOnExitCode: null });
      new BashOperator({ taskId: "fails", bashCommand: "echo partial; exit 2" });
    });
    expect(await only(d, "default").execute(makeContext())).toEqual({ state: "skipped" });
    expect(await only(d, "custom").execute(makeContext())).toEqual({ state: "skipped" });
    expect((await only(d, "none").execute(makeContext())).state).toBe("failed");
    const failed = await only(d, "fails").execute(makeContext());
    expect(failed).toMatchObject({
      state: "failed",
      error: { code: "bash_command_failed", message: expect.stringMatching(/task "fails": Bash command failed\. The command returned a non-zero exit code 2\./) },
    });
  });

  it("sets env (replacing or appending), context variables, and cwd relative to the DAG file", async () => {
    const d = dag("sh_env", {}, () => {
      const region = new BashOperator({ taskId: "region", bashCommand: "echo eu" });
      new BashOperator({ taskId: "only", bashCommand: 'echo "$REGION|${HOME:-unset}|$VENVFLOW_CTX_DAG_ID|$VENVFLOW_CTX_TRY_NUMBER"', env: { REGION: region.output } });
      new BashOperator({ taskId: "append", bashCommand: 'echo "$REGION|${HOME:-unset}"', env: { REGION: "us" }, appendEnv: true });
      new BashOperator({ taskId: "here", bashCommand: "pwd", cwd: "." });
      new BashOperator({ taskId: "tmp", bashCommand: "pwd" });
      new BashOperator({ taskId: "nowhere", bashCommand: "pwd", cwd: "no/such/dir" });
    });
    expect(only(d, "only").upstreamTaskIds).toEqual(["region"]);
    expect((await only(d, "only").execute(makeContext({ dagId: "sh_env", tryNumber: 2, xcoms: { region: "eu" } }))).returnValue).toBe("eu|unset|sh_env|2");
    expect((await only(d, "append").execute(makeContext())).returnValue).toBe(`us|${process.env.HOME}`);
    expect((await only(d, "here").execute(makeContext())).returnValue).toBe(import.meta.dirname);
    const tmp = (await only(d, "tmp").execute(makeContext())).returnValue as string;
    expect(path.basename(tmp)).toMatch(/^venvflow-bash-/);
    expect(existsSync(tmp)).toBe(false);
    expect((await only(d, "nowhere").execute(makeContext())).error).toMatchObject({ code: "invalid_cwd", message: expect.stringContaining(path.join(import.meta.dirname, "no/such/dir")) });
  });

  it("task.bash runs the command its function returns, with resolved arguments", async () => {
    const d = dag("sh_flow", {}, () => {
      const name = task(function name() {
        return "world";
      })();
      task.bash(function greet(who: string, ctx: TaskContext) {
        return `echo "hello ${who} on ${ctx.ds}"`;
      })(name);
      task.bash(function blank() {
        return " ";
      })();
    });
    expect(only(d, "greet").upstreamTaskIds).toEqual(["name"]);
    expect(await only(d, "greet").execute(makeContext({ xcoms: { name: "world" } }))).toEqual({ state: "success", returnValue: "hello world on 2026-01-02" });
    expect((await only(d, "blank").execute(makeContext())).error).toMatchObject({ code: "invalid_bash_command" });
  });

  it("stops the whole process group when the signal aborts", async () => {
    const d = dag("sh_abort", {}, () => {
      new BashOperator({ taskId: "sleepy", bashCommand: "sleep 30 & wait" });
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancelled")), 200);
    const started = Date.now();
    const outcome = await only(d, "sleepy").execute(makeContext({ signal: controller.signal }));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(outcome).toMatchObject({ state: "failed", error: { code: "aborted", message: expect.stringMatching(/cancelled/) } });
  });
});

describe("EmptyOperator", () => {
  it("succeeds without a value", async () => {
    const d = dag("empty", {}, () => {
      new EmptyOperator({ taskId: "noop" });
    });
    expect(await only(d, "noop").execute(makeContext())).toEqual({ state: "success" });
  });
});

describe("Python operators on the runtime (ExternalPython)", () => {
  it("runs the callable with resolved references and the run context", async () => {
    const d = dag("ext", {}, () => {
      const rows = new EmptyOperator({ taskId: "rows" });
      new ExternalPythonOperator({
        taskId: "count",
        python: PY,
        pythonCallable: { source: "def count(rows, scale=1, ds=None, params=None, task_id=None):\n    print('counting', len(rows))\n    return {'n': len(rows) * scale, 'ds': ds, 'region': params['region'], 'task': task_id}\n" },
        opArgs: [rows.output],
        opKwargs: { scale: 10 },
      });
    });
    const ctx = makeContext({ taskId: "count", xcoms: { rows: [1, 2, 3] } });
    const outcome = await only(d, "count").execute(ctx);
    expect(outcome).toEqual({ state: "success", returnValue: { n: 30, ds: "2026-01-02", region: "eu", task: "count" } });
    expect(logFile(ctx).some((l) => l.stream === "stdout" && l.msg === "counting 3")).toBe(true);
    expect(ctx.lines.some((l) => l.msg === "counting 3")).toBe(true);
  });

  it("maps a Python exception to a failed outcome with its traceback", async () => {
    const d = dag("ext_fail", {}, () => {
      task.externalPython({ python: PY }, { source: "def explode():\n    raise ValueError('bad row')\n" })();
    });
    const outcome = await only(d, "explode").execute(makeContext());
    expect(outcome.state).toBe("failed");
    expect(outcome.error).toMatchObject({ type: "ValueError", message: "bad row", traceback: expect.stringContaining("explode") });
  });

  it("checks branch results: directly-downstream ids, lists, None, and Airflow-style invalid values", async () => {
    const d = dag("branchy", {}, () => {
      const choice = new EmptyOperator({ taskId: "choice" });
      const pick = task.branchExternalPython({ python: PY }, { source: "def pick(choice):\n    return choice\n" })(choice.output);
      const [a, b, after] = ["a", "b", "after"].map((taskId) => new EmptyOperator({ taskId }));
      chain(pick, [a!, b!]);
      a!.setDownstream(after!);
    });
    const pick = only(d, "pick");
    const run = (choice: unknown) => pick.execute(makeContext({ taskId: "pick", xcoms: { choice } }));
    expect(await run("a")).toEqual({ state: "success", returnValue: "a", branch: ["a"] });
    expect(await run(["a", "b"])).toEqual({ state: "success", returnValue: ["a", "b"], branch: ["a", "b"] });
    expect(await run(null)).toEqual({ state: "success", returnValue: null, branch: null });
    const notString = await run(false);
    expect(notString).toMatchObject({ state: "failed", error: { code: "invalid_branch" } });
    expect(notString.error!.message).toMatch(/task "pick": 'branch_task_ids' expected all task IDs are strings\. Invalid tasks found: \{\(False, 'bool'\)\}\.$/);
    const notDownstream = await run(["a", "after", "zzz"]);
    expect(notDownstream.error!.message).toMatch(/Invalid tasks found: \{'after', 'zzz'\}\.$/);
    expect(notDownstream.error!.fix).toBe('return one of "a", "b", a list of them, or None');
  });
});
