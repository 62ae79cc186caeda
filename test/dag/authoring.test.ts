import { describe, expect, it } from "vitest";
import {
  BashOperator,
  BranchExternalPythonOperator,
  BranchPythonVirtualenvOperator,
  chain,
  dag,
  EmptyOperator,
  ExternalPythonOperator,
  PythonOperator,
  PythonVirtualenvOperator,
  task,
  type DagDefinition,
  type ExternalPythonOperatorOptions,
  type XComArg,
} from "../../src/index.ts";
import { caught } from "./helpers.ts";
import { anyPython } from "../support/pythons.ts";

const PY = anyPython;

function edges(d: DagDefinition): string[] {
  return [...d.tasks.values()].flatMap((t) => t.downstreamTaskIds.map((down) => `${t.taskId}>${down}`)).sort();
}

describe("dag()", () => {
  it("builds a DagDefinition with defaults and the declaring file", () => {
    const d = dag("defaults", {}, () => {
      new EmptyOperator({ taskId: "only" });
    });
    expect(d).toMatchObject({
      dagId: "defaults",
      fileloc: import.meta.filename,
      schedule: null,
      timezone: "UTC",
      startDate: null,
      endDate: null,
      catchup: false,
      maxActiveRuns: 16,
      maxActiveTasks: 16,
      params: {},
      tags: [],
      dagrunTimeoutMs: null,
    });
    expect(d.description).toBeUndefined();
    const t = d.tasks.get("only")!;
    expect(t).toMatchObject({ kind: "empty", triggerRule: "all_success", retries: 0, retryDelayMs: 300_000, retryExponentialBackoff: false, maxRetryDelayMs: null, executionTimeoutMs: null, multipleOutputs: false, xcomRefs: [] });
  });

  it("maps every option", () => {
    const d = dag(
      "full",
      {
        schedule: { cron: "0 6 * * *", timezone: "Europe/Paris" },
        startDate: "2026-01-01",
        endDate: new Date("2027-01-01T00:00:00Z"),
        catchup: true,
        maxActiveRuns: 2,
        maxActiveTasks: 4,
        params: { region: "eu", limit: 10 },
        tags: ["etl"],
        description: "nightly",
        dagrunTimeout: "2h",
        defaultArgs: { retries: 3, retryDelay: "10s", python: PY },
      },
      (d) => {
        expect(d.dagId).toBe("full");
        expect(d.params).toEqual({ region: "eu", limit: 10 });
        const b = new BashOperator({ taskId: "b", bashCommand: "true" });
        expect(d.getTask("b")).toBe(b);
        expect(() => d.getTask("zz")).toThrow(/DAG "full" .*: no task "zz"/);
        // `python` comes from defaultArgs, which the option type cannot see.
        new ExternalPythonOperator({ taskId: "p", pythonCallable: "x.py:f", retries: 0 } as ExternalPythonOperatorOptions);
      },
    );
    expect(d).toMatchObject({
      schedule: "0 6 * * *",
      timezone: "Europe/Paris",
      startDate: new Date("2026-01-01T00:00:00Z"),
      endDate: new Date("2027-01-01T00:00:00Z"),
      catchup: true,
      maxActiveRuns: 2,
      maxActiveTasks: 4,
      params: { region: "eu", limit: 10 },
      tags: ["etl"],
      description: "nightly",
      dagrunTimeoutMs: 7_200_000,
    });
    // defaultArgs apply where the operator has the option; the task's own value wins.
    expect(d.tasks.get("b")).toMatchObject({ retries: 3, retryDelayMs: 10_000 });
    expect(d.tasks.get("p")).toMatchObject({ retries: 0, retryDelayMs: 10_000 });
  });

  it("accepts presets, plain cron strings and @once", () => {
    for (const schedule of ["@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "*/5 * * * *"]) {
      expect(dag(`s${schedule.length}`, { schedule }, () => {}).schedule).toBe(schedule);
    }
  });

  it("rejects invalid schedules, time zones, unknown presets and cron that never fires", () => {
    const bad: [unknown, RegExp][] = [
      ["* * *", /DAG "bad" \(.*authoring\.test\.ts\): schedule "\* \* \*" is not a valid cron expression/],
      [{ cron: "0 6 * * *", timezone: "Mars/Olympus" }, /unknown time zone "Mars\/Olympus"/],
      ["@fortnightly", /unknown schedule preset "@fortnightly"/],
      ["0 0 31 2 *", /never fires/],
    ];
    for (const [schedule, message] of bad) {
      const error = caught(() => dag("bad", { schedule: schedule as string }, () => {}));
      expect(error.code).toBe("invalid_schedule");
      expect(error.message).toMatch(message);
      expect(error.fix).toBeTruthy();
    }
  });

  it("rejects unknown options, listing the allowed ones", () => {
    const error = caught(() => dag("opts", { scheduleInterval: "@daily" } as object, () => {}));
    expect(error.code).toBe("invalid_dag_options");
    expect(error.message).toMatch(/DAG "opts" .*unknown option "scheduleInterval"/);
    expect(error.fix).toContain("schedule, startDate, endDate, catchup, maxActiveRuns");
  });

  it("rejects wrong types, bad dates, bad durations, unknown defaultArgs and bad ids", () => {
    expect(caught(() => dag("x", { maxActiveRuns: 0 }, () => {})).message).toMatch(/maxActiveRuns: .*>0/);
    expect(caught(() => dag("x", { startDate: "yesterday" }, () => {})).message).toMatch(/startDate "yesterday" is not a date/);
    expect(caught(() => dag("x", { startDate: "2026-02-01", endDate: "2026-01-01" }, () => {})).message).toMatch(/endDate .* is before startDate/);
    const duration = caught(() => dag("x", { dagrunTimeout: "soon" }, () => {}));
    expect([duration.code, duration.message]).toEqual(["invalid_duration", expect.stringMatching(/DAG "x" .*: dagrunTimeout "soon" is not a duration/)]);
    expect(caught(() => dag("x", { defaultArgs: { retires: 2 } }, () => {})).message).toMatch(/defaultArgs has unknown task option "retires"/);
    expect(caught(() => dag("has space", {}, () => {})).code).toBe("invalid_dag_id");
  });

  it("rejects an async callback", () => {
    expect(caught(() => dag("a", {}, (async () => {}) as () => void)).message).toMatch(/returned a promise/);
  });
});

describe("operators", () => {
  it("creates every operator kind with its options validated", () => {
    const d = dag("kinds", {}, () => {
      new PythonVirtualenvOperator({ taskId: "venv", pythonCallable: "jobs/etl.py:extract", requirements: ["six"], pythonVersion: "3.11", serializer: "json" });
      new ExternalPythonOperator({ taskId: "ext", python: PY, pythonCallable: { source: "def f():\n    return 1\n" } });
      new BranchPythonVirtualenvOperator({ taskId: "bvenv", pythonCallable: "b.py:choose" });
      new BranchExternalPythonOperator({ taskId: "bext", python: PY, pythonCallable: "b.py:choose" });
      new PythonOperator({ taskId: "ts", pythonCallable: () => 1 });
      new BashOperator({ taskId: "sh", bashCommand: "echo hi", retries: 2, retryDelay: 1.5, retryExponentialBackoff: true, maxRetryDelay: "1m", executionTimeout: "30s", triggerRule: "all_done", doc: "says hi" });
      new EmptyOperator({ taskId: "noop" });
    });
    expect([...d.tasks.values()].map((t) => [t.taskId, t.kind])).toEqual([
      ["venv", "python_virtualenv"],
      ["ext", "external_python"],
      ["bvenv", "branch_python_virtualenv"],
      ["bext", "branch_external_python"],
      ["ts", "python"],
      ["sh", "bash"],
      ["noop", "empty"],
    ]);
    // Virtualenv tasks expose the environment runCallable will build (for `venvflow env build FILE`).
    expect(d.tasks.get("venv")!.environment).toEqual({ requirements: ["six"], systemSitePackages: false, baseDir: import.meta.dirname, pythonVersion: "3.11" });
    expect(d.tasks.get("bvenv")!.environment).toMatchObject({ systemSitePackages: false, baseDir: import.meta.dirname });
    expect(d.tasks.get("ext")!.environment).toBeUndefined();
    expect(d.tasks.get("sh")).toMatchObject({ retries: 2, retryDelayMs: 1500, retryExponentialBackoff: true, maxRetryDelayMs: 60_000, executionTimeoutMs: 30_000, triggerRule: "all_done", doc: "says hi" });
  });

  it("names the DAG, the task and the allowed options for unknown or invalid task options", () => {
    const unknown = caught(() => dag("t", {}, () => new BashOperator({ taskId: "sh", bashCommand: "true", retry: 1 } as never)));
    expect(unknown.code).toBe("invalid_task_options");
    expect(unknown.message).toMatch(/DAG "t" \(.*\), task "sh": unknown option "retry"/);
    expect(unknown.fix).toMatch(/allowed options are: taskId, retries, .*bashCommand/);

    const rule = caught(() => dag("t", {}, () => new EmptyOperator({ taskId: "e", triggerRule: "all_sucess" as never })));
    expect(rule.message).toMatch(/task "e": triggerRule: Invalid option: expected one of "all_success"/);

    const timeout = caught(() => dag("t", {}, () => new EmptyOperator({ taskId: "e", executionTimeout: "10 minutes" })));
    expect([timeout.code, timeout.message]).toEqual(["invalid_duration", expect.stringMatching(/task "e": executionTimeout "10 minutes" is not a duration/)]);

    // ExternalPythonOperator takes an existing interpreter: no environment-building options, an absolute path.
    expect(caught(() => dag("t", {}, () => new ExternalPythonOperator({ taskId: "x", python: PY, pythonCallable: "a.py:f", requirements: ["six"] } as never))).message).toMatch(/unknown option "requirements"/);
    expect(caught(() => dag("t", {}, () => new ExternalPythonOperator({ taskId: "x", python: "python3", pythonCallable: "a.py:f" }))).message).toMatch(/python: must be an absolute path to an existing interpreter, got "python3"/);
    expect(caught(() => dag("t", {}, () => new EmptyOperator({ taskId: "no/slash" }))).code).toBe("invalid_task_id");
  });

  it("rejects duplicate task ids", () => {
    const error = caught(() =>
      dag("dup", {}, () => {
        new EmptyOperator({ taskId: "a" });
        new EmptyOperator({ taskId: "a" });
      }),
    );
    expect([error.code, error.message]).toEqual(["duplicate_task_id", expect.stringMatching(/DAG "dup" .*task "a": task id "a" is already used/)]);
  });

  it("refuses to create a task outside a DAG", () => {
    const error = caught(() => new EmptyOperator({ taskId: "lost" }));
    expect([error.code, error.message, error.fix]).toEqual(["outside_dag", "new EmptyOperator() was called outside a DAG", 'create tasks inside the callback of dag("my_dag", { … }, () => { … })']);
    const factory = task.virtualenv({}, "etl.py:extract");
    expect(caught(() => factory()).message).toMatch(/^task\.virtualenv\(\) was called outside a DAG/);
  });
});

describe("TaskFlow", () => {
  it("infers ids from function and callable names, and suffixes repeats like Airflow", () => {
    const d = dag("ids", {}, () => {
      const extract = task.virtualenv({ requirements: ["six"] }, "jobs/etl.py:extract");
      extract();
      extract();
      extract.override({ taskId: "extract" })();
      task.externalPython({ python: PY }, { source: "import os\n\ndef load(rows):\n    return len(rows)\n" })([1]);
      task.externalPython({ python: PY }, { source: "x = 1", name: "inline_named" })();
      task.branchVirtualenv({}, "b.py:pick")();
      task.branchExternalPython({ python: PY, taskId: "pick_ext" }, "b.py:pick")();
      task(function transform() {
        return 1;
      })();
      const load = (): number => 2;
      task({ retries: 4 }, load)();
      task.bash(function greet() {
        return "echo hi";
      })();
      task.bash({ taskId: "shout" }, () => "echo HI")();
    });
    expect([...d.tasks.keys()]).toEqual(["extract", "extract__1", "extract__2", "load", "inline_named", "pick", "pick_ext", "transform", "load__1", "greet", "shout"]);
    expect([...d.tasks.values()].map((t) => t.kind)).toEqual([
      "python_virtualenv",
      "python_virtualenv",
      "python_virtualenv",
      "external_python",
      "external_python",
      "branch_python_virtualenv",
      "branch_external_python",
      "python",
      "python",
      "bash",
      "bash",
    ]);
    expect(d.tasks.get("load__1")!.retries).toBe(4);
  });

  it("continues from the highest suffix", () => {
    const d = dag("suffix", {}, () => {
      new EmptyOperator({ taskId: "job" });
      new EmptyOperator({ taskId: "job__7" });
      task({ taskId: "job" }, () => 1)();
    });
    expect([...d.tasks.keys()]).toEqual(["job", "job__7", "job__8"]);
  });

  it("needs a name when none can be inferred", () => {
    const error = caught(() => dag("anon", {}, () => task((() => (): number => 1)())()));
    expect([error.code, error.message]).toEqual(["missing_task_id", expect.stringMatching(/DAG "anon" .*cannot infer a task id for task\(\)/)]);
    expect(caught(() => dag("anon", {}, () => task.externalPython({ python: PY }, { source: "print(1)" })())).code).toBe("missing_task_id");
  });

  it("turns references into edges and xcomRefs, nested ones included", () => {
    const d = dag("refs", {}, () => {
      const extract = task(function extract() {
        return [1, 2];
      });
      const region = new BashOperator({ taskId: "region", bashCommand: "echo eu" });
      const rows = extract();
      const combine = task.virtualenv<[number[], { region: string; n: number[] }]>({ opKwargs: { other: region.output } }, "etl.py:combine");
      const out: XComArg = combine(rows, { region: region.output, n: [1, 2] });
      new PythonOperator({ taskId: "report", pythonCallable: (x: unknown) => x, opArgs: [[out]] });
    });
    expect(edges(d)).toEqual(["combine>report", "extract>combine", "region>combine"]);
    expect(d.tasks.get("combine")!.xcomRefs).toEqual([
      { kind: "xcom_ref", taskId: "extract", key: "return_value" },
      { kind: "xcom_ref", taskId: "region", key: "return_value" },
      { kind: "xcom_ref", taskId: "region", key: "return_value" },
    ]);
    expect(d.tasks.get("combine")!.upstreamTaskIds).toEqual(["extract", "region"]);
    expect([...d.tasks.keys()]).toEqual(["region", "extract", "combine", "report"]);
  });

  it("types references: a declared result type flows into typed arguments", () => {
    const d = dag("typed", {}, () => {
      const count = new ExternalPythonOperator<number>({ taskId: "count", python: PY, pythonCallable: "c.py:count" });
      const label = new BashOperator({ taskId: "label", bashCommand: "echo rows" });
      const double = task(function double(n: number, name: string) {
        return `${name}: ${n * 2}`;
      });
      double(count.output, label.output);
      // @ts-expect-error a string result cannot feed a number parameter
      double(label.output, label.output);
    });
    expect(d.tasks.get("double")!.upstreamTaskIds).toEqual(["count", "label"]);
  });

  it("selects keys of multipleOutputs results with get()", () => {
    const d = dag("multi", {}, () => {
      const split = task({ multipleOutputs: true }, function split() {
        return { left: 1, right: "r" };
      });
      const parts = split();
      const left: XComArg<number> = parts.get("left");
      task(function use(a: number, b: string) {
        return `${a}${b}`;
      })(left, parts.get("right"));
    });
    expect(d.tasks.get("split")!.multipleOutputs).toBe(true);
    expect(d.tasks.get("use")!.xcomRefs).toEqual([
      { kind: "xcom_ref", taskId: "split", key: "left" },
      { kind: "xcom_ref", taskId: "split", key: "right" },
    ]);
    expect(edges(d)).toEqual(["split>use"]);
    const error = caught(() => dag("multi2", {}, () => task(function whole() { return { a: 1 }; })().get("a")));
    expect([error.code, error.message]).toEqual(["invalid_reference", expect.stringMatching(/task "whole": get\("a"\) needs/)]);
  });

  it("resolves plain reference objects at the end of the callback, and rejects dangling ones", () => {
    const d = dag("plain", {}, () => {
      new PythonOperator({ taskId: "consumer", pythonCallable: (x: unknown) => x, opArgs: [{ kind: "xcom_ref", taskId: "producer", key: "return_value" }] });
      new EmptyOperator({ taskId: "producer" });
    });
    expect(edges(d)).toEqual(["producer>consumer"]);
    // Topological order, not creation order.
    expect([...d.tasks.keys()]).toEqual(["producer", "consumer"]);
    const error = caught(() => dag("plain2", {}, () => new PythonOperator({ taskId: "c", pythonCallable: () => 1, opArgs: [{ kind: "xcom_ref", taskId: "ghost", key: "return_value" }] })));
    expect([error.code, error.message]).toEqual(["dangling_reference", expect.stringMatching(/DAG "plain2" .*task "c": references task "ghost", which is not in this DAG/)]);
  });

  it("rejects a reference to another DAG's task", () => {
    let foreign: XComArg | undefined;
    dag("first", {}, () => {
      foreign = new BashOperator({ taskId: "src", bashCommand: "echo 1" }).output;
    });
    const error = caught(() => dag("second", {}, () => task(function sink(x: unknown) { return x; })(foreign)));
    expect(error.code).toBe("dangling_reference");
    expect(error.message).toMatch(/DAG "second" .*task "sink": task "sink" uses the result of task "src" of DAG "first"/);
  });
});

describe("explicit edges", () => {
  it("setDownstream and setUpstream with single tasks, lists and references", () => {
    const d = dag("edges", {}, () => {
      const [a, b, c, e] = ["a", "b", "c", "e"].map((taskId) => new EmptyOperator({ taskId }));
      a!.setDownstream([b!, c!]);
      e!.setUpstream(b!.output);
      c!.output.setDownstream(e!);
    });
    expect(edges(d)).toEqual(["a>b", "a>c", "b>e", "c>e"]);
    expect(d.tasks.get("e")!.upstreamTaskIds).toEqual(["b", "c"]);
  });

  it("chain() follows Airflow: fan-out, fan-in and pairwise lists", () => {
    const d = dag("chain", {}, () => {
      const t = Object.fromEntries(["a", "b1", "b2", "c1", "c2", "d"].map((taskId) => [taskId, new EmptyOperator({ taskId })]));
      chain(t.a!, [t.b1!, t.b2!], [t.c1!, t.c2!], t.d!);
    });
    expect(edges(d)).toEqual(["a>b1", "a>b2", "b1>c1", "b2>c2", "c1>d", "c2>d"]);
    const error = caught(() =>
      dag("chain2", {}, () => {
        const [a, b, c] = ["a", "b", "c"].map((taskId) => new EmptyOperator({ taskId }));
        chain([a!], [b!, c!]);
      }),
    );
    expect([error.code, error.message]).toEqual(["invalid_chain", expect.stringMatching(/DAG "chain2" .*Got 1 and 2\./)]);
  });

  it("names the cycle path", () => {
    const error = caught(() =>
      dag("loop", {}, () => {
        const [a, b, c] = ["a", "b", "c"].map((taskId) => new EmptyOperator({ taskId }));
        chain(a!, b!, c!);
        c!.setDownstream(b!);
      }),
    );
    expect(error.code).toBe("dag_cycle");
    expect(error.message).toMatch(/DAG "loop" .*: cycle b → c → b/);
    expect(caught(() => dag("self", {}, () => { const a = new EmptyOperator({ taskId: "a" }); a.setDownstream(a); })).message).toMatch(/cycle a → a/);
  });

  it("refuses edges across DAGs and changes after the DAG is built", () => {
    let early: EmptyOperator | undefined;
    dag("one", {}, () => {
      early = new EmptyOperator({ taskId: "x" });
    });
    expect(caught(() => dag("two", {}, () => new EmptyOperator({ taskId: "y" }).setDownstream(early!))).code).toBe("dangling_reference");
    expect(caught(() => early!.setDownstream(early!)).code).toBe("dag_already_built");
  });
});
