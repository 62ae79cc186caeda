/**
 * venvflow doctor over a corpus of broken DAG files (one cause each, plus combinations) and clean ones, with real
 * interpreters, real environments and real pip over the hermetic index.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { doctor, type DoctorReport } from "../../src/doctor/index.ts";
import type { Finding } from "../../src/doctor/types.ts";
import { testPipEnv } from "../support/pypi.ts";
import { anyPython, oldPythonOrSkip, preferredPython, pythonOrSkip, versionOf } from "../support/pythons.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

// The external-* fixtures read their interpreters from these (the DAG files are imported in this process and its forks).
process.env.VF_TEST_PYTHON = preferredPython;
const python37 = oldPythonOrSkip("3.7", "doctor's external-too-old.ts case");
if (python37) process.env.VF_TEST_PYTHON_37 = python37;

/** Whether `import module` works in the host site-packages of the newest Python (the one `pythonVersion: "3"` runs). */
function newestHostHas(module: string): boolean {
  return spawnSync(anyPython, ["-c", `import ${module}`], { stdio: "ignore" }).status === 0;
}

function skippedUnless(condition: boolean, why: string): boolean {
  if (!condition) console.warn(`skipped: ${why}`);
  return condition;
}

/**
 * The broken files whose cause exists only on a particular Python (their DAG asks for that version) or only where
 * the newest Python's host lacks a module; the others ask for "3" and run on any machine. False: skip that row.
 */
const RUNNABLE: Record<string, boolean> = {
  "host-only-yaml": Boolean(pythonOrSkip("3.11", "doctor's host-only-yaml.ts case (a host site-packages with PyYAML)")),
  "sdist-build-fails": Boolean(pythonOrSkip("3.11", "doctor's sdist-build-fails.ts case (a host setuptools)")),
  "serializer-dill-py38": Boolean(pythonOrSkip("3.8", "doctor's serializer-dill-py38.ts case (the index's dill needs 3.9+)")),
  "version-dependent-old-python": Boolean(pythonOrSkip("3.10", "doctor's version-dependent-old-python.ts case (no tomllib before 3.11)")),
  "no-wheel-py311only": Boolean(pythonOrSkip("3.12", "doctor's no-wheel-py311only.ts case (a Python without cp311 wheels)")),
  "external-too-old": Boolean(python37),
  "known-table-yaml": skippedUnless(!newestHostHas("yaml"), `doctor's known-table-yaml.ts case needs a newest Python without a host PyYAML; ${anyPython} has one`),
  "serializer-system-site": skippedUnless(!newestHostHas("cloudpickle"), `doctor's serializer-system-site.ts case needs a newest Python without a host cloudpickle; ${anyPython} has one`),
};

interface Expectation {
  dagId: string;
  code: Finding["code"];
  severity?: Finding["severity"];
  /** Every one of these appears in the fix. */
  fix: (string | RegExp)[];
  message?: (string | RegExp)[];
  line?: number;
  taskId?: string;
}

/** One row per broken fixture file: the finding its cause must produce, and what the fix must name. */
const BROKEN: Record<string, Expectation[]> = {
  "missing-module": [{ dagId: "missing_module", code: "module_not_installed", fix: ['add "vf-alpha" to requirements'], line: 12 }],
  "import-name-differs": [{ dagId: "import_name_differs", code: "module_not_installed", fix: ['"vf-yamlish"', "differs from the import name"] }],
  "known-table-sklearn": [{ dagId: "known_table_sklearn", code: "module_not_installed", fix: ['"scikit-learn"'] }],
  "known-table-yaml": [{ dagId: "known_table_yaml", code: "module_not_installed", fix: ['"PyYAML"'] }],
  "requirement-is-import-name": [{ dagId: "requirement_is_import_name", code: "distribution_not_found", fix: ['require "vf-yamlish" instead of "yamlish"'], message: ["import name"] }],
  "requirement-yaml": [{ dagId: "requirement_yaml", code: "distribution_not_found", fix: ['require "PyYAML" instead of "yaml"'], message: ['"yaml" is an import name: PyYAML provides it'] }],
  "host-only-pip": [{ dagId: "host_only_pip", code: "module_host_only", fix: ['"pip"', "systemSitePackages: true"], message: ["installed on the host", "systemSitePackages is false"] }],
  "host-only-yaml": [{ dagId: "host_only_yaml", code: "module_host_only", fix: [/"PyYAML"/i, "systemSitePackages: true"] }],
  "optional-import": [{ dagId: "optional_import", code: "optional_module_missing", severity: "warning", fix: ['"vf-gamma"'] }],
  "dynamic-import": [{ dagId: "dynamic_import", code: "module_not_installed", fix: ['"vf-gamma"'] }],
  "module-level-import": [{ dagId: "module_level_import", code: "module_not_installed", fix: ['"vf-beta"'], line: 2 }],
  "free-name": [{ dagId: "free_name", code: "callable_not_self_contained", fix: ["np"], message: ["np", "line 2"], line: 2 }],
  "free-name-dag-constant": [{ dagId: "free_name_dag_constant", code: "callable_not_self_contained", fix: ["THRESHOLD"], line: 5 }],
  "unknown-python": [{ dagId: "unknown_python", code: "python_not_found", fix: ["install Python 3.99", "versions found"], message: ["3.99", versionOf(anyPython)] }],
  "invalid-requirement": [{ dagId: "invalid_requirement", code: "invalid_requirement", fix: ["PEP 508"], message: ["vf-alpha=>1"] }],
  "requirements-file-missing": [{ dagId: "requirements_file_missing", code: "requirements_file_not_found", fix: [/./], message: ["no-such-requirements.txt"] }],
  "conflicting-pins": [{ dagId: "conflicting_pins", code: "conflicting_requirements", fix: [/vf-alpha|pin/i] }],
  "conflicting-dependencies": [{ dagId: "conflicting_dependencies", code: "conflicting_requirements", fix: ["vf-conflict-a", "vf-conflict-b"] }],
  "version-not-found": [{ dagId: "version_not_found", code: "version_not_found", fix: ["1.0.0, 1.1.0, 2.0.0"], message: ["vf-alpha==9.9"] }],
  "no-wheel-py311only": [{ dagId: "no_wheel_py311only", code: "no_compatible_wheel", fix: ['pythonVersion "3.11"'], message: ["cp311"] }],
  "no-wheel-native": [{ dagId: "no_wheel_native", code: "no_compatible_wheel", fix: ["only for win_amd64"], message: ["win_amd64"] }],
  "distribution-not-found": [{ dagId: "distribution_not_found", code: "distribution_not_found", fix: ["distribution name"], message: ["vf-does-not-exist"] }],
  "serializer-system-site": [{ dagId: "serializer_system_site", code: "serializer_missing", fix: ['"cloudpickle"', "systemSitePackages: false"] }],
  "serializer-dill-py38": [{ dagId: "serializer_dill_py38", code: "serializer_missing", fix: ['"cloudpickle"', "pythonVersion"] }],
  "serializer-external": [{ dagId: "serializer_external", code: "serializer_missing", fix: ["-m pip install dill"] }],
  "external-missing": [{ dagId: "external_missing", code: "external_python_not_found", fix: ["existing interpreter"], message: ["/opt/no-such-venv/bin/python"] }],
  "external-too-old": [{ dagId: "external_too_old", code: "python_not_found", fix: ["Python 3.8+ interpreter"], message: [`is Python ${python37 ? versionOf(python37) : "3.7"}`] }],
  "external-missing-module": [{ dagId: "external_missing_module", code: "module_not_installed", fix: [`install "vf-alpha" into ${preferredPython}`] }],
  "callable-file-missing": [{ dagId: "callable_file_missing", code: "callable_invalid", fix: ["relative paths resolve against"], message: ["nope.py"] }],
  "callable-syntax-error": [{ dagId: "callable_syntax_error", code: "callable_invalid", fix: ["syntax error"], line: 1 }],
  "sdist-build-fails": [{ dagId: "sdist_build_fails", code: "sdist_build_failed", fix: ["vf_broken_build", "install what its build needs"], message: ["needs libfoo.h"] }],
  "version-dependent-old-python": [{ dagId: "version_dependent_old_python", code: "module_not_installed", fix: ['add "tomli" to requirements'], line: 69 }],
  "fallback-needed": [
    { dagId: "fallback_needed", code: "optional_module_missing", severity: "warning", fix: ['"vf-gamma"'], line: 81 },
    { dagId: "fallback_needed", code: "module_not_installed", fix: ['add "vf-alpha" to requirements'], line: 83 },
  ],
  "index-unreachable": [{ dagId: "index_unreachable", code: "index_unreachable", fix: ["index URL"] }],
  combined: [
    { dagId: "combined", taskId: "free_and_missing", code: "callable_not_self_contained", fix: ["LIMIT"], line: 3 },
    { dagId: "combined", taskId: "free_and_missing", code: "module_not_installed", fix: ['"vf-alpha"'], line: 2 },
    { dagId: "combined", taskId: "bad_requirement", code: "invalid_requirement", fix: ["PEP 508"] },
    { dagId: "combined", taskId: "uses_yamlish", code: "distribution_not_found", fix: ['require "vf-yamlish"'] },
  ],
  "does-not-load": [{ dagId: "", code: "dag_load_failed", fix: ["DAG file"], message: ["config missing"] }],
};

function options(): { home: string; env: NodeJS.ProcessEnv } {
  return { home: inject("sharedHome"), env: testPipEnv({ PIP_INDEX_URL: inject("indexUrl") }) };
}

function matches(text: string, wanted: string | RegExp): boolean {
  return typeof wanted === "string" ? text.includes(wanted) : wanted.test(text);
}

describe("doctor on broken DAG files", () => {
  let report: DoctorReport;
  beforeAll(async () => {
    const started = performance.now();
    report = await doctor(path.join(FIXTURES, "broken"), options());
    console.log(`doctor: ${report.tasks} Python tasks in ${report.dags} DAGs, ${report.findings.length} findings, ${Math.round(performance.now() - started)} ms (environments built or reused)`);
  });

  it("has a corpus of at least 25 broken files", () => {
    expect(Object.keys(BROKEN).length).toBeGreaterThanOrEqual(25);
  });

  for (const [file, expectations] of Object.entries(BROKEN)) {
    it.skipIf(RUNNABLE[file] === false)(`${file}.ts → ${expectations.map((e) => e.code).join(", ")}`, () => {
      const fromFile = report.findings.filter((f) => expectations.some((e) => e.dagId === f.dagId) && (f.dagId !== "" || f.file.endsWith(`${file}.ts`)));
      for (const expected of expectations) {
        const found = fromFile.find((f) => f.code === expected.code && (expected.taskId === undefined || f.taskId === expected.taskId));
        expect(found, `${file}: no ${expected.code} among ${JSON.stringify(fromFile, null, 2)}`).toBeDefined();
        const f = found as Finding;
        expect(f.severity).toBe(expected.severity ?? "error");
        for (const wanted of expected.fix) expect(matches(f.fix, wanted), `fix of ${file}: ${f.fix}`).toBe(true);
        for (const wanted of expected.message ?? []) expect(matches(f.message, wanted), `message of ${file}: ${f.message}`).toBe(true);
        if (expected.line !== undefined) expect(f.line).toBe(expected.line);
      }
      // One cause per file: nothing else is reported for it (the combined file lists all of its causes).
      expect(fromFile.map((f) => `${f.taskId}:${f.code}`).sort()).toEqual(expectations.map((e) => `${e.taskId ?? (e.dagId ? "t" : "")}:${e.code}`).sort());
    });
  }

  it("counts errors and warnings", () => {
    expect(report.warnings).toBe(report.findings.filter((f) => f.severity === "warning").length);
    expect(report.errors).toBeGreaterThanOrEqual(Object.keys(BROKEN).length - 1);
  });
});

describe("doctor on clean DAG files", () => {
  it("reports nothing, and a second run reuses every environment", async () => {
    const first = await doctor(path.join(FIXTURES, "clean"), options());
    expect(first.findings).toEqual([]);
    expect(first.tasks).toBe(8);
    const started = performance.now();
    const second = await doctor(path.join(FIXTURES, "clean"), options());
    console.log(`doctor, second run on the clean DAGs (cached environments): ${Math.round(performance.now() - started)} ms`);
    expect(second.findings).toEqual([]);
  });
});
