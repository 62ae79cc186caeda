// venvflow's port of pypa/packaging 26.2 (Apache-2.0 OR BSD-2-Clause): PEP 440, PEP 508, names and tags.
export { Version, compareVersions, parseVersion, tryParseVersion, VERSION_PATTERN } from "./version.ts";
export type { PreLetter, VersionParts } from "./version.ts";
export { Specifier, SpecifierSet, trySpecifier, SPECIFIER_PATTERN } from "./specifiers.ts";
export type { Operator, UnparsedVersion, PrereleaseOptions, FilterOptions } from "./specifiers.ts";
export { Marker, MARKER_ENVIRONMENT_SCRIPT } from "./markers.ts";
export type { MarkerEnvironment, MarkerEnvironmentInput, EvaluateContext } from "./markers.ts";
export { Requirement } from "./requirements.ts";
export { canonicalizeName, isNormalizedName, canonicalizeVersion, parseWheelFilename, parseSdistFilename } from "./utils.ts";
export type { NormalizedName, BuildTag, WheelFilename, SdistFilename } from "./utils.ts";
export {
  Tag,
  INTERPRETER_SHORT_NAMES,
  parseTag,
  cpythonAbis,
  cpythonTags,
  genericTags,
  compatibleTags,
  manylinuxPlatforms,
  musllinuxPlatforms,
  linuxPlatforms,
  supportedTags,
  selectCompatible,
} from "./tags.ts";
export type { CpythonBuild, LinuxPlatform, InterpreterDescription } from "./tags.ts";
