/** venvflow doctor: why a task cannot import what it imports, before it runs (static checks) and after (post-mortem). */
export { doctor, whyImport, type DoctorReport } from "./dags.ts";
export { diagnoseTasks, whyModule } from "./diagnose.ts";
export { explainEnvKeyError, explainFailure, explainImportFailure, failedModule, type EnvVarExplanation, type FailureContext, type ImportFailureExplanation } from "./explain.ts";
export { KNOWN_DISTRIBUTIONS, knownDistribution } from "./names.ts";
export { FINDING_CODES, type DoctorOptions, type Finding, type FindingCode, type ModuleOrigin, type PythonTaskInput } from "./types.ts";
