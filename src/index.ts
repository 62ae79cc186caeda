// Public API of venvflow. Each layer exports through here; nothing else is public.
export { VenvflowError } from "./util/errors.ts";
export type { Duration } from "./util/duration.ts";
export type * from "./env/types.ts";
export {
  ensureEnvironment,
  acquireEnvironment,
  findPython,
  listPythons,
  listEnvironments,
  showEnvironment,
  removeEnvironment,
  gcEnvironments,
  resolveSpec,
  EnvBuildError,
  type EnvironmentDetails,
  type GcOptions,
  type GcResult,
} from "./env/index.ts";
export type * from "./runtime/types.ts";
export type * from "./dag/model.ts";
export * from "./dag/index.ts";
export { runCallable, inspectCallable, resolveCallable, isOpaquePythonValue, RUNNER_PROTOCOL, SERIALIZERS, type OpaquePythonValue, type CallableSignature, type CallableTarget } from "./runtime/index.ts";
export * as pep from "./env/pep/index.ts";
