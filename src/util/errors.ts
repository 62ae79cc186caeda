/**
 * Every error venvflow raises on purpose: a stable `code` for programs, a `message` that names the thing (a summary,
 * never the fix), and a `fix` that says what to do. Only the CLI's formatter joins the two (`formatError`).
 * Secrets never reach these fields (callers pass redacted text).
 */

/** Each layer's codes, in one typed list: a new code is added here, where its layer's neighbours are. */
export const ERROR_CODES = {
  util: ["invalid_duration", "invalid_path_id", "internal_error"],
  env: [
    "ambiguous_env_key", "build_cancelled", "build_timeout", "conflicting_requirements", "env_build_failed", "env_in_use",
    "env_not_found", "hash_mismatch", "hashes_missing", "index_http_error", "index_unauthorized", "index_unreachable", "install_failed",
    "installer_not_found", "invalid_env_key", "metadata_hash_mismatch", "requires_python_mismatch", "resolution_too_deep", "resolver_unsupported_platform", "unsupported_requirement", "sdist_metadata_unavailable", "invalid_env_spec", "invalid_index_url", "invalid_installer",
    "invalid_marker", "invalid_name", "invalid_python_version", "invalid_requirement", "invalid_sdist_filename",
    "invalid_specifier", "invalid_tag", "invalid_version", "invalid_wheel_filename", "lock_timeout",
    "no_compatible_wheel", "no_matching_distribution", "python_not_found", "python_unsupported", "refresh_unsupported",
    "requirements_cycle", "requirements_file_not_found", "sdist_build_failed", "undefined_comparison",
    "undefined_environment_name", "unsorted_tags", "unsupported_wheel",
    "lock_duplicate_package", "lock_wheel_mismatch", "pylock_invalid", "pylock_no_compatible_wheel", "pylock_not_found", "lock_missing", "lock_mismatch", "lock_unsupported",
    "venv_exists", "venv_unsupported_python", "wheel_corrupt", "wheel_download_failed", "wheel_hash_invalid",
    "wheel_hash_mismatch", "wheel_incompatible", "wheel_invalid_entry_point", "wheel_record_mismatch", "wheel_unsafe_path", "wheel_url_invalid", "pylock_needs_wheel",
  ],
  runtime: [
    "callable_not_found", "callable_syntax_error", "callable_is_generator", "callable_ambiguous", "invalid_argument",
    "invalid_arguments", "invalid_callable", "invalid_option", "invalid_serializer", "log_unwritable",
    "protocol_mismatch", "python_failed", "python_not_a_file", "python_not_absolute", "result_too_large",
    "execution_timeout", "aborted",
  ],
  dag: [
    "ambiguous_dag", "dag_already_built", "dag_cycle", "dag_dependency_missing", "dag_import_exited", "dag_import_failed", "dag_import_leaves_timer", "dag_import_timeout", "dag_module_format", "dag_load_failed", "dag_not_found",
    "dags_not_found", "dangling_reference", "duplicate_dag_id", "duplicate_task_id", "invalid_bash_command", "invalid_chain", "invalid_cwd",
    "invalid_dag_id", "invalid_dag_import_timeout", "invalid_dag_options", "invalid_reference", "invalid_schedule", "invalid_task_id",
    "invalid_task_options", "invalid_expand", "map_length_exceeded", "missing_task_id", "outside_dag", "unknown_task", "xcom_not_serializable",
  ],
  doctor: ["task_ambiguous", "task_not_found", "no_python_tasks"],
  store: ["invalid_database_url", "store_migration_failed", "store_disk_full", "store_read_only", "store_not_a_database", "store_corrupt", "store_cannot_open", "store_io_error"],
  engine: [
    "invalid_conf", "invalid_logical_date", "invalid_run_id", "invalid_worker_slots", "no_dags", "run_ambiguous",
    "run_exists", "run_not_found", "task_aborted", "task_cancelled", "task_fenced", "xcom_missing", "xcom_ref_undeclared",
    "map_index_out_of_range", "invalid_map_item", "map_index_required", "map_index_not_found", "heartbeat_failed",
    "invalid_backfill_range", "backfill_range_too_long", "backfill_without_schedule",
  ],
  server: ["invalid_request", "dag_not_executable", "dag_processor_failed", "env_rebuild_failed", "env_rebuild_unknown_spec", "port_in_use", "try_not_found"],
  cli: ["invalid_size", "log_not_found", "init_target_not_empty"],
} as const;

export type ErrorLayer = keyof typeof ERROR_CODES;
export type ErrorCode = (typeof ERROR_CODES)[ErrorLayer][number];

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(ERROR_CODES).flat());

/** Whether `code` is one venvflow declares (for codes that arrive as text, e.g. from a Python helper). */
export function isErrorCode(code: string): code is ErrorCode {
  return ALL_CODES.has(code);
}

// A registered symbol is shared by every copy of this module in a process (a DAG file's "venvflow" may be another
// module instance than the engine's), so `instanceof` works across copies without matching on names.
const BRAND = Symbol.for("venvflow.error");

export class VenvflowError extends Error {
  readonly code: ErrorCode;
  readonly fix: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { fix?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VenvflowError";
    this.code = code;
    this.fix = options.fix;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  toJSON(): { code: ErrorCode; message: string; fix?: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, ...(this.fix ? { fix: this.fix } : {}), details: this.details };
  }
}

/** The one place message and fix are joined, for people (the CLI, logs). */
export function formatError(error: { message: string; fix?: string | undefined }): string {
  return error.fix ? `${error.message}\n  fix: ${error.fix}` : error.message;
}
