import os from "node:os";
import path from "node:path";
import { VenvflowError } from "./errors.ts";

/**
 * Where venvflow keeps environments, logs and its database: `VENVFLOW_HOME`, else the user's cache directory
 * (`XDG_CACHE_HOME/venvflow`, `~/Library/Caches/venvflow` on macOS, `%LOCALAPPDATA%\venvflow` on Windows).
 */
export function venvflowHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VENVFLOW_HOME) return path.resolve(env.VENVFLOW_HOME);
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Caches", "venvflow");
  if (process.platform === "win32") return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), "AppData", "Local"), "venvflow");
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "venvflow");
}

/** "." and ".." name directories, not ids: a DAG, task or run called that would put its files outside their folder. */
export function isDotSegment(id: string): boolean {
  return id === "." || id === "..";
}

/**
 * `root/segments…`, each segment one path component, refusing any result outside `root`. Every path built from a DAG,
 * task or run id goes through here, so that a hostile id (`..`, `a/../../x`, "") can never read or write outside
 * VENVFLOW_HOME.
 */
export function pathInside(root: string, ...segments: string[]): string {
  const base = path.resolve(root);
  const target = path.resolve(base, ...segments);
  const component = (segment: string): boolean => segment !== "" && !isDotSegment(segment) && !/[/\\]/.test(segment);
  if (!segments.every(component) || !target.startsWith(`${base}${path.sep}`)) {
    throw new VenvflowError("invalid_path_id", `"${segments.join("/")}" would lead outside ${base}`, { fix: 'use ids made of letters, digits, "_", "-" and ".", other than "." and ".."' });
  }
  return target;
}
