import os from "node:os";
import path from "node:path";

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
