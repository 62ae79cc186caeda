/** Runs the venvflow CLI from source (so tests never see a stale build) and captures its output. */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAIN = path.join(REPO_ROOT, "src", "cli", "main.ts");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", MAIN, ...args],
      { env: options.env ?? process.env, cwd: options.cwd ?? REPO_ROOT, timeout: options.timeoutMs ?? 170_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Same, for scripts that import the source tree (e.g. worker processes in tests). */
export function tsNodeArgs(script: string, args: string[] = []): string[] {
  return ["--import", "tsx", script, ...args];
}
