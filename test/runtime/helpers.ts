/** Shared pieces of the runtime tests: real interpreters, a scratch directory, and process liveness. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { LogLine } from "../../src/runtime/types.ts";

export { preferredPython as PYTHON } from "../support/pythons.ts";

/** The versions the runtime tests exercise on purpose; pass each to pythonOrSkip and skip its cases when missing. */
export const PYTHON_VERSIONS = ["3.8", "3.9", "3.12", "3.13"] as const;

const scratchDirs: string[] = [];

export async function scratch(prefix = "venvflow-rt-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** For afterAll: removes every scratch directory this test file made. */
export async function removeScratch(): Promise<void> {
  await Promise.all(scratchDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A process that exited but was never reaped (PID 1 in a container may not reap orphans) counts as gone. */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** SIGKILL is delivered asynchronously: give the kernel a moment before calling a process a survivor. */
export async function gone(pid: number, withinMs = 2000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (await alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

export async function readLog(logPath: string): Promise<LogLine[]> {
  return (await readFile(logPath, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);
}

/** The launchers every runtime test runs under: a fresh interpreter per attempt, and a fork of a warm one. */
export const LAUNCH_MODES = ["spawn", "fork"] as const;

/** For a describe block: its tests run with `mode` as runCallable's default launcher (VENVFLOW_WARM). */
export function useLaunchMode(mode: (typeof LAUNCH_MODES)[number]): void {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.VENVFLOW_WARM;
    if (mode === "spawn") process.env.VENVFLOW_WARM = "0";
    else delete process.env.VENVFLOW_WARM;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.VENVFLOW_WARM;
    else process.env.VENVFLOW_WARM = saved;
  });
}
