/**
 * Every option a DAG or task accepts, as strict zod schemas: an unknown or mistyped option is an error that names
 * the DAG file, the DAG and the task, and lists the allowed options.
 */
import path from "node:path";
import { z } from "zod";
import { VenvflowError } from "../util/errors.ts";
import { TRIGGER_RULES, type TaskKind, type XComRef } from "./model.ts";
import { isXComRef } from "./xcom.ts";

const duration = z.union([z.number(), z.string()]);
const stringList = z.union([z.array(z.string()), z.string()]);
const exitCodes = z.union([z.number().int(), z.array(z.number().int())]);
const tsFunction = z.custom<(...args: never[]) => unknown>((value) => typeof value === "function", { message: "expected a function" });
const xcomRef = z.custom<XComRef>(isXComRef, { message: "expected a task reference" });

const commonTaskShape = {
  taskId: z.string(),
  retries: z.number().int().min(0).optional(),
  retryDelay: duration.optional(),
  retryExponentialBackoff: z.boolean().optional(),
  maxRetryDelay: duration.nullable().optional(),
  executionTimeout: duration.nullable().optional(),
  triggerRule: z.enum(TRIGGER_RULES).optional(),
  doc: z.string().optional(),
  multipleOutputs: z.boolean().optional(),
};

/** Options every task has (the rest of an operator's options are its own). */
export const COMMON_TASK_KEYS: ReadonlySet<string> = new Set(Object.keys(commonTaskShape));

/** CallableOptions' fields that a task may set (the run-time ones come from the engine). */
const callableShape = {
  pythonCallable: z.union([z.string().min(1), z.strictObject({ source: z.string().min(1), name: z.string().min(1).optional() })]),
  baseDir: z.string().optional(),
  opArgs: z.array(z.unknown()).optional(),
  opKwargs: z.record(z.string(), z.unknown()).optional(),
  serializer: z.enum(["json", "pickle", "cloudpickle", "dill"]).optional(),
  stringArgs: z.array(z.string()).optional(),
  envVars: z.record(z.string(), z.union([z.string(), z.strictObject({ secret: z.string() })])).optional(),
  inheritEnv: z.boolean().optional(),
  skipOnExitCode: exitCodes.optional(),
  showReturnValueInLogs: z.boolean().optional(),
  cwd: z.string().optional(),
};

const pythonVirtualenv = z.strictObject({
  ...commonTaskShape,
  ...callableShape,
  requirements: stringList.optional(),
  pythonVersion: z.string().optional(),
  systemSitePackages: z.boolean().optional(),
  pipInstallOptions: z.array(z.string()).optional(),
  indexUrls: stringList.optional(),
});

const externalPython = z.strictObject({
  ...commonTaskShape,
  ...callableShape,
  python: z.string().refine((p) => path.isAbsolute(p), { message: "must be an absolute path to an existing interpreter" }),
});

const functionTask = z.strictObject({ ...commonTaskShape, pythonCallable: tsFunction, opArgs: z.array(z.unknown()).optional() });

export const taskSchemas = {
  python_virtualenv: pythonVirtualenv,
  branch_python_virtualenv: pythonVirtualenv,
  external_python: externalPython,
  branch_external_python: externalPython,
  python: functionTask,
  branch_python: functionTask,
  bash: z.strictObject({
    ...commonTaskShape,
    bashCommand: z.union([z.string().min(1), xcomRef, tsFunction]),
    opArgs: z.array(z.unknown()).optional(),
    env: z.record(z.string(), z.union([z.string(), xcomRef])).optional(),
    appendEnv: z.boolean().optional(),
    cwd: z.string().optional(),
    skipOnExitCode: exitCodes.nullable().optional(),
  }),
  empty: z.strictObject(commonTaskShape),
} satisfies Record<TaskKind, z.ZodObject>;

/** Keys `defaultArgs` may set: any task option except the id. */
export const DEFAULT_ARG_KEYS: readonly string[] = [
  ...new Set(Object.values(taskSchemas).flatMap((schema) => Object.keys(schema.shape))),
].filter((key) => key !== "taskId");

export const dagOptionsSchema = z.strictObject({
  schedule: z.union([z.string(), z.strictObject({ cron: z.string(), timezone: z.string().optional() }), z.null()]).optional(),
  startDate: z.union([z.date(), z.string()]).nullable().optional(),
  endDate: z.union([z.date(), z.string()]).nullable().optional(),
  catchup: z.boolean().optional(),
  maxActiveRuns: z.number().int().positive().optional(),
  maxActiveTasks: z.number().int().positive().optional(),
  maxMapLength: z.number().int().positive().optional(),
  defaultArgs: z.record(z.string(), z.unknown()).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  tags: z.array(z.string()).optional(),
  description: z.string().optional(),
  dagrunTimeout: duration.nullable().optional(),
});

/** Parses `input` with a strict object schema, turning every issue into one VenvflowError. */
export function parseOptions<S extends z.ZodObject>(schema: S, input: unknown, where: string, code: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const allowed = Object.keys(schema.shape);
  let unknownKeys = false;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      unknownKeys = true;
      return `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    }
    return issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message;
  });
  throw new VenvflowError(code, `${where}: ${problems.join("; ")}`, {
    fix: unknownKeys ? `allowed options are: ${allowed.join(", ")}` : "correct the options named above",
    details: { issues: result.error.issues.map(({ code: issueCode, path, message }) => ({ code: issueCode, path, message })) },
  });
}
