/** venvflow doctor's public types: what a task declares about its Python, and what doctor finds wrong with it. */
import type { PythonTaskSpec } from "../dag/model.ts";

/** Every finding code doctor reports (stable: programs and docs/why-cant-my-task-import.md rely on them). */
export const FINDING_CODES = [
  "module_not_installed",
  "module_host_only",
  "optional_module_missing",
  "requirement_provides_other_modules",
  "callable_not_self_contained",
  "callable_invalid",
  "python_not_found",
  "external_python_not_found",
  "invalid_requirement",
  "requirements_file_not_found",
  "conflicting_requirements",
  "version_not_found",
  "distribution_not_found",
  "no_compatible_wheel",
  "serializer_missing",
  "index_unreachable",
  "index_unauthorized",
  "index_http_error",
  "sdist_build_failed",
  "install_failed",
  "dag_load_failed",
  "env_var_not_passed",
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  code: FindingCode;
  severity: "error" | "warning";
  dagId: string;
  taskId: string;
  /** The file the line refers to: the callable's .py file, or the DAG file. */
  file: string;
  line?: number;
  message: string;
  fix: string;
  /** The import a module finding is about. */
  module?: string;
}

/** One Python task as doctor sees it: where it is declared, and its callable and interpreter options. */
export interface PythonTaskInput extends PythonTaskSpec {
  dagId: string;
  taskId: string;
  /** The DAG file that declares the task. */
  file: string;
}

export interface DoctorOptions {
  /** VENVFLOW_HOME override. */
  home?: string;
  /** Environment for interpreter discovery and the installer (default process.env); PIP_INDEX_URL counts as the index. */
  env?: NodeJS.ProcessEnv;
  /** Ask the package index which distribution provides a missing import (default true). */
  indexLookup?: boolean;
  /** Environments built at once (default 2). */
  concurrency?: number;
}

/** Where one module would come from for one task. */
export interface ModuleOrigin {
  module: string;
  source: "stdlib" | "local" | "environment" | "host" | "missing";
  /** False when it exists only where the task cannot see it (the host, with systemSitePackages false). */
  visible: boolean;
  distribution?: string;
  version?: string;
  /** A file or directory: the local module, or the site-packages that holds it. */
  location?: string;
  /** For a module the task cannot import: the distribution that would provide it, when known. */
  suggestion?: string;
  /** A sentence for humans. */
  explanation: string;
}
