// venvflow's own wheel installer: a content-addressed cache of unpacked wheels, environments created without
// starting Python, distributions linked in from the cache. See docs/environments.md ("The wheel installer").
export { WheelCache } from "./cache.ts";
export type { WheelSource, CachedWheel, CachedWheelEntry, WheelGcResult, DamagedWheel } from "./cache.ts";
export { createVenv } from "./venv.ts";
export type { PythonInfo, VenvScheme, CreateVenvOptions } from "./venv.ts";
export type { LinkMode } from "./link.ts";
export { installLocked, compileBytecodeInBackground, interpreterTags } from "./install.ts";
export type { LockedWheel, InstallLockedOptions, InstallLockedResult, InstalledDistribution, InstallTimings } from "./install.ts";
export type { WheelInfo, WheelFile, EntryPoint } from "./archive.ts";
