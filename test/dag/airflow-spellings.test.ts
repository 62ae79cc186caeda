/** #10: Airflow's option spellings get "did you mean", and options venvflow does without say why. */
import { describe, expect, it } from "vitest";
import { dag, PythonVirtualenvOperator } from "../../src/dag/index.ts";
import { caught } from "./helpers.ts";

const task = (options: Record<string, unknown>) => caught(() => dag("airflow_names", {}, () => new PythonVirtualenvOperator({ taskId: "t", pythonCallable: "x.py:f", ...options } as never)));

describe("Airflow option spellings", () => {
  it("snake_case names: did you mean the camelCase one", () => {
    const error = task({ python_version: "3.11", op_kwargs: {} });
    expect(error.code).toBe("invalid_task_options");
    expect(error.message).toMatch(/unknown options "python_version", "op_kwargs"/);
    expect(error.fix).toMatch(/^python_version: did you mean "pythonVersion"\? .*; op_kwargs: did you mean "opKwargs"\?/);
    expect(error.fix).toContain("allowed options are: taskId");
  });

  it("options venvflow does not need say why", () => {
    expect(task({ venv_cache_path: "/tmp/venvs" }).fix).toMatch(/^venv_cache_path: environments are always cached, keyed by what they contain/);
    expect(task({ use_dill: true }).fix).toMatch(/^use_dill: use serializer: "dill"/);
    expect(task({ constraints: ["six<2"] }).fix).toMatch(/^constraints: constraints are not a task option: list them in a requirements file as "-c constraints.txt"/);
    expect(task({ installer: "uv" }).fix).toMatch(/^installer: the installer is chosen for every environment.*VENVFLOW_INSTALLER/);
    expect(task({ default_args: {} }).fix).toMatch(/^default_args: defaultArgs is a DAG option/);
    expect(task({ python: "/usr/bin/python3" }).fix).toMatch(/python is ExternalPythonOperator's option/);
    expect(task({ pythonVersoin: "3.11" }).fix).toMatch(/^pythonVersoin: did you mean "pythonVersion"\?/);
  });

  it("DAG options: schedule_interval and start_date", () => {
    const error = caught(() => dag("airflow_dag", { schedule_interval: "@daily", start_date: "2026-01-01" } as object, () => {}));
    expect(error.code).toBe("invalid_dag_options");
    expect(error.fix).toMatch(/^schedule_interval: use schedule .*; start_date: did you mean "startDate"\?/);
  });
});
