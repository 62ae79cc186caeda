/**
 * Finding and statically checking a task callable, and binding its arguments the way Airflow does
 * (`KeywordParameters.determine`). All of it happens before an environment is built or the task starts.
 */
import { statSync, type Stats } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runPythonJson } from "../env/python.ts";
import { VenvflowError, type ErrorCode } from "../util/errors.ts";
import type { PythonCallable, RunContext } from "./types.ts";

/** Where the callable lives, resolved: an absolute file or inline source. */
export type CallableTarget = { kind: "file"; path: string; name: string } | { kind: "inline"; source: string; name?: string };

/** What the static check learned about the callable's signature, and about the interpreter that checked it. */
export interface CallableSignature {
  name: string;
  positional: string[];
  keywordOnly: string[];
  varArgs: boolean;
  varKwargs: boolean;
  isAsync: boolean;
  /** Every top-level function in the module. */
  functions: string[];
  python: { executable: string; prefix: string; version: string };
}

// Python files are not compiled: from src/runtime/ and dist/runtime/ alike, this points at the shipped source.
const CHECK_SCRIPT = fileURLToPath(new URL("../../src/runtime/check_callable.py", import.meta.url));

/** A stat that is synchronous: a few microseconds, where the thread pool costs two thread hand-offs per call. */
function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/** Splits "path/to/file.py:function" (the last colon separates, so Windows drive letters survive). */
export async function resolveCallable(callable: PythonCallable, baseDir: string): Promise<CallableTarget> {
  if (typeof callable === "object" && callable !== null && typeof callable.source === "string") {
    if (callable.name !== undefined && !/^[A-Za-z_]\w*$/.test(callable.name)) {
      throw new VenvflowError("invalid_callable", `"${callable.name}" is not a Python function name`, { fix: "name a top-level def in the source" });
    }
    return { kind: "inline", source: callable.source, ...(callable.name ? { name: callable.name } : {}) };
  }
  if (typeof callable !== "string") {
    throw new VenvflowError("invalid_callable", `pythonCallable must be "file.py:function" or { source, name? }, got ${typeof callable}`, {
      fix: 'e.g. pythonCallable: "tasks/extract.py:extract"',
    });
  }
  const colon = callable.lastIndexOf(":");
  const file = colon > 0 ? callable.slice(0, colon) : "";
  const name = colon > 0 ? callable.slice(colon + 1) : "";
  if (!file.endsWith(".py") || !/^[A-Za-z_]\w*$/.test(name)) {
    throw new VenvflowError("invalid_callable", `pythonCallable "${callable}" is not of the form "file.py:function"`, {
      fix: 'e.g. "tasks/extract.py:extract" (relative to the declaring file\'s directory, or absolute)',
    });
  }
  const absolute = path.resolve(baseDir, file);
  const stat = statOrNull(absolute);
  if (!stat?.isFile()) {
    throw new VenvflowError("callable_not_found", `Callable file ${absolute} does not exist${stat ? " (it is not a file)" : ""}`, {
      fix: `check the path; relative paths resolve against ${baseDir}`,
    });
  }
  return { kind: "file", path: absolute, name };
}

interface CheckFailure {
  ok: false;
  code: ErrorCode;
  message: string;
  functions?: string[];
}

/**
 * Parses the callable's module with `ast` in `python` (nothing is imported or run) and returns its signature.
 * A syntax error, a missing or ambiguous function, or a generator is a VenvflowError.
 */
/**
 * Signatures already checked in this process, keyed by interpreter and callable content (a file's path,
 * size and mtime). The check is an interpreter start (~25 ms); an engine dispatching the same task again
 * skips it. Only successes are kept, so a fixed syntax error is seen at once.
 */
const checked = new Map<string, CallableSignature>();
const CHECKED_LIMIT = 512;

async function checkKey(target: CallableTarget, python: string): Promise<string | null> {
  try {
    // Synchronous: two stats per dispatch, cheaper than two thread-pool round trips (see statOrNull).
    const interpreter = statSync(python);
    const file = target.kind === "file" ? statSync(target.path) : null;
    const what = target.kind === "file" ? `file\u0000${target.path}\u0000${file!.size}\u0000${file!.mtimeMs}` : `inline\u0000${target.source}`;
    return `${python}\u0000${interpreter.mtimeMs}\u0000${target.name ?? ""}\u0000${what}`;
  } catch {
    return null; // let the check itself report what is missing
  }
}

export async function inspectCallable(target: CallableTarget, python: string): Promise<CallableSignature> {
  const key = await checkKey(target, python);
  const known = key === null ? undefined : checked.get(key);
  if (known) return known;
  const signature = await checkWithInterpreter(target, python);
  if (key !== null) {
    if (checked.size >= CHECKED_LIMIT) checked.delete(checked.keys().next().value as string);
    checked.set(key, signature);
  }
  return signature;
}

async function checkWithInterpreter(target: CallableTarget, python: string): Promise<CallableSignature> {
  const request = target.kind === "file" ? { kind: "file", path: target.path, name: target.name } : { kind: "inline", source: target.source, name: target.name ?? null };
  // -I: the check must not see PYTHONPATH or user site; -B: it writes no bytecode anywhere.
  const result = await runPythonJson<({ ok: true } & CallableSignature) | CheckFailure>(python, ["-I", "-B", CHECK_SCRIPT], { what: "check the callable", input: request, timeoutMs: 60_000 });
  if (!result.ok) {
    const fix =
      result.code === "callable_syntax_error"
        ? "fix the syntax error"
        : result.code === "callable_is_generator"
          ? "return a list instead of yielding items"
          : result.code === "python_unsupported"
            ? "use Python 3.8 or newer"
            : result.functions?.length
            ? `choose one of: ${result.functions.join(", ")}`
            : "define the function at the top level of the module";
    throw new VenvflowError(result.code, result.message, { fix, details: { functions: result.functions ?? [] } });
  }
  const { ok: _ok, ...signature } = result;
  return signature;
}

/**
 * Airflow's binding: the run context merged with opKwargs (opKwargs win); a positional arg whose parameter name is
 * also a kwarg is an error; with `**kwargs` the callable receives every key, otherwise only the ones it names.
 */
export function bindArguments(signature: CallableSignature, opArgs: unknown[], opKwargs: Record<string, unknown>, context: RunContext | undefined): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context ?? {})) if (value !== undefined) merged[key] = value;
  Object.assign(merged, opKwargs);
  for (const name of signature.positional.slice(0, opArgs.length)) {
    if (name in merged) {
      throw new VenvflowError("invalid_arguments", `The key '${name}' in args is a part of kwargs and therefore reserved.`, {
        fix: `pass ${name} either positionally (opArgs) or by name (opKwargs / context), not both`,
      });
    }
  }
  if (signature.varKwargs) return merged;
  const named = new Set([...signature.positional, ...signature.keywordOnly]);
  return Object.fromEntries(Object.entries(merged).filter(([key]) => named.has(key)));
}
