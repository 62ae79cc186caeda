/**
 * Every option a DAG or task accepts, as strict zod schemas: an unknown or mistyped option is an error that names
 * the DAG file, the DAG and the task, and lists the allowed options.
 */
import path from "node:path";
import { z } from "zod";
import { VenvflowError, type ErrorCode } from "../util/errors.ts";
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
  preload: z.array(z.string().regex(/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/, "must be a module name such as pandas or numpy.linalg")).optional(),
  warm: z.boolean().optional(),
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
  python: z.string().refine((p) => path.isAbsolute(p), { error: (issue) => `must be an absolute path to an existing interpreter, got ${JSON.stringify(issue.input)}` }),
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

const INSTALLER_CHOICE = 'the installer is chosen for every environment, not per task: uv when it is on PATH, else pip; set VENVFLOW_INSTALLER=pip or =uv to force one';

/**
 * Airflow options venvflow has no use for, each with why (keys are as Airflow spells them and camelCased).
 * Anything else spelt the Airflow way (`python_version`) is answered by camelCasing it.
 */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  venvCachePath: "environments are always cached, keyed by what they contain (VENVFLOW_HOME/envs): remove it",
  useDill: 'use serializer: "dill"',
  expectAirflow: "the environment never needs Airflow (the context reaches the callable as plain values): remove it",
  provideContext: "context values reach the callable's parameters of the same name without it: remove it",
  doXcomPush: "a task's return value is always stored as its return_value: remove it",
  templatesDict: "venvflow has no Jinja templates: pass values with opArgs / opKwargs (the context reaches parameters named after its keys)",
  templatesExts: "venvflow has no Jinja templates: remove it",
  indexUrlsFromConnectionIds: "give the URLs in indexUrls (credentials in them are masked everywhere)",
  constraints: 'constraints are not a task option: list them in a requirements file as "-c constraints.txt" and pass that file as requirements',
  installer: INSTALLER_CHOICE,
  venvInstallMethod: INSTALLER_CHOICE,
  scheduleInterval: 'use schedule (a cron expression, "@daily", or null)',
  timetable: 'use schedule (a cron expression, "@daily", or null)',
  dagId: 'the DAG id is the first argument of dag("id", { … }, () => { … })',
  dag: "a task belongs to the DAG whose callback creates it: remove it",
  owner: "venvflow has no owners: put it in doc or tags",
  email: "venvflow sends no e-mail: remove it",
  emailOnFailure: "venvflow sends no e-mail: remove it",
  emailOnRetry: "venvflow sends no e-mail: remove it",
};

const camelCase = (key: string): string => key.replace(/_+([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The hint for one unknown option: its venvflow spelling, or why venvflow does without it. */
function unknownOptionHint(key: string, allowed: readonly string[]): string | null {
  const camel = camelCase(key);
  if (camel !== key && allowed.includes(camel)) return `did you mean "${camel}"? (Airflow's option names, camelCased)`;
  const reason = NOT_NEEDED[camel];
  if (reason) return reason;
  if (camel === "defaultArgs") return 'defaultArgs is a DAG option: dag("id", { defaultArgs: { … } }, () => { … })';
  if (camel === "python" && allowed.includes("pythonVersion")) return 'python is ExternalPythonOperator\'s option (an existing interpreter): here, use pythonVersion ("3.12" or an absolute path)';
  const lower = camel.toLowerCase();
  const close = allowed.find((name) => name.toLowerCase() === lower || editDistance(name.toLowerCase(), lower) <= Math.min(2, Math.floor(lower.length / 4)));
  return close ? `did you mean "${close}"?` : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** Parses `input` with a strict object schema, turning every issue into one VenvflowError. */
export function parseOptions<S extends z.ZodObject>(schema: S, input: unknown, where: string, code: ErrorCode): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const allowed = Object.keys(schema.shape);
  let unknownKeys = false;
  const hints: string[] = [];
  const problems = result.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      unknownKeys = true;
      for (const key of issue.keys) {
        const hint = unknownOptionHint(key, allowed);
        if (hint) hints.push(`${key}: ${hint}`);
      }
      return `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    }
    return issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message;
  });
  const allowedText = `allowed options are: ${allowed.join(", ")}`;
  throw new VenvflowError(code, `${where}: ${problems.join("; ")}`, {
    fix: unknownKeys ? (hints.length > 0 ? `${hints.join("; ")} (${allowedText})` : allowedText) : "correct the options named above",
    details: { issues: result.error.issues.map(({ code: issueCode, path, message }) => ({ code: issueCode, path, message })) },
  });
}
