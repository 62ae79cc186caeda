/**
 * Every error venvflow raises on purpose: a stable `code` for programs, a message that names the thing,
 * and a `fix` that says what to do. Secrets never reach these fields (callers pass redacted text).
 */
export class VenvflowError extends Error {
  readonly code: string;
  readonly fix: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { fix?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(options.fix ? `${message}\n  fix: ${options.fix}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VenvflowError";
    this.code = code;
    this.fix = options.fix;
    this.details = options.details ?? {};
  }

  toJSON(): { code: string; message: string; fix?: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, ...(this.fix ? { fix: this.fix } : {}), details: this.details };
  }
}
